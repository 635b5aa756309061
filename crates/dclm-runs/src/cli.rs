//! `lmrepro dclm ...` (clap types and their entry points).

use crate::db::{Aggregation, RunDb};
use crate::query::{self, Format, Query, SortKey};
use crate::scale::Scales;
use anyhow::{bail, Result};
use lmrepro_data::Resolver;
use std::path::PathBuf;

/// The input set and name that pin `DCLM_model_database.csv`.
pub const DATABASE_SET: &str = "dclm_baseline";
pub const DATABASE_INPUT: &str = "dclm_assets/assets/DCLM_model_database.csv";
/// The input set and names of DCLM's eval metadata (for `core_v2` / `extended_v2`).
pub const META_SET: &str = "dclm_eval_meta";
pub const META_V1: &str = "dclm_assets/eval/eval_meta_data_v1.csv";
pub const META_V2: &str = "dclm_assets/eval/eval_meta_data.csv";
pub const AGGREGATION: &str = "dclm_assets/eval/additional_aggregation.json";

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Browse DCLM's released run database (416 evaluated runs): filter by scale and dataset,
    /// sort, pick columns.
    Runs(RunsArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunsArgs {
    /// Only runs of this scale, derived from params and tokens as DCLM names them: `400m-1x`,
    /// `1b-1x`, `7b-1x`, `7b-2x`, or another multiplier of a DCLM size (`1b-5x`, `7b-1.5x`).
    #[arg(long)]
    pub scale: Option<String>,
    /// Only runs whose `Dataset` matches this pattern (`*` any characters, `?` one); repeat for
    /// several.
    #[arg(long = "dataset", value_name = "GLOB")]
    pub datasets: Vec<String>,
    /// Sort key (scores descending, missing scores last; ties in database order).
    #[arg(long, value_enum, default_value = "row")]
    pub sort: SortKey,
    /// Comma-separated columns: row, model_json, dataset, model, suite, params, tokens, core,
    /// extended, mmlu, size, multiplier, scale, compute, core_v2, extended_v2, or any column of
    /// the CSV (`arc_easy`).
    #[arg(long, value_delimiter = ',', default_values_t = query::DEFAULT_COLUMNS.map(String::from))]
    pub columns: Vec<String>,
    /// Print at most this many runs.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Another copy of the database (default: the pinned `DCLM_model_database.csv`, resolved
    /// cache → mirror → download).
    #[arg(long)]
    pub database: Option<PathBuf>,
}

/// Runs a `dclm` subcommand, printing its output.
pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Runs(args) => {
            print!("{}", runs(&args, &Resolver::from_env())?);
            Ok(())
        }
    }
}

/// The text `lmrepro dclm runs` prints.
pub fn runs(args: &RunsArgs, resolver: &Resolver) -> Result<String> {
    let path = match &args.database {
        Some(p) => p.clone(),
        None => lmrepro_data::resolve_in_set(resolver, DATABASE_SET, DATABASE_INPUT)?,
    };
    let meta = |name: &str| lmrepro_data::resolve_in_set(resolver, META_SET, name);
    let agg = Aggregation::load(&meta(META_V1)?, &meta(META_V2)?, &meta(AGGREGATION)?)?;
    let db = RunDb::load(&path, &Scales::load()?)?.with_aggregates(&agg)?;
    query::check_columns(&db, &args.columns)?;
    if let Some(s) = &args.scale {
        let known = crate::scales_in(&db)?;
        if !known.iter().any(|k| k == s) {
            bail!(
                "no run has scale `{s}`; scales in {}: {}",
                path.display(),
                known.join(", ")
            );
        }
    }
    let q = Query {
        scale: args.scale.clone(),
        datasets: args.datasets.clone(),
        sort: args.sort,
        limit: args.limit,
    };
    let df = query::select(&db, &q)?;
    let mut out = query::render(&db, &df, &args.columns, args.format)?;
    if args.format == Format::Md {
        out.push_str(&format!(
            "\n{} of {} runs in {}\n",
            df.height(),
            db.runs.height(),
            path.display()
        ));
    }
    Ok(out)
}
