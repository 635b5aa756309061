//! Crash-anywhere resume of the real stage commands (issue 19, item 2): each stage's `lmrepro`
//! command runs uninterrupted on a slice of the pinned data, then again for each kill point:
//! started, SIGKILLed at a pseudo-random fraction of the uninterrupted run's time, started again
//! with the same command, and its output folder must then equal the uninterrupted run's byte for
//! byte (`lmrepro_stage::testing::kill_anywhere_with`), with no `.partial` / `.tmp` file left.
//!
//! Stages: `crawl run` (WARC → filtered JSONL), `crawl dedup bff|minhash|exact`, `crawl tokenize`
//! (tokenize + shuffle), `train`, `eval`, and the dclm stage cache (`dclm stages --until dedup`
//! on a reduced dclm-baseline recipe: the pool, heuristics, BFF and MinHash stage folders built
//! into a fresh `--cache`).
//!
//! Kills inside the publish window: every run is started with `LMREPRO_TEST_PUBLISH_PAUSE_MS`
//! (the binary is built with lmrepro-stage's feature `testing` in the test build, through this
//! crate's dev-dependency), so `lmrepro_stage::publish` — the rename of every shard, marker,
//! stats file, stage folder, BFF filter and checkpoint — pauses before and after the rename; a
//! sizeable part of each run is then spent between "output complete under its temporary name"
//! and "renamed", or between "renamed" and "marker written". The report line counts the kill
//! points that landed there (`in publish`).
//!
//! The test command runs 3 kill points per stage; the benchmark-style run is
//! `LMREPRO_KILL_POINTS=20 cargo test -p lmrepro-cli --test kill_anywhere -- --nocapture
//! --test-threads=1` (`cargo xtask kill-anywhere` runs that; `LMREPRO_KILL_SEED` varies the
//! moments). What is left out of the comparison, and why, is said at each stage.

use lmrepro_stage::testing::{kill_anywhere_with, kill_points, KillOptions, KillReport};
use lmrepro_stage::Doc;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `lmrepro` with the test's data mirror (the same resolver tests use).
fn lmrepro(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lmrepro"));
    c.args(args);
    if let Some(m) = lmrepro_data::testing::resolver().mirror_dir {
        c.env("LMREPRO_DATA_MIRROR", m);
    }
    c
}

