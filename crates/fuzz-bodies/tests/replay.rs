//! Replays every fuzz target's body on stable, in the normal test suite (issue 19: "CI replays the
//! corpus on stable"): the committed regression inputs `fuzz/regressions/<target>/*` (the
//! minimised input of every finding) and, when the pinned mirror is present, seeds made from its
//! files (the same slices `fuzz/seeds.sh` starts the fuzzers from). With `LMREPRO_FUZZ_CORPUS=1`
//! the local fuzzing corpora `fuzz/corpus/<target>/` are replayed as well (not committed; large).
//!
//! Each input runs under the fuzzers' limits, checked the way a test can: no panic (a panic fails
//! the test naming target and input), at most 1 GiB allocated at once (a counting allocator:
//! deterministic, unlike RSS), and a loose time bound (60 s per input in a debug build, 60x the
//! fuzzers' 1 s: a hang detector, not a timing assertion).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bytes allocated now and the peak since the last reset, over the whole process. Targets run
/// one at a time (`SERIAL`) so the peak is the current input's.
struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = NOW.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                    + (new_size - layout.size());
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                NOW.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

static SERIAL: Mutex<()> = Mutex::new(());

const MEMORY_LIMIT: usize = 1 << 30;
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// libFuzzer's `-max_len` in `fuzz/run.sh`: seeds are cut to it, as the fuzzers cut them.
const MAX_LEN: usize = 65536;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn body(target: &str) -> fn(&[u8]) {
    lmrepro_fuzz_bodies::TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .unwrap_or_else(|| panic!("no fuzz target {target}"))
        .1
}

/// Runs `target` on every input; returns how many ran. Fails naming the input on a panic, on
/// more than 1 GiB allocated at once, or past the loose time bound.
fn replay(target: &str, inputs: &[(String, Vec<u8>)]) -> usize {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let f = body(target);
    let mut slowest = (Duration::ZERO, String::new());
    for (name, bytes) in inputs {
        let base = NOW.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let t = Instant::now();
        let r = std::panic::catch_unwind(|| f(bytes));
        let took = t.elapsed();
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        assert!(r.is_ok(), "{target}: input {name} panicked (see above)");
        assert!(
            peak <= MEMORY_LIMIT,
            "{target}: input {name} allocated {peak} bytes at once (limit 1 GiB)"
        );
        assert!(
            took <= TIME_LIMIT,
            "{target}: input {name} took {took:?} (hang? limit {TIME_LIMIT:?})"
        );
        if took > slowest.0 {
            slowest = (took, name.clone());
        }
    }
    eprintln!(
        "{target}: {} inputs, slowest {:?} ({})",
        inputs.len(),
        slowest.0,
        slowest.1
    );
    inputs.len()
}

/// The committed regression inputs of `target`, sorted by name (README files excluded).
fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    files_in(&repo().join("fuzz/regressions").join(target))
}

fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.to_string_lossy().ends_with(".md"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.display().to_string(), bytes)
        })
        .collect();
    out.sort();
    out
}

/// The mirror folder, or `None` (with a note) when it is absent.
fn mirror() -> Option<PathBuf> {
    let m = PathBuf::from(
        std::env::var("LMREPRO_DATA_MIRROR").unwrap_or_else(|_| "/work/shared/data".into()),
    );
    if m.is_dir() {
        Some(m)
    } else {
        eprintln!("skip: mirror seeds ({} absent)", m.display());
        None
    }
}

/// Seeds from mirror files: `(prefix byte or none, mirror path, bytes kept)`; missing files are
/// left out with a note (a partial mirror).
fn mirror_seeds(specs: &[(Option<u8>, &str, usize)]) -> Vec<(String, Vec<u8>)> {
    let Some(m) = mirror() else { return vec![] };
    let mut out = vec![];
    for &(prefix, rel, keep) in specs {
        let Ok(bytes) = std::fs::read(m.join(rel)) else {
            eprintln!("skip: mirror seed {rel} absent");
            continue;
        };
        let mut input: Vec<u8> = prefix.into_iter().collect();
        input.extend_from_slice(&bytes[..bytes.len().min(keep)]);
        input.truncate(MAX_LEN);
        out.push((format!("mirror:{rel}[..{keep}]+{prefix:?}"), input));
    }
    out
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    if std::env::var_os("LMREPRO_FUZZ_CORPUS").is_some() {
        files_in(&repo().join("fuzz/corpus").join(target))
    } else {
        vec![]
    }
}

/// Replays regressions + seeds + (optional) corpus of `target`; requires at least `min_regressions`
/// committed regression inputs, so deleting them fails the test.
fn check(target: &str, min_regressions: usize, seeds: &[(Option<u8>, &str, usize)]) {
    let reg = regressions(target);
    assert!(
        reg.len() >= min_regressions,
        "{target}: {} regression inputs under fuzz/regressions/{target}, expected >= {min_regressions}",
        reg.len()
    );
    let mut all = reg;
    all.extend(mirror_seeds(seeds));
    all.extend(corpus(target));
    replay(target, &all);
}

