//! Tokenize + shuffle each variant's documents and the held-out set (GPT-NeoX, EOT after each
//! document, contexts of `seq_len + 1`), and the compact vocabulary of the raw pool's tokens.

use super::pool::HELDOUT_FILE;
use super::quality::VariantDocs;
use super::Ctx;
use crate::cache::{Stage, StageCache};
use crate::params::ScaleSpec;
use crate::vocab::CompactVocab;
use anyhow::{bail, Result};
use lmrepro_curate::tokenize::TokenizeConfig;
use lmrepro_model::Contexts;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    path: PathBuf,
    sha256: String,
    cfg: TokenizeConfig,
}

impl Tokenizer {
    /// A `tokenize-<what>` stage over `inputs`, keyed by `upstream` (the key of the stage the
    /// documents come from), the tokenizer's sha256 and the configuration.
    fn stage(
        &self,
        cache: &mut StageCache,
        what: &str,
        upstream: &str,
        inputs: &[PathBuf],
    ) -> Result<(Stage, TokensSummary)> {
        cache.run(
            &format!("tokenize-{what}"),
            &json!({"docs": upstream, "tokenizer": self.sha256, "config": self.cfg}),
            |dir| {
                let st = lmrepro_curate::tokenize::tokenize_shuffle(
                    inputs,
                    &self.path,
                    &tokens_dir(dir),
                    &self.cfg,
                )?;
                Ok(TokensSummary {
                    documents: st.documents,
                    tokens: st.tokens,
                    contexts: st.contexts,
                })
            },
        )
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
    let tokenizer = Tokenizer {
        path: ctx.recipe.resolve(ctx.resolver, &ctx.p.tokenizer)?,
        sha256: ctx.recipe.input(&ctx.p.tokenizer)?.sha256.clone(),
        cfg: TokenizeConfig {
            seqlen: ctx_len,
            ..Default::default()
        },
    };
    let mut out = BTreeMap::new();
    for v in &ctx.p.variants {
        let docs = &variants[&v.name];
        let done = tokenizer.stage(cache, &v.name, &docs.key, &docs.dirs)?;
        out.insert(v.name.clone(), done);
    }
    let heldout = tokenizer.stage(
        cache,
        "heldout",
        &format!("{}/heldout", pool.key),
        &[pool.dir.join(HELDOUT_FILE)],
    )?;
    Ok(Tokenized {
        variants: out,
        heldout,
    })
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
