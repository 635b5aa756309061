//! Chinchilla Approach 3 (Hoffmann et al. 2022) as replicated by Epoch AI (Besiroglu, Erdil, Barnett,
//! You 2024, "Chinchilla Scaling: A replication attempt"; code `epoch-research/analyzing-chinchilla`,
//! `data_analysis.ipynb` @ 9225883).
//!
//! The law is `L(N, D) = E + A/N^α + B/D^β`, fitted in the log-sum-exp form
//! `log L̂ = LSE(a − α·log N, b − β·log D, e)` with `A = eᵃ, B = eᵇ, E = eᵉ`, on the residuals of
//! the log loss.
//!
//! Two objectives appear in the notebook, and they give two different "Epoch" estimates:
//!
//! * [`Objective::Huber`] — Hoffmann's Approach 3 (notebook section "Replicate exactly"): the
//!   Huber loss (δ = 10⁻³) of `log L − log L̂`, summed over the points, minimised with L-BFGS from
//!   Hoffmann's 4,500-start grid, keeping the best *successful* run. The notebook's best is
//!   `A = 477.84, B = 2143.86, E = 1.8172, α = 0.34731, β = 0.36718`, objective `1.01827403e-3`.
//! * [`Objective::HuberLikelihood`] — the estimate Epoch *publishes* (paper Table 1 / notebook
//!   "Parameter estimates and their standard errors": `A = 482.01, B = 2085.43, E = 1.8169,
//!   α = 0.3478, β = 0.3659`): the maximum-likelihood fit under a Huber density of the log-loss
//!   residual with a free scale `σ` (BFGS started at Hoffmann's estimate). At the optimum the scale is
//!   so small (`e^σ ≈ 5·10⁻⁶`) that this is in effect a least-absolute-deviation fit.
//!
//! Both are reproduced here.
//!
//! # Options (recipe `[params]`)
//!
//! * `reduction = "sum" | "mean"` per fit ([`Reduction`]); Epoch sums, Hoffmann et al. reportedly
//!   averaged.
//! * `tolerances = { grad, cost, max_iters }` per fit ([`Tolerances`]); `SCIPY_DEFAULT` mirrors what
//!   the notebook ran with, `TIGHT` runs to numerical convergence.
//! * `starts = "hoffmann-grid" | "hoffmann-estimate"` ([`Starts`]).
//! * bootstrap `resamples` (Epoch: 4,000), `seed`, reduction and tolerances.
//!
//! # Deviations from the notebook (deliberate, all numerical-path only)
//!
//! * Optimiser: argmin's L-BFGS (memory 10, Moré–Thuente line search) with the analytic gradient,
//!   not scipy's L-BFGS-B with 2-point finite differences (grid) / BFGS with autograd (bootstrap,
//!   likelihood). Stopping tests differ in form (see [`Tolerances`]); individual starts therefore
//!   stop at slightly different points, the selected minimum is the same.
//! * The log-sum-exp is evaluated max-shifted (no overflow); the notebook's naive form can give
//!   inf/NaN on far line-search trials.
//! * Bootstrap indices come from ChaCha20 (seeded), not numpy's global MT19937 (`np.random.seed(42)`),
//!   so the resamples differ; the intervals agree statistically, not digit for digit. Each resample
//!   is refitted with L-BFGS (tolerances from the recipe) instead of scipy BFGS with `gtol = 1e-5`.
//! * Bad rows are errors (file + line + column), where pandas' `dropna()` would drop them silently.
//!
//! Everything is deterministic: every start is an independent, single-threaded L-BFGS run, the runs
//! are collected in grid order and reduced sequentially (first strictly smaller objective wins, as in
//! the notebook's `result.fun < best_loss`), and bootstrap resamples are drawn up front from a seeded
//! ChaCha stream.

use anyhow::{bail, ensure, Context, Result};
use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use lmrepro_report::{fmt_fixed, fmt_sig, Axis, LinePlot, SeriesStyle, Table};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// Reference values
// ---------------------------------------------------------------------------------------------

/// Hoffmann et al. 2022's published Approach-3 estimate (rounded, as printed in the paper).
pub const HOFFMANN_PUBLISHED: LawParams = LawParams {
    a_big: 406.4,
    b_big: 410.7,
    e_big: 1.69,
    alpha: 0.34,
    beta: 0.28,
};

/// Hoffmann's estimate in log space with the extra digits Epoch uses as `true_params`
/// (`[log A, log B, log E, α, β]`); Epoch starts its bootstrap fits and its likelihood fit here.
pub const HOFFMANN_UNROUNDED_LOG: [f64; 5] =
    [6.0073404, 6.0179186, 0.5267228, 0.33917084, 0.2849083];

/// Epoch's published estimate (notebook cell "Parameter estimates and their standard errors",
/// `%.5f`), the maximum-likelihood fit ([`Objective::HuberLikelihood`]).
pub const EPOCH_PUBLISHED: LawParams = LawParams {
    a_big: 482.00572,
    b_big: 2085.43420,
    e_big: 1.81686,
    alpha: 0.34781,
    beta: 0.36585,
};

/// Epoch's published bootstrap standard errors (same cell), order A, B, E, α, β.
pub const EPOCH_PUBLISHED_SE: [f64; 5] = [124.52232, 1293.28410, 0.02566, 0.01540, 0.02060];

/// Epoch's published 95 % bootstrap percentile intervals (notebook `%.3f`), order A, B, E, α, β.
pub const EPOCH_PUBLISHED_CI: [(f64, f64); 5] = [
    (285.214, 743.626),
    (1042.357, 5810.344),
    (1.769, 1.871),
    (0.317, 0.373),
    (0.331, 0.415),
];

/// The notebook's best run of the 4,500-start Huber grid ("Replicate exactly" cell), in log space,
/// with its objective. Printed with full precision by the notebook.
pub const EPOCH_GRID_LOG: [f64; 5] = [6.16927953, 7.67036499, 0.59731639, 0.34731266, 0.36718262];
/// Objective of [`EPOCH_GRID_LOG`] (sum reduction), as printed by the notebook.
pub const EPOCH_GRID_OBJECTIVE: f64 = 0.0010182740346154362;

/// Parameter names in the order used everywhere in this module.
pub const PARAM_NAMES: [&str; 5] = ["A", "B", "E", "alpha", "beta"];

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

/// One row of Epoch's `svg_extracted_data.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// 1-based line number in the CSV file (header = line 1).
    pub line: usize,
    /// Model size N (parameters).
    pub n: f64,
    /// Training compute C (FLOP).
    pub flop: f64,
    /// Training tokens D = C / (6 N), as the notebook derives it.
    pub d: f64,
    /// Final training loss.
    pub loss: f64,
}

