//! The reproducer registry behind `lmrepro reproduce` (also used by the workspace snapshot tests),
//! and the reproduce command itself. Nothing here names a recipe: a recipe's `kind` selects a
//! [`Reproducer`], and scale / dry-run / machine-dependent files are the reproducer's to declare.

use anyhow::{Context, Result};
use lmrepro_data::{workspace_root, Recipe, Resolver};
use lmrepro_report::reproducer::{check_options, PROVENANCE_FILE};
use lmrepro_report::{publish, Reproduced, Reproducer, RunOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use lmrepro_report::list_files;

/// Every track's reproducers, one per recipe kind.
pub fn reproducers() -> Vec<&'static dyn Reproducer> {
    vec![
        &lmrepro_scaling::OvertrainingReproducer,
        &lmrepro_scaling::ChinchillaReproducer,
        &lmrepro_aiw::AiwReproducer,
        &lmrepro_crawl::HeuristicsReproducer,
        &lmrepro_extract::ExtractionReproducer,
        &lmrepro_model::TrainReproducer,
        &lmrepro_eval::EvalAggregationReproducer,
        &lmrepro_dclm::DclmBaselineReproducer,
        &lmrepro_musicldm::MusicLdmReproducer,
        &lmrepro_bloom::BloomReproducer,
        &lmrepro_bigbio::BigbioReproducer,
        &lmrepro_dclm_runs::DclmResultsReproducer,
    ]
}

/// The reproducer of a recipe kind; an unknown kind is an error listing the known ones.
pub fn reproducer(kind: &str) -> Result<&'static dyn Reproducer> {
    let all = reproducers();
    all.iter()
        .copied()
        .find(|r| r.kind() == kind)
        .with_context(|| {
            let kinds: Vec<_> = all.iter().map(|r| r.kind()).collect();
            format!(
                "no reproducer for recipe kind `{kind}` (known: {})",
                kinds.join(", ")
            )
        })
}

/// Files of a recipe's results folder that depend on the machine or the run (compared by name
/// only): `provenance.json` and whatever the reproducer declares.
pub fn machine_dependent_files(recipe: &Recipe) -> Result<Vec<&'static str>> {
    let mut files = vec![PROVENANCE_FILE];
    files.extend(reproducer(&recipe.kind)?.machine_dependent_files());
    Ok(files)
}

/// Files of `recipe`'s results compared under the cross-CPU contract instead of byte for byte
/// (`lmrepro_report::contract`).
pub fn cross_cpu_tolerant_files(recipe: &Recipe) -> Result<&'static [&'static str]> {
    Ok(reproducer(&recipe.kind)?.cross_cpu_tolerant_files())
}

/// Regenerates `recipe` into `out_dir` (created; must be empty or absent) and writes provenance.
pub fn reproduce_into(
    recipe: &Recipe,
    resolver: &Resolver,
    out_dir: &Path,
    command: &str,
    opts: &RunOptions,
) -> Result<Reproduced> {
    let rep = reproducer(&recipe.kind)?;
    lmrepro_report::reproduce_into(rep, recipe, resolver, out_dir, command, opts)
}

/// `lmrepro reproduce` arguments (`cargo xtask reproduce` passes its own through unchanged).
#[derive(Debug, Clone, clap::Args)]
pub struct ReproduceArgs {
    /// Recipe name (file stem under recipes/); without one, the recipes are listed.
    pub recipe: Option<String>,
    /// List the recipes with their titles.
    #[arg(long)]
    pub list: bool,
    /// Write somewhere else than results/<recipe>/.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Scale of a multi-scale recipe (the scales are the recipe's; `--dry-run` prints the plan).
    #[arg(long)]
    pub scale: Option<String>,
    /// Print the plan of `--scale` (model, tokens, batch, compute, checks) and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// After writing, compare the output with this folder (e.g. the committed
    /// results/<recipe>/ when writing elsewhere with `--out`) under the cross-CPU contract:
    /// byte-identical except the recipe's tolerant files (docs/reliability.md §5); an error
    /// names the first violation.
    #[arg(long)]
    pub compare_with: Option<PathBuf>,
}

