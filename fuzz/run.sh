#!/usr/bin/env bash
# The project's fuzz command (issue 19). Works on nightly and on stable: on a stable toolchain it
# sets RUSTC_BOOTSTRAP=1, which is what lets cargo-fuzz pass its `-Z` sanitizer-coverage flags.
#
#   fuzz/run.sh build                     build every target (needs `cargo install cargo-fuzz`)
#   fuzz/run.sh run <target> [secs] [...]  fuzz one target for secs (default 30) on fuzz/corpus/<target>
#   fuzz/run.sh runs <target> <n> [...]   fuzz one target for n executions (e.g. 10000000)
#   fuzz/run.sh all [secs]                every target for secs each (CI: 30)
#   fuzz/run.sh replay                    run every corpus, regression input and artifact once
#
# FUZZ_TARGET_DIR: the cargo target dir (default fuzz/target). FUZZ_FEATURES=model adds the
# `checkpoint_load` target (the real loader, which pulls burn: a long instrumented build). Each
# target also reads fuzz/regressions/<target>/ (committed minimised inputs of every finding; the
# same files `cargo test -p lmrepro-fuzz-bodies --test replay` replays on stable).
#
# Limits are the issue's: a hang is > 1 s per input, a memory blow-up > 1 GiB RSS. libFuzzer's
# timeout is wall-clock: at nice 19 on a loaded shared machine inputs of 1 ms were reported as
# 1 s timeouts, so there set FUZZ_TIMEOUT=10 and re-run the slowest units idle. No sanitizer
# (`-s none`): the code under test is safe Rust, so libFuzzer's own crash / timeout / RSS detection
# is what matters, and ASan would halve the rate on this 2-core machine; debug assertions (overflow
# checks) stay on. Seeds: fuzz/seeds.sh (from the pinned mirror) runs first if a corpus is missing.
set -eu
cd "$(dirname "$0")"
if ! rustc -V | grep -q nightly; then export RUSTC_BOOTSTRAP=1; fi
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$PWD/target}
TARGETS="warc_reader http_response html_extract jsonl_docs fasttext_model recipe_toml icl_task aiw_answer
 checkpoint_safetensors audio_decode bigbio_reader"
FEATURES=()
if [ -n "${FUZZ_FEATURES:-}" ]; then
    FEATURES=(--features "$FUZZ_FEATURES")
    case $FUZZ_FEATURES in *model*) TARGETS="$TARGETS checkpoint_load" ;; esac
fi
BUILD=(-O -a -s none --codegen-units ${FUZZ_CGU:-4} --target-dir "$CARGO_TARGET_DIR" ${FEATURES[@]+"${FEATURES[@]}"})
LIMITS=(-rss_limit_mb=1024 -timeout=${FUZZ_TIMEOUT:-1} -max_len=${FUZZ_MAX_LEN:-65536} -print_final_stats=1)
for t in $TARGETS; do [ -d corpus/$t ] || { ./seeds.sh; break; }; done
cmd=${1:-build}; shift || true
case $cmd in
build) cargo fuzz build "${BUILD[@]}" ;;
run)
    t=$1; secs=${2:-30}; shift 2 || shift $#
    mkdir -p corpus/$t artifacts/$t
    cargo fuzz run "${BUILD[@]}" "$t" corpus/$t $(ls -d regressions/$t 2>/dev/null) -- \
        "${LIMITS[@]}" -max_total_time=$secs \
        -artifact_prefix=artifacts/$t/ "$@" ;;
runs)
    t=$1; n=$2; shift 2
    mkdir -p corpus/$t artifacts/$t
    cargo fuzz run "${BUILD[@]}" "$t" corpus/$t $(ls -d regressions/$t 2>/dev/null) -- \
        "${LIMITS[@]}" -runs=$n \
        -artifact_prefix=artifacts/$t/ "$@" ;;
all) for t in $TARGETS; do "$0" run $t "${1:-30}"; done ;;
replay)
    for t in $TARGETS; do
        mkdir -p corpus/$t
        cargo fuzz run "${BUILD[@]}" "$t" corpus/$t $(ls -d regressions/$t artifacts/$t 2>/dev/null) -- \
            "${LIMITS[@]}" -runs=0
    done ;;
*) echo "unknown command $cmd (build | run | runs | all | replay)" >&2; exit 2 ;;
esac
