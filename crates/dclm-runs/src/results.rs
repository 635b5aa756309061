//! The `dclm-results` recipe: tables re-derived from DCLM's run database alone.
//!
//! - `leaderboard.md`: the README leaderboard rows of the models DCLM trained. Each printed row is
//!   looked up among the runs of the datasets the recipe names for it whose params and tokens
//!   print as the row does (`7B`, `0.14T`); every score cell is then compared at the printed
//!   precision. A row without such a run, a cell the database cannot hold, and a cell that
//!   disagrees are listed with both values (read from the pinned README, never typed in).
//! - `scales.md`: the README scale table, from the runs at each scale.
//! - `runs_per_scale.md`, `top_runs.md`, `groups.md`: what the database holds per scale, the best
//!   runs by CORE, and groups of runs that differ in one curation choice (the recipe's
//!   dataset-name patterns, echoed in the output).
//! - `core_vs_compute.svg` / `.csv`: CORE against training compute per dataset family.
//! - `summary.md`: cells matched / missing / disagreeing per table.

use crate::db::{Aggregation, RunDb};
use crate::glob;
use crate::printed::{self, MdTable, Printed};
use crate::query::{self, Query, SortKey};
use crate::scale::Scales;
use anyhow::{bail, ensure, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_report::{fmt_fixed, fmt_sig, write_file, Table};
use lmrepro_report::{Axis, LinePlot, SeriesStyle};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// `[params]` of a `dclm-results` recipe.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Input name of `DCLM_model_database.csv`.
    pub database: String,
    /// Input name of DCLM's README (the printed tables).
    pub readme: String,
    /// Input names of DCLM's eval metadata (v1 and v2 random baselines) and task lists.
    pub meta_v1: String,
    pub meta_v2: String,
    pub aggregation: String,
    /// The recipe whose `[params.scales]` define DCLM's scales (`dclm-baseline`).
    pub scales_from: String,
    pub leaderboard: LeaderboardSpec,
    pub scale_table: ScaleTableSpec,
    /// Runs shown per scale in `top_runs.md`.
    pub top_runs: usize,
    pub groups: Vec<GroupSpec>,
    pub families: Vec<FamilySpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderboardSpec {
    /// The section row of the README table whose rows are regenerated (`Models we trained`).
    pub section: String,
    pub columns: Vec<ColumnSpec>,
    pub models: Vec<ModelSpec>,
}

/// A printed column: compared with a database value, or missing for the stated reason.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The README's header cell.
    pub printed: String,
    /// `core`, `extended`, `mmlu`, `core_v2`, `extended_v2` (leaderboard); `params`, `tokens`,
    /// `compute` (scale table).
    #[serde(default)]
    pub database: Option<String>,
    /// Why the database cannot give this column.
    #[serde(default)]
    pub missing: Option<String>,
}

/// Which datasets a printed model name stands for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub model: String,
    pub datasets: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleTableSpec {
    pub columns: Vec<ColumnSpec>,
}

/// Runs that differ in one curation choice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub title: String,
    /// The choice that differs: `dedup`, `classifier training set`, `filtering fraction`, ...
    pub choice: String,
    /// What the members share.
    pub fixed: String,
    pub members: Vec<MemberSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    pub label: String,
    pub datasets: Vec<String>,
}

/// A dataset family of the CORE vs compute plot (a run belongs to the first family it matches).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilySpec {
    pub label: String,
    pub datasets: Vec<String>,
}

/// One run, out of the typed frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub row: u32,
    pub model_json: String,
    pub dataset: String,
    pub model: String,
    pub suite: String,
    pub params: u64,
    pub tokens: u64,
    pub core: Option<f64>,
    pub extended: Option<f64>,
    pub mmlu: Option<f64>,
    pub core_v2: Option<f64>,
    pub extended_v2: Option<f64>,
    pub scale: Option<String>,
    pub compute: f64,
}

impl Run {
    /// A numeric field by its typed-frame name.
    pub fn value(&self, name: &str) -> Result<Option<f64>> {
        Ok(match name {
            "core" => self.core,
            "extended" => self.extended,
            "mmlu" => self.mmlu,
            "core_v2" => self.core_v2,
            "extended_v2" => self.extended_v2,
            "params" => Some(self.params as f64),
            "tokens" => Some(self.tokens as f64),
            "compute" => Some(self.compute),
            other => bail!(
                "no numeric run field `{other}` (core, extended, mmlu, core_v2, extended_v2, params, tokens, compute)"
            ),
        })
    }
}

/// The runs of a typed frame, in frame order.
pub fn runs_of(df: &DataFrame) -> Result<Vec<Run>> {
    let s = |c: &str| -> Result<Vec<Option<String>>> {
        Ok(df
            .column(c)?
            .str()?
            .iter()
            .map(|v| v.map(String::from))
            .collect())
    };
    let f = |c: &str| -> Result<Vec<Option<f64>>> { Ok(df.column(c)?.f64()?.iter().collect()) };
    // Present after `RunDb::with_aggregates`.
    let opt = |c: &str| -> Result<Vec<Option<f64>>> {
        if df.column(c).is_ok() {
            f(c)
        } else {
            Ok(vec![None; df.height()])
        }
    };
    let (core_v2, ext_v2) = (opt("core_v2")?, opt("extended_v2")?);
    let i = |c: &str| -> Result<Vec<u64>> {
        Ok(df
            .column(c)?
            .i64()?
            .iter()
            .map(|v| v.unwrap_or(0) as u64)
            .collect())
    };
    let (row, mj, ds, model, suite, scale) = (
        df.column("row")?.u32()?.iter().collect::<Vec<_>>(),
        s("model_json")?,
        s("dataset")?,
        s("model")?,
        s("suite")?,
        s("scale")?,
    );
    let (params, tokens) = (i("params")?, i("tokens")?);
    let (core, ext, mmlu, compute) = (f("core")?, f("extended")?, f("mmlu")?, f("compute")?);
    Ok((0..df.height())
        .map(|k| Run {
            row: row[k].unwrap_or(0),
            model_json: mj[k].clone().unwrap_or_default(),
            dataset: ds[k].clone().unwrap_or_default(),
            model: model[k].clone().unwrap_or_default(),
            suite: suite[k].clone().unwrap_or_default(),
            params: params[k],
            tokens: tokens[k],
            core: core[k],
            extended: ext[k],
            mmlu: mmlu[k],
            core_v2: core_v2[k],
            extended_v2: ext_v2[k],
            scale: scale[k].clone(),
            compute: compute[k].unwrap_or(f64::NAN),
        })
        .collect())
}

