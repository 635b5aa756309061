//! Gradient accumulation, global-norm clipping and AdamW, keyed by parameter path.
//!
//! burn 0.21's optimizers clip gradients per tensor, while open_lm calls
//! `torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)`: one norm over all gradients.
//! So the whole update is done here, on the inner (non-autodiff) backend, with PyTorch's operation
//! order (`torch.optim.AdamW`, single-tensor path):
//!
//! ```text
//! p *= 1 - lr * wd
//! m  = m.lerp(g, 1 - b1)            v = v * b2 + (1 - b2) g^2
//! p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//! ```
//!
//! Every parameter is decayed, norms and embeddings included: open_lm passes all parameters in the
//! decayed group (its `no_decay_params` list is empty).
//!
//! State is keyed by the parameter's module path (`layers.0.attention.in_proj.weight`), which is
//! stable across processes, so checkpoints can be resumed and checked for mismatches.

use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use std::collections::BTreeMap;

/// Reads a one-element tensor as f64 whatever its dtype.
pub fn scalar<B: Backend, const D: usize>(t: Tensor<B, D>) -> f64 {
    t.into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .expect("f64 data")[0]
}

/// Tracks the module path while a visitor/mapper walks the module tree.
#[derive(Default)]
struct PathStack(Vec<String>);

impl PathStack {
    fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }
    fn exit(&mut self) {
        self.0.pop();
    }
    fn path(&self) -> String {
        self.0.join(".")
    }
}

/// Flattened tensors by parameter path, with their original shapes.
pub struct ParamMap<B: Backend> {
    pub tensors: BTreeMap<String, (Vec<usize>, Tensor<B, 1>)>,
}

impl<B: Backend> Default for ParamMap<B> {
    fn default() -> Self {
        ParamMap {
            tensors: BTreeMap::new(),
        }
    }
}

impl<B: Backend> ParamMap<B> {
    /// Sum of squares of every entry (accumulated in f64 across tensors).
    pub fn sum_squares(&self) -> f64 {
        self.tensors
            .values()
            .map(|(_, t)| scalar(t.clone().square().sum()))
            .sum()
    }

    pub fn scale(&mut self, factor: f64) {
        for (_, t) in self.tensors.values_mut() {
            *t = t.clone() * factor;
        }
    }
}

/// Collects the current parameter values by path (on the module's own backend).
pub fn collect_params<B: Backend, M: burn::module::Module<B>>(model: &M) -> ParamMap<B> {
    struct V<B: Backend> {
        path: PathStack,
        out: ParamMap<B>,
    }
    impl<B: Backend> ModuleVisitor<B> for V<B> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.enter(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.exit();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let t = param.val();
            let shape = t.dims().to_vec();
            let n: usize = shape.iter().product();
            self.out
                .tensors
                .insert(self.path.path(), (shape, t.reshape([n])));
        }
    }
    let mut v = V {
        path: PathStack::default(),
        out: ParamMap::default(),
    };
    model.visit(&mut v);
    v.out
}

/// Adds this backward pass's gradients into `acc` (parameters without a gradient count as zero).
pub fn accumulate_grads<AB: AutodiffBackend, M: AutodiffModule<AB>>(
    model: &M,
    grads: &AB::Gradients,
    acc: &mut ParamMap<AB::InnerBackend>,
) {
    struct V<'a, AB: AutodiffBackend> {
        path: PathStack,
        grads: &'a AB::Gradients,
        acc: &'a mut ParamMap<AB::InnerBackend>,
    }
    impl<AB: AutodiffBackend> ModuleVisitor<AB> for V<'_, AB> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.enter(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.exit();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
            let t = param.val();
            let shape = t.dims().to_vec();
            let n: usize = shape.iter().product();
            let g = match t.grad(self.grads) {
                Some(g) => g.reshape([n]),
                None => t.inner().reshape([n]).zeros_like(),
            };
            let key = self.path.path();
            match self.acc.tensors.remove(&key) {
                Some((s, prev)) => self.acc.tensors.insert(key, (s, prev + g)),
                None => self.acc.tensors.insert(key, (shape, g)),
            };
        }
    }
    let mut v = V::<AB> {
        path: PathStack::default(),
        grads,
        acc,
    };
    model.visit(&mut v);
}

/// `torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=2)`: returns the total norm before
/// clipping; scales every gradient by `max_norm / (norm + 1e-6)` when that is below 1.
pub fn clip_global_norm<B: Backend>(grads: &mut ParamMap<B>, max_norm: Option<f64>) -> f64 {
    let norm = grads.sum_squares().sqrt();
    if let Some(max) = max_norm {
        let coef = max / (norm + 1e-6);
        if coef < 1.0 {
            grads.scale(coef);
        }
    }
    norm
}

/// AdamW hyper-parameters (lr comes from the schedule at each step).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    /// open_lm's defaults as DCLM runs them: betas (0.9, 0.95), eps 1e-8.
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.033,
        }
    }
}

/// AdamW with per-path first and second moments.
pub struct AdamW<B: Backend> {
    pub config: AdamWConfig,
    /// Number of updates done (torch's `state["step"]`).
    pub step: u64,
    pub exp_avg: ParamMap<B>,
    pub exp_avg_sq: ParamMap<B>,
}

