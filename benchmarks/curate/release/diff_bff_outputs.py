"""Per-document diff of two BFF outputs with the same file names: docs whose text differs.
Usage: python diff_bff_outputs.py <dir A> <dir B>"""
import io, json, os, sys, zstandard
def docs(p):
    r = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(open(p, "rb")), encoding="utf-8")
    return [json.loads(l) for l in r if l.strip()]
a, b = sys.argv[1:3]
nd = 0
for name in sorted(f for f in os.listdir(b) if f.endswith(".jsonl.zst")):
    da, db = docs(os.path.join(a, name)), docs(os.path.join(b, name))
    ka = {d.get("id", d.get("url", i)): d["text"] for i, d in enumerate(da)}
    kb = {d.get("id", d.get("url", i)): d["text"] for i, d in enumerate(db)}
    print(name, "docs", len(da), len(db), "keys only A", len(set(ka) - set(kb)), "only B", len(set(kb) - set(ka)))
    for k in ka.keys() & kb.keys():
        if ka[k] != kb[k]:
            nd += 1
            ta, tb = ka[k], kb[k]
            i = next((i for i in range(min(len(ta), len(tb))) if ta[i] != tb[i]), min(len(ta), len(tb)))
            if nd <= 5:
                print(" differ", k, "lenA", len(ta.encode()), "lenB", len(tb.encode()), "at", i, repr(ta[max(0, i-80):i+80]), "|||", repr(tb[max(0, i-80):i+80]))
print("docs differing:", nd)
