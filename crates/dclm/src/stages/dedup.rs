//! Dedup of the heuristics output: BFF (DCLM-Baseline's) or MinHash (the ablation), each run
//! once however many variants use it.
//!
//! MinHash is built in a work folder (`<root>/dedup-minhash-<key>.shards/`) in datatrove's four
//! steps ([`lmrepro_curate::minhash::MinhashJob`]: signatures per heuristics file → one task per
//! bucket → cluster merge → filter per file), so a distributed engine can run each step's shards
//! as tasks (`lmrepro dclm shard minhash-*`); the local engine runs the steps still missing in one
//! process, then moves the work folder into the stage folder as `docs/`.

use super::{docs_dir, Ctx, DocsSummary};
use crate::cache::{Stage, StageCache};
use crate::params::Dedup;
use anyhow::{Context, Result};
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
            Dedup::Minhash => {
                let plan = minhash_plan(cache, ctx, heuristics)?;
                let done = cache.run(&name, &plan.material, |dir| minhash(&plan, dir))?;
                // Moved into the stage folder (or left over from a run finished before).
                if plan.job.out.exists() {
                    std::fs::remove_dir_all(&plan.job.out)
                        .with_context(|| format!("removing {}", plan.job.out.display()))?;
                }
                done
            }
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

/// The MinHash dedup stage's name in the cache.
pub const MINHASH: &str = "dedup-minhash";

/// The MinHash stage before it runs: its key, its finished folder and the job whose steps run in
/// the work folder (`job.out`).
pub struct MinhashPlan {
    pub material: serde_json::Value,
    pub key: String,
    pub dir: std::path::PathBuf,
    pub job: lmrepro_curate::minhash::MinhashJob,
}

impl MinhashPlan {
    /// Whether the stage is finished (its steps then live in the stage folder).
    pub fn finished(&self) -> bool {
        self.dir.join(lmrepro_stage::DONE_FILE).is_file()
    }
}

/// The MinHash stage's key (the heuristics stage and the spec) and its job over the heuristics
/// output.
pub fn minhash_plan(cache: &StageCache, ctx: &Ctx, heuristics: &Stage) -> Result<MinhashPlan> {
    let material = json!({"heuristics": heuristics.key, "spec": ctx.p.minhash});
    let key = crate::cache::key_of(&material);
    let dir = cache.stage_dir(MINHASH, &key);
    let spec = &ctx.p.minhash;
    let cfg = lmrepro_curate::minhash::MinhashConfig {
        n_grams: spec.n_grams,
        num_buckets: spec.num_buckets,
        hashes_per_bucket: spec.hashes_per_bucket,
        seed: spec.seed,
        on_malformed: lmrepro_stage::OnMalformed::Error,
    };
    let work = dir.with_file_name(format!("{MINHASH}-{key}.shards"));
    let job = lmrepro_curate::minhash::MinhashJob::new(
        std::slice::from_ref(&heuristics.dir),
        &work,
        &cfg,
    )?;
    Ok(MinhashPlan {
        material,
        key,
        dir,
        job,
    })
}

/// Runs the MinHash steps still missing in the work folder, then moves it into the stage folder
/// as `docs/`, without the hidden files (locks, temporary files of killed tasks) that differ
/// between engines.
fn minhash(plan: &MinhashPlan, dir: &Path) -> Result<DocsSummary> {
    let work = &plan.job.out;
    let st = lmrepro_curate::minhash::run(&plan.job.files, work, &plan.job.cfg)?;
    remove_hidden(work)?;
    let out = docs_dir(dir);
    std::fs::rename(work, &out).with_context(|| format!("moving {}", work.display()))?;
    DocsSummary::of_output(st.docs_in, serde_json::to_value(&st)?, out)
}

/// Removes every file or folder whose name starts with `.` under `dir`.
fn remove_hidden(dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !hidden && p.is_dir() {
            remove_hidden(&p)?;
        } else if hidden && p.is_dir() {
            std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
        } else if hidden {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    Ok(())
}
