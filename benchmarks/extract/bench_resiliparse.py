#!/usr/bin/env python3
"""Peer side of benchmarks/extract: resiliparse 2.0.1 as DCLM calls it, on the same WARCs.

Prints one JSON object per (file, mode):
  mode "extract": bodies preloaded, time of body.decode("utf-8") + extract_plain_text(main_content=True)
  mode "end_to_end": FastWARC read of the gzip WARC + the above, per record
Single process, single thread: numbers are per core. Best of --repeat runs, in process CPU seconds
(time.process_time(): on a shared machine this measures the work, not the wait for a core).
"""
import argparse, json, time
from fastwarc.warc import ArchiveIterator, WarcRecordType
from resiliparse.extract.html2text import extract_plain_text


def extract_all(bodies):
    n = nbytes = 0
    for b in bodies:
        try:
            s = b.decode("utf-8")
        except UnicodeDecodeError:
            continue
        extract_plain_text(s, main_content=True)
        n += 1
        nbytes += len(b)
    return n, nbytes


def end_to_end(path):
    n = nbytes = 0
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f, record_types=WarcRecordType.response):
            b = rec.reader.read()
            try:
                s = b.decode("utf-8")
            except UnicodeDecodeError:
                continue
            extract_plain_text(s, main_content=True)
            n += 1
            nbytes += len(b)
    return n, nbytes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("warcs", nargs="+")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default="extract,end_to_end", help="comma-separated (callgrind runs one)")
    a = ap.parse_args()
    for path in a.warcs:
        with open(path, "rb") as f:
            bodies = [r.reader.read() for r in ArchiveIterator(f, record_types=WarcRecordType.response)]
        for mode in a.modes.split(","):
            best = None
            for _ in range(a.repeat):
                t = time.process_time()
                n, nbytes = extract_all(bodies) if mode == "extract" else end_to_end(path)
                dt = time.process_time() - t
                best = dt if best is None else min(best, dt)
            print(json.dumps({"impl": "resiliparse 2.0.1", "file": path.split("/")[-1], "mode": mode,
                              "docs": n, "payload_bytes": nbytes, "seconds": round(best, 4)}), flush=True)


if __name__ == "__main__":
    main()
