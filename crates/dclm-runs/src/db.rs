//! `DCLM_model_database.csv` as a typed polars frame, one row per evaluated run.
//!
//! Every column is first read as text (polars' CSV reader with no type inference), so that a cell
//! that should be a number and is not is reported with its column and row instead of turning the
//! whole column into strings or nulls. The typed frame [`RunDb::runs`] has:
//!
//! | column | from | |
//! |---|---|---|
//! | `row` | | 1-based data row of the CSV (the header is row 0) |
//! | `model_json`, `dataset`, `model` | `Model JSON`, `Dataset`, `model` | |
//! | `suite` | `name` | last path component: `heavy`, `mmlu_and_lowvar`, … |
//! | `params`, `tokens` | `params`, `tokens` | whole numbers, required |
//! | `core`, `mmlu` | `Core`, `mmlu_fewshot` | CORE v1, 5-shot MMLU; empty → null |
//! | `extended` | `Extended` | EXTENDED v1; null where the suite is `mmlu_and_lowvar` (those rows store Extended = Core) |
//! | `size`, `multiplier`, `scale` | [`Scales::derive`] | |
//! | `compute` | | 6 · params · tokens (training FLOPs as DCLM counts them) |
//! | `core_v2`, `extended_v2` | per-task columns | after [`RunDb::with_aggregates`]: DCLM's aggregation (`lmrepro-eval`) with the v2 random baselines; null where a task is missing |

use crate::scale::Scales;
use anyhow::{bail, Context, Result};
use lmrepro_eval::aggregate::{aggregate, AggregationSets, EvalMeta};
use polars::prelude::*;
use polars_io::prelude::CsvReadOptions;
use polars_io::SerReader;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The database columns the typed frame is built from.
pub const REQUIRED: [&str; 9] = [
    "Model JSON",
    "Dataset",
    "model",
    "params",
    "tokens",
    "Core",
    "Extended",
    "mmlu_fewshot",
    "name",
];

/// Score columns of the typed frame, by the name the CLI and recipes use.
pub const SCORES: [(&str, &str); 3] = [
    ("core", "Core"),
    ("extended", "Extended"),
    ("mmlu", "mmlu_fewshot"),
];

/// The suite whose rows store `Extended = Core` (no EXTENDED was run).
pub const CORE_ONLY_SUITE: &str = "mmlu_and_lowvar";

/// The database: every column as written (`raw`) and the typed, derived frame (`runs`).
#[derive(Debug, Clone)]
pub struct RunDb {
    pub path: PathBuf,
    pub raw: DataFrame,
    pub runs: DataFrame,
    /// Stored v1 aggregates against the same aggregation of the per-task columns (after
    /// [`RunDb::with_aggregates`]).
    pub recomputed: Option<Recomputed>,
}

/// DCLM's eval metadata: the tasks with their v1 and v2 random baselines, and the CORE task list.
#[derive(Debug, Clone)]
pub struct Aggregation {
    pub meta_v1: EvalMeta,
    pub meta_v2: EvalMeta,
    pub sets: AggregationSets,
}

/// How many stored v1 aggregates the per-task columns reproduce (|difference| ≤ [`RECOMPUTE_TOL`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Recomputed {
    pub core_equal: usize,
    /// Runs with a stored `Core` and every CORE task.
    pub core_compared: usize,
    pub extended_equal: usize,
    /// Runs with a stored EXTENDED and every task.
    pub extended_compared: usize,
}

impl Aggregation {
    /// Reads `eval_meta_data_v1.csv`, `eval_meta_data.csv` (v2) and `additional_aggregation.json`.
    pub fn load(meta_v1: &Path, meta_v2: &Path, sets: &Path) -> Result<Aggregation> {
        Ok(Aggregation {
            meta_v1: EvalMeta::load(meta_v1)?,
            meta_v2: EvalMeta::load(meta_v2)?,
            sets: AggregationSets::load(sets)?,
        })
    }
}

