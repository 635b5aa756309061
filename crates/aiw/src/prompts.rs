//! `prompts.json`: the 826 AIW prompts.

use crate::records::prompt_value_text;
use crate::score::RightAnswer;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One entry of `prompts.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    pub id: i64,
    /// A string, or a list of user turns (ids 113 and three others).
    pub prompt: serde_json::Value,
    #[serde(default)]
    pub right_answer: RightAnswer,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub digit_change: Option<serde_json::Value>,
}

impl Prompt {
    /// Single-turn text, or `None` for multi-turn prompts.
    pub fn text(&self) -> Option<&str> {
        self.prompt.as_str()
    }
    /// All turns joined by newlines.
    pub fn joined_text(&self) -> String {
        prompt_value_text(&self.prompt)
    }
}

/// The prompt types of the paper's main experiment (plot.py `PROMPT_TYPES`) plus THINKING v2,
/// recognised from the instruction suffix of a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PromptType {
    Standard,
    ThinkingV1,
    ThinkingV2,
    Restricted,
    Other,
}

impl PromptType {
    pub fn name(self) -> &'static str {
        match self {
            PromptType::Standard => "STANDARD",
            PromptType::ThinkingV1 => "THINKING",
            PromptType::ThinkingV2 => "THINKING_V2",
            PromptType::Restricted => "RESTRICTED",
            PromptType::Other => "OTHER",
        }
    }
}

/// Classifies a prompt by its instruction text (the sentences after the problem). The three
/// upstream prompt types are defined by these instructions (see prompts 55/57/53).
pub fn prompt_type_of(text: &str) -> PromptType {
    if text.contains("To answer the question, DO NOT OUTPUT ANY TEXT EXCEPT") {
        PromptType::Restricted
    } else if text.contains("think carefully step by step") {
        PromptType::ThinkingV2
    } else if text.contains("think carefully and double check") {
        PromptType::ThinkingV1
    } else if text.contains("Solve this problem and provide the final answer in following form") {
        PromptType::Standard
    } else {
        PromptType::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_types_from_instructions() {
        let std = "Alice has 3 brothers. How many? Solve this problem and provide the final answer in following form: \"### Answer: \".";
        assert_eq!(prompt_type_of(std), PromptType::Standard);
        let t1 = "x? Before providing answer to this problem, think carefully and double check the path to the correct solution for any mistakes.";
        assert_eq!(prompt_type_of(t1), PromptType::ThinkingV1);
        let t2 = "x? Before providing answer to this problem, think carefully step by step and double check the path";
        assert_eq!(prompt_type_of(t2), PromptType::ThinkingV2);
        let r = "x? To answer the question, DO NOT OUTPUT ANY TEXT EXCEPT following format that contains final answer";
        assert_eq!(prompt_type_of(r), PromptType::Restricted);
        assert_eq!(prompt_type_of("x?"), PromptType::Other);
    }
}

/// Loaded `prompts.json` with lookups.
#[derive(Debug, Clone)]
pub struct PromptSet {
    pub prompts: Vec<Prompt>,
    by_id: BTreeMap<i64, usize>,
    by_text: BTreeMap<String, usize>,
}

impl PromptSet {
    pub fn load(path: &Path) -> Result<PromptSet> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading prompts {}", path.display()))?;
        let values: Vec<serde_json::Value> = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a JSON list of prompts", path.display()))?;
        let prompts = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::from_value::<Prompt>(v).with_context(|| {
                    format!(
                        "{}: prompt record {} (1-based) is malformed",
                        path.display(),
                        i + 1
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PromptSet::new(prompts))
    }

    pub fn new(prompts: Vec<Prompt>) -> PromptSet {
        let mut by_id = BTreeMap::new();
        let mut by_text = BTreeMap::new();
        for (i, p) in prompts.iter().enumerate() {
            by_id.entry(p.id).or_insert(i);
            // Nine texts occur twice (e.g. ids 23/31); the first id wins, as a forward scan
            // that stops at the first match would do.
            by_text.entry(p.joined_text()).or_insert(i);
        }
        PromptSet {
            prompts,
            by_id,
            by_text,
        }
    }

    pub fn get(&self, id: i64) -> Option<&Prompt> {
        self.by_id.get(&id).map(|&i| &self.prompts[i])
    }

    /// The id whose prompt text is exactly `text` (first id for duplicated texts).
    pub fn id_of_text(&self, text: &str) -> Option<i64> {
        self.by_text.get(text).map(|&i| self.prompts[i].id)
    }
}
