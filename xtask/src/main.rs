//! `cargo xtask <command>`: the project's entry points (the cargo-xtask pattern).
//!
//! - `reproduce <recipe>` / `reproduce --list`: regenerate `results/<recipe>/` (release build of
//!   the `lmrepro` CLI, then `lmrepro reproduce`).
//! - `fetch [recipe...]`: resolve (cache → mirror → download) and verify every pinned input.
//! - `test`: fetch the pinned test inputs (fails loudly if one is missing), then run the test suite.
//! - `ci`: what `.ci/run` runs: formatting, clippy, then `test`.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use lmrepro_data::{workspace_root, Recipe, Resolver, Source};
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
    /// Regenerate results/<recipe>/ from recipes/<recipe>.toml.
    Reproduce {
        /// Recipe name (file stem under recipes/).
        recipe: Option<String>,
        /// List the recipes instead.
        #[arg(long)]
        list: bool,
        /// Scale of a multi-scale recipe (dclm-baseline: tiny, 400m-1x, 1b-1x, 7b-1x, 7b-2x).
        #[arg(long)]
        scale: Option<String>,
        /// Print the plan of the scale instead of running it.
        #[arg(long)]
        dry_run: bool,
        /// Extra arguments passed to `lmrepro reproduce`.
        #[arg(last = true)]
        rest: Vec<String>,
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
        Cmd::Reproduce {
            recipe,
            list,
            scale,
            dry_run,
            rest,
        } => {
            let mut args = vec!["reproduce".to_string()];
            if list {
                args.push("--list".into());
            } else {
                args.push(recipe.context("name a recipe, or pass --list")?);
            }
            if let Some(s) = scale {
                args.extend(["--scale".to_string(), s]);
            }
            if dry_run {
                args.push("--dry-run".into());
            }
            args.extend(rest);
            cargo(
                &["run", "--quiet", "--release", "-p", "lmrepro-cli", "--"],
                &args,
            )
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
    let names = if names.is_empty() {
        Recipe::list()?
    } else {
        names.to_vec()
    };
    let resolver = Resolver::from_env();
    let mut seen = std::collections::BTreeSet::new();
    let (mut cache, mut mirror, mut download) = (0, 0, 0);
    let mut missing = Vec::new();
    let mut optional_missing = Vec::new();
    for name in &names {
        let recipe = Recipe::load_named(name)?;
        for input in &recipe.inputs {
            if !seen.insert((input.path.clone(), input.sha256.clone())) {
                continue;
            }
            match resolver.resolve(input) {
                Ok((_, Source::Cache)) => cache += 1,
                Ok((_, Source::Mirror)) => mirror += 1,
                Ok((_, Source::Download)) => download += 1,
                Err(e) if input.optional => optional_missing.push(format!(
                    "{} ({}): {}",
                    input.name,
                    recipe.name,
                    first_line(&e.to_string())
                )),
                Err(e) => missing.push(format!("[{}] {e}", recipe.name)),
            }
        }
    }
    eprintln!(
        "xtask fetch: {} inputs of {} recipes verified ({cache} from cache, {mirror} from mirror {}, {download} downloaded)",
        cache + mirror + download,
        names.len(),
        resolver
            .mirror_dir
            .as_ref()
            .map_or("<none>".to_string(), |m| m.display().to_string()),
    );
    if !optional_missing.is_empty() {
        eprintln!(
            "optional inputs not available ({}); runs that need them report partial results:",
            optional_missing.len()
        );
        for m in &optional_missing {
            eprintln!("  - {m}");
        }
    }
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("error: {m}");
        }
        bail!("{} required input(s) missing", missing.len());
    }
    Ok(())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
