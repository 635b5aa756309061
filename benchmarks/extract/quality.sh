#!/usr/bin/env bash
# Extraction quality and speed in one run (issue 18 §2): lmrepro-extract --mode quality (and
# faithful) vs resiliparse 2.0.1 vs trafilatura 2.0.0 on the scrapinghub AEB WARC (181 pages).
# Needs the data mirror (LMREPRO_DATA_MIRROR or ../shared/data) and the peers venv
# (PY, default .venv-bench/peers/bin/python3: benchmarks/requirements-peers.txt).
# ROUNDS rounds (default 3), each alternating ours (faithful, quality) / the peers, each side one
# thread in process CPU seconds (REPEAT runs, best; trafilatura 1 run); the texts of every round
# are scored with the same Rust scorer (AEB's evaluate.py method, `extract_eval score aeb`).
# Prints JSON lines, `uptime` per round, and a summary with the median CPU ratios and their spread.
# Instructions (callgrind, extraction functions only; trafilatura not measured: hours):
#   valgrind --tool=callgrind --toggle-collect='*quality_page*' "$bench" --repeat 1 --modes quality WARC
#   valgrind --tool=callgrind --toggle-collect='*extract_plain_text*' \
#     "$PY" bench_quality_peers.py --peers resiliparse WARC
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mirror="${LMREPRO_DATA_MIRROR:-$root/../shared/data}"
export LMREPRO_DATA_MIRROR="$mirror"
PY="${PY:-$root/.venv-bench/peers/bin/python3}"
REPEAT="${REPEAT:-3}"
ROUNDS="${ROUNDS:-3}"
(cd "$root" && cargo build --release -q -p lmrepro-extract --example bench_quality --example extract_eval)
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples"
warc="$mirror/crawl/scrapinghub-aeb.warc.gz"
out="$(mktemp -d)"
for round in $(seq "$ROUNDS"); do
  echo "round $round: $(uptime)"
  mkdir -p "$out/$round"
  "$bin/bench_quality" --repeat "$REPEAT" --predictions "$out/$round" "$warc" | tee -a "$out/times.jsonl"
  "$PY" "$here/bench_quality_peers.py" --peers resiliparse --repeat "$REPEAT" --predictions "$out/$round" "$warc" | tee -a "$out/times.jsonl"
  "$PY" "$here/bench_quality_peers.py" --peers trafilatura --repeat 1 --predictions "$out/$round" "$warc" | tee -a "$out/times.jsonl"
  for p in faithful quality resiliparse trafilatura; do
    echo "{\"round\": $round, \"impl\": \"$p\", \"aeb\": $("$bin/extract_eval" score aeb "$out/$round/$p.scrapinghub-aeb.warc.gz.jsonl")}" | tee -a "$out/scores.jsonl"
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
d = sys.argv[1]
times = [json.loads(l) for l in open(f"{d}/times.jsonl")]
scores = [json.loads(l) for l in open(f"{d}/scores.jsonl")]
name = lambda t: t["impl"].replace("lmrepro-extract ", "")
by = {}
for t in times:
    by.setdefault(name(t), []).append(t["seconds"])
f1 = {}
for s in scores:
    f1.setdefault(s["impl"], set()).add(round(s["aeb"]["f1"], 4))
print("| extractor | AEB F1 | CPU s (median of rounds) | resiliparse CPU / this (median, min–max) |")
print("|---|---:|---:|---|")
for k in ["quality", "faithful", "resiliparse", "trafilatura"]:
    ratios = [r / s for r, s in zip(by["resiliparse"], by[k])]
    print(f"| {k} | {'/'.join(map(str, sorted(f1[k])))} | {statistics.median(by[k]):.3f} | "
          f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) |")
PY
