//! Response files: the repo's `collected_responses/*.json` (a JSON list of records, pandas
//! `to_json(orient='records')`) and JSONL (one record per line: the mirror's o1-mini file, and what
//! `aiw run` writes).

use crate::score::RightAnswer;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One stored response, with the fields every upstream file has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRecord {
    pub model: String,
    /// A string, or a list of turns for the multi-turn prompts (kept as JSON).
    pub prompt: serde_json::Value,
    /// `null` in some upstream files (failed API calls); such records count as incorrect.
    #[serde(default)]
    pub model_response: Option<String>,
    /// A string upstream, but pandas round-trips turned it into a float (`7.0`) or int in some
    /// files; numbers are kept as their JSON text.
    #[serde(default, deserialize_with = "scalar_as_string")]
    pub parsed_answer: Option<String>,
    #[serde(default)]
    pub correct: bool,
    #[serde(default)]
    pub trial: i64,
    #[serde(default)]
    pub total_trials: Option<i64>,
    #[serde(default)]
    pub right_answer: RightAnswer,
    #[serde(default)]
    pub session: Option<i64>,
    #[serde(default)]
    pub n_sessions: Option<i64>,
    /// Written by `aiw run` (and absent upstream, where the id is recovered from the prompt text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_id: Option<i64>,
    /// The mirror's o1-mini JSONL names the upstream file each record came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_file: Option<String>,
}

impl ResponseRecord {
    /// The prompt as one string (turns joined by a newline for multi-turn prompts).
    pub fn prompt_text(&self) -> String {
        prompt_value_text(&self.prompt)
    }
}

fn scalar_as_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s)),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(D::Error::custom(format!(
            "parsed_answer must be a string, number or null, got {other}"
        ))),
    }
}

/// Whether a re-parsed answer equals a stored one: as strings, or numerically when both are
/// numbers (a stored `7.0` equals a parsed `7`).
pub fn same_answer(ours: Option<&str>, stored: Option<&str>) -> bool {
    match (ours, stored) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a == b || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

/// A prompt value (`str` or `list[str]`) as one string.
pub fn prompt_value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| t.to_string())
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// Reads a response file: a JSON list (`.json`) or one JSON object per line (anything else, e.g.
/// `.jsonl`). Errors name the file and the 1-based record (JSON list) or line (JSONL).
pub fn read_responses(path: &Path) -> Result<Vec<ResponseRecord>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading response file {}", path.display()))?;
    parse_responses(&text, path)
}

/// [`read_responses`] on text already in memory (`path` only names it in errors).
pub fn parse_responses(text: &str, path: &Path) -> Result<Vec<ResponseRecord>> {
    let first = text.trim_start().chars().next();
    if first == Some('[') {
        let values: Vec<serde_json::Value> = serde_json::from_str(text).with_context(|| {
            format!(
                "{}: not a valid JSON list of response records",
                path.display()
            )
        })?;
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::from_value::<ResponseRecord>(v).with_context(|| {
                    format!(
                        "{}: record {} (1-based) is malformed",
                        path.display(),
                        i + 1
                    )
                })
            })
            .collect()
    } else {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let rec: ResponseRecord = serde_json::from_str(line).with_context(|| {
                format!(
                    "{}: line {} is not a valid response record",
                    path.display(),
                    i + 1
                )
            })?;
            out.push(rec);
        }
        if out.is_empty() && !text.trim().is_empty() {
            bail!("{}: no response records found", path.display());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_list_record_is_named() {
        let text = r#"[{"model":"a","prompt":"p","model_response":"x"},{"model":5,"prompt":"p"}]"#;
        let err = parse_responses(text, Path::new("r.json")).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("r.json") && msg.contains("record 2"), "{msg}");
    }

    #[test]
    fn malformed_jsonl_line_is_named() {
        let text = "{\"model\":\"a\",\"prompt\":\"p\"}\n\n{\"model\":\"a\",\"prompt\":\n";
        let err = parse_responses(text, Path::new("r.jsonl")).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("r.jsonl") && msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn truncated_list_is_a_clear_error() {
        let err = parse_responses("[{\"model\":\"a\"", Path::new("t.json")).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("t.json") && msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn null_response_and_float_answer_load() {
        let text = r#"[{"model":"a","prompt":["t1","t2"],"model_response":null,"right_answer":3.0,"parsed_answer":null,"correct":false}]"#;
        let recs = parse_responses(text, Path::new("x.json")).unwrap();
        assert_eq!(recs[0].right_answer, RightAnswer::Number(3.0));
        assert_eq!(recs[0].prompt_text(), "t1\nt2");
    }

    #[test]
    fn numeric_parsed_answers_load_and_compare() {
        let text = r#"[{"model":"a","prompt":"p","parsed_answer":7.0},{"model":"a","prompt":"p","parsed_answer":3}]"#;
        let recs = parse_responses(text, Path::new("x.json")).unwrap();
        assert_eq!(recs[0].parsed_answer.as_deref(), Some("7.0"));
        assert!(same_answer(Some("7"), recs[0].parsed_answer.as_deref()));
        assert!(same_answer(Some("3"), recs[1].parsed_answer.as_deref()));
        assert!(!same_answer(Some("3"), None));
    }
}
