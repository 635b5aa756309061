//! `cargo xtask <command>`: the project's entry points (the cargo-xtask pattern).
//!
//! - `reproduce ARGS`: regenerate `results/<recipe>/` (release build of the `lmrepro` CLI, then
//!   `lmrepro reproduce ARGS`; the arguments are the CLI's, passed through unchanged).
//! - `fetch [recipe...]`: resolve (cache → mirror → download) and verify every pinned input.
//! - `test`: fetch the pinned test inputs (fails loudly if one is missing), then run the test suite
//!   (with `--features lmrepro-model/wgpu-device` where a Vulkan driver exists: the wgpu parity tests,
//!   `gpu.rs`), the Python package's tests and `bench --smoke`.
//! - `bench [name...]`: ours against the pinned peers on the same inputs and cores, ratio table
//!   and one JSON line per measurement in `benchmarks/results/` ([`bench`]); `test` runs its
//!   `--smoke` mode.
//! - `kill-anywhere [--points N] [--seeds S...]`: the kill -9 / resume tests of every stage with
//!   many kill points (benchmark-style; `kill.rs`).
//! - `gpu-test`: only the wgpu parity tests on a Vulkan device (`gpu.rs`; `test` runs them too).
//! - `ci`: what `.ci/run` runs: formatting, clippy, then `test`.
//! - `ray-setup`: the Ray engine's virtualenv (`.venv-ray/`, pinned `python/requirements-ray.txt`,
//!   and `python/requirements-s3.txt`: moto's S3 server for the object-store test).
//! - `py-setup` / `py-test`: the Python package's virtualenv (`.venv-py/`) with the wheel built in,
//!   and its pytest suite alone ([`py`]).
//!
//! `reproduce` also takes `--engine local|ray`, `--ray-address ADDR` and `--until STAGE` (the
//! dclm-baseline data stages; docs/scale-out.md): `--until` runs `lmrepro dclm stages`, the Ray
//! engine runs the data stages through `python/lmrepro_ray/driver.py` (then, without `--until`,
//! trains and evaluates locally on the cached data stages).

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use lmrepro_data::{workspace_root, Resolver};
use std::process::Command;

