//! The fastText quality classifier (trained once), the top-fraction filters after dedup, and
//! each variant's documents: the output of the last stage its recipe row asks for.

use super::heuristics::HeuristicsSummary;
use super::pool::{self, PoolSummary};
use super::{docs_dir, profile, Ctx, DocsSummary};
use crate::cache::{Stage, StageCache};
use crate::params::{Dedup, VariantSpec};
use anyhow::{bail, Context, Result};
use lmrepro_curate::quality::{Classifier, KeepRule};
use lmrepro_stage::{Claim, ShardedStage};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The classifier in a `fasttext-train` stage directory.
const MODEL_FILE: &str = "model.bin";

/// The `fasttext-train` stage: keyed by the quality spec and the sha256 of its examples; its
/// summary counts the positives and negatives it trained on.
pub fn train_classifier(cache: &mut StageCache, ctx: &Ctx) -> Result<(Stage, Value)> {
    cache.run(CLASSIFIER, &classifier_material(ctx)?, |dir| {
        train(ctx, dir)
    })
}

/// The classifier stage's name in the cache.
const CLASSIFIER: &str = "fasttext-train";

fn train(ctx: &Ctx, dir: &Path) -> Result<Value> {
    let q = &ctx.p.quality;
    let pos = lmrepro_curate::quality::read_examples(&ctx.resolve_all(&q.positives)?)?;
    let neg = lmrepro_curate::quality::read_examples(&ctx.resolve_all(&q.negatives)?)?;
    let (mut max_pos, mut max_neg) = (q.max_positives, q.max_negatives);
    if q.balance {
        let n = pos
            .len()
            .min(max_pos.unwrap_or(usize::MAX))
            .min(neg.len().min(max_neg.unwrap_or(usize::MAX)));
        (max_pos, max_neg) = (Some(n), Some(n));
    }
    let cfg = lmrepro_curate::quality::TrainConfig {
        seed: q.seed,
        max_positives: max_pos,
        max_negatives: max_neg,
        ..Default::default()
    };
    let train = dir.join("train.txt");
    let (np, nn) = lmrepro_curate::quality::write_training_file(&pos, &neg, &cfg, &train)?;
    let model = lmrepro_curate::quality::train_file(&train, &cfg)?;
    model
        .save_model(dir.join(MODEL_FILE))
        .map_err(|e| anyhow::anyhow!("saving fastText model: {e}"))?;
    // The training file is a copy of the examples, which the key already pins.
    std::fs::remove_file(&train)?;
    Ok(json!({"positives": np, "negatives": nn}))
}

/// The stages a variant's documents can come from.
pub struct Upstream<'a> {
    pub pool: &'a (Stage, PoolSummary),
    pub heuristics: &'a (Stage, HeuristicsSummary),
    pub dedup: &'a BTreeMap<Dedup, (Stage, DocsSummary)>,
    pub classifier: &'a Stage,
}

/// One variant's training documents.
pub struct VariantDocs {
    /// Key of the stage they come from (the tokenize stage's upstream).
    pub key: String,
    /// Their files or directories.
    pub dirs: Vec<PathBuf>,
    /// Documents and characters.
    pub docs: (u64, u64),
    /// Documents per pool source.
    pub sources: BTreeMap<String, u64>,
}

/// Every variant's documents, by name, running the fastText filters the variants ask for (in
/// variant order, so the stage timings keep the recipe's order).
pub fn variants(
    cache: &mut StageCache,
    ctx: &Ctx,
    up: &Upstream,
) -> Result<BTreeMap<String, VariantDocs>> {
    let mut out = BTreeMap::new();
    for v in &ctx.p.variants {
        let (key, dirs, docs) = variant_source(cache, v, up)?;
        let sources = profile(&dirs)?.sources;
        out.insert(
            v.name.clone(),
            VariantDocs {
                key,
                dirs,
                docs,
                sources,
            },
        );
    }
    Ok(out)
}

