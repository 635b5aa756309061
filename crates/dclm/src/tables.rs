//! The result files of a run, one function per table: the variants (the paper's table), documents
//! per stage, heuristics per step, per-task accuracies, loss curves, DCLM's published numbers and
//! the real-scale plans; plus `summary.json`. Every byte depends only on the run's results, so a
//! rerun writes identical files.

use crate::params::{DclmParams, Dedup, ScaleSpec};
use crate::stages::train_eval::{EvalSummary, Headline, TrainSummary};
use crate::vocab::CompactVocab;
use crate::{plan, published, RunOutput};
use anyhow::{Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_report::{fmt_fixed, write_file, Axis, LinePlot, SeriesStyle, Table};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Writes the result files; returns the markdown tables to snapshot.
pub fn write_results(
    recipe: &Recipe,
    resolver: &Resolver,
    p: &DclmParams,
    r: &RunOutput,
    out_dir: &Path,
) -> Result<Vec<String>> {
    variants(p, r, out_dir)?;
    stages(p, r, out_dir)?;
    heuristics_steps(r, out_dir)?;
    tasks(r, out_dir)?;
    loss_curves(p, r, out_dir)?;
    published(recipe, resolver, p, out_dir)?;
    scales(recipe, resolver, p, out_dir)?;
    summary(p, r, out_dir)?;
    Ok(vec![
        "variants.md".into(),
        "stages.md".into(),
        "heuristics_steps.md".into(),
        "published.md".into(),
        "scales.md".into(),
    ])
}

// ------------------------------------------------------------------------------- formatting --

fn mean_spread(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, if xs.len() > 1 { (hi - lo) / 2.0 } else { 0.0 })
}

fn fmt_ms(xs: &[f64], digits: usize) -> String {
    let (m, s) = mean_spread(xs);
    format!("{} ± {}", fmt_fixed(m, digits), fmt_fixed(s, digits))
}

fn fmt_headline(hs: &[Headline]) -> String {
    let xs: Vec<f64> = hs.iter().map(|h| h.value).collect();
    let mark = if hs.iter().any(|h| h.partial) {
        " (partial)"
    } else {
        ""
    };
    format!("{}{mark}", fmt_ms(&xs, 4))
}

fn opt4(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_string(), |v| fmt_fixed(v, 4))
}

fn scale_model_words(scale: &ScaleSpec) -> Result<String> {
    let c = scale.model.config()?;
    Ok(format!(
        "{} d={} l={} h={}, context {}",
        scale.model.arch, c.d_model, c.n_layers, c.n_heads, c.seq_len
    ))
}

// ------------------------------------------------------------------------------ the tables --

/// `variants.md` / `variants.csv`: per variant, its data and its models' losses and CORE /
/// EXTENDED (mean ± half the range over the seeds; the csv has one row per seed).
fn variants(p: &DclmParams, r: &RunOutput, out_dir: &Path) -> Result<()> {
    let table = variants_table(p, r);
    let mut md = variants_intro(p, r)?;
    md.push_str(&table.to_markdown());
    variants_notes(p, r, &mut md)?;
    write_file(out_dir, "variants.md", &md)?;
    write_file(out_dir, "variants.csv", variants_csv(p, r).to_csv())
}

/// The training and evaluation of variant `name`, one per seed in seed order.
fn runs_of<'a>(
    p: &DclmParams,
    r: &'a RunOutput,
    name: &str,
) -> Vec<(&'a TrainSummary, &'a EvalSummary)> {
    p.seeds
        .iter()
        .map(|&s| {
            (
                &r.train[&(name.to_string(), s)],
                &r.eval[&(name.to_string(), s)],
            )
        })
        .collect()
}

