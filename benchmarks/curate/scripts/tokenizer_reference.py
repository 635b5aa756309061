"""Reference token ids from the Python `tokenizers` package (HF) for the parity check.

Usage: python tokenizer_reference.py <mirror dir (shared/data)> <out.jsonl> [--fixture <fixture.json>]

Documents (>= 10k): Wikipedia vital summaries (10,033), DCLM's 780 labelled CC texts, the 697 Dolma
CC documents and the 800 Gutenberg books. One output line per document:
{"key": ..., "n": <number of ids>, "sha256": <sha256 of the ids as u32 little-endian>}.
--fixture also writes the full ids of a small sample (for tests/fixtures).
"""
import gzip, hashlib, io, json, struct, sys
import tokenizers
import zstandard  # noqa: F401  (optional)


def zst_lines(path):
    import zstandard as zstd
    with open(path, "rb") as f:
        r = zstd.ZstdDecompressor().stream_reader(f)
        yield from io.TextIOWrapper(r, encoding="utf-8")


def docs(mirror):
    wiki = json.load(open(f"{mirror}/corpus/wikipedia_vital_summaries_en-us.json"))
    for title, v in wiki.items():
        yield f"wiki:{title}", v["extract"]
    for name in ["agreement_data", "majority_data"]:
        for i, line in enumerate(open(f"{mirror}/dclm_assets/data/{name}.jsonl")):
            yield f"{name}:{i + 1}", json.loads(line)["text"]
    for i, line in enumerate(gzip.open(f"{mirror}/quality/negatives_cc_2019-30_dolma_sample.jsonl.gz", "rt")):
        yield f"dolma:{i + 1}", json.loads(line)["text"]
    for s in range(4):
        for line in zst_lines(f"{mirror}/corpus/gutenberg_top100_{s:02d}.jsonl.zst"):
            d = json.loads(line)
            yield f"gutenberg:{d['id']}", d["text"]


def main():
    mirror, out = sys.argv[1], sys.argv[2]
    fixture = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--fixture" else None
    tok = tokenizers.Tokenizer.from_file(f"{mirror}/tokenizer/gpt-neox-20b/tokenizer.json")
    items = list(docs(mirror))
    sample = {}
    with open(out, "w") as f:
        for start in range(0, len(items), 256):
            batch = items[start:start + 256]
            encs = tok.encode_batch([t for _, t in batch], add_special_tokens=False)
            for (key, text), e in zip(batch, encs):
                ids = e.ids
                h = hashlib.sha256(struct.pack(f"<{len(ids)}I", *ids)).hexdigest()
                f.write(json.dumps({"key": key, "n": len(ids), "sha256": h}) + "\n")
                # Fixture: short docs with non-ASCII or whitespace runs, plus a few plain ones.
                if fixture and len(ids) < 400 and (key.startswith("wiki:") or key.startswith("dolma:")):
                    interesting = any(ord(c) > 127 for c in text) or "  " in text or "\n\n" in text
                    if len(sample) < 40 and (interesting or len(sample) < 10):
                        sample[key] = {"text": text, "ids": ids}
    print(f"{len(items)} documents, tokenizers {tokenizers.__version__}", file=sys.stderr)
    if fixture:
        json.dump({"tokenizers_version": tokenizers.__version__, "docs": sample}, open(fixture, "w"), ensure_ascii=False, sort_keys=True)


if __name__ == "__main__":
    main()
