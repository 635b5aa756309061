"""Runs datatrove's MinHash dedup (signatures -> buckets -> clusters, and with `--filter` the
fourth step) on JSONL files and dumps the duplicate pairs and removed documents, for comparison
with `lmrepro-curate dedup minhash`.

Usage: python datatrove_minhash.py [--filter] <work dir> <n_grams> <buckets> <hashes_per_bucket> <file>...

`--filter` also runs datatrove's fourth step as its `examples/minhash_deduplication.py` does
(`JsonlReader` -> `MinhashDedupFilter` -> `JsonlWriter`, one task per input file) into
`<work dir>/deduped/`, so that the timed work is the same job as `lmrepro ... dedup minhash`,
which writes the deduplicated shards. The writer compresses with zstd at level 3, as ours does
(one `zstd::bulk::compress(.., 3)` frame per shard): datatrove's default is gzip, and fsspec's
zstd codec hard-codes level 10, so the codec is re-registered with python-zstandard at level 3.
The kept members of a cluster carry their cluster id and size, as ours do (`save_cluster_id` /
`save_cluster_size` in the cluster step, `load_cluster_ids` / `load_cluster_sizes` in the filter).

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
from datatrove.pipeline.writers import JsonlWriter  # noqa: E402
from datatrove.utils.hashing import HashConfig  # noqa: E402


def zstd_level3(infile, mode="rb"):
    """fsspec's zstd codec with level 3 instead of its hard-coded 10 (reading is unchanged)."""
    import zstandard

    if "r" in mode:
        return zstandard.ZstdDecompressor().stream_reader(infile)
    return zstandard.ZstdCompressor(level=3).stream_writer(infile)


def main():
    args = sys.argv[1:]
    with_filter = args[:1] == ["--filter"]
    if with_filter:
        args = args[1:]
        import fsspec.compression

        fsspec.compression.register_compression("zstd", zstd_level3, "zst", force=True)
    work, n, b, r = args[0], int(args[1]), int(args[2]), int(args[3])
    files = sorted(os.path.abspath(f) for f in args[4:])
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
        pipeline=[mh.MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove_ids", config=cfg,
                                         save_cluster_id=with_filter, save_cluster_size=with_filter)],
        tasks=1, logging_dir=f"{work}/logs/clusters").run()
    t3 = time.time()
    if with_filter:
        LocalPipelineExecutor(
            pipeline=[JsonlReader(inp, glob_pattern="*.jsonl*"),
                      mh.MinhashDedupFilter(input_folder=f"{work}/remove_ids",
                                            load_cluster_ids=True, load_cluster_sizes=True),
                      JsonlWriter(f"{work}/deduped", compression="zstd")],
            tasks=len(files), workers=1, logging_dir=f"{work}/logs/filter").run()
    t4 = time.time()
    pairs = []
    for name in sorted(os.listdir(f"{work}/buckets")):
        data = open(f"{work}/buckets/{name}", "rb").read()
        pairs += [list(struct.unpack_from("<4I", data, o)) for o in range(0, len(data), 16)]
    removed = []
    # datatrove's cluster step writes no folder when there is no duplicate at all.
    rm_dir = f"{work}/remove_ids"
    for name in sorted(os.listdir(rm_dir) if os.path.isdir(rm_dir) else []):
        if name.endswith(".remove"):
            data = open(f"{work}/remove_ids/{name}", "rb").read()
            removed += [[int(name.split(".")[0]), d] for (d,) in struct.iter_unpack("<I", data)]
    json.dump({"pairs": pairs, "removed": removed,
               "seconds": {"signatures": t1 - t0, "buckets": t2 - t1, "clusters": t3 - t2,
                           "filter": t4 - t3}},
              open(f"{work}/result.json", "w"))
    print(json.dumps({"pairs": len(pairs), "removed": len(removed), "seconds": t4 - t0}))


if __name__ == "__main__":
    main()
