//! `crawl extract-eval`: extraction quality of a mode on one of the two labelled page sets.
//!
//! - `trafilatura` (the **tuning** set): trafilatura's own evaluation material
//!   (`tests/evaldata.json` @ e90b0ef5, 990 pages with snippets the main text must contain
//!   (`with`) and must not contain (`without`)), scored as trafilatura's `tests/comparison.py`
//!   does: a snippet counts when it is a substring of the result; true/false positives and
//!   negatives are summed over all pages; precision tp/(tp+fp), recall tp/(tp+fn), accuracy
//!   (tp+tn)/all, F1 2tp/(2tp+fp+fn). A page without a result (skipped record) has all its
//!   `with` snippets missing and all its `without` snippets absent, as `comparison.py` counts
//!   `result is None`.
//! - `aeb` (the **test** set): the scrapinghub article-extraction benchmark on its 181 pages,
//!   [`crate::quality::aeb_score`].

use crate::inputs::input_path;
use crate::pipeline::{Doc, DocError, Options};
use crate::quality::{aeb_score, extract_input, load_aeb_truth};
use crate::score::AebMetrics;
use anyhow::{Context, Result};
use lmrepro_data::Resolver;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Reads a predictions file, one `{"key": ..., "text": ...}` object per line (what the
/// benchmark scripts and `bench_quality --predictions` write), keyed by `key`; a `null` or
/// missing `text` is `None` (the extractor gave nothing). A bad line is an error naming the file
/// and line.
pub fn read_predictions(path: &Path) -> Result<HashMap<String, Option<String>>> {
    use std::io::BufRead;
    let name = path.display();
    let f = std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?;
    let mut out = HashMap::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("{name}:{}: read error", i + 1))?;
        let v: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("{name}:{}: not JSON", i + 1))?;
        let key = v["key"]
            .as_str()
            .with_context(|| format!("{name}:{}: no \"key\"", i + 1))?;
        out.insert(key.to_string(), v["text"].as_str().map(str::to_string));
    }
    Ok(out)
}

/// One page of trafilatura's evaluation data.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct EvalPage {
    pub file: String,
    #[serde(default)]
    pub with: Vec<String>,
    #[serde(default)]
    pub without: Vec<String>,
}

/// Reads `evaldata.json` (`{key: {"file", "with", "without", ...}}`), sorted by key.
pub fn load_evaldata(path: &Path) -> Result<BTreeMap<String, EvalPage>> {
    let f = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let v: BTreeMap<String, EvalPage> = serde_json::from_reader(std::io::BufReader::new(f))
        .with_context(|| format!("{}: not a trafilatura evaldata object", path.display()))?;
    Ok(v)
}

/// Counts of trafilatura's `evaluate_result`, summed over pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct SnippetCounts {
    pub true_positives: u64,
    pub false_negatives: u64,
    pub false_positives: u64,
    pub true_negatives: u64,
}

impl SnippetCounts {
    /// `evaluate_result(result, page)` of `comparison.py`.
    pub fn of(result: Option<&str>, page: &EvalPage) -> SnippetCounts {
        let mut c = SnippetCounts::default();
        for w in &page.with {
            match result {
                Some(r) if r.contains(w.as_str()) => c.true_positives += 1,
                _ => c.false_negatives += 1,
            }
        }
        for w in &page.without {
            match result {
                Some(r) if r.contains(w.as_str()) => c.false_positives += 1,
                _ => c.true_negatives += 1,
            }
        }
        c
    }

    pub fn add(&mut self, o: SnippetCounts) {
        self.true_positives += o.true_positives;
        self.false_negatives += o.false_negatives;
        self.false_positives += o.false_positives;
        self.true_negatives += o.true_negatives;
    }

    /// `calculate_scores`: (precision, recall, accuracy, F1); 0 where a denominator is 0.
    pub fn scores(&self) -> (f64, f64, f64, f64) {
        let (tp, fnn, fp, tn) = (
            self.true_positives as f64,
            self.false_negatives as f64,
            self.false_positives as f64,
            self.true_negatives as f64,
        );
        let div = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        (
            div(tp, tp + fp),
            div(tp, tp + fnn),
            div(tp + tn, tp + tn + fp + fnn),
            div(2.0 * tp, 2.0 * tp + fp + fnn),
        )
    }
}

/// Result of the trafilatura-set evaluation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SnippetEval {
    /// Pages of evaldata.json scored (those whose file is in the WARC).
    pub pages: usize,
    /// ... of which the record was skipped (scored as `None`).
    pub skipped: usize,
    /// evaldata.json pages whose file is not in the WARC (not scored).
    pub missing: usize,
    pub counts: SnippetCounts,
    pub precision: f64,
    pub recall: f64,
    pub accuracy: f64,
    pub f1: f64,
}

/// The file name of a trafilatura test page record (`X-Source-Path`: `...:tests/eval/<file>`).
fn source_file(doc: &Doc) -> Option<&str> {
    let src = doc.metadata.get("X-Source-Path")?.as_str()?;
    src.rsplit('/').next()
}

