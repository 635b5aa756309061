"""The datatrove adapters in a LocalPipelineExecutor pipeline equal the CLI: the RefinedWeb
filter on DCLM's 780 labelled texts vs `lmrepro crawl filter`, the fastText quality filter vs
`lmrepro crawl quality filter`."""

import subprocess
from pathlib import Path

import lmrepro
from conftest import MIRROR, golden, mirror
from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from lmrepro.datatrove import DCLMRefinedWebFilter, Extractor, FastTextQualityFilter

INPUTS = ["agreement_data.jsonl", "majority_data.jsonl"]


def run_datatrove(tmp: Path, step) -> list:
    for name in INPUTS:
        mirror(f"dclm_assets/data/{name}")
    out = tmp / "dt"
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(MIRROR / "dclm_assets" / "data"), glob_pattern="*_data.jsonl"),
            step,
            JsonlWriter(str(out), output_filename="${rank}.jsonl", compression=None),
        ],
        tasks=1,
        logging_dir=str(tmp / "logs"),
    ).run()
    return lmrepro.read_jsonl(out / "00000.jsonl")


def test_refinedweb_filter_equals_crawl_filter(tmp_path, cli):
    inputs = [str(mirror(f"dclm_assets/data/{n}")) for n in INPUTS]
    out = tmp_path / "cli"
    subprocess.run([cli, "crawl", "filter", "--quiet", "--input", *inputs, "--output", str(out)], check=True)
    want = [d for n in INPUTS for d in lmrepro.read_jsonl(out / n)]
    got = run_datatrove(tmp_path, DCLMRefinedWebFilter(batch_size=64))
    total = sum(len(lmrepro.read_jsonl(p)) for p in inputs)
    assert total == 780
    assert 0 < len(got) == len(want) < total
    for g, w in zip(got, want):
        assert g["text"] == w.pop("text")
        assert g["metadata"].pop("file_path").endswith(("agreement_data.jsonl", "majority_data.jsonl"))
        assert g["metadata"] == w  # label + the enrichers' keys, values equal


def test_fasttext_quality_filter_equals_cli(tmp_path, cli):
    model = tmp_path / "quality.bin"
    subprocess.run(
        [cli, "crawl", "quality", "train", "--positives", str(mirror("quality/positives_gsm8k_train.jsonl")),
         "--negatives", str(mirror("quality/negatives_cc_2019-30_dolma_sample.jsonl.gz")),
         "--max-positives", "300", "--max-negatives", "300", "--dim", "16", "--epoch", "2",
         "--output", str(model)],
        check=True, capture_output=True,
    )
    inputs = [str(mirror(f"dclm_assets/data/{n}")) for n in INPUTS]
    scored = tmp_path / "scored"
    subprocess.run(
        [cli, "crawl", "quality", "predict", "--inputs", *inputs, "--output", str(scored), "--model", str(model)],
        check=True, capture_output=True,
    )
    scores = sorted(d["fasttext_hq_prob"] for n in INPUTS for d in lmrepro.read_jsonl(scored / (Path(n).stem + ".jsonl.zst")))
    threshold = scores[len(scores) // 2]  # the median: the filter keeps about half
    out = tmp_path / "cli"
    subprocess.run(
        [cli, "crawl", "quality", "filter", "--inputs", *inputs, "--output", str(out), "--model", str(model),
         "--threshold", repr(threshold)],
        check=True, capture_output=True,
    )
    want = [d for n in INPUTS for d in lmrepro.read_jsonl(out / (Path(n).stem + ".jsonl.zst"))]
    got = run_datatrove(tmp_path, FastTextQualityFilter(str(model), threshold=threshold, batch_size=100))
    assert 0 < len(got) == len(want) < 780
    for g, w in zip(got, want):
        assert g["text"] == w["text"]
        assert g["metadata"]["fasttext_hq_prob"] == w["fasttext_hq_prob"]


def test_extractor_step_matches_resiliparse():
    """The datatrove Extractor on the scrapinghub WARC's pages (DCLM's strict UTF-8 bodies) gives
    resiliparse 2.0.1's texts, 181/181, in order."""
    gold = lmrepro.read_jsonl(golden("extraction/scrapinghub-aeb.resiliparse.jsonl.zst"))
    docs = [
        Document(text=r["http_body"].decode("utf-8"), id=r["record_id"])
        for r in lmrepro.iter_warc(mirror("crawl/scrapinghub-aeb.warc.gz"))
        if r["record_type"] == "response"
    ]
    out = list(Extractor(batch_size=50).run(iter(docs)))
    assert [(d.id, d.text) for d in out] == [(g["warc_record_id"], g["text"]) for g in gold if g["text"]]
    assert len(out) == 181
