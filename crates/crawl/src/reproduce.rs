//! `cargo xtask reproduce <recipe>` for recipes of kind `dclm-heuristics` (input set
//! `dclm_heuristics`): pages in/out per step of the built-in `dclm-baseline-refinedweb` pipeline
//! on DCLM's two human-labelled CC samples, plus how the kept share relates to the human label.

use crate::assets::Assets;
use crate::cli::{count_outcome, StepStats};
use crate::page::Page;
use crate::pipeline::{Pipeline, DCLM_BASELINE_REFINEDWEB};
use anyhow::{Context, Result};
use lmrepro_data::{Recipe, Resolver};
use std::fmt::Write as _;
use std::path::Path;

/// The two datasets (input names of the input set).
const DATASETS: [(&str, &str); 2] = [
    ("agreement", "dclm/data/agreement_data.jsonl"),
    ("majority", "dclm/data/majority_data.jsonl"),
];

struct Run {
    steps: Vec<StepStats>,
    docs: u64,
    kept: u64,
    /// (label, docs, kept) for labels "0"/"1".
    by_label: Vec<(String, u64, u64)>,
}

fn run_dataset(p: &Pipeline, path: &Path) -> Result<Run> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut steps: Vec<StepStats> = p
        .steps
        .iter()
        .map(|s| StepStats {
            index: s.index,
            func: s.func.clone(),
            id: s.id.clone(),
            ..Default::default()
        })
        .collect();
    let mut by_label: Vec<(String, u64, u64)> = Vec::new();
    let (mut docs, mut kept) = (0, 0);
    for (i, line) in text.lines().enumerate() {
        let doc = crate::io::parse_doc(line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
        let label = match doc.json.get("label") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "none".into(),
        };
        let out = p.run(Page::from_text(doc.page.text));
        count_outcome(&mut steps, &out);
        docs += 1;
        kept += out.kept() as u64;
        match by_label.iter_mut().find(|b| b.0 == label) {
            Some(b) => {
                b.1 += 1;
                b.2 += out.kept() as u64;
            }
            None => by_label.push((label, 1, out.kept() as u64)),
        }
    }
    by_label.sort();
    Ok(Run {
        steps,
        docs,
        kept,
        by_label,
    })
}

/// Regenerates `results/<recipe>/` into `out_dir`; returns the table files to snapshot.
pub fn reproduce(recipe: &Recipe, resolver: &Resolver, out_dir: &Path) -> Result<Vec<String>> {
    let mut assets = Assets::new(resolver.clone());
    // The same pinned files the recipe lists (the recipe's input set is dclm_heuristics).
    for (_, name) in DATASETS {
        recipe.input(name)?;
    }
    assets.curated_domains = crate::assets::CuratedDomains::Empty;
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
    for i in 0..p.steps.len() {
        let a = &runs[0].1.steps[i];
        let m = &runs[1].1.steps[i];
        let skip = if a.skipped > 0 { " (skipped)" } else { "" };
        writeln!(
            md,
            "| {}{skip} | {} | {} | {} | {} |",
            a.id, a.pages_in, a.pages_out, m.pages_in, m.pages_out
        )?;
    }
    md.push_str("\n## Kept share by human label\n\n| dataset | label | docs | kept | kept share |\n|---|---|---:|---:|---:|\n");
    for (name, r) in &runs {
        for (label, n, k) in &r.by_label {
            writeln!(
                md,
                "| {name} | {label} | {n} | {k} | {:.4} |",
                *k as f64 / *n as f64
            )?;
        }
        writeln!(
            md,
            "| {name} | all | {} | {} | {:.4} |",
            r.docs,
            r.kept,
            r.kept as f64 / r.docs as f64
        )?;
    }
    std::fs::write(out_dir.join("step_counts.md"), &md)?;
    let json = serde_json::json!({
        "pipeline": DCLM_BASELINE_REFINEDWEB,
        "notes": p.notes,
        "datasets": runs.iter().map(|(n, r)| serde_json::json!({
            "name": n, "docs": r.docs, "kept": r.kept, "steps": r.steps,
            "by_label": r.by_label.iter().map(|(l, d, k)| serde_json::json!({"label": l, "docs": d, "kept": k})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    std::fs::write(
        out_dir.join("step_counts.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    Ok(vec!["step_counts.md".to_string()])
}
