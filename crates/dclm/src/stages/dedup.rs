//! Dedup of the heuristics output: BFF (DCLM-Baseline's) or MinHash (the ablation), each run
//! once however many variants use it.

use super::{docs_dir, Ctx, DocsSummary};
use crate::cache::{Stage, StageCache};
use crate::params::Dedup;
use anyhow::Result;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The dedup stages some variant uses, by method (in `Dedup` order: BFF, then MinHash).
pub fn run(
    cache: &mut StageCache,
    ctx: &Ctx,
    heuristics: &Stage,
) -> Result<BTreeMap<Dedup, (Stage, DocsSummary)>> {
    let used: BTreeSet<Dedup> = ctx.p.variants.iter().filter_map(|v| v.dedup).collect();
    let mut out = BTreeMap::new();
    for method in used {
        let name = format!("dedup-{}", method.name());
        let done = match method {
            Dedup::Bff => cache.run(
                &name,
                &json!({"heuristics": heuristics.key, "spec": ctx.p.bff}),
                |dir| bff(ctx, &heuristics.dir, dir),
            )?,
            Dedup::Minhash => cache.run(
                &name,
                &json!({"heuristics": heuristics.key, "spec": ctx.p.minhash}),
                |dir| minhash(ctx, &heuristics.dir, dir),
            )?,
        };
        out.insert(method, done);
    }
    Ok(out)
}

fn bff(ctx: &Ctx, input: &Path, dir: &Path) -> Result<DocsSummary> {
    let spec = &ctx.p.bff;
    let cfg = lmrepro_curate::bff::BffConfig {
        min_ngram_size: spec.min_ngram_size,
        max_ngram_size: spec.max_ngram_size,
        filtering_threshold: spec.filtering_threshold,
        fp_rate: spec.fp_rate,
        seed: spec.seed,
        ..Default::default()
    };
    let out = docs_dir(dir);
    let r = lmrepro_curate::bff::run(&[input.to_path_buf()], &out, &cfg, |_, _| {})?;
    DocsSummary::of_output(r.total.docs_in, serde_json::to_value(&r.total)?, out)
}

fn minhash(ctx: &Ctx, input: &Path, dir: &Path) -> Result<DocsSummary> {
    let spec = &ctx.p.minhash;
    let cfg = lmrepro_curate::minhash::MinhashConfig {
        n_grams: spec.n_grams,
        num_buckets: spec.num_buckets,
        hashes_per_bucket: spec.hashes_per_bucket,
        seed: spec.seed,
        on_malformed: lmrepro_stage::OnMalformed::Error,
    };
    let out = docs_dir(dir);
    let st = lmrepro_curate::minhash::run(&[input.to_path_buf()], &out, &cfg)?;
    DocsSummary::of_output(st.docs_in, serde_json::to_value(&st)?, out)
}
