//! BLOOM (BigScience 2022): the model family's parameter counts and training plans, and the
//! zero-shot evaluation tables regenerated from BigScience's released results exactly as their own
//! conversion script wrote `mdtable.txt`.
//!
//! - [`convert`]: `json_to_markdown.py` step by step (medians over prompts, main metric, language,
//!   OPT-175B column, humaneval rows), cells printed as Python prints `round(x, 3)`;
//! - [`humaneval`]: the unbiased pass@k estimator and the per-temperature results;
//! - [`plan`]: `--scale <s> --dry-run` plans (tokens, ramp-up, 3D layout, FLOPs, GPU-hours);
//! - [`tables`]: every file of `results/bloom/`.
//!
//! Invariants: the faithful rows equal BigScience's committed `mdtable.txt` cell for cell (checked
//! on every run, `conformance.md`); corrections live only in `zero_shot_corrected.csv`, each listed;
//! every paper figure in a plan names its source.

pub mod convert;
pub mod humaneval;
pub mod mdtable;
pub mod params;
pub mod plan;
pub mod results;
pub mod tables;

use anyhow::{bail, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_report::{Reproducer, RunOptions};
use std::path::Path;

/// The reproducer of recipe kind `bloom`: the tables are one run; every size has a plan.
pub struct BloomReproducer;

impl Reproducer for BloomReproducer {
    fn kind(&self) -> &'static str {
        "bloom"
    }

    fn multi_scale(&self) -> bool {
        true
    }

    fn reproduce(
        &self,
        recipe: &Recipe,
        resolver: &Resolver,
        out: &Path,
        opts: &RunOptions,
    ) -> Result<Vec<String>> {
        if let Some(s) = &opts.scale {
            bail!(
                "recipe `{}` trains nothing here: its tables cover every size at once; \
                 `--scale {s}` only goes with `--dry-run` (the plan of that size)",
                recipe.name
            );
        }
        tables::reproduce(recipe, resolver, out)
    }

    fn plan(&self, recipe: &Recipe, resolver: &Resolver, scale: Option<&str>) -> Result<String> {
        let p = params::Params::load(recipe)?;
        let scale = p.scale(scale.unwrap_or(&p.default_scale))?;
        let configs = plan::read_configs(&recipe.resolve(resolver, &p.configs_input)?)?;
        let Some(c) = configs.get(&scale.config) else {
            bail!(
                "{}: no model `{}` (scale `{}`)",
                p.configs_input,
                scale.config,
                scale.name
            );
        };
        let pl = plan::plan(scale, c, &p.citation)?;
        let text = pl.to_text();
        if !pl.all_ok() {
            bail!(
                "the plan of `{}` disagrees with its references:\n{text}",
                scale.name
            );
        }
        Ok(text)
    }
}
