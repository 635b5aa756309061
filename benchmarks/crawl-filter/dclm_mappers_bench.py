"""Single-thread throughput of DCLM's own Python mappers on the dclm_baseline_refinedweb steps.

Runs OUTSIDE the project: needs a checkout of mlfoundations/dclm@361714b (DCLM_ROOT, only its
`baselines/` folder is used) and a venv with DCLM's dependencies (see README.md). Steps are built
with DCLM's own factory `baselines.core.factories.get_mapper(**step, _safe=True)` from the yaml,
and pages go through them one after another like `apply_partial_func_sequential`.
Usage: python dclm_mappers_bench.py DCLM_ROOT YAML IN.jsonl LID_MODEL [repeats]
"""
import copy, json, os, sys, time, types

root, yaml_path, inp, lid = sys.argv[1:5]
repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
# Modules DCLM's mapper package imports but these steps never call (KenLM perplexity, HF
# tokenizer filter) are stubbed so the package imports without them.
for name in ("kenlm", "sentencepiece"):
    sys.modules.setdefault(name, types.ModuleType(name))
tr = types.ModuleType("transformers"); tr.AutoTokenizer = None
sys.modules.setdefault("transformers", tr)
os.chdir(root)
sys.path[:0] = [root, os.path.join(root, "baselines")]
# lid.176.bin is not available; point DCLM's model path at lid.176.ftz like the goldens did.
mdir = os.path.join(root, "baselines/mappers/enrichers/language_id_enrichment_models")
os.makedirs(mdir, exist_ok=True)
if not os.path.exists(os.path.join(mdir, "lid.176.bin")):
    os.symlink(os.path.abspath(lid), os.path.join(mdir, "lid.176.bin"))
# The curated domain list is not published: empty stand-in, as in the goldens.
cur = os.path.join(root, "baselines/mappers/banlists/refinedweb_banned_domains_curated.txt")
if not os.path.exists(cur):
    open(cur, "w").close()

import yaml
from baselines.core.factories import get_mapper

steps = yaml.safe_load(open(yaml_path))[0]["steps"]
mappers = [get_mapper(**s, _safe=True) for s in steps]
pages = [json.loads(l) for l in open(inp)]
nbytes = sum(len(p["text"].encode()) for p in pages)

def run(page):
    # No URL in these inputs: steps 00-04 are skipped, as in the goldens.
    for i, m in enumerate(mappers):
        if i <= 4 and "url" not in page and "metadata" not in page:
            continue
        out = m(page)
        if not isinstance(out, list) or not out:
            return False
        page = out[0]
    return True

best = best_cpu = float("inf")
for _ in range(repeats):
    batch = [copy.deepcopy(p) for p in pages]
    t, c = time.perf_counter(), time.thread_time()
    kept = sum(run(p) for p in batch)
    best = min(best, time.perf_counter() - t)
    best_cpu = min(best_cpu, time.thread_time() - c)
print(json.dumps({"impl": "dclm-python", "input": inp, "docs": len(pages), "kept": kept,
                  "text_mb": round(nbytes / 1e6, 3), "best_seconds": round(best, 4),
                  "docs_per_s": round(len(pages) / best, 1), "mb_per_s": round(nbytes / 1e6 / best, 2),
                  "cpu_seconds": round(best_cpu, 4), "docs_per_cpu_s": round(len(pages) / best_cpu, 1)}))
