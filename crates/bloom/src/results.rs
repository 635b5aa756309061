//! The released `bslmeval.json` files of BigScience's lm-evaluation-harness fork:
//! `{"results": {task_or_task+prompt: {timestamp: {metric: value, ...}}}, "versions": {...}}`.
//!
//! Order matters: the conversion script iterates the `results` dict in file order (Python's `json`
//! keeps it), and the rows of `mdtable.txt` come out in that order. serde_json's `Map` sorts its
//! keys unless the workspace turns on `preserve_order` (which would change other crates' output),
//! so the objects are read here into ordered vectors.

use anyhow::{bail, Context, Result};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

/// A JSON object with its keys in file order; a repeated key is an error (Python would silently
/// keep the last value at the first position).
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Ordered<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OrderedVisitor<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, T)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, T>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(serde::de::Error::custom(format!("duplicate key `{k}`")));
                    }
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(OrderedVisitor(PhantomData))
    }
}

/// One metric value: the harness writes numbers, plus the strings `task_name` / `prompt_name`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Number(f64),
    Text(String),
    Other(serde_json::Value),
}

#[derive(Debug, Deserialize)]
struct RawFile {
    results: Ordered<Ordered<Ordered<Value>>>,
}

/// One `results` entry: a task (or task + prompt) evaluated at one or more timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key of `results`, e.g. `axb+GPT-3 style` or `arc_easy`.
    pub key: String,
    /// `(timestamp, metrics)` in file order.
    pub runs: Vec<(String, Ordered<Value>)>,
}

/// A parsed `bslmeval.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultsFile {
    /// Where it was read from (for error messages).
    pub source: String,
    pub entries: Vec<Entry>,
}

impl ResultsFile {
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the text of a `bslmeval.json`; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let raw: RawFile = serde_json::from_str(text).map_err(|e| {
            // Python's json accepts NaN / Infinity; strict JSON (and this reader) does not.
            let at = nth_line(text, e.line()).get(e.column().saturating_sub(1)..);
            let nonfinite = ["NaN", "Infinity", "-Infinity"]
                .into_iter()
                .find(|t| at.is_some_and(|s| s.starts_with(t)));
            if let Some(token) = nonfinite {
                anyhow::anyhow!(
                    "{source}: line {} column {}: non-finite metric value ({token}): a NaN or \
                     infinite score has no median or rounding",
                    e.line(),
                    e.column(),
                )
            } else {
                anyhow::anyhow!("{source}: malformed results JSON: {e}")
            }
        })?;
        let entries = raw
            .results
            .0
            .into_iter()
            .map(|(key, runs)| Entry { key, runs: runs.0 })
            .collect();
        Ok(ResultsFile {
            source: source.into(),
            entries,
        })
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

fn nth_line(text: &str, line: usize) -> &str {
    text.lines().nth(line.saturating_sub(1)).unwrap_or("")
}

impl Entry {
    /// The metrics of the only run; the conversion asserts there is exactly one per entry.
    pub fn single_run(&self, source: &str) -> Result<&Ordered<Value>> {
        match self.runs.as_slice() {
            [(_, m)] => Ok(m),
            runs => bail!(
                "{source}: results entry `{}` has {} timestamps, expected exactly 1 \
                 (json_to_markdown.py asserts len(date_keys) == 1)",
                self.key,
                runs.len()
            ),
        }
    }

    /// The metrics of the first run (what the conversion reads from OPT's file, unchecked).
    pub fn first_run(&self, source: &str) -> Result<&Ordered<Value>> {
        self.runs
            .first()
            .map(|(_, m)| m)
            .with_context(|| format!("{source}: results entry `{}` has no run", self.key))
    }
}

/// A finite numeric metric, or an error naming file, entry and metric.
pub fn number(metrics: &Ordered<Value>, metric: &str, source: &str, key: &str) -> Result<f64> {
    match metrics.get(metric) {
        Some(Value::Number(x)) if x.is_finite() => Ok(*x),
        Some(Value::Number(x)) => bail!("{source}: `{key}` metric `{metric}` is {x}"),
        Some(other) => bail!("{source}: `{key}` metric `{metric}` is not a number: {other:?}"),
        None => bail!("{source}: `{key}` has no metric `{metric}`"),
    }
}

/// A string field (`task_name`, `prompt_name`) if present.
pub fn text<'a>(
    metrics: &'a Ordered<Value>,
    field: &str,
    source: &str,
    key: &str,
) -> Result<Option<&'a str>> {
    match metrics.get(field) {
        None => Ok(None),
        Some(Value::Text(s)) => Ok(Some(s)),
        Some(other) => bail!("{source}: `{key}` field `{field}` is not a string: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_file_order_and_rejects_duplicates() {
        let f = ResultsFile::parse(
            r#"{"results": {"b": {"t1": {"acc": 0.5, "task_name": "x"}}, "a": {"t2": {"em": 1}}},
                "versions": {}}"#,
            "f.json",
        )
        .unwrap();
        let keys: Vec<_> = f.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
        let m = f.entries[0].single_run("f.json").unwrap();
        assert_eq!(number(m, "acc", "f", "b").unwrap(), 0.5);
        assert_eq!(text(m, "task_name", "f", "b").unwrap(), Some("x"));
        assert!(text(m, "acc", "f", "b").is_err());
        let dup = ResultsFile::parse(r#"{"results": {"a": {}, "a": {}}}"#, "d.json");
        let err = format!("{:#}", dup.unwrap_err());
        assert!(
            err.contains("d.json") && err.contains("duplicate key `a`"),
            "{err}"
        );
    }

    #[test]
    fn nan_and_malformed_are_clear_errors() {
        let nan = ResultsFile::parse(
            "{\"results\": {\"a\": {\"t\": {\n  \"acc\": NaN}}}}",
            "bloom/bslmeval.json",
        );
        let err = format!("{:#}", nan.unwrap_err());
        assert!(
            err.contains("bloom/bslmeval.json: line 2 column")
                && err.contains("non-finite metric value (NaN)"),
            "{err}"
        );
        let bad = ResultsFile::parse("{\"results\": [1, 2]}", "x.json");
        let err = format!("{:#}", bad.unwrap_err());
        assert!(err.contains("x.json: malformed results JSON"), "{err}");
        let none = ResultsFile::parse("{\"versions\": {}}", "y.json");
        assert!(format!("{:#}", none.unwrap_err()).contains("missing field `results`"));
    }

    #[test]
    fn runs_are_checked() {
        let f = ResultsFile::parse(
            r#"{"results": {"a": {"t1": {"acc": 1.0}, "t2": {"acc": 0.0}}, "b": {}}}"#,
            "r.json",
        )
        .unwrap();
        let err = f.entries[0].single_run("r.json").unwrap_err().to_string();
        assert!(err.contains("`a` has 2 timestamps"), "{err}");
        assert!(f.entries[0].first_run("r.json").is_ok());
        assert!(f.entries[1].first_run("r.json").is_err());
        let m = f.entries[0].first_run("r.json").unwrap();
        assert!(number(m, "em", "r.json", "a")
            .unwrap_err()
            .to_string()
            .contains("has no metric `em`"));
    }
}
