"""fastText, tokenizer, BFF and MinHash through the binding, against goldens or the CLI."""

import json
import subprocess
from pathlib import Path

import lmrepro
from conftest import ROOT, golden, mirror


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def test_fasttext_lid_matches_dclm_goldens():
    """lid.176 on DCLM's enricher input (`text.replace("\\n", "")`, k=1): 281/281 within 1e-5."""
    texts = [d["text"] for d in load(mirror("dclm_assets/data/agreement_data.jsonl"))]
    gold = [g for g in load(golden("dclm_refinedweb/agreement_per_step.jsonl")) if g["step_index"] == 7]
    model = lmrepro.FastText(mirror("langid/lid.176.ftz"))
    assert model.nlabels == 176
    lines = [t.replace("\n", "") for t in texts]
    labels, probs = model.predict(lines, k=1)
    equal = 0
    for g, ls, ps in zip(gold, labels, probs):
        (lab, p), = g["lang_id"].items()
        equal += ls == ["__label__" + lab] and abs(ps[0] - p) < 1e-5
    assert equal == 281
    assert model.predict(lines[0]) == (labels[0], probs[0])
    one_l, one_p = model.predict(lines[0], k=3)
    assert len(one_l) == 3 and one_l[0] == labels[0][0] and one_p[0] == probs[0][0]
    assert model.predict(lines[0], k=-1, threshold=0.5)[0] == [l for l, p in zip(*model.predict(lines[0], k=176)) if p >= 0.5]


def test_tokenizer_matches_hf_tokenizers():
    fx = json.load(open(ROOT / "crates/curate/tests/fixtures/tokenizer_ids.json"))["docs"]
    tok = lmrepro.Tokenizer.gpt_neox()
    texts = [d["text"] for d in fx.values()]
    ids = [d["ids"] for d in fx.values()]
    assert len(texts) == 40
    assert tok.encode_batch(texts) == ids
    assert [tok.encode(t) for t in texts[:5]] == ids[:5]
    assert tok.token_to_id("<|endoftext|>") == 0
    assert tok.decode(tok.encode("Hello world")) == "Hello world"


def dup_input(tmp: Path) -> Path:
    """DCLM's 281 agreement texts, then the first 100 again (exact duplicates to remove)."""
    docs = load(mirror("dclm_assets/data/agreement_data.jsonl"))
    p = tmp / "docs.jsonl"
    with open(p, "w", encoding="utf-8") as f:
        for d in docs + docs[:100]:
            f.write(json.dumps({"text": d["text"]}) + "\n")
    return p


def test_bff_equals_cli(tmp_path, cli):
    src = dup_input(tmp_path)
    subprocess.run([cli, "crawl", "dedup", "bff", "--inputs", str(src), "--output", str(tmp_path / "cli")],
                   check=True, capture_output=True)
    want = lmrepro.read_jsonl(tmp_path / "cli" / "docs.jsonl.zst")
    report = lmrepro.bff_files([src], tmp_path / "py")
    assert lmrepro.read_jsonl(tmp_path / "py" / "docs.jsonl.zst") == want
    assert report["total"]["docs_in"] == 381 and report["total"]["docs_out"] == len(want) < 381
    texts = [d["text"] for d in load(src)]
    kept = lmrepro.bff_dedup(texts)
    assert [t for t in kept if t is not None] == [d["text"] for d in want]
    assert sum(k is None for k in kept) == 381 - len(want)


def test_minhash_equals_cli(tmp_path, cli):
    src = dup_input(tmp_path)
    subprocess.run([cli, "crawl", "dedup", "minhash", "--inputs", str(src), "--output", str(tmp_path / "cli")],
                   check=True, capture_output=True)
    want = lmrepro.read_jsonl(tmp_path / "cli" / "docs.jsonl.zst")
    st = lmrepro.minhash_files([src], tmp_path / "py")
    assert lmrepro.read_jsonl(tmp_path / "py" / "docs.jsonl.zst") == want
    assert st["docs_in"] == 381 and st["docs_kept"] == len(want) <= 281
    texts = [d["text"] for d in load(src)]
    sigs = lmrepro.minhash_signatures(texts)
    assert all(len(s) == 14 * 8 for s in sigs if s is not None)
    assert sigs[281:] == sigs[:100]
    assert lmrepro.minhash_signatures(["too short"]) == [None]


def test_warc_iteration_reads_every_record():
    recs = list(lmrepro.iter_warc(mirror("crawl/scrapinghub-aeb.warc.gz")))
    types = [r["record_type"] for r in recs]
    assert types.count("response") == 181
    r = next(r for r in recs if r["record_type"] == "response")
    assert r["http_status"] == 200 and r["content"].endswith(r["http_body"])


def test_gil_is_released_during_rust_work():
    """Another Python thread runs while a batch call works in Rust (with the GIL held it could
    not run at all until the call returns)."""
    import threading

    texts = [d["text"] for d in load(mirror("dclm_assets/data/agreement_data.jsonl"))] * 4
    p = lmrepro.Pipeline()
    ticks, done = [0], threading.Event()

    def spin():
        while not done.is_set():
            ticks[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        before = ticks[0]
        p.run_batch([{"text": x} for x in texts])
        during = ticks[0] - before
    finally:
        done.set()
        t.join()
    assert during > 1000, during
