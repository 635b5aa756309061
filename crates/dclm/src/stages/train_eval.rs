//! Train the same model on every variant's tokens once per seed, then run the llm-foundry ICL
//! suite on it (CORE / EXTENDED). The (variant, seed) jobs are independent, so they run on a pool
//! of worker threads; every result is the same whichever thread runs it.

use super::tokenize::{load_contexts, Tokenized};
use super::Ctx;
use crate::cache::{Stage, StageCache, StageTiming};
use crate::params::{ScaleSpec, VariantSpec};
use crate::vocab::{CompactLm, CompactVocab};
use crate::{Options, COMPACT_VOCAB_FILE};
use anyhow::{Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_model::{Contexts, DeviceKind, RunConfig};
use lmrepro_report::write_file;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    pub steps: u64,
    pub tokens_trained: u64,
    pub params: u64,
    pub final_train_loss: f64,
    /// Held-out cross-entropy over the compact vocabulary (what the trainer reports).
    pub heldout_loss_compact: f64,
    /// The same in nats per GPT-NeoX token (OTHER's mass spread uniformly).
    pub heldout_loss: f64,
    pub train_curve: Vec<(u64, f64)>,
    pub eval_curve: Vec<(u64, f64)>,
    /// Not part of the results (machine-dependent); reported in timings.
    pub tokens_per_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Per task: accuracy (DCLM's number).
    pub tasks: BTreeMap<String, f64>,
    pub items: BTreeMap<String, (usize, usize)>,
    pub missing: Vec<String>,
    pub core_v1: Headline,
    pub core_v2: Headline,
    pub extended_v1: Headline,
    pub extended_v2: Headline,
}

/// A CORE / EXTENDED number: exact, or the mean of the available tasks when some are missing.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Headline {
    pub value: f64,
    pub partial: bool,
}

impl Headline {
    fn from_eval(h: &lmrepro_eval::aggregate::Headline) -> Headline {
        match h {
            lmrepro_eval::aggregate::Headline::Value(v) => Headline {
                value: *v,
                partial: false,
            },
            lmrepro_eval::aggregate::Headline::Partial {
                mean_of_available, ..
            } => Headline {
                value: *mean_of_available,
                partial: true,
            },
        }
    }
}

/// Every (variant, seed)'s training and evaluation.
pub struct TrainEval {
    pub train: BTreeMap<(String, u64), TrainSummary>,
    pub eval: BTreeMap<(String, u64), EvalSummary>,
    /// How many jobs ran at once.
    pub workers: usize,
}

/// What a (variant, seed) job depends on besides its variant and seed.
struct Model<'a> {
    ctx: &'a Ctx<'a>,
    scale: &'a ScaleSpec,
    run_cfg: &'a RunConfig,
    ctx_len: usize,
    tokens: &'a Tokenized,
    vocab: Option<&'a CompactVocab>,
    /// The compact vocabulary's table and shared id.
    table: Option<(Vec<u32>, u32)>,
    heldout: Contexts,
    /// Share of held-out targets that are the compact vocabulary's shared id.
    other_share: f64,
    /// Progress bars per job (only when one job runs at a time).
    progress: bool,
}

/// Trains and evaluates every (variant, seed) of `ctx.p` on `scale` (none with
/// `opts.data_only`), `opts.workers()` jobs at a time; the jobs' stage timings are appended to
/// `cache`'s in job order.
pub fn run(
    cache: &mut StageCache,
    ctx: &Ctx,
    scale: &ScaleSpec,
    run_cfg: &RunConfig,
    tokens: &Tokenized,
    vocab: Option<&CompactVocab>,
    opts: &Options,
) -> Result<TrainEval> {
    let ctx_len = run_cfg.model.seq_len + 1;
    let table = vocab.map(|v| (v.table(), v.other_id()));
    let map = table.as_ref().map(|(t, o)| (t.as_slice(), *o));
    let heldout = load_contexts(&tokens.heldout.0, ctx_len, map)?;
    let jobs: Vec<(&VariantSpec, u64)> = ctx
        .p
        .variants
        .iter()
        .filter(|_| !opts.data_only)
        .flat_map(|v| ctx.p.seeds.iter().map(move |&s| (v, s)))
        .collect();
    let workers = opts.workers().min(jobs.len()).max(1);
    let model = Model {
        ctx,
        scale,
        run_cfg,
        ctx_len,
        tokens,
        vocab,
        other_share: vocab.map_or(0.0, |v| other_share(v, &heldout, scale)),
        table,
        heldout,
        // With several jobs at once, one bar counts jobs; per-job bars would overwrite each other.
        progress: opts.progress && workers == 1,
    };
    let results = run_jobs(&model, &jobs, workers, cache, opts.progress)?;
    let mut out = TrainEval {
        train: BTreeMap::new(),
        eval: BTreeMap::new(),
        workers,
    };
    for ((v, seed), (tr, ev, timings)) in jobs.iter().zip(results) {
        cache.timings.extend(timings);
        out.train.insert((v.name.clone(), *seed), tr);
        out.eval.insert((v.name.clone(), *seed), ev);
    }
    Ok(out)
}

