//! Crash-anywhere resume of the stage conventions every stage uses (issue 19, item 2): a run of
//! a sharded stage and of a whole-folder build is killed with SIGKILL at pseudo-random moments
//! (some land inside a rename or a marker write), resumed, and must end byte-identical to an
//! uninterrupted run with no temporary file left or read.
//!
//! The test command runs 3 kill points per convention; `LMREPRO_KILL_POINTS=20` (or more) is the
//! benchmark-style run:
//! `LMREPRO_KILL_POINTS=20 cargo test -p lmrepro-stage --release --test kill_resume`.
//! Like `concurrency.rs`, the killed process is this test binary started again in child mode.

use lmrepro_stage::{build_folder_once, ShardedStage};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const SHARDS: usize = 16;

fn docs_of(shard: usize) -> Vec<serde_json::Value> {
    (0..400)
        .map(|i| {
            serde_json::json!({
                "id": format!("{shard}-{i}"),
                "text": format!("document {i} of shard {shard} ").repeat(1 + i % 7),
            })
        })
        .collect()
}

/// One (resumable) run of a sharded stage, ending with the run's stats.
fn sharded_run(dir: &Path) {
    let stage = ShardedStage::create(dir).unwrap();
    let mut total = 0u64;
    for shard in 0..SHARDS {
        let name = format!("s{shard:02}");
        if !stage.is_done(&name) {
            let docs = docs_of(shard);
            stage
                .write_shard(&name, &docs, &serde_json::json!({"docs": docs.len()}))
                .unwrap();
        }
        total += stage.done_stats::<serde_json::Value>(&name).unwrap()["docs"]
            .as_u64()
            .unwrap();
    }
    stage
        .write_stats(&serde_json::json!({"docs": total}))
        .unwrap();
}

/// One run of a whole-folder stage (several files, then `_DONE.json` and the rename).
fn folder_run(dir: &Path) {
    build_folder_once(dir, |partial| {
        for shard in 0..SHARDS / 2 {
            std::fs::write(
                partial.join(format!("part{shard}.jsonl")),
                lmrepro_stage::to_jsonl(&docs_of(shard)),
            )?;
        }
        Ok(serde_json::json!({"parts": SHARDS / 2}))
    })
    .unwrap();
}

#[test]
fn child_process_entry() {
    let Ok(mode) = std::env::var("KILL_CHILD") else {
        return;
    };
    let dir = PathBuf::from(std::env::var("KILL_DIR").unwrap());
    match mode.as_str() {
        "sharded" => sharded_run(&dir),
        "folder" => folder_run(&dir),
        other => panic!("unknown child mode {other}"),
    }
}

fn child(mode: &str, dir: &Path) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "child_process_entry", "--test-threads=1"])
        .env("KILL_CHILD", mode)
        .env("KILL_DIR", dir)
        .stdout(Stdio::null());
    c
}

/// Every file under `dir` (relative path → bytes), lock files left out.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.to_string_lossy().ends_with(".lock") {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn kill_points() -> usize {
    std::env::var("LMREPRO_KILL_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// Runs `mode` uninterrupted (timed), then for each kill point: starts it, SIGKILLs it after a
/// pseudo-random fraction of the uninterrupted time, resumes it to completion and compares.
fn kill_anywhere(mode: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference/stage");
    let started = Instant::now();
    assert!(child(mode, &reference).status().unwrap().success());
    let full = started.elapsed();
    let want = tree(reference.parent().unwrap());
    assert!(!want.is_empty());
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut killed_midway = 0;
    for point in 0..kill_points() {
        // splitmix64: reproducible kill moments, spread over the whole run.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let fraction = ((z ^ (z >> 31)) % 1000) as f64 / 1000.0;
        let run = tmp.path().join(format!("run{point}/stage"));
        let mut c = child(mode, &run).spawn().unwrap();
        std::thread::sleep(full.mul_f64(fraction));
        c.kill().ok();
        let status = c.wait().unwrap();
        if !status.success() {
            killed_midway += 1;
        }
        assert!(
            child(mode, &run).status().unwrap().success(),
            "resume {point}"
        );
        let got = tree(run.parent().unwrap());
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "files after kill point {point} ({fraction:.3} of the run) and resume"
        );
        for (name, bytes) in &want {
            assert!(
                got[name] == *bytes,
                "{name} differs after kill point {point}"
            );
        }
    }
    // The moments must actually interrupt runs (else the test proves nothing).
    assert!(killed_midway > 0, "no kill landed inside a run of {full:?}");
}

#[test]
fn sharded_stage_resumes_byte_identical_after_sigkill() {
    kill_anywhere("sharded");
}

#[test]
fn folder_build_resumes_byte_identical_after_sigkill() {
    kill_anywhere("folder");
}

/// Guards the harness itself: a kill too early or too late must still leave a resumable state.
#[test]
fn immediate_kill_leaves_a_resumable_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stage");
    let mut c = child("sharded", &dir).spawn().unwrap();
    c.kill().ok();
    c.wait().unwrap();
    assert!(child("sharded", &dir).status().unwrap().success());
    assert!(dir.join("stats.json").is_file());
}
