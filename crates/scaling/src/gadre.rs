//! Gadre et al. 2024, "Language models scale reliably with over-training and on downstream tasks".
//!
//! Mirrors the released code (`mlfoundations/scaling@a003c49`):
//! - `scaling/shared.py::parse_model_json`: one [`ModelRun`] per model JSON + its `_heavy` eval JSON;
//!   the eval set of each loss is the second-to-last path component of `val_data[0]` (the file stem
//!   for the German set); errors are `1 - accuracy`, averaged over the 46 tasks / the 17-task subset.
//! - `scaling/shared.py::fit_ds`: the loss law is fitted on the four small models at M = 20 plus
//!   the 0.011B model at M = 320; the downstream law on those five plus the 1.4B model at M = 20,
//!   with measured (not predicted) loss as x.
//! - `scaling/laws.py::curve_fit_powlaw_ours`: 128 grid starts, unweighted least squares on linear
//!   loss, keep the start with the smallest sqrt(RSS / (n − 2)).
//! - predictions: `pred_loss = L(N, M)`, `pred_err = Err(pred_loss)` (the notebook's Figure 1 cell).

use crate::levmar::{self, LeastSquares};
use anyhow::{bail, ensure, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_report::{fmt_fixed, Axis, LinePlot, SeriesStyle, Table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `[params]` of the `scaling-overtraining` recipe (see the recipe file for what each means).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub val_dataset: String,
    pub datasets: Vec<String>,
    pub fit_models: Vec<String>,
    pub fit_cc_mult: f64,
    pub extra_fit_model: String,
    pub extra_fit_cc_mult: f64,
    pub downstream_extra_model: String,
    pub downstream_extra_cc_mult: f64,
    pub grid_alpha: Vec<f64>,
    pub grid_beta: Vec<f64>,
    pub grid_b: Vec<f64>,
    pub grid_e: Vec<f64>,
    pub downstream_start: [f64; 3],
    pub max_iters: u64,
    pub tasks_46: Vec<String>,
    pub tasks_17: Vec<String>,
    pub per_task: Vec<String>,
    pub target_model: String,
    pub target_cc_mult: f64,
    #[serde(default)]
    pub headline: Vec<Headline>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Headline {
    pub dataset: String,
    pub model: String,
    pub cc_mult: f64,
}

/// One trained model with its losses and downstream errors.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRun {
    /// `c4_original`, `rpj` or `rw_original`.
    pub dataset: String,
    /// Upstream model code, e.g. `d=1024_l=24_h=8`, `open_lm_1b`.
    pub model: String,
    pub n: f64,
    pub d: f64,
    pub cc_mult: f64,
    /// Token multiplier M = 20 · cc_mult.
    pub m: f64,
    /// Validation loss per eval set (`c4_val`, `openlm`, `paloma_*`, ...).
    pub losses: BTreeMap<String, f64>,
    /// Top-1 error per downstream task (only tasks of the 46-task list).
    pub task_err: BTreeMap<String, f64>,
    /// Mean error over the 46 tasks.
    pub err_avg: f64,
    /// Mean error over the 17-task subset.
    pub err_avg_subset: f64,
    pub source: PathBuf,
}

impl ModelRun {
    pub fn flops(&self) -> f64 {
        6.0 * self.n * self.d
    }
    pub fn loss(&self, val: &str) -> Result<f64> {
        self.losses
            .get(val)
            .copied()
            .with_context(|| format!("{}: no `{val}` loss in its results", self.source.display()))
    }
    /// Error of a downstream split: `avg`, `avg_subset`, or a task id.
    pub fn err(&self, downstream: &str) -> Result<f64> {
        match downstream {
            "avg" => Ok(self.err_avg),
            "avg_subset" => Ok(self.err_avg_subset),
            task => {
                self.task_err.get(task).copied().with_context(|| {
                    format!("{}: no downstream task `{task}`", self.source.display())
                })
            }
        }
    }
}

/// Reads one model JSON and its eval JSON the way `parse_model_json` does.
pub fn load_run(model_json: &Path, eval_json: &Path, params: &Params) -> Result<ModelRun> {
    let model: serde_json::Value = read_json(model_json)?;
    let eval: serde_json::Value = read_json(eval_json)?;
    let at = |what: &str| format!("{}: missing or invalid `{what}`", model_json.display());
    let hp = model
        .get("hyperparameters")
        .with_context(|| at("hyperparameters"))?;
    let num = |v: Option<&serde_json::Value>, what: &str| -> Result<f64> {
        let x = v
            .and_then(serde_json::Value::as_f64)
            .with_context(|| at(what))?;
        ensure!(
            x.is_finite(),
            "{}: `{what}` is not finite",
            model_json.display()
        );
        Ok(x)
    };
    let n = num(hp.get("params"), "hyperparameters.params")?;
    let d = num(hp.get("tokens"), "hyperparameters.tokens")?;
    let cc_mult = num(
        hp.get("chinchilla_multiplier"),
        "hyperparameters.chinchilla_multiplier",
    )?;
    let dataset = model
        .get("dataset_name")
        .and_then(|v| v.as_str())
        .with_context(|| at("dataset_name"))?
        .to_string();
    // data["hyperparameters"]["model"].split("/")[-1].split(".")[0]
    let model_path = hp
        .get("model")
        .and_then(|v| v.as_str())
        .with_context(|| at("hyperparameters.model"))?;
    let model_name = model_path
        .rsplit('/')
        .next()
        .unwrap_or(model_path)
        .split('.')
        .next()
        .unwrap_or("")
        .to_string();
    let mut losses = BTreeMap::new();
    let results = model
        .get("results")
        .and_then(|v| v.as_array())
        .with_context(|| at("results"))?;
    for (i, result) in results.iter().enumerate() {
        let val0 = result
            .get("val_data")
            .and_then(|v| v.get(0))
            .and_then(|v| v.as_str())
            .with_context(|| at(&format!("results[{i}].val_data[0]")))?;
        let parts: Vec<&str> = val0.split('/').collect();
        ensure!(
            parts.len() >= 2,
            "{}: results[{i}].val_data[0] `{val0}` has no directory",
            model_json.display()
        );
        let mut suffix = parts[parts.len() - 2].to_string();
        if suffix.contains("de-en") {
            suffix = parts[parts.len() - 1]
                .split('.')
                .next()
                .unwrap_or("")
                .to_string();
        }
        let loss = num(result.get("loss"), &format!("results[{i}].loss"))?;
        losses.insert(suffix, loss);
    }
    let icl = eval
        .get("eval_metrics")
        .and_then(|v| v.get("icl"))
        .and_then(|v| v.as_object())
        .with_context(|| format!("{}: missing `eval_metrics.icl`", eval_json.display()))?;
    let mut task_err = BTreeMap::new();
    let (mut sum, mut count, mut sum_sub, mut count_sub) = (0.0, 0usize, 0.0, 0usize);
    // Iterate in the file's key order like the Python dict loop, so sums are bit-identical.
    for (task, acc) in icl {
        let acc = acc.as_f64().with_context(|| {
            format!(
                "{}: eval_metrics.icl.{task} is not a number",
                eval_json.display()
            )
        })?;
        ensure!(
            acc.is_finite(),
            "{}: eval_metrics.icl.{task} is not finite",
            eval_json.display()
        );
        let err = 1.0 - acc;
        if params.tasks_46.iter().any(|t| t == task) {
            if params.tasks_17.iter().any(|t| t == task) {
                sum_sub += err;
                count_sub += 1;
            }
            sum += err;
            count += 1;
            task_err.insert(task.clone(), err);
        }
    }
    ensure!(
        count_sub == params.tasks_17.len(),
        "{}: found {count_sub} of the {} subset tasks",
        eval_json.display(),
        params.tasks_17.len()
    );
    ensure!(
        count > 0,
        "{}: none of the 46 tasks present",
        eval_json.display()
    );
    Ok(ModelRun {
        dataset,
        model: model_name,
        n,
        d,
        cc_mult,
        m: cc_mult * 20.0,
        losses,
        task_err,
        err_avg: sum / count as f64,
        err_avg_subset: sum_sub / count_sub as f64,
        source: model_json.to_path_buf(),
    })
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        // Python's json module writes NaN/Infinity as bare tokens, which are not JSON.
        let hint = if text.contains("NaN") || text.contains("Infinity") {
            " (the file contains a NaN/Infinity value, which is not valid JSON and cannot be fitted)"
        } else {
            ""
        };
        format!("{}: invalid JSON{hint}", path.display())
    })
}

