"""Build the MinHash test input (fields text, id, plus a `truth` side file).
agreement (281) + majority (499) DCLM labelled texts (agreement texts reappear in majority: exact dups),
first 2000 Wikipedia vital summaries (sorted titles), and 200 seeded near-duplicates of wiki summaries:
kinds cycle over: drop one sentence / replace 3 words / replace 1 word / drop 2 sentences + append a sentence.
Usage: python make_minhash_input.py <data dir> <out.jsonl> <truth.json>
"""
import json, random, re, sys

data, out, truth = sys.argv[1:4]
docs = []
for name in ("agreement_data", "majority_data"):
    for i, line in enumerate(open(f"{data}/dclm_assets/data/{name}.jsonl")):
        docs.append({"id": f"{name.split('_')[0]}-{i:04d}", "text": json.loads(line)["text"]})
wiki = json.load(open(f"{data}/corpus/wikipedia_vital_summaries_en-us.json"))
titles = sorted(wiki)[:2000]
for t in titles:
    docs.append({"id": "wiki-" + t, "text": wiki[t]["extract"]})
rng = random.Random(20261126)
cands = [t for t in titles if len(re.split(r"(?<=[.!?]) ", wiki[t]["extract"])) >= 4]
picked = rng.sample(cands, 200)
vocab = ["apple", "river", "stone", "blue", "quickly", "ancient", "market", "engine", "violet", "harbor"]
near = []
for k, t in enumerate(picked):
    src = wiki[t]["extract"]
    sents = re.split(r"(?<=[.!?]) ", src)
    kind = k % 4
    if kind == 0:
        j = rng.randrange(len(sents)); new = " ".join(sents[:j] + sents[j + 1:])
    elif kind in (1, 2):
        w = src.split(" ")
        for _ in range(3 if kind == 1 else 1):
            w[rng.randrange(len(w))] = rng.choice(vocab)
        new = " ".join(w)
    else:
        j = rng.randrange(len(sents) - 1)
        new = " ".join(sents[:j] + sents[j + 2:]) + " This sentence was appended as a test."
    docs.append({"id": f"near{kind}-" + t, "text": new})
    near.append({"id": f"near{kind}-" + t, "src": "wiki-" + t, "kind": kind})
with open(out, "w") as f:
    for d in docs:
        f.write(json.dumps(d, ensure_ascii=False) + "\n")
json.dump({"near": near}, open(truth, "w"))
print(len(docs), "docs")
