//! [`lmrepro_lm::TokenLm`] for a trained checkpoint, so the eval suite can score it.

use crate::checkpoint;
use crate::model::Transformer;
use crate::optim::load_params;
use anyhow::{bail, Result};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use lmrepro_lm::{ScoreRequest, ScoreResult, TokenLm};
use std::path::Path;

/// A decoder on an inference backend (no autodiff).
pub struct BurnLm<B: Backend> {
    pub model: Transformer<B>,
    pub name: String,
    pub device: B::Device,
}

impl<B: Backend> BurnLm<B> {
    pub fn new(model: Transformer<B>, name: String, device: B::Device) -> Self {
        BurnLm {
            model,
            name,
            device,
        }
    }

    /// Loads the weights of a checkpoint directory (or the newest `step_*` in a run directory).
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self> {
        let dir = checkpoint::resolve_dir(dir)?;
        let ck = checkpoint::load(&dir)?;
        let model = Transformer::<B>::new(&ck.state.model, 0, device);
        let what = format!("{}/model.safetensors", dir.display());
        let model = load_params(model, ck.weights, &what)?;
        Ok(BurnLm::new(
            model,
            dir.display().to_string(),
            device.clone(),
        ))
    }

    /// Log-probabilities `[t, vocab]` of the token after each of `ids` (one sequence).
    fn logprobs(&self, ids: &[u32]) -> Result<Vec<Vec<f32>>> {
        let vocab = self.model.config.vocab_size;
        if let Some(&bad) = ids.iter().find(|&&t| t as usize >= vocab) {
            bail!("token id {bad} is outside the model's vocabulary of {vocab}");
        }
        let t = ids.len();
        let x = Tensor::<B, 2, Int>::from_data(
            TensorData::new(ids.iter().map(|&v| v as i64).collect::<Vec<_>>(), [1, t]),
            &self.device,
        );
        let lp = log_softmax(self.model.forward(x), 2);
        let flat: Vec<f32> = lp
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading logits: {e:?}"))?;
        if flat.iter().any(|v| !v.is_finite()) {
            bail!("{}: non-finite log-probabilities", self.name);
        }
        Ok(flat.chunks(vocab).map(<[f32]>::to_vec).collect())
    }
}

impl<B: Backend> TokenLm for BurnLm<B> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn max_context(&self) -> usize {
        self.model.config.seq_len
    }

    fn score(&mut self, batch: &[ScoreRequest]) -> Result<Vec<ScoreResult>> {
        let max = self.max_context();
        let mut out = Vec::with_capacity(batch.len());
        for req in batch {
            if req.continuation.is_empty() {
                out.push(ScoreResult {
                    logprobs: vec![],
                    greedy_match: vec![],
                });
                continue;
            }
            if req.continuation.len() > max {
                bail!(
                    "continuation of {} tokens exceeds the model context {max}",
                    req.continuation.len()
                );
            }
            let mut all: Vec<u32> = req.context.clone();
            all.extend(&req.continuation);
            // Inputs are all tokens but the last; left-truncate to the context window.
            let inputs = &all[..all.len() - 1];
            let inputs = &inputs[inputs.len().saturating_sub(max)..];
            if inputs.is_empty() {
                bail!("a request needs at least one context token");
            }
            let lp = self.logprobs(inputs)?;
            let n = req.continuation.len();
            let first = lp.len() - n;
            let mut logprobs = Vec::with_capacity(n);
            let mut greedy = Vec::with_capacity(n);
            for (k, &tok) in req.continuation.iter().enumerate() {
                let row = &lp[first + k];
                logprobs.push(row[tok as usize] as f64);
                let arg = row
                    .iter()
                    .enumerate()
                    .fold((0usize, f32::NEG_INFINITY), |b, (i, &v)| {
                        if v > b.1 {
                            (i, v)
                        } else {
                            b
                        }
                    })
                    .0;
                greedy.push(arg == tok as usize);
            }
            out.push(ScoreResult {
                logprobs,
                greedy_match: greedy,
            });
        }
        Ok(out)
    }

    fn next_token_logprobs(&mut self, contexts: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        let max = self.max_context();
        contexts
            .iter()
            .map(|c| {
                if c.is_empty() {
                    bail!("empty context");
                }
                let c = &c[c.len().saturating_sub(max)..];
                Ok(self.logprobs(c)?.pop().expect("non-empty"))
            })
            .collect()
    }
}
