//! Tokenize + shuffle each variant's documents and the held-out set (GPT-NeoX, EOT after each
//! document, contexts of `seq_len + 1`), and the compact vocabulary of the raw pool's tokens.

use super::pool::HELDOUT_FILE;
use super::quality::VariantDocs;
use super::Ctx;
use crate::cache::{Stage, StageCache};
use crate::params::ScaleSpec;
use crate::vocab::CompactVocab;
use anyhow::{bail, Context, Result};
use lmrepro_curate::tokenize::{TokenizeConfig, TokenizeJob};
use lmrepro_model::Contexts;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokensSummary {
    pub documents: u64,
    pub tokens: u64,
    pub contexts: u64,
}

/// The token stages of a run.
pub struct Tokenized {
    /// By variant name.
    pub variants: BTreeMap<String, (Stage, TokensSummary)>,
    pub heldout: (Stage, TokensSummary),
}

/// The pinned tokenizer and the configuration every token stage shares.
struct Tokenizer {
    tok: Arc<lmrepro_tokenizer::Tokenizer>,
    sha256: String,
    cfg: TokenizeConfig,
}

impl Tokenizer {
    fn load(ctx: &Ctx, ctx_len: usize) -> Result<Tokenizer> {
        let path = ctx.recipe.resolve(ctx.resolver, &ctx.p.tokenizer)?;
        Ok(Tokenizer {
            tok: Arc::new(lmrepro_tokenizer::Tokenizer::from_file(&path)?),
            sha256: ctx.recipe.input(&ctx.p.tokenizer)?.sha256.clone(),
            cfg: TokenizeConfig {
                seqlen: ctx_len,
                ..Default::default()
            },
        })
    }

    /// The `tokenize-<what>` stage over `inputs` before it runs, keyed by `upstream` (the key of
    /// the stage the documents come from), the tokenizer's sha256 and the configuration.
    fn plan(
        &self,
        cache: &StageCache,
        what: &str,
        upstream: &str,
        inputs: &[PathBuf],
    ) -> Result<TokPlan> {
        let stage = format!("tokenize-{what}");
        let material = json!({"docs": upstream, "tokenizer": self.sha256, "config": self.cfg});
        let key = crate::cache::key_of(&material);
        let dir = cache.stage_dir(&stage, &key);
        let work = dir.with_file_name(format!("{stage}-{key}.shards"));
        let job = TokenizeJob::with_tokenizer(inputs, self.tok.clone(), &work, &self.cfg)?;
        Ok(TokPlan {
            what: what.to_string(),
            stage,
            material,
            key,
            dir,
            job,
        })
    }

    /// Runs a token stage: the steps of its job still missing (all of them on the local engine;
    /// none when a distributed engine ran them as shard tasks), then moves the work folder into
    /// the stage folder as `tokens/`.
    fn stage(&self, cache: &mut StageCache, plan: &TokPlan) -> Result<(Stage, TokensSummary)> {
        let done = cache.run(&plan.stage, &plan.material, |dir| {
            let st = plan.job.run_all()?;
            let work = &plan.job.out;
            std::fs::rename(work, tokens_dir(dir))
                .with_context(|| format!("moving {}", work.display()))?;
            Ok(TokensSummary {
                documents: st.documents,
                tokens: st.tokens,
                contexts: st.contexts,
            })
        })?;
        // Moved into the stage folder (or left over from a run finished before).
        if plan.job.out.exists() {
            std::fs::remove_dir_all(&plan.job.out)
                .with_context(|| format!("removing {}", plan.job.out.display()))?;
        }
        Ok(done)
    }
}

/// A token stage before it runs: its key, its folder and the tokenize + shuffle job whose steps
/// run in the work folder `<root>/tokenize-<what>-<key>.shards/` (`job.out`), so a distributed
/// engine runs them as tasks (`lmrepro dclm shard tokenize-files|tokenize-cells`).
pub struct TokPlan {
    /// The document set: a variant's name, or `heldout`.
    pub what: String,
    pub stage: String,
    pub material: serde_json::Value,
    pub key: String,
    pub dir: PathBuf,
    pub job: TokenizeJob,
}

impl TokPlan {
    /// Whether the stage is finished.
    pub fn finished(&self) -> bool {
        self.dir.join(lmrepro_stage::DONE_FILE).is_file()
    }
}

