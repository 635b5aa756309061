//! Bad inputs give clear errors: malformed jsonl, zero items, a model returning NaN.
use lmrepro_data::testing;
use lmrepro_eval::data::load_task_file;
use lmrepro_eval::prompt::{build_prompts, PromptOptions};
use lmrepro_eval::score::evaluate_partition;
use lmrepro_eval::tasks::{Registry, TaskType};
use lmrepro_eval::tokenizer::Tok;
use lmrepro_lm::{ScoreRequest, ScoreResult, TokenLm};

#[test]
fn malformed_jsonl_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("copa_broken.jsonl");
    std::fs::write(
        &p,
        "{\"query\": \"a\", \"choices\": [\"x\", \"y\"], \"gold\": 0}\n{\"query\": \"b\", \"choices\": [\"x\", \"y\"], \"gold\": 1\n",
    )
    .unwrap();
    let err = load_task_file(&p, TaskType::MultipleChoice, false).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("copa_broken.jsonl:2: malformed JSON"), "{msg}");
}

/// Invalid UTF-8 anywhere in a task file: an error naming the file (read as a whole, as
/// llm-foundry's `datasets` does).
#[test]
fn invalid_utf8_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("latin1.jsonl");
    std::fs::write(&p, b"{\"context\": \"caf\xe9\", \"continuation\": \"x\"}\n").unwrap();
    let msg = format!(
        "{:#}",
        load_task_file(&p, TaskType::LanguageModeling, false).unwrap_err()
    );
    assert!(msg.contains("latin1.jsonl"), "{msg}");
}

/// A wrong type (a number for a string field, a string for `gold`) names file and line.
#[test]
fn wrong_types_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("types.jsonl");
    std::fs::write(
        &p,
        "{\"query\": \"a\", \"choices\": [\"x\", \"y\"], \"gold\": 0}\n{\"query\": 7, \"choices\": [\"x\"], \"gold\": 0}\n",
    )
    .unwrap();
    let msg = format!(
        "{:#}",
        load_task_file(&p, TaskType::MultipleChoice, false).unwrap_err()
    );
    assert!(msg.contains("types.jsonl:2"), "{msg}");
    std::fs::write(
        &p,
        "{\"query\": \"a\", \"choices\": [\"x\", \"y\"], \"gold\": \"0\"}\n",
    )
    .unwrap();
    let msg = format!(
        "{:#}",
        load_task_file(&p, TaskType::MultipleChoice, false).unwrap_err()
    );
    assert!(msg.contains("types.jsonl:1"), "{msg}");
}

#[test]
fn zero_items_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.jsonl");
    std::fs::write(&p, "").unwrap();
    let msg = format!(
        "{:#}",
        load_task_file(&p, TaskType::LanguageModeling, false).unwrap_err()
    );
    assert!(
        msg.contains("empty.jsonl: task file has zero items"),
        "{msg}"
    );
}

struct NanModel;
impl TokenLm for NanModel {
    fn name(&self) -> String {
        "nan-model".into()
    }
    fn max_context(&self) -> usize {
        2048
    }
    fn score(&mut self, batch: &[ScoreRequest]) -> anyhow::Result<Vec<ScoreResult>> {
        Ok(batch
            .iter()
            .map(|r| ScoreResult {
                logprobs: vec![f64::NAN; r.continuation.len()],
                greedy_match: vec![false; r.continuation.len()],
            })
            .collect())
    }
    fn next_token_logprobs(&mut self, contexts: &[Vec<u32>]) -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(contexts.iter().map(|_| vec![f32::NAN; 8]).collect())
    }
}

#[test]
fn nan_from_the_model_is_a_clear_error() {
    let recipe = testing::recipe("dclm-eval");
    let res = testing::resolver();
    let reg =
        Registry::load(&recipe.resolve(&res, "dclm_assets/eval/heavy.yaml").unwrap()).unwrap();
    let tok = Tok::from_file(
        &recipe
            .resolve(&res, "tokenizer/gpt-neox-20b/tokenizer.json")
            .unwrap(),
    )
    .unwrap();
    let spec = reg.get("copa").unwrap();
    let path = recipe
        .resolve(&res, "icl_eval/commonsense_reasoning/copa.jsonl")
        .unwrap();
    let parts = load_task_file(&path, spec.task_type, false).unwrap();
    let prompts = build_prompts(
        spec,
        &parts[0],
        PromptOptions { prefix_space: true },
        Some(2),
    );
    let err = evaluate_partition(
        &mut NanModel,
        &tok,
        spec,
        &parts[0],
        &prompts,
        4,
        &mut || {},
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("nan-model"), "{msg}");
    assert!(msg.contains("NaN"), "{msg}");
    assert!(msg.contains("task copa, item 0 (line 1)"), "{msg}");

    // Generation goes through greedy_next, whose default rejects NaN too.
    let spec = reg.get("triviaqa_sm_sub").unwrap();
    let path = recipe
        .resolve(&res, "icl_eval/world_knowledge/triviaqa_sm_sub.jsonl")
        .unwrap();
    let parts = load_task_file(&path, spec.task_type, false).unwrap();
    let prompts = build_prompts(
        spec,
        &parts[0],
        PromptOptions { prefix_space: true },
        Some(1),
    );
    let err = evaluate_partition(
        &mut NanModel,
        &tok,
        spec,
        &parts[0],
        &prompts,
        4,
        &mut || {},
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("NaN") && msg.contains("task triviaqa_sm_sub, item 0"),
        "{msg}"
    );
}