fn variants_table(p: &DclmParams, r: &RunOutput) -> Table {
    let mut t = Table::new([
        "variant",
        "docs",
        "GPT-NeoX tokens",
        "train loss",
        "held-out loss",
        "CORE v1",
        "CORE v2",
        "EXTENDED v1",
        "EXTENDED v2",
    ]);
    for v in &p.variants {
        let runs = runs_of(p, r, &v.name);
        let (docs, _) = r.variant_docs[&v.name];
        let tokens = r.variant_tokens[&v.name].tokens;
        let col = |f: &dyn Fn(&EvalSummary) -> Headline| -> String {
            fmt_headline(&runs.iter().map(|(_, e)| f(e)).collect::<Vec<_>>())
        };
        t.push([
            v.label.clone(),
            docs.to_string(),
            tokens.to_string(),
            fmt_ms(
                &runs
                    .iter()
                    .map(|(t, _)| t.final_train_loss)
                    .collect::<Vec<_>>(),
                4,
            ),
            fmt_ms(
                &runs.iter().map(|(t, _)| t.heldout_loss).collect::<Vec<_>>(),
                4,
            ),
            col(&|e| e.core_v1),
            col(&|e| e.core_v2),
            col(&|e| e.extended_v1),
            col(&|e| e.extended_v2),
        ]);
    }
    t
}

fn variants_csv(p: &DclmParams, r: &RunOutput) -> Table {
    let mut csv = Table::new([
        "variant",
        "seed",
        "docs",
        "tokens",
        "steps",
        "train_loss",
        "heldout_loss",
        "core_v1",
        "core_v2",
        "extended_v1",
        "extended_v2",
        "partial",
    ]);
    for v in &p.variants {
        let (docs, _) = r.variant_docs[&v.name];
        let tokens = r.variant_tokens[&v.name].tokens;
        for (&seed, (tr, ev)) in p.seeds.iter().zip(runs_of(p, r, &v.name)) {
            csv.push([
                v.name.clone(),
                seed.to_string(),
                docs.to_string(),
                tokens.to_string(),
                tr.steps.to_string(),
                fmt_fixed(tr.final_train_loss, 6),
                fmt_fixed(tr.heldout_loss, 6),
                fmt_fixed(ev.core_v1.value, 6),
                fmt_fixed(ev.core_v2.value, 6),
                fmt_fixed(ev.extended_v1.value, 6),
                fmt_fixed(ev.extended_v2.value, 6),
                (ev.core_v1.partial || ev.extended_v1.partial).to_string(),
            ]);
        }
    }
    csv
}

/// The title and the paragraph saying what every row shares (model, seeds, steps, eval suite,
/// held-out set).
fn variants_intro(p: &DclmParams, r: &RunOutput) -> Result<String> {
    let scale = p.scale(&r.scale)?;
    let first = r.train.values().next().context("no training runs")?;
    let items = r
        .eval
        .values()
        .next()
        .map(|e| e.items.values().map(|(s, _)| *s).sum::<usize>())
        .unwrap_or(0);
    Ok(format!(
        "# dclm-baseline, scale `{}`: data-curation variants\n\n\
         Each row trains the same model ({} parameters, DCLM's count: {}) with the same seeds ({}) for the same \
         {} steps × {} × {} tokens on its own data, then runs the llm-foundry ICL suite `{}` \
         ({} items per task, {} items in all). Values are the mean ± half the range over the seeds. \
         Losses are nats per GPT-NeoX token; held-out = {} documents ({} tokens) set aside from the \
         text sources.\n\n",
        r.scale,
        lmrepro_report::fmt_grouped(scale.run_config()?.model.num_params().dclm_reported()),
        scale_model_words(scale)?,
        p.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        first.steps,
        scale.global_batch,
        scale.model.seq_len.unwrap_or(2048),
        scale.eval.suite,
        scale.eval.limit.map_or("all".to_string(), |l| format!("at most {l}")),
        items,
        r.heldout_tokens.documents,
        r.heldout_tokens.tokens,
    ))
}

