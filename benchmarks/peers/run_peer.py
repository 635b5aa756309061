"""The peer side of `cargo xtask bench` (xtask/src/bench/): runs one peer's work on the inputs the
xtask prepared and prints ONE JSON line: what the xtask compares with our output (docs, counts, a
digest) and `work_cpu_s`, the process CPU time of the peer's work alone (its imports, model loading
and input parsing excluded), timed with time.process_time() around the work.

digest = sha256 over every output text, in order, each as UTF-8 followed by one NUL byte (the
xtask computes the same over our output).

Usage:
  run_peer.py heuristics DCLM_SRC IN.jsonl LID_MODEL   (the `dclm` venv: DCLM's mappers)
  run_peer.py tokenize TOKENIZER_JSON IN.jsonl[.zst]    (Python `tokenizers`, encode_batch)
  run_peer.py fasttext MODEL IN.jsonl SCORES.txt        (fasttext-wheel, DCLM's preprocessing)
  run_peer.py extract WARC...                           (resiliparse + FastWARC, as DCLM calls them)
Threads: TOKENIZERS_PARALLELISM / RAYON_RS_NUM_CPUS are set by the xtask.
"""
import hashlib
import io
import json
import os
import sys
import time
import types


def read_jsonl(path):
    raw = open(path, "rb")
    if path.endswith((".zst", ".zstd")):
        import zstandard

        raw = zstandard.ZstdDecompressor().stream_reader(raw)
    return [json.loads(line) for line in io.TextIOWrapper(raw, encoding="utf-8") if line.strip()]


def digest(texts):
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def heuristics(root, inp, lid):
    """DCLM's own mappers, built by its factory from the pinned yaml (as the goldens were)."""
    # Modules DCLM's mapper package imports but these steps never call.
    for name in ("kenlm", "sentencepiece"):
        sys.modules.setdefault(name, types.ModuleType(name))
    tr = types.ModuleType("transformers")
    tr.AutoTokenizer = None
    sys.modules.setdefault("transformers", tr)
    root = os.path.abspath(root)
    os.chdir(root)
    sys.path[:0] = [root, os.path.join(root, "baselines")]
    # Substitution 1 of the goldens: lid.176.ftz stands in for lid.176.bin.
    mdir = os.path.join(root, "baselines/mappers/enrichers/language_id_enrichment_models")
    os.makedirs(mdir, exist_ok=True)
    target = os.path.join(mdir, "lid.176.bin")
    if os.path.islink(target) and os.readlink(target) != os.path.abspath(lid):
        os.remove(target)
    if not os.path.exists(target):
        os.symlink(os.path.abspath(lid), target)
    # Substitution 2: the unpublished curated domain list is empty.
    cur = os.path.join(root, "baselines/mappers/banlists/refinedweb_banned_domains_curated.txt")
    if not os.path.exists(cur):
        open(cur, "w").close()
    import copy

    import yaml
    from baselines.core.factories import get_mapper

    yaml_path = os.path.join(root, "baselines/baselines_configs/dclm_baseline_refinedweb.yaml")
    steps = yaml.safe_load(open(yaml_path))[0]["steps"]
    mappers = [get_mapper(**s, _safe=True) for s in steps]
    pages = [copy.deepcopy(p) for p in read_jsonl(inp)]

    def run(page):
        for i, m in enumerate(mappers):
            # Pages without a URL skip the URL steps 00-04, as in the goldens and in ours.
            if i <= 4 and "url" not in page and "metadata" not in page:
                continue
            out = m(page)
            if not isinstance(out, list) or not out:
                return None
            page = out[0]
        return page["text"]

    c = time.process_time()
    kept = [t for t in (run(p) for p in pages) if t is not None]
    work = time.process_time() - c
    return {"docs": len(pages), "kept": len(kept), "digest": digest(kept), "work_cpu_s": work}


def tokenize(tok_json, inp):
    import tokenizers

    tok = tokenizers.Tokenizer.from_file(tok_json)
    texts = [d["text"] for d in read_jsonl(inp)]
    c = time.process_time()
    enc = tok.encode_batch(texts, add_special_tokens=False)
    work = time.process_time() - c
    return {"docs": len(texts), "tokens": sum(len(e.ids) for e in enc), "work_cpu_s": work}


def fasttext_predict(model, inp, out):
    import fasttext

    m = fasttext.load_model(model)
    # DCLM's preprocessing (quality_prediction_enrichers_calc_fasttext.py).
    texts = [" ".join(d["text"].strip().splitlines()) for d in read_jsonl(inp)]
    c = time.process_time()
    # model.predict's numpy-1-only wrapper is bypassed through the call it makes.
    preds = [m.f.predict(x + "\n", 1, 0.0, "strict") for x in texts]
    work = time.process_time() - c
    with open(out, "w") as f:
        for p in preds:
            prob, label = p[0] if p else (0.0, "")
            f.write(repr(1 - prob if label == "__label__cc" else prob) + "\n")
    return {"docs": len(texts), "work_cpu_s": work}


def extract(warcs):
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text

    texts = []
    c = time.process_time()
    for path in warcs:
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f, record_types=WarcRecordType.response):
                body = rec.reader.read()
                try:
                    html = body.decode("utf-8")  # DCLM: strict UTF-8, other pages skipped
                except UnicodeDecodeError:
                    continue
                texts.append(extract_plain_text(html, main_content=True))
    work = time.process_time() - c
    return {"docs": len(texts), "digest": digest(texts), "work_cpu_s": work}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "heuristics":
        out = heuristics(*args)
    elif cmd == "tokenize":
        out = tokenize(*args)
    elif cmd == "fasttext":
        out = fasttext_predict(*args)
    elif cmd == "extract":
        out = extract(args)
    else:
        sys.exit(f"run_peer.py: unknown benchmark {cmd!r}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
