//! burn-fusion 0.21 panic ladder (issue 14 item 4). Each case runs on Autodiff<Wgpu> (no fusion) and
//! then on Autodiff<Fusion<Wgpu>>, same deterministic inputs/weights; outputs compared (max|a-b|/max|b|
//! per tensor, 1e-4). Stops at the first panic. Run: RUST_BACKTRACE=1 cargo run --bin ladder [cases]
use burn::backend::wgpu::{CubeBackend, WgpuDevice, WgpuRuntime};
use burn::backend::Autodiff;
use burn::module::{AutodiffModule, Module, Param};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::module::{attention, embedding};
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Int, Tensor, TensorData};
use std::panic::{catch_unwind, AssertUnwindSafe};

type Plain = Autodiff<CubeBackend<WgpuRuntime, f32, i32, u32>>;
type Fused = Autodiff<burn::backend::Wgpu>; // = Autodiff<Fusion<CubeBackend<WgpuRuntime, f32, i32, u32>>>
type Out = Vec<(String, Vec<f32>)>;

/// Deterministic pseudo-random values in [-s, s] (same on every backend).
fn det<B: AutodiffBackend, const D: usize>(seed: u64, shape: [usize; D], s: f32, dev: &B::Device) -> Tensor<B, D> {
    let n: usize = shape.iter().product();
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let v: Vec<f32> = (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * s
        })
        .collect();
    Tensor::from_data(TensorData::new(v, shape), dev)
}
fn p<B: AutodiffBackend, const D: usize>(seed: u64, shape: [usize; D], s: f32, dev: &B::Device) -> Param<Tensor<B, D>> {
    Param::from_tensor(det(seed, shape, s, dev))
}
fn p1<B: AutodiffBackend>(seed: u64, d: usize, dev: &B::Device) -> Param<Tensor<B, 1>> {
    Param::from_tensor(det::<B, 1>(seed, [d], 0.1, dev) + 1.0)
}
fn v<B: burn::tensor::backend::Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

