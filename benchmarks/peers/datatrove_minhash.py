"""(benchmarks/curate/scripts/datatrove_minhash.py, as `cargo xtask bench minhash` runs it: a run that
finds no duplicate writes no remove_ids folder, which is read as "nothing removed".)

Runs datatrove's MinHash dedup (signatures -> buckets -> clusters) on JSONL files and dumps the
duplicate pairs and removed documents, for comparison with `lmrepro-curate dedup minhash`.

Usage: python datatrove_minhash.py <work dir> <n_grams> <buckets> <hashes_per_bucket> <file>...

NLTK's punkt data cannot be downloaded here, so the English word tokenizer is replaced by NLTK's
Treebank word tokenizer applied to the whole (already simplified, punctuation-free) text, which is
what `word_tokenize` does after punkt finds no sentence boundary.
"""
import json, os, struct, sys, time

import datatrove.pipeline.dedup.minhash as mh
from nltk.tokenize import NLTKWordTokenizer


class TreebankOnly:
    def __init__(self):
        self.t = NLTKWordTokenizer()

    def word_tokenize(self, text):
        return [w.strip() for w in self.t.tokenize(text) if w.strip()]


mh.load_word_tokenizer = lambda language: TreebankOnly()

# The installed xxhash (3.x) no longer accepts str; older versions hashed its UTF-8 bytes.
import xxhash  # noqa: E402
import datatrove.utils.hashes.xxhash as dxx  # noqa: E402

dxx.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode("utf-8") if isinstance(data, str) else data)
dxx.xxhash32 = lambda data: xxhash.xxh32_intdigest(data.encode("utf-8") if isinstance(data, str) else data)

from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.readers import JsonlReader  # noqa: E402
from datatrove.utils.hashing import HashConfig  # noqa: E402


def main():
    work, n, b, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    files = sorted(os.path.abspath(f) for f in sys.argv[5:])
    inp = os.path.join(work, "input")
    os.makedirs(inp, exist_ok=True)
    for i, f in enumerate(files):
        dst = os.path.join(inp, f"{i:05d}_" + os.path.basename(f))
        if not os.path.exists(dst):
            os.symlink(f, dst)
    cfg = mh.MinhashConfig(n_grams=n, num_buckets=b, hashes_per_bucket=r, hash_config=HashConfig(precision=64))
    t0 = time.time()
    LocalPipelineExecutor(
        pipeline=[JsonlReader(inp, glob_pattern="*.jsonl*"), mh.MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)],
        tasks=len(files), workers=1, logging_dir=f"{work}/logs/sigs").run()
    t1 = time.time()
    LocalPipelineExecutor(
        pipeline=[mh.MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets", config=cfg)],
        tasks=b, workers=1, logging_dir=f"{work}/logs/buckets").run()
    t2 = time.time()
    LocalPipelineExecutor(
        pipeline=[mh.MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove_ids", config=cfg)],
        tasks=1, logging_dir=f"{work}/logs/clusters").run()
    t3 = time.time()
    pairs = []
    for name in sorted(os.listdir(f"{work}/buckets")):
        data = open(f"{work}/buckets/{name}", "rb").read()
        pairs += [list(struct.unpack_from("<4I", data, o)) for o in range(0, len(data), 16)]
    removed = []
    rdir = f"{work}/remove_ids"
    for name in sorted(os.listdir(rdir)) if os.path.isdir(rdir) else []:
        if name.endswith(".remove"):
            data = open(f"{rdir}/{name}", "rb").read()
            removed += [[int(name.split(".")[0]), d] for (d,) in struct.iter_unpack("<I", data)]
    json.dump({"pairs": pairs, "removed": removed,
               "seconds": {"signatures": t1 - t0, "buckets": t2 - t1, "clusters": t3 - t2}},
              open(f"{work}/result.json", "w"))
    print(json.dumps({"pairs": len(pairs), "removed": len(removed), "seconds": t3 - t0}))


if __name__ == "__main__":
    main()
