//! DCLM track: `cargo xtask reproduce dclm-baseline`.
//!
//! Runs the whole DCLM-Baseline story on pinned inputs: WARC extraction (`lmrepro-extract`) →
//! RefinedWeb heuristics (`lmrepro-crawl`) → BFF or MinHash dedup → fastText quality filter →
//! tokenize + shuffle (`lmrepro-curate`) → identical models trained per data variant and seed
//! (`lmrepro-model`) → llm-foundry ICL suite with CORE / EXTENDED (`lmrepro-eval`) → tables,
//! beside DCLM's published numbers for the same variants (`published`). Every stage is cached by
//! a key over its configuration and inputs (`cache`), so changing only the training seed redoes
//! only training and evaluation. Real scales (400M-1x ... 7B-2x) are validated and planned
//! (`plan`), not run.
//!
//! Layout: [`run`] calls the stages of [`stages`] in order; [`tables`] writes the result files;
//! [`DclmBaselineReproducer`] is the recipe kind's [`Reproducer`]. See README.md.

pub mod cache;
pub mod cli;
pub mod crawl_run;
pub mod params;
pub mod plan;
pub mod published;
pub mod stages;
pub mod tables;
pub mod vocab;

use anyhow::{bail, Context, Result};
use cache::StageCache;
use lmrepro_data::{Recipe, Resolver};
use lmrepro_report::reproducer::{Reproducer, RunOptions};
use lmrepro_report::write_file;
use params::{DclmParams, Dedup};
use serde_json::{json, Value};
use stages::pool::PoolSummary;
use stages::quality::Upstream;
use stages::Ctx;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vocab::{CompactLm, CompactVocab};

pub use stages::heuristics::{HeuristicsSummary, StepCount};
pub use stages::tokenize::TokensSummary;
pub use stages::train_eval::{EvalSummary, Headline, TrainSummary};
pub use stages::DocsSummary;
pub use tables::write_results;

/// How to run the recipe.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Scale name (default: the recipe's `default_scale`).
    pub scale: Option<String>,
    /// Stage cache root (default: [`cache::default_root`]).
    pub cache_root: Option<PathBuf>,
    /// Progress bars for training and evaluation.
    pub progress: bool,
    /// Stop after the data stages (pool … tokenize, compact vocabulary).
    pub data_only: bool,
    /// How many train+eval jobs run at once (`None`: env `LMREPRO_JOBS`, else the number of
    /// CPUs). Results do not depend on it.
    pub jobs: Option<usize>,
}

impl Options {
    /// How many train+eval jobs run at once.
    pub(crate) fn workers(&self) -> usize {
        self.jobs
            .or_else(|| std::env::var("LMREPRO_JOBS").ok()?.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// `reproduce` entry point of the registry: the recipe's default scale.
pub fn reproduce(recipe: &Recipe, resolver: &Resolver, out_dir: &Path) -> Result<Vec<String>> {
    reproduce_with(recipe, resolver, out_dir, &Options::default())
}

/// The `dclm-baseline` recipe kind: one scale runs here, every scale has a plan.
pub struct DclmBaselineReproducer;

impl Reproducer for DclmBaselineReproducer {
    fn kind(&self) -> &'static str {
        "dclm-baseline"
    }

    fn multi_scale(&self) -> bool {
        true
    }

    fn machine_dependent_files(&self) -> &'static [&'static str] {
        &[TIMINGS_FILE]
    }

    /// The files holding losses (and their plot): they move in the 6th–7th significant digit on
    /// a CPU with other SIMD widths or cache sizes (docs/reliability.md §5). Data-stage counts and
    /// the ICL accuracies stay exact.
    fn cross_cpu_tolerant_files(&self) -> &'static [&'static str] {
        &[
            "loss_curves.csv",
            "loss_curves.svg",
            "summary.json",
            "variants.csv",
            "variants.md",
        ]
    }

