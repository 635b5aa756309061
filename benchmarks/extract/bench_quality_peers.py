#!/usr/bin/env python3
"""Peer side of benchmarks/extract/quality.sh: resiliparse 2.0.1 (DCLM's call) and trafilatura
2.0.0 (`extract(html, include_comments=False)`, as trafilatura's own tests/comparison.py calls it)
on the response payloads of the same WARCs (preloaded; strict UTF-8 decode + extraction), one
process, one thread, best of --repeat runs in process CPU seconds. With --predictions DIR the
texts of the last run go to DIR/<peer>.<warc>.jsonl ({"key": X-Source-Path file name, "text"}),
scored by `extract_eval score` (the same Rust scorer as ours). Prints one JSON line per peer.
"""
import argparse, json, os, time
from fastwarc.warc import ArchiveIterator, WarcRecordType


def peers():
    from resiliparse.extract.html2text import extract_plain_text
    import trafilatura

    return {
        "resiliparse": lambda s: extract_plain_text(s, main_content=True),
        "trafilatura": lambda s: trafilatura.extract(s, include_comments=False),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("warcs", nargs="+")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--peers", default="resiliparse,trafilatura")
    ap.add_argument("--predictions")
    a = ap.parse_args()
    fns = peers()
    for path in a.warcs:
        pages = []
        with open(path, "rb") as f:
            for r in ArchiveIterator(f, record_types=WarcRecordType.response):
                key = (r.headers.get("X-Source-Path") or "").rsplit("/", 1)[-1]
                pages.append((key, r.reader.read()))
        name = os.path.basename(path)
        for peer in a.peers.split(","):
            fn = fns[peer]
            best, out, nbytes = None, [], 0
            for _ in range(a.repeat):
                out, nbytes = [], 0
                t = time.process_time()
                for key, b in pages:
                    try:
                        s = b.decode("utf-8")
                    except UnicodeDecodeError:
                        continue
                    out.append((key, fn(s)))
                    nbytes += len(b)
                dt = time.process_time() - t
                best = dt if best is None else min(best, dt)
            if a.predictions:
                with open(os.path.join(a.predictions, f"{peer}.{name}.jsonl"), "w") as f:
                    for key, text in out:
                        f.write(json.dumps({"key": key, "text": text}) + "\n")
            print(json.dumps({"impl": peer, "file": name, "docs": len(out),
                              "payload_bytes": nbytes, "seconds": round(best, 4)}), flush=True)


if __name__ == "__main__":
    main()
