#!/usr/bin/env bash
# Heuristics + dedup of the dclm-baseline pool (the full tiny-scale pool, 10 pool files = 10
# heuristics shards, then MinHash in datatrove's four steps, then BFF) on a Ray cluster on this
# machine with 1 and then 2 one-CPU worker nodes, each from an empty stage cache; plus the local engine for reference. Not a test: timings.
#   benchmarks/ray/bench.sh [lmrepro binary]   (needs `cargo xtask ray-setup`)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug/lmrepro}")"
OUT="${BENCH_OUT:-$(mktemp -d)}"; mkdir -p "$OUT"
export PYTHONPATH="$PWD/python"
cat /proc/loadavg > "$OUT/load-before"
for w in 1 2; do
  rm -rf "$OUT/cache-$w"
  .venv-ray/bin/python -m lmrepro_ray.cluster_check --workers "$w" --lmrepro "$BIN" \
    --cache "$OUT/cache-$w" --until dedup --summary "$OUT/ray-$w.json" > /dev/null 2> "$OUT/ray-$w.log"
done
rm -rf "$OUT/cache-local"
/usr/bin/time -f "%e" -o "$OUT/local.seconds" "$BIN" dclm stages --cache "$OUT/cache-local" --until dedup > "$OUT/local.json"
diff -r "$OUT/cache-1" "$OUT/cache-local" && diff -r "$OUT/cache-2" "$OUT/cache-local"
cat /proc/loadavg > "$OUT/load-after"
.venv-ray/bin/python benchmarks/ray/report.py "$OUT"