#[derive(Module, Debug)]
struct Lin<B: burn::tensor::backend::Backend> { w: Param<Tensor<B, 2>>, b: Param<Tensor<B, 1>> }
impl<B: AutodiffBackend> Lin<B> {
    fn new(seed: u64, i: usize, o: usize, dev: &B::Device) -> Self {
        Lin { w: p(seed, [i, o], 1.0 / (i as f32).sqrt(), dev), b: p(seed + 1, [o], 0.1, dev) }
    }
}
impl<B: burn::tensor::backend::Backend> Lin<B> {
    fn fwd(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, t, i] = x.dims();
        let o = self.w.dims()[1];
        x.reshape([b * t, i]).matmul(self.w.val()).reshape([b, t, o]) + self.b.val().unsqueeze()
    }
}
#[derive(Module, Debug)]
struct Ln<B: burn::tensor::backend::Backend> { g: Param<Tensor<B, 1>>, b: Param<Tensor<B, 1>> }
impl<B: burn::tensor::backend::Backend> Ln<B> {
    fn fwd(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let (var, mean) = x.clone().var_mean_bias(2);
        (x - mean) / (var + 1e-5).sqrt() * self.g.val().unsqueeze() + self.b.val().unsqueeze()
    }
}
/// Pre-norm block. `model_ops`: our model's ops (narrow qkv split, `attention` op with causal + ALiBi
/// bias, cat, erf GELU) instead of the textbook ones (swap_dims/matmul/mask_fill/softmax, gelu).
#[derive(Module, Debug)]
struct Block<B: burn::tensor::backend::Backend> { ln1: Ln<B>, qkv: Lin<B>, out: Lin<B>, ln2: Ln<B>, up: Lin<B>, down: Lin<B> }
const H: usize = 2;
impl<B: AutodiffBackend> Block<B> {
    fn new(seed: u64, d: usize, dev: &B::Device) -> Self {
        let ln = |s| Ln { g: p1(s, d, dev), b: p(s + 1, [d], 0.1, dev) };
        Block { ln1: ln(seed), qkv: Lin::new(seed + 2, d, 3 * d, dev), out: Lin::new(seed + 4, d, d, dev),
                ln2: ln(seed + 6), up: Lin::new(seed + 8, d, 4 * d, dev), down: Lin::new(seed + 10, 4 * d, d, dev) }
    }
}
impl<B: burn::tensor::backend::Backend> Block<B> {
    fn attn(&self, x: Tensor<B, 3>, model_ops: bool) -> Tensor<B, 3> {
        let [b, t, d] = x.dims();
        let hd = d / H;
        let qkv = self.qkv.fwd(self.ln1.fwd(x));
        let split = |z: Tensor<B, 3>| z.reshape([b, t, H, hd]).swap_dims(1, 2);
        let a = if model_ops {
            let (q, k, vv) = (split(qkv.clone().narrow(2, 0, d)), split(qkv.clone().narrow(2, d, d)), split(qkv.narrow(2, 2 * d, d)));
            // rotate_half-like cat, as the model's rotary path does
            let q = Tensor::cat(vec![q.clone().narrow(3, hd / 2, hd / 2).neg(), q.narrow(3, 0, hd / 2)], 3);
            let alibi: Vec<f32> = (0..H * t * t).map(|i| -(((i % t) as f32) - ((i / t % t) as f32)).abs() * 0.5 / (1 + i / (t * t)) as f32).collect();
            let bias = Tensor::<B, 4>::from_data(TensorData::new(alibi, [1, H, t, t]), &q.device()).expand([b, H, t, t]);
            attention(q, k, vv, None, Some(bias), AttentionModuleOptions { scale: None, softcap: None, is_causal: true })
        } else {
            let qkv = qkv.reshape([b, t, 3, H, hd]);
            let pick = |i: usize| qkv.clone().slice([0..b, 0..t, i..i + 1, 0..H, 0..hd]).reshape([b, t, H, hd]).swap_dims(1, 2);
            let (q, k, vv) = (pick(0), pick(1), pick(2));
            let s = q.matmul(k.swap_dims(2, 3)) / (hd as f32).sqrt();
            let mask = Tensor::<B, 2, Bool>::tril_mask([t, t], 0, &s.device()).unsqueeze::<4>().expand([b, H, t, t]);
            softmax(s.mask_fill(mask, -1e9), 3).matmul(vv)
        };
        self.out.fwd(a.swap_dims(1, 2).reshape([b, t, d]))
    }
    fn mlp(&self, x: Tensor<B, 3>, model_ops: bool) -> Tensor<B, 3> {
        let h = self.up.fwd(self.ln2.fwd(x));
        let h = if model_ops { h.clone() * 0.5 * ((h / std::f32::consts::SQRT_2).erf() + 1.0) } else { gelu(h) };
        self.down.fwd(h)
    }
    fn fwd(&self, x: Tensor<B, 3>, m: bool) -> Tensor<B, 3> {
        let x = x.clone() + self.attn(x, m);
        x.clone() + self.mlp(x, m)
    }
}
#[derive(Module, Debug)]
struct Gpt<B: burn::tensor::backend::Backend> { emb: Param<Tensor<B, 2>>, blocks: Vec<Block<B>>, lnf: Ln<B>, head: Param<Tensor<B, 2>> }
const V: usize = 32;
impl<B: burn::tensor::backend::Backend> Gpt<B> {
    fn loss(&self, ids: Tensor<B, 2, Int>, tgt: Tensor<B, 2, Int>, m: bool) -> Tensor<B, 1> {
        let [b, t] = ids.dims();
        let mut x = embedding(self.emb.val(), ids);
        for blk in &self.blocks { x = blk.fwd(x, m); }
        let d = x.dims()[2];
        let logits = self.lnf.fwd(x).reshape([b * t, d]).matmul(self.head.val()); // [bt, V]
        let mx = logits.clone().max_dim(1).detach();
        let lse = (logits.clone() - mx.clone()).exp().sum_dim(1).log() + mx;
        (lse - logits.gather(1, tgt.reshape([b * t, 1]))).mean()
    }
}

