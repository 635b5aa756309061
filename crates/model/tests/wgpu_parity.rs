//! The wgpu backend on a Vulkan device against the CPU backend (burn-flex), for the OpenLM, BLOOM
//! (ALiBi) and GPT-2 options: forward logits, loss, every parameter's gradient, a few optimizer
//! steps, and checkpoints that cross between the two.
//!
//! Runs with `cargo test -p lmrepro-model --features wgpu-device` (or `wgpu`, which includes it). Without a GPU, Mesa's software Vulkan
//! device (llvmpipe, Debian package `mesa-vulkan-drivers`, installed by `.ci/run`) is a real
//! Vulkan implementation: the same WGSL → SPIR-V kernels, autotuned matmuls and reductions as on a
//! GPU, executed by LLVM on the CPU. Without any Vulkan adapter every test prints a `skip:` line,
//! and fails under `LMREPRO_REQUIRE_ALL=1`.
//!
//! **Deterministic kernels.** Which matmul / reduction kernel runs is cubecl's autotune choice, and
//! one candidate (`matmul_double_unit_*` of cubek-matmul 0.2) computes a wrong product for the
//! OpenLM SwiGLU projection's shape (`wgpu_matmul_double_unit_wrong_at_k24`). `gpu::wgpu_vulkan`
//! therefore gives cubecl a fresh autotune folder seeded with the winners shipped in
//! `crates/model/autotune/`; every test ends with `assert_only_shipped_autotune`, which fails if
//! cubecl had to time a key the shipped cache lacks (its winner would then depend on timing).
//!
//! All shapes are tiny and shared by the three families (d 24, 3 heads, 2 layers, 16 tokens,
//! vocabulary 61, micro-batch 4) so that the test binary compiles few distinct kernels: kernel
//! compilation (naga + LLVM) dominates the cost on llvmpipe, not arithmetic.
//!
//! # Tolerances (f32 on both sides)
//!
//! Both backends compute in f32 but sum in different orders (tiled / vectorised matmul and
//! tree reductions on wgpu, sequential or SIMD-blocked loops on flex). A sum of K terms in f32 has
//! a rounding error bounded by about K·ε·Σ|terms| (ε = 2^-24 ≈ 6e-8), typically √K·ε·Σ|terms|;
//! here K ≤ 256 (the SwiGLU hidden width), so a single reduction differs by ≲ 1e-6 relative, and
//! two layers plus softmax/layer-norm compound that to a few 1e-6. The checks are *normwise*
//! (largest absolute difference over the largest magnitude of the tensor), because elementwise
//! relative error is meaningless for entries that are near zero by cancellation.
//!
//! - logits: max |Δ| ≤ 2e-5 · max |logit| (each test prints the measured values).
//! - loss (CE + z-loss): |Δ| ≤ 1e-5 · loss.
//! - gradients: per parameter tensor, max |Δ| ≤ 1e-4 · max |g| **against an f64 reference**
//!   (`f64_truth`: the same micro-batch through the same model, its f32-rounded initial weights,
//!   in f64 on burn-flex, in a child process of this binary), for the wgpu and the CPU backend
//!   alike. Gradients are an extra backward pass of reductions over the batch × time axis, hence
//!   the larger bound. Measured (llvmpipe, 2026-12-07): worst tensor per family 1.2e-6 / 5.1e-7 /
//!   6.4e-7 normwise from the truth on wgpu (OpenLM / BLOOM / GPT-2, after the GELU fix below),
//!   9.5e-7 / 6.9e-7 / 6.9e-7 on the CPU; the bound leaves ≥ 80× margin.
//!   Bias gradients are sums over batch × time whose terms cancel, so f32 error is large
//!   *relative to the tensor* there; the truth shows that is not what failed before:
//!   **the BLOOM / GPT-2 mismatch was a bug, not rounding.** burn 0.21's default `gelu_backward`
//!   (inherited by burn-cubecl, i.e. wgpu and CUDA; burn-flex overrides it) differentiates the tanh
//!   approximation while the forward is the exact erf GELU. Against the f64 truth the CPU was off
//!   by ≤ 4e-8 absolute in every tensor, wgpu by up to 2.4e-5 in every tensor upstream of the last
//!   GELU (≈ 1e-4..3e-4 normwise) and by ≤ 3e-8 downstream of it. `model::gelu_exact_grad` builds
//!   the GELU from `erf` on non-flex backends, so autodiff derives the exact derivative.
//!   (An earlier version calibrated the tolerance by the CPU's own difference when a micro-batch's
//!   rows are reversed; that yardstick was too small by design: reversing rows keeps every per-row
//!   operation bit-identical and only reorders the final sums.)
//! - checkpoints: what one backend saves, the other loads bit for bit (the safetensors file
//!   stores f32; the test compares bytes), and the next step on the other backend matches the
//!   next step on the original within the step tolerance above.

#![cfg(feature = "wgpu-device")]

