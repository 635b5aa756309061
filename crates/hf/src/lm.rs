//! A loaded Hugging Face folder as a [`TokenLm`] (for `lmrepro eval`) and the `score` primitive.

use crate::config::HfConfig;
use crate::load::load_model;
use anyhow::{bail, Context, Result};
use lmrepro_lm::{ScoreRequest, ScoreResult, TokenLm};
use lmrepro_model::burn::tensor::activation::log_softmax;
use lmrepro_model::burn::tensor::{Int, Tensor, TensorData};
use lmrepro_model::lm::BurnLm;
use lmrepro_model::model::Transformer;
use lmrepro_tokenizer::Tokenizer;
use std::path::{Path, PathBuf};

/// CPU inference backend.
pub type Cpu = burn_flex::Flex;

/// A model folder: decoder on the CPU backend plus its tokenizer.
pub struct HfLm {
    pub inner: BurnLm<Cpu>,
    pub config: HfConfig,
    pub dir: PathBuf,
}

impl HfLm {
    pub fn load(dir: &Path) -> Result<HfLm> {
        let device = Default::default();
        let (config, model) = load_model::<Cpu>(dir, &device)?;
        Ok(HfLm {
            inner: BurnLm::new(model, format!("hf:{}", dir.display()), device),
            config,
            dir: dir.to_path_buf(),
        })
    }

    pub fn model(&self) -> &Transformer<Cpu> {
        &self.inner.model
    }

    /// The folder's `tokenizer.json`.
    pub fn tokenizer(&self) -> Result<Tokenizer> {
        Tokenizer::from_file(&self.dir.join("tokenizer.json"))
    }

    /// Log-probability of each token after the first of `ids` (one forward pass, f32 math).
    pub fn token_logprobs(&self, ids: &[u32]) -> Result<Vec<f64>> {
        token_logprobs(self.model(), ids)
    }
}

/// Log-probability of `ids[k]` given `ids[..k]` for `k >= 1`.
pub fn token_logprobs(model: &Transformer<Cpu>, ids: &[u32]) -> Result<Vec<f64>> {
    let cfg = &model.config;
    if ids.len() < 2 {
        return Ok(Vec::new());
    }
    if let Some(&bad) = ids.iter().find(|&&t| t as usize >= cfg.vocab_size) {
        bail!(
            "token id {bad} is outside the model's vocabulary of {}",
            cfg.vocab_size
        );
    }
    let t = ids.len() - 1;
    if cfg.position == lmrepro_model::config::PositionKind::Learned && t > cfg.seq_len {
        bail!(
            "{} tokens exceed the model's {} learned positions",
            ids.len(),
            cfg.seq_len
        );
    }
    let device = Default::default();
    let x = Tensor::<Cpu, 2, Int>::from_data(
        TensorData::new(
            ids[..t].iter().map(|&v| v as i64).collect::<Vec<_>>(),
            [1, t],
        ),
        &device,
    );
    let targets = Tensor::<Cpu, 3, Int>::from_data(
        TensorData::new(
            ids[1..].iter().map(|&v| v as i64).collect::<Vec<_>>(),
            [1, t, 1],
        ),
        &device,
    );
    let lp = log_softmax(model.forward(x), 2).gather(2, targets);
    let v: Vec<f32> = lp
        .into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(|e| anyhow::anyhow!("reading log-probabilities: {e:?}"))?;
    if v.iter().any(|x| !x.is_finite()) {
        bail!("non-finite log-probabilities");
    }
    Ok(v.into_iter().map(f64::from).collect())
}

impl TokenLm for HfLm {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn max_context(&self) -> usize {
        self.inner.max_context()
    }
    fn score(&mut self, batch: &[ScoreRequest]) -> Result<Vec<ScoreResult>> {
        self.inner.score(batch)
    }
    fn next_token_logprobs(&mut self, contexts: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        self.inner.next_token_logprobs(contexts)
    }
    fn tokenizer_file(&self) -> Option<PathBuf> {
        Some(self.dir.join("tokenizer.json"))
    }
}

/// Throughput of one `score` run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScoreStats {
    pub items: usize,
    pub tokens: usize,
    pub seconds: f64,
}

/// `lmrepro score`: each JSON line's `"text"` → `{"ids": [...], "logprobs": [...]}`.
pub fn score_file(dir: &Path, input: &Path, output: &Path) -> Result<ScoreStats> {
    let lm = HfLm::load(dir)?;
    let tok = lm.tokenizer()?;
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let mut out = String::new();
    let start = std::time::Instant::now();
    let (mut items, mut tokens) = (0, 0);
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", input.display(), n + 1))?;
        let t = v
            .get("text")
            .and_then(|t| t.as_str())
            .with_context(|| format!("{}:{}: no string field \"text\"", input.display(), n + 1))?;
        let ids = tok.encode(t)?;
        let logprobs = lm
            .token_logprobs(&ids)
            .with_context(|| format!("{}:{}", input.display(), n + 1))?;
        out.push_str(&serde_json::to_string(
            &serde_json::json!({"ids": ids, "logprobs": logprobs}),
        )?);
        out.push('\n');
        items += 1;
        tokens += ids.len();
    }
    let seconds = start.elapsed().as_secs_f64();
    std::fs::write(output, out).with_context(|| format!("writing {}", output.display()))?;
    Ok(ScoreStats {
        items,
        tokens,
        seconds,
    })
}
