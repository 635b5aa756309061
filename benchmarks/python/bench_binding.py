#!/usr/bin/env python3
"""benchmarks/python: docs per CPU-second (one core) of extraction and the DCLM heuristics through
the `lmrepro` Python binding (per call and batch) and through the `lmrepro` CLI, on the same inputs.

Run by ./run.sh (which also runs the resiliparse peer). One JSON object per measurement:
  {"impl", "task", "file", "mode", "docs", "seconds"}; best of --repeat, process CPU seconds
(`time.process_time()` for in-process work, `RUSAGE_CHILDREN` for the CLI), RAYON_NUM_THREADS=1
so every side uses one core. The CLI numbers include process start, model loading and JSONL I/O;
the binding's exclude the one-time `Pipeline()` load, printed separately ("mode": "load").
"""
import argparse
import json
import os
import resource
import subprocess
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # before the first rayon call: one core, as the peers
import lmrepro  # noqa: E402


def best(fn, repeat):
    out = None
    for _ in range(repeat):
        t = time.process_time()
        n = fn()
        dt = time.process_time() - t
        out = dt if out is None else min(out, dt)
    return n, out


def child_cpu(cmd, repeat):
    out = None
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, RAYON_NUM_THREADS="1"))
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        dt = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        out = dt if out is None else min(out, dt)
    return out


def emit(**kw):
    kw["seconds"] = round(kw["seconds"], 4)
    kw["docs_per_cpu_s"] = round(kw["docs"] / kw["seconds"], 1) if kw["seconds"] else None
    print(json.dumps(kw), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lmrepro-bench-")

    for warc in ("scrapinghub-aeb.warc.gz", "trafilatura-testpages.warc.gz"):
        path = os.path.join(a.data, "crawl", warc)
        htmls = []
        for r in lmrepro.iter_warc(path):
            if r["record_type"] == "response":
                try:
                    htmls.append(r["http_body"].decode("utf-8"))
                except UnicodeDecodeError:
                    pass
        n, s = best(lambda: len([lmrepro.extract_plain_text(h, main_content=True) for h in htmls]), a.repeat)
        emit(impl="lmrepro python", task="extract", file=warc, mode="per_call", docs=n, seconds=s)
        n, s = best(lambda: len(lmrepro.extract_plain_text_batch(htmls, main_content=True)), a.repeat)
        emit(impl="lmrepro python", task="extract", file=warc, mode="batch", docs=n, seconds=s)
        n, s = best(lambda: sum("skipped" not in d for d in lmrepro.extract_warc(path)), a.repeat)
        emit(impl="lmrepro python", task="extract", file=warc, mode="end_to_end (extract_warc)", docs=n, seconds=s)
        s = child_cpu([a.cli, "crawl", "extract", "--input", path, "--output", os.path.join(tmp, "x.jsonl")],
                      a.repeat)
        emit(impl="lmrepro CLI", task="extract", file=warc, mode="end_to_end (crawl extract)", docs=n, seconds=s)

    t = time.process_time()
    p = lmrepro.Pipeline()
    emit(impl="lmrepro python", task="heuristics", file="-", mode="load", docs=0, seconds=time.process_time() - t)
    for name in ("agreement_data.jsonl", "majority_data.jsonl"):
        path = os.path.join(a.data, "dclm_assets", "data", name)
        pages = [{"text": json.loads(l)["text"]} for l in open(path, encoding="utf-8") if l.strip()]
        n, s = best(lambda: len([p.run(x) for x in pages]), a.repeat)
        emit(impl="lmrepro python", task="heuristics", file=name, mode="per_call", docs=n, seconds=s)
        n, s = best(lambda: len(p.run_batch(pages)), a.repeat)
        emit(impl="lmrepro python", task="heuristics", file=name, mode="batch", docs=n, seconds=s)
        s = child_cpu([a.cli, "crawl", "filter", "--quiet", "--force", "--threads", "1", "--input", path,
                       "--output", os.path.join(tmp, name)], a.repeat)
        emit(impl="lmrepro CLI", task="heuristics", file=name, mode="end_to_end (crawl filter)", docs=n, seconds=s)


if __name__ == "__main__":
    main()