/// Reads Epoch's CSV. Only `Model Size`, `Training FLOP` and `loss` are used; every other column must
/// still be present in every row, so a truncated or shifted line is caught.
///
/// Unlike the notebook (`dropna()`), a missing, non-numeric, non-finite or non-positive value is an
/// error naming the file, line and column: a silently dropped point would move the fit.
pub fn load_csv(path: &Path) -> Result<Vec<Point>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_csv(&text, &path.display().to_string())
}

/// [`load_csv`] on text already in memory; `origin` names the source in error messages.
pub fn parse_csv(text: &str, origin: &str) -> Result<Vec<Point>> {
    let mut lines = text.lines().enumerate();
    let (_, header) = lines
        .next()
        .with_context(|| format!("{origin}: empty file (expected a CSV header)"))?;
    let header: Vec<&str> = header.trim_end_matches('\r').split(',').collect();
    let col = |name: &str| -> Result<usize> {
        header.iter().position(|h| *h == name).with_context(|| {
            format!("{origin}: line 1: header has no column `{name}` (columns: {header:?})")
        })
    };
    let (c_n, c_flop, c_loss) = (col("Model Size")?, col("Training FLOP")?, col("loss")?);
    let mut points = Vec::new();
    for (i, raw) in lines {
        let line = i + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        if raw.contains('"') {
            bail!(
                "{origin}: line {line}: quoted CSV fields are not expected in this file: {raw:?}"
            );
        }
        let fields: Vec<&str> = raw.split(',').collect();
        if fields.len() != header.len() {
            bail!(
                "{origin}: line {line}: {} fields, the header has {}: {raw:?}",
                fields.len(),
                header.len()
            );
        }
        let num = |c: usize| -> Result<f64> {
            let cell = fields[c].trim();
            let v: f64 = cell.parse().map_err(|_| {
                anyhow::anyhow!(
                    "{origin}: line {line}: column `{}`: `{cell}` is not a number",
                    header[c]
                )
            })?;
            if !v.is_finite() || v <= 0.0 {
                bail!(
                    "{origin}: line {line}: column `{}`: {cell} is not a finite positive value",
                    header[c]
                );
            }
            Ok(v)
        };
        let (n, flop, loss) = (num(c_n)?, num(c_flop)?, num(c_loss)?);
        points.push(Point {
            line,
            n,
            flop,
            d: flop / (6.0 * n),
            loss,
        });
    }
    ensure!(
        !points.is_empty(),
        "{origin}: no data rows after the header"
    );
    Ok(points)
}

/// Epoch's outlier rule: with `k > 0`, keep the points whose loss is *strictly below* the k-th
/// largest loss (`losses[i] < sorted(losses)[-k]`), so ties with it are dropped too; `k = 0` keeps
/// everything. Fails when nothing is left.
pub fn drop_highest_losses(points: &[Point], k: usize) -> Result<Vec<Point>> {
    ensure!(!points.is_empty(), "empty fit set: no data points");
    if k == 0 {
        return Ok(points.to_vec());
    }
    ensure!(
        k <= points.len(),
        "cannot drop the {k} highest-loss points of only {} points",
        points.len()
    );
    let mut losses: Vec<f64> = points.iter().map(|p| p.loss).collect();
    losses.sort_by(f64::total_cmp);
    let cut = losses[losses.len() - k];
    let kept: Vec<Point> = points.iter().copied().filter(|p| p.loss < cut).collect();
    ensure!(
        !kept.is_empty(),
        "empty fit set: dropping the {k} highest-loss points (loss >= {cut}) leaves no point"
    );
    Ok(kept)
}

// ---------------------------------------------------------------------------------------------
// Law and objectives
// ---------------------------------------------------------------------------------------------

/// `L(N, D) = E + A/N^α + B/D^β` in natural units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LawParams {
    #[serde(rename = "A")]
    pub a_big: f64,
    #[serde(rename = "B")]
    pub b_big: f64,
    #[serde(rename = "E")]
    pub e_big: f64,
    pub alpha: f64,
    pub beta: f64,
}

impl LawParams {
    /// From `[log A, log B, log E, α, β]`.
    pub fn from_log(x: &[f64]) -> Self {
        LawParams {
            a_big: x[0].exp(),
            b_big: x[1].exp(),
            e_big: x[2].exp(),
            alpha: x[3],
            beta: x[4],
        }
    }
    /// `[log A, log B, log E, α, β]`.
    pub fn to_log(&self) -> [f64; 5] {
        [
            self.a_big.ln(),
            self.b_big.ln(),
            self.e_big.ln(),
            self.alpha,
            self.beta,
        ]
    }
    /// Order A, B, E, α, β.
    pub fn as_array(&self) -> [f64; 5] {
        [self.a_big, self.b_big, self.e_big, self.alpha, self.beta]
    }
    pub fn predict(&self, n: f64, d: f64) -> f64 {
        self.e_big + self.a_big / n.powf(self.alpha) + self.b_big / d.powf(self.beta)
    }
}

/// How per-point losses are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// `Σ huber(r_i)` — what Epoch's notebook does (`np.sum`).
    Sum,
    /// `(1/n) Σ huber(r_i)` — what Hoffmann et al. used according to Epoch's later exchange with the
    /// authors; with scipy's absolute-looking stopping rule it stops much earlier.
    Mean,
}

/// Which function is minimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// Huber loss of the log-loss residuals (Approach 3), parameters `[a, b, e, α, β]`.
    Huber,
    /// Negative log-likelihood under Epoch's Huber density with a free log-scale `σ`, parameters
    /// `[a, b, e, α, β, σ]` (always a sum over points).
    HuberLikelihood,
}

/// Huber loss `ρ_δ(r)` and its derivative.
#[inline]
fn huber(r: f64, delta: f64) -> (f64, f64) {
    if r.abs() <= delta {
        (0.5 * r * r, r)
    } else {
        (delta * (r.abs() - 0.5 * delta), delta * r.signum())
    }
}