/// Stored aggregates have 10 significant digits.
pub const RECOMPUTE_TOL: f64 = 1e-9;

/// What a bad cell is reported with: file, column, row, and the run's `Model JSON` if readable.
fn at(path: &Path, raw: &DataFrame, column: &str, i: usize) -> String {
    let key = raw
        .column("Model JSON")
        .ok()
        .and_then(|c| c.str().ok())
        .and_then(|c| c.get(i))
        .map(|k| format!(" (`Model JSON` = {k})"))
        .unwrap_or_default();
    format!("{}: column `{column}`, row {}{key}", path.display(), i + 1)
}

fn text_column<'a>(raw: &'a DataFrame, name: &str) -> Result<&'a StringChunked> {
    Ok(raw.column(name)?.str()?)
}

/// A numeric column: empty cells are `None`; anything else must be a finite number.
fn numbers(path: &Path, raw: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let col = text_column(raw, name)?;
    col.iter()
        .enumerate()
        .map(|(i, cell)| match cell.map(str::trim) {
            None | Some("") => Ok(None),
            Some(t) => match t.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => bail!("{}: `{t}` is not a number", at(path, raw, name, i)),
            },
        })
        .collect()
}

/// A required count (`params`, `tokens`): a whole, positive number in every row.
fn counts(path: &Path, raw: &DataFrame, name: &str) -> Result<Vec<u64>> {
    numbers(path, raw, name)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Some(v) if v > 0.0 && v.fract() == 0.0 && v < 2f64.powi(63) => Ok(v as u64),
            Some(v) => bail!(
                "{}: `{v}` is not a positive whole number",
                at(path, raw, name, i)
            ),
            None => bail!("{}: empty", at(path, raw, name, i)),
        })
        .collect()
}

