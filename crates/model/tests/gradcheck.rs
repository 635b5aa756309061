//! Finite-difference gradient checks in f64 on burn-flex.
//!
//! This file is its own test binary because burn fixes a device's default float dtype once per
//! process: here it is f64 for every test. For each architecture family the analytic gradient of
//! the full training loss (cross-entropy + z-loss) is compared with central differences at sampled
//! entries of *every* parameter tensor, so each block (embeddings, post-embedding norm, attention
//! norm, qkv/out projections, qk-norm, rotary / ALiBi / learned positions, SwiGLU / GELU MLP, final
//! norm, output head, tied head) gets checked.

use burn::tensor::{DType, Int, Tensor, TensorData};
use burn_autodiff::Autodiff;
use burn_core as burn;
use burn_flex::Flex;
use lmrepro_model::config::ModelConfig;
use lmrepro_model::loss::lm_loss;
use lmrepro_model::model::Transformer;
use lmrepro_model::optim::{accumulate_grads, collect_params, load_params, scalar, ParamMap};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Once;

type B = Autodiff<Flex>;

static F64: Once = Once::new();

fn init_f64() {
    F64.call_once(|| {
        burn::tensor::set_default_dtypes::<B>(&Default::default(), DType::F64, DType::I64)
            .expect("set f64 before any tensor is created");
    });
}

fn batch(vocab: usize, b: usize, t: usize, seed: u64) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dev = Default::default();
    let mut mk = || {
        let v: Vec<i64> = (0..b * t).map(|_| rng.gen_range(0..vocab as i64)).collect();
        Tensor::<B, 2, Int>::from_data(TensorData::new(v, [b, t]), &dev)
    };
    (mk(), mk())
}

fn loss_of(model: &Transformer<B>, x: &Tensor<B, 2, Int>, y: &Tensor<B, 2, Int>) -> Tensor<B, 1> {
    // A large z coefficient so the z-loss term matters in the check.
    lm_loss(model.forward(x.clone()), y.clone(), 0.1).total
}

fn to_f64(d: &TensorData) -> Vec<f64> {
    d.clone().convert::<f64>().to_vec::<f64>().unwrap()
}

/// Checks `samples` entries of every parameter tensor; returns the worst relative error.
fn check(cfg: &ModelConfig, samples: usize) -> f64 {
    init_f64();
    let dev = Default::default();
    let model = Transformer::<B>::new(cfg, 7, &dev);
    let (x, y) = batch(cfg.vocab_size, 2, 6, 11);
    let loss = loss_of(&model, &x, &y);
    assert_eq!(loss.dtype(), DType::F64, "gradient check must run in f64");
    let grads = loss.backward();
    let mut acc = ParamMap::default();
    accumulate_grads(&model, &grads, &mut acc);
    let params = collect_params(&model);
    let base: BTreeMap<String, TensorData> = params
        .tensors
        .iter()
        .map(|(k, (shape, t))| {
            (
                k.clone(),
                TensorData::new(to_f64(&t.to_data()), shape.clone()),
            )
        })
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let h = 1e-5;
    let mut worst: f64 = 0.0;
    for (name, (_, g)) in &acc.tensors {
        let g = to_f64(&g.to_data());
        for _ in 0..samples {
            let i = rng.gen_range(0..g.len());
            let eval = |delta: f64| {
                let mut vals = base.clone();
                let d = &vals[name];
                let mut v = to_f64(d);
                v[i] += delta;
                let shape = d.shape.clone();
                vals.insert(name.clone(), TensorData::new(v, shape));
                let m = load_params(model.clone(), vals, "perturbed").unwrap();
                scalar(loss_of(&m, &x, &y))
            };
            let fd = (eval(h) - eval(-h)) / (2.0 * h);
            let err = (fd - g[i]).abs() / (fd.abs() + g[i].abs()).max(1e-6);
            assert!(
                err < 1e-5 || (fd - g[i]).abs() < 1e-9,
                "{name}[{i}]: autodiff {} vs finite difference {fd} (rel err {err:.2e})",
                g[i]
            );
            worst = worst.max(err);
        }
    }
    // Every parameter has a gradient entry.
    assert_eq!(acc.tensors.len(), params.tensors.len());
    worst
}

fn tiny(mut c: ModelConfig) -> ModelConfig {
    c.vocab_size = 13;
    c.seq_len = 8;
    c
}

#[test]
fn gradcheck_open_lm_rotary_qknorm_swiglu() {
    let w = check(&tiny(ModelConfig::open_lm(16, 2, 2)), 3);
    eprintln!("open_lm worst relative error {w:.2e}");
}

#[test]
fn gradcheck_bloom_alibi_embed_norm_gelu_tied() {
    // 3 heads: a non-power-of-two ALiBi slope set.
    let w = check(&tiny(ModelConfig::bloom(12, 2, 3)), 3);
    eprintln!("bloom worst relative error {w:.2e}");
}

#[test]
fn gradcheck_gpt2_learned_positions() {
    let w = check(&tiny(ModelConfig::gpt2(8, 2, 2)), 3);
    eprintln!("gpt2 worst relative error {w:.2e}");
}
