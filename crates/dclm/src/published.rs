//! DCLM's published numbers for the same variants, read from the pinned experiment database
//! (`assets/DCLM_model_database.csv`: `Core` = CORE v1, `Extended` = EXTENDED v1,
//! `mmlu_fewshot` = 5-shot MMLU) and, where DCLM released the eval JSON, its v2 aggregates.

use crate::params::PublishedSpec;
use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use serde::Serialize;
use std::collections::BTreeMap;

/// One database row, reduced to what the table shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedCell {
    pub variant: String,
    pub scale: String,
    pub dataset: String,
    pub model: String,
    pub params: u64,
    pub tokens: u64,
    pub core_v1: Option<f64>,
    pub extended_v1: Option<f64>,
    pub mmlu: Option<f64>,
    pub core_v2: Option<f64>,
    pub extended_v2: Option<f64>,
    /// 1-based physical CSV line (header = 1), for citations.
    pub line: u64,
    pub note: Option<String>,
}

fn num(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        None
    } else {
        s.parse().ok()
    }
}

/// Reads the database and selects one row per `(variant, scale)` by exact `Model JSON`.
pub fn load(
    recipe: &Recipe,
    resolver: &Resolver,
    spec: &PublishedSpec,
) -> Result<Vec<PublishedCell>> {
    let path = recipe.resolve(resolver, &spec.database)?;
    let mut rdr =
        csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    let headers = rdr.headers()?.clone();
    let col = |name: &str| -> Result<usize> {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{}: no `{name}` column", path.display()))
    };
    let (c_key, c_ds, c_model, c_params, c_tokens, c_core, c_ext, c_mmlu, c_suite) = (
        col("Model JSON")?,
        col("Dataset")?,
        col("model")?,
        col("params")?,
        col("tokens")?,
        col("Core")?,
        col("Extended")?,
        col("mmlu_fewshot")?,
        col("name")?,
    );
    let mut by_key: BTreeMap<String, (csv::StringRecord, u64)> = BTreeMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: record {}", path.display(), i + 1))?;
        let key = rec.get(c_key).unwrap_or("").to_string();
        if by_key.insert(key.clone(), (rec, i as u64 + 2)).is_some() {
            bail!("{}: `Model JSON` {key} appears twice", path.display());
        }
    }
    let mut out = Vec::new();
    for r in &spec.rows {
        let Some((rec, line)) = by_key.get(&r.model_json) else {
            bail!(
                "{}: no row with `Model JSON` = {} (variant {}, scale {})",
                path.display(),
                r.model_json,
                r.variant,
                r.scale
            );
        };
        let get = |c: usize| rec.get(c).unwrap_or("");
        let parse_u64 = |c: usize, what: &str| -> Result<u64> {
            get(c)
                .trim()
                .parse::<f64>()
                .map(|v| v as u64)
                .with_context(|| format!("{}:{line}: bad `{what}`", path.display()))
        };
        let core = num(get(c_core));
        // Rows evaluated with the `mmlu_and_lowvar` suite store Extended = Core: not an EXTENDED.
        let extended = if get(c_suite).ends_with("mmlu_and_lowvar") {
            None
        } else {
            num(get(c_ext))
        };
        let (mut core_v2, mut extended_v2) = (None, None);
        let eval_name = format!("{}{}", spec.evals_prefix, r.model_json);
        if recipe.input(&eval_name).is_ok() {
            let p = recipe.resolve(resolver, &eval_name)?;
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p)?)
                .with_context(|| format!("{}: malformed JSON", p.display()))?;
            core_v2 = v.get("Core_v2").and_then(serde_json::Value::as_f64);
            extended_v2 = v.get("Extended_v2").and_then(serde_json::Value::as_f64);
        }
        out.push(PublishedCell {
            variant: r.variant.clone(),
            scale: r.scale.clone(),
            dataset: get(c_ds).to_string(),
            model: get(c_model).to_string(),
            params: parse_u64(c_params, "params")?,
            tokens: parse_u64(c_tokens, "tokens")?,
            core_v1: core,
            extended_v1: extended,
            mmlu: num(get(c_mmlu)),
            core_v2,
            extended_v2,
            line: *line,
            note: r.note.clone(),
        });
    }
    Ok(out)
}
