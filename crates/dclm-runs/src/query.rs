//! `lmrepro dclm runs`: select runs by scale and dataset pattern, sort, and print chosen columns
//! as markdown, CSV or JSON.

use crate::db::RunDb;
use crate::glob;
use anyhow::{bail, Result};
use lmrepro_report::{fmt_fixed, fmt_sig, Table};
use polars::prelude::*;
use serde_json::{Map, Value};

/// What to sort by; scores, compute and sizes descending, names and rows ascending; ties keep
/// database order. Runs without the value come last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    Core,
    Extended,
    Mmlu,
    CoreV2,
    ExtendedV2,
    Compute,
    Tokens,
    Params,
    Dataset,
    Row,
}

impl SortKey {
    pub fn column(self) -> &'static str {
        match self {
            SortKey::Core => "core",
            SortKey::Extended => "extended",
            SortKey::Mmlu => "mmlu",
            SortKey::CoreV2 => "core_v2",
            SortKey::ExtendedV2 => "extended_v2",
            SortKey::Compute => "compute",
            SortKey::Tokens => "tokens",
            SortKey::Params => "params",
            SortKey::Dataset => "dataset",
            SortKey::Row => "row",
        }
    }

    fn descending(self) -> bool {
        !matches!(self, SortKey::Dataset | SortKey::Row)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Csv,
    Json,
}

/// Columns shown when none are asked for.
pub const DEFAULT_COLUMNS: [&str; 7] = [
    "row", "dataset", "model", "scale", "core", "extended", "mmlu",
];

/// Columns of the typed frame (`crate::db`); any other name is looked up among the CSV's own.
pub const TYPED_COLUMNS: [&str; 16] = [
    "row",
    "model_json",
    "dataset",
    "model",
    "suite",
    "params",
    "tokens",
    "core",
    "extended",
    "mmlu",
    "size",
    "multiplier",
    "scale",
    "compute",
    "core_v2",
    "extended_v2",
];

#[derive(Debug, Clone)]
pub struct Query {
    /// Only runs of this derived scale (`7b-1x`, `1b-5x`, …).
    pub scale: Option<String>,
    /// Only runs whose dataset matches one of these patterns (`*`, `?`).
    pub datasets: Vec<String>,
    pub sort: SortKey,
    /// At most this many runs (after sorting).
    pub limit: Option<usize>,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            scale: None,
            datasets: Vec::new(),
            sort: SortKey::Row,
            limit: None,
        }
    }
}

/// Runs whose dataset matches any of `patterns` (all runs when `patterns` is empty).
pub fn with_datasets(runs: &DataFrame, patterns: &[String]) -> Result<DataFrame> {
    if patterns.is_empty() {
        return Ok(runs.clone());
    }
    let mask: BooleanChunked = runs
        .column("dataset")?
        .str()?
        .iter()
        .map(|d| Some(glob::matches_any(patterns, d.unwrap_or(""))))
        .collect();
    Ok(runs.filter(&mask)?)
}

/// The runs `q` selects, sorted.
pub fn select(db: &RunDb, q: &Query) -> Result<DataFrame> {
    let mut lf = with_datasets(&db.runs, &q.datasets)?.lazy();
    if let Some(s) = &q.scale {
        lf = lf.filter(col("scale").eq(lit(s.as_str())));
    }
    let opts = SortMultipleOptions::default()
        .with_order_descending_multi([q.sort.descending(), false])
        .with_nulls_last(true)
        .with_maintain_order(true);
    lf = lf.sort_by_exprs([col(q.sort.column()), col("row")], opts);
    if let Some(n) = q.limit {
        lf = lf.limit(n as IdxSize);
    }
    Ok(lf.collect()?)
}

/// A typed value of one cell, as a markdown cell, CSV cell and JSON value.
struct Cell {
    md: String,
    csv: String,
    json: Value,
}

fn cell(df: &DataFrame, column: &str, i: usize) -> Result<Cell> {
    let c = df.column(column)?;
    Ok(match c.dtype() {
        DataType::String => {
            let v = c.str()?.get(i);
            Cell {
                md: v.unwrap_or("—").to_string(),
                csv: v.unwrap_or("").to_string(),
                json: v.map_or(Value::Null, |s| Value::String(s.to_string())),
            }
        }
        DataType::Float64 => {
            let v = c.f64()?.get(i);
            let md = |x: f64| match column {
                "compute" => fmt_sig(x, 3),
                "multiplier" => {
                    let s = fmt_fixed(x, 2);
                    s.trim_end_matches('0').trim_end_matches('.').to_string()
                }
                _ => fmt_fixed(x, 4),
            };
            Cell {
                md: v.map_or("—".to_string(), md),
                csv: v.map_or(String::new(), |x| x.to_string()),
                json: v
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number),
            }
        }
        DataType::Int64 => {
            let v = c.i64()?.get(i);
            let s = v.map_or(String::new(), |x| x.to_string());
            Cell {
                md: if s.is_empty() {
                    "—".into()
                } else {
                    s.clone()
                },
                csv: s,
                json: v.map_or(Value::Null, Value::from),
            }
        }
        DataType::UInt32 => {
            let v = c.u32()?.get(i);
            let s = v.map_or(String::new(), |x| x.to_string());
            Cell {
                md: s.clone(),
                csv: s,
                json: v.map_or(Value::Null, Value::from),
            }
        }
        other => bail!("column `{column}` has type {other:?}, which is not printed"),
    })
}

/// Checks the requested columns: typed names or the CSV's own column names.
pub fn check_columns(db: &RunDb, columns: &[String]) -> Result<()> {
    for c in columns {
        let typed = db.runs.column(c).is_ok();
        if !typed && !db.has_raw_column(c) {
            bail!(
                "no column `{c}`: use one of {} or a column of {}",
                TYPED_COLUMNS.join(", "),
                db.path.display()
            );
        }
    }
    Ok(())
}

/// Renders `columns` of the selected runs `df`. Columns of the typed frame print typed (scores
/// with 4 decimals in markdown, full precision in CSV and JSON); the CSV's other columns print as
/// written there.
pub fn render(db: &RunDb, df: &DataFrame, columns: &[String], format: Format) -> Result<String> {
    check_columns(db, columns)?;
    let rows = df.column("row")?.u32()?;
    let mut md = Table::new(columns.iter().cloned());
    let mut csv = Table::new(columns.iter().cloned());
    let mut json = Vec::new();
    for i in 0..df.height() {
        let row = rows.get(i).expect("row is never null");
        let (mut m, mut c, mut j) = (Vec::new(), Vec::new(), Map::new());
        for name in columns {
            let x = if df.column(name).is_ok() {
                cell(df, name, i)?
            } else {
                let v = db.raw_cell(name, row)?;
                Cell {
                    md: if v.is_empty() {
                        "—".into()
                    } else {
                        v.clone()
                    },
                    csv: v.clone(),
                    json: Value::String(v),
                }
            };
            m.push(x.md);
            c.push(x.csv);
            j.insert(name.clone(), x.json);
        }
        md.push(m);
        csv.push(c);
        json.push(Value::Object(j));
    }
    Ok(match format {
        Format::Md => md.to_markdown(),
        Format::Csv => csv.to_csv(),
        Format::Json => lmrepro_report::to_json_pretty(&json)?,
    })
}
