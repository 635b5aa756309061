"""Prints the figures of bench.sh's run folder (argument) as markdown tables: per Ray step the
wall seconds, tasks, the `lmrepro` processes' own seconds and the per-task overhead (task seconds
minus process seconds), for 1 and 2 workers; then the local engine's stage seconds."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
runs = {w: json.loads((out / f"ray-{w}.json").read_text()) for w in (1, 2)}
print("| step | wall s (1 worker) | wall s (2 workers) | speed-up | tasks | sum lmrepro s (1 / 2) "
      "| overhead per task s (1 / 2) |")
print("|---|---|---|---|---|---|---|")
for i, step in enumerate(runs[1]["steps"]):
    other = runs[2]["steps"][i]
    assert other["step"] == step["step"], (other["step"], step["step"])
    tasks = step.get("ran", 1)

    def own(s):
        return s["lmrepro_seconds"]

    def overhead(s):
        n = s.get("ran", 1)
        return (s["task_seconds"] - s["lmrepro_seconds"]) / n if n else 0.0

    print(f"| {step['step']} | {step['wall_seconds']:.2f} | {other['wall_seconds']:.2f} | "
          f"{step['wall_seconds'] / other['wall_seconds']:.2f}x | {tasks} | "
          f"{own(step):.2f} / {own(other):.2f} | {overhead(step):.3f} / {overhead(other):.3f} |")
for w in (1, 2):
    s = runs[w]
    print(f"\n{w} worker(s): cluster start {s['cluster_start_seconds']:.1f} s, run "
          f"{s['run_seconds']:.1f} s, total {s['total_seconds']:.1f} s", end="")
local = json.loads((out / "local.json").read_text())
stages = ", ".join(f"{t['stage']} {t['seconds']:.1f} s" for t in local["stages"])
print(f"\n\nlocal engine: {stages}; total {local['seconds']:.1f} s")
for name in ("load-before", "load-after"):
    p = out / name
    if p.exists():
        print(f"{name}: {p.read_text().strip()}")