    fn reproduce(
        &self,
        recipe: &Recipe,
        resolver: &Resolver,
        out: &Path,
        opts: &RunOptions,
    ) -> Result<Vec<String>> {
        if opts.dry_run {
            bail!("a dry run writes no results: print `plan` instead");
        }
        let opts = Options {
            scale: opts.scale.clone(),
            ..Default::default()
        };
        reproduce_with(recipe, resolver, out, &opts)
    }

    fn plan(&self, recipe: &Recipe, resolver: &Resolver, scale: Option<&str>) -> Result<String> {
        match scale {
            Some(s) => dry_run(recipe, resolver, s),
            None => dry_run(recipe, resolver, &load_params(recipe)?.default_scale),
        }
    }
}

pub fn load_params(recipe: &Recipe) -> Result<DclmParams> {
    recipe.expect_kind("dclm-baseline")?;
    let p: DclmParams = recipe.params()?;
    p.validate()
        .with_context(|| format!("recipe `{}`", recipe.name))?;
    Ok(p)
}

/// Everything one run produced, for the tables.
pub struct RunOutput {
    pub scale: String,
    pub pool: PoolSummary,
    pub heuristics: HeuristicsSummary,
    pub dedup: BTreeMap<Dedup, DocsSummary>,
    pub quality_model: Value,
    pub variant_docs: BTreeMap<String, (u64, u64)>,
    /// Documents per pool source in each variant.
    pub variant_sources: BTreeMap<String, BTreeMap<String, u64>>,
    pub variant_tokens: BTreeMap<String, TokensSummary>,
    pub heldout_tokens: TokensSummary,
    pub vocab: Option<CompactVocab>,
    /// (variant, seed) → results.
    pub train: BTreeMap<(String, u64), TrainSummary>,
    pub eval: BTreeMap<(String, u64), EvalSummary>,
    pub timings: Vec<cache::StageTiming>,
    /// Wall-clock seconds of the whole run, and how many train+eval jobs ran at once.
    pub wall_seconds: f64,
    pub jobs: usize,
}

/// Runs every stage of `scale_name` (which must be runnable here) in order, using the cache.
pub fn run(
    recipe: &Recipe,
    resolver: &Resolver,
    p: &DclmParams,
    scale_name: &str,
    opts: &Options,
) -> Result<RunOutput> {
    let scale = p.scale(scale_name)?;
    if !scale.runnable_here {
        bail!(
            "scale `{scale_name}` is GPU-cluster sized ({}); use `--dry-run` for its plan",
            scale.description
        );
    }
    let started = std::time::Instant::now();
    let mut cache = StageCache::new(opts.cache_root.clone().unwrap_or_else(cache::default_root));
    let run_cfg = scale.run_config()?;
    let ctx_len = run_cfg.model.seq_len + 1;
    let ctx = Ctx {
        recipe,
        resolver,
        p,
    };
    let c = &mut cache;
    let d = data_stages(c, &ctx, scale, ctx_len, None)?.expect("no `until`: every data stage ran");
    let models =
        stages::train_eval::run(c, &ctx, scale, &run_cfg, &d.tokens, d.vocab.as_ref(), opts)?;
    let DataStages {
        pool,
        heuristics,
        dedup,
        quality_model,
        variants,
        tokens,
        vocab,
    } = d;

    Ok(RunOutput {
        scale: scale_name.to_string(),
        pool: pool.1,
        heuristics: heuristics.1,
        dedup: dedup.into_iter().map(|(k, (_, s))| (k, s)).collect(),
        quality_model,
        variant_docs: variants.iter().map(|(n, v)| (n.clone(), v.docs)).collect(),
        variant_sources: variants.into_iter().map(|(n, v)| (n, v.sources)).collect(),
        variant_tokens: tokens
            .variants
            .into_iter()
            .map(|(n, (_, s))| (n, s))
            .collect(),
        heldout_tokens: tokens.heldout.1,
        vocab,
        train: models.train,
        eval: models.eval,
        timings: cache.timings,
        wall_seconds: started.elapsed().as_secs_f64(),
        jobs: models.workers,
    })
}

