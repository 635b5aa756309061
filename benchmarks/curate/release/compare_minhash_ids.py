"""Compare our MinHash run with datatrove's on one input file: per-bucket pair multisets, distinct
unordered pairs, removed document ids (ours: input ids missing from the output), and recall of both
against the constructed truth (exact agreement/majority dups + seeded near-dups).
Usage: python compare_minhash_ids.py <input.jsonl> <truth.json> <our stage dir> <datatrove work dir>
"""
import io, json, os, struct, sys, collections
import zstandard

inp, truth_p, ours_dir, dt_dir = sys.argv[1:5]
ids = [json.loads(l)["id"] for l in open(inp)]
texts = {json.loads(l)["id"]: json.loads(l)["text"] for l in open(inp)}

def read_dups(d):
    per = {}
    for name in sorted(os.listdir(d)):
        data = open(os.path.join(d, name), "rb").read()
        per[name.split("_")[0].split(".")[0]] = sorted(struct.unpack_from("<4I", data, o) for o in range(0, len(data), 16))
    return per

ours_b = read_dups(os.path.join(ours_dir, "_state", "dups"))
dt_b = read_dups(os.path.join(dt_dir, "buckets"))
same_buckets = {k: ours_b.get(k) == dt_b.get(k) for k in sorted(set(ours_b) | set(dt_b))}
norm = lambda p: tuple(sorted([(p[0], p[1]), (p[2], p[3])]))
op = {norm(p) for v in ours_b.values() for p in v}
dp = {norm(p) for v in dt_b.values() for p in v}
out_ids = set()
for name in os.listdir(ours_dir):
    if name.endswith(".jsonl.zst"):
        r = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(open(os.path.join(ours_dir, name), "rb")), encoding="utf-8")
        out_ids |= {json.loads(l)["id"] for l in r if l.strip()}
ours_removed = set(ids) - out_ids
dt_removed = set()
for name in os.listdir(os.path.join(dt_dir, "remove_ids")):
    if name.endswith(".remove"):
        dt_removed |= {ids[d] for (d,) in struct.iter_unpack("<I", open(os.path.join(dt_dir, "remove_ids", name), "rb").read())}
# truth
by_text = collections.defaultdict(list)
for i, t in texts.items():
    by_text[t].append(i)
exact = {tuple(sorted(v)) for v in by_text.values() if len(v) > 1}
near = json.load(open(truth_p))["near"]
pid = {norm((0, ids.index(n["id"]), 0, ids.index(n["src"]))): n for n in near}
def pr(a, b):
    tp = len(a & b); return {"ours": len(a), "datatrove": len(b), "common": tp,
        "precision": tp / len(a) if a else 1.0, "recall": tp / len(b) if b else 1.0}
found_near = {k: {"ours": 0, "datatrove": 0, "total": 0} for k in range(4)}
for p, n in pid.items():
    found_near[n["kind"]]["total"] += 1
    found_near[n["kind"]]["ours"] += p in op
    found_near[n["kind"]]["datatrove"] += p in dp
exact_pairs = {norm((0, ids.index(a), 0, ids.index(b))) for g in exact for i, a in enumerate(g) for b in g[i+1:]}
res = {
  "raw_pair_records": {"ours": sum(map(len, ours_b.values())), "datatrove": sum(map(len, dt_b.values()))},
  "per_bucket_pair_lists_identical": all(same_buckets.values()), "buckets_compared": len(same_buckets),
  "distinct_pairs": pr(op, dp),
  "removed_ids": pr(ours_removed, dt_removed),
  "truth_exact_dup_groups": len(exact), "truth_exact_pairs": len(exact_pairs),
  "exact_pairs_found": {"ours": len(exact_pairs & op), "datatrove": len(exact_pairs & dp)},
  "near_dups_found_by_kind(0=drop1sent,1=3words,2=1word,3=drop2+append)": found_near,
  "pairs_outside_truth": {"ours": sorted(map(str, op - exact_pairs - set(pid)))[:10], "datatrove": sorted(map(str, dp - exact_pairs - set(pid)))[:10]},
  "disagreements": {"only_ours_pairs": [[ids[p[0][1]], ids[p[1][1]]] for p in sorted(op - dp)][:20],
                    "only_datatrove_pairs": [[ids[p[0][1]], ids[p[1][1]]] for p in sorted(dp - op)][:20],
                    "only_ours_removed": sorted(ours_removed - dt_removed)[:20],
                    "only_datatrove_removed": sorted(dt_removed - ours_removed)[:20]},
}
print(json.dumps(res, indent=1))