impl<B: Backend> AdamW<B> {
    pub fn new(config: AdamWConfig) -> Self {
        AdamW {
            config,
            step: 0,
            exp_avg: ParamMap::default(),
            exp_avg_sq: ParamMap::default(),
        }
    }
}

impl<IB: Backend> AdamW<IB> {
    /// Applies one update with learning rate `lr` to every parameter of `model`.
    pub fn step<AB, M>(&mut self, model: M, grads: ParamMap<IB>, lr: f64) -> M
    where
        AB: AutodiffBackend<InnerBackend = IB>,
        M: AutodiffModule<AB>,
    {
        self.step += 1;
        let c = self.config;
        let t = self.step as i32;
        let bc1 = 1.0 - c.beta1.powi(t);
        let bc2_sqrt = (1.0 - c.beta2.powi(t)).sqrt();
        let step_size = lr / bc1;
        struct Mp<'a, AB: AutodiffBackend> {
            path: PathStack,
            opt_m: &'a mut ParamMap<AB::InnerBackend>,
            opt_v: &'a mut ParamMap<AB::InnerBackend>,
            grads: ParamMap<AB::InnerBackend>,
            c: AdamWConfig,
            lr: f64,
            step_size: f64,
            bc2_sqrt: f64,
        }
        impl<AB: AutodiffBackend> ModuleMapper<AB> for Mp<'_, AB> {
            fn enter_module(&mut self, name: &str, _: &str) {
                self.path.enter(name);
            }
            fn exit_module(&mut self, _: &str, _: &str) {
                self.path.exit();
            }
            fn map_float<const D: usize>(
                &mut self,
                param: Param<Tensor<AB, D>>,
            ) -> Param<Tensor<AB, D>> {
                let (id, tensor, mapper) = param.consume();
                let shape = tensor.dims();
                let n: usize = shape.iter().product();
                let key = self.path.path();
                let p = tensor.inner().reshape([n]);
                let g = match self.grads.tensors.remove(&key) {
                    Some((_, g)) => g,
                    None => p.zeros_like(),
                };
                let (m, v) = match (
                    self.opt_m.tensors.remove(&key),
                    self.opt_v.tensors.remove(&key),
                ) {
                    (Some((_, m)), Some((_, v))) => (m, v),
                    _ => (p.zeros_like(), p.zeros_like()),
                };
                let p = p * (1.0 - self.lr * self.c.weight_decay);
                // m.lerp_(g, w) = m + w (g - m)
                let m = m.clone() + (g.clone() - m) * (1.0 - self.c.beta1);
                let v = v * self.c.beta2 + g.clone() * g * (1.0 - self.c.beta2);
                let denom = v.clone().sqrt() / self.bc2_sqrt + self.c.eps;
                let p = p - (m.clone() / denom) * self.step_size;
                self.opt_m.tensors.insert(key.clone(), (shape.to_vec(), m));
                self.opt_v.tensors.insert(key, (shape.to_vec(), v));
                let new = Tensor::<AB, D>::from_inner(p.reshape(shape)).require_grad();
                Param::from_mapped_value(id, new, mapper)
            }
        }
        let mut mp = Mp::<AB> {
            path: PathStack::default(),
            opt_m: &mut self.exp_avg,
            opt_v: &mut self.exp_avg_sq,
            grads,
            c,
            lr,
            step_size,
            bc2_sqrt,
        };
        model.map(&mut mp)
    }
}

/// Replaces parameters by path from `values` (same backend as the module); errors name every
/// missing, extra or mis-shaped tensor.
pub fn load_params<B: Backend, M: burn::module::Module<B>>(
    model: M,
    mut values: BTreeMap<String, TensorData>,
    source: &str,
) -> anyhow::Result<M> {
    struct Mp<B: Backend> {
        path: PathStack,
        values: BTreeMap<String, TensorData>,
        errors: Vec<String>,
        _b: std::marker::PhantomData<B>,
    }
    impl<B: Backend> ModuleMapper<B> for Mp<B> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.enter(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.exit();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, tensor, mapper) = param.consume();
            let key = self.path.path();
            let shape = tensor.dims();
            let new = match self.values.remove(&key) {
                None => {
                    self.errors.push(format!("missing tensor `{key}`"));
                    tensor
                }
                Some(data) if data.shape.as_slice() != shape.as_slice() => {
                    self.errors.push(format!(
                        "tensor `{key}` has shape {:?}, the model expects {shape:?}",
                        data.shape.as_slice()
                    ));
                    tensor
                }
                Some(data) => {
                    let dev = tensor.device();
                    let t = Tensor::<B, D>::from_data(data.convert_dtype(tensor.dtype()), &dev);
                    if tensor.is_require_grad() {
                        t.require_grad()
                    } else {
                        t
                    }
                }
            };
            Param::from_mapped_value(id, new, mapper)
        }
    }
    let mut mp = Mp::<B> {
        path: PathStack::default(),
        values: std::mem::take(&mut values),
        errors: Vec::new(),
        _b: std::marker::PhantomData,
    };
    let model = model.map(&mut mp);
    for extra in mp.values.keys() {
        mp.errors
            .push(format!("unexpected tensor `{extra}` (not in this model)"));
    }
    if !mp.errors.is_empty() {
        anyhow::bail!(
            "{source} does not match the model: {}",
            mp.errors.join("; ")
        );
    }
    Ok(model)
}
