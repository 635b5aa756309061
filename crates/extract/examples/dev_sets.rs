//! Development-only scores of the quality mode on public labelled article pages that are not in
//! the data mirror (issue 18 §2, third session; `docs/extract.md`). Not a test: the pages live in
//! git snapshots on the development machine, exported by `benchmarks/extract/dev_sets.py` into
//! one JSONL file (`{"set", "name", "url", "html", "label", "label_kind"}`).
//!
//! Every page is extracted (our `--mode quality`, or `faithful`, or the texts of a peer read from
//! `--pred FILE`, lines `{"key": "<set>/<name>", "text"}`) and scored with the AEB benchmark's
//! shingle method (`score.rs`: `\w+` tokens, 4-token shingles, per-page precision and recall,
//! averaged over pages):
//! - `label_kind = "html"` (Readability.js's expected article HTML): the label text is our own
//!   simple conversion, [`label_text`]; precision, recall and F1 as AEB computes them;
//! - `label_kind = "text_prefix"` (goose3's `cleaned_text`, a prefix of the article text):
//!   recall only (the share of the prefix's shingles that the extraction has) — precision cannot
//!   be measured against a prefix;
//! - `label_kind = "text"` (WCXB's `main_content`, a whole article text): precision, recall and F1.
//!
//! With `--set1`, the tuning set of the first two sessions (trafilatura's snippets on the mirror's
//! test-page WARC, strict UTF-8) is scored too, so that one command gives all three figures.
//! `--per-page FILE` writes one TSV line per page (set, name, precision, recall) for diagnosis;
//! `--show NAME` prints the chosen roots (paths from the body), the extraction and the label text
//! of one page; `--dump FILE` writes every
//! extraction (`{"key", "text"}` lines, the `--pred` format).
//!
//! Usage: dev_sets PAGES.jsonl [--mode quality|faithful] [--pred FILE] [--set1]
//!        [--per-page FILE] [--show NAME] [--dump FILE]
use anyhow::Context;
use lmrepro_extract::article::{describe_roots, extract_article};
use lmrepro_extract::dom::{Dom, Kind, NodeId, Tag};
use lmrepro_extract::eval::eval_trafilatura;
use lmrepro_extract::pipeline::{Mode, Options};
use lmrepro_extract::score::page_scores;
use lmrepro_extract::{extract_plain_text, ExtractOptions};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};

#[derive(serde::Deserialize)]
struct Page {
    set: String,
    name: String,
    html: String,
    label: String,
    label_kind: String,
}

/// Readability's expected HTML → text: text nodes in document order, white space collapsed, a line
/// break around every block element (resiliparse's block list, plus cells) and at `<br>`;
/// `script`/`style` left out. Line breaks only separate words here: the shingle scorer reads
/// `\w+` tokens, so only *which* text is kept matters.
fn label_text(html: &str) -> String {
    let dom = Dom::parse(html);
    let Some(body) = dom.body() else {
        return String::new();
    };
    let mut out = String::new();
    let mut stack: Vec<(NodeId, bool)> = vec![(body, true)];
    while let Some((id, enter)) = stack.pop() {
        let node = dom.node(id);
        match &node.kind {
            Kind::Text(t) => {
                for w in t.split_whitespace() {
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push(' ');
                    }
                    out.push_str(w);
                }
            }
            Kind::Element { tag, .. } => {
                let block = tag.is_block() || matches!(tag, Tag::Td | Tag::Th);
                if block && !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                if !enter || matches!(tag, Tag::Script | Tag::Style) {
                    continue;
                }
                stack.push((id, false));
                let first = stack.len();
                stack.extend(dom.children(id).map(|c| (c, true)));
                stack[first..].reverse();
            }
            _ => {}
        }
    }
    out
}

/// A peer's texts (`--pred`), an empty text where it gave none.
fn read_pred(path: &str) -> anyhow::Result<HashMap<String, String>> {
    Ok(
        lmrepro_extract::eval::read_predictions(std::path::Path::new(path))?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect(),
    )
}

