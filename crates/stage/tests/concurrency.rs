//! Two processes on one stage folder (issue 19, item 4): they must not interleave their writes,
//! and together they must write exactly what one run writes.
//!
//! The "processes" are this test binary started again with `STAGE_CHILD` set: the
//! `child_process_entry` test then plays one `lmrepro` run and reports what it did in a file.

use lmrepro_stage::{build_folder_once, read_docs, OnMalformed, ShardedStage};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

const SHARDS: usize = 12;

fn docs_of(shard: usize) -> Vec<serde_json::Value> {
    (0..50)
        .map(|i| serde_json::json!({"id": format!("{shard}-{i}"), "text": "x".repeat(100 + i)}))
        .collect()
}

/// One run of a sharded stage: skips finished shards, writes the others slowly (so two runs
/// started together overlap), and records how many shards it wrote.
fn sharded_run(dir: &Path, report: &Path) {
    let stage = ShardedStage::create(dir).unwrap();
    let mut written = 0;
    for shard in 0..SHARDS {
        let name = format!("s{shard:02}");
        if stage.is_done(&name) {
            continue;
        }
        std::thread::sleep(Duration::from_millis(25));
        stage
            .write_shard(&name, &docs_of(shard), &serde_json::json!({"docs": 50}))
            .unwrap();
        written += 1;
    }
    std::fs::write(report, written.to_string()).unwrap();
}

/// One cache lookup of a whole folder whose build is slow; records whether it built.
fn folder_run(dir: &Path, report: &Path) {
    let (summary, cached) = build_folder_once(dir, |partial| {
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(partial.join("out.txt"), "built once\n")?;
        Ok(42u32)
    })
    .unwrap();
    assert_eq!(summary, 42);
    std::fs::write(report, if cached { "cached" } else { "built" }).unwrap();
}

/// The child side (a no-op when the test suite runs normally).
#[test]
fn child_process_entry() {
    let Ok(mode) = std::env::var("STAGE_CHILD") else {
        return;
    };
    let dir = PathBuf::from(std::env::var("STAGE_DIR").unwrap());
    let report = PathBuf::from(std::env::var("STAGE_REPORT").unwrap());
    match mode.as_str() {
        "sharded" => sharded_run(&dir, &report),
        "folder" => folder_run(&dir, &report),
        other => panic!("unknown child mode {other}"),
    }
}

fn spawn(mode: &str, dir: &Path, report: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process_entry", "--test-threads=1"])
        .env("STAGE_CHILD", mode)
        .env("STAGE_DIR", dir)
        .env("STAGE_REPORT", report)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn run_two(mode: &str, dir: &Path, tmp: &Path) -> [String; 2] {
    let reports = [tmp.join("r0"), tmp.join("r1")];
    let children: Vec<Child> = reports.iter().map(|r| spawn(mode, dir, r)).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a {mode} child failed");
    }
    reports.map(|r| std::fs::read_to_string(r).unwrap())
}

#[test]
fn two_processes_on_one_sharded_stage_write_each_shard_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stage");
    let [a, b] = run_two("sharded", &dir, tmp.path());
    let written: usize = a.parse::<usize>().unwrap() + b.parse::<usize>().unwrap();
    // Without the lock both runs see unfinished shards and write them concurrently through the
    // same temporary names; with it the second waits and then finds every shard done.
    assert_eq!(written, SHARDS, "shards written by the two runs: {a} + {b}");

    // The outputs are what one uninterrupted run writes, byte for byte.
    let single = tmp.path().join("single");
    sharded_run(&single, &tmp.path().join("r-single"));
    for shard in 0..SHARDS {
        let name = format!("s{shard:02}.jsonl.zst");
        let got = std::fs::read(dir.join(&name)).unwrap();
        assert_eq!(got, std::fs::read(single.join(&name)).unwrap(), "{name}");
        let (docs, _) = read_docs(&dir.join(&name), OnMalformed::Error).unwrap();
        assert_eq!(docs.len(), 50);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn two_processes_on_one_cached_folder_build_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache").join("stage-0123");
    let mut outcomes = run_two("folder", &dir, tmp.path()).to_vec();
    outcomes.sort();
    assert_eq!(outcomes, ["built", "cached"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("out.txt")).unwrap(),
        "built once\n"
    );
    assert!(!tmp.path().join("cache/stage-0123.partial").exists());
}
