"""HF `tokenizers` (Python) encode_batch, single thread (TOKENIZERS_PARALLELISM=false, RAYON_RS_NUM_CPUS=1).
Usage: python tok_peer.py <tokenizer.json> <docs.jsonl>; prints docs, tokens, encode seconds (wall + process CPU)."""
import os
os.environ["TOKENIZERS_PARALLELISM"] = "false"; os.environ["RAYON_RS_NUM_CPUS"] = "1"
import json, sys, time, tokenizers
tok = tokenizers.Tokenizer.from_file(sys.argv[1])
texts = [json.loads(l)["text"] for l in open(sys.argv[2])]
t, c = time.time(), time.process_time()
enc = tok.encode_batch(texts, add_special_tokens=False)
dt, dc = time.time() - t, time.process_time() - c
n = sum(len(e.ids) for e in enc)
print(json.dumps({"docs": len(texts), "tokens": n, "encode_wall_s": dt, "encode_cpu_s": dc, "tokens_per_cpu_s": n / dc}))
