//! The training loop: DCLM/open_lm's recipe (AdamW, linear warmup + cosine to a final lr, z-loss,
//! global-norm clipping, gradient accumulation to a global batch), seeded data order, periodic
//! held-out evaluation, checkpoints with exact resume, JSONL metrics and a progress bar.

use crate::checkpoint::{self, CheckpointState};
use crate::config::ModelConfig;
use crate::data::{Contexts, DataOrder};
use crate::loss::lm_loss;
use crate::model::Transformer;
use crate::optim::{
    accumulate_grads, clip_global_norm, collect_params, load_params, scalar, AdamW, AdamWConfig,
    ParamMap,
};
use anyhow::{bail, Context, Result};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Optimisation hyper-parameters (DCLM `training/configs/*.json` names in comments).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    /// Peak learning rate (`lr`).
    pub lr: f64,
    /// Learning rate the cosine ends at (`cd`, open_lm `--lr-cooldown-end`).
    pub final_lr: f64,
    /// Linear warmup steps (`warmup`).
    pub warmup: u64,
    /// AdamW decoupled weight decay (`wd`).
    pub weight_decay: f64,
    #[serde(default = "d_beta1")]
    pub beta1: f64,
    #[serde(default = "d_beta2")]
    pub beta2: f64,
    #[serde(default = "d_eps")]
    pub eps: f64,
    /// z-loss coefficient (`z_loss`); 0 disables.
    pub z_loss: f64,
    /// Global gradient-norm clip (open_lm `--grad-clip-norm`); `None` disables.
    pub grad_clip: Option<f64>,
}

fn d_beta1() -> f64 {
    0.9
}
fn d_beta2() -> f64 {
    0.95
}
fn d_eps() -> f64 {
    1e-8
}

/// open_lm's `cosine_lr`: `base (step+1)/warmup` during warmup, then
/// `min + (base - min)(1 + cos(pi e / es)) / 2` with `e = step - warmup`, `es = total - warmup`.
pub fn cosine_lr(step: u64, base: f64, warmup: u64, total: u64, min: f64) -> f64 {
    if step < warmup {
        return base * (step + 1) as f64 / warmup as f64;
    }
    let e = (step - warmup) as f64;
    let es = total.saturating_sub(warmup).max(1) as f64;
    min + 0.5 * (1.0 + (std::f64::consts::PI * e / es).cos()) * (base - min)
}

/// A training run's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub model: ModelConfig,
    pub optim: OptimConfig,
    /// Sequences per optimizer step (`global_bs`).
    pub global_batch: usize,
    /// Sequences per forward/backward; `global_batch / micro_batch` accumulation steps.
    pub micro_batch: usize,
    /// Optimizer steps.
    pub steps: u64,
    /// Seed of initialisation and data order (DCLM's default seed is 124).
    pub seed: u64,
    /// Held-out evaluation every this many steps (0: only at the end).
    pub eval_every: u64,
    /// Held-out micro-batches per evaluation (fixed, the first ones of the held-out set).
    pub eval_batches: usize,
    /// Checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: u64,
    /// Peak FLOP/s of the device for MFU (None: MFU not reported).
    #[serde(default)]
    pub peak_flops: Option<f64>,
}

impl RunConfig {
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        if self.micro_batch == 0 || !self.global_batch.is_multiple_of(self.micro_batch) {
            bail!(
                "global_batch {} must be a positive multiple of micro_batch {}",
                self.global_batch,
                self.micro_batch
            );
        }
        if self.steps == 0 {
            bail!("a run needs at least one step");
        }
        Ok(())
    }

    pub fn tokens_per_step(&self) -> u64 {
        (self.global_batch * self.model.seq_len) as u64
    }
}

/// One optimizer step's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepStats {
    pub step: u64,
    /// `ce + z` averaged over the global batch (what is differentiated).
    pub loss: f64,
    pub ce: f64,
    pub z_loss: f64,
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// One metrics line.
#[derive(Debug, Clone, Serialize)]
pub struct MetricsLine {
    pub step: u64,
    pub tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ce: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfu: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_loss: Option<f64>,
}

/// Model + optimizer + data position.
pub struct Trainer<B: AutodiffBackend> {
    pub cfg: RunConfig,
    pub model: Transformer<B>,
    pub opt: AdamW<B::InnerBackend>,
    pub order: DataOrder,
    pub step: u64,
    pub device: B::Device,
}