/// Per-set sums of the page scores.
#[derive(Default)]
struct SetScore {
    pages: usize,
    precisions: Vec<f64>,
    recalls: Vec<f64>,
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let pages_path = args.first().cloned().context("PAGES.jsonl")?;
    args.remove(0);
    let (mut mode, mut pred, mut set1, mut per_page, mut show, mut dump) = (
        "quality".to_string(),
        None,
        false,
        None,
        None,
        None::<String>,
    );
    while let Some(a) = args.first().cloned() {
        args.remove(0);
        match a.as_str() {
            "--set1" => set1 = true,
            "--mode" => mode = args.remove(0),
            "--pred" => pred = Some(read_pred(&args.remove(0))?),
            "--per-page" => per_page = Some(args.remove(0)),
            "--show" => show = Some(args.remove(0)),
            "--dump" => dump = Some(args.remove(0)),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let f = std::fs::File::open(&pages_path).with_context(|| pages_path.clone())?;
    let mut pages = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let p: Page =
            serde_json::from_str(&line?).with_context(|| format!("{pages_path}:{}", i + 1))?;
        pages.push(p);
    }
    let eo = ExtractOptions::dclm();
    let texts: Vec<String> = pages
        .par_iter()
        .map(|p| match &pred {
            Some(m) => m
                .get(&format!("{}/{}", p.set, p.name))
                .cloned()
                .unwrap_or_default(),
            None if mode == "faithful" => extract_plain_text(&p.html, &eo),
            None => extract_article(&Dom::parse(&p.html)),
        })
        .collect();
    if let Some(path) = &dump {
        let mut f = std::fs::File::create(path).with_context(|| path.clone())?;
        for (p, text) in pages.iter().zip(&texts) {
            let key = format!("{}/{}", p.set, p.name);
            writeln!(f, "{}", serde_json::json!({"key": key, "text": text}))?;
        }
    }
    let mut sets: BTreeMap<&str, SetScore> = BTreeMap::new();
    let mut tsv = String::new();
    for (p, text) in pages.iter().zip(&texts) {
        let label = if p.label_kind == "html" {
            label_text(&p.label)
        } else {
            p.label.clone()
        };
        if show.as_deref() == Some(p.name.as_str()) {
            let roots = describe_roots(&Dom::parse(&p.html)).join("\n");
            println!("=== {}/{} roots\n{roots}", p.set, p.name);
            println!("=== extraction\n{text}\n=== label\n{label}\n===");
        }
        let (precision, recall) = page_scores(&label, text);
        let s = sets.entry(p.set.as_str()).or_default();
        s.pages += 1;
        // Precision only against a whole label (not a prefix).
        let precision = precision.filter(|_| p.label_kind != "text_prefix");
        s.precisions.extend(precision);
        s.recalls.extend(recall);
        let (pr, rc) = (precision.unwrap_or(f64::NAN), recall.unwrap_or(f64::NAN));
        tsv.push_str(&format!("{}\t{}\t{pr:.4}\t{rc:.4}\n", p.set, p.name));
    }
    if let Some(path) = per_page {
        std::fs::File::create(&path)
            .with_context(|| path.clone())?
            .write_all(tsv.as_bytes())?;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut json = serde_json::Map::new();
    for (name, s) in &sets {
        let (p, r) = (mean(&s.precisions), mean(&s.recalls));
        let mut o = serde_json::json!({"pages": s.pages, "recall": r});
        if !s.precisions.is_empty() {
            o["precision"] = p.into();
            o["f1"] = (2.0 * p * r / (p + r)).into();
        }
        json.insert(name.to_string(), o);
    }
    if set1 {
        let opts = Options {
            mode: if mode == "faithful" {
                Mode::Faithful
            } else {
                Mode::Quality
            },
            ..Options::default()
        };
        let e = eval_trafilatura(&lmrepro_data::testing::resolver(), &opts)?;
        json.insert(
            "set1_snippets".into(),
            serde_json::json!({"f1": e.f1, "precision": e.precision, "recall": e.recall}),
        );
    }
    println!("{}", serde_json::Value::Object(json));
    Ok(())
}