use burn::tensor::{DType, Int, Tensor, TensorData};
use burn_autodiff::Autodiff;
use burn_core as burn;
use burn_core::module::AutodiffModule;
use lmrepro_model::config::ModelConfig;
use lmrepro_model::data::Contexts;
use lmrepro_model::loss::lm_loss;
use lmrepro_model::model::Transformer;
use lmrepro_model::optim::{accumulate_grads, collect_params, load_params, scalar, ParamMap};
use lmrepro_model::train::{OptimConfig, RunConfig, StepStats, Trainer};
use lmrepro_model::{Cpu, CpuTrain};
use rand::{Rng, SeedableRng};

type Gpu = burn_wgpu::Wgpu;
type GpuTrain = Autodiff<Gpu>;

const LOGIT_TOL: f64 = 2e-5;
const LOSS_TOL: f64 = 1e-5;
const GRAD_TOL: f64 = 1e-4;
const STEP_LOSS_TOL: f64 = 1e-4;
const STEP_NORM_TOL: f64 = 1e-3;
const WEIGHT_TOL: f64 = 1e-3;

/// The Vulkan device, or `None` after printing `skip:` (a panic under `LMREPRO_REQUIRE_ALL=1`).
fn vulkan(test: &str) -> Option<burn_wgpu::WgpuDevice> {
    match lmrepro_model::gpu::wgpu_vulkan() {
        Ok(d) => {
            eprintln!("{test}: Vulkan adapter {}", d.adapter);
            Some(d.device.clone())
        }
        Err(why) => {
            if std::env::var_os("LMREPRO_REQUIRE_ALL").is_some_and(|v| v == "1") {
                panic!("{test}: {why} (LMREPRO_REQUIRE_ALL=1)");
            }
            eprintln!("skip: {test}: {why}");
            None
        }
    }
}

/// The three families at one shared tiny shape (3 heads: a non-power-of-two ALiBi slope set).
fn family(name: &str) -> ModelConfig {
    let mut c = match name {
        "open_lm" => ModelConfig::open_lm(24, 2, 3),
        "bloom" => ModelConfig::bloom(24, 2, 3),
        "gpt2" => ModelConfig::gpt2(24, 2, 3),
        _ => unreachable!(),
    };
    c.vocab_size = 61;
    c.seq_len = 16;
    c
}

/// A learnable token stream: each token is a fixed affine function of the previous one plus one
/// of three random offsets, so the loss can fall from ln 61 ≈ 4.1 towards ln 3 ≈ 1.1.
fn contexts(cfg: &ModelConfig, n: usize) -> Contexts {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let v = cfg.vocab_size as u32;
    let mut stream = vec![1u32];
    while stream.len() < n * (cfg.seq_len + 1) {
        let prev = *stream.last().unwrap();
        stream.push((prev * 5 + 3 + rng.gen_range(0..3)) % v);
    }
    Contexts::from_stream(&stream, cfg.seq_len + 1)
}

fn run_config(model: ModelConfig) -> RunConfig {
    RunConfig {
        model,
        optim: OptimConfig {
            lr: 3e-3,
            final_lr: 3e-4,
            warmup: 2,
            weight_decay: 0.033,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            z_loss: 1e-4,
            grad_clip: Some(1.0),
        },
        global_batch: 8,
        micro_batch: 4,
        steps: 6,
        seed: 17,
        eval_every: 0,
        eval_batches: 1,
        checkpoint_every: 0,
        peak_flops: None,
    }
}

/// The key third of a qkv bias (`attention.in_proj.bias`) has an exactly zero gradient: it adds
/// q·b_k, the same constant, to every score of a query, and softmax ignores constants. Its computed
/// gradient is rounding noise (different on each backend), and AdamW normalises that noise into
/// ±lr steps of random sign. Comparisons leave those entries out and keep the query and value
/// thirds. (Measured without this: whole-tensor gradient differences 1.3e-4 / 4.0e-4 and, after 6
/// steps, weight differences 4.1e-2 / 5.7e-2 for BLOOM / GPT-2, with every step's loss and grad
/// norm within bounds.)
fn without_key_bias(name: &str, v: &[f64], d_model: usize) -> Vec<f64> {
    if name.ends_with("attention.in_proj.bias") {
        v[..d_model]
            .iter()
            .chain(&v[2 * d_model..])
            .copied()
            .collect()
    } else {
        v.to_vec()
    }
}

fn floats(d: TensorData) -> Vec<f64> {
    d.convert::<f64>().to_vec::<f64>().unwrap()
}

/// Largest |a - b| over the largest |a| (normwise relative difference).
fn normwise(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f64, |m, x| m.max(x.abs())).max(1e-30);
    let diff = a.iter().zip(b).fold(0f64, |m, (x, y)| m.max((x - y).abs()));
    diff / scale
}

