"""DCLM's RefinedWeb heuristics through the binding: Pipeline (whole) and the DCLM mapper
drop-ins (one step at a time) against DCLM's goldens (281/281 verdicts)."""

import json

import lmrepro
import lmrepro.dclm
from conftest import golden, mirror


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def lang_close(ours, gold):
    return ours.keys() == gold.keys() and all(abs(ours[k] - gold[k]) < 1e-5 for k in gold)


def check(gold, dropped_at, page):
    """Equal verdict; for survivors equal text, lang id (1e-5) and word count."""
    if gold["dropped_at_index"] != dropped_at or gold["kept"] != (dropped_at is None):
        return False
    if dropped_at is not None:
        return True
    return (
        page["text"] == gold["text"]
        and lang_close(page["language_id_whole_page_fasttext"], gold["lang_id"])
        and page["previous_word_count"] == gold["previous_word_count"]
    )


def test_pipeline_matches_dclm_281():
    texts = [d["text"] for d in load(mirror("dclm_assets/data/agreement_data.jsonl"))]
    gold = load(golden("dclm_refinedweb/agreement_golden.jsonl"))
    assert len(texts) == len(gold) == 281
    p = lmrepro.Pipeline()
    assert len(p.steps) == 26 and p.steps[16] == "16_massive_web_repetition_filters"
    outs = p.run_batch([{"text": t} for t in texts])
    ok = sum(check(g, o["dropped_at_index"], o["page"]) for g, o in zip(gold, outs))
    assert ok == 281
    assert sum(o["kept"] for o in outs) == 252
    # per call == batch, and the mapper contract
    for t, o in zip(texts[:20], outs[:20]):
        one = p.run({"text": t})
        assert one == o
        assert p({"text": t}) == ([o["page"]] if o["kept"] else [])


def test_dclm_mappers_chain_matches_dclm_281():
    """The yaml's 26 steps as separate DCLM mapper calls, chained like
    apply_partial_func_sequential: the same 281 verdicts and texts."""
    steps = json.load(open(golden("dclm_refinedweb/agreement_step_counts.json")))["steps"]
    texts = [d["text"] for d in load(mirror("dclm_assets/data/agreement_data.jsonl"))]
    gold = load(golden("dclm_refinedweb/agreement_golden.jsonl"))
    ok = 0
    for t, g in zip(texts, gold):
        page, dropped_at = {"text": t, "label": g["label"]}, None
        for s in steps:
            out = getattr(lmrepro.dclm, s["step"])(page, **s["params"])
            if not out:
                dropped_at = s["index"]
                break
            (page,) = out
        ok += check(g, dropped_at, page)
        assert page["label"] == g["label"]  # other keys pass through
    assert ok == 281


def test_url_steps_on_real_urls():
    """Steps 00-04 on 1,298 URLs (real WARC-Target-URIs and synthetic ones) vs DCLM."""
    gold = load(golden("dclm_refinedweb/url_filters_golden.jsonl"))
    p = lmrepro.Pipeline()
    pages = [{"text": "x", "metadata": {"WARC-Target-URI": g["url"]}} for g in gold]
    equal = 0
    for g, o in zip(gold, p.run_batch(pages)):
        first = g["first_dropping_step"]
        ours = o["dropped_by"] if o["dropped_at_index"] is not None and o["dropped_at_index"] <= 4 else None
        got_index = o["dropped_at_index"] if ours else None
        want_index = int(first[:2]) if first else None
        equal += got_index == want_index and o["page"].get("url") == g["url_after_move"]
    assert equal == len(gold) == 1298
