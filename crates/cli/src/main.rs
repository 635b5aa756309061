//! `lmrepro`: reproduce paper tables from pinned recipes, and run each stage on your own data.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use lmrepro_cli::reproduce_into;
use lmrepro_data::{workspace_root, Recipe, Resolver};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "lmrepro",
    version,
    about = "Reproduce language-model papers from pinned recipes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate results/<recipe>/ from recipes/<recipe>.toml.
    Reproduce {
        recipe: Option<String>,
        /// List the recipes with their titles.
        #[arg(long)]
        list: bool,
        /// Write somewhere else than results/<recipe>/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Scale of a multi-scale recipe (dclm-baseline: tiny, 400m-1x, 1b-1x, 7b-1x, 7b-2x).
        #[arg(long)]
        scale: Option<String>,
        /// Print the plan of `--scale` (model, tokens, batch, compute, checks) and exit.
        #[arg(long)]
        dry_run: bool,
    },
    /// Resolve and verify the pinned inputs of a recipe (cache → mirror → download).
    Fetch { recipe: String },
    /// Crawl processing: WARC extraction and DCLM's heuristic filters.
    #[command(subcommand)]
    Crawl(CrawlCommand),
    /// Train decoders (OpenLM / BLOOM / GPT-2 options) with DCLM's recipe; sweeps; parameter counts.
    #[command(flatten)]
    Model(lmrepro_model::cli::Command),
    /// Evaluate a model on llm-foundry ICL tasks (DCLM CORE / EXTENDED / MMLU).
    Eval(lmrepro_eval::cli::EvalArgs),
    /// Alice-in-Wonderland track: generate problems, score responses, run models.
    #[command(subcommand)]
    Aiw(lmrepro_aiw::cli::Command),
}

/// `lmrepro crawl ...`: stages owned by two crates under one namespace.
#[derive(Subcommand)]
enum CrawlCommand {
    #[command(flatten)]
    Extraction(lmrepro_extract::cli::Command),
    #[command(flatten)]
    Heuristics(lmrepro_crawl::cli::Command),
    /// dedup {bff,minhash,exact}, quality {train,predict,filter}, tokenize.
    #[command(flatten)]
    Curation(lmrepro_curate::cli::Command),
    /// WARC -> main-content text -> heuristics -> filtered JSONL in one streaming pass (resumable
    /// per WARC).
    Run(lmrepro_dclm::crawl_run::CrawlRunArgs),
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Reproduce {
            recipe,
            list,
            out,
            scale,
            dry_run,
        } => {
            if list || recipe.is_none() {
                for name in Recipe::list()? {
                    let r = Recipe::load_named(&name)?;
                    println!("{name:<24} {}", r.title);
                }
                return Ok(());
            }
            let name = recipe.expect("checked");
            let recipe = Recipe::load_named(&name)?;
            let resolver = Resolver::from_env();
            if scale.is_some() || dry_run {
                if recipe.kind != "dclm-baseline" {
                    anyhow::bail!(
                        "recipe `{}` has a single scale; --scale / --dry-run apply to dclm-baseline",
                        recipe.name
                    );
                }
                if dry_run {
                    let params = lmrepro_dclm::load_params(&recipe)?;
                    let s = scale.unwrap_or(params.default_scale);
                    print!("{}", lmrepro_dclm::dry_run(&recipe, &resolver, &s)?);
                    return Ok(());
                }
            }
            let out = out.unwrap_or_else(|| workspace_root().join("results").join(&recipe.name));
            // Write next to the destination, then swap, so an interrupted run never leaves a
            // half-written results folder behind.
            let staging = out.with_extension("partial");
            if staging.exists() {
                std::fs::remove_dir_all(&staging)?;
            }
            let started = Instant::now();
            let command = format!("cargo xtask reproduce {}", recipe.name);
            let done = match &scale {
                Some(s) => {
                    lmrepro_cli::reproduce_scale_into(&recipe, &resolver, &staging, &command, s)?
                }
                None => reproduce_into(&recipe, &resolver, &staging, &command)?,
            };
            if out.exists() {
                std::fs::remove_dir_all(&out)
                    .with_context(|| format!("replacing {}", out.display()))?;
            }
            std::fs::rename(&staging, &out)?;
            eprintln!(
                "reproduced `{}` in {:.1} s: {} files in {} ({} tables)",
                recipe.name,
                started.elapsed().as_secs_f64(),
                done.files.len(),
                out.display(),
                done.tables.len()
            );
            Ok(())
        }
        Command::Aiw(cmd) => lmrepro_aiw::cli::run(cmd),
        Command::Model(cmd) => lmrepro_model::cli::run(cmd),
        Command::Eval(args) => lmrepro_eval::cli::run_eval_with(&args, &|arg| {
            let path = std::path::Path::new(arg);
            path.exists()
                .then(|| lmrepro_dclm::load_checkpoint_lm(path))
        }),
        Command::Crawl(CrawlCommand::Heuristics(cmd)) => lmrepro_crawl::cli::run(cmd),
        Command::Crawl(CrawlCommand::Curation(cmd)) => lmrepro_curate::cli::run(cmd),
        Command::Crawl(CrawlCommand::Extraction(cmd)) => lmrepro_extract::cli::run(cmd),
        Command::Crawl(CrawlCommand::Run(args)) => {
            lmrepro_dclm::crawl_run::run(&args, Resolver::from_env()).map(|_| ())
        }
        Command::Fetch { recipe } => {
            let recipe = Recipe::load_named(&recipe)?;
            let resolver = Resolver::from_env();
            for input in &recipe.inputs {
                match resolver.resolve(input) {
                    Ok((path, source)) => println!(
                        "{:<8} {}  {}",
                        format!("{source:?}").to_lowercase(),
                        input.name,
                        path.display()
                    ),
                    Err(e) if input.optional => println!(
                        "missing  {} (optional): {}",
                        input.name,
                        e.to_string().lines().next().unwrap_or("")
                    ),
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        }
    }
}
