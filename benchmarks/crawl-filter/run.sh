#!/usr/bin/env bash
# Single-core throughput of the dclm-baseline-refinedweb pipeline: lmrepro (Rust) vs DCLM's own
# Python mappers, on the same inputs, one after the other. Nothing in the Rust build needs Python.
#
# Needs: the data mirror (LMREPRO_DATA_MIRROR or ../shared/data), a DCLM checkout's `baselines/`
# at $DCLM_ROOT (mlfoundations/dclm@361714b) and a venv $VENV with DCLM's dependencies:
#   python3 -m venv $VENV && $VENV/bin/pip install retrie==0.3.1 uniseg==0.10.1 fasttext-wheel==0.9.2 \
#     numpy==1.26.4 nltk==3.10.4 PyYAML justext lxml beautifulsoup4 langdetect==1.0.9 Unidecode==1.4.0 \
#     blingfire==0.1.8 zstandard jsonlines cloudpathlib boto3
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${LMREPRO_DATA_MIRROR:-$(pwd)/../shared/data}
DCLM_ROOT=${DCLM_ROOT:-/work/venvs/dclm-src}
VENV=${VENV:-/work/venvs/dclm}
REPEATS=${REPEATS:-3}
# Our crate optimised on top of the dev profile (dependencies are opt-level 2 in the workspace).
cargo build -q -p lmrepro-crawl --example bench_filter \
  --config 'profile.dev.package.lmrepro-crawl.opt-level=3' \
  --config 'profile.dev.package.lmrepro-crawl.overflow-checks=false' \
  --config 'profile.dev.package.lmrepro-crawl.debug-assertions=false' \
  --config 'profile.dev.package.lmrepro-data.opt-level=3'
BIN=${CARGO_TARGET_DIR:-target}/debug/examples/bench_filter
YAML=$DATA/dclm_assets/baselines/baselines_configs/dclm_baseline_refinedweb.yaml
for f in agreement_data majority_data; do
  IN=$DATA/dclm_assets/data/$f.jsonl
  taskset -c 0 "$BIN" "$IN" "$REPEATS"
  taskset -c 0 "$VENV/bin/python" benchmarks/crawl-filter/dclm_mappers_bench.py "$DCLM_ROOT" "$YAML" "$IN" \
    "$DATA/langid/lid.176.ftz" 1 2>/dev/null
done