fn ids<B: burn::tensor::backend::Backend>(
    data: &Contexts,
    rows: &[usize],
    dev: &B::Device,
) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
    let ctx = data.ctx;
    let v: Vec<i64> = rows
        .iter()
        .flat_map(|&i| data.get(i).iter().map(|&t| t as i64))
        .collect();
    let all = Tensor::<B, 2, Int>::from_data(TensorData::new(v, [rows.len(), ctx]), dev);
    (all.clone().narrow(1, 0, ctx - 1), all.narrow(1, 1, ctx - 1))
}

/// Named tensors (parameter name, values), e.g. the gradients of a backward pass.
type Named = Vec<(String, Vec<f64>)>;

/// Logits, loss and named gradients of one micro-batch (the given rows) on backend `B`.
fn forward_backward<B: burn::tensor::backend::AutodiffBackend>(
    cfg: &ModelConfig,
    data: &Contexts,
    rows: &[usize],
    dev: &B::Device,
) -> (Vec<f64>, f64, Named) {
    forward_backward_of(Transformer::<B>::new(cfg, 7, dev), data, rows, dev)
}

fn forward_backward_of<B: burn::tensor::backend::AutodiffBackend>(
    model: Transformer<B>,
    data: &Contexts,
    rows: &[usize],
    dev: &B::Device,
) -> (Vec<f64>, f64, Named) {
    let (x, y) = ids::<B>(data, rows, dev);
    let logits = model.forward(x);
    let parts = lm_loss(logits.clone(), y, 1e-2);
    let grads = parts.total.clone().backward();
    let mut acc = ParamMap::<B::InnerBackend>::default();
    accumulate_grads(&model, &grads, &mut acc);
    assert_eq!(
        acc.tensors.len(),
        collect_params(&model).tensors.len(),
        "every parameter has a gradient"
    );
    let g = acc
        .tensors
        .into_iter()
        .map(|(k, (_, t))| (k, floats(t.to_data())))
        .collect();
    (floats(logits.into_data()), scalar(parts.total), g)
}

/// The micro-batch of the single-pass tests.
const BATCH: [usize; 4] = [0, 1, 2, 3];

/// Largest |a - b|.
fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f64, |m, (x, y)| m.max((x - y).abs()))
}

fn forward_loss_grads(name: &str) {
    let test = format!("wgpu_forward_loss_grads_{name}");
    let Some(dev) = vulkan(&test) else { return };
    let cfg = family(name);
    let data = contexts(&cfg, 4);
    let t0 = std::time::Instant::now();
    let (gl, gloss, gg) = forward_backward::<GpuTrain>(&cfg, &data, &BATCH, &dev);
    let gpu_s = t0.elapsed().as_secs_f64();
    let cpu = Default::default();
    let (cl, closs, cg) = forward_backward::<CpuTrain>(&cfg, &data, &BATCH, &cpu);
    // The exact answer both f32 backends approximate (module docs, "Tolerances").
    let truth = f64_truth(&format!("grads:{name}"));
    let tg = named_from_json(&truth["grads"]);
    let tloss = truth["loss"].as_f64().unwrap();

    let dl = normwise(&cl, &gl);
    let dloss = (closs - gloss).abs() / closs.abs();
    assert_eq!(cg.len(), gg.len());
    assert_eq!(cg.len(), tg.len());
    // Per backend: the worst tensor's error against the truth (normwise), and its name.
    let (mut worst_gpu, mut worst_cpu) = ((String::new(), 0f64), (String::new(), 0f64));
    for (((kc, c), (kg, g)), (kt, t)) in cg.iter().zip(&gg).zip(&tg) {
        assert_eq!(kc, kg);
        assert_eq!(kc, kt);
        let (eg, ec) = (normwise(t, g), normwise(t, c));
        if eg >= worst_gpu.1 {
            worst_gpu = (kc.clone(), eg);
        }
        if ec >= worst_cpu.1 {
            worst_cpu = (kc.clone(), ec);
        }
        assert!(
            eg <= GRAD_TOL,
            "{name}: wgpu gradient of {kc} is {eg:.2e} (normwise) from the f64 truth, {:.2e} \
             absolute (the CPU backend: {ec:.2e})",
            max_abs_diff(t, g)
        );
        assert!(
            ec <= GRAD_TOL,
            "{name}: CPU gradient of {kc} is {ec:.2e} (normwise) from the f64 truth"
        );
    }
    eprintln!(
        "{test}: logits {dl:.2e}, loss {dloss:.2e} ({closs:.6} cpu / {gloss:.6} wgpu / {tloss:.6} f64); \
         gradients against the f64 truth over {} tensors: wgpu worst {:.2e} ({}), cpu worst {:.2e} \
         ({}); wgpu forward+backward {gpu_s:.1}s incl. kernel compilation",
        cg.len(),
        worst_gpu.1,
        worst_gpu.0,
        worst_cpu.1,
        worst_cpu.0,
    );
    assert!(
        dl <= LOGIT_TOL,
        "{name}: logits differ by {dl:.2e} (normwise)"
    );
    assert!(
        dloss <= LOSS_TOL,
        "{name}: loss {closs} cpu vs {gloss} wgpu"
    );
}

