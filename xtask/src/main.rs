//! `cargo xtask <command>`: the project's entry points (the cargo-xtask pattern).
//!
//! - `reproduce ARGS`: regenerate `results/<recipe>/` (release build of the `lmrepro` CLI, then
//!   `lmrepro reproduce ARGS`; the arguments are the CLI's, passed through unchanged).
//! - `fetch [recipe...]`: resolve (cache → mirror → download) and verify every pinned input.
//! - `test`: fetch the pinned test inputs (fails loudly if one is missing), then run the test suite.
//! - `ci`: what `.ci/run` runs: formatting, clippy, then `test`.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use lmrepro_data::{workspace_root, Resolver};
use std::process::Command;

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
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    default_mirror();
    match cli.command {
        Cmd::Reproduce { args } => {
            // A newcomer's first command starts with a release build of several minutes: say so
            // and let cargo show its progress rather than sit silent.
            eprintln!("xtask: building the `lmrepro` CLI (release; the first build takes several minutes)");
            let mut all = vec!["reproduce".to_string()];
            all.extend(args);
            cargo(&["run", "--release", "-p", "lmrepro-cli", "--"], &all)
        }
        Cmd::Fetch { recipes } => fetch(&recipes),
        Cmd::Test { rest } => {
            fetch(&[])?;
            cargo(&["test", "--workspace"], &rest)
        }
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
            fetch(&[])?;
            cargo(&["test", "--workspace"], &[])
        }
    }
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
