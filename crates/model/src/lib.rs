//! Decoder-only transformers and DCLM's training recipe, in burn 0.21.
//!
//! - [`config`]: OpenLM (DCLM), BLOOM and GPT-2 options of one decoder; exact analytic parameter
//!   counts.
//! - [`model`]: the burn modules, open_lm initialisation.
//! - [`train`]: AdamW + warmup/cosine + z-loss + global-norm clipping + accumulation, eval,
//!   checkpoints with exact resume, JSONL metrics.
//! - [`lm`]: [`lmrepro_lm::TokenLm`] over a checkpoint.
//! - [`cli`]: `train --recipe <name>`, the scaling `sweep`, `params`, `bench`.
//! - [`recipe`]: `train` recipes (`recipes/train/`) and their data.
//! - [`shape_bench`]: `bench-shape`, step throughput of the GPU benchmark shapes (JSON).
//! - [`gpu`]: Vulkan device set-up and cubecl's persistent cache folder.
//!
//! CPU runs use burn's `flex` backend (f32; f64 for gradient checks) with autodiff. `cuda` and
//! `wgpu` are cargo features, off by default.

/// burn 0.21's core under the name its `Module` derive expects.
pub extern crate burn_core as burn;

pub mod alibi;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod data;
pub mod gpu;
pub mod lm;
pub mod loss;
pub mod model;
pub mod optim;
pub mod recipe;
pub mod shape_bench;
pub mod train;

use anyhow::{bail, Context, Result};
use lmrepro_report::{fmt_fixed, Axis, LinePlot, SeriesStyle, Table};
use serde::Serialize;
use std::path::Path;

pub use config::ModelConfig;
pub use data::Contexts;
pub use recipe::TrainParams;
pub use train::{RunConfig, RunOptions, RunResult};

/// The CPU backend (burn-flex, f32 by default).
pub type Cpu = burn_flex::Flex;
/// The CPU training backend.
pub type CpuTrain = burn_autodiff::Autodiff<Cpu>;

/// Where to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Cpu,
    Cuda,
    Wgpu,
}

/// Trains `cfg` on the chosen device.
pub fn run_on(
    device: DeviceKind,
    cfg: &RunConfig,
    train: &Contexts,
    heldout: &Contexts,
    opts: &RunOptions,
) -> Result<RunResult> {
    match device {
        DeviceKind::Cpu => train::run::<CpuTrain>(cfg, train, heldout, opts, &Default::default()),
        DeviceKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                type B = burn_autodiff::Autodiff<burn_cuda::Cuda>;
                train::run::<B>(cfg, train, heldout, opts, &Default::default())
            }
            #[cfg(not(feature = "cuda"))]
            bail!("this build has no CUDA backend; rebuild lmrepro with `--features lmrepro-model/cuda`")
        }
        DeviceKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                type B = burn_autodiff::Autodiff<burn_wgpu::Wgpu>;
                let v = gpu::wgpu_vulkan().map_err(anyhow::Error::msg)?;
                train::run::<B>(cfg, train, heldout, opts, &v.device)
            }
            #[cfg(not(feature = "wgpu"))]
            bail!("this build has no wgpu backend; rebuild lmrepro with `--features lmrepro-model/wgpu`")
        }
    }
}

/// Training throughput of [`bench`].
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub device: DeviceKind,
    pub params: u64,
    pub global_batch: usize,
    pub micro_batch: usize,
    pub seq_len: usize,
    pub timed_steps: u64,
    pub seconds_per_step: f64,
    pub tokens_per_s: f64,
    pub model_flops_per_s: f64,
    pub final_loss: f64,
}