/// Loads every model of the recipe (inputs `scaling/exp_data/models/*.json` + their evals).
pub fn load_runs(recipe: &Recipe, resolver: &Resolver, params: &Params) -> Result<Vec<ModelRun>> {
    let mut runs = Vec::new();
    for input in recipe.inputs_under("scaling/exp_data/models/") {
        let stem = input
            .name
            .rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".json"))
            .with_context(|| format!("input `{}` is not a .json file", input.name))?;
        let eval_name = format!("scaling/exp_data/evals/evaluation_{stem}_heavy.json");
        let model_path = resolver.path(input)?;
        let eval_path = recipe
            .resolve(resolver, &eval_name)
            .with_context(|| format!("eval JSON of model `{stem}`"))?;
        runs.push(load_run(&model_path, &eval_path, params)?);
    }
    ensure!(
        !runs.is_empty(),
        "recipe `{}` lists no model JSONs",
        recipe.name
    );
    runs.sort_by(|a, b| {
        (a.dataset.as_str(), a.n, a.m)
            .partial_cmp(&(b.dataset.as_str(), b.n, b.m))
            .expect("finite")
    });
    Ok(runs)
}

/// L(N, M) = α·N^b + β·6^(b/2)·(M·N)^b + E (`powlaw_ours`; code form).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct LossLaw {
    pub alpha: f64,
    pub beta: f64,
    pub b: f64,
    pub e: f64,
}

