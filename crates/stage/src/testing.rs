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
    below(dir)
        .into_iter()
        .filter(|p| !p.is_dir() && !p.to_string_lossy().ends_with(".lock"))
        .map(|p| (relative(dir, &p), std::fs::read(&p).unwrap()))
        .collect()
}

/// Every file and folder under `dir`, at any depth (nothing when `dir` cannot be read).
fn below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

fn relative(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir).unwrap().to_string_lossy().into_owned()
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

/// Set in a stage's environment (by [`kill_anywhere_with`]): milliseconds
/// [`crate::publish`] pauses before and after each rename, so that kill moments land inside the
/// publish window (a finished temporary file not yet renamed; renamed but its marker not yet
/// written) often enough to be tested, not only by luck.
pub const PUBLISH_PAUSE_ENV: &str = "LMREPRO_TEST_PUBLISH_PAUSE_MS";
/// Set in a stage's environment: the file [`publish_window`] appends its trace lines to.
pub const PUBLISH_TRACE_ENV: &str = "LMREPRO_TEST_PUBLISH_TRACE";

/// The testing hook of [`crate::publish`] (only compiled with feature `testing`, only active when
/// [`PUBLISH_PAUSE_ENV`] is set): appends `pause <what> <to>` to the trace, sleeps, appends
/// `resume`. A process killed while the trace ends in a `pause` line died inside a publish window.
pub fn publish_window(to: &Path, what: &str) {
    let Some(ms) = std::env::var(PUBLISH_PAUSE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let trace = |line: String| {
        if let Some(path) = std::env::var_os(PUBLISH_TRACE_ENV) {
            use std::io::Write;
            // One write per line on an O_APPEND file: lines of a killed process are whole.
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                f.write_all(line.as_bytes()).ok();
            }
        }
    };
    trace(format!("pause {what} {}\n", to.display()));
    std::thread::sleep(Duration::from_millis(ms));
    trace("resume\n".to_string());
}

/// Names under `dir` (files and folders, at any depth) that look like unfinished output: a
/// `.partial` or `.tmp` in the name. A resumed stage must leave none.
pub fn leftovers(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = below(dir)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.contains(".partial") || name.contains(".tmp")
        })
        .map(|p| relative(dir, &p))
        .collect();
    out.sort();
    out
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
    /// Renames through [`crate::publish`] in the uninterrupted run (0 without a publish pause).
    pub publishes: usize,
    /// Kill points that landed inside a publish window (the killed run's trace ends in `pause`).
    pub killed_in_publish: usize,
}

/// Options of [`kill_anywhere_with`].
#[derive(Debug, Clone, Default)]
pub struct KillOptions {
    /// Pause before and after every [`crate::publish`] rename (zero: no hook, no trace). Set,
    /// the uninterrupted run must publish at least once (else the stage does not publish
    /// through [`crate::publish`], or the binary was built without feature `testing`).
    pub publish_pause: Duration,
}

/// Runs the stage uninterrupted into `<root>/reference/<name>`, then for each of `points` kill
/// moments (fractions of the uninterrupted time from `seed`; halved and retried from scratch when
/// the run had already finished) starts it in `<root>/run<i>/<name>`, SIGKILLs it, resumes it to
/// completion and requires the run folder's [`tree`] (minus files for
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
    kill_anywhere_with(
        root,
        name,
        seed,
        points,
        &KillOptions::default(),
        command,
        |k, bytes| (!ignore(k)).then_some(bytes),
    )
}

/// [`kill_anywhere`] with options and a comparison filter: `compare(path, bytes)` gives the
/// bytes to compare for a file (`None` leaves the file out), so a file whose only legitimate
/// difference is a timing can be compared with that field blanked rather than not at all. After
/// each resume, the run folder must also hold no [`leftovers`].
pub fn kill_anywhere_with(
    root: &Path,
    name: &str,
    seed: u64,
    points: usize,
    opts: &KillOptions,
    command: impl Fn(&Path) -> Command,
    compare: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
) -> KillReport {
    let filtered = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        tree(dir)
            .into_iter()
            .filter_map(|(k, v)| compare(&k, v).map(|v| (k, v)))
            .collect()
    };
    let traces = root.join("publish-traces");
    std::fs::create_dir_all(&traces).unwrap();
    let with_hook = |dir: &Path, trace: &str| {
        let mut c = command(dir);
        if !opts.publish_pause.is_zero() {
            c.env(
                PUBLISH_PAUSE_ENV,
                opts.publish_pause.as_millis().to_string(),
            )
            .env(PUBLISH_TRACE_ENV, traces.join(trace));
        }
        c
    };
    let run_to_end = |dir: &Path, what: &str, trace: &str| {
        let out = with_hook(dir, trace).output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let trace_lines = |trace: &str| -> Vec<String> {
        std::fs::read_to_string(traces.join(trace))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let reference: PathBuf = root.join("reference");
    let started = Instant::now();
    run_to_end(&reference.join(name), "uninterrupted run", "reference");
    let full = started.elapsed();
    let want = filtered(&reference);
    assert!(!want.is_empty(), "{name}: the run wrote nothing");
    let publishes = trace_lines("reference")
        .iter()
        .filter(|l| l.starts_with("pause before"))
        .count();
    assert!(
        opts.publish_pause.is_zero() || publishes > 0,
        "{name}: no rename went through lmrepro_stage::publish (is the binary built with \
         lmrepro-stage's feature `testing`?)"
    );
    let mut killed_midway = 0;
    let mut killed_in_publish = 0;
    for (i, mut fraction) in kill_fractions(seed, points).into_iter().enumerate() {
        let run = root.join(format!("run{i}"));
        let killed = format!("run{i}-killed");
        // On a loaded machine a run can be faster than the uninterrupted one was, and finish
        // before a late kill moment: then the point is tried again, from scratch, at half the
        // moment (up to 4 times), so kill points land inside runs instead of the test depending
        // on the load (the 3-point tests failed "no kill landed inside a run" now and then).
        for attempt in 0..4 {
            if attempt > 0 {
                std::fs::remove_dir_all(&run).unwrap();
                std::fs::remove_file(traces.join(&killed)).ok();
                fraction /= 2.0;
            }
            let mut c = with_hook(&run.join(name), &killed)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(full.mul_f64(fraction));
            if matches!(c.try_wait(), Ok(Some(status)) if status.success()) && attempt < 3 {
                continue;
            }
            c.kill().ok();
            if !c.wait().unwrap().success() {
                killed_midway += 1;
                if trace_lines(&killed)
                    .last()
                    .is_some_and(|l| l.starts_with("pause"))
                {
                    killed_in_publish += 1;
                }
            }
            break;
        }
        run_to_end(
            &run.join(name),
            &format!("resume after kill point {i}"),
            &format!("run{i}-resumed"),
        );
        let what = format!("{name}: kill point {i} ({fraction:.3} of {full:?}) and resume");
        assert_same_tree(&want, &filtered(&run), &what);
        let left = leftovers(&run);
        assert!(left.is_empty(), "{what}: unfinished files left: {left:?}");
    }
    KillReport {
        full,
        points,
        killed_midway,
        publishes,
        killed_in_publish,
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