/// Scores already extracted documents of the trafilatura test-page WARC.
pub fn snippet_eval(
    data: &BTreeMap<String, EvalPage>,
    docs: &[Result<Doc, DocError>],
    warc_files: &[String],
) -> SnippetEval {
    let mut by_file: HashMap<&str, &str> = HashMap::new();
    for d in docs.iter().flatten() {
        if let Some(f) = source_file(d) {
            by_file.insert(f, d.text.as_str());
        }
    }
    let in_warc: std::collections::HashSet<&str> = warc_files.iter().map(String::as_str).collect();
    let mut counts = SnippetCounts::default();
    let (mut pages, mut skipped, mut missing) = (0, 0, 0);
    for page in data.values() {
        if !in_warc.contains(page.file.as_str()) {
            missing += 1;
            continue;
        }
        pages += 1;
        let result = by_file.get(page.file.as_str()).copied();
        skipped += usize::from(result.is_none());
        counts.add(SnippetCounts::of(result, page));
    }
    let (precision, recall, accuracy, f1) = counts.scores();
    SnippetEval {
        pages,
        skipped,
        missing,
        counts,
        precision,
        recall,
        accuracy,
        f1,
    }
}

/// Every `X-Source-Path` file name of a WARC's response records, skipped ones included.
fn warc_source_files(path: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let reader = crate::warc::WarcReader::open(path)?;
    for rec in reader {
        let rec = rec.with_context(|| path.display().to_string())?;
        if let Some(src) = rec.header("X-Source-Path") {
            if let Some(f) = src.rsplit('/').next() {
                out.push(f.to_string());
            }
        }
    }
    Ok(out)
}

/// The trafilatura-set score of `opts` on the pinned inputs.
pub fn eval_trafilatura(resolver: &Resolver, opts: &Options) -> Result<SnippetEval> {
    let data = load_evaldata(&input_path(resolver, "crawl/trafilatura-evaldata.json")?)?;
    let name = "crawl/trafilatura-testpages.warc.gz";
    let docs = extract_input(resolver, name, opts)?;
    Ok(snippet_eval(
        &data,
        &docs,
        &warc_source_files(&input_path(resolver, name)?)?,
    ))
}

/// The AEB score of `opts` on the pinned inputs (all 181 pages).
pub fn eval_aeb(resolver: &Resolver, opts: &Options) -> Result<AebMetrics> {
    let truth = load_aeb_truth(resolver)?;
    aeb_score(
        &truth,
        &extract_input(resolver, "crawl/scrapinghub-aeb.warc.gz", opts)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(with: &[&str], without: &[&str]) -> EvalPage {
        EvalPage {
            file: "f.html".into(),
            with: with.iter().map(|s| s.to_string()).collect(),
            without: without.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn counts_as_comparison_py() {
        let p = page(&["alpha beta", "gamma"], &["menu", "footer"]);
        let c = SnippetCounts::of(Some("alpha beta delta menu"), &p);
        assert_eq!(
            c,
            SnippetCounts {
                true_positives: 1,
                false_negatives: 1,
                false_positives: 1,
                true_negatives: 1
            }
        );
        // No result: all `with` missed, all `without` absent.
        let c = SnippetCounts::of(None, &p);
        assert_eq!((c.false_negatives, c.true_negatives), (2, 2));
        // Substring match is exact (white space included).
        let c = SnippetCounts::of(Some("alpha  beta"), &p);
        assert_eq!(c.true_positives, 0);
    }

    #[test]
    fn scores_by_hand() {
        let c = SnippetCounts {
            true_positives: 6,
            false_negatives: 2,
            false_positives: 2,
            true_negatives: 10,
        };
        let (p, r, a, f) = c.scores();
        assert_eq!((p, r, a), (0.75, 0.75, 0.8));
        assert!((f - 0.75).abs() < 1e-12);
        assert_eq!(SnippetCounts::default().scores(), (0.0, 0.0, 0.0, 0.0));
    }

    #[test]
    fn bad_evaldata_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("evaldata.json");
        std::fs::write(&p, r#"{"k": {"with": []}}"#).unwrap();
        let e = format!("{:#}", load_evaldata(&p).unwrap_err());
        assert!(e.contains("evaldata.json") && e.contains("file"), "{e}");
    }

    #[test]
    fn predictions_are_read_by_key_and_bad_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pred.jsonl");
        std::fs::write(
            &p,
            "{\"key\": \"a\", \"text\": \"x\"}\n{\"key\": \"b\", \"text\": null}\n",
        )
        .unwrap();
        let m = read_predictions(&p).unwrap();
        assert_eq!(m["a"].as_deref(), Some("x"));
        assert_eq!(m["b"], None);
        std::fs::write(&p, "{\"key\": \"a\", \"text\": \"x\"}\n{\"text\": \"y\"}\n").unwrap();
        let e = format!("{:#}", read_predictions(&p).unwrap_err());
        assert!(e.contains("pred.jsonl:2") && e.contains("key"), "{e}");
        std::fs::write(&p, "not json\n").unwrap();
        let e = format!("{:#}", read_predictions(&p).unwrap_err());
        assert!(e.contains("pred.jsonl:1: not JSON"), "{e}");
    }
}
