//! Extraction quality on the real benchmark pages: similarity to the resiliparse goldens and the
//! scrapinghub article-extraction-benchmark score.

use crate::inputs::{input_path, load_golden, GOLDENS};
use crate::pipeline::{extract_warc, Doc, DocError, Options};
use crate::score::{aeb_metrics, token_f1, AebMetrics};
use anyhow::{Context, Result};
use lmrepro_data::Resolver;
use std::collections::HashMap;

/// Our output next to resiliparse's on one benchmark WARC.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GoldenComparison {
    pub warc: String,
    /// Response records in the golden.
    pub records: usize,
    /// Records both extracted (golden text not null, ours Ok).
    pub both_extracted: usize,
    /// ... of which byte-identical texts.
    pub exact: usize,
    /// Mean bag-of-`\w+`-tokens F1 over `both_extracted`.
    pub token_f1: f64,
    /// Records both skipped (resiliparse: UnicodeDecodeError; ours: non_utf8).
    pub both_skipped: usize,
    /// Skip disagreements.
    pub only_golden_skipped: usize,
    pub only_ours_skipped: usize,
    /// Record ids whose text differs (for debugging), in WARC order.
    #[serde(skip)]
    pub mismatches: Vec<String>,
}

impl GoldenComparison {
    pub fn exact_rate(&self) -> f64 {
        self.exact as f64 / self.both_extracted.max(1) as f64
    }
}

/// Documents of one WARC, in file order (skipped records as errors).
pub type DocResults = Vec<Result<Doc, DocError>>;

/// Extracts a pinned WARC with `opts` (parallel within the file).
pub fn extract_input(
    resolver: &Resolver,
    name: &str,
    opts: &Options,
) -> Result<Vec<Result<Doc, DocError>>> {
    let path = input_path(resolver, name)?;
    Ok(extract_warc(&path, opts)?.collect_par())
}

/// Compares our extraction of both benchmark WARCs with the resiliparse goldens.
pub fn compare_goldens(
    resolver: &Resolver,
    opts: &Options,
) -> Result<Vec<(GoldenComparison, DocResults)>> {
    let mut out = Vec::new();
    for (golden_file, _, warc) in GOLDENS {
        let golden = load_golden(golden_file)?;
        let docs = extract_input(resolver, warc, opts)?;
        let mut ours: HashMap<String, Option<&str>> = HashMap::new();
        for d in &docs {
            match d {
                Ok(doc) => {
                    ours.insert(doc.id.clone(), Some(doc.text.as_str()));
                }
                Err(DocError::Skipped { .. }) => {}
                Err(e) => anyhow::bail!("unexpected error in a benchmark WARC: {e}"),
            }
        }
        // Skipped records have no id in `ours`; collect their ids from the WARC order instead.
        let mut cmp = GoldenComparison {
            warc: warc.to_string(),
            records: golden.len(),
            both_extracted: 0,
            exact: 0,
            token_f1: 0.0,
            both_skipped: 0,
            only_golden_skipped: 0,
            only_ours_skipped: 0,
            mismatches: Vec::new(),
        };
        anyhow::ensure!(
            docs.len() == golden.len(),
            "{warc}: {} response records, golden has {}",
            docs.len(),
            golden.len()
        );
        let mut f1_sum = 0.0;
        for (g, d) in golden.iter().zip(&docs) {
            let ours_text = match d {
                Ok(doc) => {
                    anyhow::ensure!(
                        doc.id == g.warc_record_id,
                        "record order differs at {}",
                        g.warc_record_id
                    );
                    Some(doc.text.as_str())
                }
                Err(_) => None,
            };
            match (g.text.as_deref(), ours_text) {
                (Some(gt), Some(ot)) => {
                    cmp.both_extracted += 1;
                    if gt == ot {
                        cmp.exact += 1;
                    } else {
                        cmp.mismatches.push(g.warc_record_id.clone());
                    }
                    f1_sum += token_f1(gt, ot);
                }
                (None, None) => cmp.both_skipped += 1,
                (None, Some(_)) => cmp.only_golden_skipped += 1,
                (Some(_), None) => cmp.only_ours_skipped += 1,
            }
        }
        cmp.token_f1 = f1_sum / cmp.both_extracted.max(1) as f64;
        drop(ours);
        out.push((cmp, docs));
    }
    Ok(out)
}

/// Ground-truth article bodies keyed by the page's sha256.
pub fn load_aeb_truth(resolver: &Resolver) -> Result<HashMap<String, String>> {
    let path = input_path(resolver, "crawl/scrapinghub-aeb-ground-truth.json")?;
    let v: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(
        std::fs::File::open(&path).with_context(|| path.display().to_string())?,
    ))?;
    let obj = v.as_object().context("ground truth is a JSON object")?;
    Ok(obj
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.get("articleBody")
                    .and_then(|b| b.as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect())
}

/// The page sha256 of a scrapinghub record: the file stem of its `X-Source-Path`
/// (`...:html/<sha256>.html.gz`).
pub fn aeb_key(doc: &Doc) -> Option<String> {
    let src = doc.metadata.get("X-Source-Path")?.as_str()?;
    let file = src.rsplit('/').next()?;
    Some(file.split('.').next()?.to_string())
}

/// Scrapinghub benchmark score of already extracted scrapinghub documents (a page we skipped
/// counts as an empty prediction, as the benchmark requires a prediction per page).
pub fn aeb_score(
    truth: &HashMap<String, String>,
    docs: &[Result<Doc, DocError>],
) -> Result<AebMetrics> {
    let mut pred: HashMap<String, &str> = HashMap::new();
    for d in docs.iter().flatten() {
        let key = aeb_key(d).with_context(|| format!("{}: no X-Source-Path", d.id))?;
        pred.insert(key, d.text.as_str());
    }
    let mut keys: Vec<&String> = truth.keys().collect();
    keys.sort();
    Ok(aeb_metrics(keys.iter().map(|k| {
        (truth[*k].as_str(), pred.get(*k).copied().unwrap_or(""))
    })))
}
