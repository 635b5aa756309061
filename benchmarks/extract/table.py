#!/usr/bin/env python3
"""Reads the JSON lines of run.sh and prints the markdown table (docs/s and MB/s per core, ratio)."""
import json, sys

rows = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
by = {}
for r in rows:
    by[(r["file"], r["mode"], r["impl"].split()[0])] = r
print("| input | mode | docs | ours docs/s | resiliparse docs/s | ours MB/s | resiliparse MB/s | ratio |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for (f, mode, impl), r in sorted(by.items()):
    if impl != "lmrepro-extract":
        continue
    p = by.get((f, mode, "resiliparse"))
    if p is None:
        continue
    ours = r["docs"] / r["seconds"]
    peer = p["docs"] / p["seconds"]
    print(f"| {f} | {mode} | {r['docs']} | {ours:.0f} | {peer:.0f} | "
          f"{r['payload_bytes'] / 1e6 / r['seconds']:.1f} | {p['payload_bytes'] / 1e6 / p['seconds']:.1f} | "
          f"{ours / peer:.2f}x |")
