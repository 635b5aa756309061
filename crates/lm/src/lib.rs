//! The model interface.
//!
//! Evaluation (llm-foundry-style ICL scoring), the AIW track and the trainer meet here, so none of
//! them needs another's heavy dependencies (burn, HTTP clients) to compile its tests.
//!
//! Two levels:
//! - [`TokenLm`]: token ids in, log-probabilities out. What llm-foundry's ICL metrics need
//!   (mean per-token loss of a continuation, greedy-match of every continuation token).
//! - [`TextGenerator`]: text in, text out (chat/completion models, hosted or local).

use anyhow::Result;
use serde::{Deserialize, Serialize};

/// Score `continuation` given `context` (token ids of one tokenizer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreRequest {
    pub context: Vec<u32>,
    pub continuation: Vec<u32>,
}

/// Per continuation token: natural-log probability, and whether it was the model's argmax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreResult {
    pub logprobs: Vec<f64>,
    pub greedy_match: Vec<bool>,
}

impl ScoreResult {
    /// Mean negative log-likelihood per continuation token (llm-foundry's MC/schema criterion).
    pub fn mean_nll(&self) -> f64 {
        if self.logprobs.is_empty() {
            return f64::NAN;
        }
        -self.logprobs.iter().sum::<f64>() / self.logprobs.len() as f64
    }
    /// True when greedy decoding reproduces every continuation token (llm-foundry LM accuracy).
    pub fn all_greedy(&self) -> bool {
        self.greedy_match.iter().all(|&m| m)
    }
}

/// A causal language model over token ids.
pub trait TokenLm {
    /// Human-readable identifier (checkpoint path, `ngram:...`).
    fn name(&self) -> String;
    /// Longest context (in tokens) the model accepts; callers left-truncate longer inputs.
    fn max_context(&self) -> usize;
    /// Scores a batch of requests. Implementations must return one result per request, with
    /// `logprobs.len() == continuation.len()`, and must error (not return NaN) on numeric failure.
    fn score(&mut self, batch: &[ScoreRequest]) -> Result<Vec<ScoreResult>>;
    /// Log-probabilities over the vocabulary for the token following each context.
    fn next_token_logprobs(&mut self, contexts: &[Vec<u32>]) -> Result<Vec<Vec<f32>>>;
    /// The model's own `tokenizer.json`, when it brings one (Hugging Face folders); evaluation then
    /// tokenizes with it instead of the suite's GPT-NeoX tokenizer.
    fn tokenizer_file(&self) -> Option<std::path::PathBuf> {
        None
    }
    /// The greedy (argmax) next token for each context; ties go to the lowest token id, like
    /// `torch.argmax`. The default takes the argmax of [`TokenLm::next_token_logprobs`];
    /// models with a cheaper exact argmax (n-gram tables) override it.
    fn greedy_next(&mut self, contexts: &[Vec<u32>]) -> Result<Vec<u32>> {
        let rows = self.next_token_logprobs(contexts)?;
        rows.iter()
            .map(|row| {
                let mut best: Option<(usize, f32)> = None;
                for (i, &lp) in row.iter().enumerate() {
                    if lp.is_nan() {
                        anyhow::bail!(
                            "model {} returned NaN log-probability for token {i}",
                            self.name()
                        );
                    }
                    if best.is_none_or(|(_, b)| lp > b) {
                        best = Some((i, lp));
                    }
                }
                best.map(|(i, _)| i as u32).ok_or_else(|| {
                    anyhow::anyhow!("model {} returned an empty distribution", self.name())
                })
            })
            .collect()
    }
}

/// How to generate text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationParams {
    pub max_new_tokens: usize,
    /// 0.0 means greedy decoding.
    pub temperature: f64,
    /// Seed of the sampler (ignored when greedy).
    pub seed: u64,
    /// Generation stops before the first occurrence of any of these strings.
    pub stop: Vec<String>,
}

impl Default for GenerationParams {
    fn default() -> Self {
        GenerationParams {
            max_new_tokens: 256,
            temperature: 0.0,
            seed: 0,
            stop: Vec::new(),
        }
    }
}

/// A model that continues text (local LM + tokenizer, or a hosted chat/completion API).
pub trait TextGenerator {
    fn name(&self) -> String;
    /// One completion per prompt, stop strings removed.
    fn generate(&mut self, prompts: &[String], params: &GenerationParams) -> Result<Vec<String>>;
}

/// Cuts `text` before the earliest occurrence of any stop string.
pub fn truncate_at_stop<'a>(text: &'a str, stop: &[String]) -> &'a str {
    let cut = stop
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
        .unwrap_or(text.len());
    &text[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_strings_cut_at_earliest() {
        let stop = vec!["\n\n".to_string(), "Q:".to_string()];
        assert_eq!(truncate_at_stop("abc Q: x\n\ny", &stop), "abc ");
        assert_eq!(truncate_at_stop("abc", &stop), "abc");
    }

    struct Fixed(Vec<f32>);
    impl TokenLm for Fixed {
        fn name(&self) -> String {
            "fixed".into()
        }
        fn max_context(&self) -> usize {
            8
        }
        fn score(&mut self, _batch: &[ScoreRequest]) -> Result<Vec<ScoreResult>> {
            Ok(Vec::new())
        }
        fn next_token_logprobs(&mut self, contexts: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
            Ok(contexts.iter().map(|_| self.0.clone()).collect())
        }
    }

    #[test]
    fn default_greedy_next_is_first_argmax_and_rejects_nan() {
        let mut m = Fixed(vec![-3.0, -1.0, -1.0, -2.0]);
        assert_eq!(m.greedy_next(&[vec![1], vec![2]]).unwrap(), vec![1, 1]);
        let mut bad = Fixed(vec![-1.0, f32::NAN]);
        assert!(bad
            .greedy_next(&[vec![1]])
            .unwrap_err()
            .to_string()
            .contains("NaN"));
    }

    #[test]
    fn mean_nll_and_greedy() {
        let r = ScoreResult {
            logprobs: vec![-1.0, -3.0],
            greedy_match: vec![true, false],
        };
        assert_eq!(r.mean_nll(), 2.0);
        assert!(!r.all_greedy());
    }
}