const ALL: usize = usize::MAX;

#[test]
fn every_target_has_a_replay_test_and_a_libfuzzer_wrapper() {
    // A new body in TARGETS without a wrapper or a test here would never be fuzzed or replayed.
    let this = include_str!("replay.rs");
    for (name, _) in lmrepro_fuzz_bodies::TARGETS {
        assert!(
            this.contains(&format!("fn {name}()")),
            "no replay test for {name}"
        );
        let wrapper = repo().join("fuzz/fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&wrapper)
            .unwrap_or_else(|e| panic!("{}: {e}", wrapper.display()));
        assert!(
            text.contains(&format!("lmrepro_fuzz_bodies::{name}")),
            "{} does not call the body",
            wrapper.display()
        );
    }
}

#[test]
fn warc_reader() {
    check(
        "warc_reader",
        1,
        &[
            (None, "crawl/cc_real/whirlwind.warc.gz", MAX_LEN),
            (None, "crawl/cc_real/dolma-sample-0001.warc.gz", 12000),
        ],
    );
}

#[test]
fn http_response() {
    check("http_response", 1, &[]);
}

#[test]
fn html_extract() {
    check("html_extract", 1, &[]);
}

#[test]
fn jsonl_docs() {
    check(
        "jsonl_docs",
        1,
        &[
            (None, "quality/positives_gsm8k_train.jsonl", 4000),
            (
                None,
                "quality/positives_alpaca_eval_10models.jsonl.zst",
                4000,
            ),
        ],
    );
}

#[test]
fn fasttext_model() {
    check("fasttext_model", 2, &[(None, "langid/lid.176.ftz", 4096)]);
}

#[test]
fn recipe_toml() {
    check("recipe_toml", 1, &[]);
}

#[test]
fn icl_task() {
    check(
        "icl_task",
        1,
        &[
            (
                Some(1),
                "icl_eval/language_understanding/winogrande.jsonl",
                3000,
            ),
            (Some(0), "icl_eval/reading_comprehension/boolq.jsonl", 3000),
        ],
    );
}

#[test]
fn aiw_answer() {
    check(
        "aiw_answer",
        1,
        &[(None, "aiw/o1-mini_aiw_friends_responses.jsonl", 3000)],
    );
}

#[test]
fn checkpoint_safetensors() {
    check("checkpoint_safetensors", 1, &[]);
}

#[test]
fn checkpoint_load() {
    // The regression inputs of the burn-free target are tensor files: replay them through the
    // real loader too (odd first byte: the rest is the tensor files).
    let mut all = regressions("checkpoint_load");
    assert!(!all.is_empty(), "no regression inputs for checkpoint_load");
    // With LMREPRO_FUZZ_CORPUS=1 also the burn-free target's corpus: the real loader on every
    // tensor file its fuzzer kept.
    let mut tensor_files = regressions("checkpoint_safetensors");
    tensor_files.extend(corpus("checkpoint_safetensors"));
    for (name, bytes) in tensor_files {
        let mut input = vec![1u8];
        input.extend_from_slice(&bytes);
        all.push((name, input));
    }
    all.extend(corpus("checkpoint_load"));
    replay("checkpoint_load", &all);
}

#[test]
fn audio_decode() {
    check(
        "audio_decode",
        2,
        &[
            (None, "musicldm/audio/sorohanro_-_solo-trumpet-06.ogg", ALL),
            (None, "musicldm/audio/Kevin_MacLeod_-_Vibe_Ace.ogg", MAX_LEN),
        ],
    );
}

#[test]
fn bigbio_reader() {
    check(
        "bigbio_reader",
        1,
        &[
            (Some(1), "bigbio/pubmedqa/pqal_test_bigbio_qa.jsonl", 20000),
            (Some(3), "bigbio/biosses/biosses_bigbio_pairs.jsonl", 20000),
            (Some(6), "bigbio/biosses/annotation_pairs_scores.tsv", 20000),
            (Some(7), "bigbio/pubmedqa/test_ground_truth.json", ALL),
        ],
    );
}

/// Fuzz finding (`audio_decode`, found by reading while writing the target; input
/// `fuzz/regressions/audio_decode/oom-65535-channels`): a 65 KB WAV whose header declares 65,535
/// channels made the WAV reader reserve one chunk of 32,768 frames x 65,535 channels, 8.6 GB,
/// before reading a sample. The reservation is now capped; the file is an error naming it.
#[test]
fn a_wav_declaring_65535_channels_reserves_no_gigabytes() {
    let path = repo().join("fuzz/regressions/audio_decode/oom-65535-channels");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 65535);
    replay("audio_decode", &[(path.display().to_string(), bytes)]);
}