/// The key, files and (documents, characters) of the last stage `v` asks for.
fn variant_source(
    cache: &mut StageCache,
    v: &VariantSpec,
    up: &Upstream,
) -> Result<(String, Vec<PathBuf>, (u64, u64))> {
    let (pool_stage, pool_sum) = up.pool;
    let (heur_stage, heur_sum) = up.heuristics;
    let stage_docs = |st: &Stage, s: &DocsSummary| {
        (
            st.key.clone(),
            vec![docs_dir(&st.dir)],
            (s.docs_out, s.chars_out),
        )
    };
    Ok(match (v.heuristics, v.dedup, v.fasttext_top_fraction) {
        (false, _, _) => (
            pool_stage.key.clone(),
            pool::files(&pool_stage.dir, pool_sum),
            (pool_sum.pool_docs(), pool_sum.pool_chars()),
        ),
        (true, None, _) => (
            heur_stage.key.clone(),
            vec![heur_stage.dir.clone()],
            (heur_sum.docs_out, heur_sum.chars_out),
        ),
        (true, Some(d), None) => {
            let (st, s) = &up.dedup[&d];
            stage_docs(st, s)
        }
        (true, Some(d), Some(f)) => {
            let (st, s) = top_fraction(cache, up.classifier, d, &up.dedup[&d].0, f)?;
            stage_docs(&st, &s)
        }
    })
}

/// Each variant's `(name, upstream key, document files or folders)` as [`variants`] gives them,
/// from finished stages only, for a tokenize shard task (which never builds an upstream stage).
pub fn variant_inputs_finished(
    cache: &StageCache,
    ctx: &Ctx,
) -> Result<Vec<(String, String, Vec<PathBuf>)>> {
    let (pool_stage, pool_sum) = pool::finished(cache, ctx)?;
    let heuristics = super::heuristics::finished(cache, ctx)?;
    let dedup = |d: Dedup| match d {
        Dedup::Bff => super::dedup::bff_finished(cache, ctx, &heuristics),
        Dedup::Minhash => super::dedup::minhash_finished(cache, ctx, &heuristics),
    };
    let mut out = Vec::new();
    for v in &ctx.p.variants {
        let (key, dirs) = match (v.heuristics, v.dedup, v.fasttext_top_fraction) {
            (false, _, _) => (
                pool_stage.key.clone(),
                pool::files(&pool_stage.dir, &pool_sum),
            ),
            (true, None, _) => (heuristics.key.clone(), vec![heuristics.dir.clone()]),
            (true, Some(d), None) => {
                let st = dedup(d)?;
                (st.key, vec![docs_dir(&st.dir)])
            }
            (true, Some(d), Some(f)) => {
                let classifier = classifier_finished(cache, ctx)?;
                let plan = top_plan(cache, &classifier, d, &dedup(d)?, f)?;
                if !plan.finished() {
                    bail!(
                        "the {} stage {} is not finished: run `lmrepro dclm stages --until quality` first",
                        plan.stage,
                        plan.dir.display()
                    );
                }
                (plan.key, vec![docs_dir(&plan.dir)])
            }
        };
        out.push((v.name.clone(), key, dirs));
    }
    Ok(out)
}