impl LossLaw {
    pub fn predict(&self, n: f64, m: f64) -> f64 {
        self.alpha * n.powf(self.b)
            + self.beta * 6f64.powf(self.b / 2.0) * (m * n).powf(self.b)
            + self.e
    }
    /// The paper's Eq. 4 form L(C, M) = E + (a·M^η + b·M^(−η))·C^(−η): η = −b/2, a = α·6^η, b = β.
    pub fn eq4(&self) -> Eq4 {
        let eta = -self.b / 2.0;
        let a = self.alpha * 6f64.powf(eta);
        Eq4 {
            a,
            b: self.beta,
            eta,
            e: self.e,
            // d/dM (a·M^η + b·M^−η) = 0  ⇒  M* = (b/a)^(1/(2η)).
            m_star: (self.beta / a).powf(1.0 / (2.0 * eta)),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Eq4 {
    pub a: f64,
    pub b: f64,
    pub eta: f64,
    pub e: f64,
    /// Compute-optimal token multiplier implied by the law.
    pub m_star: f64,
}

/// Err(L) = ε − k·exp(−γ·L) (`decay_ours`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct ErrorLaw {
    pub k: f64,
    pub gamma: f64,
    pub epsilon: f64,
}

impl ErrorLaw {
    pub fn predict(&self, loss: f64) -> f64 {
        self.epsilon - self.k * (-self.gamma * loss).exp()
    }
}

struct LossPoints<'a> {
    n: &'a [f64],
    m: &'a [f64],
    y: &'a [f64],
}

impl LeastSquares for LossPoints<'_> {
    fn residuals(&self, p: &[f64]) -> Vec<f64> {
        let law = LossLaw {
            alpha: p[0],
            beta: p[1],
            b: p[2],
            e: p[3],
        };
        (0..self.y.len())
            .map(|i| law.predict(self.n[i], self.m[i]) - self.y[i])
            .collect()
    }
    fn jacobian(&self, p: &[f64]) -> Vec<Vec<f64>> {
        let (alpha, beta, b) = (p[0], p[1], p[2]);
        (0..self.y.len())
            .map(|i| {
                let n = self.n[i];
                let mn = self.m[i] * n;
                let t1 = n.powf(b);
                let t2 = 6f64.powf(b / 2.0) * mn.powf(b);
                vec![
                    t1,
                    t2,
                    alpha * t1 * n.ln() + beta * t2 * (6f64.ln() / 2.0 + mn.ln()),
                    1.0,
                ]
            })
            .collect()
    }
}

struct ErrPoints<'a> {
    x: &'a [f64],
    y: &'a [f64],
}

impl LeastSquares for ErrPoints<'_> {
    fn residuals(&self, p: &[f64]) -> Vec<f64> {
        let law = ErrorLaw {
            k: p[0],
            gamma: p[1],
            epsilon: p[2],
        };
        self.x
            .iter()
            .zip(self.y)
            .map(|(x, y)| law.predict(*x) - y)
            .collect()
    }
    fn jacobian(&self, p: &[f64]) -> Vec<Vec<f64>> {
        let (k, gamma) = (p[0], p[1]);
        self.x
            .iter()
            .map(|x| {
                let e = (-gamma * x).exp();
                vec![-e, k * x * e, 1.0]
            })
            .collect()
    }
}

/// A fitted loss law with its fit diagnostics.
#[derive(Debug, Clone, Serialize)]
pub struct LossFit {
    pub law: LossLaw,
    /// sqrt(RSS / (n − 2)), the selection criterion of `curve_fit_powlaw_ours`.
    pub criterion: f64,
    pub starts: usize,
    pub starts_converged: usize,
    /// The grid start that produced the kept fit: (α₀, β₀, b₀, E₀).
    pub best_start: [f64; 4],
}

fn check_points(what: &str, cols: &[(&str, &[f64])]) -> Result<usize> {
    let n = cols.first().map_or(0, |c| c.1.len());
    ensure!(n > 0, "{what}: the fit set is empty");
    for (name, col) in cols {
        ensure!(
            col.len() == n,
            "{what}: column `{name}` has {} values, expected {n}",
            col.len()
        );
        if let Some(i) = col.iter().position(|v| !v.is_finite()) {
            bail!("{what}: point {i} has a non-finite {name} ({})", col[i]);
        }
    }
    Ok(n)
}

/// `curve_fit_powlaw_ours`: fits the loss law from every start of the grid and keeps the start with
/// the smallest sqrt(RSS / (n − 2)).
pub fn fit_loss_law(n: &[f64], m: &[f64], loss: &[f64], params: &Params) -> Result<LossFit> {
    let count = check_points("loss-law fit", &[("N", n), ("M", m), ("loss", loss)])?;
    ensure!(
        count >= 3,
        "loss-law fit: {count} points; the criterion sqrt(RSS/(n-2)) needs at least 3"
    );
    let problem = LossPoints { n, m, y: loss };
    let mut best: Option<LossFit> = None;
    let mut starts = 0;
    let mut converged = 0;
    // Same nesting order as the Python loops, so ties resolve to the same (first) start.
    for &a0 in &params.grid_alpha {
        for &b0 in &params.grid_beta {
            for &c0 in &params.grid_b {
                for &e0 in &params.grid_e {
                    starts += 1;
                    let start = [a0, b0, c0, e0];
                    let Ok(fit) = levmar::fit(&problem, &start, params.max_iters) else {
                        continue;
                    };
                    if fit.converged {
                        converged += 1;
                    }
                    let criterion = (fit.sum_sq / (count as f64 - 2.0)).sqrt();
                    if !criterion.is_finite() {
                        continue;
                    }
                    if best.as_ref().is_none_or(|b| criterion < b.criterion) {
                        best = Some(LossFit {
                            law: LossLaw {
                                alpha: fit.params[0],
                                beta: fit.params[1],
                                b: fit.params[2],
                                e: fit.params[3],
                            },
                            criterion,
                            starts: 0,
                            starts_converged: 0,
                            best_start: start,
                        });
                    }
                }
            }
        }
    }
    let mut best = best.context("loss-law fit: no start gave finite residuals")?;
    best.starts = starts;
    best.starts_converged = converged;
    Ok(best)
}