#[test]
fn wgpu_forward_loss_grads_open_lm() {
    forward_loss_grads("open_lm");
    assert_only_shipped_autotune("wgpu_forward_loss_grads_open_lm");
}

#[test]
fn wgpu_forward_loss_grads_bloom_alibi() {
    forward_loss_grads("bloom");
    assert_only_shipped_autotune("wgpu_forward_loss_grads_bloom_alibi");
}

#[test]
fn wgpu_forward_loss_grads_gpt2() {
    forward_loss_grads("gpt2");
    assert_only_shipped_autotune("wgpu_forward_loss_grads_gpt2");
}

fn weights<B: burn::tensor::backend::AutodiffBackend>(tr: &Trainer<B>) -> Vec<(String, Vec<f64>)> {
    collect_params(&tr.model.valid())
        .tensors
        .into_iter()
        .map(|(k, (_, t))| (k, floats(t.to_data())))
        .collect()
}

fn weight_bytes<B: burn::tensor::backend::AutodiffBackend>(
    tr: &Trainer<B>,
) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = collect_params(&tr.model.valid())
        .tensors
        .into_iter()
        .map(|(k, (_, t))| (k, t.to_data().as_bytes().to_vec()))
        .collect();
    for (k, (_, t)) in &tr.opt.exp_avg_sq.tensors {
        out.push((format!("v.{k}"), t.to_data().as_bytes().to_vec()));
    }
    out
}

fn assert_step_close(what: &str, c: &StepStats, g: &StepStats) {
    assert_eq!(c.step, g.step);
    let dl = (c.loss - g.loss).abs() / c.loss;
    let dn = (c.grad_norm - g.grad_norm).abs() / c.grad_norm;
    assert!(
        dl <= STEP_LOSS_TOL && dn <= STEP_NORM_TOL,
        "{what} step {}: loss {} cpu vs {} wgpu ({dl:.2e}), grad norm {} vs {} ({dn:.2e})",
        c.step,
        c.loss,
        g.loss,
        c.grad_norm,
        g.grad_norm
    );
}

fn optimizer_steps(name: &str) {
    let test = format!("wgpu_adamw_steps_{name}");
    let Some(dev) = vulkan(&test) else { return };
    let cfg = run_config(family(name));
    let data = contexts(&cfg.model, 48);
    let cpu = Default::default();
    let mut c = Trainer::<CpuTrain>::new(cfg.clone(), data.len(), &cpu).unwrap();
    let mut g = Trainer::<GpuTrain>::new(cfg.clone(), data.len(), &dev).unwrap();
    let mut trajectory = Vec::new();
    let mut worst = (0f64, 0f64);
    for _ in 0..cfg.steps {
        let (sc, sg) = (c.train_step(&data).unwrap(), g.train_step(&data).unwrap());
        assert_step_close(name, &sc, &sg);
        worst.0 = worst.0.max((sc.loss - sg.loss).abs() / sc.loss);
        worst.1 = worst
            .1
            .max((sc.grad_norm - sg.grad_norm).abs() / sc.grad_norm);
        trajectory.push(format!("{:.4}/{:.4}", sc.loss, sg.loss));
    }
    let mut worst_w = (String::new(), 0f64);
    let d_model = cfg.model.d_model;
    let (wc, wg) = (weights(&c), weights(&g));
    for ((kc, c), (kg, g)) in wc.iter().zip(&wg) {
        assert_eq!(kc, kg);
        let (c, g) = (
            without_key_bias(kc, c, d_model),
            without_key_bias(kg, g, d_model),
        );
        let d = normwise(&c, &g);
        assert!(
            d <= WEIGHT_TOL,
            "{name}: {kc} differs by {d:.2e} (normwise), {:.2e} absolute, after {} steps",
            max_abs_diff(&c, &g),
            cfg.steps
        );
        if d >= worst_w.1 {
            worst_w = (kc.clone(), d);
        }
    }
    eprintln!(
        "{test}: loss cpu/wgpu {}; worst step loss {:.2e}, grad norm {:.2e}, final weights {:.2e} ({})",
        trajectory.join(" "),
        worst.0,
        worst.1,
        worst_w.1,
        worst_w.0,
    );
    // The run learns (on both backends alike): the loss on a fixed set of training contexts
    // falls over the six steps. (Each step's own loss is on a different micro-batch, too noisy
    // to show six steps of progress: OpenLM's went 4.482 -> 4.502.)
    let rows: Vec<usize> = (0..16).collect();
    let fixed_loss = |m: &Transformer<Cpu>| {
        let (x, y) = ids::<Cpu>(&data, &rows, &cpu);
        scalar(lm_loss(m.forward(x), y, 0.0).ce)
    };
    let before = fixed_loss(&Transformer::<Cpu>::new(&cfg.model, cfg.seed, &cpu));
    let after = fixed_loss(&c.model.valid());
    eprintln!("{test}: loss on 16 fixed training contexts {before:.4} -> {after:.4}");
    assert!(
        after < before - 0.01,
        "{name}: fixed-batch loss {before} -> {after}"
    );
}