type JobOutput = (TrainSummary, EvalSummary, Vec<StageTiming>);

/// Runs `jobs` on a pool of `workers` threads, each on its own handle of `cache`; `collect` keeps
/// job order and, after a failure, starts no further jobs.
fn run_jobs(
    model: &Model,
    jobs: &[(&VariantSpec, u64)],
    workers: usize,
    cache: &StageCache,
    progress: bool,
) -> Result<Vec<JobOutput>> {
    let jobs_bar =
        (progress && workers > 1 && !jobs.is_empty()).then(|| jobs_bar(jobs.len(), workers));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .context("starting the train+eval worker threads")?;
    let results = pool.install(|| {
        jobs.par_iter()
            .with_max_len(1)
            .map(|&(v, seed)| {
                let r = model.job(cache.clone_empty(), v, seed);
                if let Some(pb) = &jobs_bar {
                    pb.inc(1);
                }
                r
            })
            .collect::<Result<_>>()
    })?;
    if let Some(pb) = jobs_bar {
        pb.finish_and_clear();
    }
    Ok(results)
}

/// Share of the held-out targets the trainer evaluates (its first `eval_batches × micro_batch`
/// contexts) that are `v`'s shared id: the held-out loss per GPT-NeoX token adds this share of
/// the log of how many ids that id stands for.
fn other_share(v: &CompactVocab, heldout: &Contexts, scale: &ScaleSpec) -> f64 {
    let n = (scale.eval_batches * scale.micro_batch).min(heldout.len());
    let mut other = 0u64;
    let mut total = 0u64;
    for i in 0..n {
        for &t in &heldout.get(i)[1..] {
            other += (t == v.other_id()) as u64;
            total += 1;
        }
    }
    other as f64 / total.max(1) as f64
}

fn jobs_bar(jobs: usize, workers: usize) -> indicatif::ProgressBar {
    lmrepro_stage::progress::bar(
        jobs as u64,
        &format!("train+eval jobs, {workers} at a time"),
    )
}

