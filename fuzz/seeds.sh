#!/usr/bin/env bash
# Builds the seed corpora fuzz/corpus/<target>/ from small slices of the pinned mirror data
# ($LMREPRO_DATA_MIRROR, default /work/shared/data) plus a few hand-made inputs. Nothing here is
# committed: the corpora are rebuilt by this script (needs python3, zstd and gzip only for seeds;
# the fuzz targets themselves need neither).
set -eu
cd "$(dirname "$0")"
M=${LMREPRO_DATA_MIRROR:-/work/shared/data}
C=corpus
mkdir -p $C/{warc_reader,http_response,html_extract,jsonl_docs,fasttext_model,recipe_toml,icl_task,aiw_answer}
mkdir -p $C/{checkpoint_safetensors,checkpoint_load,audio_decode,bigbio_reader}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# WARC: the small Common Crawl sample as is (gzip multi-member), its first records plain and zstd,
# and the head of a second crawl file. libFuzzer's -max_len cuts longer seeds.
cp "$M/crawl/cc_real/whirlwind.warc.gz" $C/warc_reader/whirlwind.warc.gz
zcat "$M/crawl/cc_real/whirlwind.warc.gz" | head -c 12000 > $C/warc_reader/plain.warc
zstd -q -f -3 $C/warc_reader/plain.warc -o $C/warc_reader/plain.warc.zst
head -c 12000 "$M/crawl/cc_real/dolma-sample-0001.warc.gz" > $C/warc_reader/dolma-head.warc.gz
printf 'WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 92\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html; charset=utf-8\r\n\r\n5\r\n<p>hi\r\n0\r\n\r\n\r\n\r\n' > $C/warc_reader/chunked.warc
printf 'WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 99999\r\n\r\nHTTP/1.1 200' > $C/warc_reader/truncated.warc

# HTTP blocks and HTML bodies: the records of the plain slice, split at their WARC headers.
python3 - "$C" <<'PY'
import sys, pathlib
c = pathlib.Path(sys.argv[1])
data = (c / "warc_reader/plain.warc").read_bytes()
for i, rec in enumerate(data.split(b"WARC/1.")[1:12]):
    head, _, block = rec.partition(b"\r\n\r\n")
    (c / f"http_response/rec{i}").write_bytes(block[:4000])
    _, _, body = block.partition(b"\r\n\r\n")
    if b"<" in body:
        (c / f"html_extract/rec{i}.html").write_bytes(body[:8000])
