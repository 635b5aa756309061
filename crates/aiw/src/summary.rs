//! `aiw_results_summary.csv` (the mirror's per (source, model, prompt) table) and re-deriving its
//! rows from raw response files.

use crate::prompts::PromptSet;
use crate::records::ResponseRecord;
use crate::score::{correct_symbolic, score, symbolic_variable, Comparison};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One row of the summary CSV.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    pub source: String,
    pub model: String,
    /// A prompt id, or `text:<first 60 chars>` when the prompt is not in prompts.json.
    pub prompt_id: String,
    pub prompt_description: String,
    pub right_answer: String,
    pub n_trials: u64,
    pub n_correct: u64,
    /// As printed (Python `round(rate, 4)`).
    pub correct_rate: String,
    pub n_correct_param_regex: Option<u64>,
}

impl SummaryRow {
    pub fn key(&self) -> (String, String, String) {
        (
            self.source.clone(),
            self.model.clone(),
            self.prompt_id.clone(),
        )
    }
    pub fn numeric_id(&self) -> Option<i64> {
        self.prompt_id.parse().ok()
    }
    /// Correct count used for rates: the symbolic rule for ids 100–108, the stored flag otherwise.
    pub fn k(&self) -> u64 {
        match (
            self.numeric_id().and_then(symbolic_variable),
            self.n_correct_param_regex,
        ) {
            (Some(_), Some(k)) => k,
            _ => self.n_correct,
        }
    }
}

const HEADER: [&str; 9] = [
    "source",
    "model",
    "prompt_id",
    "prompt_description",
    "right_answer",
    "n_trials",
    "n_correct",
    "correct_rate",
    "n_correct_param_regex",
];

/// Reads the summary CSV; errors name the file and the 1-based line of the bad record.
pub fn read_summary(path: &Path) -> Result<Vec<SummaryRow>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .with_context(|| format!("opening summary {}", path.display()))?;
    let headers = rdr
        .headers()
        .with_context(|| format!("{}: reading the header", path.display()))?
        .clone();
    if headers.iter().collect::<Vec<_>>() != HEADER {
        bail!(
            "{}: unexpected header {:?} (want {:?})",
            path.display(),
            headers.iter().collect::<Vec<_>>(),
            HEADER
        );
    }
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| format!("{}: malformed CSV", path.display()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let ctx = || format!("{}: line {line}", path.display());
        let num = |i: usize| -> Result<u64> {
            rec[i].parse::<u64>().with_context(|| {
                format!(
                    "{}: column {} = {:?} is not a count",
                    ctx(),
                    HEADER[i],
                    &rec[i]
                )
            })
        };
        rows.push(SummaryRow {
            source: rec[0].to_string(),
            model: rec[1].to_string(),
            prompt_id: rec[2].to_string(),
            prompt_description: rec[3].to_string(),
            right_answer: rec[4].to_string(),
            n_trials: num(5)?,
            n_correct: num(6)?,
            correct_rate: rec[7].to_string(),
            n_correct_param_regex: if rec[8].is_empty() {
                None
            } else {
                Some(num(8)?)
            },
        });
    }
    Ok(rows)
}

/// Counts of one (source, model, prompt) group of raw responses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tally {
    pub source: String,
    pub model: String,
    pub prompt_id: String,
    pub n_trials: u64,
    /// Records whose stored `correct` is true.
    pub n_correct_stored: u64,
    /// Re-scored with [`score`] (symbolic rule for ids 100–108).
    pub n_correct_rescored: u64,
    /// Records whose stored `parsed_answer` our parser reproduces.
    pub n_parsed_equal: u64,
    /// ids 100–108: responses matching plot.py's `<VAR>+1` rule.
    pub n_correct_param_regex: Option<u64>,
}

impl Tally {
    pub fn key(&self) -> (String, String, String) {
        (
            self.source.clone(),
            self.model.clone(),
            self.prompt_id.clone(),
        )
    }
}

/// The summary's prompt key of a record: the id whose text equals the prompt, else
/// `text:<first 60 characters>`.
pub fn prompt_key(prompts: &PromptSet, rec: &ResponseRecord) -> String {
    let text = rec.prompt_text();
    match prompts.id_of_text(&text) {
        Some(id) => id.to_string(),
        None => format!("text:{}", text.chars().take(60).collect::<String>()),
    }
}

