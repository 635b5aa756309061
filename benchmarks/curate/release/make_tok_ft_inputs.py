"""wiki3000.jsonl: first 3000 Wikipedia vital summaries (sorted titles); ft7800.jsonl: DCLM's 780
labelled texts (agreement + majority) repeated 10 times; ft1.jsonl: the first labelled text (load-cost run).
Usage: python make_tok_ft_inputs.py <data dir> <out dir>"""
import json, sys
data, out = sys.argv[1:3]
wiki = json.load(open(f"{data}/corpus/wikipedia_vital_summaries_en-us.json"))
with open(f"{out}/wiki3000.jsonl", "w") as f:
    for t in sorted(wiki)[:3000]:
        f.write(json.dumps({"id": "wiki-" + t, "text": wiki[t]["extract"]}, ensure_ascii=False) + "\n")
lab = []
for n in ("agreement_data", "majority_data"):
    lab += [json.loads(l) for l in open(f"{data}/dclm_assets/data/{n}.jsonl")]
with open(f"{out}/ft7800.jsonl", "w") as f:
    for r in range(10):
        for i, d in enumerate(lab):
            f.write(json.dumps({"id": f"r{r}-{i}", "text": d["text"]}, ensure_ascii=False) + "\n")
with open(f"{out}/ft1.jsonl", "w") as f:
    f.write(json.dumps({"id": "one", "text": lab[0]["text"]}, ensure_ascii=False) + "\n")