/// `erf(x)` by its Maclaurin series; only used for the likelihood's normalising constant, where
/// `x = δ/√2` is small. Accurate to ~1e-15 relative for |x| ≤ 2 (the only range accepted).
fn erf_small(x: f64) -> f64 {
    // erf(x) = 2/√π Σ (-1)^k x^(2k+1) / (k! (2k+1))
    let mut term = x; // (-1)^k x^(2k+1) / k!
    let mut sum = x;
    for k in 1..200 {
        term *= -x * x / k as f64;
        let add = term / (2 * k + 1) as f64;
        sum += add;
        if add.abs() < 1e-18 * sum.abs() {
            break;
        }
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

/// `log Z(δ)` of Epoch's `huber_normalizing_factor`:
/// `Z = √(2π)·(1 − 2·Φ̄(δ)) + 2·exp(−δ²/2)/δ`, with `1 − 2Φ̄(δ) = erf(δ/√2)`.
pub fn huber_log_normalizer(delta: f64) -> f64 {
    let z = (2.0 * std::f64::consts::PI).sqrt() * erf_small(delta / std::f64::consts::SQRT_2)
        + 2.0 * (-0.5 * delta * delta).exp() / delta;
    z.ln()
}

/// The data of one fit in the form the objectives need.
#[derive(Debug, Clone)]
pub struct FitData {
    pub ln_n: Vec<f64>,
    pub ln_d: Vec<f64>,
    pub ln_loss: Vec<f64>,
}

impl FitData {
    pub fn new(points: &[Point]) -> Result<Self> {
        ensure!(!points.is_empty(), "empty fit set: no points to fit");
        for p in points {
            ensure!(
                p.n > 0.0 && p.d > 0.0 && p.loss > 0.0 && p.d.is_finite(),
                "line {}: N, D and loss must be finite and positive (N={}, D={}, loss={})",
                p.line,
                p.n,
                p.d,
                p.loss
            );
        }
        Ok(FitData {
            ln_n: points.iter().map(|p| p.n.ln()).collect(),
            ln_d: points.iter().map(|p| p.d.ln()).collect(),
            ln_loss: points.iter().map(|p| p.loss.ln()).collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.ln_n.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ln_n.is_empty()
    }

    /// A bootstrap resample: the rows `idx` (with repetition).
    pub fn select(&self, idx: &[usize]) -> Self {
        FitData {
            ln_n: idx.iter().map(|&i| self.ln_n[i]).collect(),
            ln_d: idx.iter().map(|&i| self.ln_d[i]).collect(),
            ln_loss: idx.iter().map(|&i| self.ln_loss[i]).collect(),
        }
    }

    /// `log L̂_i` and the softmax weights of its three terms, for `x = [a, b, e, α, β, ..]`.
    /// The max-shifted log-sum-exp never overflows (the notebook's naive `log(exp+exp+exp)` can, for
    /// far-away line-search trials; there it yields inf/NaN and the trial is rejected).
    #[inline]
    fn lse(&self, i: usize, x: &[f64]) -> (f64, [f64; 3]) {
        let t1 = x[0] - x[3] * self.ln_n[i];
        let t2 = x[1] - x[4] * self.ln_d[i];
        let t3 = x[2];
        let m = t1.max(t2).max(t3);
        let (w1, w2, w3) = ((t1 - m).exp(), (t2 - m).exp(), (t3 - m).exp());
        let s = w1 + w2 + w3;
        (m + s.ln(), [w1 / s, w2 / s, w3 / s])
    }

    /// Objective value and gradient. Sums run in point order, so results are bit-reproducible.
    pub fn value_grad(&self, obj: &ObjectiveSpec, x: &[f64]) -> (f64, Vec<f64>) {
        let delta = obj.delta;
        match obj.objective {
            Objective::Huber => {
                let mut f = 0.0;
                let mut g = vec![0.0; 5];
                for i in 0..self.len() {
                    let (pred, w) = self.lse(i, x);
                    let (h, dh) = huber(self.ln_loss[i] - pred, delta);
                    f += h;
                    // d r / d θ = − d pred / d θ
                    g[0] -= dh * w[0];
                    g[1] -= dh * w[1];
                    g[2] -= dh * w[2];
                    g[3] += dh * w[0] * self.ln_n[i];
                    g[4] += dh * w[1] * self.ln_d[i];
                }
                if obj.reduction == Reduction::Mean {
                    let k = 1.0 / self.len() as f64;
                    f *= k;
                    g.iter_mut().for_each(|v| *v *= k);
                }
                (f, g)
            }
            Objective::HuberLikelihood => {
                let sigma = x[5];
                let inv_s = (-sigma).exp();
                let n = self.len() as f64;
                let mut f = 0.0;
                let mut g = vec![0.0; 6];
                for i in 0..self.len() {
                    let (pred, w) = self.lse(i, x);
                    let z = (self.ln_loss[i] - pred) * inv_s;
                    let (h, dh) = huber(z, delta);
                    f += h;
                    let c = dh * inv_s;
                    g[0] -= c * w[0];
                    g[1] -= c * w[1];
                    g[2] -= c * w[2];
                    g[3] += c * w[0] * self.ln_n[i];
                    g[4] += c * w[1] * self.ln_d[i];
                    g[5] -= dh * z;
                }
                f += n * (huber_log_normalizer(delta) + sigma);
                g[5] += n;
                (f, g)
            }
        }
    }
}

/// Objective + its settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveSpec {
    pub objective: Objective,
    pub reduction: Reduction,
    pub delta: f64,
}

impl ObjectiveSpec {
    pub fn dim(&self) -> usize {
        match self.objective {
            Objective::Huber => 5,
            Objective::HuberLikelihood => 6,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// L-BFGS
// ---------------------------------------------------------------------------------------------

/// Stopping rule of one L-BFGS run (argmin's `LBFGS`): stop when `‖∇f‖₂ < grad` or
/// `|f_{k−1} − f_k| < cost`, or after `max_iters` iterations.
///
/// scipy's L-BFGS-B stops on `max|proj ∇f| ≤ gtol` (1e-5) or
/// `(f_{k−1} − f_k) / max(|f_{k−1}|, |f_k|, 1) ≤ ftol` (`factr·eps` = 2.22e-9). Because the Huber
/// objective is far below 1, scipy's relative test is in fact an absolute one, which is what
/// [`Tolerances::SCIPY_DEFAULT`] reproduces (∞-norm vs 2-norm of the gradient is the remaining
/// difference).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerances {
    pub grad: f64,
    pub cost: f64,
    pub max_iters: u64,
}

impl Tolerances {
    /// scipy `minimize(method="L-BFGS-B")` defaults (what Epoch's grid ran with).
    pub const SCIPY_DEFAULT: Tolerances = Tolerances {
        grad: 1e-5,
        cost: 2.220446049250313e-9,
        max_iters: 15000,
    };
    /// Run to numerical convergence.
    pub const TIGHT: Tolerances = Tolerances {
        grad: 1e-12,
        cost: 1e-20,
        max_iters: 15000,
    };
}

/// How an L-BFGS run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// A tolerance was met (scipy's `success = True`).
    Converged,
    /// The line search could not make progress (scipy's `ABNORMAL_TERMINATION_IN_LNSRCH`).
    LineSearchFailed,
    /// `max_iters` reached.
    MaxIters,
    /// The objective was not finite at the start.
    NonFinite,
}

/// Result of one start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub start: Vec<f64>,
    pub x: Vec<f64>,
    pub cost: f64,
    pub iters: u64,
    pub status: RunStatus,
}

/// A point with its objective value and gradient.
type Evaluated = (Vec<f64>, f64, Vec<f64>);

struct ArgminProblem<'a> {
    data: &'a FitData,
    spec: ObjectiveSpec,
    /// The last point evaluated with its value and gradient: argmin asks for the cost and the
    /// gradient at the same point separately, and one pass computes both.
    cache: std::cell::RefCell<Option<Evaluated>>,
}

impl ArgminProblem<'_> {
    fn eval(&self, x: &[f64]) -> (f64, Vec<f64>) {
        let mut cache = self.cache.borrow_mut();
        if let Some((cx, f, g)) = cache.as_ref() {
            if cx.as_slice() == x {
                return (*f, g.clone());
            }
        }
        let (f, g) = self.data.value_grad(&self.spec, x);
        *cache = Some((x.to_vec(), f, g.clone()));
        (f, g)
    }
}

impl CostFunction for ArgminProblem<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        let (f, _) = self.eval(x);
        // Non-finite trial points (possible only far out in a line search) are made +inf so the
        // line search backs off instead of propagating NaN.
        Ok(if f.is_finite() { f } else { f64::INFINITY })
    }
}

