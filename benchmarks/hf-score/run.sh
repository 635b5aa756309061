#!/usr/bin/env bash
# CPU throughput of `lmrepro score` vs transformers on the same model, inputs and machine, in one run
# (issue 15). Model: a Pythia-160M-shaped random GPT-NeoX (weights do not change the cost) with the
# GPT-NeoX tokenizer; inputs: 16 texts (first 600 characters) from the Wikipedia vital-article summaries of the mirror.
# Needs: a release `lmrepro`, /work/venv-hf (crates/hf/tools/README.md), LMREPRO_DATA_MIRROR.
# Both sides score one text at a time, full forward + log-softmax + gather, all cores (torch's
# default intra-op threads, burn-flex's rayon pool).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PY:-/work/venv-hf/bin/python}
work=${WORK:-/tmp/hf-bench}
lmrepro=${LMREPRO:-$root/target/release/lmrepro}
mkdir -p "$work"
tok="$LMREPRO_DATA_MIRROR/tokenizer/gpt-neox-20b/tokenizer.json"
[ -f "$work/model/config.json" ] || \
  PYTHONPATH=/work/venv-hf/stubs:/work/venv-hf/open_lm_src "$py" "$root/crates/hf/tools/make_fixtures.py" --bench-model "$tok" "$work/model"
"$py" - "$LMREPRO_DATA_MIRROR/corpus/wikipedia_vital_summaries_en-us.json" "$work/in.jsonl" <<'PY'
import json, sys
arts = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as f:
    for title in sorted(arts)[:16]:
        f.write(json.dumps({"text": arts[title]["extract"][:600]}) + "\n")
PY
nproc_=$(nproc)
rust_json=$( { /usr/bin/time -f '%e' "$lmrepro" score --model "hf:$work/model" --input "$work/in.jsonl" --output "$work/out.jsonl"; } 2>&1 | grep -o 'scored .*' )
torch_json=$(PYTHONPATH=/work/venv-hf/stubs BENCH_THREADS=$nproc_ "$py" "$root/crates/hf/tools/make_fixtures.py" --bench "$work/model" "$work/in.jsonl")
echo "lmrepro: $rust_json"
echo "transformers: $torch_json"
"$py" - "$rust_json" "$torch_json" "$nproc_" <<'PY'
import json, re, sys
r = sys.argv[1]
items, tokens, secs = re.search(r"scored (\d+) items, (\d+) tokens in ([0-9.]+) s", r).groups()
rust = {"items": int(items), "tokens": int(tokens), "seconds": float(secs)}
rust["items_per_s"] = rust["items"] / rust["seconds"]; rust["tokens_per_s"] = rust["tokens"] / rust["seconds"]
t = json.loads(sys.argv[2])
print(json.dumps({"cores": int(sys.argv[3]), "lmrepro": rust, "transformers": t,
                  "ratio_tokens_per_s": rust["tokens_per_s"] / t["tokens_per_s"]}, indent=1))
PY
