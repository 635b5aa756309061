"""Tokenize the same documents with HF `tokenizers` (Python) or `tiktoken` (GPT-NeoX ranks from
tokshuf-rs, tokshuf's regex) and report encode throughput (reading/decompression not timed).

Usage: python tokenize_peers.py <mirror> hf|hf-batch|hf-load|tiktoken <jsonl.zst files...>
HF runs single-threaded with TOKENIZERS_PARALLELISM=false. `hf-batch` times one `encode_batch` call
over all documents (issue 17's peer figure) and also reports the process CPU seconds it took;
`hf-load` does everything but encoding (the baseline subtracted from instruction counts).
"""
import base64, io, json, os, sys, time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import zstandard


def texts(files):
    for f in files:
        r = zstandard.ZstdDecompressor().stream_reader(open(f, "rb"))
        for line in io.TextIOWrapper(r, encoding="utf-8"):
            yield json.loads(line)["text"]


def main():
    mirror, which, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    docs = list(texts(files))
    nbytes = sum(len(t.encode()) for t in docs)
    if which == "hf":
        import tokenizers
        tok = tokenizers.Tokenizer.from_file(f"{mirror}/tokenizer/gpt-neox-20b/tokenizer.json")
        t = time.time()
        n = sum(len(tok.encode(d, add_special_tokens=False).ids) for d in docs)
    elif which == "hf-batch":
        import tokenizers
        tok = tokenizers.Tokenizer.from_file(f"{mirror}/tokenizer/gpt-neox-20b/tokenizer.json")
        t, c = time.time(), time.process_time()
        n = sum(len(e.ids) for e in tok.encode_batch(docs, add_special_tokens=False))
        cpu = time.process_time() - c
    elif which == "hf-load":
        # Everything hf-batch does except encoding (baseline for instruction counts).
        import tokenizers
        tok = tokenizers.Tokenizer.from_file(f"{mirror}/tokenizer/gpt-neox-20b/tokenizer.json")
        t, n = time.time(), 0
    else:
        import tiktoken
        ranks = {}
        for line in open(f"{mirror}/dclm_assets/rust_processing/tokshuf-rs/EleutherAI_gpt-neox-20b.tiktoken"):
            tok_b64, rank = line.split()
            ranks[base64.b64decode(tok_b64)] = int(rank)
        enc = tiktoken.Encoding("neox", pat_str=r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
                                mergeable_ranks=ranks, special_tokens={})
        t = time.time()
        n = sum(len(enc.encode_ordinary(d)) for d in docs)
    dt = time.time() - t
    extra = {"encode_cpu_seconds": cpu} if which == "hf-batch" else {}
    print(json.dumps({**extra, "tool": which, "docs": len(docs), "bytes": nbytes, "tokens": n, "encode_seconds": dt,
                      "mb_per_s": nbytes / dt / 1e6, "tokens_per_s": n / dt}))


if __name__ == "__main__":
    main()
