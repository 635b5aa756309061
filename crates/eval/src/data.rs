//! Reading llm-foundry ICL jsonl files into typed items.
//!
//! Semantics of `InContextLearningDataset.read_dataset` + `strip_data` (llm-foundry v0.9.0):
//! every line is one JSON object; top-level *string* values are `str.strip()`ped (lists are not);
//! `has_categories` tasks are split by `category` into sorted partitions, each evaluated as its own
//! dataset (own few-shot pool and own RNG). Errors name the file and the 1-based line.

use crate::tasks::TaskType;
use anyhow::{bail, Context, Result};
use lmrepro_pycompat::unicode::strip;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// One evaluation item, by task type.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `query`, `choices`, `gold`.
    MultipleChoice {
        query: String,
        choices: Vec<String>,
        gold: usize,
    },
    /// `context_options`, `continuation`, `gold`.
    Schema {
        context_options: Vec<String>,
        continuation: String,
        gold: usize,
    },
    /// `context`, `continuation`.
    LanguageModeling {
        context: String,
        continuation: String,
    },
    /// `context`, `answer`, `aliases` (answer included), `chain_of_thought` ('' when absent).
    Generation {
        context: String,
        answer: String,
        aliases: Vec<String>,
        chain_of_thought: String,
    },
}

/// A dataset partition: all items of a task, or of one category of it.
#[derive(Debug, Clone)]
pub struct Partition {
    /// `None` for tasks without categories.
    pub category: Option<String>,
    pub items: Vec<Item>,
    /// 1-based line of each item in the source file (for messages).
    pub lines: Vec<usize>,
    /// `'chain_of_thought' in dataset.features` (generation tasks).
    pub has_cot: bool,
    /// Unstripped (answer, aliases, chain_of_thought) per item: llm-foundry measures the longest
    /// answer *before* `strip_data` runs.
    pub raw_answers: Vec<(String, Vec<String>, String)>,
}

fn get_str(obj: &Map<String, Value>, key: &str, file: &Path, line: usize) -> Result<String> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => bail!(
            "{}:{line}: field `{key}` must be a string, found {}",
            file.display(),
            short(other)
        ),
        None => bail!("{}:{line}: missing field `{key}`", file.display()),
    }
}

fn get_str_list(
    obj: &Map<String, Value>,
    key: &str,
    file: &Path,
    line: usize,
) -> Result<Vec<String>> {
    match obj.get(key) {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => bail!(
                    "{}:{line}: `{key}[{i}]` must be a string, found {}",
                    file.display(),
                    short(other)
                ),
            })
            .collect(),
        Some(other) => bail!(
            "{}:{line}: field `{key}` must be a list of strings, found {}",
            file.display(),
            short(other)
        ),
        None => bail!("{}:{line}: missing field `{key}`", file.display()),
    }
}

fn get_gold(obj: &Map<String, Value>, n: usize, file: &Path, line: usize) -> Result<usize> {
    let g = obj.get("gold").and_then(|v| v.as_u64()).with_context(|| {
        format!(
            "{}:{line}: `gold` must be a non-negative integer",
            file.display()
        )
    })? as usize;
    if g >= n {
        bail!(
            "{}:{line}: `gold` = {g} but there are only {n} options",
            file.display()
        );
    }
    Ok(g)
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}...", &s[..s.floor_char_boundary(60)])
    } else {
        s
    }
}

/// (category, item, line, unstripped answers) of one parsed line.
type Row = (Option<String>, Item, usize, (String, Vec<String>, String));

/// Reads a task file into partitions (one, or one per sorted category).
pub fn load_task_file(
    path: &Path,
    task_type: TaskType,
    has_categories: bool,
) -> Result<Vec<Partition>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading task file {}", path.display()))?;
    parse_task_text(&text, path, task_type, has_categories)
}

