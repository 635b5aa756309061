//! `cargo xtask reproduce bigbio`: catalogue, schema / loader checks, PubMedQA reference rows,
//! BIOSSES annotator agreement and the zero-shot table, all computed from the pinned inputs.

use crate::catalog::read_metadata;
use crate::loaders::{
    biosses_pairs, pqal_test_split, pqal_to_qa, read_biosses_tsv, read_ground_truth, read_pqal,
    BiossesRow,
};
use crate::metrics::{accuracy, bootstrap_indices, macro_f1, pearson, spearman, Estimate};
use crate::reader::read_jsonl;
use crate::schema::{task_abbreviation, Example, Schema, NULL_STR, TASKS};
use crate::zeroshot::{
    pair_rows, parse_templates, predict_pairs_lm, predict_qa_lm, qa_rows, PairItem, QaItem, Row,
    Task, PROMPTS_TOML,
};
use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_report::{fmt_fixed, to_json_pretty, write_file, Table};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

pub const METADATA: &str = "bigbio/bigbio_datasets_metadata.csv";
pub const SCHEMAS: &str = "bigbio/bigbio_schemas.json";
pub const PQAL: &str = "bigbio/pubmedqa/ori_pqal.json";
pub const PQAL_TRUTH: &str = "bigbio/pubmedqa/test_ground_truth.json";
pub const PQAL_QA: &str = "bigbio/pubmedqa/pqal_test_bigbio_qa.jsonl";
pub const BIOSSES_TSV: &str = "bigbio/biosses/annotation_pairs_scores.tsv";
pub const BIOSSES_PAIRS: &str = "bigbio/biosses/biosses_bigbio_pairs.jsonl";
pub const TOKENIZER: &str = "tokenizer/gpt-neox-20b/tokenizer.json";

/// `[params]` of recipe `bigbio`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Seed of the bootstrap resamples.
    pub seed: u64,
    pub bootstrap_resamples: usize,
    /// Confidence level of the percentile intervals (0.95).
    pub ci_level: f64,
    /// The n-gram reference model (`lmrepro eval --model ngram:...` syntax, without `ngram:`).
    pub ngram: String,
    /// BIOSSES items scored zero-shot: `"test"` (the loader's 20-pair test split) or `"all"`.
    pub biosses_split: String,
    /// The PubMedQA reference rows as published: (name, accuracy, macro-F1).
    pub pubmedqa_reference: Vec<(String, f64, f64)>,
    #[serde(default = "yes")]
    pub snapshot_in_tests: bool,
}

fn yes() -> bool {
    true
}

