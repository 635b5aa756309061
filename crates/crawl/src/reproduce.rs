//! The `dclm-heuristics` recipes (input set `dclm_heuristics`): pages in/out per step of the
//! built-in `dclm-baseline-refinedweb` pipeline on DCLM's two human-labelled CC samples, plus how
//! the kept share relates to the human label.

use crate::assets::{Assets, CuratedDomains};
use crate::page::Page;
use crate::pipeline::{Pipeline, DCLM_BASELINE_REFINEDWEB};
use crate::runner::{run_batch, Counts};
use anyhow::{Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_stage::{read_docs, OnMalformed};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The two datasets (input names of the input set).
const DATASETS: [(&str, &str); 2] = [
    ("agreement", "dclm/data/agreement_data.jsonl"),
    ("majority", "dclm/data/majority_data.jsonl"),
];

lmrepro_report::single_scale_reproducer! {
    /// The reproducer of recipe kind `dclm-heuristics`.
    pub struct HeuristicsReproducer("dclm-heuristics") => reproduce
}

struct Run {
    counts: Counts,
    /// Label ("0"/"1") → (docs, kept).
    by_label: BTreeMap<String, (u64, u64)>,
}

fn run_dataset(p: &Pipeline, path: &Path) -> Result<Run> {
    let (docs, _) = read_docs(path, OnMalformed::Error)?;
    let mut batch = Vec::with_capacity(docs.len());
    for (line, doc) in docs {
        let label = match doc.get("label") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "none".into(),
        };
        let page = Page::from_doc(&doc).with_context(|| format!("{}:{line}", path.display()))?;
        batch.push((label, page));
    }
    let mut counts = Counts::new(p);
    let mut by_label = BTreeMap::<String, (u64, u64)>::new();
    for (label, out) in run_batch(p, batch, &mut counts) {
        let entry = by_label.entry(label).or_default();
        entry.0 += 1;
        entry.1 += out.kept() as u64;
    }
    Ok(Run { counts, by_label })
}

/// Regenerates `results/<recipe>/` into `out_dir`; returns the table files to snapshot.
pub fn reproduce(recipe: &Recipe, resolver: &Resolver, out_dir: &Path) -> Result<Vec<String>> {
    let mut assets = Assets::new(resolver.clone());
    // The same pinned files the recipe lists (the recipe's input set is dclm_heuristics).
    for (_, name) in DATASETS {
        recipe.input(name)?;
    }
    assets.curated_domains = CuratedDomains::Empty;
    let p = Pipeline::load(DCLM_BASELINE_REFINEDWEB, None, &assets)?;
    let mut runs = Vec::new();
    for (label, name) in DATASETS {
        runs.push((label, run_dataset(&p, &recipe.resolve(resolver, name)?)?));
    }
    let mut md = String::from(
        "# dclm-baseline-refinedweb: pages in / out per step\n\n\
         Built-in pipeline (26 steps of DCLM's `dclm_baseline_refinedweb.yaml`), lid.176.ftz, empty curated-domain \
         list; the inputs have no URL, so steps 00-04 are skipped.\n\n\
         | step | agreement in | agreement out | majority in | majority out |\n|---|---:|---:|---:|---:|\n",
    );
    for (a, m) in runs[0]
        .1
        .counts
        .steps
        .iter()
        .zip(runs[1].1.counts.steps.iter())
    {
        let skip = if a.count.skipped > 0 {
            " (skipped)"
        } else {
            ""
        };
        writeln!(
            md,
            "| {}{skip} | {} | {} | {} | {} |",
            a.id, a.count.pages_in, a.count.pages_out, m.count.pages_in, m.count.pages_out
        )?;
    }
    md.push_str("\n## Kept share by human label\n\n| dataset | label | docs | kept | kept share |\n|---|---|---:|---:|---:|\n");
    for (name, r) in &runs {
        for (label, (n, k)) in &r.by_label {
            writeln!(
                md,
                "| {name} | {label} | {n} | {k} | {:.4} |",
                *k as f64 / *n as f64
            )?;
        }
        let c = &r.counts;
        writeln!(
            md,
            "| {name} | all | {} | {} | {:.4} |",
            c.docs_in,
            c.docs_kept,
            c.docs_kept as f64 / c.docs_in as f64
        )?;
    }
    std::fs::write(out_dir.join("step_counts.md"), &md)?;
    let json = serde_json::json!({
        "pipeline": DCLM_BASELINE_REFINEDWEB,
        "notes": p.notes,
        "datasets": runs.iter().map(|(n, r)| serde_json::json!({
            "name": n, "docs": r.counts.docs_in, "kept": r.counts.docs_kept, "steps": r.counts.steps,
            "by_label": r.by_label.iter().map(|(l, (d, k))| serde_json::json!({"label": l, "docs": d, "kept": k})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    std::fs::write(
        out_dir.join("step_counts.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    Ok(vec!["step_counts.md".to_string()])
}
