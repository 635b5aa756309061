//! RefinedWeb heuristics over the pool (`lmrepro-crawl`'s pipeline, DCLM's 26 steps), with page
//! counts per step.

use super::pool::{self, PoolSummary};
use super::Ctx;
use crate::cache::{key_of, Stage, StageCache};
use anyhow::{bail, Context, Result};
use lmrepro_crawl::runner::{run_batch, Counts};
use lmrepro_crawl::Page;
use lmrepro_stage::jsonl::write_atomic;
use lmrepro_stage::{Claim, ShardedStage, Tally};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// Per-step page counts of the heuristics stage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepCount {
    pub id: String,
    pub pages_in: u64,
    pub pages_out: u64,
    /// Pages for which the step was skipped (no URL).
    pub skipped: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeuristicsSummary {
    pub docs_in: u64,
    pub docs_out: u64,
    pub chars_out: u64,
    pub errors: u64,
    pub steps: Vec<StepCount>,
    pub notes: Vec<String>,
}

/// The stage's name in the cache.
pub const STAGE: &str = "heuristics";

/// The heuristics stage before it runs: its key and its shards, one per pool file. Each shard is
/// built in a work folder (`<root>/heuristics-<key>.shards/`, [`ShardedStage`] markers), so a
/// shard is the unit of scheduling, retry and resume: the local engine runs them in a loop, the
/// Ray engine (`lmrepro dclm shard heuristics`) one task each; both then [`run`] the stage, which
/// runs any shard still missing and moves the shards into the finished stage folder.
pub struct Plan {
    pub material: Value,
    pub key: String,
    /// The finished stage's folder.
    pub dir: PathBuf,
    pub work: ShardedStage,
    /// Shard name → its pool file, in pool order.
    pub shards: Vec<(String, PathBuf)>,
}

/// A shard's completion record: the pipeline's counts over its pages and the characters kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShardStats {
    pub counts: Counts,
    pub chars_out: u64,
}

/// The heuristics stage's key (the pool, the pipeline and the language-id model it uses) and
/// shards.
pub fn plan(cache: &StageCache, ctx: &Ctx, pool: &(Stage, PoolSummary)) -> Result<Plan> {
    let (pool_stage, pool_sum) = pool;
    let material = json!({"pool": pool_stage.key, "pipeline": ctx.p.heuristics.pipeline,
                          "assets": ctx.input_shas(&["langid/lid.176.ftz"])?});
    let key = key_of(&material);
    let dir = cache.stage_dir(STAGE, &key);
    // Shared: Ray runs its shards as concurrent processes, each under the shard's own lock.
    let work = ShardedStage::shared(&dir.with_file_name(format!("{STAGE}-{key}.shards")));
    let shards = pool::files(&pool_stage.dir, pool_sum)
        .into_iter()
        .map(|f| (shard_name(&f), f))
        .collect();
    Ok(Plan {
        material,
        key,
        dir,
        work,
        shards,
    })
}

/// A pool file's shard name: its file name without `.jsonl`.
fn shard_name(file: &Path) -> String {
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    name.strip_suffix(".jsonl").unwrap_or(&name).to_string()
}

/// DCLM's pipeline as the recipe names it (curated-domain list empty, as DCLM's baseline runs).
pub fn load_pipeline(ctx: &Ctx) -> Result<lmrepro_crawl::Pipeline> {
    let mut assets = lmrepro_crawl::Assets::new(ctx.resolver.clone());
    assets.curated_domains = lmrepro_crawl::assets::CuratedDomains::Empty;
    lmrepro_crawl::Pipeline::load(&ctx.p.heuristics.pipeline, None, &assets)
}

impl Plan {
    /// Whether the whole stage is finished (its shards then live in the stage folder, and the
    /// work folder is gone).
    pub fn finished(&self) -> bool {
        self.dir.join(lmrepro_stage::DONE_FILE).is_file()
    }

    /// Whether `shard` is finished in the work folder: its marker and its output are there (a
    /// finish interrupted after moving some outputs leaves markers without outputs: redone).
    pub fn is_done(&self, shard: &str) -> bool {
        self.work.is_done(shard) && self.work.output_path(shard, ".jsonl").is_file()
    }