fn batch_tensors<B: Backend>(
    data: &Contexts,
    idx: &[usize],
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
    let ctx = data.ctx;
    let mut ids = Vec::with_capacity(idx.len() * ctx);
    for &i in idx {
        ids.extend(data.get(i).iter().map(|&t| t as i64));
    }
    let all = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [idx.len(), ctx]), device);
    let inputs = all.clone().narrow(1, 0, ctx - 1);
    let targets = all.narrow(1, 1, ctx - 1);
    (inputs, targets)
}

fn check_vocab(data: &Contexts, cfg: &ModelConfig, what: &str) -> Result<()> {
    if data.ctx != cfg.seq_len + 1 {
        bail!(
            "{what}: contexts of {} tokens, the model needs seq_len + 1 = {}",
            data.ctx,
            cfg.seq_len + 1
        );
    }
    if let Some(m) = data.max_id() {
        if m as usize >= cfg.vocab_size {
            bail!(
                "{what}: token id {m} is outside the model's vocabulary of {}",
                cfg.vocab_size
            );
        }
    }
    Ok(())
}

/// Mean held-out cross-entropy over the first `batches` micro-batches of `data` (no z-loss).
pub fn eval_loss<B: Backend>(
    model: &Transformer<B>,
    data: &Contexts,
    micro_batch: usize,
    batches: usize,
    device: &B::Device,
) -> f64 {
    let n = (batches * micro_batch).min(data.len());
    let mut total = 0.0;
    let mut count = 0usize;
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(micro_batch) {
        let (x, y) = batch_tensors::<B>(data, chunk, device);
        let parts = lm_loss(model.forward(x), y, 0.0);
        total += scalar(parts.ce) * chunk.len() as f64;
        count += chunk.len();
    }
    total / count.max(1) as f64
}

impl<B: AutodiffBackend> Trainer<B> {
    pub fn new(cfg: RunConfig, n_train: usize, device: &B::Device) -> Result<Self> {
        cfg.validate()?;
        let model = Transformer::<B>::new(&cfg.model, cfg.seed, device);
        let opt = AdamW::new(AdamWConfig {
            beta1: cfg.optim.beta1,
            beta2: cfg.optim.beta2,
            eps: cfg.optim.eps,
            weight_decay: cfg.optim.weight_decay,
        });
        Ok(Trainer {
            order: DataOrder::new(cfg.seed, n_train),
            cfg,
            model,
            opt,
            step: 0,
            device: device.clone(),
        })
    }

    pub fn lr(&self) -> f64 {
        let o = &self.cfg.optim;
        cosine_lr(self.step, o.lr, o.warmup, self.cfg.steps, o.final_lr)
    }

    /// One optimizer step over `global_batch` sequences.
    pub fn train_step(&mut self, data: &Contexts) -> Result<StepStats> {
        let cfg = &self.cfg;
        let accum = cfg.global_batch / cfg.micro_batch;
        let weight = cfg.micro_batch as f64 / cfg.global_batch as f64;
        let lr = self.lr();
        let mut grads = ParamMap::<B::InnerBackend>::default();
        let (mut ce, mut z) = (0.0, 0.0);
        for _ in 0..accum {
            let idx: Vec<usize> = (0..cfg.micro_batch)
                .map(|_| self.order.next_index())
                .collect();
            let (x, y) = batch_tensors::<B>(data, &idx, &self.device);
            let parts = lm_loss(self.model.forward(x), y, cfg.optim.z_loss);
            // open_lm scales each micro-batch loss by its share of the global batch.
            let loss = parts.total * weight;
            let g = loss.backward();
            accumulate_grads(&self.model, &g, &mut grads);
            ce += scalar(parts.ce) * weight;
            z += scalar(parts.z) * weight;
        }
        if !(ce.is_finite() && z.is_finite()) {
            bail!("loss is not finite at step {} (ce {ce}, z {z})", self.step);
        }
        let grad_norm = clip_global_norm(&mut grads, cfg.optim.grad_clip);
        if !grad_norm.is_finite() {
            bail!("gradient norm is not finite at step {}", self.step);
        }
        let model = self.model.clone();
        self.model = self.opt.step::<B, _>(model, grads, lr);
        self.step += 1;
        Ok(StepStats {
            step: self.step,
            loss: ce + z,
            ce,
            z_loss: z,
            lr,
            grad_norm,
        })
    }

