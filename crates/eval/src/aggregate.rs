//! DCLM aggregation (`eval/aggregated_metrics.py` of mlfoundations/dclm@361714bd): centered
//! accuracy, CORE, EXTENDED, per-category means, reproduced to the last bit.
//!
//! Numerics follow what pandas does under that script:
//! - `centered = (acc - 0.01*b) / (1.0 - 0.01*b)` elementwise in f64 (`b` = "Random baseline");
//! - `Series.mean()` = numpy's pairwise summation (8-way unrolled blocks of <= 128) / count,
//!   skipping NaN (missing tasks);
//! - `groupby(...).agg("mean")` = pandas' Kahan-compensated cython `group_mean`.
//!
//! Where DCLM writes the string "N/A due to missing tasks: [...]" for CORE/EXTENDED, this module
//! returns [`Headline::Partial`] carrying the missing list; callers never see a mean over fewer
//! tasks presented as the real number.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One row of `eval_meta_data.csv` / `eval_meta_data_v1.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskMeta {
    pub name: String,
    pub category: String,
    pub task_type: String,
    pub shots: u32,
    pub datapoints: u64,
    /// Percent, as in the CSV (e.g. 25 for 4-way multiple choice).
    pub random_baseline: f64,
}

/// The metadata table, in file order (the order pandas aggregates in).
#[derive(Debug, Clone)]
pub struct EvalMeta {
    pub tasks: Vec<TaskMeta>,
}

#[derive(Deserialize)]
struct MetaRow {
    #[serde(rename = "Eval Task")]
    name: String,
    #[serde(rename = "Task Category")]
    category: String,
    #[serde(rename = "Task Type")]
    task_type: String,
    #[serde(rename = "#shots")]
    shots: u32,
    #[serde(rename = "#datapoints")]
    datapoints: u64,
    #[serde(rename = "Random baseline")]
    random_baseline: f64,
}

impl EvalMeta {
    pub fn load(path: &Path) -> Result<EvalMeta> {
        let mut rdr = csv::Reader::from_path(path)
            .with_context(|| format!("opening eval metadata {}", path.display()))?;
        let mut tasks = Vec::new();
        for (i, row) in rdr.deserialize::<MetaRow>().enumerate() {
            // Line numbers: header is line 1; descriptions contain no newlines in DCLM's files,
            // but csv reports its own position too.
            let row = row.with_context(|| format!("{}: record {}", path.display(), i + 1))?;
            tasks.push(TaskMeta {
                name: row.name,
                category: row.category,
                task_type: row.task_type,
                shots: row.shots,
                datapoints: row.datapoints,
                random_baseline: row.random_baseline,
            });
        }
        if tasks.is_empty() {
            bail!("{}: no tasks", path.display());
        }
        Ok(EvalMeta { tasks })
    }

    pub fn get(&self, name: &str) -> Option<&TaskMeta> {
        self.tasks.iter().find(|t| t.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.tasks.iter().map(|t| t.name.clone()).collect()
    }
}

/// `additional_aggregation.json`: named task lists; `low_variance_datasets` is CORE.
#[derive(Debug, Clone)]
pub struct AggregationSets {
    pub sets: BTreeMap<String, Vec<String>>,
}

pub const CORE_SET: &str = "low_variance_datasets";

impl AggregationSets {
    pub fn load(path: &Path) -> Result<AggregationSets> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let sets: BTreeMap<String, Vec<String>> =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if !sets.contains_key(CORE_SET) {
            bail!("{}: no `{CORE_SET}` list (the CORE tasks)", path.display());
        }
        Ok(AggregationSets { sets })
    }

    pub fn core(&self) -> &[String] {
        &self.sets[CORE_SET]
    }
}

/// `(acc - 0.01*b) / (1 - 0.01*b)`, operation order as pandas evaluates it.
pub fn centered(acc: f64, random_baseline_percent: f64) -> f64 {
    (acc - 0.01 * random_baseline_percent) / (1.0 - 0.01 * random_baseline_percent)
}

/// numpy's `pairwise_sum` for float64 (the reduction under `ndarray.sum`).
pub fn numpy_pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let end = n - n % 8;
        let mut i = 8;
        while i < end {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[end..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_pairwise_sum(&a[..n2]) + numpy_pairwise_sum(&a[n2..])
    }
}

