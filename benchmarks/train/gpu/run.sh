#!/usr/bin/env bash
# One-call training-step benchmark on one NVIDIA GPU: lmrepro (burn 0.21, CUDA) against a PyTorch eager
# reference of the same architectures, GPT-2-small shape and DCLM's open_lm 411M shape, batch 16 x 1024.
# See README.md next to this file for how to get the binary onto the GPU machine.
#
#   benchmarks/train/gpu/run.sh [OUT_DIR]            # from the repository root; OUT_DIR default gpu-bench-out
#
# Environment (defaults in brackets):
#   LMREPRO_BIN   the lmrepro binary built with --features lmrepro-model/cuda [target/release/lmrepro]
#   PYTHON        a Python with torch (CUDA build) [python3]
#   DEVICE        burn device: cuda | wgpu | cpu [cuda];  TORCH_DEVICE: cuda | cpu [cuda, or cpu if DEVICE != cuda]
#   SHAPES        [gpt2-small openlm-411m] (tiny: the dry-run shape)
#   BATCH [16]  SEQ_LEN [1024]  WARMUP [2]  STEPS [20]  PEAK_TFLOPS [989.4, H100/H200 SXM dense bf16]
#   PRECISION     burn precision bf16 | f32 [bf16]; TORCH_PRECISION autocast | bf16 | f32 [autocast]
#   BURN_TIMEOUT  seconds per burn shape [150];  TORCH_TIMEOUT seconds per torch shape [60]
# The default timeouts add up to 7 minutes, inside the 8-minute budget; a shape that runs out of time is
# recorded as such (with its last progress line) and the script goes on.
#
# Writes OUT_DIR/{burn,torch}-<shape>.json, their logs, and OUT_DIR/results.json (all of them, plus the
# machine: nvidia-smi's GPU name, driver, and the ratio burn/torch tokens/s per shape). Exit status 0
# when every run finished.
set -uo pipefail
cd "$(dirname "$0")/../../.."

OUT=${1:-gpu-bench-out}
BIN=${LMREPRO_BIN:-target/release/lmrepro}
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
if [ "$DEVICE" = cuda ]; then TORCH_DEVICE=${TORCH_DEVICE:-cuda}; else TORCH_DEVICE=${TORCH_DEVICE:-cpu}; fi
SHAPES=${SHAPES:-gpt2-small openlm-411m}
BATCH=${BATCH:-16}
SEQ_LEN=${SEQ_LEN:-1024}
WARMUP=${WARMUP:-2}
STEPS=${STEPS:-20}
PEAK_TFLOPS=${PEAK_TFLOPS:-989.4}
PRECISION=${PRECISION:-bf16}
TORCH_PRECISION=${TORCH_PRECISION:-autocast}
BURN_TIMEOUT=${BURN_TIMEOUT:-150}
TORCH_TIMEOUT=${TORCH_TIMEOUT:-60}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ ! -x "$BIN" ]; then
  echo "run.sh: $BIN missing: building it (cargo build --release -p lmrepro-cli --features lmrepro-model/cuda)" >&2
  cargo build --release -p lmrepro-cli --features lmrepro-model/cuda || exit 1
fi
# cubecl keeps its autotune results in ./target/ (beside the repository's Cargo.toml): a second run
# skips autotuning. Delete target/autotune for a cold first step.
started=$(date +%s)
failed=0

# run NAME TIMEOUT CMD...: progress lines go to the terminal and to OUT/NAME.log; a timeout or failure
# leaves OUT/NAME.json with the reason.
run() {
  local name=$1 limit=$2
  shift 2
  echo "== $name (limit ${limit}s, $(( $(date +%s) - started ))s elapsed)" >&2
  # Device memory in use, sampled every 200 ms for both sides alike (burn 0.21 has no memory API).
  local smi=""
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$OUT/$name.mem" 2>/dev/null &
    smi=$!
  fi
  timeout --kill-after=10 "$limit" "$@" 2> >(tee "$OUT/$name.log" >&2) >/dev/null
  local rc=$?
  [ -n "$smi" ] && kill "$smi" 2>/dev/null
  if [ $rc -ne 0 ] || [ ! -s "$OUT/$name.json" ]; then
    failed=1
    local why="exit status $rc"
    [ $rc -eq 124 ] && why="timed out after ${limit}s"
    "$PYTHON" - "$OUT/$name.json" "$why" "$OUT/$name.log" <<'EOF'
import json, sys
path, why, log = sys.argv[1:]
tail = open(log, errors="replace").read().strip().splitlines()[-3:]
json.dump({"error": why, "last_lines": tail}, open(path, "w"), indent=2)
EOF
    echo "== $name: $why" >&2
  fi
}

for shape in $SHAPES; do
  run "torch-$shape" "$TORCH_TIMEOUT" "$PYTHON" benchmarks/train/gpu/torch_bench.py --shape "$shape" \
    --batch "$BATCH" --seq-len "$SEQ_LEN" --warmup "$WARMUP" --steps "$STEPS" --precision "$TORCH_PRECISION" \
    --peak-tflops "$PEAK_TFLOPS" --device "$TORCH_DEVICE" --json "$OUT/torch-$shape.json"
  run "burn-$shape" "$BURN_TIMEOUT" "$BIN" bench-shape --shape "$shape" --device "$DEVICE" \
    --batch "$BATCH" --seq-len "$SEQ_LEN" --warmup "$WARMUP" --steps "$STEPS" --precision "$PRECISION" \
    --peak-tflops "$PEAK_TFLOPS" --json "$OUT/burn-$shape.json"
done

"$PYTHON" - "$OUT" "$SHAPES" "$(( $(date +%s) - started ))" <<'EOF'
import json, subprocess, sys
out, shapes, secs = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
try:
    gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                         capture_output=True, text=True, timeout=20).stdout.strip()
except (OSError, subprocess.SubprocessError):
    gpu = "nvidia-smi not available"
res = {"gpu": gpu, "wall_s": secs, "shapes": {}}
for s in shapes:
    b = json.load(open(f"{out}/burn-{s}.json"))
    t = json.load(open(f"{out}/torch-{s}.json"))
    ratio = b["tokens_per_s"] / t["tokens_per_s"] if "tokens_per_s" in b and "tokens_per_s" in t else None
    for side, r in (("burn", b), ("torch", t)):
        try:
            mib = [int(x) for x in open(f"{out}/{side}-{s}.mem").read().split() if x.isdigit()]
            r["peak_device_memory_nvidia_smi_bytes"] = max(mib) * 2**20 if mib else None
        except OSError:
            pass
    res["shapes"][s] = {"burn": b, "torch": t, "burn_over_torch_tokens_per_s": ratio}
    def fmt(r):
        if "error" in r:
            return r["error"]
        mem = r.get("peak_device_memory_nvidia_smi_bytes") or r.get("peak_memory_bytes")
        mem = f"{mem / 2**30:.2f} GiB" if mem else "n/a"
        return (f"{r['tokens_per_s']:,.0f} tok/s, MFU {100 * r['mfu']:.1f} %, first step {r['first_step_s']:.1f} s, "
                f"peak mem {mem} ({r['precision']})")
    print(f"{s}: burn {fmt(b)} | torch {fmt(t)}" + (f" | ratio {ratio:.3f}" if ratio else ""), file=sys.stderr)
json.dump(res, open(f"{out}/results.json", "w"), indent=2)
print(f"results: {out}/results.json ({secs} s)", file=sys.stderr)
EOF
exit $failed