/// The notes under the variants table: missing tasks, variants that ended on the same
/// documents, the compact vocabulary.
fn variants_notes(p: &DclmParams, r: &RunOutput, md: &mut String) -> Result<()> {
    let missing: Vec<String> = r
        .eval
        .values()
        .next()
        .map(|e| e.missing.clone())
        .unwrap_or_default();
    if !missing.is_empty() {
        write!(
            md,
            "\n(partial): {} of the suite's tasks have no data file here ({}); CORE / EXTENDED \
             are the means over the tasks that ran, not DCLM's numbers (DCLM reports N/A).\n",
            missing.len(),
            missing.join(", ")
        )?;
    }
    // Two variants can end on the same documents (e.g. when the fastText filter keeps only pages
    // that neither dedup touched): say so rather than let identical rows look like a bug.
    for (i, a) in p.variants.iter().enumerate() {
        for b in &p.variants[i + 1..] {
            if r.variant_docs[&a.name] == r.variant_docs[&b.name]
                && r.variant_tokens[&a.name] == r.variant_tokens[&b.name]
                && r.variant_sources[&a.name] == r.variant_sources[&b.name]
            {
                write!(
                    md,
                    "\n`{}` and `{}` kept the same {} documents ({} characters, {} tokens): the \
                     filter after dedup selected documents neither dedup changed, so their rows are \
                     the same runs.\n",
                    a.name, b.name, r.variant_docs[&a.name].0, r.variant_docs[&a.name].1,
                    r.variant_tokens[&a.name].tokens
                )?;
            }
        }
    }
    if let Some(v) = &r.vocab {
        write!(
            md,
            "\nVocabulary: the {} most frequent GPT-NeoX ids of the raw pool + one shared id for the \
             other {} (`compact_vocab`, see docs/dclm.md); scores spread that id's probability \
             uniformly, so they are distributions over the full GPT-NeoX vocabulary.\n",
            v.kept.len(),
            v.other_count()
        )?;
    }
    Ok(())
}

/// `stages.md` / `stages.csv`: documents in / out of every data stage and variant, the pool's
/// sources and each variant's documents per source.
fn stages(p: &DclmParams, r: &RunOutput, out_dir: &Path) -> Result<()> {
    let mut st = Table::new([
        "stage",
        "docs in",
        "docs out",
        "kept",
        "characters out",
        "note",
    ]);
    let pool_docs = r.pool.pool_docs();
    st.push([
        "pool (extract WARCs + text sources)".to_string(),
        String::new(),
        pool_docs.to_string(),
        String::new(),
        r.pool.pool_chars().to_string(),
        format!("WARC records skipped: {}", warc_skipped(r)),
    ]);
    let frac = |a: u64, b: u64| fmt_fixed(a as f64 / b.max(1) as f64, 4);
    st.push([
        format!("RefinedWeb heuristics ({})", p.heuristics.pipeline),
        r.heuristics.docs_in.to_string(),
        r.heuristics.docs_out.to_string(),
        frac(r.heuristics.docs_out, r.heuristics.docs_in),
        r.heuristics.chars_out.to_string(),
        format!("{} pages dropped by a raising step", r.heuristics.errors),
    ]);
    for (k, s) in &r.dedup {
        st.push([
            format!("dedup: {}", k.name()),
            s.docs_in.to_string(),
            s.docs_out.to_string(),
            frac(s.docs_out, s.docs_in),
            s.chars_out.to_string(),
            dedup_note(p, *k),
        ]);
    }
    for v in &p.variants {
        let (d, c) = r.variant_docs[&v.name];
        let tk = &r.variant_tokens[&v.name];
        st.push([
            format!("variant: {}", v.label),
            String::new(),
            d.to_string(),
            frac(d, pool_docs),
            c.to_string(),
            format!(
                "{} GPT-NeoX tokens incl. EOT, {} contexts",
                tk.tokens, tk.contexts
            ),
        ]);
    }
    let mut smd = String::from("# dclm-baseline: documents kept per stage\n\n");
    smd.push_str(&st.to_markdown());
    smd.push_str("\n## Pool sources\n\n");
    smd.push_str(&pool_sources(r).to_markdown());
    write!(
        smd,
        "\nfastText quality classifier: trained on {} positives and {} negatives (DCLM's \
         OpenHermes-2.5 + ELI5 set was never released; see docs/dclm.md).\n",
        r.quality_model["positives"], r.quality_model["negatives"]
    )?;
    smd.push_str("\n## Documents per source in each variant\n\n");
    smd.push_str(&variant_sources(p, r).to_markdown());
    write_file(out_dir, "stages.md", &smd)?;
    write_file(out_dir, "stages.csv", st.to_csv())?;
    Ok(())
}

