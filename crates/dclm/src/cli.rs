//! `lmrepro dclm ...`: the dclm-baseline data stages addressable from outside, for a scheduler
//! (the Ray driver in `python/lmrepro_ray/`) or a shell loop. Global stages run through
//! `stages --until`; a sharded stage lists its shards (`shards`) and runs one (`shard`). Every
//! command prints one JSON object on stdout; the stage cache is the local engine's, so both
//! engines build the same stage folders under the same keys.

use crate::cache::{self, StageCache};
use crate::stages::{self, Ctx};
use crate::{load_params, Until};
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use lmrepro_data::{Recipe, Resolver};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the data stages through the stage cache up to and including `--until` (finished
    /// stages are cache hits; a sharded stage runs only its shards not yet done).
    Stages {
        #[command(flatten)]
        at: At,
        #[arg(long, value_enum)]
        until: Until,
    },
    /// List a sharded stage's shards and whether each is done (needs its upstream finished).
    Shards {
        #[arg(value_enum)]
        stage: Sharded,
        #[command(flatten)]
        at: At,
    },
    /// Run one shard of a sharded stage (nothing when it is done): its output and completion
    /// marker go to the stage's work folder.
    Shard {
        #[arg(value_enum)]
        stage: Sharded,
        #[arg(long)]
        shard: String,
        #[command(flatten)]
        at: At,
    },
}

/// The stages (or steps of a stage) that run shard by shard. The MinHash steps run in order,
/// each needing the one before finished (datatrove's split: signatures per file → one task per
/// bucket → one cluster merge → filter per file); `stages --until dedup` then finishes the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sharded {
    /// One shard per WARC of the pool (its extraction; `stages --until pool` adds the text
    /// sources and the held-out split).
    Pool,
    /// One shard per pool file.
    Heuristics,
    /// One shard per heuristics file (`fffff`, its index).
    MinhashSignatures,
    /// One shard per LSH bucket (`bbb`).
    MinhashBuckets,
    /// One shard (`all`): the union–find over every bucket's pairs.
    MinhashClusters,
    /// One shard per heuristics file (its name).
    MinhashFilter,
    /// One shard per BFF shard group (`gggg`; `params.bff.shard_groups`, default 1).
    Bff,
    /// One shard per input file of every top-fraction stage (`top10-bff.NAME`): its fastText
    /// scores; `stages --until quality` then thresholds globally and filters.
    FasttextScores,
    /// Tokenize + shuffle, stage 1: one shard per input file of every token stage
    /// (`<set>.FFFFFFFF`, the set a variant's name or `heldout`): tokenized, cut into contexts,
    /// scattered to the cells (needs `stages --until quality`).
    TokenizeFiles,
    /// Tokenize + shuffle, stage 2: the cells of each round (`<set>.rR.cAAAAA-BBBBB`, cells A to
    /// B of round R; listed in groups of 16, any range or single cell `cAAAAA` runs), each round
    /// needing the one before; `stages --until tokenize` then writes the manifest.
    TokenizeCells,
}

impl Sharded {
    fn stage(self) -> &'static str {
        match self {
            Sharded::Pool => stages::pool::STAGE,
            Sharded::Heuristics => stages::heuristics::STAGE,
            Sharded::Bff => stages::dedup::BFF,
            Sharded::FasttextScores => "fasttext-top",
            Sharded::TokenizeFiles | Sharded::TokenizeCells => "tokenize",
            _ => stages::dedup::MINHASH,
        }
    }

    fn is_minhash(self) -> bool {
        matches!(
            self,
            Sharded::MinhashSignatures
                | Sharded::MinhashBuckets
                | Sharded::MinhashClusters
                | Sharded::MinhashFilter
        )
    }
}

/// Which recipe, scale and stage cache.
#[derive(Args, Debug, Clone)]
pub struct At {
    /// Recipe name under recipes/, or a path to a recipe file (`*.toml`).
    #[arg(long, default_value = "dclm-baseline")]
    pub recipe: String,
    /// Scale (default: the recipe's `default_scale`).
    #[arg(long)]
    pub scale: Option<String>,
    /// Stage cache root (default: `$LMREPRO_STAGE_CACHE`, else `target/lmrepro-stages`).
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

impl At {
    fn recipe(&self) -> Result<Recipe> {
        if self.recipe.ends_with(".toml") {
            Recipe::load(std::path::Path::new(&self.recipe))
        } else {
            Recipe::load_named(&self.recipe)
        }
    }

