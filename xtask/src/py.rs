//! The Python package (`python/`, issue 16): `py-setup` builds it into the project-local
//! virtualenv `.venv-py/`, `test` runs its pytest suite there after the Rust tests.
//!
//! - `.venv-py/` gets the pinned `python/requirements-dev.txt` (maturin, pytest, datatrove), then
//!   `maturin develop` builds the `lmrepro` wheel (crate `crates/py`, feature `python`) in the dev
//!   profile: the stage crates are opt-level 2 there, and it shares the workspace's target dir.
//! - Without `.venv-py/`, `test` prints a `skip:` line (an error under `LMREPRO_REQUIRE_ALL=1`):
//!   the Rust build and tests never need Python.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The project-local virtualenv of the Python package.
pub const VENV: &str = ".venv-py";

fn python(root: &Path) -> PathBuf {
    root.join(VENV).join("bin/python")
}

/// `cargo xtask py-setup`: the virtualenv, its pinned packages, and the wheel built into it.
pub fn setup(root: &Path) -> Result<()> {
    let started = Instant::now();
    let venv = root.join(VENV);
    super::pip_venv(&venv, &["python/requirements-dev.txt"])?;
    let deps = started.elapsed().as_secs_f64();
    build(root)?;
    eprintln!(
        "xtask: {} ready (packages {deps:.1} s, wheel {:.1} s)",
        venv.display(),
        started.elapsed().as_secs_f64() - deps
    );
    Ok(())
}

/// `maturin develop` (dev profile) into `.venv-py/`: incremental, so a no-op build is seconds.
fn build(root: &Path) -> Result<()> {
    let venv = root.join(VENV);
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    super::run(
        Command::new(venv.join("bin/maturin"))
            .args(["develop", "--quiet"])
            .current_dir(root.join("python"))
            .env("VIRTUAL_ENV", &venv)
            .env("PATH", path),
    )
}

/// The pytest suite, run by `cargo xtask test` after the Rust tests (which built the CLI the
/// suite compares against).
pub fn test(root: &Path) -> Result<()> {
    if !python(root).is_file() {
        let why = format!(
            "skip: python package tests ({VENV}/ missing; `cargo xtask py-setup` creates it)"
        );
        if std::env::var_os("LMREPRO_REQUIRE_ALL").is_some_and(|v| v == "1") {
            bail!("{why} (LMREPRO_REQUIRE_ALL=1)");
        }
        println!("{why}");
        return Ok(());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    // `cargo test --workspace` built the CLI for its own integration tests; build it only when a
    // caller ran this alone (a `-p` build may resolve features differently and rebuild).
    if !target.join("debug/lmrepro").is_file() {
        super::cargo(&["build", "-p", "lmrepro-cli"], &[])?;
    }
    build(root)?;
    let started = Instant::now();
    super::run(
        Command::new(python(root))
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "python/tests",
            ])
            .env("LMREPRO_CLI", target.join("debug/lmrepro")),
    )?;
    eprintln!(
        "xtask: python package tests passed ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