#[test]
fn wgpu_adamw_steps_open_lm() {
    optimizer_steps("open_lm");
    assert_only_shipped_autotune("wgpu_adamw_steps_open_lm");
}

#[test]
fn wgpu_adamw_steps_bloom_alibi() {
    optimizer_steps("bloom");
    assert_only_shipped_autotune("wgpu_adamw_steps_bloom_alibi");
}

#[test]
fn wgpu_adamw_steps_gpt2() {
    optimizer_steps("gpt2");
    assert_only_shipped_autotune("wgpu_adamw_steps_gpt2");
}

/// Three steps on `Src`, checkpoint, resume on `Dst`: weights and optimizer state arrive bit for
/// bit, and the fourth step on `Dst` matches the fourth step on `Src`.
fn cross_checkpoint<
    Src: burn::tensor::backend::AutodiffBackend,
    Dst: burn::tensor::backend::AutodiffBackend,
>(
    what: &str,
    from_dev: &Src::Device,
    to_dev: &Dst::Device,
) {
    let cfg = run_config(family("open_lm"));
    let data = contexts(&cfg.model, 32);
    let mut a = Trainer::<Src>::new(cfg.clone(), data.len(), from_dev).unwrap();
    for _ in 0..3 {
        a.train_step(&data).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    a.save(&dir.path().join("step_3")).unwrap();
    let mut b = Trainer::<Dst>::new(cfg.clone(), data.len(), to_dev).unwrap();
    b.resume(dir.path()).unwrap();
    assert_eq!(b.step, 3);
    let (wa, wb) = (weight_bytes(&a), weight_bytes(&b));
    assert_eq!(wa.len(), wb.len());
    for ((ka, va), (kb, vb)) in wa.iter().zip(&wb) {
        assert_eq!(ka, kb);
        assert!(
            va == vb,
            "{what}: {ka} changed on the way through the checkpoint"
        );
    }
    let (sa, sb) = (a.train_step(&data).unwrap(), b.train_step(&data).unwrap());
    assert_step_close(what, &sa, &sb);
    eprintln!(
        "{what}: {} tensors bit-identical after the round trip; step 4 loss {} vs {}",
        wa.len(),
        sa.loss,
        sb.loss
    );
}

#[test]
fn wgpu_checkpoint_loads_on_cpu() {
    let Some(dev) = vulkan("wgpu_checkpoint_loads_on_cpu") else {
        return;
    };
    cross_checkpoint::<GpuTrain, CpuTrain>("wgpu -> cpu", &dev, &Default::default());
    assert_only_shipped_autotune("wgpu_checkpoint_loads_on_cpu");
}

#[test]
fn wgpu_resumes_cpu_checkpoint() {
    let Some(dev) = vulkan("wgpu_resumes_cpu_checkpoint") else {
        return;
    };
    cross_checkpoint::<CpuTrain, GpuTrain>("cpu -> wgpu", &Default::default(), &dev);
    assert_only_shipped_autotune("wgpu_resumes_cpu_checkpoint");
}

/// The inference-only path (`lm::BurnLm` evaluates without autodiff) on the plain backends.
#[test]
fn wgpu_inference_forward_matches_cpu() {
    let Some(dev) = vulkan("wgpu_inference_forward_matches_cpu") else {
        return;
    };
    let cfg = family("bloom");
    let data = contexts(&cfg, 4);
    let g = Transformer::<Gpu>::new(&cfg, 7, &dev).forward(ids::<Gpu>(&data, &BATCH, &dev).0);
    let c = Transformer::<Cpu>::new(&cfg, 7, &Default::default())
        .forward(ids::<Cpu>(&data, &BATCH, &Default::default()).0);
    let d = normwise(&floats(c.into_data()), &floats(g.into_data()));
    eprintln!("wgpu_inference_forward_matches_cpu: logits {d:.2e}");
    assert!(d <= LOGIT_TOL, "inference logits differ by {d:.2e}");
    assert_only_shipped_autotune("wgpu_inference_forward_matches_cpu");
}

/// Environment variable that makes this test binary the f64 reference child ([`f64_truth`]).
const TRUTH_ENV: &str = "LMREPRO_WGPU_PARITY_F64";

/// The same computation as the f32 tests, in f64 on burn-flex, from the *f32-rounded* initial
/// weights: the exact answer (to ~1e-16) that both f32 backends approximate. burn fixes a device's
/// default float dtype once per process, and this process's CPU device is f32, so the reference
/// runs in a child process of this same test binary (`f64_reference_child`) and comes back as JSON.
fn f64_truth(request: &str) -> serde_json::Value {
    let out = tempfile::NamedTempFile::new().unwrap();
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new(&exe)
        .args([
            "f64_reference_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(TRUTH_ENV, format!("{request}|{}", out.path().display()))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "f64 reference child for `{request}` failed"
    );
    let text = std::fs::read_to_string(out.path()).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("f64 reference for `{request}`: {e}"))
}

fn named_from_json(v: &serde_json::Value) -> Named {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, x)| {
            let vals = x
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_f64().unwrap())
                .collect();
            (k.clone(), vals)
        })
        .collect()
}