/// [`load_task_file`] on text already in memory (`path` is used in messages).
pub fn parse_task_text(
    text: &str,
    path: &Path,
    task_type: TaskType,
    has_categories: bool,
) -> Result<Vec<Partition>> {
    // (category, item, line, raw answers)
    let mut rows: Vec<Row> = Vec::new();
    let mut any_cot = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(raw)
            .with_context(|| format!("{}:{line}: malformed JSON", path.display()))?;
        let Value::Object(obj) = value else {
            bail!("{}:{line}: expected a JSON object", path.display());
        };
        let category = if has_categories {
            Some(get_str(&obj, "category", path, line)?)
        } else {
            None
        };
        let mut raw_ans = (String::new(), Vec::new(), String::new());
        let item = match task_type {
            TaskType::MultipleChoice => {
                let choices = get_str_list(&obj, "choices", path, line)?;
                if choices.is_empty() {
                    bail!("{}:{line}: `choices` is empty", path.display());
                }
                let gold = get_gold(&obj, choices.len(), path, line)?;
                Item::MultipleChoice {
                    query: strip(&get_str(&obj, "query", path, line)?).to_string(),
                    choices,
                    gold,
                }
            }
            TaskType::Schema => {
                let context_options = get_str_list(&obj, "context_options", path, line)?;
                if context_options.is_empty() {
                    bail!("{}:{line}: `context_options` is empty", path.display());
                }
                let gold = get_gold(&obj, context_options.len(), path, line)?;
                Item::Schema {
                    context_options,
                    continuation: strip(&get_str(&obj, "continuation", path, line)?).to_string(),
                    gold,
                }
            }
            TaskType::LanguageModeling => Item::LanguageModeling {
                context: strip(&get_str(&obj, "context", path, line)?).to_string(),
                continuation: strip(&get_str(&obj, "continuation", path, line)?).to_string(),
            },
            TaskType::GenerationTaskWithAnswers => {
                let answer = get_str(&obj, "answer", path, line)?;
                let extra = if obj.contains_key("aliases") && !obj["aliases"].is_null() {
                    get_str_list(&obj, "aliases", path, line)?
                } else {
                    Vec::new()
                };
                let cot = if obj.contains_key("chain_of_thought") {
                    any_cot = true;
                    if obj["chain_of_thought"].is_null() {
                        String::new()
                    } else {
                        get_str(&obj, "chain_of_thought", path, line)?
                    }
                } else {
                    String::new()
                };
                // `set([answer] + aliases)`: order is irrelevant to the metric (any-match), so
                // keep first occurrences in order for determinism.
                let mut aliases = vec![answer.clone()];
                for a in extra {
                    if !aliases.contains(&a) {
                        aliases.push(a);
                    }
                }
                raw_ans = (answer.clone(), aliases.clone(), cot.clone());
                Item::Generation {
                    context: strip(&get_str(&obj, "context", path, line)?).to_string(),
                    answer: strip(&answer).to_string(),
                    aliases,
                    chain_of_thought: strip(&cot).to_string(),
                }
            }
        };
        rows.push((category, item, line, raw_ans));
    }
    if rows.is_empty() {
        bail!("{}: task file has zero items", path.display());
    }
    let mut groups: BTreeMap<Option<String>, Partition> = BTreeMap::new();
    for (cat, item, line, raw_ans) in rows {
        let p = groups.entry(cat.clone()).or_insert_with(|| Partition {
            category: cat,
            items: Vec::new(),
            lines: Vec::new(),
            has_cot: any_cot,
            raw_answers: Vec::new(),
        });
        p.items.push(item);
        p.lines.push(line);
        p.raw_answers.push(raw_ans);
    }
    Ok(groups.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn malformed_line_names_file_and_line() {
        let text = "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n{not json\n";
        let err = parse_task_text(text, Path::new("t.jsonl"), TaskType::MultipleChoice, false)
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("t.jsonl:2"), "{msg}");
    }

    #[test]
    fn missing_field_and_bad_gold() {
        let err = parse_task_text(
            "{\"context\": \"c\"}\n",
            Path::new("lm.jsonl"),
            TaskType::LanguageModeling,
            false,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("lm.jsonl:1: missing field `continuation`"));
        let err = parse_task_text(
            "{\"query\": \"q\", \"choices\": [\"a\"], \"gold\": 3}\n",
            Path::new("mc.jsonl"),
            TaskType::MultipleChoice,
            false,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("mc.jsonl:1: `gold` = 3"));
    }

    #[test]
    fn zero_items_is_an_error() {
        let err =
            parse_task_text("\n\n", Path::new("empty.jsonl"), TaskType::Schema, false).unwrap_err();
        assert!(format!("{err:#}").contains("empty.jsonl: task file has zero items"));
    }

    #[test]
    fn categories_are_sorted_partitions() {
        let text = "{\"context\":\"a\",\"continuation\":\"b\",\"category\":\"z\"}\n{\"context\":\"c\",\"continuation\":\"d\",\"category\":\"m\"}\n";
        let parts =
            parse_task_text(text, Path::new("j.jsonl"), TaskType::LanguageModeling, true).unwrap();
        let cats: Vec<_> = parts.iter().map(|p| p.category.clone().unwrap()).collect();
        assert_eq!(cats, vec!["m", "z"]);
        assert_eq!(parts[0].lines, vec![2]);
    }

    proptest! {
        #[test]
        fn any_garbage_line_is_an_error_not_a_panic(s in "[^\n]{1,40}") {
            let text = format!("{s}\n");
            let r = parse_task_text(&text, Path::new("p.jsonl"), TaskType::MultipleChoice, false);
            if let Err(e) = r {
                let msg = format!("{:#}", e);
                prop_assert!(msg.contains("p.jsonl"), "{}", msg);
            }
        }
    }
}