(c / "http_response/chunked").write_bytes(
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n")
(c / "html_extract/main.html").write_bytes(
    b"<html><head><title>t</title></head><body><nav><a href='/'>home</a></nav><article><h1>Title</h1>"
    b"<p>First paragraph with <b>bold</b> text.</p><ul><li>one</li><li>two</li></ul><pre>code\n  x</pre>"
    b"<table><tr><td>a</td><td>b</td></tr></table><form><input value='v'><textarea>t</textarea></form>"
    b"<img alt='alt text'></article><footer>Copyright</footer></body></html>")

# A tiny valid fastText supervised model (dense, softmax, n-grams), the same layout as lid.176's.
import struct
def model(loss=3, minn=2, maxn=3, bucket=10, pruneidx=None):
    out = bytearray()
    out += struct.pack("<12i", 793712314, 12, 2, 5, 1, 1, 5, 2, loss, 3, bucket, minn)
    out += struct.pack("<2id", maxn, 100, 1e-4)
    words = [(b"hello", 3, 0), (b"</s>", 2, 0), (b"__label__a", 2, 1), (b"__label__b", 1, 1)]
    out += struct.pack("<3iqq", 4, 2, 2, 10, -1 if pruneidx is None else len(pruneidx))
    for w, cnt, ty in words:
        out += w + b"\0" + struct.pack("<qb", cnt, ty)
    for a, b in (pruneidx or []):
        out += struct.pack("<ii", a, b)
    rows = 2 + (bucket if pruneidx is None else len(pruneidx))
    out += b"\0" + struct.pack("<qq", rows, 2) + struct.pack(f"<{2*rows}f", *[0.1 * i for i in range(2 * rows)])
    out += b"\0" + struct.pack("<qq", 2, 2) + struct.pack("<4f", 0.5, -0.5, 0.25, 1.0)
    return bytes(out)
(c / "fasttext_model/softmax.bin").write_bytes(model())
(c / "fasttext_model/hs.bin").write_bytes(model(loss=1))
(c / "fasttext_model/ova.bin").write_bytes(model(loss=4, minn=0, maxn=0))
(c / "fasttext_model/pruned.bin").write_bytes(model(pruneidx=[(3, 0), (7, 1)]))
PY
head -c 4096 "$M/langid/lid.176.ftz" > $C/fasttext_model/lid176-head.ftz

# JSONL documents: a few real lines (plain, gzip, zstd) and the malformed shapes the reader names.
head -n 3 "$M/quality/positives_gsm8k_train.jsonl" > $C/jsonl_docs/gsm8k.jsonl
zstdcat "$M/quality/positives_alpaca_eval_10models.jsonl.zst" | head -n 2 | cut -c1-3000 > $tmp/alpaca.jsonl
cp $tmp/alpaca.jsonl $C/jsonl_docs/alpaca.jsonl
gzip -c $tmp/alpaca.jsonl > $C/jsonl_docs/alpaca.jsonl.gz
zstd -q -c $tmp/alpaca.jsonl > $C/jsonl_docs/alpaca.jsonl.zst
printf '{"text": "a", "id": 1}\n\n{"text": 3}\nnot json\n{"id": "x"}\n[1]\n' > $C/jsonl_docs/malformed.jsonl

# Recipes and input sets: the committed ones.
cp ../recipes/*.toml $C/recipe_toml/ 2>/dev/null || true
cp ../recipes/inputs/*.toml $C/recipe_toml/ 2>/dev/null || true

# ICL tasks: the first lines of a few task files, each with a task-type selector byte in front
# (0 multiple_choice, 1 schema, 2 language_modeling, 3 generation; +4 categories; +8 also as YAML).
icl() { { printf "\\x$(printf %02x "$1")"; head -n 3 "$2" | cut -c1-3000; } > "$C/icl_task/$3"; }
icl 0 "$M/icl_eval/language_understanding/hellaswag.jsonl" hellaswag 2>/dev/null || true
icl 1 "$M/icl_eval/language_understanding/winogrande.jsonl" winogrande
icl 2 "$M/icl_eval/language_understanding/lambada_openai.jsonl" lambada 2>/dev/null || true
icl 0 "$M/icl_eval/reading_comprehension/boolq.jsonl" boolq
icl 3 "$M/icl_eval/reading_comprehension/bigbench_understanding_fables.jsonl" fables
f=$(ls "$M"/dclm_assets/eval/*.yaml 2>/dev/null | head -n 1 || true)
if [ -n "$f" ]; then { printf '\x08'; head -c 6000 "$f"; } > $C/icl_task/registry.yaml; fi
find $C/icl_task -size 0 -delete

# AIW responses: real model answers.
python3 - "$M/aiw/o1-mini_aiw_friends_responses.jsonl" "$C/aiw_answer" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[2])
for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    if i >= 12: break
    rec = json.loads(line)
    resp = next((v for k, v in rec.items() if "response" in k and isinstance(v, str)), line)
    (out / f"resp{i}").write_text(resp[-2000:], encoding="utf-8")
(out / "boxed").write_text("so the answer is \\boxed{3}. ### Answer: 4")
PY

# Audio: the pinned MusicLDM clips (Ogg Vorbis): the short trumpet clip whole, the heads of the
# others (libFuzzer's -max_len cuts them; a head is a valid stream that ends early), and a small
# WAV of each sample format the decoder scales (8/16/24/32-bit PCM, 32-bit float; mono, stereo).
for f in "$M"/musicldm/audio/*.ogg; do
    head -c 60000 "$f" > "$C/audio_decode/$(basename "$f" .ogg | tr -c 'A-Za-z0-9_\n-' _ | cut -c1-40).ogg"
done
python3 - "$C/audio_decode" <<'PY'
import struct, sys, pathlib
out = pathlib.Path(sys.argv[1])
for bits, tag, ch, rate in ((8, 1, 1, 8000), (16, 1, 2, 22050), (24, 1, 1, 44100), (32, 1, 2, 48000), (32, 3, 1, 16000)):
    block = ch * bits // 8
    data = bytes((i * 37) & 0xFF for i in range(200 * block))
    fmt = struct.pack("<HHIIHH", tag, ch, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    (out / f"pcm{bits}-{tag}-{ch}ch-{rate}.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
PY

# BigBIO: a selector byte (0-5 the schema kb/qa/te/pairs/t2t/text, 6 BIOSSES TSV, 7 PubMedQA
# JSON) in front of the head of the mirror's file of that kind (whole lines).
bb() { { printf "\\x$(printf %02x "$1")"; head -n "$3" "$2" | cut -c1-20000; } > "$C/bigbio_reader/$4"; }
bb 1 "$M/bigbio/pubmedqa/pqal_test_bigbio_qa.jsonl" 3 qa
bb 3 "$M/bigbio/biosses/biosses_bigbio_pairs.jsonl" 5 pairs
bb 6 "$M/bigbio/biosses/annotation_pairs_scores.tsv" 10 biosses-tsv
bb 7 "$M/bigbio/pubmedqa/test_ground_truth.json" 1 ground-truth
{ printf '\x07'; head -c 6000 "$M/bigbio/pubmedqa/ori_pqal.json"; } > $C/bigbio_reader/pqal-head
find $C/bigbio_reader -size 0 -delete

# Checkpoints: no checkpoint is pinned (they are written by training runs); the fuzzers start from
# fuzz/regressions/checkpoint_*/ (valid and broken tensor files, broken state.json).

for d in $C/*; do echo "$(ls "$d" | wc -l) seeds in $d"; done