/// `model` with every parameter rounded to f32, the values the f32 runs start from.
fn rounded_to_f32(model: Transformer<CpuTrain>) -> Transformer<CpuTrain> {
    let values = collect_params(&model)
        .tensors
        .into_iter()
        .map(|(k, (shape, t))| {
            let v: Vec<f64> = floats(t.to_data())
                .into_iter()
                .map(|x| x as f32 as f64)
                .collect();
            (k, TensorData::new(v, shape))
        })
        .collect();
    load_params(model, values, "f32-rounded weights").unwrap()
}

/// The child side of [`f64_truth`]: ignored in ordinary runs (it needs a fresh process whose CPU
/// device has not made an f32 tensor yet); the parity tests spawn it with `TRUTH_ENV` set to
/// `<request>|<output path>`.
#[test]
#[ignore = "the f64 reference child process; the wgpu_forward_loss_grads tests spawn it"]
fn f64_reference_child() {
    let Some(req) = std::env::var_os(TRUTH_ENV) else {
        eprintln!("f64_reference_child: runs only when a parity test spawns it ({TRUTH_ENV})");
        return;
    };
    let req = req.into_string().unwrap();
    let (request, out) = req.rsplit_once('|').unwrap();
    let dev = Default::default();
    burn::tensor::set_default_dtypes::<CpuTrain>(&dev, DType::F64, DType::I64)
        .expect("f64 before any tensor of this process");
    let (what, name) = request.split_once(':').unwrap();
    let json = match what {
        "grads" => {
            let cfg = family(name);
            let data = contexts(&cfg, 4);
            let model = rounded_to_f32(Transformer::<CpuTrain>::new(&cfg, 7, &dev));
            let (logits, loss, grads) = forward_backward_of(model, &data, &BATCH, &dev);
            serde_json::json!({
                "logits": logits,
                "loss": loss,
                "grads": grads
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::json!(v)))
                    .collect::<serde_json::Map<_, _>>(),
            })
        }
        other => panic!("unknown f64 reference request `{other}`"),
    };
    std::fs::write(out, serde_json::to_vec(&json).unwrap()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// The wrong kernel (docs/gpu.md, "The wrong kernel"): cubek-matmul 0.2's `matmul_double_unit_*`
// on the SwiGLU input projection's shape.

/// The matmul that went wrong: `x [64, k] @ w[512, k]ᵀ` with k = 24, the OpenLM SwiGLU `w12`
/// projection of the suite (micro-batch 4 × 16 tokens, d 24, 2 × hidden 256), as `model::linear`
/// calls it (a contiguous lhs, the weight's transposed view as rhs). cubecl's autotune key:
/// `m 64, n 512, k 32 (24 anchored), Medium, rhs MildlyPermuted { transposed }`.
const REPRO_M: usize = 64;
const REPRO_N: usize = 512;

/// Deterministic inputs in [-1, 1) (exactly representable in f32) and their f64 product.
fn repro_inputs(k: usize) -> (Vec<f32>, Vec<f32>, Vec<f64>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut draw = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| rng.gen_range(-512i32..512) as f32 / 512.0)
            .collect()
    };
    let (x, w) = (draw(REPRO_M * k), draw(REPRO_N * k));
    let mut truth = vec![0f64; REPRO_M * REPRO_N];
    for i in 0..REPRO_M {
        for j in 0..REPRO_N {
            truth[i * REPRO_N + j] = (0..k)
                .map(|p| x[i * k + p] as f64 * w[j * k + p] as f64)
                .sum();
        }
    }
    (x, w, truth)
}

/// `x @ wᵀ` on the wgpu device, through burn's public matmul (hence cubecl's autotune).
fn repro_matmul(dev: &burn_wgpu::WgpuDevice, k: usize, x: &[f32], w: &[f32]) -> Vec<f64> {
    let x = Tensor::<Gpu, 2>::from_data(TensorData::new(x.to_vec(), [REPRO_M, k]), dev);
    let w = Tensor::<Gpu, 2>::from_data(TensorData::new(w.to_vec(), [REPRO_N, k]), dev);
    floats(x.matmul(w.transpose()).into_data())
}

/// Environment variable that makes this test binary the forced-kernel child: `<kernel>|<k>|<out>`.
const FORCED_ENV: &str = "LMREPRO_WGPU_FORCED_MATMUL";

