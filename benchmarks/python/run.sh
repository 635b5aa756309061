#!/usr/bin/env bash
# Docs per CPU-second (one core) through the lmrepro Python binding vs the lmrepro CLI vs the Python
# peer resiliparse, on the mirrored WARCs and DCLM's labelled texts. Results: results-<date>.jsonl.
#
# Needs: `cargo xtask py-setup` (.venv-py with the lmrepro wheel), the CLI built
# (`cargo build -p lmrepro-cli`, dev profile: the stage crates are opt-level 2 there), and a peer venv
# $PEER_VENV with `resiliparse==2.0.1 fastwarc==2.0.1` (default /work/venv-python-bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${LMREPRO_DATA_MIRROR:-$(pwd)/../shared/data}
CLI=${LMREPRO_CLI:-${CARGO_TARGET_DIR:-target}/debug/lmrepro}
PEER_VENV=${PEER_VENV:-/work/venv-python-bench}
REPEAT=${REPEAT:-3}
.venv-py/bin/python benchmarks/python/bench_binding.py --data "$DATA" --cli "$CLI" --repeat "$REPEAT"
"$PEER_VENV/bin/python" benchmarks/extract/bench_resiliparse.py --repeat "$REPEAT" \
  "$DATA/crawl/scrapinghub-aeb.warc.gz" "$DATA/crawl/trafilatura-testpages.warc.gz"
