//! RefinedWeb heuristics over the pool (`lmrepro-crawl`'s pipeline, DCLM's 26 steps), with page
//! counts per step.

use super::pool::{self, PoolSummary};
use super::Ctx;
use crate::cache::{Stage, StageCache};
use anyhow::Result;
use lmrepro_crawl::runner::{run_batch, Counts};
use lmrepro_crawl::Page;
use lmrepro_data::Resolver;
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

/// Runs `pipeline` over every page of `inputs` (crawl's runner), writing each file's kept pages
/// to `out` under the same name.
fn filter(
    resolver: &Resolver,
    pipeline: &str,
    inputs: &[PathBuf],
    out: &Path,
) -> Result<HeuristicsSummary> {
    let mut assets = lmrepro_crawl::Assets::new(resolver.clone());
    assets.curated_domains = lmrepro_crawl::assets::CuratedDomains::Empty;
    let p = lmrepro_crawl::Pipeline::load(pipeline, None, &assets)?;
    let mut counts = Counts::new(&p);
    let mut chars_out = 0u64;
    for input in inputs {
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
        for (mut d, o) in run_batch(&p, batch, &mut counts) {
            if o.kept() {
                chars_out += o.page.text.chars().count() as u64;
                d.insert("text".into(), Value::String(o.page.text));
                kept.push(d);
            }
        }
        let name = input.file_name().expect("pool files have names");
        pool::write_jsonl(&out.join(name), &kept)?;
    }
    Ok(HeuristicsSummary {
        docs_in: counts.docs_in,
        docs_out: counts.docs_kept,
        chars_out,
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
    })
}