/// The repro's matmul at inner size `k`, computed in a child process whose autotune cache names
/// `kernel` as the winner of that shape's key.
fn forced_matmul(kernel: &str, k: usize) -> Vec<f64> {
    let out = tempfile::NamedTempFile::new().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "wgpu_forced_matmul_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FORCED_ENV, format!("{kernel}|{k}|{}", out.path().display()))
        .env_remove(lmrepro_model::gpu::AUTOTUNE_DIR_ENV)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "forced-kernel child for {kernel}, k {k} failed"
    );
    serde_json::from_slice(&std::fs::read(out.path()).unwrap()).unwrap()
}

/// Is this the cache line of the repro's matmul key (k = 24)?
fn is_repro_key(line: &serde_json::Value) -> bool {
    let d = &line["key"]["key"]["definition"];
    d["m"] == 64
        && d["n"] == 512
        && d["k"] == 32
        && d["lhs_pow2_factor"] == 3
        && d["matrix_layout_lhs"] == "Contiguous"
        && d["matrix_layout_rhs"]["MildlyPermuted"]["transposed"] == true
}

/// Normwise error against the f64 product, and how many entries are off by more than 1e-5.
fn repro_error(truth: &[f64], got: &[f64]) -> (f64, usize) {
    let wrong = truth
        .iter()
        .zip(got)
        .filter(|(t, g)| (*t - *g).abs() > 1e-5 * t.abs().max(1.0))
        .count();
    (normwise(truth, got), wrong)
}

/// cubek-matmul 0.2's double-buffered unit matmul (`matmul_double_unit_max_tile_size`, what
/// llvmpipe's timing once preferred for this key) returns a wrong product for `k = 24`, while the
/// shipped winner is right. If cubecl fixes the kernel, the first assertion fails: then the
/// shipped cache may pick by timing again (docs/gpu.md).
#[test]
fn wgpu_matmul_double_unit_wrong_at_k24() {
    let test = "wgpu_matmul_double_unit_wrong_at_k24";
    let Some(dev) = vulkan(test) else { return };
    let (x, w, truth) = repro_inputs(24);
    let shipped = repro_error(&truth, &repro_matmul(&dev, 24, &x, &w));
    let bad = repro_error(
        &truth,
        &forced_matmul("matmul_double_unit_max_tile_size", 24),
    );
    let good = repro_error(
        &truth,
        &forced_matmul("matmul_simple_unit_min_tile_size", 24),
    );
    eprintln!(
        "{test}: normwise error vs f64 (entries wrong of {}): shipped {:.2e} ({}), forced \
         matmul_simple_unit_min_tile_size {:.2e} ({}), forced matmul_double_unit_max_tile_size \
         {:.2e} ({})",
        truth.len(),
        shipped.0,
        shipped.1,
        good.0,
        good.1,
        bad.0,
        bad.1
    );
    assert!(
        bad.0 > 1e-2,
        "matmul_double_unit_max_tile_size is now right at m 64, n 512, k 24 ({:.2e}): cubecl \
         fixed it, revisit the shipped autotune cache (docs/gpu.md)",
        bad.0
    );
    assert!(
        good.0 <= 1e-6,
        "matmul_simple_unit_min_tile_size: {:.2e}",
        good.0
    );
    assert!(shipped.0 <= 1e-6, "the shipped kernel: {:.2e}", shipped.0);
    assert_only_shipped_autotune(test);
}

/// For the upstream report: the four unit kernels at k = 8 … 48 (which k the double-buffered
/// ones get wrong). About a minute on llvmpipe; run by hand:
/// `cargo test -p lmrepro-model --features wgpu-device --test wgpu_parity wgpu_matmul_unit_kernels_k_sweep -- --ignored --nocapture`.
#[test]
#[ignore = "diagnostic sweep for docs/gpu.md; run by hand"]
fn wgpu_matmul_unit_kernels_k_sweep() {
    let test = "wgpu_matmul_unit_kernels_k_sweep";
    if vulkan(test).is_none() {
        return;
    }
    for kernel in [
        "matmul_simple_unit_max_tile_size",
        "matmul_simple_unit_min_tile_size",
        "matmul_double_unit_max_tile_size",
        "matmul_double_unit_min_tile_size",
    ] {
        let row: Vec<String> = [8, 16, 24, 32, 40, 48, 56, 64]
            .iter()
            .map(|&k| {
                let (_, _, truth) = repro_inputs(k);
                let (e, n) = repro_error(&truth, &forced_matmul(kernel, k));
                format!("k {k}: {e:.1e} ({n})")
            })
            .collect();
        eprintln!("{test}: {kernel}: {}", row.join(", "));
    }
}

