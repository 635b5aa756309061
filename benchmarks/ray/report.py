"""Prints the figures of bench.sh's run folder (argument) as a markdown table."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
local = json.loads((out / "local.json").read_text())
local_stage = {t["stage"]: t["seconds"] for t in local["stages"]}
print("| workers | cluster start s | pool task s | heuristics wall s | shard tasks | "
      "sum shard lmrepro s | per-task overhead s | dedup task s | run s |")
print("|---|---|---|---|---|---|---|---|---|")
for w in (1, 2):
    s = json.loads((out / f"ray-{w}.json").read_text())
    pool, shards, last = s["steps"]
    overhead = (shards["task_seconds"] - shards["lmrepro_seconds"]) / shards["ran"]
    print(f"| {w} | {s['cluster_start_seconds']:.1f} | {pool['wall_seconds']:.1f} | "
          f"{shards['wall_seconds']:.1f} | {shards['ran']} | {shards['lmrepro_seconds']:.1f} | "
          f"{overhead:.3f} | {last['wall_seconds']:.1f} | {s['run_seconds']:.1f} |")
print(f"\nlocal engine: pool {local_stage['pool']:.1f} s, heuristics {local_stage['heuristics']:.1f} s, "
      f"dedup-bff {local_stage.get('dedup-bff', 0):.1f} s, dedup-minhash "
      f"{local_stage.get('dedup-minhash', 0):.1f} s, total {local['seconds']:.1f} s")