fn bench_on<B: burn::tensor::backend::AutodiffBackend>(
    cfg: &RunConfig,
    train: &Contexts,
    warmup: u64,
    steps: u64,
    device: &B::Device,
) -> Result<(f64, f64)> {
    let mut tr = train::Trainer::<B>::new(cfg.clone(), train.len(), device)?;
    for _ in 0..warmup {
        tr.train_step(train)?;
    }
    let t0 = std::time::Instant::now();
    let mut last = f64::NAN;
    for _ in 0..steps {
        last = tr.train_step(train)?.ce;
    }
    // train_step reads the loss back to the host, which synchronises the device.
    Ok((t0.elapsed().as_secs_f64() / steps.max(1) as f64, last))
}

/// Times `steps` optimizer steps after `warmup` untimed ones (the schedule length is `cfg.steps`).
pub fn bench(
    device: DeviceKind,
    cfg: &RunConfig,
    train: &Contexts,
    _heldout: &Contexts,
    warmup: u64,
    steps: u64,
) -> Result<BenchResult> {
    let mut cfg = cfg.clone();
    cfg.steps = cfg.steps.max(warmup + steps);
    let (sps, last) = match device {
        DeviceKind::Cpu => bench_on::<CpuTrain>(&cfg, train, warmup, steps, &Default::default())?,
        DeviceKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                type B = burn_autodiff::Autodiff<burn_cuda::Cuda>;
                bench_on::<B>(&cfg, train, warmup, steps, &Default::default())?
            }
            #[cfg(not(feature = "cuda"))]
            bail!("this build has no CUDA backend; rebuild with `--features lmrepro-model/cuda`")
        }
        DeviceKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                type B = burn_autodiff::Autodiff<burn_wgpu::Wgpu>;
                let v = gpu::wgpu_vulkan().map_err(anyhow::Error::msg)?;
                bench_on::<B>(&cfg, train, warmup, steps, &v.device)?
            }
            #[cfg(not(feature = "wgpu"))]
            bail!("this build has no wgpu backend; rebuild with `--features lmrepro-model/wgpu`")
        }
    };
    let tps = cfg.tokens_per_step() as f64 / sps;
    Ok(BenchResult {
        device,
        params: cfg.model.num_params().total,
        global_batch: cfg.global_batch,
        micro_batch: cfg.micro_batch,
        seq_len: cfg.model.seq_len,
        timed_steps: steps,
        seconds_per_step: sps,
        tokens_per_s: tps,
        model_flops_per_s: tps * cfg.model.flops_per_token(),
        final_loss: last,
    })
}

/// One point of a scaling sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRow {
    pub d_model: usize,
    /// DCLM-convention parameter count N (what the token multiplier scales).
    pub n_params: u64,
    /// Tokens actually trained on, D = steps · global_batch · seq_len.
    pub tokens: u64,
    pub multiplier: f64,
    pub steps: u64,
    pub train_loss: f64,
    pub eval_loss: f64,
}

/// Trains every (d_model, multiplier) of `params.sweep` on CPU. Each run uses `params`' optimiser
/// with warmup = 10% of its steps and steps = round(multiplier · 20 · N / tokens_per_step).
pub fn sweep(
    params: &TrainParams,
    train: &Contexts,
    heldout: &Contexts,
    device: DeviceKind,
    progress: bool,
) -> Result<Vec<SweepRow>> {
    let Some(spec) = &params.sweep else {
        bail!("recipe has no [params.sweep] table");
    };
    let mut rows = Vec::new();
    for &d in &spec.d_models {
        for &m in &spec.token_multipliers {
            let mut p = params.clone();
            p.model.d_model = d;
            p.steps = Some(1);
            p.tokens = None;
            let mut cfg = p.run_config()?;
            let n = cfg.model.num_params().dclm_reported();
            let steps = ((m * 20.0 * n as f64) / cfg.tokens_per_step() as f64)
                .round()
                .max(1.0) as u64;
            cfg.steps = steps;
            cfg.optim.warmup = steps / 10;
            let opts = RunOptions {
                progress,
                ..Default::default()
            };
            let r = run_on(device, &cfg, train, heldout, &opts)?;
            rows.push(SweepRow {
                d_model: d,
                n_params: n,
                tokens: steps * cfg.tokens_per_step(),
                multiplier: m,
                steps,
                train_loss: r.final_train_loss,
                eval_loss: r.final_eval_loss,
            });
        }
    }
    Ok(rows)
}