/// How a printed cell compares with the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Matched,
    Missing,
    Disagrees,
}

/// One printed cell and what the database says.
#[derive(Debug, Clone, Serialize)]
pub struct CellCheck {
    /// The printed row (`DCLM-BASELINE 7B 0.14T`).
    pub row: String,
    pub column: String,
    pub printed: String,
    /// The database value at the printed precision.
    pub database: Option<String>,
    pub status: Status,
    /// The database run compared (1-based data row).
    pub run: Option<u32>,
    pub reason: Option<String>,
}

impl CellCheck {
    fn cell(&self) -> String {
        match (self.status, &self.database) {
            (Status::Matched, Some(d)) => format!("{} = {d}", self.printed),
            (Status::Disagrees, Some(d)) => format!("{} ≠ {d}", self.printed),
            _ => format!("{} (—)", self.printed),
        }
    }
}

/// Cells matched / missing / disagreeing of one regenerated table.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Tally {
    pub rows: usize,
    pub rows_matched: usize,
    pub matched: usize,
    pub missing: usize,
    pub disagrees: usize,
}

fn tally(cells: &[CellCheck], rows: usize, rows_matched: usize) -> Tally {
    let n = |s: Status| cells.iter().filter(|c| c.status == s).count();
    Tally {
        rows,
        rows_matched,
        matched: n(Status::Matched),
        missing: n(Status::Missing),
        disagrees: n(Status::Disagrees),
    }
}

fn check_columns(spec: &[ColumnSpec], table: &MdTable, numeric: &[&str]) -> Result<Vec<usize>> {
    spec.iter()
        .map(|c| {
            match (&c.database, &c.missing) {
                (Some(d), None) if numeric.contains(&d.as_str()) => {}
                (Some(d), None) => bail!(
                    "column `{}`: `database = \"{d}\"` is not one of {}",
                    c.printed,
                    numeric.join(", ")
                ),
                _ => ensure!(
                    c.database.is_some() != c.missing.is_some(),
                    "column `{}`: give either `database` or `missing`",
                    c.printed
                ),
            }
            table.column(&c.printed)
        })
        .collect()
}

/// Compares the printed cells of one row with one run (or with none).
fn compare_row(
    label: &str,
    cols: &[ColumnSpec],
    printed: &[String],
    run: Option<&Run>,
    no_run: &str,
) -> Result<Vec<CellCheck>> {
    let mut out = Vec::new();
    for (c, text) in cols.iter().zip(printed) {
        let mut check = CellCheck {
            row: label.to_string(),
            column: c.printed.clone(),
            printed: text.clone(),
            database: None,
            status: Status::Missing,
            run: run.map(|r| r.row),
            reason: None,
        };
        match (&c.database, run) {
            (None, _) => check.reason = c.missing.clone(),
            (Some(_), None) => check.reason = Some(no_run.to_string()),
            (Some(field), Some(r)) => {
                let p = parse_printed(field, text)
                    .with_context(|| format!("row `{label}`, column `{}`", c.printed))?;
                match r.value(field)? {
                    None => check.reason = Some(format!("run row {} has no `{field}`", r.row)),
                    Some(v) => {
                        check.database = Some(p.render(v));
                        check.status = if p.agrees(v) {
                            Status::Matched
                        } else {
                            Status::Disagrees
                        };
                    }
                }
            }
        }
        out.push(check);
    }
    Ok(out)
}

fn parse_printed(field: &str, text: &str) -> Result<Printed> {
    match field {
        "core" | "extended" | "mmlu" | "core_v2" | "extended_v2" => Printed::percent(text),
        _ => Printed::quantity(text),
    }
}

/// One printed leaderboard row and the runs behind it.
#[derive(Debug, Clone, Serialize)]
pub struct LeaderboardRow {
    pub model: String,
    pub params: String,
    pub tokens: String,
    /// README line.
    pub line: usize,
    pub datasets: Vec<String>,
    /// Runs of those datasets whose params and tokens print as the row does.
    pub candidates: Vec<Run>,
    /// Candidates with every compared cell equal at the printed precision.
    pub matching: Vec<u32>,
    /// The run the cells are compared with: the first matching one, else the closest.
    pub compared: Option<u32>,
    pub reason: Option<String>,
    pub cells: Vec<CellCheck>,
}