/// The downstream law fitted from `start` (scipy's default p0 = (1, 1, 1)).
pub fn fit_error_law(
    loss: &[f64],
    err: &[f64],
    start: [f64; 3],
    max_iters: u64,
) -> Result<ErrorLaw> {
    let count = check_points("error-law fit", &[("loss", loss), ("error", err)])?;
    ensure!(count >= 3, "error-law fit: {count} points for 3 parameters");
    let fit = levmar::fit(&ErrPoints { x: loss, y: err }, &start, max_iters)
        .map_err(|e| anyhow::anyhow!("error-law fit failed: {e}"))?;
    ensure!(
        fit.params.iter().all(|p| p.is_finite()),
        "error-law fit diverged: {:?}",
        fit.params
    );
    Ok(ErrorLaw {
        k: fit.params[0],
        gamma: fit.params[1],
        epsilon: fit.params[2],
    })
}

/// Fit points of one training set, as `fit_ds` selects them.
#[derive(Debug, Clone)]
pub struct FitSet<'a> {
    pub loss_points: Vec<&'a ModelRun>,
    /// `loss_points` plus the 1.4B model at M = 20.
    pub error_points: Vec<&'a ModelRun>,
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

pub fn fit_set<'a>(runs: &'a [ModelRun], dataset: &str, p: &Params) -> Result<FitSet<'a>> {
    let of = |model: &str, cc: f64| -> Vec<&'a ModelRun> {
        runs.iter()
            .filter(|r| r.dataset == dataset && r.model == model && same(r.cc_mult, cc))
            .collect()
    };
    let mut loss_points: Vec<&ModelRun> = runs
        .iter()
        .filter(|r| {
            r.dataset == dataset
                && same(r.cc_mult, p.fit_cc_mult)
                && p.fit_models.contains(&r.model)
        })
        .collect();
    // split_df_by_mult sorts by flops.
    loss_points.sort_by(|a, b| a.flops().total_cmp(&b.flops()));
    ensure!(
        loss_points.len() == p.fit_models.len(),
        "dataset `{dataset}`: found {} of the {} fit models at cc_mult {} (models: {:?})",
        loss_points.len(),
        p.fit_models.len(),
        p.fit_cc_mult,
        p.fit_models
    );
    let extra = of(&p.extra_fit_model, p.extra_fit_cc_mult);
    ensure!(
        extra.len() == 1,
        "dataset `{dataset}`: expected one `{}` run at cc_mult {}, found {}",
        p.extra_fit_model,
        p.extra_fit_cc_mult,
        extra.len()
    );
    loss_points.extend(extra);
    let mut error_points = loss_points.clone();
    let ds = of(&p.downstream_extra_model, p.downstream_extra_cc_mult);
    ensure!(
        ds.len() == 1,
        "dataset `{dataset}`: expected one `{}` run at cc_mult {}, found {}",
        p.downstream_extra_model,
        p.downstream_extra_cc_mult,
        ds.len()
    );
    error_points.extend(ds);
    Ok(FitSet {
        loss_points,
        error_points,
    })
}

/// All fits of one training set.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetFit {
    pub dataset: String,
    pub loss: LossFit,
    /// Downstream law per split (`avg`, `avg_subset`, and each per-task id), fitted with the 1.4B point.
    pub error: BTreeMap<String, Option<ErrorLaw>>,
    /// The same, fitted without the 1.4B point (paper Table 7 ablation).
    pub error_without_1b: BTreeMap<String, Option<ErrorLaw>>,
}

fn column(points: &[&ModelRun], f: impl Fn(&ModelRun) -> Result<f64>) -> Result<Vec<f64>> {
    points.iter().map(|r| f(r)).collect()
}

pub fn fit_dataset(runs: &[ModelRun], dataset: &str, p: &Params) -> Result<DatasetFit> {
    let set = fit_set(runs, dataset, p)?;
    let val = p.val_dataset.as_str();
    let n = column(&set.loss_points, |r| Ok(r.n))?;
    let m = column(&set.loss_points, |r| Ok(r.m))?;
    let y = column(&set.loss_points, |r| r.loss(val))?;
    let loss = fit_loss_law(&n, &m, &y, p).with_context(|| format!("dataset `{dataset}`"))?;
    let mut error = BTreeMap::new();
    let mut error_without_1b = BTreeMap::new();
    let splits = ["avg".to_string(), "avg_subset".to_string()]
        .into_iter()
        .chain(p.per_task.iter().cloned());
    for split in splits {
        for (points, out) in [
            (&set.error_points, &mut error),
            (&set.loss_points, &mut error_without_1b),
        ] {
            let x = column(points, |r| r.loss(val))?;
            let e = column(points, |r| r.err(&split))?;
            let law = fit_error_law(&x, &e, p.downstream_start, p.max_iters);
            // The two split averages must fit; a single noisy task may not (reported as "no fit").
            let law = if split.starts_with("avg") {
                Some(law.with_context(|| format!("dataset `{dataset}`, downstream `{split}`"))?)
            } else {
                law.ok()
            };
            out.insert(split.clone(), law);
        }
    }
    Ok(DatasetFit {
        dataset: dataset.to_string(),
        loss,
        error,
        error_without_1b,
    })
}

/// One row of `predictions.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub dataset: String,
    pub model: String,
    pub n: f64,
    pub m: f64,
    pub downstream: String,
    pub loss: f64,
    pub pred_loss: f64,
    pub err: f64,
    pub pred_err: f64,
}