/// `(N, D, loss)` CSV (held-out loss), the table the scaling crate fits; extra columns after.
pub fn sweep_csv(rows: &[SweepRow]) -> String {
    let mut t = Table::new([
        "n_params",
        "tokens",
        "loss",
        "d_model",
        "multiplier",
        "steps",
        "train_loss",
    ]);
    for r in rows {
        t.push([
            r.n_params.to_string(),
            r.tokens.to_string(),
            fmt_fixed(r.eval_loss, 4),
            r.d_model.to_string(),
            fmt_fixed(r.multiplier, 3),
            r.steps.to_string(),
            fmt_fixed(r.train_loss, 4),
        ]);
    }
    t.to_csv()
}

/// The parameter counts of every configuration the papers name, from the config alone.
pub fn param_count_table() -> Table {
    let rows: [(&str, ModelConfig); 9] = [
        ("DCLM 400M-1x (open_lm)", ModelConfig::open_lm(1024, 24, 8)),
        ("DCLM 1B-1x (open_lm)", ModelConfig::open_lm(2048, 24, 16)),
        ("DCLM 7B-1x (open_lm)", ModelConfig::open_lm(4096, 32, 32)),
        ("scaling d=96 l=8 h=4", ModelConfig::open_lm(96, 8, 4)),
        ("scaling d=512 l=8 h=4", ModelConfig::open_lm(512, 8, 4)),
        ("scaling d=576 l=24 h=8", ModelConfig::open_lm(576, 24, 8)),
        ("GPT-2 small", ModelConfig::gpt2(768, 12, 12)),
        ("BLOOM-560m", ModelConfig::bloom(1024, 24, 16)),
        ("BLOOM-176B (112 heads)", ModelConfig::bloom(14336, 70, 112)),
    ];
    let mut t = Table::new([
        "model",
        "d",
        "layers",
        "heads",
        "vocab",
        "ffn hidden",
        "params (module)",
        "params (DCLM convention, no qk-norm)",
    ]);
    for (name, c) in rows {
        let n = c.num_params();
        t.push([
            name.to_string(),
            c.d_model.to_string(),
            c.n_layers.to_string(),
            c.n_heads.to_string(),
            c.vocab_size.to_string(),
            c.ffn_hidden().to_string(),
            n.total.to_string(),
            n.dclm_reported().to_string(),
        ]);
    }
    t
}

/// Loads a recipe's data (train, held-out contexts).
pub fn recipe_data(
    recipe: &lmrepro_data::Recipe,
    resolver: &lmrepro_data::Resolver,
    params: &TrainParams,
) -> Result<(Contexts, Contexts)> {
    let seq = params.model.config()?.seq_len;
    recipe::build_contexts(&params.data, seq, &|name| {
        recipe::resolve_input(recipe, resolver, name)
    })
}

