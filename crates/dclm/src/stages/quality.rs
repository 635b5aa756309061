//! The fastText quality classifier (trained once), the top-fraction filters after dedup, and
//! each variant's documents: the output of the last stage its recipe row asks for.

use super::heuristics::HeuristicsSummary;
use super::pool::{self, PoolSummary};
use super::{docs_dir, profile, Ctx, DocsSummary};
use crate::cache::{Stage, StageCache};
use crate::params::{Dedup, VariantSpec};
use anyhow::Result;
use lmrepro_curate::quality::KeepRule;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The classifier in a `fasttext-train` stage directory.
const MODEL_FILE: &str = "model.bin";

/// The `fasttext-train` stage: keyed by the quality spec and the sha256 of its examples; its
/// summary counts the positives and negatives it trained on.
pub fn train_classifier(cache: &mut StageCache, ctx: &Ctx) -> Result<(Stage, Value)> {
    let q = &ctx.p.quality;
    let mut inputs: Vec<&str> = q.positives.iter().map(String::as_str).collect();
    inputs.extend(q.negatives.iter().map(String::as_str));
    cache.run(
        "fasttext-train",
        &json!({"spec": q, "inputs": ctx.input_shas(&inputs)?}),
        |dir| train(ctx, dir),
    )
}

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

/// A `fasttext-top<percent>-<dedup>` stage: the top fraction `f` of `docs` by classifier score.
fn top_fraction(
    cache: &mut StageCache,
    classifier: &Stage,
    dedup: Dedup,
    docs: &Stage,
    f: f64,
) -> Result<(Stage, DocsSummary)> {
    cache.run(
        &format!("fasttext-top{}-{}", fraction_label(f), dedup.name()),
        &json!({"docs": docs.key, "model": classifier.key, "top_fraction": f}),
        |dir| {
            let out = docs_dir(dir);
            let stats = lmrepro_curate::quality::predict_filter(
                &[docs_dir(&docs.dir)],
                &classifier.dir.join(MODEL_FILE),
                &out,
                "fasttext_hq_prob",
                Some(KeepRule::TopFraction(f)),
                lmrepro_stage::OnMalformed::Error,
            )?;
            let docs_in = stats["docs_in"].as_u64().unwrap_or(0);
            DocsSummary::of_output(docs_in, stats, out)
        },
    )
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
