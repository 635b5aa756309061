//! The stages of a run, in order: [`pool`] → [`heuristics`] → [`dedup`] → [`quality`] (fastText
//! classifier, top-fraction filters and each variant's documents) → [`tokenize`] (and the compact
//! vocabulary) → [`train_eval`]. Each stage function takes the [`crate::cache::StageCache`], the
//! run's [`Ctx`] and the upstream stages it reads, and returns its stage and summary; its cache
//! key material names everything its output depends on (configuration, upstream keys, input
//! sha256s).

pub mod dedup;
pub mod heuristics;
pub mod pool;
pub mod quality;
pub mod tokenize;
pub mod train_eval;

use crate::params::DclmParams;
use anyhow::Result;
use lmrepro_data::{Recipe, Resolver};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What every stage reads besides its upstream stages.
pub struct Ctx<'a> {
    pub recipe: &'a Recipe,
    pub resolver: &'a Resolver,
    pub p: &'a DclmParams,
}

impl Ctx<'_> {
    /// `{name: sha256}` of recipe inputs, for a stage key: a changed input file redoes the stage.
    pub fn input_shas(&self, names: &[&str]) -> Result<Value> {
        let mut m = serde_json::Map::new();
        for n in names {
            m.insert((*n).to_string(), json!(self.recipe.input(n)?.sha256));
        }
        Ok(Value::Object(m))
    }

    /// Resolves recipe inputs to verified paths.
    pub fn resolve_all(&self, names: &[String]) -> Result<Vec<PathBuf>> {
        names
            .iter()
            .map(|n| self.recipe.resolve(self.resolver, n))
            .collect()
    }
}

/// Where a dedup or fastText-filter stage keeps its documents.
pub fn docs_dir(stage_dir: &Path) -> PathBuf {
    stage_dir.join("docs")
}

/// Counts of a document-filtering stage (dedup, fastText filter).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocsSummary {
    pub docs_in: u64,
    pub docs_out: u64,
    pub chars_out: u64,
    pub detail: Value,
}

impl DocsSummary {
    /// `docs_in` and `detail` from the filter's own stats; the output counts from reading its
    /// output back, so every stage counts documents and characters the same way.
    fn of_output(docs_in: u64, detail: Value, out: PathBuf) -> Result<DocsSummary> {
        let out_profile = profile(&[out])?;
        Ok(DocsSummary {
            docs_in,
            docs_out: out_profile.docs,
            chars_out: out_profile.chars,
            detail,
        })
    }
}

/// Documents, characters and documents per `source` field of a set of JSONL files / directories,
/// in one read.
pub(crate) struct DocsProfile {
    pub docs: u64,
    pub chars: u64,
    pub sources: BTreeMap<String, u64>,
}

pub(crate) fn profile(inputs: &[PathBuf]) -> Result<DocsProfile> {
    let files = lmrepro_stage::expand_inputs(inputs)?;
    let mut p = DocsProfile {
        docs: 0,
        chars: 0,
        sources: BTreeMap::new(),
    };
    for f in files {
        let (docs, _) = lmrepro_stage::read_docs(&f, lmrepro_stage::OnMalformed::Error)?;
        for (_, d) in docs {
            p.docs += 1;
            p.chars += lmrepro_stage::text(&d).chars().count() as u64;
            let s = d.get("source").and_then(Value::as_str).unwrap_or("?");
            *p.sources.entry(s.to_string()).or_default() += 1;
        }
    }
    Ok(p)
}
