//! `lmrepro bench --shape …`: training-step throughput of a named model shape on synthetic tokens,
//! the burn side of `benchmarks/train/gpu/` (the PyTorch side is `benchmarks/train/gpu/torch_bench.py`,
//! the same architectures written in PyTorch).
//!
//! One optimizer step = forward + backward + global-norm clipping + AdamW over `batch × seq_len`
//! tokens (no gradient accumulation). The first step is timed on its own (kernel compilation and
//! autotuning land there on GPUs); then `warmup` untimed steps, then `steps` timed ones. Every
//! step prints a progress line to stderr, so a hang is visible as a missing line.

use crate::config::ModelConfig;
use crate::data::Contexts;
use crate::train::{OptimConfig, RunConfig, Trainer};
use crate::DeviceKind;
use anyhow::{bail, Context, Result};
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// The benchmark shapes (all with an untied output head).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// GPT-2 small (d 768, 12 layers, 12 heads, learned positions, GELU 4d, LayerNorm + biases)
    /// with vocabulary 50,304 and an untied head: 163,109,376 parameters (the GPU probe's shape).
    Gpt2Small,
    /// DCLM's 400M-1x open_lm (d 1024, 24 layers, 8 heads, rotary, qk-norm, SwiGLU, gain-only
    /// LayerNorm, no biases, vocabulary 50,432, untied): 411.7M parameters.
    #[value(name = "openlm-411m")]
    #[serde(rename = "openlm-411m")]
    Openlm411m,
    /// A 0.1M-parameter GPT-2-style model for dry runs on a CPU or software Vulkan device.
    Tiny,
}

impl Shape {
    pub fn model(self) -> ModelConfig {
        match self {
            Shape::Gpt2Small => {
                let mut c = ModelConfig::gpt2(768, 12, 12);
                c.vocab_size = 50_304;
                c.tied_embeddings = false;
                c.seq_len = 1024;
                c
            }
            Shape::Openlm411m => {
                let mut c = ModelConfig::open_lm(1024, 24, 8);
                c.seq_len = 1024;
                c
            }
            Shape::Tiny => {
                let mut c = ModelConfig::gpt2(32, 2, 2);
                c.vocab_size = 512;
                c.tied_embeddings = false;
                c.seq_len = 64;
                c
            }
        }
    }
}

