//! Opt-in CPU timer of a step's work loop alone (issue 17: `cargo xtask bench fasttext` compares
//! our prediction loop with the peer's, which times `predict` in-process with
//! `time.process_time()`).
//!
//! Off unless `LMREPRO_WORK_TIMES` names a file; then [`WorkTimer::finish`] appends one JSON
//! line `{"step": …, "cpu_s": …, "wall_s": …}` to it. The figures never enter `stats.json` or
//! a stage key: they differ from run to run, and stage outputs must be deterministic.
//!
//! Invariant: timing never changes what the timed closure computes; with the variable unset
//! no clock is read at all.

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The variable naming the side file (appended to; the caller empties it between runs).
pub const ENV: &str = "LMREPRO_WORK_TIMES";

/// Accumulates the CPU and wall time of the sections passed to [`WorkTimer::time`].
pub struct WorkTimer {
    step: &'static str,
    file: Option<PathBuf>,
    cpu: Duration,
    wall: Duration,
}

impl WorkTimer {
    /// A timer for `step`, active when [`ENV`] is set to a non-empty path.
    pub fn from_env(step: &'static str) -> WorkTimer {
        let file = std::env::var_os(ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        WorkTimer {
            step,
            file,
            cpu: Duration::ZERO,
            wall: Duration::ZERO,
        }
    }

    /// Runs `f`, adding its CPU time (user + sys of the whole process, all threads: what
    /// Python's `time.process_time()` measures) and wall time when active.
    pub fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        if self.file.is_none() {
            return f();
        }
        let (c0, w0) = (process_cpu(), Instant::now());
        let out = f();
        self.cpu += process_cpu().saturating_sub(c0);
        self.wall += w0.elapsed();
        out
    }

    /// Appends the step's line to the side file (nothing when inactive).
    pub fn finish(self) -> Result<()> {
        use std::io::Write;
        let Some(path) = &self.file else {
            return Ok(());
        };
        let line = serde_json::json!({
            "step": self.step,
            "cpu_s": self.cpu.as_secs_f64(),
            "wall_s": self.wall.as_secs_f64(),
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("{ENV}: opening {}", path.display()))?;
        writeln!(f, "{line}").with_context(|| format!("{ENV}: writing {}", path.display()))
    }
}

/// User + system CPU time of this process so far (all threads).
fn process_cpu() -> Duration {
    // SAFETY: a zeroed rusage is a valid out-parameter of getrusage(2).
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(u.ru_utime) + tv(u.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactive_timer_runs_the_closure_and_writes_nothing() {
        let mut t = WorkTimer {
            step: "x",
            file: None,
            cpu: Duration::ZERO,
            wall: Duration::ZERO,
        };
        assert_eq!(t.time(|| 41 + 1), 42);
        assert_eq!(t.cpu, Duration::ZERO);
        t.finish().unwrap();
    }

    #[test]
    fn active_timer_appends_one_line_per_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("work.jsonl");
        for _ in 0..2 {
            let mut t = WorkTimer {
                step: "spin",
                file: Some(path.clone()),
                cpu: Duration::ZERO,
                wall: Duration::ZERO,
            };
            // Burn some CPU so the figure is > 0 on any clock resolution.
            let s = t.time(|| {
                (0..std::hint::black_box(3_000_000u64)).fold(0u64, |a, x| a.wrapping_add(x * x))
            });
            assert_ne!(s, 1);
            t.finish().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        for l in &lines {
            assert_eq!(l["step"], "spin");
            assert!(l["cpu_s"].as_f64().unwrap() >= 0.0);
            assert!(l["wall_s"].as_f64().unwrap() > 0.0);
        }
    }

    #[test]
    fn unwritable_side_file_is_an_error_naming_it() {
        let t = WorkTimer {
            step: "x",
            file: Some(PathBuf::from("/nonexistent-dir/work.jsonl")),
            cpu: Duration::ZERO,
            wall: Duration::ZERO,
        };
        let e = format!("{:#}", t.finish().unwrap_err());
        assert!(
            e.contains("LMREPRO_WORK_TIMES") && e.contains("/nonexistent-dir/work.jsonl"),
            "{e}"
        );
    }
}