    pub fn eval(&self, data: &Contexts) -> f64 {
        let inner = self.model.valid();
        eval_loss(
            &inner,
            data,
            self.cfg.micro_batch,
            self.cfg.eval_batches,
            &self.device,
        )
    }

    fn state(&self) -> Result<CheckpointState> {
        Ok(CheckpointState {
            format: checkpoint::FORMAT.to_string(),
            step: self.step,
            adam_step: self.opt.step,
            data_order: self.order.clone(),
            model: self.cfg.model.clone(),
            train: serde_json::to_value(&self.cfg)?,
            model_sha256: String::new(),
            optimizer_sha256: String::new(),
        })
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let weights = collect_params(&self.model.valid());
        checkpoint::save(
            dir,
            &weights,
            &self.opt.exp_avg,
            &self.opt.exp_avg_sq,
            self.state()?,
        )
    }

    /// Restores model, optimizer, step and data position from `dir` (a checkpoint or a run
    /// directory, whose newest `step_*` is used). The run config must match the checkpoint's.
    pub fn resume(&mut self, dir: &Path) -> Result<()> {
        let dir = checkpoint::resolve_dir(dir)?;
        let ck = checkpoint::load(&dir)?;
        if ck.state.model != self.cfg.model {
            bail!(
                "checkpoint {} was written for a different model: {} vs this run's {}",
                dir.display(),
                serde_json::to_string(&ck.state.model)?,
                serde_json::to_string(&self.cfg.model)?
            );
        }
        let mine = serde_json::to_value(&self.cfg)?;
        if ck.state.train != mine {
            bail!(
                "checkpoint {} was written by a different run config: {} vs this run's {}",
                dir.display(),
                ck.state.train,
                mine
            );
        }
        if ck.state.data_order.n != self.order.n || ck.state.data_order.seed != self.order.seed {
            bail!(
                "checkpoint {} used {} training contexts with seed {}, this run has {} with seed {}",
                dir.display(),
                ck.state.data_order.n,
                ck.state.data_order.seed,
                self.order.n,
                self.order.seed
            );
        }
        let what = format!("{}/model.safetensors", dir.display());
        self.model = load_params(self.model.clone(), ck.weights, &what)?;
        let like = collect_params(&self.model.valid());
        let what = format!("{}/optimizer.safetensors", dir.display());
        self.opt.exp_avg = checkpoint::to_param_map(&ck.exp_avg, &like, &what, &self.device)?;
        self.opt.exp_avg_sq = checkpoint::to_param_map(&ck.exp_avg_sq, &like, &what, &self.device)?;
        if ck.state.adam_step > 0
            && (self.opt.exp_avg.tensors.len() != like.tensors.len()
                || self.opt.exp_avg_sq.tensors.len() != like.tensors.len())
        {
            bail!("{what}: optimizer state does not cover every parameter");
        }
        self.opt.step = ck.state.adam_step;
        self.step = ck.state.step;
        self.order = ck.state.data_order;
        Ok(())
    }
}

/// Where a run writes and how it reports.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Output directory: `metrics.jsonl`, `step_<N>/` checkpoints.
    pub out_dir: Option<PathBuf>,
    /// Resume from this checkpoint (or run directory).
    pub resume: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Stop after this many steps in this process (the schedule still uses `steps`).
    pub stop_after: Option<u64>,
}

/// Result of [`run`].
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub steps: u64,
    pub final_train_loss: f64,
    pub final_eval_loss: f64,
    /// (step, train ce) of every step run in this process.
    pub train_curve: Vec<(u64, f64)>,
    /// (step, held-out ce) of every evaluation.
    pub eval_curve: Vec<(u64, f64)>,
    pub tokens_per_s: f64,
}

/// Cuts `metrics.jsonl` back to the lines of steps `<= step` (the step this process starts
/// from), dropping a torn last line: the lines a killed run wrote after its last checkpoint are
/// written again by the resumed run, so without this they were there twice (and a run started
/// again from step 0 appended a second history).
fn truncate_metrics(path: &Path, step: u64) -> Result<()> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(());
    };
    let mut keep = Vec::with_capacity(bytes.len());
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let whole = line.ends_with(b"\n");
        let line_step = serde_json::from_slice::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("step").and_then(|s| s.as_u64()));
        match line_step {
            Some(s) if whole && s <= step => keep.extend_from_slice(line),
            _ => break,
        }
    }
    if keep.len() != bytes.len() {
        let mut tmp = path.as_os_str().to_os_string();
        tmp.push(".tmp");
        lmrepro_stage::write_atomic(Path::new(&tmp), path, &keep)?;
    }
    Ok(())
}