/// Float type of weights, activations, gradients and optimizer state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    /// Every float tensor in bf16 (burn sets the device's default float type; there is no
    /// autocast with f32 master weights in burn 0.21). Falls back to f32, said in the JSON, where
    /// the device has no bf16 (wgpu / WGSL has none).
    Bf16,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ShapeBenchArgs {
    #[arg(long, value_enum)]
    pub shape: Shape,
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceKind,
    /// Sequences per step (default 16).
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Tokens per sequence (default: the shape's, 1024 for the GPU shapes).
    #[arg(long)]
    pub seq_len: Option<usize>,
    #[arg(long, value_enum, default_value = "bf16")]
    pub precision: Precision,
    /// Untimed steps after the first one.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Timed steps.
    #[arg(long, default_value_t = 20)]
    pub steps: u64,
    /// Dense peak of the device in TFLOP/s, for MFU (989.4 = H100/H200 SXM bf16 dense).
    #[arg(long, default_value_t = 989.4)]
    pub peak_tflops: f64,
    /// Also write the result as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShapeBenchResult {
    pub side: &'static str,
    pub shape: Shape,
    pub device: DeviceKind,
    pub adapter: String,
    pub params: u64,
    pub batch: usize,
    pub seq_len: usize,
    pub precision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision_note: Option<String>,
    pub first_step_s: f64,
    pub warmup_steps: u64,
    pub timed_steps: u64,
    pub step_s: f64,
    pub tokens_per_s: f64,
    pub flops_per_token: f64,
    pub model_tflops: f64,
    pub peak_tflops: f64,
    pub mfu: f64,
    /// The process's peak RSS on the CPU backend; `None` on a GPU, where `run.sh` samples the
    /// device's used memory with `nvidia-smi` for both sides alike (burn 0.21 exposes no memory
    /// statistics, cubecl's would need a direct dependency); see `peak_memory_what`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
    pub peak_memory_what: &'static str,
    pub losses: Vec<f64>,
}

#[cfg(any(feature = "cuda", feature = "wgpu"))]
const NO_DEVICE_MEMORY: &str = "not measured in-process on GPUs (run.sh: nvidia-smi)";

/// Peak resident set of this process (`VmHWM`), the CPU backend's memory figure.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

struct Measured {
    first: f64,
    per_step: f64,
    losses: Vec<f64>,
    peak_mem: Option<u64>,
}

fn measure<B: AutodiffBackend>(
    cfg: &RunConfig,
    data: &Contexts,
    a: &ShapeBenchArgs,
    device: &B::Device,
    mem: &dyn Fn() -> Option<u64>,
) -> Result<Measured> {
    let mut tr = Trainer::<B>::new(cfg.clone(), data.len(), device)?;
    let total = 1 + a.warmup + a.steps;
    let mut losses = Vec::new();
    let mut peak_mem: Option<u64> = None;
    eprintln!("bench: step 1/{total} (first step: kernel compilation and autotuning land here)");
    let t0 = Instant::now();
    let s = tr.train_step(data)?;
    let first = t0.elapsed().as_secs_f64();
    peak_mem = peak_mem.max(mem());
    losses.push(s.loss);
    eprintln!(
        "bench: step 1/{total} done in {first:.2}s, loss {:.4}",
        s.loss
    );
    let mut timed = Instant::now();
    for i in 2..=total {
        if i == 2 + a.warmup {
            timed = Instant::now();
        }
        let t = Instant::now();
        // train_step reads the loss back to the host, which synchronises the device.
        let s = tr.train_step(data)?;
        peak_mem = peak_mem.max(mem());
        losses.push(s.loss);
        let kind = if i < 2 + a.warmup { "warm-up" } else { "timed" };
        eprintln!(
            "bench: step {i}/{total} ({kind}) {:.3}s, loss {:.4}",
            t.elapsed().as_secs_f64(),
            s.loss
        );
    }
    let per_step = timed.elapsed().as_secs_f64() / a.steps.max(1) as f64;
    Ok(Measured {
        first,
        per_step,
        losses,
        peak_mem,
    })
}

/// Sets bf16 as the device's float type where the backend has it; `Err(reason)` otherwise.
fn try_bf16<B: burn::tensor::backend::Backend>(device: &B::Device) -> Result<(), String> {
    use burn::tensor::Element;
    // burn-core re-exports only the two-dtype setter; the int type stays the backend's own.
    burn::tensor::set_default_dtypes::<B>(
        device,
        burn::tensor::DType::BF16,
        <B::IntElem as Element>::dtype(),
    )
    .map_err(|e| format!("{e:?}"))
}

/// Runs the benchmark; prints progress to stderr.
pub fn run_shape_bench(a: &ShapeBenchArgs) -> Result<ShapeBenchResult> {
    if a.steps == 0 || a.batch == 0 {
        bail!("--steps and --batch must be at least 1");
    }
    let mut model = a.shape.model();
    if let Some(t) = a.seq_len {
        model.seq_len = t;
    }
    model.validate()?;
    let cfg = RunConfig {
        model: model.clone(),
        // DCLM's 400M-1x optimizer settings; the learning rate does not change the step's cost.
        optim: OptimConfig {
            lr: 3e-3,
            final_lr: 3e-5,
            warmup: 2,
            weight_decay: 0.033,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            z_loss: 1e-4,
            grad_clip: Some(1.0),
        },
        global_batch: a.batch,
        micro_batch: a.batch,
        steps: 1 + a.warmup + a.steps,
        seed: 1,
        eval_every: 0,
        eval_batches: 1,
        checkpoint_every: 0,
        peak_flops: None,
    };
    // Uniform random tokens, 4 steps' worth (the data order cycles through them).
    let n_ctx = 4 * a.batch;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let stream: Vec<u32> = (0..n_ctx * (model.seq_len + 1))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % model.vocab_size as u64) as u32
        })
        .collect();
    let data = Contexts::from_stream(&stream, model.seq_len + 1);
    let params = model.num_params().total;
    eprintln!(
        "bench: {:?} {params} parameters, batch {} x {} tokens, {:?}, device {:?}",
        a.shape, a.batch, model.seq_len, a.precision, a.device
    );

    let mut note = None;
    let (m, adapter, precision, mem_what) = match a.device {
        DeviceKind::Cpu => {
            type B = crate::CpuTrain;
            let dev = Default::default();
            let precision = pick_precision::<B>(a.precision, &dev, &mut note);
            let m = measure::<B>(&cfg, &data, a, &dev, &|| Some(peak_rss()))?;
            (
                m,
                "cpu (burn-flex)".to_string(),
                precision,
                "process peak RSS",
            )
        }
        DeviceKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                type B = burn_autodiff::Autodiff<burn_cuda::Cuda>;
                let dev = burn_cuda::CudaDevice::default();
                let precision = pick_precision::<B>(a.precision, &dev, &mut note);
                let m = measure::<B>(&cfg, &data, a, &dev, &|| None)?;
                (m, "cuda:0".to_string(), precision, NO_DEVICE_MEMORY)
            }
            #[cfg(not(feature = "cuda"))]
            bail!("this build has no CUDA backend; rebuild lmrepro with `--features lmrepro-model/cuda`")
        }
        DeviceKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                type B = burn_autodiff::Autodiff<burn_wgpu::Wgpu>;
                let v = crate::gpu::wgpu_vulkan().map_err(anyhow::Error::msg)?;
                let precision = pick_precision::<B>(a.precision, &v.device, &mut note);
                let m = measure::<B>(&cfg, &data, a, &v.device, &|| None)?;
                (m, v.adapter.clone(), precision, NO_DEVICE_MEMORY)
            }
            #[cfg(not(feature = "wgpu"))]
            bail!("this build has no wgpu backend; rebuild lmrepro with `--features lmrepro-model/wgpu`")
        }
    };
    let tokens = (a.batch * model.seq_len) as f64;
    let tokens_per_s = tokens / m.per_step;
    let flops_per_token = model.flops_per_token();
    let model_tflops = tokens_per_s * flops_per_token / 1e12;
    let r = ShapeBenchResult {
        side: "burn",
        shape: a.shape,
        device: a.device,
        adapter,
        params,
        batch: a.batch,
        seq_len: model.seq_len,
        precision,
        precision_note: note,
        first_step_s: m.first,
        warmup_steps: a.warmup,
        timed_steps: a.steps,
        step_s: m.per_step,
        tokens_per_s,
        flops_per_token,
        model_tflops,
        peak_tflops: a.peak_tflops,
        mfu: model_tflops / a.peak_tflops,
        peak_memory_bytes: m.peak_mem,
        peak_memory_what: mem_what,
        losses: m.losses,
    };
    if let Some(p) = &a.json {
        let text = serde_json::to_string_pretty(&r)? + "\n";
        std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(r)
}

fn pick_precision<B: burn::tensor::backend::Backend>(
    want: Precision,
    device: &B::Device,
    note: &mut Option<String>,
) -> String {
    match want {
        Precision::F32 => "f32".into(),
        Precision::Bf16 => match try_bf16::<B>(device) {
            Ok(()) => "bf16".into(),
            Err(e) => {
                eprintln!("bench: bf16 not available on this device ({e}); running f32");
                *note = Some(format!("bf16 requested, not available: {e}"));
                "f32".into()
            }
        },
    }
}