/// The recipe's outputs: markdown tables first (for snapshots), then the JSON twins.
pub fn reproduce(recipe: &Recipe, resolver: &Resolver, out: &Path) -> Result<Vec<String>> {
    let params: Params = recipe.params()?;
    let mut tables = Vec::new();
    let path = |name: &str| recipe.resolve(resolver, name);

    // 1. Catalogue.
    let meta = read_metadata(&path(METADATA)?)?;
    let catalog = meta.catalog();
    write_file(out, "catalog.json", to_json_pretty(&catalog)?)?;
    write_file(out, "overview.md", overview_markdown(&meta))?;
    tables.push("overview.md".to_string());
    let mut checks = Table::new(["dataset", "disagreement"]);
    for (name, what) in meta.inconsistencies() {
        checks.push([name, what]);
    }
    write_file(out, "catalog_checks.md", checks.to_markdown())?;
    tables.push("catalog_checks.md".into());

    // 2. Schemas as types vs the pinned transcription.
    write_file(
        out,
        "schemas.md",
        schema_table(&path(SCHEMAS)?)?.to_markdown(),
    )?;
    tables.push("schemas.md".into());

    // 3. Loaders vs the mirrored derived files, and PubMedQA reference rows.
    let ori = read_pqal(&path(PQAL)?)?;
    let truth = read_ground_truth(&path(PQAL_TRUTH)?)?;
    let test = pqal_test_split(&ori, &truth)?;
    let rows = read_biosses_tsv(&path(BIOSSES_TSV)?)?;
    write_file(
        out,
        "loaders.md",
        loader_table(&path(PQAL_QA)?, &path(BIOSSES_PAIRS)?, &ori, &test, &rows)?.to_markdown(),
    )?;
    tables.push("loaders.md".into());

    let gold: Vec<String> = test
        .iter()
        .map(|(_, it)| it.final_decision.clone())
        .collect();
    // (row name as the recipe's `pubmedqa_reference` names it, what predicts, predictions)
    let reference_preds: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "majority",
            "always \"yes\"",
            vec!["yes".to_string(); gold.len()],
        ),
        (
            "reasoning-free human",
            "`reasoning_free_pred` (sees the long answer)",
            test.iter()
                .map(|(_, it)| it.reasoning_free_pred.clone())
                .collect(),
        ),
        (
            "reasoning-required human",
            "`reasoning_required_pred` (no long answer)",
            test.iter()
                .map(|(_, it)| it.reasoning_required_pred.clone())
                .collect(),
        ),
    ];
    let published: BTreeMap<&str, (f64, f64)> = params
        .pubmedqa_reference
        .iter()
        .map(|(n, a, f)| (n.as_str(), (*a, *f)))
        .collect();
    if published.len() != reference_preds.len()
        || reference_preds.iter().any(|r| !published.contains_key(r.0))
    {
        bail!(
            "recipe `pubmedqa_reference` must name exactly the rows {:?}",
            reference_preds.iter().map(|r| r.0).collect::<Vec<_>>()
        );
    }
    let mut t = Table::new([
        "row",
        "predictions",
        "n",
        "accuracy",
        "macro-F1",
        "published accuracy",
        "published macro-F1",
        "equal",
    ]);
    for (name, what, pred) in &reference_preds {
        let (pa, pf) = published[name];
        let acc = accuracy(&gold, pred)?;
        let f1 = macro_f1(&gold, pred)?;
        let (a, f) = (fmt_fixed(acc, 6), fmt_fixed(f1, 6));
        let equal = a == fmt_fixed(pa, 6) && f == fmt_fixed(pf, 6);
        t.push([
            name.to_string(),
            what.to_string(),
            gold.len().to_string(),
            a,
            f,
            fmt_fixed(pa, 6),
            fmt_fixed(pf, 6),
            if equal { "yes" } else { "NO" }.into(),
        ]);
    }
    write_file(out, "pubmedqa_reference.md", t.to_markdown())?;
    tables.push("pubmedqa_reference.md".into());

    write_file(
        out,
        "biosses_annotators.md",
        annotator_table(&rows)?.to_markdown(),
    )?;
    tables.push("biosses_annotators.md".into());

    // 4. Zero-shot with the n-gram reference model.
    let templates = parse_templates(PROMPTS_TOML, "crates/bigbio/prompts.toml")?;
    let tok = lmrepro_eval::tokenizer::Tok::from_file(&path(TOKENIZER)?)?;
    let spec = lmrepro_eval::models::NgramSpec::parse(&params.ngram)?;
    let mut lm = lmrepro_eval::models::train_ngram(&spec, &tok, recipe, resolver)?;
    let encode = |s: &str| tok.encode(s);

    let qa_items: Vec<QaItem> = test
        .iter()
        .map(|(_, it)| QaItem {
            question: it.QUESTION.clone(),
            context: it.CONTEXTS.join(" "),
            label: it.final_decision.clone(),
        })
        .collect();
    let pair_items = biosses_items(&rows, &params.biosses_split)?;
    let mut qa_preds = Vec::new();
    let mut pair_preds = Vec::new();
    for t in &templates {
        match t.task {
            Task::Pubmedqa => qa_preds.push((
                t.name.clone(),
                predict_qa_lm(&mut lm, &encode, t, &qa_items)?,
            )),
            Task::Biosses => pair_preds.push((
                t.name.clone(),
                predict_pairs_lm(&mut lm, &encode, t, &pair_items)?,
            )),
        }
    }
    let qa_gold: Vec<String> = qa_items.iter().map(|i| i.label.clone()).collect();
    let pair_gold: Vec<f64> = pair_items.iter().map(|i| i.gold).collect();
    let mut zs = qa_rows(
        &qa_gold,
        &qa_preds,
        &bootstrap_indices(qa_gold.len(), params.bootstrap_resamples, params.seed),
        params.ci_level,
    );
    zs.extend(pair_rows(
        &pair_gold,
        &pair_preds,
        &bootstrap_indices(pair_gold.len(), params.bootstrap_resamples, params.seed),
        params.ci_level,
    ));
    let mut md = format!(
        "Model: `{}` ({} training tokens, GPT-NeoX tokenizer). PubMedQA: official test split \
         (500). BIOSSES: split `{}` ({} pairs). {}% percentile bootstrap intervals, {} item \
         resamples, seed {}.\n\n",
        spec.name(),
        lm.train_tokens(),
        params.biosses_split,
        pair_items.len(),
        fmt_fixed(params.ci_level * 100.0, 0),
        params.bootstrap_resamples,
        params.seed
    );
    md.push_str(&zeroshot_table(&zs, params.ci_level).to_markdown());
    write_file(out, "zeroshot.md", md)?;
    tables.push("zeroshot.md".into());
    write_file(
        out,
        "zeroshot.json",
        to_json_pretty(&zeroshot_json(&zs, &spec.name()))?,
    )?;
    Ok(tables)
}

