#!/usr/bin/env bash
# Extraction throughput per core: lmrepro-extract vs resiliparse 2.0.1 on the same benchmark WARCs.
# Needs: the data mirror (LMREPRO_DATA_MIRROR or ../shared/data) and a Python venv with
# resiliparse==2.0.1 fastwarc==2.0.1 (PY, default .venv-bench/peers/bin/python of `cargo xtask bench`).
# Both sides run single-threaded; ROUNDS rounds (default 3), each alternating ours / resiliparse on
# each WARC, each side best of REPEAT runs (default 3) in process CPU seconds; prints JSON lines and
# a markdown table with the median ratio and its spread over the rounds, with `uptime` per round.
#
# Further measurements (commands used for benchmarks/extract/README.md):
#   instructions, extraction only (both sides count the extract_plain_text calls):
#     BENCH_MODES=extract valgrind --tool=callgrind --toggle-collect='*extract_plain_text*' \
#       "$bench" --repeat 1 WARC
#     valgrind --tool=callgrind --toggle-collect='*extract_plain_text*' \
#       "$PY" bench_resiliparse.py --repeat 1 --modes extract WARC
#   peak RSS on a generated 10 MB single-line page (make_big_page.py writes the WARC):
#     python3 make_big_page.py /tmp/page10mb.warc
#     /usr/bin/time -v "$bench" --repeat 1 /tmp/page10mb.warc
#     /usr/bin/time -v "$PY" bench_resiliparse.py --repeat 1 /tmp/page10mb.warc
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mirror="${LMREPRO_DATA_MIRROR:-$root/../shared/data}"
PY="${PY:-$root/.venv-bench/peers/bin/python}"
REPEAT="${REPEAT:-3}"
ROUNDS="${ROUNDS:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/targets/extract-release}"
(cd "$root" && cargo build --release -q -p lmrepro-extract --example bench)
bench="$CARGO_TARGET_DIR/release/examples/bench"
warcs=("$mirror/crawl/scrapinghub-aeb.warc.gz" "$mirror/crawl/trafilatura-testpages.warc.gz")
out="$(mktemp)"
for round in $(seq "$ROUNDS"); do
  echo "round $round: $(uptime)"
  for w in "${warcs[@]}"; do
    "$bench" --repeat "$REPEAT" "$w" | tee -a "$out"
    "$PY" "$here/bench_resiliparse.py" --repeat "$REPEAT" "$w" | tee -a "$out"
  done
done
python3 "$here/table.py" < "$out"
