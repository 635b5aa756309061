//! `lmrepro dclm ...`: the dclm-baseline data stages addressable from outside, for a scheduler
//! (the Ray driver in `python/lmrepro_ray/`) or a shell loop. Global stages run through
//! `stages --until`; a sharded stage lists its shards (`shards`) and runs one (`shard`). Every
//! command prints one JSON object on stdout; the stage cache is the local engine's, so both
//! engines build the same stage folders under the same keys.

use crate::cache::{self, StageCache};
use crate::stages::{self, Ctx};
use crate::{load_params, Until};
use anyhow::Result;
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

/// The stages that run shard by shard.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Sharded {
    /// One shard per pool file.
    Heuristics,
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

/// Calls `f` with the sharded stage's plan (its upstream must be finished).
fn with_plan(
    stage: Sharded,
    at: &At,
    resolver: &Resolver,
    f: impl FnOnce(&Ctx, &stages::heuristics::Plan) -> Result<Value>,
) -> Result<Value> {
    let Sharded::Heuristics = stage;
    let recipe = at.recipe()?;
    let p = load_params(&recipe)?;
    let ctx = Ctx {
        recipe: &recipe,
        resolver,
        p: &p,
    };
    let cache = StageCache::new(at.cache_root());
    let pool = stages::pool::finished(&cache, &ctx)?;
    let plan = stages::heuristics::plan(&cache, &ctx, &pool)?;
    f(&ctx, &plan)
}