/// Trains `cfg` on `train`, evaluating on `heldout`.
pub fn run<B: AutodiffBackend>(
    cfg: &RunConfig,
    train: &Contexts,
    heldout: &Contexts,
    opts: &RunOptions,
    device: &B::Device,
) -> Result<RunResult> {
    check_vocab(train, &cfg.model, "training data")?;
    check_vocab(heldout, &cfg.model, "held-out data")?;
    if train.len() < cfg.micro_batch {
        bail!(
            "only {} training contexts, fewer than one micro-batch of {}",
            train.len(),
            cfg.micro_batch
        );
    }
    if heldout.is_empty() {
        bail!("no held-out contexts");
    }
    let mut tr = Trainer::<B>::new(cfg.clone(), train.len(), device)?;
    if let Some(dir) = &opts.resume {
        tr.resume(dir)
            .with_context(|| format!("resuming from {}", dir.display()))?;
    }
    let mut metrics = match &opts.out_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            let p = d.join("metrics.jsonl");
            truncate_metrics(&p, tr.step)?;
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .with_context(|| format!("opening {}", p.display()))?;
            Some(std::io::BufWriter::new(f))
        }
        None => None,
    };
    let end = match opts.stop_after {
        Some(n) => (tr.step + n).min(cfg.steps),
        None => cfg.steps,
    };
    let bar = lmrepro_stage::progress::bar_if(opts.progress, cfg.steps, "steps");
    bar.set_position(tr.step);
    let flops_per_token = cfg.model.flops_per_token();
    let mut train_curve = Vec::new();
    let mut eval_curve = Vec::new();
    let mut last_ce = f64::NAN;
    let mut last_eval = f64::NAN;
    let t_start = Instant::now();
    let mut tokens_run = 0u64;
    let mut write = |line: &MetricsLine| -> Result<()> {
        if let Some(w) = metrics.as_mut() {
            serde_json::to_writer(&mut *w, line)?;
            w.write_all(b"\n")?;
            w.flush()?;
        }
        Ok(())
    };
    while tr.step < end {
        let t0 = Instant::now();
        let s = tr.train_step(train)?;
        let dt = t0.elapsed().as_secs_f64();
        tokens_run += cfg.tokens_per_step();
        let tps = cfg.tokens_per_step() as f64 / dt;
        let mfu = cfg.peak_flops.map(|p| tps * flops_per_token / p);
        last_ce = s.ce;
        train_curve.push((s.step, s.ce));
        write(&MetricsLine {
            step: s.step,
            tokens: s.step * cfg.tokens_per_step(),
            loss: Some(s.loss),
            ce: Some(s.ce),
            z_loss: Some(s.z_loss),
            lr: Some(s.lr),
            grad_norm: Some(s.grad_norm),
            tokens_per_s: Some(tps),
            mfu,
            eval_loss: None,
        })?;
        let last = tr.step == cfg.steps;
        if (cfg.eval_every > 0 && tr.step % cfg.eval_every == 0) || last {
            last_eval = tr.eval(heldout);
            eval_curve.push((tr.step, last_eval));
            write(&MetricsLine {
                step: tr.step,
                tokens: tr.step * cfg.tokens_per_step(),
                loss: None,
                ce: None,
                z_loss: None,
                lr: None,
                grad_norm: None,
                tokens_per_s: None,
                mfu: None,
                eval_loss: Some(last_eval),
            })?;
        }
        if let Some(d) = &opts.out_dir {
            if (cfg.checkpoint_every > 0 && tr.step % cfg.checkpoint_every == 0) || tr.step == end {
                tr.save(&d.join(format!("step_{}", tr.step)))?;
            }
        }
        bar.set_position(tr.step);
        bar.set_message(format!(
            "loss {:.4} lr {:.2e} |g| {:.3} {:.0} tok/s",
            s.ce, s.lr, s.grad_norm, tps
        ));
    }
    bar.finish_and_clear();
    if last_eval.is_nan() {
        last_eval = tr.eval(heldout);
    }
    Ok(RunResult {
        steps: tr.step,
        final_train_loss: last_ce,
        final_eval_loss: last_eval,
        train_curve,
        eval_curve,
        tokens_per_s: tokens_run as f64 / t_start.elapsed().as_secs_f64().max(1e-9),
    })
}
