"""Bad inputs raise Python exceptions carrying the Rust error's message; none crashes the
interpreter."""

import lmrepro
import lmrepro.dclm
import pytest
from conftest import mirror


def test_missing_files_are_oserrors(tmp_path):
    missing = str(tmp_path / "nope.bin")
    for make in (lmrepro.FastText, lmrepro.QualityClassifier, lmrepro.Tokenizer, lmrepro.iter_warc,
                 lmrepro.extract_warc, lmrepro.read_jsonl):
        with pytest.raises(OSError, match="nope.bin"):
            make(missing)


def test_corrupt_model_and_tokenizer(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(lmrepro.LmreproError):
        lmrepro.FastText(bad)
    with pytest.raises(lmrepro.LmreproError, match="bad.bin"):
        lmrepro.Tokenizer(bad)


def test_pipeline_errors(tmp_path):
    with pytest.raises(lmrepro.LmreproError, match="neither"):
        lmrepro.Pipeline("no-such-pipeline")
    y = tmp_path / "p.yaml"
    y.write_text("- source: cc\n  steps:\n  - func: no_such_mapper\n")
    with pytest.raises(lmrepro.LmreproError, match="no_such_mapper"):
        lmrepro.Pipeline(str(y))
    y.write_text("- source: cc\n  steps: [")
    with pytest.raises(lmrepro.LmreproError, match="yaml"):
        lmrepro.Pipeline(str(y))
    with pytest.raises(lmrepro.LmreproError, match="curated_domains"):
        lmrepro.Pipeline(curated_domains="maybe")
    p = lmrepro.Pipeline()
    with pytest.raises(lmrepro.LmreproError, match='no "text"'):
        p.run({"body": "x"})
    with pytest.raises(lmrepro.LmreproError, match="not a str"):
        p.run_batch([{"text": "ok"}, {"text": 5}])
    with pytest.raises(lmrepro.LmreproError, match="url"):
        p({"text": "x", "url": 3})
    with pytest.raises(lmrepro.LmreproError, match="page_length_filter"):
        lmrepro.dclm.page_length_filter({"text": "x"}, length_type="furlongs")


def test_malformed_jsonl_names_file_and_line(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_text('{"text": "a"}\n{"text": \n')
    with pytest.raises(lmrepro.LmreproError, match=r"docs.jsonl:2"):
        lmrepro.read_jsonl(f)
    with pytest.raises(lmrepro.LmreproError, match="docs.jsonl"):
        lmrepro.bff_files([f], tmp_path / "out")


def test_not_a_warc(tmp_path):
    f = tmp_path / "x.warc"
    f.write_bytes(b"GET / HTTP/1.1\r\n\r\n" * 10)
    with pytest.raises(lmrepro.LmreproError, match="x.warc"):
        list(lmrepro.iter_warc(f))


def test_bad_arguments():
    with pytest.raises(ValueError, match="one line at a time"):
        lmrepro.FastText(mirror("langid/lid.176.ftz")).predict("a\nb")
    with pytest.raises(lmrepro.LmreproError, match="remove_type"):
        lmrepro.bff_files([], "/tmp/unused", remove_type="both")
    with pytest.raises(TypeError):
        lmrepro.extract_plain_text(b"<p>bytes</p>")
