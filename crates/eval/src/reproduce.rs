//! `cargo xtask reproduce dclm-eval`: stored vs recomputed CORE / EXTENDED (v1, v2) for DCLM's 12
//! released eval JSONs.

use crate::aggregate::{aggregate, AggregationSets, EvalJson, EvalMeta, Headline};
use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Deserialize)]
struct Params {
    meta_v1: String,
    meta_v2: String,
    aggregation: String,
    evals_prefix: String,
}

/// One stored-vs-recomputed comparison.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// Dataset part of the file name (`evaluation_<dataset>-d=1024_...`).
    pub run: String,
    pub file: String,
    pub key: String,
    pub stored: Option<f64>,
    pub recomputed: Option<f64>,
    /// Bitwise equality of the two doubles.
    pub exact: bool,
    pub abs_diff: Option<f64>,
}

/// Re-aggregation of every released JSON: the checks and the v2 per-category means.
pub struct Reaggregation {
    pub checks: Vec<Check>,
    pub categories: Vec<(String, BTreeMap<String, f64>)>,
}

fn run_name(file: &str) -> String {
    let stem = file.trim_start_matches("evaluation_");
    stem.split("-d=").next().unwrap_or(stem).to_string()
}

/// Recomputes Core/Extended v1/v2 for every eval JSON of the recipe.
pub fn reaggregate(recipe: &Recipe, resolver: &Resolver) -> Result<Reaggregation> {
    let p: Params = recipe.params()?;
    let meta_v1 = EvalMeta::load(&recipe.resolve(resolver, &p.meta_v1)?)?;
    let meta_v2 = EvalMeta::load(&recipe.resolve(resolver, &p.meta_v2)?)?;
    let sets = AggregationSets::load(&recipe.resolve(resolver, &p.aggregation)?)?;
    let mut checks = Vec::new();
    let mut categories = Vec::new();
    let inputs: Vec<String> = recipe
        .inputs_under(&p.evals_prefix)
        .map(|i| i.name.clone())
        .collect();
    if inputs.is_empty() {
        bail!(
            "recipe `{}` lists no inputs under {}",
            recipe.name,
            p.evals_prefix
        );
    }
    for name in inputs {
        let path = recipe.resolve(resolver, &name)?;
        let json = EvalJson::load(&path)?;
        let icl = json.icl().with_context(|| format!("{}", path.display()))?;
        let file = name.trim_start_matches(&p.evals_prefix).to_string();
        let run = run_name(&file);
        for (version, meta) in [("v1", &meta_v1), ("v2", &meta_v2)] {
            let agg = aggregate(&icl, meta, &sets);
            for (what, headline) in [("Core", &agg.core), ("Extended", &agg.extended)] {
                let key = format!("{what}_{version}");
                let stored = json.stored(&key);
                let recomputed = headline.value();
                let exact = matches!((stored, recomputed), (Some(a), Some(b)) if a.to_bits() == b.to_bits());
                checks.push(Check {
                    run: run.clone(),
                    file: file.clone(),
                    key,
                    stored,
                    recomputed,
                    exact,
                    abs_diff: stored.zip(recomputed).map(|(a, b)| (a - b).abs()),
                });
            }
            if version == "v2" {
                categories.push((run.clone(), agg.categories_centered.clone()));
            }
        }
    }
    Ok(Reaggregation { checks, categories })
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |x| format!("{x:.6}"))
}

/// Writes `reaggregation.md`, `reaggregation.csv`, `categories_v2.md`, `summary.json`.
pub fn reproduce(recipe: &Recipe, resolver: &Resolver, out_dir: &Path) -> Result<Vec<String>> {
    let r = reaggregate(recipe, resolver)?;
    let exact = r.checks.iter().filter(|c| c.exact).count();
    let max_diff = r
        .checks
        .iter()
        .filter_map(|c| c.abs_diff)
        .fold(0.0f64, f64::max);

    let mut md = String::new();
    writeln!(md, "# DCLM eval re-aggregation: stored vs recomputed\n")?;
    writeln!(
        md,
        "{exact}/{} stored values reproduced bit-for-bit (max |difference| {max_diff:.3e}).\n",
        r.checks.len()
    )?;
    writeln!(md, "| run | Core_v1 stored | Core_v1 recomputed | Core_v2 stored | Core_v2 recomputed | Extended_v1 stored | Extended_v1 recomputed | Extended_v2 stored | Extended_v2 recomputed | all exact |")?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")?;
    let mut by_run: BTreeMap<&str, Vec<&Check>> = BTreeMap::new();
    for c in &r.checks {
        by_run.entry(c.run.as_str()).or_default().push(c);
    }
    for (run, cs) in &by_run {
        let get = |k: &str| cs.iter().find(|c| c.key == k).copied();
        let mut row = format!("| {run} |");
        for k in ["Core_v1", "Core_v2", "Extended_v1", "Extended_v2"] {
            let c = get(k);
            write!(
                row,
                " {} | {} |",
                fmt_opt(c.and_then(|c| c.stored)),
                fmt_opt(c.and_then(|c| c.recomputed))
            )?;
        }
        let all = cs.iter().all(|c| c.exact);
        writeln!(md, "{row} {} |", if all { "yes" } else { "no" })?;
    }
    std::fs::write(out_dir.join("reaggregation.md"), &md)?;

    let mut csv = String::from("run,key,stored,recomputed,exact\n");
    for c in &r.checks {
        // {:?} of an f64 is the shortest round-trip representation: stable and exact.
        writeln!(
            csv,
            "{},{},{},{},{}",
            c.run,
            c.key,
            c.stored.map_or("".into(), |x| format!("{x:?}")),
            c.recomputed.map_or("".into(), |x| format!("{x:?}")),
            c.exact
        )?;
    }
    std::fs::write(out_dir.join("reaggregation.csv"), &csv)?;

    let mut cat_md = String::from("# Per-category centered means (v2 baselines)\n\n");
    let cats: Vec<String> = r
        .categories
        .first()
        .map(|(_, m)| m.keys().cloned().collect())
        .unwrap_or_default();
    writeln!(cat_md, "| run | {} |", cats.join(" | "))?;
    writeln!(cat_md, "|---|{}", "---:|".repeat(cats.len()))?;
    for (run, m) in &r.categories {
        let vals: Vec<String> = cats.iter().map(|c| format!("{:.4}", m[c])).collect();
        writeln!(cat_md, "| {run} | {} |", vals.join(" | "))?;
    }
    std::fs::write(out_dir.join("categories_v2.md"), &cat_md)?;

    let summary = serde_json::json!({
        "exact": exact,
        "total": r.checks.len(),
        "max_abs_diff": max_diff,
        "checks": r.checks,
    });
    std::fs::write(
        out_dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    Ok(vec![
        "reaggregation.md".into(),
        "reaggregation.csv".into(),
        "categories_v2.md".into(),
    ])
}

/// Renders a headline for tables.
pub fn headline_cell(h: &Headline) -> String {
    h.render(6)
}

lmrepro_report::single_scale_reproducer! {
    /// [`reproduce`] as the reproducer of recipe kind `dclm-eval-aggregation`.
    pub struct EvalAggregationReproducer("dclm-eval-aggregation") => reproduce
}