fn case<B: AutodiffBackend>(c: &str, dev: &B::Device) -> Out {
    if c == "p" { probe::train::<B>(dev); return vec![]; }
    let big = c.starts_with('q'); // the probe's `small` sizes: batch 4, seq 128, d 128, vocab 4096, 2 layers
    let (b, t, d) = if big { (4, 128, 128) } else { (2, 8, 16) };
    let vocab = if big { 4096 } else { V };
    let m = c.ends_with('m'); // "...m" = the model's ops
    let mut out: Out = vec![];
    match &c[..1] {
        "a" => {
            let x = det::<B, 2>(1, [4, 8], 1.0, dev).require_grad();
            let w = det::<B, 2>(2, [8, 5], 1.0, dev).require_grad();
            let y = softmax(x.clone().matmul(w.clone()), 1);
            let g = (y.clone() * det::<B, 2>(3, [4, 5], 1.0, dev)).sum().backward();
            out.push(("y".into(), v(y)));
            out.push(("dx".into(), v(x.grad(&g).unwrap())));
            out.push(("dw".into(), v(w.grad(&g).unwrap())));
        }
        "b" | "c" => {
            let blk = Block::<B>::new(10, d, dev);
            let x = det::<B, 3>(4, [b, t, d], 1.0, dev).require_grad();
            let y = if c.starts_with('b') { blk.attn(x.clone(), m) } else { blk.mlp(x.clone(), m) };
            let g = (y.clone() * det::<B, 3>(5, [b, t, d], 1.0, dev)).sum().backward();
            out.push(("y".into(), v(y)));
            out.push(("dx".into(), v(x.grad(&g).unwrap())));
            let gp = GradientsParams::from_grads(g, &blk);
            blk.visit(&mut Grads(&gp, &mut out));
        }
        "d" | "e" | "q" => {
            let layers = if c.starts_with('d') { 1 } else { 2 };
            let mut gpt = Gpt::<B> {
                emb: p(20, [vocab, d], 1.0, dev),
                blocks: (0..layers).map(|l| Block::new(30 + 20 * l as u64, d, dev)).collect(),
                lnf: Ln { g: p1(21, d, dev), b: p(22, [d], 0.1, dev) },
                head: p(23, [d, vocab], 0.25, dev),
            };
            let ids: Vec<i64> = (0..b * t).map(|i| ((i * 7 + 3) % vocab) as i64).collect();
            let tg: Vec<i64> = (0..b * t).map(|i| ((i * 5 + 1) % vocab) as i64).collect();
            let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [b, t]), dev);
            let tg = Tensor::<B, 2, Int>::from_data(TensorData::new(tg, [b, t]), dev);
            let mut opt = AdamWConfig::new().with_weight_decay(0.1).init::<B, Gpt<B>>();
            for step in 0..2 {
                let loss = gpt.loss(ids.clone(), tg.clone(), m);
                out.push((format!("loss{step}"), v(loss.clone())));
                println!("    {c} step {step} loss {:?}", v(loss.clone()));
                let g = GradientsParams::from_grads(loss.backward(), &gpt);
                gpt = opt.step(1e-2, gpt, g);
            }
            out.push(("loss2".into(), v(gpt.loss(ids, tg, m))));
            out.push(("head".into(), v(gpt.valid().head.val())));
        }
        _ => panic!("unknown case {c}"),
    }
    out
}
/// Collects every parameter's gradient, in module order.
struct Grads<'a>(&'a GradientsParams, &'a mut Out);
impl<B: AutodiffBackend> burn::module::ModuleVisitor<B> for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
        // unused params (e.g. the MLP's in case b) have no gradient: recorded as empty
        let g = self.0.get::<B::InnerBackend, D>(p.id).map(v).unwrap_or_default();
        self.1.push((format!("dp{}", self.1.len()), g));
    }
}

fn main() {
    let dev = WgpuDevice::default();
    let all = ["a", "b", "c", "d", "e", "bm", "cm", "dm", "em"];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cases: Vec<&str> = if args.is_empty() { all.to_vec() } else { args.iter().map(|s| s.as_str()).collect() };
    for c in cases {
        let t0 = std::time::Instant::now();
        println!("== case {c}: Autodiff<Wgpu> (no fusion)");
        // ONLY_FUSED=1: fusion alone in a fresh process (as the probe ran it), no comparison
        let only = std::env::var("ONLY_FUSED").is_ok();
        let plain = if only { Ok(vec![]) } else { catch_unwind(AssertUnwindSafe(|| case::<Plain>(c, &dev))) };
        println!("== case {c}: Autodiff<Fusion<Wgpu>> ({:.1}s so far)", t0.elapsed().as_secs_f64());
        if plain.is_err() { println!("!! the ladder itself panicked on the plain backend in case {c}"); std::process::exit(2); }
        let fused = match catch_unwind(AssertUnwindSafe(|| case::<Fused>(c, &dev))) {
            Ok(f) => f,
            Err(e) => {
                let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
                println!("!! FUSION PANIC in case {c} ({:.1}s): {msg:?}", t0.elapsed().as_secs_f64());
                std::process::exit(1);
            }
        };
        let Ok(plain) = plain else { println!("!! plain backend panicked in case {c}; fusion did not"); continue };
        let mut worst = 0f32;
        if only { println!("== case {c}: fusion ok ({:.1}s)", t0.elapsed().as_secs_f64()); continue; }
        for ((n, a), (_, b)) in fused.iter().zip(&plain) {
            let scale = b.iter().fold(0f32, |s, x| s.max(x.abs())).max(1e-12);
            let err = a.iter().zip(b).fold(0f32, |s, (x, y)| s.max((x - y).abs())) / scale;
            if err > 1e-4 || a.len() != b.len() { println!("   MISMATCH {n}: rel {err:.2e} (len {} vs {})", a.len(), b.len()); }
            worst = worst.max(err);
        }
        println!("== case {c}: ok, {} tensors, worst rel diff {worst:.2e} ({:.1}s)", fused.len(), t0.elapsed().as_secs_f64());
    }
}