/// The paper-style overview: tasks (with schema), schemas, languages, licences, and the
/// PubMed / local counts, every number from the metadata file.
pub fn overview_markdown(meta: &crate::catalog::Metadata) -> String {
    let c = meta.catalog();
    let mut s = format!(
        "# BigBIO catalogue ({} datasets)\n\n- PubMed-based: {}\n- local files needed: {}\n- \
         public (no local files): {}\n\n## Datasets per task category\n\n",
        c.datasets,
        c.pubmed,
        c.local,
        c.datasets - c.local
    );
    let mut t = Table::new([
        "task",
        "abbreviation",
        "schema",
        "datasets",
        "PubMed-based",
        "local",
    ]);
    let mut tasks: Vec<(&String, &usize)> = c.by_task.iter().collect();
    tasks.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (task, n) in tasks {
        let with = |flags: &[bool]| {
            meta.rows
                .iter()
                .zip(flags)
                .filter(|(r, &f)| f && r.tasks().contains(&task.as_str()))
                .count()
        };
        let schema = TASKS
            .iter()
            .find(|x| x.0 == task)
            .map_or("?", |x| x.2.name());
        t.push([
            task.clone(),
            task_abbreviation(task).unwrap_or("?").to_string(),
            schema.to_string(),
            n.to_string(),
            with(&meta.pubmed).to_string(),
            with(&meta.local).to_string(),
        ]);
    }
    s.push_str(&t.to_markdown());
    s.push_str("\n## Datasets per schema\n\n");
    let mut t = Table::new(["schema", "datasets"]);
    for sch in Schema::ALL {
        t.push([
            sch.name().to_string(),
            c.by_schema
                .get(sch.name())
                .copied()
                .unwrap_or(0)
                .to_string(),
        ]);
    }
    s.push_str(&t.to_markdown());
    s.push_str("\n## Datasets per language (as written)\n\n");
    let mut t = Table::new(["language", "datasets"]);
    let mut langs: Vec<(&String, &usize)> = c.by_language.iter().collect();
    langs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (l, n) in langs {
        t.push([l.clone(), n.to_string()]);
    }
    s.push_str(&t.to_markdown());
    s.push_str("\n## Licences (as written)\n\n");
    let mut t = Table::new(["licence", "datasets"]);
    let lic = meta.by_license();
    let mut lic: Vec<(&String, &usize)> = lic.iter().collect();
    lic.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (l, n) in lic {
        t.push([l.clone(), n.to_string()]);
    }
    s.push_str(&t.to_markdown());
    s
}