/// pandas `Series.mean()` with `skipna=True`: NaN entries are replaced by 0 and not counted.
pub fn pandas_mean(values: &[f64]) -> f64 {
    let count = values.iter().filter(|v| !v.is_nan()).count();
    if count == 0 {
        return f64::NAN;
    }
    let filled: Vec<f64> = values
        .iter()
        .map(|&v| if v.is_nan() { 0.0 } else { v })
        .collect();
    numpy_pairwise_sum(&filled) / count as f64
}

/// pandas' cython `group_mean` (Kahan-compensated running sum, NaN skipped).
pub fn pandas_group_mean(values: &[f64]) -> f64 {
    let mut sum = 0.0f64;
    let mut comp = 0.0f64;
    let mut nobs = 0usize;
    for &v in values {
        if v.is_nan() {
            continue;
        }
        nobs += 1;
        let y = v - comp;
        let t = sum + y;
        comp = t - sum - y;
        sum = t;
    }
    if nobs == 0 {
        f64::NAN
    } else {
        sum / nobs as f64
    }
}

/// CORE or EXTENDED: a value, or "not available" with the tasks that are missing.
#[derive(Debug, Clone, PartialEq)]
pub enum Headline {
    Value(f64),
    Partial {
        missing: Vec<String>,
        /// Mean over the tasks that are present, for information only (DCLM reports N/A).
        mean_of_available: f64,
    },
}

impl Headline {
    pub fn value(&self) -> Option<f64> {
        match self {
            Headline::Value(v) => Some(*v),
            Headline::Partial { .. } => None,
        }
    }

    /// Fixed-decimal rendering; partial values say so and how many tasks are missing.
    pub fn render(&self, decimals: usize) -> String {
        match self {
            Headline::Value(v) => format!("{v:.decimals$}"),
            Headline::Partial {
                missing,
                mean_of_available,
            } => format!(
                "N/A (partial: {} missing; mean of available {mean_of_available:.decimals$})",
                missing.len()
            ),
        }
    }
}

/// Everything `get_aggregated_results` computes for one version of the metadata.
#[derive(Debug, Clone)]
pub struct Aggregate {
    pub core: Headline,
    pub extended: Headline,
    /// `aggregated_task_categories_centered`.
    pub categories_centered: BTreeMap<String, f64>,
    /// `aggregated_results` (raw mean over the metadata tasks present).
    pub raw_mean: f64,
    /// For each additional set: (raw mean, centered mean).
    pub sets: BTreeMap<String, (f64, f64)>,
    /// Metadata tasks without a result, in metadata order.
    pub missing: Vec<String>,
    /// Per task: (raw, centered), metadata order; NaN where missing.
    pub per_task: Vec<(String, f64, f64)>,
}