fn texts(raw: &DataFrame, name: &str) -> Result<Vec<String>> {
    Ok(text_column(raw, name)?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

impl RunDb {
    /// Reads and checks the database at `path`; scales are derived with `scales`.
    pub fn load(path: &Path, scales: &Scales) -> Result<RunDb> {
        let raw = CsvReadOptions::default()
            .with_has_header(true)
            // No inference: every column is text, parsed below with errors naming the cell.
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish())
            .map_err(anyhow::Error::from)
            .with_context(|| format!("reading {} as CSV", path.display()))?;
        let have: Vec<String> = raw
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|c| !have.iter().any(|h| h == c))
            .collect();
        if !missing.is_empty() {
            bail!(
                "{}: no column {} (a DCLM run database needs {})",
                path.display(),
                missing
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                REQUIRED
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if raw.height() == 0 {
            bail!("{}: no runs", path.display());
        }
        let runs = typed(path, &raw, scales)?;
        Ok(RunDb {
            path: path.to_path_buf(),
            raw,
            runs,
            recomputed: None,
        })
    }

    /// Adds `core_v2` / `extended_v2` (DCLM's aggregation of the per-task columns with the v2
    /// random baselines) and checks the same aggregation with the v1 baselines against the stored
    /// `Core` / `Extended`. A per-task cell that is not a number is an error naming it.
    pub fn with_aggregates(mut self, agg: &Aggregation) -> Result<RunDb> {
        let mut tasks: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
        for t in agg.meta_v1.tasks.iter().chain(&agg.meta_v2.tasks) {
            if !tasks.contains_key(&t.name) && self.has_raw_column(&t.name) {
                tasks.insert(t.name.clone(), numbers(&self.path, &self.raw, &t.name)?);
            }
        }
        let n = self.runs.height();
        let per_run = |i: usize| -> BTreeMap<String, f64> {
            tasks
                .iter()
                .filter_map(|(k, v)| v[i].map(|x| (k.clone(), x)))
                .collect()
        };
        let stored_core: Vec<Option<f64>> = self.runs.column("core")?.f64()?.iter().collect();
        let stored_ext: Vec<Option<f64>> = self.runs.column("extended")?.f64()?.iter().collect();
        let (mut core_v2, mut ext_v2) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut rc = Recomputed::default();
        for i in 0..n {
            let results = per_run(i);
            let v2 = aggregate(&results, &agg.meta_v2, &agg.sets);
            core_v2.push(v2.core.value());
            ext_v2.push(v2.extended.value());
            let v1 = aggregate(&results, &agg.meta_v1, &agg.sets);
            if let (Some(s), Some(r)) = (stored_core[i], v1.core.value()) {
                rc.core_compared += 1;
                rc.core_equal += usize::from((s - r).abs() <= RECOMPUTE_TOL);
            }
            if let (Some(s), Some(r)) = (stored_ext[i], v1.extended.value()) {
                rc.extended_compared += 1;
                rc.extended_equal += usize::from((s - r).abs() <= RECOMPUTE_TOL);
            }
        }
        self.runs
            .with_column(Column::new("core_v2".into(), core_v2))?;
        self.runs
            .with_column(Column::new("extended_v2".into(), ext_v2))?;
        self.recomputed = Some(rc);
        Ok(self)
    }

    /// The raw text of `column` in 1-based data row `row`.
    pub fn raw_cell(&self, column: &str, row: u32) -> Result<String> {
        let c = text_column(&self.raw, column)
            .with_context(|| format!("{}: no column `{column}`", self.path.display()))?;
        Ok(c.get(row as usize - 1).unwrap_or("").to_string())
    }

    /// Whether the CSV has a column of this name.
    pub fn has_raw_column(&self, column: &str) -> bool {
        self.raw.column(column).is_ok()
    }
}

fn typed(path: &Path, raw: &DataFrame, scales: &Scales) -> Result<DataFrame> {
    let n = raw.height();
    let params = counts(path, raw, "params")?;
    let tokens = counts(path, raw, "tokens")?;
    let suite: Vec<String> = texts(raw, "name")?
        .into_iter()
        .map(|s| s.rsplit('/').next().unwrap_or("").to_string())
        .collect();
    let core = numbers(path, raw, "Core")?;
    let mmlu = numbers(path, raw, "mmlu_fewshot")?;
    let extended: Vec<Option<f64>> = numbers(path, raw, "Extended")?
        .into_iter()
        .zip(&suite)
        .map(|(v, s)| if s == CORE_ONLY_SUITE { None } else { v })
        .collect();
    let derived: Vec<_> = params
        .iter()
        .zip(&tokens)
        .map(|(&p, &t)| scales.derive(p, t))
        .collect();
    let compute: Vec<f64> = params
        .iter()
        .zip(&tokens)
        .map(|(&p, &t)| 6.0 * p as f64 * t as f64)
        .collect();
    let row: Vec<u32> = (1..=n as u32).collect();
    let cols = vec![
        Column::new("row".into(), row),
        Column::new("model_json".into(), texts(raw, "Model JSON")?),
        Column::new("dataset".into(), texts(raw, "Dataset")?),
        Column::new("model".into(), texts(raw, "model")?),
        Column::new("suite".into(), suite),
        Column::new(
            "params".into(),
            params.iter().map(|&v| v as i64).collect::<Vec<_>>(),
        ),
        Column::new(
            "tokens".into(),
            tokens.iter().map(|&v| v as i64).collect::<Vec<_>>(),
        ),
        Column::new("core".into(), core),
        Column::new("extended".into(), extended),
        Column::new("mmlu".into(), mmlu),
        Column::new(
            "size".into(),
            derived.iter().map(|d| d.size.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "multiplier".into(),
            derived.iter().map(|d| d.multiplier).collect::<Vec<_>>(),
        ),
        Column::new(
            "scale".into(),
            derived.iter().map(|d| d.scale.clone()).collect::<Vec<_>>(),
        ),
        Column::new("compute".into(), compute),
    ];
    Ok(DataFrame::new(n, cols)?)
}