/// Each schema's layout against the pinned transcription `bigbio_schemas.json`.
fn schema_table(path: &Path) -> Result<Table> {
    let text = std::fs::read_to_string(path)?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut t = Table::new([
        "schema",
        "top-level fields",
        "layout equals the transcription",
    ]);
    for s in Schema::ALL {
        let ours = s.layout().to_json();
        let theirs = v.pointer(&format!("/schemas/{}", s.name()));
        let fields = ours.as_object().map_or(0, |m| m.len());
        t.push([
            s.name().to_string(),
            fields.to_string(),
            if theirs == Some(&ours) { "yes" } else { "NO" }.into(),
        ]);
    }
    let mut map_ok = true;
    for (_, abbr, schema) in TASKS {
        map_ok &= v
            .pointer(&format!("/task_to_schema/{abbr}"))
            .and_then(|x| x.as_str())
            == Some(schema.name());
    }
    let n_map = v
        .get("task_to_schema")
        .and_then(|m| m.as_object())
        .map_or(0, |m| m.len());
    t.push([
        "task → schema map".to_string(),
        n_map.to_string(),
        if map_ok && n_map == TASKS.len() {
            "yes"
        } else {
            "NO"
        }
        .into(),
    ]);
    t.push([
        "null string".to_string(),
        "1".to_string(),
        if v.get("null_string").and_then(|x| x.as_str()) == Some(NULL_STR) {
            "yes"
        } else {
            "NO"
        }
        .into(),
    ]);
    Ok(t)
}

/// Loader output vs the mirrored derived files, with validation counts.
fn loader_table(
    qa_path: &Path,
    pairs_path: &Path,
    ori: &[(String, crate::loaders::PqalItem)],
    test: &[(&str, &crate::loaders::PqalItem)],
    rows: &[BiossesRow],
) -> Result<Table> {
    let mut t = Table::new([
        "file",
        "schema",
        "records",
        "violations",
        "equal to the script-free loader",
        "note",
    ]);
    let qa = read_jsonl(qa_path, Schema::Qa)?;
    let ours: Vec<Example> = test
        .iter()
        .map(|(id, it)| Example::Qa(pqal_to_qa(id, it)))
        .collect();
    let equal = qa
        .records
        .iter()
        .zip(&ours)
        .filter(|(r, o)| r.example.as_ref() == Some(o))
        .count();
    let ours_text: String = ours
        .iter()
        .map(|e| crate::reader::to_json_line(e) + "\n")
        .collect();
    let bytes_equal = std::fs::read(qa_path)? == ours_text.as_bytes();
    t.push([
        "pubmedqa/pqal_test_bigbio_qa.jsonl".to_string(),
        "qa".into(),
        qa.records.len().to_string(),
        qa.violations.len().to_string(),
        format!(
            "{equal}/{}{}",
            ours.len(),
            if bytes_equal {
                " (file byte-identical)"
            } else {
                ""
            }
        ),
        format!(
            "loader: {} PQA-L items (yes/no/maybe {}), official test split {} ({}) in \
             test_ground_truth.json order",
            ori.len(),
            label_counts(ori.iter().map(|x| &x.1)),
            test.len(),
            label_counts(test.iter().map(|x| x.1)),
        ),
    ]);
    let pairs = read_jsonl(pairs_path, Schema::Pairs)?;
    let loaded = biosses_pairs(rows);
    // The mirrored file is in sentence-id order with a `split` field; match by document_id.
    let by_doc: BTreeMap<&str, (&str, &crate::schema::PairsExample)> = loaded
        .iter()
        .map(|(s, p)| (p.document_id.as_str(), (*s, p)))
        .collect();
    let (mut equal, mut id_differs) = (0, 0);
    for r in &pairs.records {
        let Some(Example::Pairs(p)) = &r.example else {
            continue;
        };
        let split = r.extra.get("split").and_then(|s| s.as_str());
        if let Some((s, o)) = by_doc.get(p.document_id.as_str()) {
            let same = (&p.document_id, &p.text_1, &p.text_2, &p.label)
                == (&o.document_id, &o.text_1, &o.text_2, &o.label)
                && split == Some(*s);
            if same {
                equal += 1;
                if p.id != o.id {
                    id_differs += 1;
                }
            }
        }
    }
    let split_sizes: Vec<String> = crate::loaders::BIOSSES_SPLITS
        .iter()
        .map(|(s, _)| format!("{s} {}", loaded.iter().filter(|x| x.0 == *s).count()))
        .collect();
    t.push([
        "biosses/biosses_bigbio_pairs.jsonl".to_string(),
        "pairs".into(),
        pairs.records.len().to_string(),
        pairs.violations.len().to_string(),
        format!("{equal}/{} (all but `id`)", loaded.len()),
        format!(
            "splits {}; `id` differs in {id_differs}: the mirror writes sentence_id, the loader \
             the 0-based row index",
            split_sizes.join(" / ")
        ),
    ]);
    Ok(t)
}

