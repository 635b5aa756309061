//! Crash-anywhere resume of the stage conventions every stage uses (issue 19, item 2): a run of
//! a sharded stage and of a whole-folder build is killed with SIGKILL at pseudo-random moments
//! (some land inside a rename or a marker write), resumed, and must end byte-identical to an
//! uninterrupted run with no temporary file left or read.
//!
//! The test command runs 3 kill points per convention; `LMREPRO_KILL_POINTS=20` (or more) is the
//! benchmark-style run:
//! `LMREPRO_KILL_POINTS=20 cargo test -p lmrepro-stage --release --test kill_resume`.
//! Like `concurrency.rs`, the killed process is this test binary started again in child mode.

use lmrepro_stage::{build_folder_once, testing, ShardedStage};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

/// Runs `mode` uninterrupted, then kills it at reproducible moments, resumes and compares
/// (`lmrepro_stage::testing::kill_anywhere`, the harness every stage's kill test shares).
fn kill_anywhere(mode: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let r = testing::kill_anywhere(
        tmp.path(),
        "stage",
        0x9E37_79B9_7F4A_7C15,
        testing::kill_points(3),
        |dir| child(mode, dir),
        |_| false,
    );
    // The moments must actually interrupt runs (else the test proves nothing).
    assert!(
        r.killed_midway > 0,
        "no kill landed inside a run of {:?}",
        r.full
    );
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
