//! Cross-entropy with z-loss, as open_lm's `CrossEntropyLossWithZLoss`:
//! `CE(logits, targets) + eps * mean(logsumexp(logits)^2)` over all token positions.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

/// The two terms of the training loss, each a one-element tensor.
pub struct LossParts<B: Backend> {
    /// `ce + z`; what is differentiated.
    pub total: Tensor<B, 1>,
    /// Mean token cross-entropy (nats).
    pub ce: Tensor<B, 1>,
    /// `z_coef * mean(lse^2)`.
    pub z: Tensor<B, 1>,
}

/// Row-wise `log(sum(exp(x)))` over the last dim of `[n, v]`, shifted by the (detached) row max
/// for stability; the gradient is exactly softmax either way.
pub fn logsumexp<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let m = x.clone().max_dim(1).detach();
    (x - m.clone()).exp().sum_dim(1).log() + m
}

/// `logits [b, t, v]`, `targets [b, t]`.
pub fn lm_loss<B: Backend>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
    z_coef: f64,
) -> LossParts<B> {
    let [b, t, v] = logits.dims();
    let logits = logits.reshape([b * t, v]);
    let lse = logsumexp(logits.clone());
    let picked = logits.gather(1, targets.reshape([b * t, 1]));
    let ce = (lse.clone() - picked).mean();
    let z = if z_coef != 0.0 {
        lse.square().mean() * z_coef
    } else {
        ce.zeros_like()
    };
    LossParts {
        total: ce.clone() + z.clone(),
        ce,
        z,
    }
}