pub fn leaderboard(
    runs: &[Run],
    readme: &str,
    spec: &LeaderboardSpec,
) -> Result<Vec<LeaderboardRow>> {
    let all = printed::tables(readme);
    let table = printed::find_table(&all, "Model", &["Params", "Tokens"])?;
    let (ip, it) = (table.column("Params")?, table.column("Tokens")?);
    let idx = check_columns(
        &spec.columns,
        table,
        &["core", "extended", "mmlu", "core_v2", "extended_v2"],
    )?;
    let mut in_section = false;
    let mut out = Vec::new();
    for r in &table.rows {
        if let Some(s) = printed::section_name(r) {
            in_section = s == spec.section;
            continue;
        }
        if !in_section {
            continue;
        }
        let cell = |i: usize| r.cells.get(i).cloned().unwrap_or_default();
        let (model, params, tokens) = (cell(0), cell(ip), cell(it));
        let label = format!("{model} {params} {tokens}");
        let printed: Vec<String> = idx.iter().map(|&i| cell(i)).collect();
        let mut row = LeaderboardRow {
            model: model.clone(),
            params: params.clone(),
            tokens: tokens.clone(),
            line: r.line,
            datasets: Vec::new(),
            candidates: Vec::new(),
            matching: Vec::new(),
            compared: None,
            reason: None,
            cells: Vec::new(),
        };
        let Some(m) = spec.models.iter().find(|m| m.model == model) else {
            row.reason = Some("the recipe names no dataset for this model".into());
            row.cells = compare_row(&label, &spec.columns, &printed, None, "no run")?;
            out.push(row);
            continue;
        };
        row.datasets = m.datasets.clone();
        let pp = Printed::quantity(&params).with_context(|| format!("README line {}", r.line))?;
        let pt = Printed::quantity(&tokens).with_context(|| format!("README line {}", r.line))?;
        let of_datasets: Vec<&Run> = runs
            .iter()
            .filter(|x| glob::matches_any(&m.datasets, &x.dataset))
            .collect();
        row.candidates = of_datasets
            .iter()
            .filter(|x| pp.agrees(x.params as f64) && pt.agrees(x.tokens as f64))
            .map(|x| (*x).clone())
            .collect();
        if row.candidates.is_empty() {
            // Where the runs of these datasets are: their scales (or params / tokens).
            let mut at: Vec<(u64, u64, String)> = Vec::new();
            for x in &of_datasets {
                let s = x
                    .scale
                    .clone()
                    .unwrap_or_else(|| format!("{} params / {} tokens", x.params, x.tokens));
                if !at.iter().any(|(_, _, t)| *t == s) {
                    at.push((x.params, x.tokens, s));
                }
            }
            at.sort();
            let reason = format!(
                "no run at {params} / {tokens}: {} runs of these datasets, at {}",
                of_datasets.len(),
                if at.is_empty() {
                    "no scale".to_string()
                } else {
                    at.iter()
                        .map(|(p, t, s)| {
                            format!("{s} ({} / {})", pp.render(*p as f64), fmt_sig(*t as f64, 3))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
            row.cells = compare_row(&label, &spec.columns, &printed, None, &reason)?;
            row.reason = Some(reason);
            out.push(row);
            continue;
        }
        // Compare with every candidate; the row's run is the first that agrees everywhere,
        // else the one agreeing in most cells (then the smallest total distance).
        let mut best: Option<(usize, f64, u32, Vec<CellCheck>)> = None;
        for c in &row.candidates {
            let cells = compare_row(&label, &spec.columns, &printed, Some(c), "")?;
            let agree = cells.iter().filter(|x| x.status == Status::Matched).count();
            let compared = cells.iter().filter(|x| x.database.is_some()).count();
            let comparable = spec.columns.iter().filter(|x| x.database.is_some()).count();
            if agree == comparable && compared == comparable {
                row.matching.push(c.row);
            }
            let mut dist = 0.0;
            for (col, text) in spec.columns.iter().zip(&printed) {
                if let (Some(f), Ok(v)) = (&col.database, text.parse::<f64>()) {
                    dist += c.value(f)?.map_or(f64::INFINITY, |x| (100.0 * x - v).abs());
                }
            }
            let better = match &best {
                None => true,
                Some((a, d, _, _)) => agree > *a || (agree == *a && dist < *d),
            };
            if better {
                best = Some((agree, dist, c.row, cells));
            }
        }
        if let Some(&first) = row.matching.first() {
            let c = row
                .candidates
                .iter()
                .find(|c| c.row == first)
                .expect("a candidate");
            row.cells = compare_row(&label, &spec.columns, &printed, Some(c), "")?;
            row.compared = Some(first);
        } else if let Some((_, _, r, cells)) = best {
            row.reason = Some(format!(
                "{} candidate run(s), none agrees in every cell; compared with the closest (row {r})",
                row.candidates.len()
            ));
            row.compared = Some(r);
            row.cells = cells;
        }
        out.push(row);
    }
    ensure!(
        !out.is_empty(),
        "the README table has no rows under the section `{}`",
        spec.section
    );
    Ok(out)
}

/// One printed row of the README scale table.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleRow {
    pub scale: String,
    pub line: usize,
    pub runs: usize,
    pub cells: Vec<CellCheck>,
}

pub fn scale_table(runs: &[Run], readme: &str, spec: &ScaleTableSpec) -> Result<Vec<ScaleRow>> {
    let all = printed::tables(readme);
    let table = printed::find_table(&all, "Scale", &[])?;
    let idx = check_columns(&spec.columns, table, &["params", "tokens", "compute"])?;
    let mut out = Vec::new();
    for r in &table.rows {
        let name = r.cells.first().cloned().unwrap_or_default();
        let id = name.to_lowercase();
        let at: Vec<&Run> = runs
            .iter()
            .filter(|x| x.scale.as_deref() == Some(id.as_str()))
            .collect();
        let printed: Vec<String> = idx
            .iter()
            .map(|&i| r.cells.get(i).cloned().unwrap_or_default())
            .collect();
        // Every run of a scale has the same params and tokens (the scale is derived from them).
        let first = at.first().copied();
        let reason = format!("no run at scale {id} in the database");
        let cells = compare_row(&name, &spec.columns, &printed, first, &reason)?;
        out.push(ScaleRow {
            scale: name,
            line: r.line,
            runs: at.len(),
            cells,
        });
    }
    Ok(out)
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("—".into(), |x| fmt_fixed(x, 4))
}

fn patterns(p: &[String]) -> String {
    p.iter()
        .map(|x| format!("`{x}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn leaderboard_md(rows: &[LeaderboardRow], spec: &LeaderboardSpec) -> String {
    let mut head = vec!["Model".to_string(), "Params".into(), "Tokens".into()];
    head.extend(spec.columns.iter().map(|c| c.printed.clone()));
    head.extend(["run".to_string(), "status".into()]);
    let mut t = Table::new(head);
    for r in rows {
        let mut cells = vec![r.model.clone(), r.params.clone(), r.tokens.clone()];
        cells.extend(r.cells.iter().map(CellCheck::cell));
        cells.push(r.compared.map_or("—".into(), |x| format!("row {x}")));
        cells.push(if !r.matching.is_empty() {
            format!(
                "matched ({} of {} candidates agree)",
                r.matching.len(),
                r.candidates.len()
            )
        } else if r.candidates.is_empty() {
            "unmatched".into()
        } else {
            "disagrees".into()
        });
        t.push(cells);
    }
    let mut md = format!(
        "# DCLM README leaderboard, \"{}\", regenerated from the run database\n\n\
         Printed values are parsed from the pinned README (mlfoundations/dclm@361714bd); `printed = database` \
         where the database run prints the same at the README's precision, `≠` where it does not, `(—)` where the \
         database has no value (reasons below). A printed row is looked up among the runs of its datasets whose \
         `params` and `tokens` print as the row's Params and Tokens.\n\n",
        spec.section
    );
    md.push_str(&t.to_markdown());
    md.push_str("\n## Rows\n\n");
    for r in rows {
        let _ = writeln!(
            md,
            "- **{} {} {}** (README line {}): datasets {}.{}{}",
            r.model,
            r.params,
            r.tokens,
            r.line,
            if r.datasets.is_empty() {
                "none".into()
            } else {
                patterns(&r.datasets)
            },
            if r.matching.is_empty() {
                String::new()
            } else {
                format!(
                    " Runs agreeing in every compared cell: {}.",
                    r.matching
                        .iter()
                        .map(|x| format!("row {x}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            r.reason
                .as_ref()
                .map_or(String::new(), |x| format!(" {x}."))
        );
    }
    md.push_str("\n## Missing cells\n\n");
    md.push_str(&missing_list(rows.iter().flat_map(|r| &r.cells)));
    md.push_str("\n## Candidate runs\n\n");
    let mut c = Table::new([
        "printed row",
        "run",
        "dataset",
        "model",
        "tokens",
        "Core",
        "mmlu_fewshot",
        "Extended",
        "cells agreeing",
    ]);
    for r in rows {
        for x in &r.candidates {
            let printed: Vec<String> = r.cells.iter().map(|c| c.printed.clone()).collect();
            let cells = compare_row("", &spec.columns, &printed, Some(x), "").unwrap_or_default();
            let agree = cells.iter().filter(|c| c.status == Status::Matched).count();
            let comparable = spec.columns.iter().filter(|c| c.database.is_some()).count();
            c.push([
                format!("{} {} {}", r.model, r.params, r.tokens),
                format!("row {}", x.row),
                x.dataset.clone(),
                x.model.clone(),
                x.tokens.to_string(),
                fmt_opt(x.core),
                fmt_opt(x.mmlu),
                fmt_opt(x.extended),
                format!("{agree} of {comparable}"),
            ]);
        }
    }
    if c.rows.is_empty() {
        md.push_str("None.\n");
    } else {
        md.push_str(&c.to_markdown());
    }
    md
}

fn scales_md(rows: &[ScaleRow], spec: &ScaleTableSpec) -> String {
    let mut head = vec!["Scale".to_string()];
    head.extend(spec.columns.iter().map(|c| c.printed.clone()));
    head.push("runs".into());
    let mut t = Table::new(head);
    for r in rows {
        let mut cells = vec![r.scale.clone()];
        cells.extend(r.cells.iter().map(CellCheck::cell));
        cells.push(r.runs.to_string());
        t.push(cells);
    }
    let mut md = String::from(
        "# DCLM README scale table, regenerated from the run database\n\n\
         Each printed row against the database runs of that scale (scale derived from params and tokens: \
         `<size>-<k>x` = k × 20 tokens per parameter); Train FLOPs = 6 · params · tokens. `printed = database` \
         at the README's precision, `≠` where it prints differently, `(—)` where the database cannot say.\n\n",
    );
    md.push_str(&t.to_markdown());
    md.push_str("\n## Missing cells\n\n");
    md.push_str(&missing_list(rows.iter().flat_map(|r| &r.cells)));
    md
}

/// Missing cells grouped by reason: `- row: columns: reason`.
fn missing_list<'a>(cells: impl Iterator<Item = &'a CellCheck>) -> String {
    let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
    for c in cells.filter(|c| c.status == Status::Missing) {
        let why = c.reason.clone().unwrap_or_default();
        match groups.iter_mut().find(|(r, w, _)| *r == c.row && *w == why) {
            Some(g) => g.2.push(c.column.clone()),
            None => groups.push((c.row.clone(), why, vec![c.column.clone()])),
        }
    }
    if groups.is_empty() {
        return "None.\n".into();
    }
    let mut md = String::new();
    for (row, why, cols) in groups {
        let _ = writeln!(md, "- {row}: {}: {why}", cols.join(", "));
    }
    md
}

/// Runs per derived scale (polars group-by).
fn runs_per_scale_md(db: &RunDb, scales: &Scales) -> Result<String> {
    let df = db
        .runs
        .clone()
        .lazy()
        .group_by([col("scale")])
        .agg([
            col("params").first(),
            col("tokens").first(),
            len().alias("runs"),
            col("core").count().alias("with_core"),
            col("core").max().alias("best_core"),
            col("core").mean().alias("mean_core"),
        ])
        .sort_by_exprs(
            [col("params"), col("tokens")],
            SortMultipleOptions::default().with_nulls_last(true),
        )
        .collect()?;
    let mut t = Table::new([
        "scale",
        "DCLM scale",
        "params",
        "tokens",
        "runs",
        "with CORE",
        "best CORE",
        "mean CORE",
    ]);
    let sc = df.column("scale")?.str()?;
    let (p, tk) = (df.column("params")?.i64()?, df.column("tokens")?.i64()?);
    let (n, wc) = (df.column("runs")?.u32()?, df.column("with_core")?.u32()?);
    let (best, mean) = (
        df.column("best_core")?.f64()?,
        df.column("mean_core")?.f64()?,
    );
    for i in 0..df.height() {
        let s = sc.get(i);
        t.push([
            s.unwrap_or("(no DCLM size)").to_string(),
            s.and_then(|s| scales.get(s).ok())
                .map_or("—".into(), |d| d.name.clone()),
            p.get(i).map_or("—".into(), |v| v.to_string()),
            tk.get(i).map_or("—".into(), |v| v.to_string()),
            n.get(i).unwrap_or(0).to_string(),
            wc.get(i).unwrap_or(0).to_string(),
            fmt_opt(best.get(i)),
            fmt_opt(mean.get(i)),
        ]);
    }
    let mut md = String::from(
        "# Runs per scale\n\nEvery run's scale derived from its `params` and `tokens` as DCLM names scales \
         (`<size>-<k>x`: k × 20 tokens per parameter; a multiplier that is not whole is written with two \
         decimals). CORE = the database's `Core` (CORE v1); runs without it are counted but not averaged.\n\n",
    );
    md.push_str(&t.to_markdown());
    Ok(md)
}

fn top_runs_md(db: &RunDb, scales: &Scales, n: usize) -> Result<String> {
    let mut md = format!(
        "# Top {n} runs by CORE per DCLM scale\n\nCORE = `Core` (v1), EXTENDED = `Extended` (v1; empty for \
         `mmlu_and_lowvar` runs, which store Extended = Core), MMLU = `mmlu_fewshot`; as stored (fractions). \
         `row`: 1-based data row of DCLM_model_database.csv.\n"
    );
    let columns: Vec<String> = ["row", "dataset", "model", "core", "extended", "mmlu"]
        .map(String::from)
        .to_vec();
    for d in &scales.defs {
        let q = Query {
            scale: Some(d.id.clone()),
            datasets: Vec::new(),
            sort: SortKey::Core,
            limit: Some(n),
        };
        let df = query::select(db, &q)?;
        let _ = writeln!(
            md,
            "\n## {} ({} params, {} tokens)\n",
            d.name, d.params, d.tokens
        );
        if df.height() == 0 {
            md.push_str("No run at this scale.\n");
        } else {
            md.push_str(&query::render(db, &df, &columns, query::Format::Md)?);
        }
    }
    Ok(md)
}

/// One (member, scale) cell of a group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupCell {
    pub member: String,
    pub scale: String,
    pub model: String,
    pub runs: u32,
    pub rows: String,
    pub core_mean: Option<f64>,
    pub core_best: Option<f64>,
    pub extended_mean: Option<f64>,
    pub mmlu_mean: Option<f64>,
}

/// The group's runs per (member, scale): polars group-by over the members' selections.
pub fn group_cells(db: &RunDb, g: &GroupSpec) -> Result<Vec<GroupCell>> {
    let mut frames = Vec::new();
    let mut owner: std::collections::BTreeMap<u32, &str> = Default::default();
    for (k, m) in g.members.iter().enumerate() {
        let df = query::with_datasets(&db.runs, &m.datasets)?;
        for r in df.column("row")?.u32()?.iter().flatten() {
            if let Some(prev) = owner.insert(r, &m.label) {
                bail!(
                    "group `{}`: run row {r} matches both `{prev}` and `{}`; make the patterns disjoint",
                    g.title,
                    m.label
                );
            }
        }
        let n = df.height();
        let mut df = df;
        df.with_column(Column::new("member".into(), vec![k as u32; n]))?;
        frames.push(df.lazy());
    }
    let all = concat(frames, UnionArgs::default())?
        .filter(col("scale").is_not_null())
        .group_by([col("member"), col("scale"), col("model")])
        .agg([
            col("params").first(),
            col("tokens").first(),
            len().alias("runs"),
            col("row").min().alias("first_row"),
            col("row").max().alias("last_row"),
            col("core").mean().alias("core_mean"),
            col("core").max().alias("core_best"),
            col("extended").mean().alias("extended_mean"),
            col("mmlu").mean().alias("mmlu_mean"),
        ])
        .sort_by_exprs(
            [col("params"), col("tokens"), col("member"), col("model")],
            SortMultipleOptions::default(),
        )
        .collect()?;
    let member = all.column("member")?.u32()?;
    let scale = all.column("scale")?.str()?;
    let model = all.column("model")?.str()?;
    let runs = all.column("runs")?.u32()?;
    let (lo, hi) = (
        all.column("first_row")?.u32()?,
        all.column("last_row")?.u32()?,
    );
    let f = |c: &str| -> Result<Vec<Option<f64>>> { Ok(all.column(c)?.f64()?.iter().collect()) };
    let (cm, cb, em, mm) = (
        f("core_mean")?,
        f("core_best")?,
        f("extended_mean")?,
        f("mmlu_mean")?,
    );
    let mut out = Vec::new();
    for i in 0..all.height() {
        let n = runs.get(i).unwrap_or(0);
        let (a, b) = (lo.get(i).unwrap_or(0), hi.get(i).unwrap_or(0));
        out.push(GroupCell {
            member: g.members[member.get(i).unwrap_or(0) as usize].label.clone(),
            scale: scale.get(i).unwrap_or("").to_string(),
            model: model.get(i).unwrap_or("").to_string(),
            runs: n,
            rows: if n == 1 {
                format!("{a}")
            } else {
                format!("{a}…{b}")
            },
            core_mean: cm[i],
            core_best: cb[i],
            extended_mean: em[i],
            mmlu_mean: mm[i],
        });
    }
    Ok(out)
}

fn groups_md(db: &RunDb, groups: &[GroupSpec]) -> Result<(String, Vec<(String, usize)>)> {
    let mut md = String::from(
        "# Runs that differ in one curation choice\n\nEach group's members are selected by the dataset-name \
         patterns of the recipe (`*` any characters, `?` one), shown with each group; a run may belong to one \
         member only. Per scale, member and model architecture: number of runs, mean and best CORE (v1), mean EXTENDED (v1) and \
         5-shot MMLU, as stored (fractions). `rows`: first…last database row.\n",
    );
    let mut counts = Vec::new();
    for g in groups {
        let _ = writeln!(
            md,
            "\n## {}\n\nChoice that differs: {}. Fixed: {}.\n",
            g.title, g.choice, g.fixed
        );
        for m in &g.members {
            let _ = writeln!(md, "- {}: {}", m.label, patterns(&m.datasets));
        }
        md.push('\n');
        let cells = group_cells(db, g)?;
        counts.push((g.title.clone(), cells.iter().map(|c| c.runs as usize).sum()));
        let mut t = Table::new([
            "scale",
            "member",
            "model",
            "runs",
            "rows",
            "CORE mean",
            "CORE best",
            "EXTENDED mean",
            "MMLU mean",
        ]);
        for c in &cells {
            t.push([
                c.scale.clone(),
                c.member.clone(),
                c.model.clone(),
                c.runs.to_string(),
                c.rows.clone(),
                fmt_opt(c.core_mean),
                fmt_opt(c.core_best),
                fmt_opt(c.extended_mean),
                fmt_opt(c.mmlu_mean),
            ]);
        }
        let empty: Vec<&str> = g
            .members
            .iter()
            .filter(|m| !cells.iter().any(|c| c.member == m.label))
            .map(|m| m.label.as_str())
            .collect();
        md.push_str(&t.to_markdown());
        if !empty.is_empty() {
            let _ = writeln!(
                md,
                "\nNo run with a DCLM size matches: {}.",
                empty.join(", ")
            );
        }
    }
    Ok((md, counts))
}

/// Runs counted per label (group or family), for the summary.
type Counts = Vec<(String, usize)>;

/// CORE vs training compute per family: the SVG, its data (CSV) and the runs per family.
fn families(runs: &[Run], fams: &[FamilySpec]) -> Result<(String, String, Counts)> {
    let mut plot = LinePlot::new(
        "DCLM runs: CORE (v1) vs training compute, per dataset family",
        Axis::log("training compute 6·N·D (FLOPs)"),
        Axis::linear("CORE (v1)"),
    );
    let mut csv = Table::new([
        "family", "row", "dataset", "model", "params", "tokens", "compute", "core",
    ]);
    let mut counts = Vec::new();
    let mut points: Vec<Vec<(f64, f64)>> = vec![Vec::new(); fams.len()];
    for r in runs {
        let Some(core) = r.core else { continue };
        if let Some(k) = fams
            .iter()
            .position(|f| glob::matches_any(&f.datasets, &r.dataset))
        {
            points[k].push((r.compute, core));
            csv.push([
                fams[k].label.clone(),
                r.row.to_string(),
                r.dataset.clone(),
                r.model.clone(),
                r.params.to_string(),
                r.tokens.to_string(),
                fmt_sig(r.compute, 4),
                r.core.map_or(String::new(), |v| v.to_string()),
            ]);
        }
    }
    for (f, p) in fams.iter().zip(points) {
        counts.push((f.label.clone(), p.len()));
        if !p.is_empty() {
            plot.add(format!("{} ({})", f.label, p.len()), p, SeriesStyle::Points);
        }
    }
    Ok((plot.to_svg()?, csv.to_csv(), counts))
}

fn cells_csv(cells: &[&CellCheck]) -> String {
    let mut t = Table::new([
        "row", "column", "printed", "database", "status", "run", "reason",
    ]);
    for c in cells {
        t.push([
            c.row.clone(),
            c.column.clone(),
            c.printed.clone(),
            c.database.clone().unwrap_or_default(),
            match c.status {
                Status::Matched => "matched",
                Status::Missing => "missing",
                Status::Disagrees => "disagrees",
            }
            .to_string(),
            c.run.map_or(String::new(), |r| r.to_string()),
            c.reason.clone().unwrap_or_default(),
        ]);
    }
    t.to_csv()
}

/// Loads the database with the scales of `p.scales_from`.
pub fn load(recipe: &Recipe, resolver: &Resolver, p: &Params) -> Result<(RunDb, Scales)> {
    let scales = Scales::from_recipe(&Recipe::load_named(&p.scales_from)?)?;
    let path = recipe.resolve(resolver, &p.database)?;
    let agg = Aggregation::load(
        &recipe.resolve(resolver, &p.meta_v1)?,
        &recipe.resolve(resolver, &p.meta_v2)?,
        &recipe.resolve(resolver, &p.aggregation)?,
    )?;
    Ok((RunDb::load(&path, &scales)?.with_aggregates(&agg)?, scales))
}

/// Writes the results folder.
pub fn reproduce(recipe: &Recipe, resolver: &Resolver, out: &Path) -> Result<Vec<String>> {
    recipe.expect_kind("dclm-results")?;
    let p: Params = recipe.params()?;
    let (db, scales) = load(recipe, resolver, &p)?;
    let readme_path = recipe.resolve(resolver, &p.readme)?;
    let readme = std::fs::read_to_string(&readme_path)
        .with_context(|| format!("reading {}", readme_path.display()))?;
    let runs = runs_of(&db.runs)?;

    let lb = leaderboard(&runs, &readme, &p.leaderboard)
        .with_context(|| format!("{}: leaderboard", readme_path.display()))?;
    let st = scale_table(&runs, &readme, &p.scale_table)
        .with_context(|| format!("{}: scale table", readme_path.display()))?;
    let lb_cells: Vec<&CellCheck> = lb.iter().flat_map(|r| &r.cells).collect();
    let st_cells: Vec<&CellCheck> = st.iter().flat_map(|r| &r.cells).collect();
    let lb_tally = tally(
        &lb_cells.iter().map(|c| (*c).clone()).collect::<Vec<_>>(),
        lb.len(),
        lb.iter().filter(|r| !r.matching.is_empty()).count(),
    );
    let st_tally = tally(
        &st_cells.iter().map(|c| (*c).clone()).collect::<Vec<_>>(),
        st.len(),
        st.iter().filter(|r| r.runs > 0).count(),
    );

    let mut files = Vec::new();
    let mut put = |name: &str, body: String| -> Result<()> {
        write_file(out, name, body)?;
        files.push(name.to_string());
        Ok(())
    };
    put("leaderboard.md", leaderboard_md(&lb, &p.leaderboard))?;
    put("leaderboard.csv", cells_csv(&lb_cells))?;
    put("scales.md", scales_md(&st, &p.scale_table))?;
    put("scales.csv", cells_csv(&st_cells))?;
    put("runs_per_scale.md", runs_per_scale_md(&db, &scales)?)?;
    put("top_runs.md", top_runs_md(&db, &scales, p.top_runs)?)?;
    let (groups, group_counts) = groups_md(&db, &p.groups)?;
    put("groups.md", groups)?;
    let (svg, fam_csv, fam_counts) = families(&runs, &p.families)?;
    put("core_vs_compute.svg", svg)?;
    put("core_vs_compute.csv", fam_csv)?;
    put(
        "summary.md",
        summary_md(
            &db,
            &lb,
            &st,
            &lb_tally,
            &st_tally,
            &group_counts,
            &fam_counts,
            &p,
        ),
    )?;
    Ok(files)
}

#[allow(clippy::too_many_arguments)]
fn summary_md(
    db: &RunDb,
    lb: &[LeaderboardRow],
    st: &[ScaleRow],
    lbt: &Tally,
    stt: &Tally,
    groups: &[(String, usize)],
    fams: &[(String, usize)],
    p: &Params,
) -> String {
    let mut md = format!(
        "# dclm-results: DCLM's tables from its run database\n\n\
         `DCLM_model_database.csv`: {} runs × {} columns (mlfoundations/dclm@361714bd). Printed values: DCLM's \
         README at the same commit. Scales: `{}` recipe's DCLM scales.\n\n",
        db.runs.height(),
        db.raw.width(),
        p.scales_from
    );
    let mut t = Table::new([
        "table",
        "file",
        "printed rows",
        "rows with runs",
        "cells matched",
        "cells missing",
        "cells disagreeing",
    ]);
    t.push([
        format!("README leaderboard, \"{}\"", p.leaderboard.section),
        "leaderboard.md".to_string(),
        lbt.rows.to_string(),
        lbt.rows_matched.to_string(),
        lbt.matched.to_string(),
        lbt.missing.to_string(),
        lbt.disagrees.to_string(),
    ]);
    t.push([
        "README scale table".to_string(),
        "scales.md".to_string(),
        stt.rows.to_string(),
        stt.rows_matched.to_string(),
        stt.matched.to_string(),
        stt.missing.to_string(),
        stt.disagrees.to_string(),
    ]);
    for (name, file) in [
        ("runs per scale", "runs_per_scale.md"),
        ("top runs by CORE per scale", "top_runs.md"),
        ("curation-choice groups", "groups.md"),
        ("CORE vs compute per family", "core_vs_compute.svg"),
    ] {
        t.push([name, file, "—", "—", "—", "—", "—"].map(String::from));
    }
    md.push_str(&t.to_markdown());
    md.push_str(
        "\nLeaderboard \"rows with runs\": printed rows with a run agreeing in every compared cell; scale table: \
         printed scales with runs. Tables without printed values (—) are not compared.\n",
    );
    if let Some(rc) = &db.recomputed {
        let _ = writeln!(
            md,
            "\nThe v2 aggregates are DCLM's aggregation (`lmrepro-eval`) of each run's per-task columns with the v2 \
             random baselines. The same aggregation with the v1 baselines reproduces the stored `Core` in {} of {} runs \
             that have every CORE task and the stored `Extended` in {} of {} runs that have every task (|difference| ≤ 1e-9).",
            rc.core_equal, rc.core_compared, rc.extended_equal, rc.extended_compared
        );
    }
    md.push_str("\n## Leaderboard rows\n\n");
    for r in lb {
        let _ = writeln!(
            md,
            "- {} {} {}: {}",
            r.model,
            r.params,
            r.tokens,
            if let Some(&m) = r.matching.first() {
                format!("matched, database row {m}")
            } else {
                r.reason.clone().unwrap_or_default()
            }
        );
    }
    md.push_str("\n## Disagreeing cells (printed ≠ database)\n\n");
    let dis: Vec<&CellCheck> = lb
        .iter()
        .flat_map(|r| &r.cells)
        .chain(st.iter().flat_map(|r| &r.cells))
        .filter(|c| c.status == Status::Disagrees)
        .collect();
    if dis.is_empty() {
        md.push_str("None.\n");
    }
    for c in dis {
        let _ = writeln!(
            md,
            "- {} / {}: printed {}, database {} (row {})",
            c.row,
            c.column,
            c.printed,
            c.database.clone().unwrap_or_default(),
            c.run.map_or("—".into(), |r| r.to_string())
        );
    }
    md.push_str("\n## Selections\n\n");
    for (g, n) in groups {
        let _ = writeln!(md, "- group \"{g}\": {n} runs");
    }
    for (f, n) in fams {
        let _ = writeln!(md, "- family \"{f}\": {n} runs with CORE");
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = "\
| Model | Params | Tokens | Open dataset? | CORE (v1) | CORE (v2) | MMLU |
|-------|--------|--------|---------------|-----------|-----------|------|
| **Others** | | | | | | |
| Llama2 | 7B | 2T | ✗ | 49.2 | 47.5 | 45.8 |
| **Models we trained** | | | | | | |
| **Ours** | 7B | 0.14T | ✓ | **44.1** | 42.0 | 38.3 |
| Ours | 7B | 0.28T | ✓ | 48.9 | 47.3 | 50.8 |
| Theirs | 7B | 0.14T | ✓ | 38.7 | 36.1 | 26.3 |
| Nobody | 7B | 0.14T | ✓ | 38.7 | 36.1 | 26.3 |

| Scale  | Model parameters | Train tokens | Train FLOPs | Pool size |
|--------|------------------|--------------|-------------|-----------|
| 7B-1x  | 6.9B             | 138B         | 5.7e21      | 7.85T     |
| 3B-1x  | 2.8B             | 55.9B        | 9.4e20      | 3.18T     |
";

    fn run(row: u32, dataset: &str, tokens: u64, core: f64, mmlu: Option<f64>) -> Run {
        Run {
            row,
            model_json: format!("r{row}.json"),
            dataset: dataset.into(),
            model: "open_lm_7b".into(),
            suite: "heavy".into(),
            params: 6889410560,
            tokens,
            core: Some(core),
            extended: None,
            mmlu,
            core_v2: None,
            extended_v2: None,
            scale: Some(
                if tokens == 137788211200 {
                    "7b-1x"
                } else {
                    "7b-2x"
                }
                .into(),
            ),
            compute: 6.0 * 6889410560.0 * tokens as f64,
        }
    }

    fn col(printed: &str, database: Option<&str>) -> ColumnSpec {
        ColumnSpec {
            printed: printed.into(),
            database: database.map(String::from),
            missing: database
                .is_none()
                .then(|| "not in the database".to_string()),
        }
    }

    fn spec() -> LeaderboardSpec {
        LeaderboardSpec {
            section: "Models we trained".into(),
            columns: vec![
                col("CORE (v1)", Some("core")),
                col("CORE (v2)", None),
                col("MMLU", Some("mmlu")),
            ],
            models: vec![
                ModelSpec {
                    model: "Ours".into(),
                    datasets: vec!["ours_*".into()],
                    note: None,
                },
                ModelSpec {
                    model: "Theirs".into(),
                    datasets: vec!["theirs".into()],
                    note: None,
                },
            ],
        }
    }

    #[test]
    fn leaderboard_rows_find_their_runs() {
        let runs = vec![
            run(1, "ours_a", 137788211200, 0.4466, Some(0.383)),
            run(2, "ours_b", 137788211200, 0.44068, Some(0.38309)),
            run(3, "ours_a", 275576422400, 0.4886, Some(0.5)),
            run(4, "theirs", 28795904000, 0.3, Some(0.2)),
        ];
        let rows = leaderboard(&runs, README, &spec()).unwrap();
        assert_eq!(rows.len(), 4, "only the section's rows");
        // 0.14T: two candidates, row 2 agrees everywhere.
        assert_eq!(rows[0].model, "Ours");
        assert_eq!(rows[0].candidates.len(), 2);
        assert_eq!(rows[0].matching, [2]);
        let st: Vec<_> = rows[0].cells.iter().map(|c| c.status).collect();
        assert_eq!(st, [Status::Matched, Status::Missing, Status::Matched]);
        // 0.28T: one candidate, MMLU disagrees; both values kept.
        assert!(rows[1].matching.is_empty());
        assert_eq!(rows[1].compared, Some(3));
        let mmlu = &rows[1].cells[2];
        assert_eq!(
            (mmlu.printed.as_str(), mmlu.database.as_deref()),
            ("50.8", Some("50.0"))
        );
        assert_eq!(mmlu.status, Status::Disagrees);
        // Theirs: a run exists but not at 0.14T; the reason lists its size.
        assert!(rows[2].candidates.is_empty());
        let why = rows[2].reason.as_deref().unwrap();
        assert!(
            why.contains("1 runs of these datasets, at 7b-2x (7B / 2.88e10)"),
            "{why}"
        );
        assert!(rows[2].cells.iter().all(|c| c.status == Status::Missing));
        // Nobody: not in the recipe.
        assert!(rows[3]
            .reason
            .as_deref()
            .unwrap()
            .contains("names no dataset"));
        let t = tally(
            &rows
                .iter()
                .flat_map(|r| r.cells.clone())
                .collect::<Vec<_>>(),
            4,
            1,
        );
        assert_eq!((t.matched, t.missing, t.disagrees), (3, 8, 1));
    }

    #[test]
    fn scale_table_compares_where_runs_exist() {
        let runs = vec![run(1, "x", 137788211200, 0.4, None)];
        let spec = ScaleTableSpec {
            columns: vec![
                col("Model parameters", Some("params")),
                col("Train tokens", Some("tokens")),
                col("Train FLOPs", Some("compute")),
                col("Pool size", None),
            ],
        };
        let rows = scale_table(&runs, README, &spec).unwrap();
        assert_eq!(rows.len(), 2);
        let st: Vec<_> = rows[0]
            .cells
            .iter()
            .map(|c| (c.status, c.database.clone()))
            .collect();
        assert_eq!(st[0], (Status::Matched, Some("6.9B".into())));
        assert_eq!(st[1], (Status::Matched, Some("138B".into())));
        assert_eq!(st[2], (Status::Matched, Some("5.7e21".into())));
        assert_eq!(st[3].0, Status::Missing);
        assert!(rows[1].cells.iter().all(|c| c.status == Status::Missing));
        assert_eq!(
            rows[1].cells[0].reason.as_deref(),
            Some("no run at scale 3b-1x in the database")
        );
    }

    #[test]
    fn recipe_mistakes_are_errors() {
        let runs = vec![run(1, "x", 137788211200, 0.4, None)];
        let mut s = spec();
        s.columns.push(col("EXTENDED (v9)", Some("extended")));
        let err = format!("{:#}", leaderboard(&runs, README, &s).unwrap_err());
        assert!(err.contains("no column `EXTENDED (v9)`"), "{err}");
        let mut s = spec();
        s.columns[0].database = Some("vibes".into());
        let err = format!("{:#}", leaderboard(&runs, README, &s).unwrap_err());
        assert!(
            err.contains("`database = \"vibes\"` is not one of core, extended, mmlu,"),
            "{err}"
        );
        let mut s = spec();
        s.section = "Nope".into();
        assert!(leaderboard(&runs, README, &s).is_err());
    }
}
