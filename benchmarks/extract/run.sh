#!/usr/bin/env bash
# Extraction throughput per core: lmrepro-extract vs resiliparse 2.0.1 on the same benchmark WARCs.
# Needs: the data mirror (LMREPRO_DATA_MIRROR or ../shared/data) and a Python venv with
# resiliparse==2.0.1 fastwarc==2.0.1 (PY, default /work/venvs/extract/bin/python).
# Both sides run single-threaded, alternately, best of $REPEAT runs; prints JSON lines and a markdown table.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mirror="${LMREPRO_DATA_MIRROR:-$root/../shared/data}"
PY="${PY:-/work/venvs/extract/bin/python}"
REPEAT="${REPEAT:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/targets/extract-release}"
(cd "$root" && cargo build --release -q -p lmrepro-extract --example bench)
bench="$CARGO_TARGET_DIR/release/examples/bench"
warcs=("$mirror/crawl/scrapinghub-aeb.warc.gz" "$mirror/crawl/trafilatura-testpages.warc.gz")
out="$(mktemp)"
for w in "${warcs[@]}"; do
  "$bench" --repeat "$REPEAT" "$w" | tee -a "$out"
  "$PY" "$here/bench_resiliparse.py" --repeat "$REPEAT" "$w" | tee -a "$out"
done
python3 "$here/table.py" < "$out"
