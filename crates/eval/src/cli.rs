//! `lmrepro eval --model ngram:... --suite core|extended|mmlu|<tasks> --limit N --out DIR`.

use crate::models::build_model;
use crate::suite::{run_suite, RunOptions, SuiteEnv};
use anyhow::Result;
use lmrepro_data::{Recipe, Resolver};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// Model: a checkpoint or training-run directory of `lmrepro train` / the dclm-baseline recipe
    /// (newest `step_*`), or `ngram:order=3,wiki=10033,gutenberg=0` (reference n-gram LM).
    #[arg(long)]
    pub model: String,
    /// `core` (22 tasks), `extended` (53), `mmlu`, or a comma-separated list of task labels.
    #[arg(long, default_value = "core")]
    pub suite: String,
    /// Score at most N items per task (per category for category tasks).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Output directory (per-task JSON under tasks/, eval.json, results.md); reruns resume.
    #[arg(long)]
    pub out: PathBuf,
    /// Eval config input of the recipe (DCLM yaml).
    #[arg(long, default_value = "dclm_assets/eval/heavy.yaml")]
    pub config: String,
    /// Recipe whose pinned inputs are used.
    #[arg(long, default_value = "dclm-eval")]
    pub recipe: String,
    /// Items per batched `score` call.
    #[arg(long, default_value_t = 16)]
    pub batch_items: usize,
}

/// Loads models this crate cannot build itself (burn checkpoints live in `lmrepro-model`, which
/// this crate does not depend on): `Some(model)` when the loader recognises the argument.
pub type ExternalModel<'a> = &'a dyn Fn(&str) -> Option<Result<Box<dyn lmrepro_lm::TokenLm>>>;

pub fn run_eval(args: &EvalArgs) -> Result<()> {
    run_eval_with(args, &|_| None)
}

pub fn run_eval_with(args: &EvalArgs, external: ExternalModel) -> Result<()> {
    let recipe = Recipe::load_named(&args.recipe)?;
    let resolver = Resolver::from_env();
    let env = SuiteEnv::load(recipe, resolver, &args.config)?;
    let labels = env.select(&args.suite)?;
    eprintln!("building model {} ...", args.model);
    let mut model = match external(&args.model) {
        Some(m) => m?,
        None => build_model(&args.model, &env.tokenizer()?, &env.recipe, &env.resolver)?,
    };
    let opts = RunOptions {
        limit: args.limit,
        batch_items: args.batch_items,
        out_dir: args.out.clone(),
        progress: std::io::stderr().is_terminal(),
    };
    let run = run_suite(&env, model.as_mut(), &labels, &opts)?;
    eprintln!(
        "{} tasks scored, {} missing; CORE v2 {}, EXTENDED v2 {}; wrote {}",
        run.results.len(),
        run.missing.len(),
        run.v2.core.render(4),
        run.v2.extended.render(4),
        args.out.join("results.md").display()
    );
    Ok(())
}