fn pinned(set: &str, name: &str) -> PathBuf {
    lmrepro_data::resolve_in_set(&lmrepro_data::testing::resolver(), set, name)
        .unwrap_or_else(|e| panic!("test input missing: {e:#}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs the harness for one stage and prints its figures (the benchmark-style run's record).
fn check(
    stage: &str,
    seed: u64,
    pause_ms: u64,
    command: impl Fn(&Path) -> Command,
    compare: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
) -> KillReport {
    let tmp = tempfile::tempdir().unwrap();
    let seed = seed
        ^ std::env::var("LMREPRO_KILL_SEED")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    let opts = KillOptions {
        publish_pause: Duration::from_millis(pause_ms),
    };
    let started = Instant::now();
    let r = kill_anywhere_with(
        tmp.path(),
        stage,
        seed,
        kill_points(3),
        &opts,
        command,
        compare,
    );
    eprintln!(
        "kill_anywhere {stage}: seed {seed:#x}, {} points, {} killed mid-run, {} in publish \
         ({} publishes per run, pause {pause_ms} ms), uninterrupted {:.2} s, all {:.1} s: pass",
        r.points,
        r.killed_midway,
        r.killed_in_publish,
        r.publishes,
        r.full.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    // The moments must actually interrupt runs, else the test proves nothing.
    assert!(r.killed_midway > 0, "{stage}: no kill landed inside a run");
    r
}

fn keep_all(_: &str, bytes: Vec<u8>) -> Option<Vec<u8>> {
    Some(bytes)
}

/// Real documents: the first books of the pinned Gutenberg sample cut into `chunk`-character
/// documents, dealt round robin into `files` JSONL files, plus exact and near copies (so every
/// dedup removes something).
fn docs_folder(dir: &Path, files: usize, books: usize, chunk: usize) -> PathBuf {
    let (books_docs, bad) = lmrepro_stage::read_docs(
        &pinned("corpus", "corpus/gutenberg_sample.jsonl.zst"),
        lmrepro_stage::OnMalformed::Error,
    )
    .unwrap();
    assert_eq!(bad, 0);
    let mut docs: Vec<Doc> = Vec::new();
    for (_, book) in books_docs.into_iter().take(books) {
        let text: Vec<char> = lmrepro_stage::text(&book).chars().collect();
        for (i, piece) in text.chunks(chunk).enumerate() {
            let mut d = Doc::new();
            d.insert("id".into(), format!("{}-{i}", docs.len()).into());
            d.insert("text".into(), piece.iter().collect::<String>().into());
            docs.push(d);
        }
    }
    let n = docs.len();
    for i in (0..n).step_by(5) {
        let mut copy = docs[i].clone();
        copy.insert("id".into(), format!("copy-{i}").into());
        if i % 10 == 0 {
            let t = format!("Another edition. {}", lmrepro_stage::text(&docs[i]));
            copy.insert("text".into(), t.into());
        }
        docs.push(copy);
    }
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for k in 0..files {
        let part: Vec<Doc> = docs.iter().skip(k).step_by(files).cloned().collect();
        std::fs::write(
            input.join(format!("part_{k:02}.jsonl")),
            lmrepro_stage::to_jsonl(&part),
        )
        .unwrap();
    }
    input
}

#[test]
fn crawl_run_resumes_byte_identical_after_sigkill() {
    let warcs: Vec<PathBuf> = [
        "crawl/cc_real/whirlwind.warc.gz",
        "crawl/cc_real/resiliparse-warcfile-CC-MAIN-2020-34.warc.gz",
        "crawl/cc_real/dolma-sample-0000.warc.gz",
    ]
    .iter()
    .map(|n| pinned("crawl_pages", n))
    .collect();
    check(
        "crawl-run",
        0xC4A1,
        40,
        |dir| {
            let mut args = vec![
                "crawl",
                "run",
                "--batch",
                "16",
                "--output",
                s(dir),
                "--input",
            ];
            args.extend(warcs.iter().map(|p| s(p)));
            lmrepro(&args)
        },
        keep_all,
    );
}

#[test]
fn bff_resumes_byte_identical_after_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let input = docs_folder(tmp.path(), 6, 3, 4000);
    check(
        "bff",
        0xBFF,
        20,
        |dir| {
            lmrepro(&[
                "crawl",
                "dedup",
                "bff",
                "--inputs",
                s(&input),
                "--output",
                s(dir),
            ])
        },
        keep_all,
    );
}

#[test]
fn minhash_resumes_byte_identical_after_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let input = docs_folder(tmp.path(), 6, 2, 4000);
    check(
        "minhash",
        0x3141,
        // 124 renames per run: a shorter pause keeps the run short and still makes the
        // publish windows a sizeable part of it.
        10,
        |dir| {
            lmrepro(&[
                "crawl",
                "dedup",
                "minhash",
                "--inputs",
                s(&input),
                "--output",
                s(dir),
            ])
        },
        keep_all,
    );
}

#[test]
fn exact_dedup_resumes_byte_identical_after_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let input = docs_folder(tmp.path(), 8, 3, 2000);
    check(
        "exact",
        0xE4AC,
        10,
        |dir| {
            lmrepro(&[
                "crawl",
                "dedup",
                "exact",
                "--inputs",
                s(&input),
                "--output",
                s(dir),
            ])
        },
        keep_all,
    );
}

#[test]
fn tokenize_shuffle_resumes_byte_identical_after_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let input = docs_folder(tmp.path(), 6, 2, 4000);
    let tokenizer = pinned("corpus", "tokenizer/gpt-neox-20b/tokenizer.json");
    check(
        "tokenize",
        0x70C,
        10,
        |dir| {
            lmrepro(&[
                "crawl",
                "tokenize",
                "--inputs",
                s(&input),
                "--tokenizer",
                s(&tokenizer),
                "--output",
                s(dir),
            ])
        },
        keep_all,
    );
}

/// `metrics.jsonl` with the two timing fields (`tokens_per_s`, `mfu`: wall-clock throughput of
/// each step, different in every run) blanked; every other field (losses, gradient norms,
/// learning rates, held-out losses) must be bit-identical.
fn without_timings(name: &str, bytes: Vec<u8>) -> Option<Vec<u8>> {
    if !name.ends_with("metrics.jsonl") {
        return Some(bytes);
    }
    let mut out = Vec::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(mut v) => {
                let o = v.as_object_mut().unwrap();
                o.remove("tokens_per_s");
                o.remove("mfu");
                out.extend(serde_json::to_vec(&v).unwrap());
            }
            // A torn line stays as it is, so the comparison fails on it.
            Err(_) => out.extend_from_slice(line),
        }
        out.push(b'\n');
    }
    Some(out)
}