/// Tokenizes every variant (in recipe order), then the pool's held-out documents, into contexts
/// of `ctx_len` tokens.
pub fn run(
    cache: &mut StageCache,
    ctx: &Ctx,
    ctx_len: usize,
    variants: &BTreeMap<String, VariantDocs>,
    pool: &Stage,
) -> Result<Tokenized> {
    let tokenizer = Tokenizer::load(ctx, ctx_len)?;
    let mut out = BTreeMap::new();
    for v in &ctx.p.variants {
        let docs = &variants[&v.name];
        let plan = tokenizer.plan(cache, &v.name, &docs.key, &docs.dirs)?;
        out.insert(v.name.clone(), tokenizer.stage(cache, &plan)?);
    }
    let (key, inputs) = heldout_inputs(pool);
    let plan = tokenizer.plan(cache, HELDOUT, &key, &inputs)?;
    let heldout = tokenizer.stage(cache, &plan)?;
    Ok(Tokenized {
        variants: out,
        heldout,
    })
}

/// The held-out document set's name among the token stages.
const HELDOUT: &str = "heldout";

/// The held-out token stage's upstream key and input.
fn heldout_inputs(pool: &Stage) -> (String, Vec<PathBuf>) {
    (
        format!("{}/heldout", pool.key),
        vec![pool.dir.join(HELDOUT_FILE)],
    )
}

/// Every token stage of the recipe at `scale` (the variants in recipe order, then `heldout`), for
/// a shard task: the stages they read must be finished (`stages --until quality`; never built
/// here).
pub fn shard_plans(cache: &StageCache, ctx: &Ctx, scale: &str) -> Result<Vec<TokPlan>> {
    let spec = ctx.p.scale(scale)?;
    if !spec.runnable_here {
        bail!("scale `{scale}` is GPU-cluster sized; its data stages are not run here");
    }
    let ctx_len = spec.run_config()?.model.seq_len + 1;
    let sources = super::quality::variant_inputs_finished(cache, ctx)?;
    let (pool, _) = super::pool::finished(cache, ctx)?;
    let tokenizer = Tokenizer::load(ctx, ctx_len)?;
    let mut plans = Vec::new();
    for (what, key, inputs) in sources {
        plans.push(tokenizer.plan(cache, &what, &key, &inputs)?);
    }
    let (key, inputs) = heldout_inputs(&pool);
    plans.push(tokenizer.plan(cache, HELDOUT, &key, &inputs)?);
    Ok(plans)
}

/// Where a token stage keeps its token dataset.
fn tokens_dir(stage_dir: &Path) -> PathBuf {
    stage_dir.join("tokens")
}

/// The `compact-vocab` stage of `scale` (`None` when it trains on the full vocabulary): the most
/// frequent ids of the raw pool's tokens, the widest variant (the first variant without the
/// heuristics, else the first).
pub fn compact_vocab(
    cache: &mut StageCache,
    ctx: &Ctx,
    scale: &ScaleSpec,
    ctx_len: usize,
    tokens: &Tokenized,
) -> Result<Option<CompactVocab>> {
    let Some(size) = scale.compact_vocab else {
        return Ok(None);
    };
    let p = ctx.p;
    let raw = p
        .variants
        .iter()
        .find(|v| !v.heuristics)
        .unwrap_or(&p.variants[0]);
    let (src, _) = &tokens.variants[&raw.name];
    let full = scale.model.config()?.vocab_size;
    let (_, v): (Stage, CompactVocab) = cache.run(
        "compact-vocab",
        &json!({"tokens": src.key, "size": size, "full": full}),
        |_| {
            let c = load_contexts(src, ctx_len, None)?;
            CompactVocab::from_counts(
                (0..c.len()).flat_map(|i| c.get(i).to_vec()),
                full as u32,
                size,
            )
        },
    )?;
    Ok(Some(v))
}

/// Reads a token stage as contexts of GPT-NeoX ids, mapped through `map` (a compact vocabulary's
/// table and its shared id) when given.
pub(crate) fn load_contexts(
    stage: &Stage,
    ctx_len: usize,
    map: Option<(&[u32], u32)>,
) -> Result<Contexts> {
    let dir = tokens_dir(&stage.dir);
    let ds = lmrepro_curate::tokens::TokenDataset::open(&dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let mut stream = Vec::new();
    for c in ds.iter_contexts() {
        let c = c.map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        if c.len() != ctx_len {
            bail!(
                "{}: contexts of {} tokens, the model needs {ctx_len}",
                dir.display(),
                c.len()
            );
        }
        match map {
            Some((t, other)) => stream.extend(c.iter().map(|&id| CompactVocab::map(t, other, id))),
            None => stream.extend(c),
        }
    }
    Ok(Contexts::from_stream(&stream, ctx_len))
}
