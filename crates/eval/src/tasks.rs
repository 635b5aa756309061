//! The task registry: DCLM's eval yaml (`eval/heavy.yaml`, `eval/mmlu_and_lowvar.yaml`) read with
//! llm-foundry's defaults (`llmfoundry/utils/builders.py::build_icl_evaluators`, v0.9.0):
//! `prompt_string = ''`, `example_delimiter = '\n'`, `continuation_delimiter = ' '`,
//! `question_prelimiter = ''`, `fewshot_random_seed = 1234`, `has_categories = False`,
//! `cot_delimiter = ''`, `early_stopping_criteria = []`, `do_normalization = True`,
//! `max_seq_len` = the yaml's top-level `max_seq_len`.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::Path;

/// llm-foundry `icl_task_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    MultipleChoice,
    Schema,
    LanguageModeling,
    GenerationTaskWithAnswers,
}

impl TaskType {
    pub fn parse(s: &str) -> Result<TaskType> {
        Ok(match s {
            "multiple_choice" => TaskType::MultipleChoice,
            "schema" => TaskType::Schema,
            "language_modeling" => TaskType::LanguageModeling,
            "generation_task_with_answers" => TaskType::GenerationTaskWithAnswers,
            other => bail!("unsupported icl_task_type `{other}`"),
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            TaskType::MultipleChoice => "multiple_choice",
            TaskType::Schema => "schema",
            TaskType::LanguageModeling => "language_modeling",
            TaskType::GenerationTaskWithAnswers => "generation_task_with_answers",
        }
    }
}

/// One evaluation task (one label at one shot count).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TaskSpec {
    pub label: String,
    /// `dataset_uri` as written in the yaml (e.g. `local_data/world_knowledge/arc_easy.jsonl`).
    pub dataset_uri: String,
    pub task_type: TaskType,
    pub num_fewshot: usize,
    pub prompt_string: String,
    pub example_delimiter: String,
    pub continuation_delimiter: String,
    pub question_prelimiter: String,
    pub has_categories: bool,
    pub cot_delimiter: String,
    pub early_stopping_criteria: Vec<String>,
    pub fewshot_random_seed: u64,
    pub do_normalization: bool,
    pub max_seq_len: usize,
}

impl TaskSpec {
    /// Name of the pinned input holding the dataset (`icl_eval/<category>/<file>.jsonl`), or
    /// `None` when DCLM builds the file itself (GPQA, from a password-protected zip).
    pub fn input_name(&self) -> Option<String> {
        self.dataset_uri
            .strip_prefix("local_data/")
            .map(|rest| format!("icl_eval/{rest}"))
    }
}

#[derive(Deserialize)]
struct YamlFile {
    max_seq_len: Option<usize>,
    icl_tasks: Vec<YamlTask>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlTask {
    label: String,
    dataset_uri: String,
    num_fewshot: Vec<usize>,
    icl_task_type: String,
    prompt_string: Option<String>,
    example_delimiter: Option<String>,
    continuation_delimiter: Option<String>,
    question_prelimiter: Option<String>,
    has_categories: Option<bool>,
    cot_delimiter: Option<String>,
    early_stopping_criteria: Option<Vec<String>>,
    fewshot_random_seed: Option<u64>,
    do_normalization: Option<bool>,
    max_seq_len: Option<usize>,
}

/// The tasks of one eval yaml, in yaml order.
#[derive(Debug, Clone)]
pub struct Registry {
    pub tasks: Vec<TaskSpec>,
}

impl Registry {
    pub fn load(path: &Path) -> Result<Registry> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading eval config {}", path.display()))?;
        Registry::parse(&text).with_context(|| format!("eval config {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Registry> {
        let file: YamlFile = serde_yaml::from_str(text).context("parsing yaml")?;
        let default_len = file.max_seq_len.unwrap_or(2048);
        let mut tasks = Vec::new();
        for t in file.icl_tasks {
            let task_type =
                TaskType::parse(&t.icl_task_type).with_context(|| format!("task `{}`", t.label))?;
            if t.num_fewshot.len() != 1 {
                // DCLM names results by label only; several shot counts would collide.
                bail!(
                    "task `{}`: exactly one num_fewshot value is supported, got {:?}",
                    t.label,
                    t.num_fewshot
                );
            }
            tasks.push(TaskSpec {
                label: t.label,
                dataset_uri: t.dataset_uri,
                task_type,
                num_fewshot: t.num_fewshot[0],
                prompt_string: t.prompt_string.unwrap_or_default(),
                example_delimiter: t.example_delimiter.unwrap_or_else(|| "\n".into()),
                continuation_delimiter: t.continuation_delimiter.unwrap_or_else(|| " ".into()),
                question_prelimiter: t.question_prelimiter.unwrap_or_default(),
                has_categories: t.has_categories.unwrap_or(false),
                cot_delimiter: t.cot_delimiter.unwrap_or_default(),
                early_stopping_criteria: t.early_stopping_criteria.unwrap_or_default(),
                fewshot_random_seed: t.fewshot_random_seed.unwrap_or(1234),
                do_normalization: t.do_normalization.unwrap_or(true),
                max_seq_len: t.max_seq_len.unwrap_or(default_len),
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for t in &tasks {
            if !seen.insert(t.label.as_str()) {
                bail!("task label `{}` appears twice", t.label);
            }
        }
        Ok(Registry { tasks })
    }

    pub fn get(&self, label: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|t| t.label == label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_llm_foundry_defaults() {
        let r = Registry::parse(
            "max_seq_len: 2048\nicl_tasks:\n- label: copa\n  dataset_uri: local_data/commonsense_reasoning/copa.jsonl\n  num_fewshot: [0]\n  icl_task_type: multiple_choice\n",
        )
        .unwrap();
        let t = &r.tasks[0];
        assert_eq!(t.example_delimiter, "\n");
        assert_eq!(t.continuation_delimiter, " ");
        assert_eq!(t.fewshot_random_seed, 1234);
        assert!(t.do_normalization);
        assert_eq!(
            t.input_name().as_deref(),
            Some("icl_eval/commonsense_reasoning/copa.jsonl")
        );
    }

    #[test]
    fn unknown_type_and_keys_are_errors() {
        let bad = "icl_tasks:\n- label: x\n  dataset_uri: a\n  num_fewshot: [0]\n  icl_task_type: code_evaluation\n";
        assert!(format!("{:#}", Registry::parse(bad).unwrap_err()).contains("code_evaluation"));
        let typo = "icl_tasks:\n- label: x\n  dataset_uri: a\n  num_fewshot: [0]\n  icl_task_type: schema\n  continuation_delimeter: ' '\n";
        assert!(Registry::parse(typo).is_err());
    }
}
