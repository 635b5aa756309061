"""Scoring pool for the fastText predict benchmark: 10,033 Wikipedia summaries + 697 Dolma CC docs +
780 labelled CC texts, as JSONL {"text": ...}. Usage: python make_pool.py <mirror> <out.jsonl>"""
import gzip, json, sys

mirror, out = sys.argv[1], sys.argv[2]
with open(out, "w") as f:
    for v in json.load(open(f"{mirror}/corpus/wikipedia_vital_summaries_en-us.json")).values():
        f.write(json.dumps({"text": v["extract"]}) + "\n")
    for line in gzip.open(f"{mirror}/quality/negatives_cc_2019-30_dolma_sample.jsonl.gz", "rt"):
        f.write(json.dumps({"text": json.loads(line)["text"]}) + "\n")
    for name in ["agreement_data", "majority_data"]:
        for line in open(f"{mirror}/dclm_assets/data/{name}.jsonl"):
            f.write(json.dumps({"text": json.loads(line)["text"]}) + "\n")
