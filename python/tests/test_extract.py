"""Extraction and WARC reading through the binding, against resiliparse 2.0.1's goldens
(1187/1187 on the mirrored WARCs), done the way DCLM's process_common_crawl_w_ray.py does it."""

import hashlib

import lmrepro
import pytest
from conftest import golden, mirror

WARCS = [("scrapinghub-aeb", 181, 181), ("trafilatura-testpages", 1033, 1006)]


@pytest.mark.parametrize("warc,responses,extracted", WARCS)
def test_dclm_flow_matches_resiliparse(warc, responses, extracted):
    gold = lmrepro.read_jsonl(golden(f"extraction/{warc}.resiliparse.jsonl.zst"))
    assert len(gold) == responses
    recs = [r for r in lmrepro.iter_warc(mirror(f"crawl/{warc}.warc.gz")) if r["record_type"] == "response"]
    assert len(recs) == responses
    htmls, exact, skipped = [], 0, 0
    for rec, g in zip(recs, gold):
        assert rec["record_id"] == g["warc_record_id"]
        assert rec["target_uri"] == g["target_uri"]
        body = rec["http_body"]
        assert hashlib.sha1(body).hexdigest() == g["body_sha1"]
        try:
            html = body.decode("utf-8")  # DCLM: strict decode, skip the page if it raises
        except UnicodeDecodeError:
            assert g["text"] is None
            skipped += 1
            continue
        htmls.append(html)
        text = lmrepro.extract_plain_text(html, main_content=True)
        exact += text == g["text"]
    assert (exact, skipped) == (extracted, responses - extracted)
    # The batch call returns the same texts, in order.
    batch = lmrepro.extract_plain_text_batch(htmls, main_content=True)
    assert batch == [g["text"] for g in gold if g["text"] is not None]


@pytest.mark.parametrize("warc,responses,extracted", WARCS)
def test_extract_warc_is_crawl_extract(warc, responses, extracted):
    gold = [g for g in lmrepro.read_jsonl(golden(f"extraction/{warc}.resiliparse.jsonl.zst"))]
    out = lmrepro.extract_warc(mirror(f"crawl/{warc}.warc.gz"))
    docs = [d for d in out if "skipped" not in d]
    skips = [d for d in out if "skipped" in d]
    assert len(docs) == extracted and len(skips) == responses - extracted
    assert all(s["skipped"] == "non_utf8" for s in skips)
    by_id = {g["warc_record_id"]: g["text"] for g in gold}
    assert sum(by_id[d["id"]] == d["text"] for d in docs) == extracted


def test_resiliparse_keywords():
    html = "<html><body><nav>menu</nav><article><p>Hello <a href='/x'>world</a></p></article></body></html>"
    assert lmrepro.extract_plain_text(html, links=True).endswith("world (/x)")
    assert "\n" not in lmrepro.extract_plain_text("<p>a</p><p>b</p>", preserve_formatting=False)
    with pytest.raises(lmrepro.LmreproError, match="skip_elements"):
        lmrepro.extract_plain_text(html, skip_elements=["nav"])
    with pytest.raises(TypeError):
        lmrepro.extract_plain_text(html, bogus=True)
