//! `cargo xtask kill-anywhere [--points N] [--seeds S...]`: the benchmark-style run of the crash-anywhere
//! resume tests (issue 19, item 2; docs/reliability.md §3): `lmrepro-stage tests/kill_resume.rs`
//! and `lmrepro-cli tests/kill_anywhere.rs` with `LMREPRO_KILL_POINTS=N` (default 20) for
//! each `LMREPRO_KILL_SEED` given (default 0), one test at a time (each stage's timing sets its
//! kill moments, so parallel tests would blur them), printing each stage's figures.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

pub fn run(root: &Path, points: usize, seeds: &[u64]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let seeds = if seeds.is_empty() { &[0][..] } else { seeds };
    for seed in seeds {
        for (package, test) in [
            ("lmrepro-stage", "kill_resume"),
            ("lmrepro-cli", "kill_anywhere"),
        ] {
            let started = std::time::Instant::now();
            let status = Command::new(&cargo)
                .current_dir(root)
                .args(["test", "-p", package, "--test", test, "--"])
                .args(["--nocapture", "--test-threads=1"])
                .env("LMREPRO_KILL_POINTS", points.to_string())
                .env("LMREPRO_KILL_SEED", seed.to_string())
                .status()
                .with_context(|| format!("running {cargo} test -p {package} --test {test}"))?;
            if !status.success() {
                bail!("{package} {test} failed with {points} kill points, seed {seed} ({status})");
            }
            eprintln!(
                "xtask: {package} {test}: {points} kill points, seed {seed}: pass in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