impl Model<'_> {
    /// One job on its own cache handle (so jobs on other threads do not share timings).
    fn job(&self, mut cache: StageCache, v: &VariantSpec, seed: u64) -> Result<JobOutput> {
        let (tr_stage, tr_sum) = self.train(&mut cache, v, seed)?;
        let ev = self.eval(&mut cache, v, seed, &tr_stage)?;
        Ok((tr_sum, ev, cache.timings))
    }

    /// Stage key material shared by training and evaluation: the vocabulary the model uses.
    fn vocab_key(&self) -> Value {
        json!(self.vocab.map(|v| v.kept.clone()))
    }

    /// The `train-<variant>-seed<seed>` stage: keyed by the variant's and the held-out tokens,
    /// the vocabulary, the run configuration and where it stops.
    fn train(
        &self,
        cache: &mut StageCache,
        v: &VariantSpec,
        seed: u64,
    ) -> Result<(Stage, TrainSummary)> {
        let (tok_stage, _) = &self.tokens.variants[&v.name];
        let mut cfg = self.run_cfg.clone();
        cfg.seed = seed;
        let mut material = json!({"tokens": tok_stage.key, "heldout": self.tokens.heldout.0.key,
                                  "vocab": self.vocab_key(), "config": cfg});
        if let Some(n) = self.scale.stop_after {
            material["stop_after"] = json!(n);
        }
        cache.run(&format!("train-{}-seed{seed}", v.name), &material, |dir| {
            self.train_in(dir, v, tok_stage, &cfg)
        })
    }

    fn train_in(
        &self,
        dir: &Path,
        v: &VariantSpec,
        tokens: &Stage,
        cfg: &RunConfig,
    ) -> Result<TrainSummary> {
        let map = self.table.as_ref().map(|(t, o)| (t.as_slice(), *o));
        let train_data = load_contexts(tokens, self.ctx_len, map)?;
        let r = lmrepro_model::run_on(
            DeviceKind::Cpu,
            cfg,
            &train_data,
            &self.heldout,
            &lmrepro_model::RunOptions {
                out_dir: Some(dir.to_path_buf()),
                progress: self.progress,
                stop_after: self.scale.stop_after,
                ..Default::default()
            },
        )
        .with_context(|| format!("training variant `{}` seed {}", v.name, cfg.seed))?;
        // A run directory is self-describing: `lmrepro eval --model <dir>` needs the
        // vocabulary map beside the checkpoint.
        if let Some(vocab) = self.vocab {
            write_file(
                dir,
                COMPACT_VOCAB_FILE,
                lmrepro_report::to_json_pretty(vocab)?,
            )?;
        }
        let corr = self
            .vocab
            .map_or(0.0, |vocab| self.other_share * vocab.other_log_count());
        Ok(TrainSummary {
            steps: r.steps,
            tokens_trained: r.steps * cfg.tokens_per_step(),
            params: cfg.model.num_params().total,
            final_train_loss: r.final_train_loss,
            heldout_loss_compact: r.final_eval_loss,
            heldout_loss: r.final_eval_loss + corr,
            train_curve: r.train_curve.clone(),
            eval_curve: r.eval_curve.clone(),
            tokens_per_s: r.tokens_per_s,
        })
    }

    /// The `eval-<variant>-seed<seed>` stage: keyed by the model, the eval spec and its yaml.
    fn eval(
        &self,
        cache: &mut StageCache,
        v: &VariantSpec,
        seed: u64,
        model: &Stage,
    ) -> Result<EvalSummary> {
        let eval = &self.scale.eval;
        let (_, ev) = cache.run(
            &format!("eval-{}-seed{seed}", v.name),
            &json!({"model": model.key, "eval": eval, "vocab": self.vocab_key(),
                    "inputs": self.ctx.input_shas(&[&eval.config])?}),
            |dir| {
                evaluate(
                    self.ctx.recipe,
                    self.ctx.resolver,
                    self.scale,
                    &model.dir,
                    self.vocab,
                    dir,
                    self.progress,
                )
            },
        )?;
        Ok(ev)
    }
}

fn evaluate(
    recipe: &Recipe,
    resolver: &Resolver,
    scale: &ScaleSpec,
    model_dir: &Path,
    vocab: Option<&CompactVocab>,
    out: &Path,
    progress: bool,
) -> Result<EvalSummary> {
    let env =
        lmrepro_eval::suite::SuiteEnv::load(recipe.clone(), resolver.clone(), &scale.eval.config)?;
    let labels = env.select(&scale.eval.suite)?;
    let lm = lmrepro_model::lm::BurnLm::<lmrepro_model::Cpu>::load(model_dir, &Default::default())?;
    let ropts = lmrepro_eval::suite::RunOptions {
        limit: scale.eval.limit,
        batch_items: 16,
        out_dir: out.to_path_buf(),
        progress,
    };
    let run = match vocab {
        Some(v) => {
            let mut m = CompactLm::new(lm, v.clone());
            lmrepro_eval::suite::run_suite(&env, &mut m, &labels, &ropts)?
        }
        None => {
            let mut m = lm;
            lmrepro_eval::suite::run_suite(&env, &mut m, &labels, &ropts)?
        }
    };
    Ok(EvalSummary {
        tasks: run
            .results
            .iter()
            .map(|(k, r)| (k.clone(), r.accuracy))
            .collect(),
        items: run
            .results
            .iter()
            .map(|(k, r)| (k.clone(), (r.items_scored, r.items_total)))
            .collect(),
        missing: run.missing.iter().map(|(t, _)| t.clone()).collect(),
        core_v1: Headline::from_eval(&run.v1.core),
        core_v2: Headline::from_eval(&run.v2.core),
        extended_v1: Headline::from_eval(&run.v1.extended),
        extended_v2: Headline::from_eval(&run.v2.extended),
    })
}
