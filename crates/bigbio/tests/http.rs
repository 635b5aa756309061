//! The zero-shot HTTP path: the AIW track's OpenAI-compatible client against a scripted server on
//! 127.0.0.1, replies parsed into PubMedQA labels and BIOSSES scores, then scored.

use lmrepro_aiw::client::{ClientConfig, OpenAiClient};
use lmrepro_aiw::testing::ChatServer;
use lmrepro_bigbio::metrics::bootstrap_indices;
use lmrepro_bigbio::zeroshot::{
    pair_rows, parse_templates, predict_pairs_gen, predict_qa_gen, qa_rows, PairItem, QaItem, Task,
    PROMPTS_TOML, UNPARSED,
};
use lmrepro_lm::GenerationParams;
use std::time::Duration;

fn client(url: &str) -> OpenAiClient {
    OpenAiClient::new(ClientConfig {
        base_url: url.to_string(),
        api_key: None,
        model: "local-model".into(),
        timeout: Duration::from_secs(10),
        max_retries: 0,
        backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(1),
        min_interval: Duration::ZERO,
    })
}

#[test]
fn pubmedqa_through_a_local_openai_compatible_server() {
    let templates = parse_templates(PROMPTS_TOML, "prompts.toml").unwrap();
    let t = templates.iter().find(|t| t.task == Task::Pubmedqa).unwrap();
    let items: Vec<QaItem> = [
        ("Does A cause B?", "A was given.", "yes"),
        ("Is C safe?", "C hurt.", "no"),
        ("Is D useful?", "Unclear.", "maybe"),
    ]
    .iter()
    .map(|(q, c, l)| QaItem {
        question: q.to_string(),
        context: c.to_string(),
        label: l.to_string(),
    })
    .collect();
    let srv = ChatServer::replies(&["Yes.", "I cannot tell", "maybe, yes"]);
    let params = GenerationParams {
        max_new_tokens: 8,
        temperature: 0.0,
        ..Default::default()
    };
    let g = predict_qa_gen(&mut client(&srv.url), &params, t, &items).unwrap();
    let bodies = srv.json_bodies();
    srv.join();
    assert_eq!(g.predictions, ["yes", UNPARSED, "maybe"]);
    assert_eq!(g.unparsed, 1);
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies[0]["model"], "local-model");
    assert_eq!(bodies[0]["max_tokens"], 8);
    assert_eq!(
        bodies[1]["messages"][0]["content"],
        "Abstract: C hurt.\nQuestion: Is C safe?\nAnswer:"
    );
    let gold: Vec<String> = items.iter().map(|i| i.label.clone()).collect();
    let rows = qa_rows(
        &gold,
        &[(t.name.clone(), g.predictions)],
        &bootstrap_indices(3, 50, 1),
        0.95,
    );
    // One template plus the median row; accuracy 2/3.
    assert_eq!(rows.len(), 2);
    assert!((rows[0].metrics[0].1.value - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(rows[1].template, "median");
}

#[test]
fn biosses_through_a_local_openai_compatible_server() {
    let templates = parse_templates(PROMPTS_TOML, "prompts.toml").unwrap();
    let t = templates.iter().find(|t| t.task == Task::Biosses).unwrap();
    let items: Vec<PairItem> = [(0.2, "a"), (2.0, "b"), (3.8, "c"), (1.0, "d")]
        .iter()
        .map(|(g, s)| PairItem {
            text_1: format!("{s}1"),
            text_2: format!("{s}2"),
            gold: *g,
        })
        .collect();
    let srv = ChatServer::replies(&["0", "Score: 2.5", "4 (equivalent)", "no idea"]);
    let g = predict_pairs_gen(
        &mut client(&srv.url),
        &GenerationParams::default(),
        t,
        &items,
    )
    .unwrap();
    let bodies = srv.json_bodies();
    srv.join();
    // The unparsable reply scores the scale midpoint.
    assert_eq!(g.predictions, [0.0, 2.5, 4.0, 2.0]);
    assert_eq!(g.unparsed, 1);
    assert!(bodies[2]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .starts_with("Sentence 1: c1\nSentence 2: c2\n"));
    let gold: Vec<f64> = items.iter().map(|i| i.gold).collect();
    let rows = pair_rows(
        &gold,
        &[(t.name.clone(), g.predictions)],
        &bootstrap_indices(4, 50, 1),
        0.95,
    );
    assert!(rows[0].metrics[0].1.value > 0.8, "{:?}", rows[0]);
}