/// A `fasttext-top<percent>-<dedup>` stage: the top fraction `f` of `docs` by classifier score.
/// Scoring (the costly pass) runs per input file in the work folder ([`TopPlan`]); the global
/// threshold and the filter run here, over every file's scores.
fn top_fraction(
    cache: &mut StageCache,
    classifier: &Stage,
    dedup: Dedup,
    docs: &Stage,
    f: f64,
) -> Result<(Stage, DocsSummary)> {
    let plan = top_plan(cache, classifier, dedup, docs, f)?;
    let done = cache.run(&plan.stage, &plan.material, |dir| {
        let out = docs_dir(dir);
        let scored = |_: usize, file: &Path, clf: &Classifier| -> Result<Option<Vec<f64>>> {
            let shard = plan.shard_of(file)?;
            plan.run_shard_with(&shard, Some(clf))?;
            Ok(Some(lmrepro_curate::quality::read_scores(
                &plan.work.output_path(&shard, SCORES_SUFFIX),
            )?))
        };
        let stats = lmrepro_curate::quality::predict_filter_scored(
            std::slice::from_ref(&plan.input),
            &plan.model,
            &out,
            "fasttext_hq_prob",
            Some(KeepRule::TopFraction(f)),
            lmrepro_stage::OnMalformed::Error,
            Some(&scored),
        )?;
        let docs_in = stats["docs_in"].as_u64().unwrap_or(0);
        DocsSummary::of_output(docs_in, stats, out)
    })?;
    if plan.work.dir.exists() {
        std::fs::remove_dir_all(&plan.work.dir)
            .with_context(|| format!("removing {}", plan.work.dir.display()))?;
    }
    Ok(done)
}

/// A scoring shard's output in the work folder.
const SCORES_SUFFIX: &str = ".scores";

/// A top-fraction stage before it runs: its key, its input files (one scoring shard each, named
/// as the filter names its output shards) and the work folder
/// `<root>/fasttext-top<percent>-<dedup>-<key>.shards/` where each shard's scores go
/// (`<shard>.scores` + marker), so a distributed engine scores one file per task
/// (`lmrepro dclm shard fasttext-scores --shard top10-bff.NAME`).
pub struct TopPlan {
    pub stage: String,
    pub material: Value,
    pub key: String,
    pub dir: PathBuf,
    pub work: ShardedStage,
    input: PathBuf,
    model: PathBuf,
    /// Shard name → input file, in input order.
    pub shards: Vec<(String, PathBuf)>,
}

fn top_plan(
    cache: &StageCache,
    classifier: &Stage,
    dedup: Dedup,
    docs: &Stage,
    f: f64,
) -> Result<TopPlan> {
    let stage = format!("fasttext-top{}-{}", fraction_label(f), dedup.name());
    let material = json!({"docs": docs.key, "model": classifier.key, "top_fraction": f});
    let key = crate::cache::key_of(&material);
    let dir = cache.stage_dir(&stage, &key);
    let work = ShardedStage::shared(&dir.with_file_name(format!("{stage}-{key}.shards")));
    let input = docs_dir(&docs.dir);
    let files = lmrepro_stage::expand_inputs(std::slice::from_ref(&input))?;
    let shards = lmrepro_stage::shard_names(&files)
        .into_iter()
        .zip(files)
        .collect();
    Ok(TopPlan {
        stage,
        material,
        key,
        dir,
        work,
        input,
        model: classifier.dir.join(MODEL_FILE),
        shards,
    })
}

impl TopPlan {
    /// Whether the stage is finished.
    pub fn finished(&self) -> bool {
        self.dir.join(lmrepro_stage::DONE_FILE).is_file()
    }

    /// The stage's name without `fasttext-` (`top10-bff`): the prefix of its shards' names in
    /// the `fasttext-scores` listing, which spans every top-fraction stage.
    pub fn label(&self) -> &str {
        self.stage.strip_prefix("fasttext-").unwrap_or(&self.stage)
    }

    /// Whether `shard` is scored: its marker and its scores are there.
    pub fn is_done(&self, shard: &str) -> bool {
        self.work.is_done(shard) && self.work.output_path(shard, SCORES_SUFFIX).is_file()
    }

    fn shard_of(&self, file: &Path) -> Result<String> {
        self.shards
            .iter()
            .find(|(_, f)| f == file)
            .map(|(n, _)| n.clone())
            .with_context(|| format!("{} is not an input of {}", file.display(), self.stage))
    }

    /// Scores one input file (unless done) into the work folder: `<shard>.scores` (temporary
    /// name, renamed), then its marker with the document count.
    pub fn run_shard(&self, shard: &str) -> Result<u64> {
        self.run_shard_with(shard, None)
    }

