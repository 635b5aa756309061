//! DCLM's released run database (`DCLM_model_database.csv`: 416 evaluated runs × 143 columns) as a
//! polars data frame, and what a researcher asks of it first.
//!
//! - [`db`]: load and check the CSV (a missing column or a non-numeric score is an error naming
//!   column and row), typed frame with each run's scale ([`scale`]: DCLM's `<size>-<k>x` from
//!   params and tokens) and training compute.
//! - [`query`] + [`cli`]: `lmrepro dclm runs [--scale] [--dataset GLOB] [--sort] [--columns]
//!   [--format md|csv|json]`.
//! - [`results`]: the `dclm-results` recipe: DCLM's README leaderboard rows and scale table
//!   re-derived from the runs and compared cell by cell with the printed values ([`printed`]),
//!   top runs per scale, groups of runs that differ in one curation choice, CORE vs compute.
//!
//! This is the one crate that depends on polars (docs/ARCHITECTURE.md).

pub mod cli;
pub mod db;
pub mod glob;
pub mod printed;
pub mod query;
pub mod results;
pub mod scale;

use anyhow::Result;
use polars::prelude::*;

pub use db::RunDb;
pub use scale::{ScaleDef, Scales};

lmrepro_report::single_scale_reproducer! {
    /// Recipe kind `dclm-results`: tables re-derived from DCLM's run database.
    pub struct DclmResultsReproducer("dclm-results") => results::reproduce
}

/// The derived scales present in the database, by increasing (params, tokens).
pub fn scales_in(db: &RunDb) -> Result<Vec<String>> {
    let df = db
        .runs
        .clone()
        .lazy()
        .filter(col("scale").is_not_null())
        .group_by([col("scale")])
        .agg([col("params").first(), col("tokens").first()])
        .sort_by_exprs(
            [col("params"), col("tokens")],
            SortMultipleOptions::default(),
        )
        .collect()?;
    Ok(df
        .column("scale")?
        .str()?
        .iter()
        .map(|s| s.unwrap_or("").to_string())
        .collect())
}