/// Groups and re-scores the records of one source file.
pub fn tally(
    source: &str,
    records: &[ResponseRecord],
    prompts: &PromptSet,
    cmp: Comparison,
) -> Vec<Tally> {
    let mut groups: BTreeMap<(String, String), Tally> = BTreeMap::new();
    for rec in records {
        let pid = prompt_key(prompts, rec);
        let id: Option<i64> = pid.parse().ok();
        let response = rec.model_response.as_deref().unwrap_or("");
        let v = score(id, response, &rec.right_answer, cmp);
        let t = groups
            .entry((rec.model.clone(), pid.clone()))
            .or_insert_with(|| Tally {
                source: source.to_string(),
                model: rec.model.clone(),
                prompt_id: pid.clone(),
                n_trials: 0,
                n_correct_stored: 0,
                n_correct_rescored: 0,
                n_parsed_equal: 0,
                n_correct_param_regex: id.and_then(symbolic_variable).map(|_| 0),
            });
        t.n_trials += 1;
        t.n_correct_stored += rec.correct as u64;
        t.n_correct_rescored += v.correct as u64;
        t.n_parsed_equal +=
            crate::records::same_answer(v.parsed_answer.as_deref(), rec.parsed_answer.as_deref())
                as u64;
        if let (Some(k), Some(id)) = (t.n_correct_param_regex.as_mut(), id) {
            *k += correct_symbolic(id, response, rec.correct) as u64;
        }
    }
    groups.into_values().collect()
}

/// Python's `round(x, 4)` printed with `str` (shortest repr): `0.3167`, `0.55`, `0.0`.
pub fn python_round4(x: f64) -> String {
    let r = (x * 1e4).round() / 1e4;
    let s = format!("{r}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Result of comparing a re-derived tally with its summary row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowCheck {
    pub tally: Tally,
    pub summary: Option<SummaryRow>,
    /// The summary's columns (n_trials, n_correct, correct_rate, n_correct_param_regex) agree.
    pub matches: bool,
    pub note: String,
    /// Our re-scoring gives the stored verdicts (ids 100-108: always, their stored flag is not
    /// the symbolic rule). False for files whose verdicts were later corrected upstream (the
    /// Reflection-70B file carries an LLM parser's and manual inspection's verdicts).
    pub rescore_agrees: bool,
}

fn rescore_agrees(t: &Tally) -> bool {
    t.n_correct_param_regex.is_some() || t.n_correct_rescored == t.n_correct_stored
}

/// Compares every tally with the summary row of the same (source, model, prompt).
pub fn check_against_summary(tallies: &[Tally], summary: &[SummaryRow]) -> Vec<RowCheck> {
    let by_key: BTreeMap<_, _> = summary.iter().map(|r| (r.key(), r)).collect();
    tallies
        .iter()
        .map(|t| {
            let Some(row) = by_key.get(&t.key()) else {
                return RowCheck {
                    tally: t.clone(),
                    summary: None,
                    matches: false,
                    note: "no summary row".into(),
                    rescore_agrees: rescore_agrees(t),
                };
            };
            let mut diffs = Vec::new();
            if row.n_trials != t.n_trials {
                diffs.push(format!("n_trials {} vs {}", t.n_trials, row.n_trials));
            }
            if row.n_correct != t.n_correct_stored {
                diffs.push(format!(
                    "n_correct {} vs {}",
                    t.n_correct_stored, row.n_correct
                ));
            }
            let rate = python_round4(t.n_correct_stored as f64 / t.n_trials.max(1) as f64);
            if rate != row.correct_rate {
                diffs.push(format!("correct_rate {rate} vs {}", row.correct_rate));
            }
            if row.n_correct_param_regex != t.n_correct_param_regex {
                diffs.push(format!(
                    "n_correct_param_regex {:?} vs {:?}",
                    t.n_correct_param_regex, row.n_correct_param_regex
                ));
            }
            RowCheck {
                tally: t.clone(),
                summary: Some((*row).clone()),
                matches: diffs.is_empty(),
                note: diffs.join("; "),
                rescore_agrees: rescore_agrees(t),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_round4_repr() {
        assert_eq!(python_round4(19.0 / 60.0), "0.3167");
        assert_eq!(python_round4(0.55), "0.55");
        assert_eq!(python_round4(0.0), "0.0");
        assert_eq!(python_round4(1.0), "1.0");
        assert_eq!(python_round4(2.0 / 60.0), "0.0333");
    }

    #[test]
    fn malformed_summary_names_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(
            &p,
            format!(
                "{}\na,b,1,d,7,60,0,0.0,\na,b,2,d,7,sixty,0,0.0,\n",
                HEADER.join(",")
            ),
        )
        .unwrap();
        let msg = format!("{:#}", read_summary(&p).unwrap_err());
        assert!(
            msg.contains("s.csv") && msg.contains("line 3") && msg.contains("n_trials"),
            "{msg}"
        );
    }
}