impl Gradient for ArgminProblem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, x: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(x).1)
    }
}

/// L-BFGS history length (scipy's default `maxcor = 10`).
pub const LBFGS_MEMORY: usize = 10;

/// One L-BFGS run with a Moré–Thuente line search and the analytic gradient.
pub fn lbfgs(data: &FitData, spec: &ObjectiveSpec, start: &[f64], tol: &Tolerances) -> Run {
    assert_eq!(
        start.len(),
        spec.dim(),
        "start vector has the wrong dimension"
    );
    let (f0, _) = data.value_grad(spec, start);
    if !f0.is_finite() {
        return Run {
            start: start.to_vec(),
            x: start.to_vec(),
            cost: f0,
            iters: 0,
            status: RunStatus::NonFinite,
        };
    }
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), LBFGS_MEMORY)
        .with_tolerance_grad(tol.grad)
        .and_then(|s| s.with_tolerance_cost(tol.cost))
        .expect("tolerances are validated non-negative");
    let problem = ArgminProblem {
        data,
        spec: *spec,
        cache: Default::default(),
    };
    let res = Executor::new(problem, solver)
        .configure(|s| s.param(start.to_vec()).max_iters(tol.max_iters))
        .timer(false)
        .ctrlc(false)
        .run();
    match res {
        Ok(mut res) => {
            let state = &mut res.state;
            let status = match state.get_termination_reason() {
                Some(TerminationReason::SolverConverged) => RunStatus::Converged,
                Some(TerminationReason::MaxItersReached) => RunStatus::MaxIters,
                _ => RunStatus::LineSearchFailed,
            };
            let iters = state.get_iter();
            let cost = state.get_best_cost();
            let x = state.take_best_param().unwrap_or_else(|| start.to_vec());
            Run {
                start: start.to_vec(),
                x,
                cost,
                iters,
                status,
            }
        }
        // argmin only errors here on an internal failure of the first line search setup (e.g. a
        // zero search direction); report it like scipy's abnormal termination.
        Err(_) => Run {
            start: start.to_vec(),
            x: start.to_vec(),
            cost: f0,
            iters: 0,
            status: RunStatus::LineSearchFailed,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Grid fits
// ---------------------------------------------------------------------------------------------

/// Hoffmann's initialisation grid, in the notebook's `product(alpha, beta, e, a, b)` order; each start
/// is `[a, b, e, α, β]`: α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25}.
pub fn hoffmann_grid() -> Vec<[f64; 5]> {
    let ab: Vec<f64> = (0..5).map(|i| 0.5 * i as f64).collect();
    let e: Vec<f64> = (0..5).map(|i| -1.0 + 0.5 * i as f64).collect();
    let big: Vec<f64> = (0..6).map(|i| 5.0 * i as f64).collect();
    let mut out = Vec::with_capacity(4500);
    for &alpha in &ab {
        for &beta in &ab {
            for &ee in &e {
                for &a in &big {
                    for &b in &big {
                        out.push([a, b, ee, alpha, beta]);
                    }
                }
            }
        }
    }
    out
}

/// Where the runs of a fit start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Starts {
    /// [`hoffmann_grid`] (4,500 starts).
    HoffmannGrid,
    /// One start at Hoffmann's estimate ([`HOFFMANN_UNROUNDED_LOG`], plus `σ = 0` for the likelihood),
    /// as in Epoch's bootstrap and likelihood fits.
    HoffmannEstimate,
}

impl Starts {
    pub fn points(&self, spec: &ObjectiveSpec) -> Vec<Vec<f64>> {
        let base: Vec<[f64; 5]> = match self {
            Starts::HoffmannGrid => hoffmann_grid(),
            Starts::HoffmannEstimate => vec![HOFFMANN_UNROUNDED_LOG],
        };
        base.into_iter()
            .map(|s| {
                let mut v = s.to_vec();
                if spec.objective == Objective::HuberLikelihood {
                    v.push(0.0);
                }
                v
            })
            .collect()
    }
}

/// A full fit: every start, and the selected best.
#[derive(Debug, Clone, Serialize)]
pub struct Fit {
    pub spec: ObjectiveSpec,
    pub tolerances: Tolerances,
    pub best: Run,
    pub n_starts: usize,
    pub n_converged: usize,
    pub n_line_search_failed: usize,
    pub n_max_iters: usize,
    pub n_non_finite: usize,
}

impl Fit {
    pub fn params(&self) -> LawParams {
        LawParams::from_log(&self.best.x)
    }
}

/// Runs L-BFGS from every start, in parallel; the result is in start order.
pub fn run_starts(
    data: &FitData,
    spec: &ObjectiveSpec,
    tol: &Tolerances,
    starts: &[Vec<f64>],
) -> Vec<Run> {
    starts
        .par_iter()
        .map(|s| lbfgs(data, spec, s, tol))
        .collect()
}

/// Runs L-BFGS from every start (in parallel) and keeps, in start order, the first run with the
/// strictly smallest objective among the *converged* runs (the notebook's `result.success and
/// result.fun < best_loss`). If no run converged, falls back to all finite runs (and says so via
/// `n_converged = 0`).
pub fn fit(
    data: &FitData,
    spec: &ObjectiveSpec,
    tol: &Tolerances,
    starts: &[Vec<f64>],
) -> Result<Fit> {
    ensure!(!data.is_empty(), "empty fit set: no points to fit");
    ensure!(!starts.is_empty(), "no start points");
    ensure!(
        spec.delta.is_finite() && spec.delta > 0.0 && spec.delta <= 2.0,
        "huber delta must be in (0, 2], got {}",
        spec.delta
    );
    ensure!(
        tol.grad >= 0.0 && tol.cost >= 0.0 && tol.max_iters > 0,
        "invalid tolerances {tol:?}"
    );
    let runs = run_starts(data, spec, tol, starts);
    let count = |st: RunStatus| runs.iter().filter(|r| r.status == st).count();
    let pick = |accept: &dyn Fn(&Run) -> bool| -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, r) in runs.iter().enumerate() {
            if accept(r) && r.cost.is_finite() && best.is_none_or(|b| r.cost < runs[b].cost) {
                best = Some(i);
            }
        }
        best
    };
    let best = pick(&|r| r.status == RunStatus::Converged)
        .or_else(|| pick(&|_| true))
        .context("every start gave a non-finite objective")?;
    Ok(Fit {
        spec: *spec,
        tolerances: *tol,
        best: runs[best].clone(),
        n_starts: runs.len(),
        n_converged: count(RunStatus::Converged),
        n_line_search_failed: count(RunStatus::LineSearchFailed),
        n_max_iters: count(RunStatus::MaxIters),
        n_non_finite: count(RunStatus::NonFinite),
    })
}

