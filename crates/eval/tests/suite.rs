//! End to end on CPU with the reference n-gram model: CORE with missing files (partial, listed),
//! resumability, the generation path, and above-chance accuracy on a real task.
use lmrepro_data::testing;
use lmrepro_eval::aggregate::Headline;
use lmrepro_eval::models::{train_ngram, NgramSpec};
use lmrepro_eval::suite::{run_suite, RunOptions, SuiteEnv};
use lmrepro_lm::{ScoreRequest, ScoreResult, TokenLm};

fn env() -> SuiteEnv {
    SuiteEnv::load(
        testing::recipe("dclm-eval"),
        testing::resolver(),
        "dclm_assets/eval/heavy.yaml",
    )
    .unwrap()
}

fn model(env: &SuiteEnv, wiki: usize) -> lmrepro_eval::ngram::NgramLm {
    let tok = env.tokenizer().unwrap();
    let spec = NgramSpec {
        order: 3,
        wiki,
        gutenberg: 0,
    };
    train_ngram(&spec, &tok, &env.recipe, &env.resolver).unwrap()
}

/// Same name as the real model, but scoring is forbidden: proves a rerun resumes from disk.
struct MustNotScore(String);
impl TokenLm for MustNotScore {
    fn name(&self) -> String {
        self.0.clone()
    }
    fn max_context(&self) -> usize {
        2048
    }
    fn score(&mut self, _: &[ScoreRequest]) -> anyhow::Result<Vec<ScoreResult>> {
        panic!("resumed run must not score")
    }
    fn next_token_logprobs(&mut self, _: &[Vec<u32>]) -> anyhow::Result<Vec<Vec<f32>>> {
        panic!("resumed run must not score")
    }
}

#[test]
fn core_suite_runs_lists_missing_and_resumes() {
    let env = env();
    let mut m = model(&env, 1500);
    let labels = env.select("core").unwrap();
    assert_eq!(labels.len(), 22);
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        limit: Some(3),
        batch_items: 8,
        out_dir: dir.path().to_path_buf(),
        progress: false,
    };
    let run = run_suite(&env, &mut m, &labels, &opts).unwrap();
    let missing: Vec<&str> = run.missing.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(
        missing,
        vec!["hellaswag_zeroshot", "hellaswag", "squad", "coqa"]
    );
    assert_eq!(run.results.len(), 18);
    match &run.v2.core {
        Headline::Partial { missing, .. } => assert_eq!(missing.len(), 4),
        other => panic!("CORE must be partial, got {other:?}"),
    }
    assert!(matches!(run.v2.extended, Headline::Partial { .. }));
    // Jeopardy: five categories, DCLM's number is their mean.
    assert_eq!(run.results["jeopardy"].categories.len(), 5);
    assert_eq!(run.results["jeopardy"].items_scored, 15);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("eval.json")).unwrap())
            .unwrap();
    assert!(json["Core_v2"]
        .as_str()
        .unwrap()
        .starts_with("N/A due to missing tasks: ['hellaswag_zeroshot'"));
    assert_eq!(json["eval_metrics"]["icl"].as_object().unwrap().len(), 18);
    let md = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
    assert!(md.contains("| CORE (22) | N/A (partial: 4 missing"), "{md}");
    assert!(md.contains("- squad: "), "{md}");

    let before = std::fs::read(dir.path().join("eval.json")).unwrap();
    let mut resumed = MustNotScore(m.name());
    run_suite(&env, &mut resumed, &labels, &opts).unwrap();
    assert_eq!(before, std::fs::read(dir.path().join("eval.json")).unwrap());
}

#[test]
fn generation_tasks_run_end_to_end() {
    let env = env();
    let mut m = model(&env, 300);
    let labels = env.select("triviaqa_sm_sub,svamp_cot").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        limit: Some(2),
        batch_items: 4,
        out_dir: dir.path().to_path_buf(),
        progress: false,
    };
    let run = run_suite(&env, &mut m, &labels, &opts).unwrap();
    assert_eq!(run.results.len(), 2);
    for r in run.results.values() {
        assert_eq!(r.items_scored, 2);
        assert!(r.tokens_scored > 0, "{} generated nothing", r.label);
    }
}

#[test]
fn ngram_is_above_chance_on_a_real_task() {
    let env = env();
    let mut m = model(&env, 3000);
    let dir = tempfile::tempdir().unwrap();
    let n = 100;
    let opts = RunOptions {
        limit: Some(n),
        batch_items: 32,
        out_dir: dir.path().to_path_buf(),
        progress: false,
    };
    // Language-modelling tasks have a random baseline of 0 in DCLM's metadata (an exact
    // multi-token greedy match is essentially never hit by chance).
    let labels = env.select("bigbench_operators").unwrap();
    let run = run_suite(&env, &mut m, &labels, &opts).unwrap();
    let acc = run.results["bigbench_operators"].accuracy;
    eprintln!("ngram bigbench_operators accuracy on {n} items: {acc:.4}");
    assert!(acc >= 0.03, "bigbench_operators accuracy {acc}");
    let b = env
        .meta_v2
        .get("bigbench_operators")
        .unwrap()
        .random_baseline;
    assert_eq!(b, 0.0);
}
