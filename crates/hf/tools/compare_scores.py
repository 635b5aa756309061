#!/usr/bin/env python3
"""compare_scores.py GOT.jsonl WANT.jsonl: ids equal and max |Δ log-prob| (exit 1 above 1e-4)."""
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
want = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == len(want), (len(got), len(want))
worst = 0.0
for g, w in zip(got, want):
    assert g["ids"] == w["ids"], "token ids differ"
    worst = max([worst] + [abs(a - b) for a, b in zip(g["logprobs"], w["logprobs"])])
print(f"{sys.argv[1]}: {len(got)} lines, ids equal, max |Δ logprob| = {worst:.3e}")
sys.exit(0 if worst <= 1e-4 else 1)
