//! `[params]` of recipe `bloom`.

use anyhow::{bail, Result};
use lmrepro_data::Recipe;
use serde::Deserialize;

/// A figure typed into the recipe, with where it was read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    pub value: f64,
    /// `paper …` (prefixed with the recipe's citation) or a file / script reference.
    pub source: String,
}

/// One converted results directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalModel {
    /// Results directory name upstream (`bloom`, `bloom1b3`, `bloom2b5`).
    pub dir: String,
    /// The scale it is (`176b`, `1b7`, `3b`).
    pub scale: String,
    /// Recipe input of its `bslmeval.json`.
    pub input: String,
    /// Recipe input of its committed `mdtable.txt` golden, if BigScience committed one.
    #[serde(default)]
    pub golden: Option<String>,
    /// Whether that golden has the OPT-175B column.
    #[serde(default)]
    pub golden_has_opt: bool,
    /// Without a golden upstream: compare with the crate's committed re-run of BigScience's
    /// script on this directory ([`crate::tables::fixture`]).
    #[serde(default)]
    pub golden_fixture: bool,
}

/// One BLOOM size and the paper's figures for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleParams {
    /// `--scale` name.
    pub name: String,
    /// Display name, e.g. `BLOOM-176B`.
    pub label: String,
    /// Key in `bloom_family_configs.json`.
    pub config: String,
    pub paper_params_millions: Figure,
    pub tokens_trained: Figure,
    #[serde(default)]
    pub gpus: Option<Figure>,
    #[serde(default)]
    pub nodes: Option<Figure>,
    #[serde(default)]
    pub throughput_tflops: Option<Figure>,
    #[serde(default)]
    pub reported_gpu_hours: Option<Figure>,
    /// Source saying the run recomputed activations (`--checkpoint-activations`), if it did.
    #[serde(default)]
    pub activation_recompute: Option<String>,
}

/// A task family of the comparison figure: the task groups (mdtable task names without the
/// median suffix) averaged together.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub name: String,
    #[serde(default)]
    pub tasks: Vec<String>,
    /// Every task group starting with this prefix that every model has (in table order).
    #[serde(default)]
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Scale planned by `--dry-run` without `--scale`.
    pub default_scale: String,
    /// How the paper is cited in sources.
    pub citation: String,
    /// Recipe inputs.
    pub configs_input: String,
    pub opt_input: String,
    pub humaneval_input: String,
    pub models: Vec<EvalModel>,
    pub scales: Vec<ScaleParams>,
    pub families: Vec<Family>,
}

impl Params {
    pub fn load(recipe: &Recipe) -> Result<Self> {
        let p: Params = recipe.params()?;
        for m in &p.models {
            p.scale(&m.scale)?;
        }
        p.scale(&p.default_scale)?;
        Ok(p)
    }

    pub fn scale(&self, name: &str) -> Result<&ScaleParams> {
        match self.scales.iter().find(|s| s.name == name) {
            Some(s) => Ok(s),
            None => {
                let names: Vec<_> = self.scales.iter().map(|s| s.name.as_str()).collect();
                bail!("unknown BLOOM scale `{name}` (known: {})", names.join(", "))
            }
        }
    }
}