pub fn predictions(runs: &[ModelRun], fits: &[DatasetFit], p: &Params) -> Result<Vec<Prediction>> {
    let mut out = Vec::new();
    for run in runs {
        let fit = fits
            .iter()
            .find(|f| f.dataset == run.dataset)
            .with_context(|| format!("no fit for dataset `{}`", run.dataset))?;
        let pred_loss = fit.loss.law.predict(run.n, run.m);
        for downstream in ["avg", "avg_subset"] {
            let law = fit.error[downstream].expect("split averages always fit");
            out.push(Prediction {
                dataset: run.dataset.clone(),
                model: run.model.clone(),
                n: run.n,
                m: run.m,
                downstream: downstream.to_string(),
                loss: run.loss(&p.val_dataset)?,
                pred_loss,
                err: run.err(downstream)?,
                pred_err: law.predict(pred_loss),
            });
        }
    }
    Ok(out)
}

fn rel_err(pred: f64, actual: f64) -> f64 {
    (pred - actual).abs() / actual
}

fn pct(x: f64) -> String {
    format!("{}%", fmt_fixed(100.0 * x, 2))
}

const DATASET_NAMES: [(&str, &str); 3] = [
    ("c4_original", "C4"),
    ("rpj", "RedPajama"),
    ("rw_original", "RefinedWeb"),
];

fn friendly(dataset: &str) -> &str {
    DATASET_NAMES
        .iter()
        .find(|(k, _)| *k == dataset)
        .map_or(dataset, |(_, v)| v)
}

fn friendly_model(n: f64) -> String {
    format!("{:.3}B", n / 1e9)
}

fn fmt_m(m: f64) -> String {
    if m.fract() == 0.0 {
        format!("{m:.0}")
    } else {
        format!("{m}")
    }
}

/// Everything the recipe computes, before formatting.
#[derive(Debug)]
pub struct Reproduction {
    pub runs: Vec<ModelRun>,
    pub fits: Vec<DatasetFit>,
    pub predictions: Vec<Prediction>,
    pub params: Params,
}

pub fn compute(recipe: &Recipe, resolver: &Resolver) -> Result<Reproduction> {
    let params: Params = recipe.params()?;
    let runs = load_runs(recipe, resolver, &params)?;
    let fits = params
        .datasets
        .iter()
        .map(|d| fit_dataset(&runs, d, &params))
        .collect::<Result<Vec<_>>>()?;
    let predictions = predictions(&runs, &fits, &params)?;
    Ok(Reproduction {
        runs,
        fits,
        predictions,
        params,
    })
}

impl Reproduction {
    /// `predictions.csv` (the output contract): dataset,model,N,M,downstream,loss,pred_loss,err,pred_err.
    pub fn predictions_csv(&self) -> Table {
        let mut t = Table::new([
            "dataset",
            "model",
            "N",
            "M",
            "downstream",
            "loss",
            "pred_loss",
            "err",
            "pred_err",
        ]);
        for p in &self.predictions {
            t.push([
                p.dataset.clone(),
                p.model.clone(),
                format!("{:.0}", p.n),
                fmt_m(p.m),
                p.downstream.clone(),
                fmt_fixed(p.loss, 10),
                fmt_fixed(p.pred_loss, 10),
                fmt_fixed(p.err, 10),
                fmt_fixed(p.pred_err, 10),
            ]);
        }
        t
    }

    /// Fitted parameters (paper Table 6) in the code form and in Eq. 4 form.
    pub fn params_table(&self) -> Table {
        let mut t = Table::new([
            "training set",
            "alpha_c (code)",
            "beta_c (code)",
            "b (code)",
            "E",
            "eta = -b/2",
            "a = alpha_c*6^eta (Eq. 4)",
            "b = beta_c (Eq. 4)",
            "M* (Eq. 4, consistent)",
            "k (17-task)",
            "gamma (17-task)",
            "epsilon (17-task)",
            "k (46-task)",
            "gamma (46-task)",
            "epsilon (46-task)",
            "fit criterion sqrt(RSS/(n-2))",
            "starts converged",
        ]);
        for f in &self.fits {
            let l = f.loss.law;
            let q = l.eq4();
            let s = f.error["avg_subset"].expect("fits");
            let a = f.error["avg"].expect("fits");
            t.push([
                friendly(&f.dataset).to_string(),
                fmt_fixed(l.alpha, 2),
                fmt_fixed(l.beta, 2),
                fmt_fixed(l.b, 4),
                fmt_fixed(l.e, 4),
                fmt_fixed(q.eta, 4),
                fmt_fixed(q.a, 2),
                fmt_fixed(q.b, 2),
                fmt_fixed(q.m_star, 2),
                fmt_fixed(s.k, 4),
                fmt_fixed(s.gamma, 4),
                fmt_fixed(s.epsilon, 4),
                fmt_fixed(a.k, 4),
                fmt_fixed(a.gamma, 4),
                fmt_fixed(a.epsilon, 4),
                format!("{:.3e}", f.loss.criterion),
                format!("{}/{}", f.loss.starts_converged, f.loss.starts),
            ]);
        }
        t
    }