#[test]
fn train_resumes_byte_identical_after_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    // The train-tiny recipe's model family and optimiser at a size that trains in seconds in
    // debug, checkpointing every 2 of 10 steps (what a resumed run starts from).
    let recipe = tmp.path().join("train-kill.toml");
    std::fs::write(
        &recipe,
        r#"name = "train-kill"
kind = "train"
title = "Tiny OpenLM for the kill -9 test"
description = "open_lm d=32 l=1 h=2 on Gutenberg bytes, 10 steps, a checkpoint every 2."

[params]
global_batch = 4
micro_batch = 4
steps = 10
seed = 124
eval_every = 5
eval_batches = 1
checkpoint_every = 2

[params.model]
arch = "open_lm"
d_model = 32
n_layers = 1
n_heads = 2
vocab_size = 257
seq_len = 64

[params.data]
corpus = "corpus/gutenberg_sample.jsonl.zst"
tokenizer = "bytes"
heldout_every = 7

[params.optim]
lr = 3e-3
final_lr = 3e-5
warmup = 2
weight_decay = 0.033
z_loss = 1e-4
grad_clip = 1.0
"#,
    )
    .unwrap();
    check(
        "train",
        0x7EA1,
        40,
        |dir| lmrepro(&["train", "--recipe", s(&recipe), "--out", s(dir)]),
        without_timings,
    );
}

/// Removes the keys `keys` from every object of a JSON document, recursively.
fn drop_keys(v: &mut serde_json::Value, keys: &[&str]) {
    match v {
        serde_json::Value::Object(o) => {
            for k in keys {
                o.remove(*k);
            }
            o.values_mut().for_each(|x| drop_keys(x, keys));
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| drop_keys(x, keys)),
        _ => {}
    }
}

/// Per-task results with `seconds` (wall time of the task) dropped, and `results.md` without its
/// throughput line ("Tokens through the model: N in X s of task time (Y tokens/s)."): the only
/// fields of an eval folder that measure time. Everything else — every accuracy, count, the
/// CORE / EXTENDED aggregates, `eval.json` — must be identical.
fn eval_without_timings(name: &str, bytes: Vec<u8>) -> Option<Vec<u8>> {
    if name.ends_with(".json") {
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        drop_keys(&mut v, &["seconds"]);
        return Some(serde_json::to_vec(&v).unwrap());
    }
    if name.ends_with("results.md") {
        let text = String::from_utf8(bytes).ok()?;
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("Tokens through the model:"))
            .collect();
        return Some(kept.join("\n").into_bytes());
    }
    Some(bytes)
}

#[test]
fn eval_resumes_byte_identical_after_sigkill() {
    check(
        "eval",
        0xE7A1,
        20,
        |dir| {
            lmrepro(&[
                "eval",
                "--model",
                "ngram:order=2,wiki=200,gutenberg=0",
                "--suite",
                "core",
                "--limit",
                "3",
                "--batch-items",
                "8",
                "--out",
                s(dir),
            ])
        },
        eval_without_timings,
    );
}

/// The dclm-baseline recipe with a small pool (two WARCs, 100 Wikipedia articles, 10 Gutenberg
/// chunks), in `dir/recipes/` beside a link to the pinned input sets.
fn reduced_dclm_recipe(dir: &Path) -> PathBuf {
    let recipes = dir.join("recipes");
    std::fs::create_dir_all(&recipes).unwrap();
    std::os::unix::fs::symlink(
        root().join("recipes/inputs").canonicalize().unwrap(),
        recipes.join("inputs"),
    )
    .unwrap();
    let mut text = std::fs::read_to_string(root().join("recipes/dclm-baseline.toml")).unwrap();
    for (from, to) in [
        ("wikipedia_articles = 3000", "wikipedia_articles = 100"),
        ("gutenberg_chunks = 400", "gutenberg_chunks = 10"),
        ("    \"crawl/scrapinghub-aeb.warc.gz\",\n", ""),
        ("    \"crawl/trafilatura-testpages.warc.gz\",\n", ""),
        ("    \"crawl/cc_real/dolma-sample-0000.warc.gz\",\n", ""),
        ("    \"crawl/cc_real/dolma-sample-0001.warc.gz\",\n", ""),
    ] {
        assert!(text.contains(from), "recipe lacks `{from}`");
        text = text.replace(from, to);
    }
    let path = recipes.join("dclm-baseline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn dclm_stage_cache_resumes_byte_identical_after_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = reduced_dclm_recipe(tmp.path());
    check(
        "dclm-stages",
        0xDC1A,
        3,
        |dir| {
            lmrepro(&[
                "dclm",
                "stages",
                "--recipe",
                s(&recipe),
                "--until",
                "dedup",
                "--cache",
                s(dir),
            ])
        },
        keep_all,
    );
}
