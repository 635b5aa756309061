#!/usr/bin/env bash
# Side-by-side benchmarks of crates/curate vs its reference tools, on the same inputs.
# Prerequisites (all outside the project):
#   /work/venvs/curate: python venv with tokenizers, tiktoken, fasttext-wheel, datatrove, nltk, xxhash, zstandard
#   $BFF: DCLM's dedup/bff built from source (mlfoundations/dclm@361714bd, S3 code removed) with `cargo build --release`
#   $CURATE: this crate's binary, `cargo build --release -p lmrepro-curate --bin lmrepro-curate`
# Usage: benchmarks/curate/run.sh <section: tokenize|tokenize-cpu|tokenize-instr|bff|minhash|fasttext> [work dir]
set -euo pipefail
SECTION=$1
WORK=${2:-/work/peers/runs}
DATA=${LMREPRO_DATA_MIRROR:-/work/shared/data}
PY=${PY:-/work/venvs/curate/bin/python}
BFF=${BFF:-/work/peers/bff/target/release/bff}
CURATE=${CURATE:-/work/targets/curate/release/lmrepro-curate}
S=$(dirname "$0")/scripts
# No spaces in the format: $T is word-split where it is used.
T="/usr/bin/time -f %e_wall_s,%U_user_s,%S_sys_s,%M_maxrss_kb"
mkdir -p "$WORK"
CORPUS="$DATA/corpus/gutenberg_top100_00.jsonl.zst $DATA/corpus/gutenberg_top100_01.jsonl.zst $DATA/corpus/gutenberg_top100_02.jsonl.zst $DATA/corpus/gutenberg_top100_03.jsonl.zst"

case $SECTION in
tokenize)
  # one core each: RAYON_NUM_THREADS=1 (Rust, HF Python), tiktoken single-threaded encode
  rm -rf "$WORK/tok_ours"
  RAYON_NUM_THREADS=1 $T "$CURATE" tokenize --inputs $CORPUS --output "$WORK/tok_ours" \
      --tokenizer "$DATA/tokenizer/gpt-neox-20b/tokenizer.json" > "$WORK/tok_ours.json"
  RAYON_NUM_THREADS=1 $T "$PY" "$S/tokenize_peers.py" "$DATA" hf $CORPUS
  $T "$PY" "$S/tokenize_peers.py" "$DATA" tiktoken $CORPUS
  ;;
tokenize-cpu)
  # Issue 17 item 3: the whole lmrepro-curate process (read, tokenize, shuffle, write shards) vs
  # one `encode_batch` call alone, same 71 books (gutenberg_top100_03), one core each (taskset),
  # alternating for $ROUNDS rounds; each line is one measurement with the load average.
  BOOKS="$DATA/corpus/gutenberg_top100_03.jsonl.zst"
  for r in $(seq "${ROUNDS:-3}"); do
    rm -rf "$WORK/tok_cpu"
    echo "round $r ours load $(cut -d' ' -f1-3 /proc/loadavg)"
    RAYON_NUM_THREADS=1 taskset -c 0 $T "$CURATE" tokenize --inputs "$BOOKS" --output "$WORK/tok_cpu" \
        --tokenizer "$DATA/tokenizer/gpt-neox-20b/tokenizer.json" > /dev/null
    cat "$WORK/tok_cpu/stats.json" | tr -d ' \n'; echo
    echo "round $r hf-batch load $(cut -d' ' -f1-3 /proc/loadavg)"
    RAYON_NUM_THREADS=1 taskset -c 0 $T "$PY" "$S/tokenize_peers.py" "$DATA" hf-batch "$BOOKS"
  done
  ;;
tokenize-instr)
  # Instruction counts (perf's hardware counters are not available on the VM): callgrind over the
  # whole processes on $BOOKS (default: the first 5 books of gutenberg_top100_03, made with
  # `zstd -dc gutenberg_top100_03.jsonl.zst | head -5 | zstd`). The peer is counted twice, with
  # and without the encode_batch call; the difference is encode_batch alone.
  BOOKS=${BOOKS:-$WORK/books5.jsonl.zst}
  CG="valgrind --tool=callgrind --callgrind-out-file=/dev/null"
  rm -rf "$WORK/tok_instr"
  RAYON_NUM_THREADS=1 $CG "$CURATE" tokenize --inputs "$BOOKS" --output "$WORK/tok_instr" \
      --tokenizer "$DATA/tokenizer/gpt-neox-20b/tokenizer.json" 2>&1 >/dev/null | grep "Collected"
  RAYON_NUM_THREADS=1 $CG "$PY" "$S/tokenize_peers.py" "$DATA" hf-batch "$BOOKS" 2>&1 | grep "Collected"
  RAYON_NUM_THREADS=1 $CG "$PY" "$S/tokenize_peers.py" "$DATA" hf-load "$BOOKS" 2>&1 | grep "Collected"
  ;;