/// The child side of [`forced_matmul`]: names `kernel` the winner of the key of `x [64, k] @
/// w[512, k]ᵀ` (a copy of the shipped k = 24 line with k's anchor and alignment factors, which
/// is what cubek's `MatmulAutotuneKey::generate` derives at the default autotune level) and
/// checks afterwards that cubecl timed nothing, i.e. used that entry.
#[test]
#[ignore = "the forced-kernel child process; wgpu_matmul_double_unit_wrong_at_k24 spawns it"]
fn wgpu_forced_matmul_child() {
    let Some(req) = std::env::var_os(FORCED_ENV) else {
        eprintln!("wgpu_forced_matmul_child: runs only when spawned ({FORCED_ENV})");
        return;
    };
    let req = req.into_string().unwrap();
    let mut parts = req.splitn(3, '|');
    let (kernel, k, out) = (
        parts.next().unwrap(),
        parts.next().unwrap().parse::<usize>().unwrap(),
        parts.next().unwrap(),
    );
    let dev = &lmrepro_model::gpu::wgpu_vulkan().unwrap().device;
    // cubecl reads a kernel family's cache file when that family first runs, so rewriting the
    // seeded file now decides what the matmul below uses.
    let file = lmrepro_model::gpu::autotune_dir()
        .unwrap()
        .join(lmrepro_model::gpu::AUTOTUNE_SUBDIR)
        .join("burn_cubecl-kernel-matmul-tune-base.json.log");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut line: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(is_repro_key)
        .expect("the shipped cache has a line for the repro key");
    let index = line["value"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| {
            let ok = &r["outcome"]["Ok"];
            (ok["name"] == kernel).then(|| ok["index"].clone())
        })
        .unwrap_or_else(|| panic!("{kernel} is not a timed result of the repro key"));
    line["value"]["fastest_index"] = index;
    let d = &mut line["key"]["key"]["definition"];
    let (pow2, stride) = (k.trailing_zeros().min(4), (4 * k).trailing_zeros().min(10));
    d["k"] = k.next_power_of_two().into();
    for side in ["lhs", "rhs"] {
        d[format!("{side}_pow2_factor")] = pow2.into();
        d[format!("{side}_stride_factor")] = stride.into();
    }
    // Only this line: any other matmul key would be timed (and show up as an extra line).
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let (x, w, _) = repro_inputs(k);
    let y = repro_matmul(dev, k, &x, &w);
    let after = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        after.lines().count(),
        1,
        "cubecl timed the forced key again (the written key is not the one it derives): {after}"
    );
    std::fs::write(out, serde_json::to_vec(&y).unwrap()).unwrap();
}

/// Fails when cubecl timed a kernel key that the shipped cache lacks: its winner would depend on
/// this run's timing (and could be the wrong kernel), so the suite would not be deterministic.
/// Regenerate `crates/model/autotune/` as docs/gpu.md says.
fn assert_only_shipped_autotune(test: &str) {
    let Some(root) = lmrepro_model::gpu::autotune_dir() else {
        return;
    };
    let dir = root.join(lmrepro_model::gpu::AUTOTUNE_SUBDIR);
    let keys = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["key"].to_string())
            .collect()
    };
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let shipped = lmrepro_model::gpu::SHIPPED_AUTOTUNE
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| keys(t))
            .unwrap_or_default();
        let extra: Vec<String> = keys(&std::fs::read_to_string(entry.path()).unwrap())
            .into_iter()
            .filter(|k| !shipped.contains(k))
            .collect();
        assert!(
            extra.is_empty(),
            "{test}: cubecl autotuned {} key(s) of {name} that crates/model/autotune/ does not \
             ship, e.g. {}; add them (docs/gpu.md, \"The shipped autotune cache\")",
            extra.len(),
            extra[0]
        );
    }
}

/// `gpu::seed_autotune_dir` on a persistent folder: the shipped lines come first and win over an
/// earlier line for the same key; a line for another key is kept; a second seeding changes nothing.
/// (No Vulkan device needed.)
#[test]
fn wgpu_seed_autotune_dir_merges() {
    use lmrepro_model::gpu::{seed_autotune_dir, AUTOTUNE_SUBDIR, SHIPPED_AUTOTUNE};
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(AUTOTUNE_SUBDIR);
    std::fs::create_dir_all(&dir).unwrap();
    let (name, shipped) = SHIPPED_AUTOTUNE[0];
    let first: serde_json::Value = serde_json::from_str(shipped.lines().next().unwrap()).unwrap();
    let mut stale = first.clone();
    stale["value"]["fastest_index"] = 999.into();
    let mut foreign = first.clone();
    foreign["key"]["key"]["definition"]["m"] = 4096.into();
    std::fs::write(dir.join(name), format!("{stale}\n{foreign}\n")).unwrap();
    seed_autotune_dir(root.path()).unwrap();
    let merged = std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(merged, format!("{shipped}{foreign}\n"));
    seed_autotune_dir(root.path()).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), merged);
    for (other, text) in &SHIPPED_AUTOTUNE[1..] {
        assert_eq!(&std::fs::read_to_string(dir.join(other)).unwrap(), text);
    }
}