    /// Relative error grid N × M (Figures 5 and 12) for one dataset and one quantity.
    pub fn grid(&self, dataset: &str, quantity: &str) -> Table {
        let preds: Vec<&Prediction> = self
            .predictions
            .iter()
            .filter(|p| p.dataset == dataset)
            .filter(|p| match quantity {
                "loss" => p.downstream == "avg",
                q => p.downstream == q,
            })
            .collect();
        let mut ms: Vec<f64> = preds.iter().map(|p| p.m).collect();
        ms.sort_by(f64::total_cmp);
        ms.dedup();
        let mut ns: Vec<(f64, String)> = preds.iter().map(|p| (p.n, p.model.clone())).collect();
        ns.sort_by(|a, b| a.0.total_cmp(&b.0));
        ns.dedup();
        let mut t =
            Table::new(std::iter::once("N \\ M".to_string()).chain(ms.iter().map(|m| fmt_m(*m))));
        for (n, model) in &ns {
            let mut row = vec![format!("{} ({model})", friendly_model(*n))];
            for m in &ms {
                let cell = preds
                    .iter()
                    .find(|p| p.n == *n && p.m == *m)
                    .map(|p| match quantity {
                        "loss" => pct(rel_err(p.pred_loss, p.loss)),
                        _ => pct(rel_err(p.pred_err, p.err)),
                    })
                    .unwrap_or_else(|| "-".into());
                row.push(cell);
            }
            t.push(row);
        }
        t
    }

    fn target(&self, dataset: &str, model: &str, cc_mult: f64) -> Option<&ModelRun> {
        self.runs
            .iter()
            .find(|r| r.dataset == dataset && r.model == model && same(r.cc_mult, cc_mult))
    }

    /// Headline predictions (paper Figure 1: RedPajama 1.4B at M = 640 and 6.9B at M = 20).
    pub fn headline_table(&self) -> Result<Table> {
        let mut t = Table::new([
            "training set",
            "model",
            "M",
            "C4 loss",
            "predicted",
            "rel. error",
            "17-task error",
            "predicted",
            "rel. error",
        ]);
        for h in &self.params.headline {
            let run = self
                .target(&h.dataset, &h.model, h.cc_mult)
                .with_context(|| {
                    format!("headline model {} {} x{}", h.dataset, h.model, h.cc_mult)
                })?;
            let fit = self
                .fits
                .iter()
                .find(|f| f.dataset == h.dataset)
                .context("fit")?;
            let pl = fit.loss.law.predict(run.n, run.m);
            let pe = fit.error["avg_subset"].expect("fits").predict(pl);
            let loss = run.loss(&self.params.val_dataset)?;
            t.push([
                friendly(&h.dataset).to_string(),
                format!("{} ({})", friendly_model(run.n), run.model),
                fmt_m(run.m),
                fmt_fixed(loss, 4),
                fmt_fixed(pl, 4),
                pct(rel_err(pl, loss)),
                fmt_fixed(run.err_avg_subset, 4),
                fmt_fixed(pe, 4),
                pct(rel_err(pe, run.err_avg_subset)),
            ]);
        }
        Ok(t)
    }

    /// Per-task downstream predictions at the target model (paper Table 7), with and without the
    /// 1.4B point in the downstream fit.
    pub fn per_task_table(&self) -> Result<Table> {
        let mut t = Table::new([
            "training set",
            "task",
            "actual error",
            "predicted (with 1.4B)",
            "rel. error (with 1.4B)",
            "predicted (without 1.4B)",
            "rel. error (without 1.4B)",
        ]);
        for f in &self.fits {
            let run = self
                .target(
                    &f.dataset,
                    &self.params.target_model,
                    self.params.target_cc_mult,
                )
                .with_context(|| format!("target model for `{}`", f.dataset))?;
            let pl = f.loss.law.predict(run.n, run.m);
            let splits = self
                .params
                .per_task
                .iter()
                .cloned()
                .chain(["avg_subset".to_string(), "avg".to_string()]);
            for split in splits {
                let actual = run.err(&split)?;
                let cell = |law: Option<ErrorLaw>| match law {
                    Some(l) => {
                        let p = l.predict(pl);
                        (fmt_fixed(p, 4), pct(rel_err(p, actual)))
                    }
                    None => ("no fit".into(), "-".into()),
                };
                let (p1, r1) = cell(f.error[&split]);
                let (p0, r0) = cell(f.error_without_1b[&split]);
                let label = match split.as_str() {
                    "avg_subset" => "17-task average".to_string(),
                    "avg" => "46-task average".to_string(),
                    s => s.to_string(),
                };
                t.push([
                    friendly(&f.dataset).to_string(),
                    label,
                    fmt_fixed(actual, 4),
                    p1,
                    r1,
                    p0,
                    r0,
                ]);
            }
        }
        Ok(t)
    }

    fn loss_vs_compute_plot(&self, dataset: &str) -> Result<String> {
        let fit = self
            .fits
            .iter()
            .find(|f| f.dataset == dataset)
            .context("fit")?;
        let mut plot = LinePlot::new(
            format!("{}: C4 eval loss vs compute", friendly(dataset)),
            Axis::log("compute 6ND [FLOPs]"),
            Axis::linear("C4 eval loss"),
        );
        let mut ms: Vec<f64> = self
            .runs
            .iter()
            .filter(|r| r.dataset == dataset)
            .map(|r| r.m)
            .collect();
        ms.sort_by(f64::total_cmp);
        ms.dedup();
        for m in ms {
            let pts: Vec<(f64, f64)> = self
                .runs
                .iter()
                .filter(|r| r.dataset == dataset && r.m == m)
                .filter_map(|r| {
                    r.loss(&self.params.val_dataset)
                        .ok()
                        .map(|l| (r.flops(), l))
                })
                .collect();
            plot.add(format!("M={} measured", fmt_m(m)), pts, SeriesStyle::Points);
            // The law at fixed M as a function of compute: N = sqrt(C / (6M)).
            let line: Vec<(f64, f64)> = (0..=40)
                .map(|i| {
                    let c = 10f64.powf(15.0 + 8.0 * i as f64 / 40.0);
                    let n = (c / (6.0 * m)).sqrt();
                    (c, fit.loss.law.predict(n, m))
                })
                .collect();
            plot.add("", line, SeriesStyle::DashedLine);
            let last = plot.series.len() - 1;
            plot.series[last].color = plot.series[last - 1].color;
        }
        plot.to_svg()
    }