// ---------------------------------------------------------------------------------------------
// Bootstrap
// ---------------------------------------------------------------------------------------------

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapOptions {
    /// Number of resamples (Epoch: 4,000).
    pub resamples: usize,
    /// Seed of the ChaCha20 stream that draws the resample indices.
    pub seed: u64,
}

/// Bootstrap distribution of the five law parameters.
#[derive(Debug, Clone, Serialize)]
pub struct Bootstrap {
    pub options: BootstrapOptions,
    pub spec: ObjectiveSpec,
    pub tolerances: Tolerances,
    /// One row per resample, order A, B, E, α, β.
    pub samples: Vec<[f64; 5]>,
    pub n_converged: usize,
}

/// Summary statistics of one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParamSummary {
    pub mean: f64,
    /// Sample standard deviation (ddof = 1, as `np.cov`).
    pub se: f64,
    pub p2_5: f64,
    pub p97_5: f64,
}

/// Draws `resamples` index vectors of length `n` (with replacement) from ChaCha20 seeded with `seed`.
/// Drawn sequentially before any fitting, so the resamples do not depend on thread scheduling.
pub fn resample_indices(n: usize, resamples: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..resamples)
        .map(|_| (0..n).map(|_| rng.gen_range(0..n)).collect())
        .collect()
}

/// Epoch's bootstrap: resample the fit set with replacement, refit each resample from Hoffmann's
/// estimate (one start, as the notebook's bootstrap loop), collect the parameters.
pub fn bootstrap(
    data: &FitData,
    spec: &ObjectiveSpec,
    tol: &Tolerances,
    opts: &BootstrapOptions,
) -> Result<Bootstrap> {
    ensure!(!data.is_empty(), "empty fit set: nothing to resample");
    ensure!(opts.resamples >= 2, "bootstrap needs at least 2 resamples");
    ensure!(
        spec.objective == Objective::Huber,
        "the bootstrap refits the Huber objective (as Epoch's notebook does)"
    );
    let idx = resample_indices(data.len(), opts.resamples, opts.seed);
    let start = HOFFMANN_UNROUNDED_LOG.to_vec();
    let runs: Vec<Run> = idx
        .par_iter()
        .map(|ix| lbfgs(&data.select(ix), spec, &start, tol))
        .collect();
    Ok(Bootstrap {
        options: *opts,
        spec: *spec,
        tolerances: *tol,
        n_converged: runs
            .iter()
            .filter(|r| r.status == RunStatus::Converged)
            .count(),
        samples: runs
            .iter()
            .map(|r| LawParams::from_log(&r.x).as_array())
            .collect(),
    })
}

/// numpy's default (`method="linear"`) percentile of sorted data.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