/// The data stages in run order; `--until` names the last one to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Until {
    Pool,
    Heuristics,
    Dedup,
    /// The fastText classifier, trained (the top-fraction stages' scoring shards read it).
    Classifier,
    /// The fastText classifier and every variant's top-fraction filter.
    Quality,
    /// Tokenize + shuffle and the compact vocabulary.
    Tokenize,
}

/// What the data stages produced.
pub(crate) struct DataStages {
    pool: (cache::Stage, PoolSummary),
    heuristics: (cache::Stage, HeuristicsSummary),
    dedup: BTreeMap<Dedup, (cache::Stage, DocsSummary)>,
    quality_model: Value,
    variants: BTreeMap<String, stages::quality::VariantDocs>,
    tokens: stages::tokenize::Tokenized,
    vocab: Option<CompactVocab>,
}

/// Runs the data stages in order through the cache, stopping after `until` (`None` when it
/// stopped early). The one sequence both engines run: the Ray driver runs the same stages through
/// `lmrepro dclm stages --until`, with the heuristics shards done beforehand as Ray tasks.
pub(crate) fn data_stages(
    c: &mut StageCache,
    ctx: &Ctx,
    scale: &params::ScaleSpec,
    ctx_len: usize,
    until: Option<Until>,
) -> Result<Option<DataStages>> {
    let stop = |u: Until| until == Some(u);
    let pool = stages::pool::run(c, ctx)?;
    if stop(Until::Pool) {
        return Ok(None);
    }
    let heuristics = stages::heuristics::run(c, ctx, &pool)?;
    if stop(Until::Heuristics) {
        return Ok(None);
    }
    let dedup = stages::dedup::run(c, ctx, &heuristics.0)?;
    if stop(Until::Dedup) {
        return Ok(None);
    }
    let (classifier, quality_model) = stages::quality::train_classifier(c, ctx)?;
    if stop(Until::Classifier) {
        return Ok(None);
    }
    let up = Upstream {
        pool: &pool,
        heuristics: &heuristics,
        dedup: &dedup,
        classifier: &classifier,
    };
    let variants = stages::quality::variants(c, ctx, &up)?;
    if stop(Until::Quality) {
        return Ok(None);
    }
    let tokens = stages::tokenize::run(c, ctx, ctx_len, &variants, &pool.0)?;
    let vocab = stages::tokenize::compact_vocab(c, ctx, scale, ctx_len, &tokens)?;
    if stop(Until::Tokenize) {
        return Ok(None);
    }
    Ok(Some(DataStages {
        pool,
        heuristics,
        dedup,
        quality_model,
        variants,
        tokens,
        vocab,
    }))
}

/// Runs the data stages of `scale_name` up to and including `until` through the stage cache at
/// `cache_root`; returns the stage timings (names and keys in run order).
pub fn run_until(
    recipe: &Recipe,
    resolver: &Resolver,
    scale_name: &str,
    cache_root: &Path,
    until: Until,
) -> Result<Vec<cache::StageTiming>> {
    let p = load_params(recipe)?;
    let scale = p.scale(scale_name)?;
    if !scale.runnable_here {
        bail!("scale `{scale_name}` is GPU-cluster sized; its data stages are not run here");
    }
    let ctx_len = scale.run_config()?.model.seq_len + 1;
    let ctx = Ctx {
        recipe,
        resolver,
        p: &p,
    };
    let mut cache = StageCache::new(cache_root.to_path_buf());
    data_stages(&mut cache, &ctx, scale, ctx_len, Some(until))?;
    Ok(cache.timings)
}

