//! The peers, installed into the project-local `.venv-bench/` (git-ignored):
//!
//! - `.venv-bench/peers/`: `benchmarks/requirements-peers.txt` (Python `tokenizers`, datatrove
//!   0.10.1, fasttext-wheel, resiliparse 2.0.1), exact pins;
//! - `.venv-bench/dclm/`: `benchmarks/requirements-peers-dclm.txt`, DCLM's mapper dependencies
//!   as the conformance goldens ran them. A second virtualenv because datatrove 0.10.1 requires
//!   numpy ≥ 2 while fasttext-wheel 0.9.2's `predict` (called by DCLM's language-ID mapper)
//!   only works with numpy 1;
//! - DCLM's source at the pinned commit: `LMREPRO_DCLM_SRC=<checkout>`, else `git clone` into
//!   `.venv-bench/dclm-src/` when the network allows; its `dedup/bff` is built with
//!   `cargo build --release` into `.venv-bench/bff-target/`, outside the workspace's target dir.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const VENV: &str = ".venv-bench";
/// DCLM's commit that the conformance goldens and every peer figure use.
pub const DCLM_COMMIT: &str = "361714bdd60bb9b7f4b2d8354cebbf0dec0c329e";
const DCLM_REPO: &str = "https://github.com/mlfoundations/dclm";

/// Where each peer lives; `None` where it is not installed (the reason is in `missing`).
pub struct Peers {
    pub python: Option<PathBuf>,
    pub dclm_python: Option<PathBuf>,
    pub dclm_src: Option<PathBuf>,
    pub bff: Option<PathBuf>,
    /// What is missing, each with the benchmarks that need it.
    pub missing: Vec<(String, &'static [&'static str])>,
}

/// The benchmarks each peer serves.
const PY_BENCHES: &[&str] = &["tokenize", "minhash", "fasttext", "extract"];
const DCLM_BENCHES: &[&str] = &["heuristics"];
const BFF_BENCHES: &[&str] = &["bff"];

fn venv_python(root: &Path, name: &str) -> PathBuf {
    root.join(VENV).join(name).join("bin/python")
}

fn bff_binary(root: &Path) -> PathBuf {
    root.join(VENV).join("bff-target/release/bff")
}

/// The DCLM checkout: `LMREPRO_DCLM_SRC`, else the clone in `.venv-bench/dclm-src/`.
fn dclm_src(root: &Path) -> Option<PathBuf> {
    match std::env::var_os("LMREPRO_DCLM_SRC") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let p = root.join(VENV).join("dclm-src");
            p.is_dir().then_some(p)
        }
    }
}

impl Peers {
    /// What is installed now (no installation).
    pub fn find(root: &Path) -> Peers {
        let mut missing = Vec::new();
        let mut have = |p: PathBuf, what: &str, benches: &'static [&'static str]| {
            if p.exists() {
                Some(p)
            } else {
                missing.push((format!("{what}: {} missing", p.display()), benches));
                None
            }
        };
        let python = have(venv_python(root, "peers"), "peers venv", PY_BENCHES);
        let dclm_python = have(venv_python(root, "dclm"), "DCLM mappers venv", DCLM_BENCHES);
        let bff = have(bff_binary(root), "DCLM bff", BFF_BENCHES);
        let dclm_src = match dclm_src(root) {
            None => {
                missing.push((
                    "DCLM source: set LMREPRO_DCLM_SRC or run `cargo xtask bench --setup` online"
                        .into(),
                    DCLM_BENCHES,
                ));
                None
            }
            Some(p) => {
                let yaml = p.join("baselines/baselines_configs/dclm_baseline_refinedweb.yaml");
                if yaml.is_file() {
                    Some(p)
                } else {
                    missing.push((
                        format!("DCLM source: {} missing", yaml.display()),
                        DCLM_BENCHES,
                    ));
                    None
                }
            }
        };
        Peers {
            python,
            dclm_python,
            dclm_src,
            bff,
            missing,
        }
    }

    /// What is missing for any of `benches`.
    pub fn missing_for(&self, benches: &[String]) -> Vec<&str> {
        self.missing
            .iter()
            .filter(|(_, b)| benches.iter().any(|n| b.contains(&n.as_str())))
            .map(|(m, _)| m.as_str())
            .collect()
    }
}

/// `cargo xtask bench --setup`: both virtualenvs, the DCLM source and its `bff`.
pub fn setup(root: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    for (name, reqs) in [
        ("peers", "benchmarks/requirements-peers.txt"),
        ("dclm", "benchmarks/requirements-peers-dclm.txt"),
    ] {
        let venv = root.join(VENV).join(name);
        crate::pip_venv(&venv, &[reqs])?;
        eprintln!(
            "xtask: {} ready ({:.0} s)",
            venv.display(),
            started.elapsed().as_secs_f64()
        );
    }
    let src = match dclm_src(root) {
        Some(p) => p,
        None => {
            let dst = root.join(VENV).join("dclm-src");
            eprintln!(
                "xtask: cloning {DCLM_REPO} at {DCLM_COMMIT} into {}",
                dst.display()
            );
            crate::run(
                Command::new("git")
                    .args(["clone", "--quiet", DCLM_REPO])
                    .arg(&dst),
            )
            .context("no LMREPRO_DCLM_SRC and the clone failed (offline?)")?;
            crate::run(Command::new("git").arg("-C").arg(&dst).args([
                "checkout",
                "--quiet",
                DCLM_COMMIT,
            ]))?;
            dst
        }
    };
    let manifest = src.join("dedup/bff/Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "{} missing: LMREPRO_DCLM_SRC must be a checkout of mlfoundations/dclm@{DCLM_COMMIT}",
            manifest.display()
        );
    }
    // flate2's zlib-ng back end (DCLM's choice) builds zlib-ng with CMake.
    if Command::new("cmake").arg("--version").output().is_err() {
        bail!("DCLM's bff needs `cmake` to build zlib-ng (apt-get install cmake)");
    }
    // DCLM's own lock file and release profile; a target dir of its own so that our workspace's
    // target and DCLM's dependency versions never mix.
    crate::run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(root.join(VENV).join("bff-target"))
            .env_remove("CARGO_TARGET_DIR"),
    )?;
    eprintln!(
        "xtask: peers ready in {} ({:.0} s)",
        root.join(VENV).display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
