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
use std::path::{Path, PathBuf};

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
            Dedup::Bff => {
                let plan = bff_plan(cache, ctx, heuristics)?;
                let done = cache.run(&name, &plan.material, |dir| bff(&plan, dir))?;
                if plan.work.exists() {
                    std::fs::remove_dir_all(&plan.work)
                        .with_context(|| format!("removing {}", plan.work.display()))?;
                }
                done
            }
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

/// The BFF dedup stage's name in the cache.
pub const BFF: &str = "dedup-bff";

/// The BFF stage before it runs: its key, its finished folder, and its shard groups (DCLM's
/// global shards, one Bloom filter each), built in the work folder
/// `<root>/dedup-bff-<key>.shards/` — the folder itself for one group (today's layout),
/// `group-GGGG/` per group otherwise — so a distributed engine runs one task per group
/// (`lmrepro dclm shard bff --shard GGGG`). A group is done when its `stats.json` is written
/// (the last thing `lmrepro_curate::bff::run` writes).
pub struct BffPlan {
    pub material: serde_json::Value,
    pub key: String,
    pub dir: PathBuf,
    pub work: PathBuf,
    pub groups: usize,
    input: PathBuf,
    spec: crate::params::BffSpec,
}

/// The BFF stage's key (the heuristics stage and the spec) and its groups.
pub fn bff_plan(cache: &StageCache, ctx: &Ctx, heuristics: &Stage) -> Result<BffPlan> {
    let material = bff_material(&heuristics.key, &ctx.p.bff);
    let key = crate::cache::key_of(&material);
    let dir = cache.stage_dir(BFF, &key);
    anyhow::ensure!(
        ctx.p.bff.shard_groups >= 1,
        "params.bff.shard_groups must be at least 1"
    );
    Ok(BffPlan {
        work: dir.with_file_name(format!("{BFF}-{key}.shards")),
        material,
        key,
        dir,
        groups: ctx.p.bff.shard_groups,
        input: heuristics.dir.clone(),
        spec: ctx.p.bff.clone(),
    })
}

/// The BFF stage's key material: the heuristics stage's key and the spec (`shard_groups` only
/// when not 1).
fn bff_material(heuristics: &str, spec: &crate::params::BffSpec) -> serde_json::Value {
    json!({"heuristics": heuristics, "spec": spec})
}

impl BffPlan {
    /// Whether the stage is finished.
    pub fn finished(&self) -> bool {
        self.dir.join(lmrepro_stage::DONE_FILE).is_file()
    }

    /// The group names, `0000` ...
    pub fn group_names(&self) -> Vec<String> {
        (0..self.groups).map(|g| format!("{g:04}")).collect()
    }

    fn group_index(&self, group: &str) -> Result<usize> {
        match group.parse::<usize>() {
            Ok(g) if g < self.groups && group.len() == 4 => Ok(g),
            _ => anyhow::bail!(
                "no BFF shard group `{group}`; the groups are {}",
                self.group_names().join(", ")
            ),
        }
    }

    fn group_dir(&self, g: usize) -> PathBuf {
        if self.groups == 1 {
            self.work.clone()
        } else {
            self.work.join(format!("group-{g:04}"))
        }
    }

    /// Whether `group` is done (its report written).
    pub fn group_done(&self, group: &str) -> bool {
        self.group_index(group)
            .is_ok_and(|g| self.group_dir(g).join("stats.json").is_file())
    }