mod bench;
mod gpu;
mod kill;
mod py;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "lmrepro developer and reproduction tasks"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Regenerate results/<recipe>/ (a release build of `lmrepro`, then `lmrepro reproduce ARGS`;
    /// `cargo xtask reproduce --help` lists the arguments).
    #[command(disable_help_flag = true)]
    Reproduce {
        /// Passed to `lmrepro reproduce` unchanged (recipe, --list, --scale, --dry-run, --out).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Resolve and verify the pinned inputs of the given recipes (all recipes when none given).
    Fetch { recipes: Vec<String> },
    /// Fetch all pinned test inputs, then run the workspace tests (extra args go to cargo test).
    Test {
        #[arg(last = true)]
        rest: Vec<String>,
    },
    /// Formatting check, clippy with warnings denied, then `test` (what CI runs).
    Ci,
    /// Install the pinned `ray` into the project-local virtualenv `.venv-ray/` (the Ray engine's
    /// only Python dependency; the Rust build and `--engine local` never need it).
    RaySetup,
    /// Build the `lmrepro` Python package into `.venv-py/` (pinned python/requirements-dev.txt).
    PySetup,
    /// Only the Python package's pytest suite (what `test` runs after the Rust tests).
    PyTest,
    /// Only lmrepro-model's wgpu parity tests on a Vulkan device (Mesa's llvmpipe without a GPU:
    /// `apt-get install mesa-vulkan-drivers`); `test` runs them too (docs/gpu.md).
    GpuTest,
    /// Ours vs the pinned peers (DCLM mappers, `tokenizers`, DCLM bff, datatrove, fastText,
    /// resiliparse): alternating rounds on the same cores, JSONL + ratio table in
    /// benchmarks/results/ (benchmarks/README.md).
    Bench(bench::BenchArgs),
    /// The kill -9 / resume tests of every stage with many kill points (docs/reliability.md §3).
    KillAnywhere {
        #[arg(long, default_value_t = 20)]
        points: usize,
        /// Kill-moment seeds (`LMREPRO_KILL_SEED`), one full run each.
        #[arg(long, num_args = 1..)]
        seeds: Vec<u64>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    default_mirror();
    match cli.command {
        Cmd::Reproduce { args } => {
            let engine = EngineArgs::split(args)?;
            if engine.ray || engine.until.is_some() {
                return reproduce_engine(&root, engine);
            }
            let args = engine.rest;
            // A newcomer's first command starts with a release build of several minutes: say so
            // and let cargo show its progress rather than sit silent.
            eprintln!("xtask: building the `lmrepro` CLI (release; the first build takes several minutes)");
            let mut all = vec!["reproduce".to_string()];
            all.extend(args);
            cargo(&["run", "--release", "-p", "lmrepro-cli", "--"], &all)
        }
        Cmd::Fetch { recipes } => fetch(&recipes),
        Cmd::Test { rest } => test_suite(&root, &rest),
        Cmd::Ci => {
            cargo(&["fmt", "--all", "--", "--check"], &[])?;
            cargo(
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
                &[],
            )?;
            cargo(
                &[
                    "clippy",
                    "-p",
                    "lmrepro-model",
                    "-p",
                    "lmrepro-remote",
                    "--features",
                    "lmrepro-model/cuda,lmrepro-model/wgpu,lmrepro-remote/s3",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
                &[],
            )?;
            test_suite(&root, &[])
        }
        Cmd::RaySetup => ray_setup(&root),
        Cmd::PySetup => py::setup(&root),
        Cmd::PyTest => py::test(&root),
        Cmd::GpuTest => gpu::wgpu_tests(&root),
        Cmd::Bench(args) => bench::run(&root, args),
        Cmd::KillAnywhere { points, seeds } => kill::run(&root, points, &seeds),
    }
}

/// `cargo xtask bench --smoke` with the debug CLI the workspace tests built (part of `test`).
fn bench_smoke(root: &std::path::Path) -> Result<()> {
    let started = std::time::Instant::now();
    let args = <bench::BenchArgs as clap::FromArgMatches>::from_arg_matches(
        &<bench::BenchArgs as clap::Args>::augment_args(clap::Command::new("bench"))
            .get_matches_from(["bench", "--smoke"]),
    )?;
    bench::run(root, args)?;
    eprintln!(
        "xtask: bench --smoke passed ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
/// The object-store test: `lmrepro-remote` with its optional `s3` feature (off in the workspace
/// build, so only this crate and its S3 client are compiled with it), against moto on 127.0.0.1.
const OBJECT_STORE_TEST: &[&str] = &["test", "-p", "lmrepro-remote", "--features", "s3"];

/// The project-local virtualenv of the Ray engine.
const RAY_VENV: &str = ".venv-ray";

fn ray_setup(root: &std::path::Path) -> Result<()> {
    let started = std::time::Instant::now();
    let venv = root.join(RAY_VENV);
    // moto's S3-compatible server is for the object-store test (crates/remote).
    pip_venv(
        &venv,
        &["python/requirements-ray.txt", "python/requirements-s3.txt"],
    )?;
    eprintln!(
        "xtask: {} ready ({:.1} s)",
        venv.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Creates the virtualenv at `venv` if it has no interpreter yet (with `LMREPRO_PYTHON`, default
/// `python3`), then installs the pinned requirement files into it; returns its `python`. The one
/// way the Ray, Python-package and benchmark-peer environments are made.
pub(crate) fn pip_venv(
    venv: &std::path::Path,
    requirements: &[&str],
) -> Result<std::path::PathBuf> {
    let python = venv.join("bin/python");
    if !python.is_file() {
        let py = std::env::var("LMREPRO_PYTHON").unwrap_or_else(|_| "python3".into());
        run(Command::new(&py).args(["-m", "venv"]).arg(venv))?;
    }
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-cache-dir",
        "--disable-pip-version-check",
    ]);
    for r in requirements {
        pip.args(["-r", r]);
    }
    run(&mut pip)?;
    Ok(python)
}

/// `reproduce`'s engine options, taken out of the arguments passed to `lmrepro reproduce`.
struct EngineArgs {
    ray: bool,
    address: Option<String>,
    until: Option<String>,
    /// The recipe and `--scale`, needed by `lmrepro dclm stages` and the driver.
    recipe: Option<String>,
    scale: Option<String>,
    rest: Vec<String>,
}

impl EngineArgs {
    fn split(args: Vec<String>) -> Result<EngineArgs> {
        let mut e = EngineArgs {
            ray: false,
            address: None,
            until: None,
            recipe: None,
            scale: None,
            rest: Vec::new(),
        };
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (a.clone(), None),
            };
            let mut value = |name: &str| -> Result<String> {
                match inline.clone().or_else(|| it.next()) {
                    Some(v) => Ok(v),
                    None => bail!("`{name}` needs a value"),
                }
            };
            match flag.as_str() {
                "--engine" => match value("--engine")?.as_str() {
                    "local" => e.ray = false,
                    "ray" => e.ray = true,
                    other => bail!("--engine `{other}`: expected `local` or `ray`"),
                },
                "--ray-address" => e.address = Some(value("--ray-address")?),
                "--until" => e.until = Some(value("--until")?),
                "--scale" => {
                    let v = value("--scale")?;
                    e.scale = Some(v.clone());
                    e.rest.extend(["--scale".to_string(), v]);
                }
                _ => {
                    if !a.starts_with('-') && e.recipe.is_none() {
                        e.recipe = Some(a.clone());
                    }
                    e.rest.push(a);
                }
            }
        }
        if e.address.is_some() && !e.ray {
            bail!("--ray-address needs --engine ray");
        }
        Ok(e)
    }
}

/// `--until` and/or `--engine ray`: the dclm data stages on the chosen engine.
fn reproduce_engine(root: &std::path::Path, e: EngineArgs) -> Result<()> {
    let Some(recipe) = e.recipe.clone() else {
        bail!("--engine / --until need a recipe (e.g. `dclm-baseline`)");
    };
    // `LMREPRO_CLI_PROFILE=dev` reuses a test build (the dclm crates are optimised in dev too).
    let profile = std::env::var("LMREPRO_CLI_PROFILE").unwrap_or_else(|_| "release".into());
    eprintln!("xtask: building the `lmrepro` CLI ({profile})");
    cargo(&["build", "--profile", &profile, "-p", "lmrepro-cli"], &[])?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let lmrepro = target
        .join(if profile == "dev" { "debug" } else { &profile })
        .join("lmrepro");
    let mut at = vec!["--recipe".to_string(), recipe];
    if let Some(s) = &e.scale {
        at.extend(["--scale".to_string(), s.clone()]);
    }
    let until = e.until.clone().unwrap_or_else(|| "tokenize".into());
    if e.ray {
        let python = root.join(RAY_VENV).join("bin/python");
        if !python.is_file() {
            bail!(
                "{} not found: run `cargo xtask ray-setup` first",
                python.display()
            );
        }
        let mut cmd = Command::new(&python);
        cmd.args(["-m", "lmrepro_ray.driver", "--lmrepro"])
            .arg(&lmrepro)
            .args(&at)
            .args(["--until", &until])
            .env("PYTHONPATH", root.join("python"));
        if let Some(a) = &e.address {
            cmd.args(["--address", a]);
        }
        run(&mut cmd)?;
    } else {
        run(Command::new(&lmrepro)
            .args(["dclm", "stages"])
            .args(&at)
            .args(["--until", &until]))?;
    }
    if e.until.is_none() {
        // Training and evaluation stay on this machine; the data stages are cache hits now.
        let mut all = vec!["reproduce".to_string()];
        all.extend(e.rest);
        return run(Command::new(&lmrepro).args(&all));
    }
    Ok(())
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed ({status})", cmd.get_program());
    }
    Ok(())
}

/// Tests and reproductions read the mirror beside the checkout when none is configured.
fn default_mirror() {
    if std::env::var_os("LMREPRO_DATA_MIRROR").is_none() {
        let beside = workspace_root().join("../shared/data");
        if beside.is_dir() {
            if let Ok(abs) = beside.canonicalize() {
                std::env::set_var("LMREPRO_DATA_MIRROR", abs);
            }
        }
    }
}

/// README command 2 (`test`, also the end of `ci`): the pinned test inputs, the workspace tests
/// (`rest` passed to cargo; with the wgpu parity suite where a Vulkan driver exists), the
/// object-store test, the Python package's tests, `bench --smoke`.
fn test_suite(root: &std::path::Path, rest: &[String]) -> Result<()> {
    fetch(&[])?;
    let mut args = gpu::workspace_features()?;
    args.extend(rest.iter().cloned());
    cargo(&["test", "--workspace"], &args)?;
    cargo(OBJECT_STORE_TEST, rest)?;
    py::test(root)?;
    bench_smoke(root)
}

fn cargo(base: &[&str], rest: &[String]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(base)
        .args(rest)
        .status()
        .with_context(|| format!("running {cargo} {}", base.join(" ")))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", base.join(" "));
    }
    Ok(())
}

fn fetch(names: &[String]) -> Result<()> {
    let resolver = Resolver::from_env();
    lmrepro_data::fetch::fetch(names, &resolver, |_, _, _| {})?.print_and_check(&resolver)
}