bff)
  mkdir -p "$WORK/corpus_in"; for f in $CORPUS; do ln -sf "$f" "$WORK/corpus_in/"; done
  rm -rf "$WORK/bff_ours" "$WORK/bff_dclm"
  $T "$CURATE" dedup bff --inputs "$WORK/corpus_in" --output "$WORK/bff_ours" \
      --min-ngram-size 13 --max-ngram-size 13 --seed 0 > "$WORK/bff_ours.json"
  N=$($PY -c "import json;print(json.load(open('$WORK/bff_ours.json'))['shards'][0]['plan']['expected_ngram_count'])")
  $T "$BFF" bff --inputs "$WORK/corpus_in" --output-directory "$WORK/bff_dclm" --expected-ngram-count "$N" \
      --fp-rate 0.01 --min-ngram-size 13 --max-ngram-size 13 --filtering-threshold 0.8 \
      --remove-type old-both --no-progress-bar --threads 2
  $PY "$S/measure_removal.py" $CORPUS -- "$WORK"/bff_ours/*.jsonl.zst
  $PY "$S/measure_removal.py" $CORPUS -- "$WORK"/bff_dclm/*.jsonl.zst
  ;;
minhash)
  IN="$DATA/corpus/gutenberg_top100_03.jsonl.zst"
  rm -rf "$WORK/mh_ours" "$WORK/mh_dt"
  RAYON_NUM_THREADS=1 $T "$CURATE" dedup minhash --inputs $IN --output "$WORK/mh_ours" > "$WORK/mh_ours.json"
  $T "$PY" "$S/datatrove_minhash.py" "$WORK/mh_dt" 5 14 8 $IN
  $PY "$S/compare_minhash.py" "$WORK/mh_ours" "$WORK/mh_dt/result.json"
  ;;
fasttext)
  mkdir -p "$WORK/ft"
  $T "$CURATE" quality train --positives "$DATA/quality/positives_alpaca_eval_10models.jsonl.zst" \
      "$DATA/quality/positives_gsm8k_train.jsonl" --negatives "$DATA/quality/negatives_cc_2019-30_dolma_sample.jsonl.gz" \
      --max-positives 697 --output "$WORK/ft/rust.bin"
  $T "$PY" "$S/fasttext_reference.py" train "$WORK/ft/rust.train.txt" "$WORK/ft/cpp.bin"
  cat "$DATA/dclm_assets/data/agreement_data.jsonl" "$DATA/dclm_assets/data/majority_data.jsonl" > "$WORK/ft/labelled.jsonl"
  "$PY" "$S/make_pool.py" "$DATA" "$WORK/ft/pool.jsonl"
  for m in rust cpp; do
    rm -rf "$WORK/ft/pred_$m" "$WORK/ft/pool_$m"
    RAYON_NUM_THREADS=1 "$CURATE" quality predict --inputs "$WORK/ft/labelled.jsonl" --model "$WORK/ft/$m.bin" --output "$WORK/ft/pred_$m" > /dev/null
    "$PY" "$S/fasttext_reference.py" predict "$WORK/ft/$m.bin" "$WORK/ft/labelled.jsonl" "$WORK/ft/cpp_pred_$m.jsonl"
  done
  RAYON_NUM_THREADS=1 $T "$CURATE" quality predict --inputs "$WORK/ft/pool.jsonl" --model "$WORK/ft/cpp.bin" --output "$WORK/ft/pool_rust" > /dev/null
  $T "$PY" "$S/fasttext_reference.py" predict "$WORK/ft/cpp.bin" "$WORK/ft/pool.jsonl" "$WORK/ft/pool_cpp.jsonl"
  $PY "$S/compare_fasttext.py" "$WORK/ft"
  ;;
esac
