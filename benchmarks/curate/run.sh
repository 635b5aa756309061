#!/usr/bin/env bash
# Side-by-side benchmarks of crates/curate vs its reference tools, on the same inputs.
# Prerequisites (all outside the project):
#   /work/venvs/curate: python venv with tokenizers, tiktoken, fasttext-wheel, datatrove, nltk, xxhash, zstandard
#   $BFF: DCLM's dedup/bff built from source (mlfoundations/dclm@361714bd, S3 code removed) with `cargo build --release`
#   $CURATE: this crate's binary, `cargo build --release -p lmrepro-curate --bin lmrepro-curate`
# Usage: benchmarks/curate/run.sh <section: tokenize|tokenize-cpu|tokenize-instr|bff|minhash|fasttext|minhash800|bff800|threads> [work dir]
# The sections minhash800, bff800 and threads (2026-12-07, README "2026-12-07") alternate ours and
# the peer ROUNDS times (default 3) on one core (taskset -c ${CORE:-0}) and append one TSV row per
# run to $WORK/timings.tsv: label, round, CPU s (user+sys), user, sys, wall, max RSS kB, load
# average (1 min) before and after, exit status.
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
ROUNDS=${ROUNDS:-3}
CORE=${CORE:-0}
# timed <label> <round> <cmd...>: runs cmd (stdout -> $WORK/<label>.<round>.out), appends its TSV row.
timed() {
  local label=$1 round=$2; shift 2
  local load0; load0=$(cut -d' ' -f1 /proc/loadavg)
  local rc=0
  /usr/bin/time -f "%U %S %e %M" -o "$WORK/$label.$round.time" "$@" > "$WORK/$label.$round.out" 2> "$WORK/$label.$round.err" || rc=$?
  read -r u s e m < "$WORK/$label.$round.time"
  printf "%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$label" "$round" "$(echo "$u + $s" | bc)" "$u" "$s" "$e" "$m" \
    "$load0" "$(cut -d' ' -f1 /proc/loadavg)" "$rc" | tee -a "$WORK/timings.tsv"
}
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
minhash800)
  # MinHash 14 x 8, 5-grams over the 800 books (the 4 shards as 4 files), one core each.
  for r in $(seq "$ROUNDS"); do
    rm -rf "$WORK/mh800_ours" "$WORK/mh800_dt"
    RAYON_NUM_THREADS=1 timed mh800_ours "$r" taskset -c "$CORE" "$CURATE" dedup minhash --inputs $CORPUS --output "$WORK/mh800_ours"
    timed mh800_dt "$r" taskset -c "$CORE" "$PY" "$S/datatrove_minhash.py" "$WORK/mh800_dt" 5 14 8 $CORPUS
  done
  $PY "$S/compare_minhash.py" "$WORK/mh800_ours" "$WORK/mh800_dt/result.json"
  ;;
bff800)
  # BFF with DCLM-Baseline's parameters over the 800 books (the 4 shards as 4 files), one core
  # each; the expected n-gram count is the one our counting pass gives (7,268,672).
  mkdir -p "$WORK/corpus_in"; for f in $CORPUS; do ln -sf "$f" "$WORK/corpus_in/"; done
  N=${N:-7268672}
  for r in $(seq "$ROUNDS"); do
    rm -rf "$WORK/bff800_ours" "$WORK/bff800_dclm"
    RAYON_NUM_THREADS=1 timed bff800_ours "$r" taskset -c "$CORE" "$CURATE" dedup bff --inputs "$WORK/corpus_in" \
      --output "$WORK/bff800_ours" --min-ngram-size 13 --max-ngram-size 13 --seed 0 --expected-ngram-count "$N"
    timed bff800_dclm "$r" taskset -c "$CORE" "$BFF" bff --inputs "$WORK/corpus_in" --output-directory "$WORK/bff800_dclm" \
      --expected-ngram-count "$N" --fp-rate 0.01 --min-ngram-size 13 --max-ngram-size 13 --filtering-threshold 0.8 \
      --remove-type old-both --no-progress-bar --threads 1
  done
  $PY "$S/measure_removal.py" $CORPUS -- "$WORK"/bff800_ours/*.jsonl.zst
  $PY "$S/measure_removal.py" $CORPUS -- "$WORK"/bff800_dclm/*.jsonl.zst
  ;;
threads)
  # Ours at 1 and 2 threads (both cores), alternating; the outputs must be byte-identical.
  mkdir -p "$WORK/corpus_in"; for f in $CORPUS; do ln -sf "$f" "$WORK/corpus_in/"; done
  N=${N:-7268672}
  for r in $(seq "$ROUNDS"); do
    for t in 1 2; do
      rm -rf "$WORK/mh_t$t" "$WORK/bff_t$t"
      RAYON_NUM_THREADS=$t timed "mh800_t$t" "$r" "$CURATE" dedup minhash --inputs $CORPUS --output "$WORK/mh_t$t"
      RAYON_NUM_THREADS=$t timed "bff800_t$t" "$r" "$CURATE" dedup bff --inputs "$WORK/corpus_in" --output "$WORK/bff_t$t" \
        --min-ngram-size 13 --max-ngram-size 13 --seed 0 --expected-ngram-count "$N"
    done
    for st in mh bff; do
      (cd "$WORK/${st}_t1" && find . -type f ! -name '*.lock' ! -name '.lock' | sort | xargs sha256sum) > "$WORK/${st}_t1.sha"
      (cd "$WORK/${st}_t2" && find . -type f ! -name '*.lock' ! -name '.lock' | sort | xargs sha256sum) > "$WORK/${st}_t2.sha"
      cmp "$WORK/${st}_t1.sha" "$WORK/${st}_t2.sha" && echo "$st: 1 and 2 threads byte-identical ($(wc -l < "$WORK/${st}_t1.sha") files)"
    done
  done
  ;;
esac