    fn predicted_vs_actual_plot(&self) -> Result<String> {
        let mut plot = LinePlot::new(
            "Predicted vs measured C4 eval loss (all 104 models)",
            Axis::linear("measured loss"),
            Axis::linear("predicted loss"),
        );
        for (d, name) in DATASET_NAMES {
            let pts = self
                .predictions
                .iter()
                .filter(|p| p.dataset == d && p.downstream == "avg")
                .map(|p| (p.loss, p.pred_loss))
                .collect();
            plot.add(name, pts, SeriesStyle::Points);
        }
        let (lo, hi) = self
            .predictions
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.loss), hi.max(p.loss))
            });
        plot.add("y = x", vec![(lo, lo), (hi, hi)], SeriesStyle::Line);
        plot.to_svg()
    }
}

/// Regenerates `results/scaling-overtraining/` into `out_dir`; returns the table files to snapshot.
pub fn reproduce(recipe: &Recipe, resolver: &Resolver, out_dir: &Path) -> Result<Vec<String>> {
    let r = compute(recipe, resolver)?;
    write_outputs(&r, out_dir)
}

pub fn write_outputs(r: &Reproduction, out_dir: &Path) -> Result<Vec<String>> {
    use lmrepro_report::write_file;
    let mut tables = Vec::new();
    let mut md = |name: &str, title: &str, note: &str, table: &Table| -> Result<()> {
        let mut text = format!("# {title}\n\n");
        if !note.is_empty() {
            text.push_str(note.trim());
            text.push_str("\n\n");
        }
        text.push_str(&table.to_markdown());
        write_file(out_dir, &format!("{name}.md"), text)?;
        write_file(out_dir, &format!("{name}.csv"), table.to_csv())?;
        tables.push(format!("{name}.md"));
        Ok(())
    };
    write_file(out_dir, "predictions.csv", r.predictions_csv().to_csv())?;
    md(
        "table6_fitted_parameters",
        "Fitted scaling laws per training set (paper Table 6)",
        PARAMS_NOTE,
        &r.params_table(),
    )?;
    md(
        "headline",
        "Headline extrapolations (paper Figure 1)",
        "Loss law fitted on 0.011B-0.411B models (M = 20) + 0.011B at M = 320; 17-task error law \
         fitted with the 1.4B, M = 20 model added. Published: 1.4B M = 640 loss 0.71 %, error 3.64 %; \
         6.9B M = 20 loss 0.73 %, error 0.05 %.",
        &r.headline_table()?,
    )?;
    md(
        "table7_per_task",
        "Per-task downstream error at 6.9B, M = 20 (paper Table 7)",
        "Each task's error law Err(L) = epsilon - k*exp(-gamma*L) is fitted like the averages (start \
         (1,1,1)), evaluated at the loss predicted by the loss law. \"no fit\" means Levenberg-Marquardt \
         found no finite optimum from that start.",
        &r.per_task_table()?,
    )?;
    for (d, name) in DATASET_NAMES {
        for (q, label) in [
            ("loss", "C4 eval loss"),
            ("avg_subset", "17-task top-1 error"),
            ("avg", "46-task top-1 error"),
        ] {
            md(
                &format!("grid_{d}_{q}"),
                &format!("{name}: relative error of the predicted {label} (Figures 5 / 12)"),
                "Rows: model size N (upstream model code); columns: token multiplier M; cells: \
                 |predicted - measured| / measured.",
                &r.grid(d, q),
            )?;
        }
    }
    let fits_json: Vec<serde_json::Value> = r
        .fits
        .iter()
        .map(|f| {
            serde_json::json!({
                "dataset": f.dataset,
                "loss_law_code_form": f.loss.law,
                "loss_law_eq4_form": f.loss.law.eq4(),
                "fit_criterion": f.loss.criterion,
                "best_start": f.loss.best_start,
                "starts_converged": f.loss.starts_converged,
                "error_laws": f.error,
                "error_laws_without_1b": f.error_without_1b,
            })
        })
        .collect();
    write_file(
        out_dir,
        "fits.json",
        lmrepro_report::to_json_pretty(&fits_json)?,
    )?;
    for (d, _) in DATASET_NAMES {
        write_file(
            out_dir,
            &format!("loss_vs_compute_{d}.svg"),
            r.loss_vs_compute_plot(d)?,
        )?;
    }
    write_file(
        out_dir,
        "predicted_vs_actual.svg",
        r.predicted_vs_actual_plot()?,
    )?;
    // The output contract: pinned as a snapshot too, so any moved prediction shows in review.
    tables.push("predictions.csv".to_string());
    Ok(tables)
}

