"""Removal fraction of a dedup output vs its input, measured identically for every tool:
1 - (UTF-8 bytes of `text` over all output docs) / (same over all input docs), and docs in/out.

Usage: python measure_removal.py <input files...> -- <output files...>
"""
import io, json, sys
import zstandard


def lines(path):
    raw = open(path, "rb")
    if path.endswith((".zst", ".zstd")):
        raw = zstandard.ZstdDecompressor().stream_reader(raw)
    elif path.endswith(".gz"):
        import gzip
        raw = gzip.GzipFile(fileobj=raw)
    yield from io.TextIOWrapper(raw, encoding="utf-8")


def totals(files):
    docs = nbytes = 0
    for f in files:
        for line in lines(f):
            if line.strip():
                docs += 1
                nbytes += len(json.loads(line)["text"].encode("utf-8"))
    return docs, nbytes


def main():
    k = sys.argv.index("--")
    di, bi = totals(sys.argv[1:k])
    do, bo = totals(sys.argv[k + 1:])
    print(json.dumps({"docs_in": di, "docs_out": do, "text_bytes_in": bi, "text_bytes_out": bo,
                      "removed_byte_fraction": 1 - bo / bi, "removed_doc_fraction": 1 - do / di}))


if __name__ == "__main__":
    main()
