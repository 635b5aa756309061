//! RefinedWeb heuristics over the pool (`lmrepro-crawl`'s pipeline, DCLM's 26 steps), with page
//! counts per step.

use super::pool::{self, PoolSummary};
use super::Ctx;
use crate::cache::{Stage, StageCache};
use anyhow::Result;
use lmrepro_data::Resolver;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
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

/// The heuristics stage: keyed by the pool, the pipeline and the language-id model it uses.
pub fn run(
    cache: &mut StageCache,
    ctx: &Ctx,
    pool: &(Stage, PoolSummary),
) -> Result<(Stage, HeuristicsSummary)> {
    let (pool_stage, pool_sum) = pool;
    let pipeline = &ctx.p.heuristics.pipeline;
    cache.run(
        "heuristics",
        &json!({"pool": pool_stage.key, "pipeline": pipeline,
                "assets": ctx.input_shas(&["langid/lid.176.ftz"])?}),
        |dir| {
            let inputs = pool::files(&pool_stage.dir, pool_sum);
            filter(ctx.resolver, pipeline, &inputs, dir)
        },
    )
}

/// Runs `pipeline` over every page of `inputs`, writing each file's kept pages to `out` under the
/// same name.
fn filter(
    resolver: &Resolver,
    pipeline: &str,
    inputs: &[PathBuf],
    out: &Path,
) -> Result<HeuristicsSummary> {
    let mut assets = lmrepro_crawl::Assets::new(resolver.clone());
    assets.curated_domains = lmrepro_crawl::assets::CuratedDomains::Empty;
    let p = lmrepro_crawl::Pipeline::load(pipeline, None, &assets)?;
    let n_steps = p.steps.len();
    let mut stopped_at = vec![0u64; n_steps];
    let mut skipped = vec![0u64; n_steps];
    let (mut docs_in, mut docs_out, mut chars_out, mut errors) = (0u64, 0u64, 0u64, 0u64);
    for input in inputs {
        let (docs, _) =
            lmrepro_curate::docs::read_docs(input, lmrepro_curate::docs::OnMalformed::Error)?;
        let outcomes: Vec<_> = docs
            .par_iter()
            .map(|(_, d)| {
                let url = d.get("url").and_then(Value::as_str).map(str::to_string);
                let page = lmrepro_crawl::Page {
                    text: lmrepro_curate::docs::text(d).to_string(),
                    url: url.clone(),
                    warc_target_uri: url,
                    ..Default::default()
                };
                p.run(page)
            })
            .collect();
        let mut kept = Vec::new();
        for ((_, mut d), o) in docs.into_iter().zip(outcomes) {
            docs_in += 1;
            for &s in &o.skipped {
                skipped[s] += 1;
            }
            match &o.stop {
                Some(stop) => {
                    stopped_at[stop.step] += 1;
                    errors += stop.error.is_some() as u64;
                }
                None => {
                    docs_out += 1;
                    chars_out += o.page.text.chars().count() as u64;
                    d.insert("text".into(), Value::String(o.page.text));
                    kept.push(d);
                }
            }
        }
        let name = input.file_name().expect("pool files have names");
        pool::write_jsonl(&out.join(name), &kept)?;
    }
    Ok(HeuristicsSummary {
        docs_in,
        docs_out,
        chars_out,
        errors,
        steps: step_counts(&p, docs_in, &stopped_at, &skipped),
        notes: p.notes.clone(),
    })
}

/// Pages in / out of each step, from where each dropped page stopped.
fn step_counts(
    p: &lmrepro_crawl::Pipeline,
    docs_in: u64,
    stopped_at: &[u64],
    skipped: &[u64],
) -> Vec<StepCount> {
    let mut steps = Vec::with_capacity(p.steps.len());
    let mut alive = docs_in;
    for (i, s) in p.steps.iter().enumerate() {
        steps.push(StepCount {
            id: s.id.clone(),
            pages_in: alive,
            pages_out: alive - stopped_at[i],
            skipped: skipped[i],
        });
        alive -= stopped_at[i];
    }
    steps
}