/// Writes the per-stage runtime (machine-dependent, so outside the compared results).
pub fn timings_json(r: &RunOutput) -> Result<String> {
    let runs: Vec<Value> = r
        .train
        .iter()
        .map(|((v, s), t)| json!({"variant": v, "seed": s, "tokens_per_s": t.tokens_per_s}))
        .collect();
    lmrepro_report::to_json_pretty(&json!({
        "stages": r.timings,
        "wall_seconds": r.wall_seconds,
        "jobs_at_a_time": r.jobs,
        "total_seconds": r.timings.iter().map(|t| t.seconds).sum::<f64>(),
        "training_throughput": runs,
    }))
}

/// The compact vocabulary of a training run, beside its checkpoints.
pub const COMPACT_VOCAB_FILE: &str = "compact_vocab.json";

/// A trained checkpoint as a model over GPT-NeoX ids: `dir` is a checkpoint (`step_N`) or a run
/// directory (its newest checkpoint); a `compact_vocab.json` in the run directory wraps the model
/// in [`CompactLm`].
pub fn load_checkpoint_lm(dir: &Path) -> Result<Box<dyn lmrepro_lm::TokenLm>> {
    let lm = lmrepro_model::lm::BurnLm::<lmrepro_model::Cpu>::load(dir, &Default::default())
        .with_context(|| format!("loading checkpoint {}", dir.display()))?;
    let candidates = [
        dir.join(COMPACT_VOCAB_FILE),
        dir.join("..").join(COMPACT_VOCAB_FILE),
    ];
    match candidates.iter().find(|p| p.is_file()) {
        Some(p) => {
            let v: CompactVocab = serde_json::from_slice(&std::fs::read(p)?)
                .with_context(|| format!("{}: not a compact vocabulary", p.display()))?;
            if v.size() != lm.model.config.vocab_size {
                bail!(
                    "{}: {} entries but the model has a vocabulary of {}",
                    p.display(),
                    v.size(),
                    lm.model.config.vocab_size
                );
            }
            Ok(Box::new(CompactLm::new(lm, v)))
        }
        None => Ok(Box::new(lm)),
    }
}

/// Name of the machine-dependent file `reproduce` writes beside the results.
pub const TIMINGS_FILE: &str = "timings.json";

/// Runs `opts.scale` (default scale when `None`) and writes `results/…` into `out_dir`.
pub fn reproduce_with(
    recipe: &Recipe,
    resolver: &Resolver,
    out_dir: &Path,
    opts: &Options,
) -> Result<Vec<String>> {
    let p = load_params(recipe)?;
    let scale = opts
        .scale
        .clone()
        .unwrap_or_else(|| p.default_scale.clone());
    eprintln!("dclm-baseline, scale `{scale}`: stages (cache: {})", {
        opts.cache_root
            .clone()
            .unwrap_or_else(cache::default_root)
            .display()
            .to_string()
    });
    let r = run(recipe, resolver, &p, &scale, opts)?;
    let tables = write_results(recipe, resolver, &p, &r, out_dir)?;
    write_file(out_dir, TIMINGS_FILE, timings_json(&r)?)?;
    let total: f64 = r.timings.iter().map(|t| t.seconds).sum();
    // The two tables side by side on the terminal: this run, then DCLM's published numbers.
    for table in ["variants.md", "published.md"] {
        eprintln!("\n{}", std::fs::read_to_string(out_dir.join(table))?);
    }
    eprintln!(
        "dclm-baseline: stages took {:.1} s wall ({total:.1} s summed over stages; \
         train+eval jobs ran {} at a time, set LMREPRO_JOBS to change)",
        r.wall_seconds, r.jobs
    );
    Ok(tables)
}

/// `--dry-run`: the plan of a scale, as text.
pub fn dry_run(recipe: &Recipe, resolver: &Resolver, scale: &str) -> Result<String> {
    let p = load_params(recipe)?;
    let plans = plan::plans(recipe, resolver, &p)?;
    let Some(pl) = plans.iter().find(|x| x.scale == scale) else {
        p.scale(scale)?;
        bail!("no plan for scale `{scale}`");
    };
    Ok(plan::plan_text(recipe, &p, pl))
}
