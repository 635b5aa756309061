#!/usr/bin/env python3
"""Reads the JSON lines of run.sh and prints the markdown table: per (file, mode), docs/s and MB/s
per core of each side (median over rounds) and the speed ratio ours/resiliparse of each round
(peer seconds / our seconds of the same round), as median and min-max spread."""
import json, statistics, sys

rows = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
runs = {}
for r in rows:
    side = "ours" if r["impl"].startswith("lmrepro") else "peer"
    runs.setdefault((r["file"], r["mode"]), {"ours": [], "peer": []})[side].append(r)
print("| input | mode | docs | ours docs/s | resiliparse docs/s | ours MB/s | resiliparse MB/s "
      "| ratio (median) | ratio per round |")
print("|---|---|---:|---:|---:|---:|---:|---:|---|")
for (f, mode), s in sorted(runs.items()):
    if not s["ours"] or not s["peer"]:
        continue
    n = min(len(s["ours"]), len(s["peer"]))
    ratios = [s["peer"][k]["seconds"] / s["ours"][k]["seconds"] for k in range(n)]
    o = statistics.median(r["seconds"] for r in s["ours"])
    p = statistics.median(r["seconds"] for r in s["peer"])
    r0, p0 = s["ours"][0], s["peer"][0]
    print(f"| {f} | {mode} | {r0['docs']} | {r0['docs'] / o:.0f} | {p0['docs'] / p:.0f} | "
          f"{r0['payload_bytes'] / 1e6 / o:.1f} | {p0['payload_bytes'] / 1e6 / p:.1f} | "
          f"{statistics.median(ratios):.2f}x | {' / '.join(f'{x:.2f}' for x in ratios)} |")
