//! The CLI entry points run end to end on the real data (output goes to stdout).

use lmrepro_aiw::cli::{run, Command};
use lmrepro_aiw::score::Comparison;

#[test]
fn generate_score_coverage_and_bad_model() {
    run(Command::Generate {
        family: "55".into(),
        n: Some(5),
        m: Some(12),
        values: None,
        suffix: Some("THINKING_V2".into()),
        style: None,
        list: false,
    })
    .unwrap();
    let err = run(Command::Generate {
        family: "f999999".into(),
        n: None,
        m: None,
        values: None,
        suffix: None,
        style: None,
        list: false,
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("no AIW family"), "{err:#}");
    run(Command::Coverage).unwrap();
    let base = lmrepro_data::testing::input("aiw", "aiw/AIW_base_models.json");
    run(Command::Score {
        files: vec![base],
        comparison: Comparison::Numeric,
        seed: 1,
    })
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let err = run(Command::Run {
        model: "local:foo".into(),
        prompt_ids: "55".into(),
        trials: 1,
        temperature: 0.0,
        seed: 0,
        max_tokens: 16,
        out: dir.path().join("x.jsonl"),
        rpm: 0.0,
        timeout_s: 1,
        retries: 0,
        comparison: Comparison::Numeric,
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("openai:MODEL"), "{err:#}");
}
