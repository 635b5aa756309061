//! The reproducer registry behind `lmrepro reproduce` (also used by the workspace snapshot tests).
//!
//! A recipe's `kind` selects the function that regenerates its results. Every reproducer writes
//! into an empty directory; [`reproduce_into`] then adds `provenance.json`, so the committed
//! `results/<recipe>/` and a fresh run can be compared file by file.

use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_report::{write_file, Provenance};
use std::path::Path;

/// Signature every reproducer implements: returns the markdown tables to snapshot.
pub type ReproduceFn = fn(&Recipe, &Resolver, &Path) -> Result<Vec<String>>;

/// Recipe kinds and their reproducers.
pub fn reproducers() -> Vec<(&'static str, ReproduceFn)> {
    vec![
        ("scaling-overtraining", lmrepro_scaling::gadre::reproduce),
        (
            "chinchilla-approach3",
            lmrepro_scaling::chinchilla::reproduce,
        ),
        ("aiw", lmrepro_aiw::reproduce),
        ("dclm-heuristics", lmrepro_crawl::reproduce),
        ("crawl-extraction", lmrepro_extract::reproduce),
        ("train", lmrepro_model::reproduce),
        ("dclm-eval-aggregation", lmrepro_eval::reproduce),
        ("dclm-baseline", lmrepro_dclm::reproduce),
    ]
}

pub fn reproducer(kind: &str) -> Result<ReproduceFn> {
    reproducers()
        .into_iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, f)| f)
        .with_context(|| {
            let kinds: Vec<_> = reproducers().iter().map(|(k, _)| *k).collect();
            format!(
                "no reproducer for recipe kind `{kind}` (known: {})",
                kinds.join(", ")
            )
        })
}

/// Outcome of one reproduction.
pub struct Reproduced {
    pub tables: Vec<String>,
    pub files: Vec<String>,
}

/// Regenerates `recipe` into `out_dir` (created; must be empty or absent) and writes provenance.
pub fn reproduce_into(
    recipe: &Recipe,
    resolver: &Resolver,
    out_dir: &Path,
    command: &str,
) -> Result<Reproduced> {
    let run = reproducer(&recipe.kind)?;
    finish_into(recipe, resolver, out_dir, command, |out| {
        run(recipe, resolver, out)
    })
}

/// Like [`reproduce_into`] for one scale of a multi-scale recipe (dclm-baseline).
pub fn reproduce_scale_into(
    recipe: &Recipe,
    resolver: &Resolver,
    out_dir: &Path,
    command: &str,
    scale: &str,
) -> Result<Reproduced> {
    let opts = lmrepro_dclm::Options {
        scale: Some(scale.to_string()),
        ..Default::default()
    };
    let command = format!("{command} --scale {scale}");
    finish_into(recipe, resolver, out_dir, &command, |out| {
        lmrepro_dclm::reproduce_with(recipe, resolver, out, &opts)
    })
}

fn finish_into(
    recipe: &Recipe,
    resolver: &Resolver,
    out_dir: &Path,
    command: &str,
    run: impl FnOnce(&Path) -> Result<Vec<String>>,
) -> Result<Reproduced> {
    if out_dir.exists() && std::fs::read_dir(out_dir)?.next().is_some() {
        bail!("{} is not empty", out_dir.display());
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let tables = run(out_dir).with_context(|| format!("reproducing `{}`", recipe.name))?;
    let mut files = list_files(out_dir)?;
    files.push("provenance.json".into());
    files.sort();
    let prov = Provenance::new(recipe, resolver, command, files.clone());
    write_file(
        out_dir,
        "provenance.json",
        lmrepro_report::to_json_pretty(&prov)?,
    )?;
    Ok(Reproduced { tables, files })
}

/// Files of a results folder that depend on the machine or the run (compared by name only).
pub const VOLATILE_FILES: &[&str] = &["provenance.json", lmrepro_dclm::TIMINGS_FILE];

/// Relative paths of all files under `dir`, sorted.
pub fn list_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under dir");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}