/// The GPU probe's model verbatim (../shared/gpu-probe/src/main.rs, `small`): burn-nn modules, random
/// data, CrossEntropyLoss; random init, so only "does it panic" (no comparison).
mod probe {
    use burn::module::Module;
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
    use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
    use burn::tensor::activation::gelu;
    use burn::tensor::backend::{AutodiffBackend, Backend};
    use burn::tensor::module::attention;
    use burn::tensor::ops::AttentionModuleOptions;
    use burn::tensor::{Distribution, ElementConversion, Int, Tensor};
    #[derive(Module, Debug)]
    struct Block<B: Backend> { ln1: LayerNorm<B>, qkv: Linear<B>, proj: Linear<B>, ln2: LayerNorm<B>, fc: Linear<B>, fc2: Linear<B> }
    #[derive(Module, Debug)]
    struct Gpt<B: Backend> { tok: Embedding<B>, pos: Embedding<B>, blocks: Vec<Block<B>>, ln_f: LayerNorm<B>, head: Linear<B> }
    fn env(k: &str, d: usize) -> usize { std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d) }
    pub fn train<B: AutodiffBackend>(dev: &B::Device) {
        let (vocab, d, layers, heads, seq, batch) = (env("P_VOCAB", 4096), env("P_D", 128), env("P_L", 2), env("P_H", 4), env("P_T", 128), env("P_B", 4));
        let blocks = (0..layers).map(|_| Block {
            ln1: LayerNormConfig::new(d).init(dev), qkv: LinearConfig::new(d, 3 * d).init(dev), proj: LinearConfig::new(d, d).init(dev),
            ln2: LayerNormConfig::new(d).init(dev), fc: LinearConfig::new(d, 4 * d).init(dev), fc2: LinearConfig::new(4 * d, d).init(dev),
        }).collect();
        let mut model = Gpt::<B> { tok: EmbeddingConfig::new(vocab, d).init(dev), pos: EmbeddingConfig::new(seq, d).init(dev), blocks,
            ln_f: LayerNormConfig::new(d).init(dev), head: LinearConfig::new(d, vocab).with_bias(false).init(dev) };
        let mut opt = AdamWConfig::new().with_weight_decay(0.1).init();
        let loss_fn = CrossEntropyLossConfig::new().init(dev);
        for step in 0..env("P_STEPS", 3) {
            let toks = Tensor::<B, 2, Int>::random([batch, seq + 1], Distribution::Uniform(0.0, vocab as f64), dev);
            let (inp, tgt) = (toks.clone().narrow(1, 0, seq), toks.narrow(1, 1, seq).reshape([batch * seq]));
            let [b, t] = inp.dims();
            let pos = Tensor::<B, 1, Int>::arange(0..t as i64, dev).reshape([1, t]).repeat_dim(0, b);
            let mut x = model.tok.forward(inp) + model.pos.forward(pos);
            let hd = d / heads;
            for blk in &model.blocks {
                let qkv = blk.qkv.forward(blk.ln1.forward(x.clone()));
                let split = |i: usize| qkv.clone().narrow(2, i * d, d).reshape([b, t, heads, hd]).swap_dims(1, 2);
                let a = attention(split(0), split(1), split(2), None, None, AttentionModuleOptions { scale: None, softcap: None, is_causal: true });
                x = x + blk.proj.forward(a.swap_dims(1, 2).reshape([b, t, d]));
                x = x.clone() + blk.fc2.forward(gelu(blk.fc.forward(blk.ln2.forward(x))));
            }
            let logits = model.head.forward(model.ln_f.forward(x)).reshape([batch * seq, vocab]);
            let loss = loss_fn.forward(logits, tgt);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = opt.step(3e-4, model, grads);
            let l: f32 = loss.into_scalar().elem();
            println!("    p step {step} loss {l:.4}");
        }
    }
}