    /// [`TopPlan::run_shard`] with the classifier loaded already (the local engine loads it
    /// once per stage: the model is large, about 800 MB with fastText's 2M n-gram buckets).
    pub fn run_shard_with(&self, shard: &str, clf: Option<&Classifier>) -> Result<u64> {
        let Some((_, file)) = self.shards.iter().find(|(n, _)| n == shard) else {
            let known: Vec<&str> = self.shards.iter().map(|(n, _)| n.as_str()).collect();
            bail!(
                "no {} scoring shard `{shard}`; the shards are {}",
                self.stage,
                known.join(", ")
            );
        };
        let _lock = match self.work.claim(shard, || self.is_done(shard))? {
            Claim::Done(stats) => return Ok(stats),
            Claim::Mine(lock) => lock,
        };
        let loaded;
        let clf = match clf {
            Some(c) => c,
            None => {
                loaded = Classifier::load_with_sha256(&self.model)?.0;
                &loaded
            }
        };
        let scores =
            lmrepro_curate::quality::score_file(clf, file, lmrepro_stage::OnMalformed::Error)?;
        lmrepro_curate::quality::write_scores(
            &self.work.temp_path(shard, SCORES_SUFFIX),
            &self.work.output_path(shard, SCORES_SUFFIX),
            &scores,
        )?;
        let n = scores.len() as u64;
        self.work.mark_done(shard, &n)?;
        Ok(n)
    }
}

/// Every top-fraction stage the recipe's variants ask for (in variant order, each once), for a
/// shard task: the dedup stages and the classifier must be finished (never built here).
pub fn top_plans(cache: &StageCache, ctx: &Ctx) -> Result<Vec<TopPlan>> {
    let mut wanted: Vec<(Dedup, f64)> = Vec::new();
    for v in &ctx.p.variants {
        if let (true, Some(d), Some(f)) = (v.heuristics, v.dedup, v.fasttext_top_fraction) {
            if !wanted.contains(&(d, f)) {
                wanted.push((d, f));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let classifier = classifier_finished(cache, ctx)?;
    let heuristics = super::heuristics::finished(cache, ctx)?;
    let mut plans = Vec::new();
    for (d, f) in wanted {
        let docs = match d {
            Dedup::Bff => super::dedup::bff_finished(cache, ctx, &heuristics)?,
            Dedup::Minhash => super::dedup::minhash_finished(cache, ctx, &heuristics)?,
        };
        plans.push(top_plan(cache, &classifier, d, &docs, f)?);
    }
    Ok(plans)
}

/// The classifier's key material.
fn classifier_material(ctx: &Ctx) -> Result<Value> {
    let q = &ctx.p.quality;
    let mut inputs: Vec<&str> = q.positives.iter().map(String::as_str).collect();
    inputs.extend(q.negatives.iter().map(String::as_str));
    Ok(json!({"spec": q, "inputs": ctx.input_shas(&inputs)?}))
}

/// The finished `fasttext-train` stage (an error naming the command that builds it otherwise).
fn classifier_finished(cache: &StageCache, ctx: &Ctx) -> Result<Stage> {
    let key = crate::cache::key_of(&classifier_material(ctx)?);
    let dir = cache.stage_dir(CLASSIFIER, &key);
    if !dir.join(lmrepro_stage::DONE_FILE).is_file() {
        bail!(
            "the fastText classifier {} is not trained: run `lmrepro dclm stages --until classifier` first",
            dir.display()
        );
    }
    Ok(Stage { dir, key })
}

/// A fraction as a whole percentage, for stage names (`0.1` → `10`).
fn fraction_label(f: f64) -> String {
    format!("{}", (f * 100.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_labels_are_percentages() {
        assert_eq!(fraction_label(0.1), "10");
        assert_eq!(fraction_label(0.2), "20");
    }
}