/// Aggregates per-task accuracies (`eval_metrics.icl`) like DCLM's `get_aggregated_results`.
pub fn aggregate(
    results: &BTreeMap<String, f64>,
    meta: &EvalMeta,
    sets: &AggregationSets,
) -> Aggregate {
    let mut per_task = Vec::new();
    let mut missing = Vec::new();
    for t in &meta.tasks {
        let (raw, cen) = match results.get(&t.name) {
            Some(&acc) => (acc, centered(acc, t.random_baseline)),
            None => {
                missing.push(t.name.clone());
                (f64::NAN, f64::NAN)
            }
        };
        per_task.push((t.name.clone(), raw, cen));
    }
    let raw: Vec<f64> = per_task.iter().map(|p| p.1).collect();
    let cen: Vec<f64> = per_task.iter().map(|p| p.2).collect();

    let mut categories_centered = BTreeMap::new();
    let mut cats: Vec<&str> = meta.tasks.iter().map(|t| t.category.as_str()).collect();
    cats.sort();
    cats.dedup();
    for cat in cats {
        let vals: Vec<f64> = meta
            .tasks
            .iter()
            .zip(&cen)
            .filter(|(t, _)| t.category == cat)
            .map(|(_, &c)| c)
            .collect();
        categories_centered.insert(cat.to_string(), pandas_group_mean(&vals));
    }

    let subset = |names: &[String]| -> (Vec<f64>, Vec<f64>) {
        // `eval_metadata[eval_metadata["Eval Task"].isin(tasks)]` keeps metadata order.
        let mut r = Vec::new();
        let mut c = Vec::new();
        for (i, t) in meta.tasks.iter().enumerate() {
            if names.contains(&t.name) {
                r.push(raw[i]);
                c.push(cen[i]);
            }
        }
        (r, c)
    };
    let mut set_means = BTreeMap::new();
    for (name, tasks) in &sets.sets {
        let (r, c) = subset(tasks);
        set_means.insert(name.clone(), (pandas_mean(&r), pandas_mean(&c)));
    }

    let core_missing: Vec<String> = sets
        .core()
        .iter()
        .filter(|t| !results.contains_key(*t))
        .cloned()
        .collect();
    let core_mean = set_means[CORE_SET].1;
    let core = if core_missing.is_empty() {
        Headline::Value(core_mean)
    } else {
        Headline::Partial {
            missing: core_missing,
            mean_of_available: core_mean,
        }
    };
    let ext_mean = pandas_mean(&cen);
    let extended = if missing.is_empty() {
        Headline::Value(ext_mean)
    } else {
        Headline::Partial {
            missing: missing.clone(),
            mean_of_available: ext_mean,
        }
    };
    Aggregate {
        core,
        extended,
        categories_centered,
        raw_mean: pandas_mean(&raw),
        sets: set_means,
        missing,
        per_task,
    }
}

/// The parts of a DCLM eval JSON this crate reads and writes.
#[derive(Debug, Clone)]
pub struct EvalJson {
    pub value: serde_json::Value,
}

impl EvalJson {
    pub fn load(path: &Path) -> Result<EvalJson> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading eval JSON {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("parsing eval JSON {}", path.display()))?;
        Ok(EvalJson { value })
    }

    /// `eval_metrics.icl` as a map of task -> accuracy.
    pub fn icl(&self) -> Result<BTreeMap<String, f64>> {
        let icl = self
            .value
            .pointer("/eval_metrics/icl")
            .and_then(|v| v.as_object())
            .context("eval JSON has no eval_metrics.icl object")?;
        let mut out = BTreeMap::new();
        for (k, v) in icl {
            let x = v
                .as_f64()
                .with_context(|| format!("eval_metrics.icl.{k} is not a number: {v}"))?;
            out.insert(k.clone(), x);
        }
        Ok(out)
    }

    /// A stored number such as `Core_v2`; `None` when absent or not a number (DCLM stores a
    /// string for N/A).
    pub fn stored(&self, key: &str) -> Option<f64> {
        self.value.get(key).and_then(|v| v.as_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn centered_examples() {
        assert_eq!(centered(0.25, 25.0), 0.0);
        assert_eq!(centered(1.0, 50.0), 1.0);
        assert_eq!(centered(0.5, 0.0), 0.5);
    }

    #[test]
    fn pairwise_sum_small_and_blocked() {
        assert_eq!(numpy_pairwise_sum(&[]), 0.0);
        assert_eq!(numpy_pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
        let v: Vec<f64> = (1..=53).map(f64::from).collect();
        assert_eq!(numpy_pairwise_sum(&v), 1431.0);
    }

    #[test]
    fn mean_skips_nan() {
        assert_eq!(pandas_mean(&[1.0, f64::NAN, 3.0]), 2.0);
        assert!(pandas_mean(&[f64::NAN]).is_nan());
        assert_eq!(pandas_group_mean(&[1.0, f64::NAN, 2.0]), 1.5);
    }

    proptest! {
        #[test]
        fn pairwise_sum_close_to_naive(v in proptest::collection::vec(-1e3f64..1e3, 0..400)) {
            let naive: f64 = v.iter().sum();
            let pw = numpy_pairwise_sum(&v);
            prop_assert!((naive - pw).abs() <= 1e-9 * (1.0 + v.iter().map(|x| x.abs()).sum::<f64>()));
        }

        #[test]
        fn kahan_mean_of_constant_is_exact(x in -1e6f64..1e6, n in 1usize..200) {
            let v = vec![x; n];
            prop_assert!((pandas_group_mean(&v) - x).abs() <= 1e-12 * x.abs().max(1.0));
        }
    }
}