const PARAMS_NOTE: &str = "\
Columns 2-5 are the parameters exactly as the released code fits them: \
L(N, M) = alpha_c*N^b + beta_c*6^(b/2)*(M*N)^b + E. The paper writes the same law as Eq. 4, \
L(C, M) = E + (a*M^eta + b*M^(-eta))*C^(-eta) with C = 6*N*D = 6*M*N^2; substituting gives \
eta = -b/2, a = alpha_c*6^eta, b = beta_c (columns 6-8). The paper's Table 6 prints the code values \
(alpha_c, beta_c, -b/2) into the Eq. 4 template, i.e. its `a` is alpha_c without the 6^eta factor. \
M* = (b/a)^(1/(2*eta)) minimises the Eq. 4 law at fixed compute and is computed with the consistent \
a = alpha_c*6^eta.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq4_is_the_same_law() {
        let law = LossLaw {
            alpha: 166.2,
            beta: 366.7,
            b: -0.27,
            e: 1.84,
        };
        let q = law.eq4();
        for (n, m) in [(1e7f64, 20.0f64), (1.4e9, 640.0), (6.9e9, 20.0)] {
            let c = 6.0 * m * n * n;
            let eq4 = q.e + (q.a * m.powf(q.eta) + q.b * m.powf(-q.eta)) * c.powf(-q.eta);
            assert!(
                (eq4 - law.predict(n, m)).abs() < 1e-12,
                "{eq4} vs {}",
                law.predict(n, m)
            );
        }
        // M* is a minimum of the law along a fixed-compute line.
        let c = 1e21;
        let at = |m: f64| law.predict((c / (6.0 * m)).sqrt(), m);
        assert!(at(q.m_star) < at(q.m_star * 1.1) && at(q.m_star) < at(q.m_star / 1.1));
    }

    /// A case where scipy's lmdif converges from (1, 1, 1) to the generating law (checked with
    /// scipy 1.17.1) and a plain Marquardt damping schedule does not: the trust region must.
    #[test]
    fn error_law_from_default_start_like_lmdif() {
        let truth = ErrorLaw {
            k: 1.220689294489661,
            gamma: 0.48206726527262417,
            epsilon: 0.7179496117724502,
        };
        let x = [2.4, 2.8, 3.3, 3.9, 4.6, 5.4];
        let y: Vec<f64> = x.iter().map(|l| truth.predict(*l)).collect();
        let fit = fit_error_law(&x, &y, [1.0, 1.0, 1.0], 10000).unwrap();
        assert!((fit.k - truth.k).abs() < 1e-6, "{fit:?}");
        assert!((fit.gamma - truth.gamma).abs() < 1e-6, "{fit:?}");
    }

    #[test]
    fn error_law_recovers_parameters() {
        let truth = ErrorLaw {
            k: 2.2,
            gamma: 0.71,
            epsilon: 0.86,
        };
        let x = [2.6, 3.0, 3.4, 3.9, 4.4, 5.0];
        let y: Vec<f64> = x.iter().map(|l| truth.predict(*l)).collect();
        let fit = fit_error_law(&x, &y, [1.0, 1.0, 1.0], 10000).unwrap();
        assert!((fit.k - truth.k).abs() < 1e-6, "{fit:?}");
        assert!((fit.gamma - truth.gamma).abs() < 1e-6, "{fit:?}");
    }

    #[test]
    fn bad_fit_sets_are_clear_errors() {
        let p: Params = toml::from_str(include_str!("../../../recipes/scaling-overtraining.toml"))
            .map(|v: toml::Table| v["params"].clone().try_into().unwrap())
            .unwrap();
        let err = fit_loss_law(&[], &[], &[], &p).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let err = fit_loss_law(&[1e7, 2e7, 3e7], &[20.0; 3], &[3.0, f64::NAN, 2.5], &p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("non-finite loss"), "{err}");
        let err = fit_error_law(&[1.0, 2.0], &[0.5, 0.4], [1.0; 3], 100)
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 points"), "{err}");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Fixed seed: CI must not flake on a rare hard case; widen cases locally to explore.
        #![proptest_config(ProptestConfig {
            cases: 64,
            rng_seed: proptest::test_runner::RngSeed::Fixed(20240313),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        /// The code form and the paper's Eq. 4 form are one law, for any parameters.
        #[test]
        fn eq4_equals_code_form(alpha in 1.0f64..5e3, beta in 1.0f64..5e3, b in -0.6f64..-0.02,
                                e in 0.0f64..5.0, n in 1e6f64..1e11, m in 1.0f64..1e3) {
            let law = LossLaw { alpha, beta, b, e };
            let q = law.eq4();
            let c = 6.0 * m * n * n;
            let eq4 = q.e + (q.a * m.powf(q.eta) + q.b * m.powf(-q.eta)) * c.powf(-q.eta);
            let code = law.predict(n, m);
            prop_assert!(((eq4 - code) / code).abs() < 1e-10, "{} vs {}", eq4, code);
        }

        /// From scipy's start (1, 1, 1) the downstream fit never ends worse than it started and
        /// always returns finite parameters. (It need not find the generating law: for some laws
        /// both scipy's lmdif and this solver follow the degenerate gamma -> 0 branch.)
        #[test]
        fn error_law_fit_never_worsens(k in 0.5f64..4.0, gamma in 0.2f64..1.5, eps in 0.6f64..0.95) {
            let truth = ErrorLaw { k, gamma, epsilon: eps };
            let x = [2.4, 2.8, 3.3, 3.9, 4.6, 5.4];
            let y: Vec<f64> = x.iter().map(|l| truth.predict(*l)).collect();
            let start = ErrorLaw { k: 1.0, gamma: 1.0, epsilon: 1.0 };
            let fit = fit_error_law(&x, &y, [1.0, 1.0, 1.0], 10_000).unwrap();
            let rss = |l: &ErrorLaw| x.iter().zip(&y).map(|(a, b)| (l.predict(*a) - b).powi(2)).sum::<f64>();
            prop_assert!(rss(&fit) <= rss(&start));
        }
    }
}