/// `yes/no/maybe` counts of `final_decision`, e.g. `552/338/110`.
fn label_counts<'a>(items: impl Iterator<Item = &'a crate::loaders::PqalItem>) -> String {
    let mut c = [0usize; 3];
    for it in items {
        if let Some(i) = ["yes", "no", "maybe"]
            .iter()
            .position(|l| *l == it.final_decision)
        {
            c[i] += 1;
        }
    }
    format!("{}/{}/{}", c[0], c[1], c[2])
}

/// Each annotator against the mean of the other four (a human reference for the correlations).
fn annotator_table(rows: &[BiossesRow]) -> Result<Table> {
    let mut t = Table::new(["annotator", "items", "Pearson", "Spearman"]);
    let splits: [(&str, Vec<&BiossesRow>); 2] = [
        ("all", rows.iter().collect()),
        (
            "test",
            rows.iter()
                .filter(|r| crate::loaders::BIOSSES_TEST.contains(&r.sentence_id))
                .collect(),
        ),
    ];
    for (split, rs) in splits {
        for (k, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            let own: Vec<f64> = rs.iter().map(|r| r.scores[k] as f64).collect();
            let rest: Vec<f64> = rs
                .iter()
                .map(|r| (r.scores.iter().sum::<i64>() - r.scores[k]) as f64 / 4.0)
                .collect();
            t.push([
                format!("annotator_{name} vs mean of the others ({split})"),
                rs.len().to_string(),
                fmt_fixed(pearson(&own, &rest)?, 6),
                fmt_fixed(spearman(&own, &rest)?, 6),
            ]);
        }
    }
    Ok(t)
}

/// BIOSSES items of a split (`test` or `all`), gold = mean annotator score.
pub fn biosses_items(rows: &[BiossesRow], split: &str) -> Result<Vec<PairItem>> {
    if split != "all" && !crate::loaders::BIOSSES_SPLITS.iter().any(|s| s.0 == split) {
        bail!("biosses_split must be train, validation, test or all, got {split:?}");
    }
    Ok(biosses_pairs(rows)
        .into_iter()
        .filter(|(s, _)| split == "all" || *s == split)
        .map(|(_, p)| PairItem {
            gold: p.label.parse().expect("labels are printed floats"),
            text_1: p.text_1,
            text_2: p.text_2,
        })
        .collect())
}

fn ci(e: &Estimate) -> String {
    format!("[{}, {}]", fmt_fixed(e.lo, 3), fmt_fixed(e.hi, 3))
}

fn zeroshot_table(rows: &[Row], level: f64) -> Table {
    let ci_head = format!("{}% CI", fmt_fixed(level * 100.0, 0));
    let mut t = Table::new([
        "task",
        "template",
        "n",
        "distinct predictions",
        "metric 1",
        "value",
        &ci_head,
        "metric 2",
        "value",
        &ci_head,
    ]);
    for r in rows {
        let mut cells = vec![
            r.task.name().to_string(),
            r.template.clone(),
            r.n.to_string(),
            r.distinct.map_or("-".into(), |d| d.to_string()),
        ];
        for (m, e) in &r.metrics {
            cells.extend([m.clone(), fmt_fixed(e.value, 3), ci(e)]);
        }
        t.push(cells);
    }
    t
}

fn zeroshot_json(rows: &[Row], model: &str) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let metrics: serde_json::Map<String, serde_json::Value> = r
                .metrics
                .iter()
                .map(|(m, e)| {
                    (
                        m.clone(),
                        serde_json::json!({
                            "value": round6(e.value),
                            "ci_low": round6(e.lo),
                            "ci_high": round6(e.hi),
                        }),
                    )
                })
                .collect();
            serde_json::json!({
                "task": r.task.name(),
                "template": r.template,
                "n": r.n,
                "distinct_predictions": r.distinct,
                "metrics": metrics,
            })
        })
        .collect();
    serde_json::json!({"model": model, "rows": rows})
}

/// Six decimals, so the JSON does not carry last-bit noise.
fn round6(x: f64) -> f64 {
    fmt_fixed(x, 6).parse().unwrap_or(f64::NAN)
}