    /// `--scale`, else the recipe's default scale.
    fn scale_or_default(&self, ctx: &Ctx) -> String {
        self.scale
            .clone()
            .unwrap_or_else(|| ctx.p.default_scale.clone())
    }

    fn cache_root(&self) -> PathBuf {
        self.cache.clone().unwrap_or_else(cache::default_root)
    }
}

pub fn run(cmd: Command) -> Result<()> {
    let out = run_json(cmd, Resolver::from_env())?;
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

/// The command's result as the JSON object it prints.
pub fn run_json(cmd: Command, resolver: Resolver) -> Result<Value> {
    match cmd {
        Command::Stages { at, until } => {
            let recipe = at.recipe()?;
            let scale = match &at.scale {
                Some(s) => s.clone(),
                None => load_params(&recipe)?.default_scale,
            };
            let started = Instant::now();
            let timings = crate::run_until(&recipe, &resolver, &scale, &at.cache_root(), until)?;
            Ok(json!({"stages": timings, "seconds": started.elapsed().as_secs_f64()}))
        }
        Command::Shards { stage, at } if !stage.is_minhash() && stage != Sharded::Heuristics => {
            with_ctx(&at, &resolver, |ctx, cache| {
                other_shards(stage, ctx, cache, &at.scale_or_default(ctx))
            })
        }
        Command::Shard { stage, shard, at }
            if !stage.is_minhash() && stage != Sharded::Heuristics =>
        {
            with_ctx(&at, &resolver, |ctx, cache| {
                let started = Instant::now();
                let mut out = other_shard(stage, &shard, ctx, cache, &at.scale_or_default(ctx))?;
                out["stage"] = json!(stage.stage());
                out["step"] = json!(stage);
                out["shard"] = json!(shard);
                out["seconds"] = json!(started.elapsed().as_secs_f64());
                Ok(out)
            })
        }
        Command::Shards { stage, at } if stage != Sharded::Heuristics => {
            if !uses_minhash(&load_params(&at.recipe()?)?) {
                // Nothing to schedule: a driver lists the step for any recipe.
                return Ok(json!({"stage": stage.stage(), "step": stage, "used": false,
                                 "shards": []}));
            }
            with_minhash(&at, &resolver, |plan| {
                let finished = plan.finished();
                let shards: Vec<Value> = minhash_shards(stage, &plan.job)
                    .into_iter()
                    .map(|(name, done)| json!({"name": name, "done": finished || done}))
                    .collect();
                Ok(
                    json!({"stage": stage.stage(), "step": stage, "key": plan.key,
                          "finished": finished, "dir": plan.dir, "work_dir": plan.job.out,
                          "shards": shards}),
                )
            })
        }
        Command::Shard { stage, shard, at } if stage != Sharded::Heuristics => {
            with_minhash(&at, &resolver, |plan| {
                let started = Instant::now();
                let mut out = json!({"stage": stage.stage(), "step": stage, "shard": shard});
                if plan.finished() {
                    out["skipped"] = json!("stage finished");
                } else {
                    let job = &plan.job;
                    if minhash_shards(stage, job).contains(&(shard.clone(), true)) {
                        out["skipped"] = json!("shard done");
                    }
                    match stage {
                        Sharded::MinhashSignatures => {
                            let (docs, with_sig, _) = job.run_signatures(&shard)?;
                            out["docs_in"] = json!(docs);
                            out["docs_with_signature"] = json!(with_sig);
                        }
                        Sharded::MinhashBuckets => {
                            out["duplicate_pairs"] = json!(job.run_bucket(&shard)?);
                        }
                        Sharded::MinhashClusters => {
                            anyhow::ensure!(
                                shard == "all",
                                "the minhash cluster merge has one shard, `all` (not `{shard}`)"
                            );
                            out["merge"] = serde_json::to_value(job.run_clusters()?)?;
                        }
                        Sharded::MinhashFilter => {
                            out["docs_out"] = json!(job.run_filter(&shard)?);
                        }
                        _ => unreachable!("handled elsewhere"),
                    }
                }
                out["seconds"] = json!(started.elapsed().as_secs_f64());
                Ok(out)
            })
        }
        Command::Shards { stage, at } => with_plan(stage, &at, &resolver, |_, plan| {
            let finished = plan.finished();
            let shards: Vec<Value> = plan
                .shards
                .iter()
                .map(|(name, _)| json!({"name": name, "done": finished || plan.is_done(name)}))
                .collect();
            Ok(json!({"stage": stages::heuristics::STAGE, "key": plan.key,
                      "finished": finished, "dir": plan.dir, "work_dir": plan.work.dir,
                      "shards": shards}))
        }),
        Command::Shard { stage, shard, at } => with_plan(stage, &at, &resolver, |ctx, plan| {
            let started = Instant::now();
            let mut out = json!({"stage": stages::heuristics::STAGE, "shard": shard});
            if plan.finished() {
                // Its output is in the finished stage folder already; nothing to do.
                out["skipped"] = json!("stage finished");
            } else {
                if plan.is_done(&shard) {
                    out["skipped"] = json!("shard done");
                }
                let p = stages::heuristics::load_pipeline(ctx)?;
                let stats = plan.run_shard(&p, &shard)?;
                out["docs_in"] = json!(stats.counts.docs_in);
                out["docs_out"] = json!(stats.counts.docs_kept);
                out["chars_out"] = json!(stats.chars_out);
            }
            out["seconds"] = json!(started.elapsed().as_secs_f64());
            Ok(out)
        }),
    }
}

/// The listing of the pool, BFF and fastText-scores shards.
fn other_shards(stage: Sharded, ctx: &Ctx, cache: &StageCache, scale: &str) -> Result<Value> {
    let listing = |key: &str,
                   finished: bool,
                   dir: &std::path::Path,
                   work: &std::path::Path,
                   shards: Vec<Value>| {
        json!({"stage": stage.stage(), "step": stage, "key": key, "finished": finished,
               "dir": dir, "work_dir": work, "shards": shards})
    };
    match stage {
        Sharded::Pool => {
            let plan = stages::pool::plan(cache, ctx)?;
            let finished = plan.finished();
            let shards = plan
                .warcs
                .iter()
                .map(|(n, _)| json!({"name": n, "done": finished || plan.is_done(n)}))
                .collect();
            Ok(listing(
                &plan.key,
                finished,
                &plan.dir,
                &plan.work.dir,
                shards,
            ))
        }
        Sharded::Bff => {
            if !ctx
                .p
                .variants
                .iter()
                .any(|v| v.dedup == Some(crate::params::Dedup::Bff))
            {
                return Ok(json!({"stage": stage.stage(), "step": stage, "used": false,
                                 "shards": []}));
            }
            let heuristics = stages::heuristics::finished(cache, ctx)?;
            let plan = stages::dedup::bff_plan(cache, ctx, &heuristics)?;
            let finished = plan.finished();
            let shards = plan
                .group_names()
                .into_iter()
                .map(|g| {
                    let done = finished || plan.group_done(&g);
                    json!({"name": g, "done": done})
                })
                .collect();
            Ok(listing(&plan.key, finished, &plan.dir, &plan.work, shards))
        }
        Sharded::FasttextScores => {
            let plans = stages::quality::top_plans(cache, ctx)?;
            if plans.is_empty() {
                return Ok(json!({"stage": stage.stage(), "step": stage, "used": false,
                                 "shards": []}));
            }
            let mut shards = Vec::new();
            let mut keys = Vec::new();
            for plan in &plans {
                let finished = plan.finished();
                keys.push(json!({"stage": plan.stage, "key": plan.key, "finished": finished}));
                for (n, _) in &plan.shards {
                    shards.push(json!({"name": format!("{}.{n}", plan.label()),
                                       "done": finished || plan.is_done(n)}));
                }
            }
            let finished = plans.iter().all(|p| p.finished());
            Ok(
                json!({"stage": stage.stage(), "step": stage, "key": keys, "finished": finished,
                      "shards": shards}),
            )
        }
        Sharded::TokenizeFiles | Sharded::TokenizeCells => {
            let plans = stages::tokenize::shard_plans(cache, ctx, scale)?;
            let mut shards = Vec::new();
            let mut keys = Vec::new();
            for plan in &plans {
                let finished = plan.finished();
                keys.push(json!({"stage": plan.stage, "key": plan.key, "finished": finished}));
                let job = &plan.job;
                if stage == Sharded::TokenizeFiles {
                    for (fi, n) in job.file_shards().iter().enumerate() {
                        shards.push(json!({"name": format!("{}.{n}", plan.what),
                                           "done": finished || job.file_done(fi)}));
                    }
                    continue;
                }
                for (r, &(cells, _)) in job.rounds().iter().enumerate() {
                    for lo in (0..cells).step_by(CELLS_PER_SHARD) {
                        let hi = (lo + CELLS_PER_SHARD).min(cells) - 1;
                        let done = finished || (lo..=hi).all(|c| job.cell_done(r, c));
                        shards.push(
                            json!({"name": format!("{}.r{r}.c{lo:05}-{hi:05}", plan.what),
                                           "round": r, "done": done}),
                        );
                    }
                }
            }
            let finished = plans.iter().all(|p| p.finished());
            Ok(
                json!({"stage": stage.stage(), "step": stage, "key": keys, "finished": finished,
                      "shards": shards}),
            )
        }
        _ => unreachable!("heuristics and MinHash are listed elsewhere"),
    }
}

/// Cells per listed `tokenize-cells` shard: 128 cells make 8 tasks in round 0, one in each later
/// round (a task per cell would be hundreds of short processes per document set).
const CELLS_PER_SHARD: usize = 16;

/// Runs one tokenize step shard (see [`Sharded::TokenizeFiles`], [`Sharded::TokenizeCells`]).
fn tokenize_shard(
    stage: Sharded,
    shard: &str,
    ctx: &Ctx,
    cache: &StageCache,
    scale: &str,
) -> Result<Value> {
    let plans = stages::tokenize::shard_plans(cache, ctx, scale)?;
    let (what, rest) = shard.split_once('.').unwrap_or((shard, ""));
    let Some(plan) = plans.iter().find(|p| p.what == what) else {
        let known: Vec<&str> = plans.iter().map(|p| p.what.as_str()).collect();
        anyhow::bail!(
            "no tokenize shard `{shard}`: shards are `SET.{}` with SET one of {}",
            if stage == Sharded::TokenizeFiles {
                "FFFFFFFF"
            } else {
                "rR.cAAAAA[-BBBBB]"
            },
            known.join(", ")
        );
    };
    let mut out = json!({});
    if plan.finished() {
        out["skipped"] = json!("stage finished");
        return Ok(out);
    }
    let job = &plan.job;
    if stage == Sharded::TokenizeFiles {
        let fi = match rest.parse::<usize>() {
            Ok(fi) if rest.len() == 8 => fi,
            _ => anyhow::bail!(
                "tokenize-files shard `{shard}`: expected `{what}.FFFFFFFF` (an input file index)"
            ),
        };
        if job.file_done(fi) {
            out["skipped"] = json!("shard done");
        }
        let st = job.run_file(fi)?;
        out["docs_in"] = json!(st.documents);
        out["tokens"] = json!(st.tokens);
        out["contexts"] = json!(st.contexts);
        return Ok(out);
    }
    let (round, cells) = parse_cells(rest).with_context(|| {
        format!("tokenize-cells shard `{shard}`: expected `{what}.rR.cAAAAA` or `{what}.rR.cAAAAA-BBBBB`")
    })?;
    if cells.clone().all(|c| job.cell_done(round, c)) {
        out["skipped"] = json!("shard done");
    }
    let (mut contexts, mut written) = (0u64, 0u64);
    for c in cells {
        let st = job.run_cell(round, c)?;
        contexts += st.contexts_in;
        written += st.chunks.len() as u64;
    }
    out["contexts_in"] = json!(contexts);
    out["shards_written"] = json!(written);
    Ok(out)
}

/// `rR.cAAAAA` or `rR.cAAAAA-BBBBB` → (R, A..=B).
fn parse_cells(s: &str) -> Result<(usize, std::ops::RangeInclusive<usize>)> {
    let (r, c) = s
        .split_once('.')
        .context("no `.` between round and cells")?;
    let round = r
        .strip_prefix('r')
        .context("no `r` before the round")?
        .parse()?;
    let c = c.strip_prefix('c').context("no `c` before the cells")?;
    let (lo, hi) = c.split_once('-').unwrap_or((c, c));
    let (lo, hi): (usize, usize) = (lo.parse()?, hi.parse()?);
    anyhow::ensure!(lo <= hi, "cells {lo} to {hi}: an empty range");
    Ok((round, lo..=hi))
}

/// Runs one pool, BFF or fastText-scores shard (nothing when it or its stage is done).
fn other_shard(
    stage: Sharded,
    shard: &str,
    ctx: &Ctx,
    cache: &StageCache,
    scale: &str,
) -> Result<Value> {
    let mut out = json!({});
    match stage {
        Sharded::Pool => {
            let plan = stages::pool::plan(cache, ctx)?;
            if plan.finished() {
                out["skipped"] = json!("stage finished");
                return Ok(out);
            }
            if plan.is_done(shard) {
                out["skipped"] = json!("shard done");
            }
            let stats = plan.run_shard(ctx.recipe, ctx.resolver, shard)?;
            out["docs_out"] = json!(stats.docs);
            out["chars_out"] = json!(stats.chars);
            out["warc_skipped"] = json!(stats.skipped);
        }
        Sharded::Bff => {
            let heuristics = stages::heuristics::finished(cache, ctx)?;
            let plan = stages::dedup::bff_plan(cache, ctx, &heuristics)?;
            if plan.finished() {
                out["skipped"] = json!("stage finished");
                return Ok(out);
            }
            if plan.group_done(shard) {
                out["skipped"] = json!("shard done");
            }
            let report = plan.run_group(shard)?;
            out["docs_in"] = json!(report.total.docs_in);
            out["docs_out"] = json!(report.total.docs_out);
        }
        Sharded::FasttextScores => {
            let plans = stages::quality::top_plans(cache, ctx)?;
            let (label, file) = shard.split_once('.').unwrap_or((shard, ""));
            let Some(plan) = plans.iter().find(|p| p.label() == label) else {
                let known: Vec<&str> = plans.iter().map(|p| p.label()).collect();
                anyhow::bail!(
                    "no fastText scoring shard `{shard}`: shards are `STAGE.FILE` with STAGE one of {}",
                    known.join(", ")
                );
            };
            if plan.finished() {
                out["skipped"] = json!("stage finished");
                return Ok(out);
            }
            if plan.is_done(file) {
                out["skipped"] = json!("shard done");
            }
            out["docs_in"] = json!(plan.run_shard(file)?);
        }
        Sharded::TokenizeFiles | Sharded::TokenizeCells => {
            return tokenize_shard(stage, shard, ctx, cache, scale);
        }
        _ => unreachable!("heuristics and MinHash run elsewhere"),
    }
    Ok(out)
}

/// A MinHash step's shards and whether each is done.
fn minhash_shards(step: Sharded, job: &lmrepro_curate::minhash::MinhashJob) -> Vec<(String, bool)> {
    match step {
        Sharded::MinhashSignatures => job
            .signature_shards()
            .into_iter()
            .map(|s| {
                let done = job.signatures_done(&s);
                (s, done)
            })
            .collect(),
        Sharded::MinhashBuckets => job
            .bucket_shards()
            .into_iter()
            .map(|s| {
                let done = job.bucket_done(&s);
                (s, done)
            })
            .collect(),
        Sharded::MinhashClusters => vec![("all".to_string(), job.clusters_done())],
        Sharded::MinhashFilter => job
            .names
            .iter()
            .map(|s| (s.clone(), job.filter_done(s)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether some variant of the recipe is deduplicated with MinHash (else the stage is not built).
fn uses_minhash(p: &crate::params::DclmParams) -> bool {
    p.variants
        .iter()
        .any(|v| v.dedup == Some(crate::params::Dedup::Minhash))
}

/// Calls `f` with the recipe's stage context and cache (the set-up every shard command shares).
fn with_ctx<T>(
    at: &At,
    resolver: &Resolver,
    f: impl FnOnce(&Ctx, &StageCache) -> Result<T>,
) -> Result<T> {
    let recipe = at.recipe()?;
    let p = load_params(&recipe)?;
    let ctx = Ctx {
        recipe: &recipe,
        resolver,
        p: &p,
    };
    f(&ctx, &StageCache::new(at.cache_root()))
}

/// Calls `f` with the MinHash stage's plan (the heuristics stage must be finished).
fn with_minhash(
    at: &At,
    resolver: &Resolver,
    f: impl FnOnce(&stages::dedup::MinhashPlan) -> Result<Value>,
) -> Result<Value> {
    with_ctx(at, resolver, |ctx, cache| {
        anyhow::ensure!(
            uses_minhash(ctx.p),
            "recipe `{}` has no MinHash variant: no dedup-minhash stage to shard",
            at.recipe
        );
        let heuristics = stages::heuristics::finished(cache, ctx)?;
        f(&stages::dedup::minhash_plan(cache, ctx, &heuristics)?)
    })
}

/// Calls `f` with the sharded stage's plan (its upstream must be finished).
fn with_plan(
    stage: Sharded,
    at: &At,
    resolver: &Resolver,
    f: impl FnOnce(&Ctx, &stages::heuristics::Plan) -> Result<Value>,
) -> Result<Value> {
    anyhow::ensure!(stage == Sharded::Heuristics, "not the heuristics stage");
    with_ctx(at, resolver, |ctx, cache| {
        let pool = stages::pool::finished(cache, ctx)?;
        f(ctx, &stages::heuristics::plan(cache, ctx, &pool)?)
    })
}