    /// Runs one group (its report when it is done already): BFF over its heuristics files
    /// (file `i` of the group `i % groups`) with its own filter. A second attempt of the same
    /// group waits on the group folder's lock, then resumes from the filter checkpoint.
    pub fn run_group(&self, group: &str) -> Result<lmrepro_curate::bff::BffReport> {
        let g = self.group_index(group)?;
        let out = self.group_dir(g);
        let stats = out.join("stats.json");
        if stats.is_file() {
            let v: serde_json::Value = serde_json::from_slice(
                &std::fs::read(&stats).with_context(|| format!("reading {}", stats.display()))?,
            )?;
            return serde_json::from_value(v["bff"].clone())
                .with_context(|| format!("{}: no BFF report under `bff`", stats.display()));
        }
        let cfg = lmrepro_curate::bff::BffConfig {
            min_ngram_size: self.spec.min_ngram_size,
            max_ngram_size: self.spec.max_ngram_size,
            filtering_threshold: self.spec.filtering_threshold,
            fp_rate: self.spec.fp_rate,
            seed: self.spec.seed,
            total_shards: self.groups,
            // One group is the whole run, as before groups existed (same `stats.json`).
            shard_num: (self.groups > 1).then_some(g),
            ..Default::default()
        };
        lmrepro_curate::bff::run(std::slice::from_ref(&self.input), &out, &cfg, |_, _| {})
    }
}

/// Runs the BFF groups still missing in the work folder, then moves it into the stage folder as
/// `docs/` (without hidden files: locks and temporary files differ between engines).
fn bff(plan: &BffPlan, dir: &Path) -> Result<DocsSummary> {
    let mut total = lmrepro_curate::bff::BffStats::default();
    for group in plan.group_names() {
        lmrepro_stage::Tally::tally(&mut total, &plan.run_group(&group)?.total);
    }
    remove_hidden(&plan.work)?;
    let out = docs_dir(dir);
    std::fs::rename(&plan.work, &out).with_context(|| format!("moving {}", plan.work.display()))?;
    DocsSummary::of_output(total.docs_in, serde_json::to_value(&total)?, out)
}

/// The finished BFF stage, for a later stage's shard task (which never builds it).
pub fn bff_finished(cache: &StageCache, ctx: &Ctx, heuristics: &Stage) -> Result<Stage> {
    let plan = bff_plan(cache, ctx, heuristics)?;
    anyhow::ensure!(
        plan.finished(),
        "the BFF stage {} is not finished: run `lmrepro dclm stages --until dedup` first",
        plan.dir.display()
    );
    Ok(Stage {
        dir: plan.dir,
        key: plan.key,
    })
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

/// The finished MinHash stage, for a later stage's shard task (which never builds it).
pub fn minhash_finished(cache: &StageCache, ctx: &Ctx, heuristics: &Stage) -> Result<Stage> {
    let plan = minhash_plan(cache, ctx, heuristics)?;
    anyhow::ensure!(
        plan.finished(),
        "the MinHash stage {} is not finished: run `lmrepro dclm stages --until dedup` first",
        plan.dir.display()
    );
    Ok(Stage {
        dir: plan.dir,
        key: plan.key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default of one BFF shard group keeps the key the committed results were made with:
    /// the BFF key recorded in `results/dclm-baseline/timings.json`, recomputed from today's spec
    /// and the recorded heuristics key. Two groups make another stage.
    #[test]
    fn one_bff_group_keeps_the_committed_stage_key() {
        let recipe = lmrepro_data::Recipe::load_named("dclm-baseline").unwrap();
        let p = crate::load_params(&recipe).unwrap();
        assert_eq!(p.bff.shard_groups, 1);
        let timings = lmrepro_data::workspace_root().join("results/dclm-baseline/timings.json");
        let t: serde_json::Value =
            serde_json::from_slice(&std::fs::read(timings).unwrap()).unwrap();
        let key = |stage: &str| {
            t["stages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["stage"] == stage)
                .unwrap()["key"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let material = |spec| bff_material(&key("heuristics"), spec);
        assert!(material(&p.bff)["spec"].get("shard_groups").is_none());
        assert_eq!(crate::cache::key_of(&material(&p.bff)), key(BFF));
        let mut two = p.bff.clone();
        two.shard_groups = 2;
        assert_eq!(material(&two)["spec"]["shard_groups"], 2);
        assert_ne!(crate::cache::key_of(&material(&two)), key(BFF));
    }
}