/// The WARC records that gave no document, by reason.
fn warc_skipped(r: &RunOutput) -> String {
    if r.pool.warc_skipped.is_empty() {
        return "none".to_string();
    }
    r.pool
        .warc_skipped
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn dedup_note(p: &DclmParams, method: Dedup) -> String {
    match method {
        Dedup::Bff => format!(
            "BFF {}-{}-grams, threshold {}, old-both",
            p.bff.min_ngram_size, p.bff.max_ngram_size, p.bff.filtering_threshold
        ),
        Dedup::Minhash => format!(
            "MinHash {}-grams, {} buckets × {} hashes",
            p.minhash.n_grams, p.minhash.num_buckets, p.minhash.hashes_per_bucket
        ),
    }
}

fn pool_sources(r: &RunOutput) -> Table {
    let mut ps = Table::new(["source", "pool docs", "held-out docs", "pool characters"]);
    for s in &r.pool.sources {
        ps.push([
            s.source.clone(),
            s.pool_docs.to_string(),
            s.heldout_docs.to_string(),
            s.pool_chars.to_string(),
        ]);
    }
    ps
}

fn variant_sources(p: &DclmParams, r: &RunOutput) -> Table {
    let sources: Vec<String> = r.pool.sources.iter().map(|s| s.source.clone()).collect();
    let mut header = vec!["variant".to_string()];
    header.extend(sources.iter().cloned());
    let mut comp = Table::new(header);
    for v in &p.variants {
        let m = &r.variant_sources[&v.name];
        let mut row = vec![v.label.clone()];
        row.extend(
            sources
                .iter()
                .map(|s| m.get(s).copied().unwrap_or(0).to_string()),
        );
        comp.push(row);
    }
    comp
}

/// `heuristics_steps.md`: pages in / out of each RefinedWeb step.
fn heuristics_steps(r: &RunOutput, out_dir: &Path) -> Result<()> {
    let mut ht = Table::new(["step", "pages in", "pages out", "skipped (no URL)"]);
    for s in &r.heuristics.steps {
        ht.push([
            s.id.clone(),
            s.pages_in.to_string(),
            s.pages_out.to_string(),
            s.skipped.to_string(),
        ]);
    }
    let mut hmd = String::from("# RefinedWeb heuristics on the pool: pages in / out per step\n\n");
    hmd.push_str(&ht.to_markdown());
    write_file(out_dir, "heuristics_steps.md", &hmd)
}

/// `tasks.csv`: every (variant, seed, task)'s accuracy.
fn tasks(r: &RunOutput, out_dir: &Path) -> Result<()> {
    let mut tasks = Table::new(["variant", "seed", "task", "accuracy", "items scored"]);
    for ((name, seed), e) in &r.eval {
        for (task, acc) in &e.tasks {
            tasks.push([
                name.clone(),
                seed.to_string(),
                task.clone(),
                fmt_fixed(*acc, 6),
                e.items[task].0.to_string(),
            ]);
        }
    }
    write_file(out_dir, "tasks.csv", tasks.to_csv())
}

/// `loss_curves.csv` (every seed) and `loss_curves.svg` (first seed): training loss per step as
/// lines, held-out evaluations as points.
fn loss_curves(p: &DclmParams, r: &RunOutput, out_dir: &Path) -> Result<()> {
    let mut plot = LinePlot::new(
        format!("dclm-baseline {}: loss (seed {})", r.scale, p.seeds[0]),
        Axis::linear("step"),
        Axis::linear("cross-entropy, compact vocabulary (nats)"),
    );
    let mut curves = Table::new([
        "variant",
        "seed",
        "step",
        "train_loss",
        "heldout_loss_compact",
    ]);
    for v in &p.variants {
        for &seed in &p.seeds {
            let tr = &r.train[&(v.name.clone(), seed)];
            let evals: BTreeMap<u64, f64> = tr.eval_curve.iter().copied().collect();
            for &(step, loss) in &tr.train_curve {
                curves.push([
                    v.name.clone(),
                    seed.to_string(),
                    step.to_string(),
                    fmt_fixed(loss, 6),
                    evals.get(&step).map_or(String::new(), |e| fmt_fixed(*e, 6)),
                ]);
            }
            if seed == p.seeds[0] {
                let pts: Vec<(f64, f64)> =
                    tr.train_curve.iter().map(|&(s, l)| (s as f64, l)).collect();
                plot.add(format!("{} (train)", v.label), pts, SeriesStyle::Line);
                let held: Vec<(f64, f64)> =
                    tr.eval_curve.iter().map(|&(s, l)| (s as f64, l)).collect();
                if !held.is_empty() {
                    plot.add(format!("{} (held-out)", v.label), held, SeriesStyle::Points);
                }
            }
        }
    }
    write_file(out_dir, "loss_curves.csv", curves.to_csv())?;
    write_file(out_dir, "loss_curves.svg", plot.to_svg()?)
}

/// `published.md` / `published.json`: DCLM's numbers for the same variants, from its database.
fn published(recipe: &Recipe, resolver: &Resolver, p: &DclmParams, out_dir: &Path) -> Result<()> {
    let cells = published::load(recipe, resolver, &p.published)?;
    let mut pt = Table::new([
        "variant",
        "scale",
        "DCLM dataset",
        "model",
        "CORE v1",
        "EXTENDED v1",
        "MMLU 5-shot",
        "CORE v2",
        "EXTENDED v2",
        "CSV line",
    ]);
    for v in &p.variants {
        let mine: Vec<&published::PublishedCell> =
            cells.iter().filter(|c| c.variant == v.name).collect();
        if mine.is_empty() {
            pt.push([
                v.label.clone(),
                "—".into(),
                "(no DCLM run of this variant in the database)".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for c in mine {
            let ds = match &c.note {
                Some(n) => format!("`{}` ({n})", c.dataset),
                None => format!("`{}`", c.dataset),
            };
            pt.push([
                v.label.clone(),
                c.scale.clone(),
                ds,
                c.model.clone(),
                opt4(c.core_v1),
                opt4(c.extended_v1),
                opt4(c.mmlu),
                opt4(c.core_v2),
                opt4(c.extended_v2),
                c.line.to_string(),
            ]);
        }
    }
    let mut pmd = String::from(
        "# DCLM's published numbers for the same variants\n\n\
         Read from the pinned `assets/DCLM_model_database.csv` (mlfoundations/dclm@361714bd): `Core` = CORE v1, \
         `Extended` = EXTENDED v1, `mmlu_fewshot` = MMLU 5-shot (raw accuracy); v2 from the released eval JSON \
         where there is one (400M-1x). Rows are selected by the exact `Model JSON` key given in the recipe. \
         — = not in the file.\n\n",
    );
    pmd.push_str(&pt.to_markdown());
    write_file(out_dir, "published.md", &pmd)?;
    write_file(
        out_dir,
        "published.json",
        lmrepro_report::to_json_pretty(&cells)?,
    )
}

/// `scales.md`: the plan of every scale, checked against DCLM's files.
fn scales(recipe: &Recipe, resolver: &Resolver, p: &DclmParams, out_dir: &Path) -> Result<()> {
    let plans = plan::plans(recipe, resolver, p)?;
    write_file(out_dir, "scales.md", plan::scales_markdown(&plans))
}

/// `summary.json`: every count and result of the run, for tests and other tools.
fn summary(p: &DclmParams, r: &RunOutput, out_dir: &Path) -> Result<()> {
    let summary = json!({
        "scale": r.scale,
        "seeds": p.seeds,
        "pool": r.pool,
        "heuristics": r.heuristics,
        "dedup": r.dedup,
        "quality_model": r.quality_model,
        "variant_docs": r.variant_docs,
        "variant_sources": r.variant_sources,
        "variant_tokens": r.variant_tokens,
        "heldout_tokens": r.heldout_tokens,
        "compact_vocab_size": r.vocab.as_ref().map(CompactVocab::size),
        "runs": r.train.iter().map(|((v, s), t)| json!({
            "variant": v, "seed": s, "steps": t.steps, "tokens_trained": t.tokens_trained,
            "params": t.params, "final_train_loss": t.final_train_loss,
            "heldout_loss": t.heldout_loss, "heldout_loss_compact": t.heldout_loss_compact,
            "eval": r.eval[&(v.clone(), *s)],
        })).collect::<Vec<_>>(),
    });
    write_file(
        out_dir,
        "summary.json",
        lmrepro_report::to_json_pretty(&summary)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_half_range() {
        assert_eq!(mean_spread(&[1.0, 3.0]), (2.0, 1.0));
        assert_eq!(mean_spread(&[2.0]), (2.0, 0.0));
    }
}