impl Bootstrap {
    pub fn summary(&self) -> [ParamSummary; 5] {
        std::array::from_fn(|j| {
            let mut v: Vec<f64> = self.samples.iter().map(|s| s[j]).collect();
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
            v.sort_by(f64::total_cmp);
            ParamSummary {
                mean,
                se: var.sqrt(),
                p2_5: percentile_sorted(&v, 2.5),
                p97_5: percentile_sorted(&v, 97.5),
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Recipe and reproduce
// ---------------------------------------------------------------------------------------------

/// One fit of the recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    /// Short id used in tables and file names.
    pub name: String,
    pub objective: Objective,
    #[serde(default = "default_reduction")]
    pub reduction: Reduction,
    pub starts: Starts,
    pub tolerances: Tolerances,
}

fn default_reduction() -> Reduction {
    Reduction::Sum
}

/// `[params]` of recipe `chinchilla-approach3`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Input name of Epoch's CSV.
    pub input: String,
    /// Number of highest-loss points to drop (Epoch: 5).
    pub drop_highest: usize,
    /// Huber δ (Hoffmann/Epoch: 1e-3).
    pub huber_delta: f64,
    pub fits: Vec<FitConfig>,
    /// Name of the fit whose parameters head the bootstrap table and the plot.
    pub primary_fit: String,
    pub bootstrap: BootstrapConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapConfig {
    pub resamples: usize,
    pub seed: u64,
    pub reduction: Reduction,
    pub tolerances: Tolerances,
}

impl Params {
    fn validate(&self) -> Result<()> {
        ensure!(!self.fits.is_empty(), "[params] lists no fits");
        let mut names = std::collections::BTreeSet::new();
        for f in &self.fits {
            ensure!(names.insert(&f.name), "fit `{}` is listed twice", f.name);
            ensure!(
                f.tolerances.grad >= 0.0 && f.tolerances.cost >= 0.0 && f.tolerances.max_iters > 0,
                "fit `{}`: invalid tolerances {:?}",
                f.name,
                f.tolerances
            );
        }
        ensure!(
            self.fits.iter().any(|f| f.name == self.primary_fit),
            "primary_fit `{}` is not one of the fits",
            self.primary_fit
        );
        Ok(())
    }
}

/// Everything `reproduce` computes, also serialised to `results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub n_points: usize,
    pub n_fit: usize,
    pub fits: Vec<(FitConfig, Fit, f64)>,
    pub bootstrap: Bootstrap,
}

/// Runs every fit of the recipe and the bootstrap. Returns the fits with their wall time in seconds.
pub fn run(params: &Params, points: &[Point]) -> Result<Outcome> {
    params.validate()?;
    let kept = drop_highest_losses(points, params.drop_highest)?;
    let data = FitData::new(&kept)?;
    let mut fits = Vec::new();
    for cfg in &params.fits {
        let spec = ObjectiveSpec {
            objective: cfg.objective,
            reduction: cfg.reduction,
            delta: params.huber_delta,
        };
        let t0 = std::time::Instant::now();
        let f = fit(&data, &spec, &cfg.tolerances, &cfg.starts.points(&spec))
            .with_context(|| format!("fit `{}`", cfg.name))?;
        fits.push((cfg.clone(), f, t0.elapsed().as_secs_f64()));
    }
    let bspec = ObjectiveSpec {
        objective: Objective::Huber,
        reduction: params.bootstrap.reduction,
        delta: params.huber_delta,
    };
    let bootstrap = bootstrap(
        &data,
        &bspec,
        &params.bootstrap.tolerances,
        &BootstrapOptions {
            resamples: params.bootstrap.resamples,
            seed: params.bootstrap.seed,
        },
    )?;
    Ok(Outcome {
        n_points: points.len(),
        n_fit: kept.len(),
        fits,
        bootstrap,
    })
}

fn fmt_params(p: &LawParams) -> [String; 5] {
    [
        fmt_fixed(p.e_big, 4),
        fmt_fixed(p.a_big, 2),
        fmt_fixed(p.b_big, 2),
        fmt_fixed(p.alpha, 4),
        fmt_fixed(p.beta, 4),
    ]
}

fn tol_label(t: &Tolerances) -> String {
    if *t == Tolerances::SCIPY_DEFAULT {
        "scipy-default".into()
    } else if t.cost == 0.0 {
        format!("grad<{:e} only", t.grad)
    } else {
        format!("grad<{:e}, Δf<{:e}", t.grad, t.cost)
    }
}

fn status_label(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Converged => "converged",
        RunStatus::LineSearchFailed => "line search stopped",
        RunStatus::MaxIters => "max iters",
        RunStatus::NonFinite => "non-finite",
    }
}

/// Regenerates `results/chinchilla-approach3/` into `out_dir`. Returns the table files to pin.
pub fn reproduce(
    recipe: &lmrepro_data::Recipe,
    resolver: &lmrepro_data::Resolver,
    out_dir: &Path,
) -> Result<Vec<String>> {
    let params: Params = recipe.params()?;
    let path = recipe.resolve(resolver, &params.input)?;
    let points = load_csv(&path)?;
    let outcome = run(&params, &points)?;
    write_outputs(&params, &points, &outcome, out_dir)
}

/// Writes tables, CSV, JSON and the plot. Byte-deterministic (timings go to stderr only).
pub fn write_outputs(
    params: &Params,
    points: &[Point],
    outcome: &Outcome,
    out_dir: &Path,
) -> Result<Vec<String>> {
    let kept = drop_highest_losses(points, params.drop_highest)?;
    let data = FitData::new(&kept)?;
    let huber_sum = ObjectiveSpec {
        objective: Objective::Huber,
        reduction: Reduction::Sum,
        delta: params.huber_delta,
    };
    let sum_obj = |x: &[f64]| data.value_grad(&huber_sum, &x[..5]).0;

    // --- fits.md / fits.csv ---
    let mut t = Table::new([
        "fit",
        "objective",
        "reduction",
        "tolerances",
        "starts",
        "E",
        "A",
        "B",
        "alpha",
        "beta",
        "Huber sum objective",
    ]);
    for (cfg, f, secs) in &outcome.fits {
        eprintln!(
            "chinchilla: fit `{}`: {} starts in {secs:.2} s",
            cfg.name, f.n_starts
        );
        let mut row = vec![
            cfg.name.clone(),
            match cfg.objective {
                Objective::Huber => "huber".to_string(),
                Objective::HuberLikelihood => "huber-likelihood".to_string(),
            },
            match (cfg.objective, cfg.reduction) {
                (Objective::HuberLikelihood, _) => "sum".to_string(),
                (_, Reduction::Sum) => "sum".to_string(),
                (_, Reduction::Mean) => "mean".to_string(),
            },
            tol_label(&cfg.tolerances),
            match cfg.starts {
                Starts::HoffmannGrid => {
                    format!("grid {} ({} converged)", f.n_starts, f.n_converged)
                }
                Starts::HoffmannEstimate => format!(
                    "Hoffmann estimate ({}, {} iters)",
                    status_label(f.best.status),
                    f.best.iters
                ),
            },
        ];
        row.extend(fmt_params(&f.params()));
        row.push(fmt_sig(sum_obj(&f.best.x), 8));
        t.push(row);
    }
    let refs: [(&str, &str, [f64; 5]); 3] = [
        ("Epoch notebook grid (reference)", "huber", EPOCH_GRID_LOG),
        (
            "Epoch published (reference)",
            "huber-likelihood",
            EPOCH_PUBLISHED.to_log(),
        ),
        (
            "Hoffmann et al. published (reference)",
            "huber",
            HOFFMANN_PUBLISHED.to_log(),
        ),
    ];
    for (name, obj, x) in refs {
        let mut row = vec![
            name.to_string(),
            obj.to_string(),
            "-".into(),
            "-".into(),
            "-".into(),
        ];
        row.extend(fmt_params(&LawParams::from_log(&x)));
        row.push(fmt_sig(sum_obj(&x), 8));
        t.push(row);
    }
    let mut md = String::new();
    md.push_str(&format!(
        "# Chinchilla Approach 3 on Epoch's data ({} of {} points; the {} highest-loss dropped)\n\n",
        outcome.n_fit, outcome.n_points, params.drop_highest
    ));
    md.push_str(&t.to_markdown());
    md.push_str(
        "\nHuber sum objective: `Σ huber_δ(log L − LSE(a − α log N, b − β log D, e))` with \
         δ = ",
    );
    md.push_str(&format!("{}", params.huber_delta));
    md.push_str(
        " over the fit set, evaluated at each row's parameters (reference rows: at their printed \
         values).\n\n\
         Tolerances: L-BFGS (argmin, memory 10, Moré–Thuente, analytic gradient) stops when \
         ‖∇f‖₂ < grad or |f_{k−1} − f_k| < Δf. `scipy-default` = grad 1e-5, Δf 2.220446e-9: scipy \
         L-BFGS-B's gtol and factr·eps, whose relative cost test is absolute here because f < 1. \
         `huber-likelihood` is Epoch's Huber-density maximum-likelihood fit with a free scale (the \
         estimate Epoch publishes); every other row minimises the Huber loss itself.\n",
    );
    lmrepro_report::write_file(out_dir, "fits.md", md)?;
    lmrepro_report::write_file(out_dir, "fits.csv", t.to_csv())?;

    // --- bootstrap.md / bootstrap.csv ---
    let primary = &outcome
        .fits
        .iter()
        .find(|(c, _, _)| c.name == params.primary_fit)
        .context("primary fit missing")?
        .1;
    let est = primary.params().as_array();
    let summary = outcome.bootstrap.summary();
    let digits = [2usize, 2, 4, 4, 4];
    let mut bt = Table::new([
        "parameter",
        "estimate",
        "bootstrap SE",
        "2.5%",
        "97.5%",
        "Epoch estimate",
        "Epoch SE",
        "Epoch 2.5%",
        "Epoch 97.5%",
    ]);
    let epoch = EPOCH_PUBLISHED.as_array();
    for j in 0..5 {
        let d = digits[j];
        bt.push([
            PARAM_NAMES[j].to_string(),
            fmt_fixed(est[j], d),
            fmt_fixed(summary[j].se, d),
            fmt_fixed(summary[j].p2_5, d),
            fmt_fixed(summary[j].p97_5, d),
            fmt_fixed(epoch[j], d),
            fmt_fixed(EPOCH_PUBLISHED_SE[j], d),
            fmt_fixed(EPOCH_PUBLISHED_CI[j].0, 3),
            fmt_fixed(EPOCH_PUBLISHED_CI[j].1, 3),
        ]);
    }
    let b = &outcome.bootstrap;
    let mut bmd = format!(
        "# Bootstrap ({} resamples, ChaCha20 seed {}, {} reduction, refit from Hoffmann's estimate; \
         {} of {} runs converged)\n\n",
        b.options.resamples,
        b.options.seed,
        match b.spec.reduction {
            Reduction::Sum => "sum",
            Reduction::Mean => "mean",
        },
        b.n_converged,
        b.samples.len()
    );
    bmd.push_str(&bt.to_markdown());
    bmd.push_str(&format!(
        "\nEstimate: fit `{}`. Percentile intervals are numpy-linear; SE is the sample standard \
         deviation (ddof = 1) of the untransformed parameters. Epoch's columns: notebook output \
         (4,000 numpy-seeded resamples, BFGS).\n",
        params.primary_fit
    ));
    lmrepro_report::write_file(out_dir, "bootstrap.md", bmd)?;
    lmrepro_report::write_file(out_dir, "bootstrap.csv", bt.to_csv())?;

    // --- points.csv: data with predictions of every fit ---
    let mut pt = Table::new(
        ["line", "N", "D", "C", "loss"]
            .into_iter()
            .map(String::from)
            .chain(
                outcome
                    .fits
                    .iter()
                    .map(|(c, _, _)| format!("pred_{}", c.name)),
            ),
    );
    for p in &kept {
        let mut row = vec![
            p.line.to_string(),
            fmt_sig(p.n, 10),
            fmt_sig(p.d, 10),
            fmt_sig(p.flop, 10),
            fmt_fixed(p.loss, 6),
        ];
        for (_, f, _) in &outcome.fits {
            row.push(fmt_fixed(f.params().predict(p.n, p.d), 6));
        }
        pt.push(row);
    }
    lmrepro_report::write_file(out_dir, "points.csv", pt.to_csv())?;

    // --- results.json (timings excluded: not deterministic) ---
    #[derive(Serialize)]
    struct JsonFit<'a> {
        config: &'a FitConfig,
        params: LawParams,
        log_params: &'a [f64],
        objective: f64,
        huber_sum_objective: f64,
        iters: u64,
        status: RunStatus,
        start: &'a [f64],
        n_starts: usize,
        n_converged: usize,
        n_line_search_failed: usize,
        n_max_iters: usize,
        n_non_finite: usize,
    }
    #[derive(Serialize)]
    struct JsonSummary {
        parameter: &'static str,
        #[serde(flatten)]
        s: ParamSummary,
    }
    #[derive(Serialize)]
    struct Json<'a> {
        n_points: usize,
        n_fit: usize,
        drop_highest: usize,
        huber_delta: f64,
        fits: Vec<JsonFit<'a>>,
        bootstrap: serde_json::Value,
    }
    let json = Json {
        n_points: outcome.n_points,
        n_fit: outcome.n_fit,
        drop_highest: params.drop_highest,
        huber_delta: params.huber_delta,
        fits: outcome
            .fits
            .iter()
            .map(|(c, f, _)| JsonFit {
                config: c,
                params: f.params(),
                log_params: &f.best.x,
                objective: f.best.cost,
                huber_sum_objective: sum_obj(&f.best.x),
                iters: f.best.iters,
                status: f.best.status,
                start: &f.best.start,
                n_starts: f.n_starts,
                n_converged: f.n_converged,
                n_line_search_failed: f.n_line_search_failed,
                n_max_iters: f.n_max_iters,
                n_non_finite: f.n_non_finite,
            })
            .collect(),
        bootstrap: serde_json::json!({
            "resamples": b.options.resamples,
            "seed": b.options.seed,
            "reduction": b.spec.reduction,
            "tolerances": b.tolerances,
            "n_converged": b.n_converged,
            "summary": (0..5).map(|j| JsonSummary { parameter: PARAM_NAMES[j], s: summary[j] })
                .collect::<Vec<_>>(),
        }),
    };
    lmrepro_report::write_file(
        out_dir,
        "results.json",
        lmrepro_report::to_json_pretty(&json)?,
    )?;