/// `lmrepro reproduce`: list, plan, or regenerate into a staging folder next to the destination
/// and swap it in when complete.
pub fn run_reproduce(args: &ReproduceArgs) -> Result<()> {
    let Some(name) = args.recipe.as_deref().filter(|_| !args.list) else {
        for name in Recipe::list()? {
            let r = Recipe::load_named(&name)?;
            println!("{name:<24} {}", r.title);
        }
        return Ok(());
    };
    let recipe = Recipe::load_named(name)?;
    let resolver = Resolver::from_env();
    let rep = reproducer(&recipe.kind)?;
    let opts = RunOptions {
        scale: args.scale.clone(),
        dry_run: args.dry_run,
    };
    check_options(rep, &recipe, &opts)?;
    if opts.dry_run {
        print!("{}", rep.plan(&recipe, &resolver, opts.scale.as_deref())?);
        return Ok(());
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace_root().join("results").join(&recipe.name));
    let staging = out.with_extension("partial");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("removing {}", staging.display()))?;
    }
    let started = Instant::now();
    let mut command = format!("cargo xtask reproduce {}", recipe.name);
    if let Some(s) = &opts.scale {
        command.push_str(&format!(" --scale {s}"));
    }
    let done = reproduce_into(&recipe, &resolver, &staging, &command, &opts)?;
    publish(&staging, &out)?;
    eprintln!(
        "reproduced `{}` in {:.1} s: {} files in {} ({} tables)",
        recipe.name,
        started.elapsed().as_secs_f64(),
        done.files.len(),
        out.display(),
        done.tables.len()
    );
    if let Some(reference) = &args.compare_with {
        let skip = machine_dependent_files(&recipe)?;
        let within = lmrepro_report::contract::compare_dirs(
            reference,
            &out,
            rep.cross_cpu_tolerant_files(),
            &skip,
        )?;
        eprintln!(
            "{} agrees with {} under the cross-CPU contract ({within} files within tolerance, \
             the rest byte-identical)",
            out.display(),
            reference.display()
        );
    }
    Ok(())
}

/// `lmrepro fetch`: resolve and verify the inputs of recipes, one line per input.
pub fn run_fetch(recipes: &[String]) -> Result<()> {
    let resolver = Resolver::from_env();
    let report =
        lmrepro_data::fetch::fetch(recipes, &resolver, |_, input, outcome| match outcome {
            Ok((path, source)) => println!(
                "{:<8} {}  {}",
                format!("{source:?}").to_lowercase(),
                input.name,
                path.display()
            ),
            Err(e) => println!(
                "missing  {}{}: {}",
                input.name,
                if input.optional { " (optional)" } else { "" },
                e.lines().next().unwrap_or("")
            ),
        })?;
    report.print_and_check(&resolver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recipe_kind_has_exactly_one_reproducer() {
        let kinds: Vec<_> = reproducers().iter().map(|r| r.kind()).collect();
        let mut unique = kinds.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), kinds.len(), "duplicate kinds in {kinds:?}");
        for name in Recipe::list().unwrap() {
            let recipe = Recipe::load_named(&name).unwrap();
            reproducer(&recipe.kind).unwrap();
        }
        let err = reproducer("nope").err().unwrap().to_string();
        assert!(err.contains("known: scaling-overtraining"), "{err}");
    }

    #[test]
    fn single_scale_recipes_refuse_scale_and_dry_run() {
        let recipe = Recipe::load_named("aiw").unwrap();
        let rep = reproducer(&recipe.kind).unwrap();
        let opts = RunOptions {
            scale: Some("1b-1x".into()),
            dry_run: false,
        };
        let err = check_options(rep, &recipe, &opts).unwrap_err().to_string();
        assert!(err.contains("single scale"), "{err}");
        let plan = RunOptions {
            scale: None,
            dry_run: true,
        };
        assert!(check_options(rep, &recipe, &plan).is_err());
    }
}
