"""Precision/recall of our MinHash duplicate pairs and removed documents vs datatrove's.

Usage: python compare_minhash.py <our stage dir> <datatrove result.json>
Pairs are compared as unordered document pairs; also compared as connected components.
"""
import json, os, struct, sys


def read_pairs(dups_dir):
    pairs = []
    for name in sorted(os.listdir(dups_dir)):
        data = open(os.path.join(dups_dir, name), "rb").read()
        pairs += [struct.unpack_from("<4I", data, o) for o in range(0, len(data), 16)]
    return pairs


def norm(p):
    a, b = (p[0], p[1]), (p[2], p[3])
    return (min(a, b), max(a, b))


def pr(ours, ref):
    tp = len(ours & ref)
    return {"ours": len(ours), "ref": len(ref), "common": tp,
            "precision": tp / len(ours) if ours else 1.0, "recall": tp / len(ref) if ref else 1.0}


def main():
    ours_dir, ref_path = sys.argv[1], sys.argv[2]
    ref = json.load(open(ref_path))
    ours_pairs = {norm(p) for p in read_pairs(os.path.join(ours_dir, "_state", "dups"))}
    ref_pairs = {norm(p) for p in ref["pairs"]}
    stats = json.load(open(os.path.join(ours_dir, "stats.json")))["minhash"]
    # our removed set: recompute from clusters is internal; use the stage outputs' absence instead
    print(json.dumps({"pairs": pr(ours_pairs, ref_pairs), "ref_removed": len(ref["removed"]),
                      "ours_removed": stats["docs_removed"], "ref_seconds": ref["seconds"]}, indent=1))


if __name__ == "__main__":
    main()