    // --- predicted vs actual plot ---
    let mut plot = LinePlot::new(
        "Chinchilla Approach 3: predicted vs actual loss",
        Axis::linear("actual loss"),
        Axis::linear("predicted loss"),
    );
    let lo = kept.iter().map(|p| p.loss).fold(f64::INFINITY, f64::min);
    let hi = kept
        .iter()
        .map(|p| p.loss)
        .fold(f64::NEG_INFINITY, f64::max);
    plot.add("y = x", vec![(lo, lo), (hi, hi)], SeriesStyle::DashedLine);
    plot.add(
        format!("fit `{}`", params.primary_fit),
        kept.iter()
            .map(|p| (p.loss, primary.params().predict(p.n, p.d)))
            .collect(),
        SeriesStyle::Points,
    );
    plot.add(
        "Hoffmann et al. published",
        kept.iter()
            .map(|p| (p.loss, HOFFMANN_PUBLISHED.predict(p.n, p.d)))
            .collect(),
        SeriesStyle::Points,
    );
    lmrepro_report::write_file(out_dir, "predicted_vs_actual.svg", plot.to_svg()?)?;

    Ok(vec!["fits.md".into(), "bootstrap.md".into()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &str = "x,y,color,Model Size,Training FLOP,hex_color,loss";

    fn toy() -> FitData {
        let text = format!(
            "{HEADER}\n1,1,#a,1e8,1e19,#a,3.1\n1,1,#a,4e8,3e19,#a,2.7\n1,1,#a,1e9,1e20,#a,2.45\n\
             1,1,#a,3e9,1e21,#a,2.2\n1,1,#a,7e9,5e21,#a,2.05\n1,1,#a,2e8,1e20,#a,2.6\n"
        );
        FitData::new(&parse_csv(&text, "toy").unwrap()).unwrap()
    }

    fn check_gradient(spec: ObjectiveSpec, x: &[f64]) {
        let data = toy();
        let (_, g) = data.value_grad(&spec, x);
        for j in 0..x.len() {
            let h = 1e-6;
            let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
            xp[j] += h;
            xm[j] -= h;
            let fd = (data.value_grad(&spec, &xp).0 - data.value_grad(&spec, &xm).0) / (2.0 * h);
            let scale = g[j].abs().max(fd.abs()).max(1e-8);
            assert!(
                (g[j] - fd).abs() / scale < 1e-4,
                "{spec:?} d/dx{j}: analytic {} vs central difference {fd}",
                g[j]
            );
        }
    }

    #[test]
    fn analytic_gradients_match_finite_differences() {
        // A large delta keeps some residuals in the quadratic zone, a small one puts all in the linear
        // zone; both branches of the Huber derivative are exercised.
        let x = [6.0, 6.5, 0.55, 0.33, 0.30];
        for delta in [1e-3, 0.5] {
            for reduction in [Reduction::Sum, Reduction::Mean] {
                let spec = ObjectiveSpec {
                    objective: Objective::Huber,
                    reduction,
                    delta,
                };
                check_gradient(spec, &x);
            }
            let spec = ObjectiveSpec {
                objective: Objective::HuberLikelihood,
                reduction: Reduction::Sum,
                delta,
            };
            check_gradient(spec, &[6.0, 6.5, 0.55, 0.33, 0.30, -2.0]);
        }
    }

    #[test]
    fn mean_is_sum_over_n() {
        let data = toy();
        let x = [6.0, 6.5, 0.55, 0.33, 0.30];
        let mk = |reduction| ObjectiveSpec {
            objective: Objective::Huber,
            reduction,
            delta: 1e-3,
        };
        let (fs, gs) = data.value_grad(&mk(Reduction::Sum), &x);
        let (fm, gm) = data.value_grad(&mk(Reduction::Mean), &x);
        assert!((fs / 6.0 - fm).abs() < 1e-15);
        for j in 0..5 {
            assert!((gs[j] / 6.0 - gm[j]).abs() < 1e-15);
        }
    }

    #[test]
    fn lse_is_stable_far_out() {
        // The naive log(exp(a - alpha log N) + ...) overflows here; the shifted form does not.
        let data = toy();
        let spec = ObjectiveSpec {
            objective: Objective::Huber,
            reduction: Reduction::Sum,
            delta: 1e-3,
        };
        let (f, g) = data.value_grad(&spec, &[800.0, 0.0, 0.0, 0.0, 0.0]);
        assert!(f.is_finite() && g.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn huber_normalizer_matches_scipy() {
        // np.log(np.sqrt(2*np.pi)*(1-2*norm.sf(d)) + 2*np.exp(-0.5*d**2)/d), scipy 1.17.1.
        for (d, want) in [
            (1e-3, 7.600902959541916),
            (0.1, 3.000715673261709),
            (1.0, 1.0730585907133918),
        ] {
            let got = huber_log_normalizer(d);
            assert!((got - want).abs() < 1e-13, "delta {d}: {got} vs {want}");
        }
    }

    #[test]
    fn grid_has_hoffmann_order() {
        let g = hoffmann_grid();
        assert_eq!(g.len(), 4500);
        assert_eq!(g[0], [0.0, 0.0, -1.0, 0.0, 0.0]);
        // The notebook's second "new best" came from init [0, 20, -1, 0, 0]: the 5th start.
        assert_eq!(g[4], [0.0, 20.0, -1.0, 0.0, 0.0]);
        assert_eq!(g[6], [5.0, 0.0, -1.0, 0.0, 0.0]);
        assert_eq!(g[4499], [25.0, 25.0, 1.0, 2.0, 2.0]);
    }

    #[test]
    fn numpy_linear_percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile_sorted(&v, 2.5) - 1.075).abs() < 1e-12);
        assert!((percentile_sorted(&v, 97.5) - 3.925).abs() < 1e-12);
        assert_eq!(percentile_sorted(&v, 0.0), 1.0);
        assert_eq!(percentile_sorted(&v, 100.0), 4.0);
    }

    #[test]
    fn drop_rule_drops_ties_with_the_cut() {
        let text = format!(
            "{HEADER}\n1,1,#a,1e8,1e19,#a,3.0\n1,1,#a,1e8,1e19,#a,5.0\n1,1,#a,1e8,1e19,#a,5.0\n\
             1,1,#a,1e8,1e19,#a,2.0\n"
        );
        let pts = parse_csv(&text, "ties").unwrap();
        // k = 1: cut = 5.0, both 5.0 points go (as `losses < sorted(losses)[-1]`).
        let kept = drop_highest_losses(&pts, 1).unwrap();
        assert_eq!(kept.iter().map(|p| p.line).collect::<Vec<_>>(), vec![2, 5]);
        assert_eq!(drop_highest_losses(&pts, 0).unwrap().len(), 4);
        assert!(drop_highest_losses(&pts, 5).is_err());
    }

    #[test]
    fn resamples_are_seeded_and_in_range() {
        let a = resample_indices(240, 3, 7);
        assert_eq!(a, resample_indices(240, 3, 7));
        assert_ne!(a, resample_indices(240, 3, 8));
        assert!(a
            .iter()
            .all(|r| r.len() == 240 && r.iter().all(|&i| i < 240)));
    }

    #[test]
    fn short_row_and_bad_number_name_the_line() {
        let e = parse_csv(&format!("{HEADER}\n1,1,#a,1e8,1e19,#a\n"), "f.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.csv: line 2") && e.contains("6 fields"), "{e}");
        let e = parse_csv(&format!("{HEADER}\n1,1,#a,1e8,-1e19,#a,2\n"), "f.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("Training FLOP"), "{e}");
        let e = parse_csv(&format!("{HEADER}\n1,1,#a,1e8,1e19,#a,inf\n"), "f.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("loss"), "{e}");
    }

    proptest! {
        #[test]
        fn csv_round_trips(rows in proptest::collection::vec((1e6f64..1e11, 1e17f64..1e23, 1.5f64..6.0), 1..40)) {
            let mut text = format!("{HEADER}\r\n");
            for (n, c, l) in &rows {
                text.push_str(&format!("0.5,1.5,#abcdef,{n:?},{c:?},#abcdef,{l:?}\r\n"));
            }
            let pts = parse_csv(&text, "prop").unwrap();
            prop_assert_eq!(pts.len(), rows.len());
            for (i, (p, (n, c, l))) in pts.iter().zip(&rows).enumerate() {
                prop_assert_eq!(p.line, i + 2);
                prop_assert_eq!(p.n, *n);
                prop_assert_eq!(p.flop, *c);
                prop_assert_eq!(p.loss, *l);
                prop_assert_eq!(p.d, c / (6.0 * n));
            }
        }

        #[test]
        fn drop_rule_keeps_exactly_the_lower_losses(losses in proptest::collection::vec(1.0f64..5.0, 1..60), k in 0usize..8) {
            let pts: Vec<Point> = losses.iter().enumerate().map(|(i, &l)| Point { line: i + 2, n: 1e9, flop: 1e20, d: 1e20 / 6e9, loss: l }).collect();
            match drop_highest_losses(&pts, k) {
                Ok(kept) => {
                    prop_assert!(kept.len() + k <= pts.len() || k == 0);
                    let max_kept = kept.iter().map(|p| p.loss).fold(f64::MIN, f64::max);
                    for p in &pts {
                        let is_kept = kept.iter().any(|q| q.line == p.line);
                        prop_assert!(is_kept || p.loss >= max_kept);
                    }
                    if k == 0 { prop_assert_eq!(kept.len(), pts.len()); }
                }
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(k > pts.len() || msg.contains("empty fit set"), "{}", msg);
                }
            }
        }
    }
}
