//! The `TokenLm` path end to end with a toy model that reads its whole context (unlike the n-gram
//! reference model, whose window is two tokens): a choice mentioned in the prompt is likely.

use anyhow::Result;
use lmrepro_bigbio::zeroshot::{
    parse_templates, predict_pairs_lm, predict_qa_lm, PairItem, QaItem, Task, PROMPTS_TOML,
};
use lmrepro_lm::{ScoreRequest, ScoreResult, TokenLm};

/// Byte-level toy LM: each continuation token has log-probability 0 when the continuation's text
/// (trimmed, case-insensitive) occurs in the context, -3 otherwise.
struct Echo {
    window: usize,
    seen: Vec<usize>,
}

impl TokenLm for Echo {
    fn name(&self) -> String {
        "echo".into()
    }
    fn max_context(&self) -> usize {
        self.window
    }
    fn score(&mut self, batch: &[ScoreRequest]) -> Result<Vec<ScoreResult>> {
        Ok(batch
            .iter()
            .map(|r| {
                self.seen.push(r.context.len() + r.continuation.len());
                let bytes = |v: &[u32]| v.iter().map(|&t| t as u8).collect::<Vec<u8>>();
                let ctx = String::from_utf8_lossy(&bytes(&r.context)).to_lowercase();
                let cont = String::from_utf8_lossy(&bytes(&r.continuation)).to_lowercase();
                let lp = if ctx.contains(cont.trim()) { 0.0 } else { -3.0 };
                ScoreResult {
                    logprobs: vec![lp; r.continuation.len()],
                    greedy_match: vec![false; r.continuation.len()],
                }
            })
            .collect())
    }
    fn next_token_logprobs(&mut self, contexts: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        Ok(contexts.iter().map(|_| vec![-(256f32.ln()); 256]).collect())
    }
}

fn bytes(s: &str) -> Result<Vec<u32>> {
    Ok(s.bytes().map(u32::from).collect())
}

#[test]
fn pubmedqa_picks_the_choice_the_context_supports() {
    let templates = parse_templates(PROMPTS_TOML, "prompts.toml").unwrap();
    let items: Vec<QaItem> = ["maybe", "no", "yes"]
        .iter()
        .map(|l| QaItem {
            question: "Does it work?".into(),
            context: format!("Authors conclude {l}."),
            label: l.to_string(),
        })
        .collect();
    let mut lm = Echo {
        window: usize::MAX,
        seen: vec![],
    };
    for t in templates.iter().filter(|t| t.task == Task::Pubmedqa) {
        let pred = predict_qa_lm(&mut lm, &bytes, t, &items).unwrap();
        // Templates that list "yes, no or maybe" in the prompt make every choice likely; the
        // first maximum (yes) wins, as numpy.argmax.
        if t.prompt.to_lowercase().contains("yes, no") {
            assert_eq!(pred, ["yes", "yes", "yes"], "{}", t.name);
        } else {
            assert_eq!(pred, ["maybe", "no", "yes"], "{}", t.name);
        }
    }
}

#[test]
fn biosses_expected_score_follows_the_likelihoods_and_windows_truncate() {
    let templates = parse_templates(PROMPTS_TOML, "prompts.toml").unwrap();
    let t = templates
        .iter()
        .find(|t| t.name == "similarity_words")
        .unwrap();
    let items: Vec<PairItem> = ["unrelated", "very similar", "equivalent"]
        .iter()
        .map(|w| PairItem {
            text_1: format!("They are {w}."),
            text_2: "x".into(),
            gold: 0.0,
        })
        .collect();
    let mut lm = Echo {
        window: usize::MAX,
        seen: vec![],
    };
    let pred = predict_pairs_lm(&mut lm, &bytes, t, &items).unwrap();
    assert!(pred[0] < 1.0 && pred[1] > 2.5 && pred[2] > 3.0, "{pred:?}");
    assert!(pred[0] < pred[1] && pred[1] < pred[2]);
    // A 40-token window: every request is cut from the left to fit.
    let mut small = Echo {
        window: 40,
        seen: vec![],
    };
    predict_pairs_lm(&mut small, &bytes, t, &items).unwrap();
    assert!(small.seen.iter().all(|&n| n <= 40), "{:?}", small.seen);
}