/// Regenerates `results/<recipe>/` for a `train` recipe into `out_dir`: `param_counts.md`, and
/// either the loss curve (`loss_curve.csv`, `loss_curve.svg`, `summary.md`) or, for a sweep
/// recipe, `sweep.csv`/`sweep.md`. Timings are left out of the tables (they are not deterministic).
/// Returns the table files to pin.
pub fn reproduce(
    recipe: &lmrepro_data::Recipe,
    resolver: &lmrepro_data::Resolver,
    out_dir: &Path,
) -> Result<Vec<String>> {
    recipe.expect_kind("train")?;
    let params: TrainParams = recipe.params()?;
    let (train, heldout) = recipe_data(recipe, resolver, &params)
        .with_context(|| format!("loading data of recipe `{}`", recipe.name))?;
    lmrepro_report::write_file(
        out_dir,
        "param_counts.md",
        param_count_table().to_markdown(),
    )?;
    let mut tables = vec!["param_counts.md".to_string()];
    if params.sweep.is_some() {
        let rows = sweep(&params, &train, &heldout, DeviceKind::Cpu, false)?;
        lmrepro_report::write_file(out_dir, "sweep.csv", sweep_csv(&rows))?;
        let mut t = Table::new([
            "N",
            "D",
            "multiplier",
            "steps",
            "train loss",
            "held-out loss",
        ]);
        for r in &rows {
            t.push([
                r.n_params.to_string(),
                r.tokens.to_string(),
                fmt_fixed(r.multiplier, 3),
                r.steps.to_string(),
                fmt_fixed(r.train_loss, 4),
                fmt_fixed(r.eval_loss, 4),
            ]);
        }
        lmrepro_report::write_file(out_dir, "sweep.md", t.to_markdown())?;
        tables.push("sweep.md".to_string());
        return Ok(tables);
    }
    let cfg = params.run_config()?;
    let r = run_on(
        DeviceKind::Cpu,
        &cfg,
        &train,
        &heldout,
        &RunOptions::default(),
    )?;
    let mut csv = Table::new(["step", "train_ce", "heldout_ce"]);
    let evals: std::collections::BTreeMap<u64, f64> = r.eval_curve.iter().copied().collect();
    for &(s, ce) in &r.train_curve {
        csv.push([
            s.to_string(),
            fmt_fixed(ce, 4),
            evals.get(&s).map(|v| fmt_fixed(*v, 4)).unwrap_or_default(),
        ]);
    }
    lmrepro_report::write_file(out_dir, "loss_curve.csv", csv.to_csv())?;
    let mut plot = LinePlot::new(
        format!("{}: cross-entropy (nats/token)", recipe.name),
        Axis::linear("step"),
        Axis::linear("loss"),
    );
    plot.add(
        "train",
        r.train_curve.iter().map(|&(s, l)| (s as f64, l)).collect(),
        SeriesStyle::Line,
    );
    plot.add(
        "held-out",
        r.eval_curve.iter().map(|&(s, l)| (s as f64, l)).collect(),
        SeriesStyle::Points,
    );
    lmrepro_report::write_file(out_dir, "loss_curve.svg", plot.to_svg()?)?;
    let n = cfg.model.num_params();
    let mut t = Table::new(["quantity", "value"]);
    let first_eval = r.eval_curve.first().map(|e| e.1).unwrap_or(f64::NAN);
    for (k, v) in [
        ("architecture", params.model.arch.clone()),
        (
            "shape (d / layers / heads / vocab / context)",
            format!(
                "{} / {} / {} / {} / {}",
                cfg.model.d_model,
                cfg.model.n_layers,
                cfg.model.n_heads,
                cfg.model.vocab_size,
                cfg.model.seq_len
            ),
        ),
        ("parameters", n.total.to_string()),
        ("train contexts", train.len().to_string()),
        ("held-out contexts", heldout.len().to_string()),
        ("steps", r.steps.to_string()),
        ("tokens", (r.steps * cfg.tokens_per_step()).to_string()),
        ("first train ce", fmt_fixed(r.train_curve[0].1, 4)),
        (
            "first held-out ce (after eval_every steps)",
            fmt_fixed(first_eval, 4),
        ),
        ("final train ce", fmt_fixed(r.final_train_loss, 4)),
        ("final held-out ce", fmt_fixed(r.final_eval_loss, 4)),
    ] {
        t.push([k.to_string(), v]);
    }
    lmrepro_report::write_file(out_dir, "summary.md", t.to_markdown())?;
    tables.push("summary.md".to_string());
    Ok(tables)
}

lmrepro_report::single_scale_reproducer! {
    /// [`reproduce`] as the reproducer of recipe kind `train`.
    pub struct TrainReproducer("train") => reproduce
}