    /// Runs one shard (unless it is done) into the work folder: its kept pages to
    /// `<shard>.jsonl` (written under a temporary name, renamed), then its marker.
    pub fn run_shard(&self, p: &lmrepro_crawl::Pipeline, shard: &str) -> Result<ShardStats> {
        let Some((_, input)) = self.shards.iter().find(|(n, _)| n == shard) else {
            let known: Vec<&str> = self.shards.iter().map(|(n, _)| n.as_str()).collect();
            bail!(
                "no heuristics shard `{shard}`; the shards are {}",
                known.join(", ")
            );
        };
        let _lock = match self.work.claim(shard, || self.is_done(shard))? {
            Claim::Done(stats) => return Ok(stats),
            Claim::Mine(lock) => lock,
        };
        let (kept, stats) = filter(p, input)?;
        write_atomic(
            &self.work.temp_path(shard, ".jsonl"),
            &self.work.output_path(shard, ".jsonl"),
            &lmrepro_stage::to_jsonl(&kept),
        )?;
        self.work.mark_done(shard, &stats)?;
        Ok(stats)
    }
}

/// The heuristics stage: runs the shards not yet done (in pool order), then moves every shard's
/// output into the stage folder under its pool file's name and adds up their counts.
pub fn run(
    cache: &mut StageCache,
    ctx: &Ctx,
    pool: &(Stage, PoolSummary),
) -> Result<(Stage, HeuristicsSummary)> {
    let plan = plan(cache, ctx, pool)?;
    let done = cache.run(STAGE, &plan.material, |dir| {
        let p = load_pipeline(ctx)?;
        let mut total = ShardStats {
            counts: Counts::new(&p),
            chars_out: 0,
        };
        for (shard, input) in &plan.shards {
            let stats = plan.run_shard(&p, shard)?;
            let name = input.file_name().expect("pool files have names");
            let from = plan.work.output_path(shard, ".jsonl");
            std::fs::rename(&from, dir.join(name))
                .with_context(|| format!("moving {}", from.display()))?;
            total.counts.tally(&stats.counts);
            total.chars_out += stats.chars_out;
        }
        Ok(summary(&p, &total))
    })?;
    // The shards now live in the stage folder; their work folder is spent.
    if plan.work.dir.exists() {
        std::fs::remove_dir_all(&plan.work.dir)
            .with_context(|| format!("removing {}", plan.work.dir.display()))?;
    }
    Ok(done)
}

/// Runs the pipeline over every page of one pool file (crawl's runner): the kept documents, with
/// their (possibly rewritten) text, and the counts.
fn filter(
    p: &lmrepro_crawl::Pipeline,
    input: &Path,
) -> Result<(Vec<Map<String, Value>>, ShardStats)> {
    let mut stats = ShardStats {
        counts: Counts::new(p),
        chars_out: 0,
    };
    let (docs, _) = lmrepro_stage::read_docs(input, lmrepro_stage::OnMalformed::Error)?;
    // The pool writes the page's URL as `url`; DCLM's URL steps read it from both fields.
    let batch = docs
        .into_iter()
        .map(|(_, d)| {
            let url = d.get("url").and_then(Value::as_str).map(str::to_string);
            let page = Page::with_url(lmrepro_stage::text(&d), url);
            (d, page)
        })
        .collect();
    let mut kept = Vec::new();
    for (mut d, o) in run_batch(p, batch, &mut stats.counts) {
        if o.kept() {
            stats.chars_out += o.page.text.chars().count() as u64;
            d.insert("text".into(), Value::String(o.page.text));
            kept.push(d);
        }
    }
    Ok((kept, stats))
}

fn summary(p: &lmrepro_crawl::Pipeline, total: &ShardStats) -> HeuristicsSummary {
    let counts = &total.counts;
    HeuristicsSummary {
        docs_in: counts.docs_in,
        docs_out: counts.docs_kept,
        chars_out: total.chars_out,
        errors: counts.errors(),
        steps: counts
            .steps
            .iter()
            .map(|s| StepCount {
                id: s.id.clone(),
                pages_in: s.count.pages_in,
                pages_out: s.count.pages_out,
                skipped: s.count.skipped,
            })
            .collect(),
        notes: p.notes.clone(),
    }
}

/// The finished heuristics stage, for a shard task of a later stage (which never builds it).
pub fn finished(cache: &StageCache, ctx: &Ctx) -> Result<Stage> {
    let pool = pool::finished(cache, ctx)?;
    let plan = plan(cache, ctx, &pool)?;
    if !plan.finished() {
        bail!(
            "the heuristics stage {} is not finished: run `lmrepro dclm stages --until heuristics` first",
            plan.dir.display()
        );
    }
    Ok(Stage {
        dir: plan.dir,
        key: plan.key,
    })
}
