//! Helpers for crash-anywhere resume tests (feature `testing`, issue 19 item 2), shared by every
//! crate that kills a stage with SIGKILL and checks the resumed output: reproducible kill moments,
//! the kill / resume / compare loop, and a folder snapshot that ignores lock files.
//!
//! A test describes its stage as a closure that builds the command of one (resumable) run into a
//! given folder — a real CLI (`env!("CARGO_BIN_EXE_…")`) or the test binary started again in a
//! child mode — and calls [`kill_anywhere`]; `LMREPRO_KILL_POINTS` sets how many kill points
//! (default 3, the test command; ≥ 20 is the benchmark-style run).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How many kill points a test runs: `LMREPRO_KILL_POINTS`, else `default`.
pub fn kill_points(default: usize) -> usize {
    std::env::var("LMREPRO_KILL_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Pseudo-random fractions in [0, 1) (splitmix64 from `seed`), so kill moments are reproducible
/// and spread over the whole run.
pub fn kill_fractions(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % 1000) as f64 / 1000.0
        })
        .collect()
}

/// Every file under `dir` (relative path → bytes), lock files (`*.lock`) left out: they are never
/// deleted and hold nothing.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
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

/// Panics with the first difference between two [`tree`]s (names first, then bytes).
pub fn assert_same_tree(
    want: &BTreeMap<String, Vec<u8>>,
    got: &BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: other files than an uninterrupted run"
    );
    for (name, bytes) in want {
        assert!(got[name] == *bytes, "{what}: {name} differs");
    }
}

/// What [`kill_anywhere`] measured.
#[derive(Debug, Clone)]
pub struct KillReport {
    /// Wall time of the uninterrupted run.
    pub full: Duration,
    /// Kill points tried, and how many of them landed inside a run (the process died by the
    /// signal rather than finishing first).
    pub points: usize,
    pub killed_midway: usize,
}

/// Runs the stage uninterrupted into `<root>/reference/<name>`, then for each of `points` kill
/// moments (fractions of the uninterrupted time from `seed`) starts it in `<root>/run<i>/<name>`,
/// SIGKILLs it, resumes it to completion and requires the run folder's [`tree`] (minus files for
/// which `ignore` is true, e.g. logs with timings) to equal the reference's byte for byte.
/// `command(dir)` builds the command of one run writing into `dir`; it must succeed.
pub fn kill_anywhere(
    root: &Path,
    name: &str,
    seed: u64,
    points: usize,
    command: impl Fn(&Path) -> Command,
    ignore: impl Fn(&str) -> bool,
) -> KillReport {
    let filtered = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        tree(dir).into_iter().filter(|(k, _)| !ignore(k)).collect()
    };
    let run_to_end = |dir: &Path, what: &str| {
        let out = command(dir).output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let reference: PathBuf = root.join("reference");
    let started = Instant::now();
    run_to_end(&reference.join(name), "uninterrupted run");
    let full = started.elapsed();
    let want = filtered(&reference);
    assert!(!want.is_empty(), "{name}: the run wrote nothing");
    let mut killed_midway = 0;
    for (i, fraction) in kill_fractions(seed, points).into_iter().enumerate() {
        let run = root.join(format!("run{i}"));
        let mut c = command(&run.join(name))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(fraction));
        c.kill().ok();
        if !c.wait().unwrap().success() {
            killed_midway += 1;
        }
        run_to_end(&run.join(name), &format!("resume after kill point {i}"));
        assert_same_tree(
            &want,
            &filtered(&run),
            &format!("{name}: kill point {i} ({fraction:.3} of {full:?}) and resume"),
        );
    }
    KillReport {
        full,
        points,
        killed_midway,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_reproducible_and_spread() {
        let a = kill_fractions(1, 50);
        assert_eq!(a, kill_fractions(1, 50));
        assert!(a.iter().all(|f| (0.0..1.0).contains(f)));
        assert!(a.iter().any(|&f| f < 0.3) && a.iter().any(|&f| f > 0.7));
        assert_ne!(a, kill_fractions(2, 50));
    }

    #[test]
    fn tree_skips_locks_and_reads_nested_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::write(d.path().join("a/b/x"), b"1").unwrap();
        std::fs::write(d.path().join("a/.x.lock"), b"").unwrap();
        let t = tree(d.path());
        assert_eq!(t.keys().collect::<Vec<_>>(), vec!["a/b/x"]);
        assert_same_tree(&t, &t, "self");
    }
}
