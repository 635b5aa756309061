//! Training recipes: `[params]` of a recipe of kind `train`, and where they live: the workspace's
//! `recipes/train/` (DCLM 400M-1x and the tiny CPU recipes), loaded by `lmrepro_data::Recipe`.

use crate::config::ModelConfig;
use crate::data::{read_texts, Contexts, TextTokenizer};
use crate::train::{OptimConfig, RunConfig};
use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Model shape in a recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// `open_lm`, `bloom` or `gpt2` (see [`ModelConfig::preset`]).
    pub arch: String,
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    /// Overrides the family's vocabulary (tiny byte-level recipes use 257).
    #[serde(default)]
    pub vocab_size: Option<usize>,
    #[serde(default)]
    pub seq_len: Option<usize>,
    #[serde(default)]
    pub qk_norm: Option<bool>,
}

impl ModelSpec {
    pub fn config(&self) -> Result<ModelConfig> {
        let mut c = ModelConfig::preset(&self.arch, self.d_model, self.n_layers, self.n_heads)?;
        if let Some(v) = self.vocab_size {
            c.vocab_size = v;
        }
        if let Some(s) = self.seq_len {
            c.seq_len = s;
        }
        if let Some(q) = self.qk_norm {
            c.qk_norm = q;
        }
        c.validate()?;
        Ok(c)
    }
}

/// Where the tokens come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Input name of a JSONL.zst corpus (in the recipe's inputs or the `train_text` input set).
    pub corpus: String,
    /// `bytes` (vocab 257) or the input name of a HF tokenizer.json.
    pub tokenizer: String,
    /// Every `heldout_every`-th document (1-based: documents k-1, 2k-1, ...) is held out.
    pub heldout_every: usize,
    /// Use only the first this-many characters of each document (CI speed); None: whole documents.
    #[serde(default)]
    pub max_chars_per_doc: Option<usize>,
}

/// `[params]` of a `train` recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    pub model: ModelSpec,
    pub data: DataSpec,
    pub optim: OptimConfig,
    pub global_batch: usize,
    pub micro_batch: usize,
    /// Optimizer steps; or derive them from `tokens`.
    #[serde(default)]
    pub steps: Option<u64>,
    /// Token budget (`tokens` of DCLM's configs): steps = tokens / (global_batch · seq_len).
    #[serde(default)]
    pub tokens: Option<u64>,
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub eval_every: u64,
    pub eval_batches: usize,
    #[serde(default)]
    pub checkpoint_every: u64,
    /// Device peak FLOP/s for MFU.
    #[serde(default)]
    pub peak_flops: Option<f64>,
    /// Scaling sweep: d_model values (layers and heads from `model`) and token multipliers of
    /// 20·N (Chinchilla); used by `sweep` mode only.
    #[serde(default)]
    pub sweep: Option<SweepSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    pub d_models: Vec<usize>,
    pub token_multipliers: Vec<f64>,
}

fn default_seed() -> u64 {
    124
}

impl TrainParams {
    pub fn run_config(&self) -> Result<RunConfig> {
        let model = self.model.config()?;
        let steps = match (self.steps, self.tokens) {
            (Some(s), None) => s,
            (None, Some(t)) => t / (self.global_batch * model.seq_len) as u64,
            (Some(_), Some(_)) => bail!("give either `steps` or `tokens`, not both"),
            (None, None) => bail!("give `steps` or `tokens`"),
        };
        let cfg = RunConfig {
            model,
            optim: self.optim,
            global_batch: self.global_batch,
            micro_batch: self.micro_batch,
            steps,
            seed: self.seed,
            eval_every: self.eval_every,
            eval_batches: self.eval_batches,
            checkpoint_every: self.checkpoint_every,
            peak_flops: self.peak_flops,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// The folder of training recipes: `recipes/train/` of the workspace. It is not scanned by
/// [`Recipe::list`], so these recipes (GPU-sized or CPU demos, without committed results) are not run
/// by `lmrepro reproduce` / the results snapshot test, yet load with the same loader as every recipe.
pub fn train_recipe_dir() -> PathBuf {
    lmrepro_data::workspace_root().join("recipes").join("train")
}

/// Names of the recipes in [`train_recipe_dir`], sorted.
pub fn train_recipes() -> Result<Vec<String>> {
    Recipe::list_in(&train_recipe_dir())
}

/// Loads `recipes/<name>.toml` if it exists (a workspace recipe of kind `train`), else
/// `recipes/train/<name>.toml`.
pub fn load_recipe(name: &str) -> Result<Recipe> {
    // A path to a recipe file, as `lmrepro dclm --recipe` takes (e.g. a test's reduced recipe).
    if name.ends_with(".toml") {
        return Recipe::load(std::path::Path::new(name));
    }
    let workspace = lmrepro_data::workspace_root()
        .join("recipes")
        .join(format!("{name}.toml"));
    if workspace.is_file() {
        return Recipe::load(&workspace);
    }
    let path = train_recipe_dir().join(format!("{name}.toml"));
    if !path.is_file() {
        bail!(
            "no training recipe `{name}` (neither {} nor {}; training recipes: {})",
            workspace.display(),
            path.display(),
            train_recipes()?.join(", ")
        );
    }
    Recipe::load(&path)
}

/// Resolves input `name` from the recipe, falling back to the `train_text` input set.
pub fn resolve_input(recipe: &Recipe, resolver: &Resolver, name: &str) -> Result<PathBuf> {
    if recipe.inputs.iter().any(|i| i.name == name) {
        return recipe.resolve(resolver, name);
    }
    lmrepro_data::resolve_in_set(resolver, "train_text", name).with_context(|| {
        format!(
            "input `{name}` is neither in recipe `{}` nor in the train_text input set",
            recipe.name
        )
    })
}

/// Train and held-out contexts for a data spec.
pub fn build_contexts(
    spec: &DataSpec,
    seq_len: usize,
    resolve: &dyn Fn(&str) -> Result<PathBuf>,
) -> Result<(Contexts, Contexts)> {
    let tok = if spec.tokenizer == "bytes" {
        TextTokenizer::Bytes
    } else {
        TextTokenizer::hf(&resolve(&spec.tokenizer)?)?
    };
    let corpus = resolve(&spec.corpus)?;
    split_docs(&corpus, &tok, spec, seq_len)
}

fn split_docs(
    corpus: &Path,
    tok: &TextTokenizer,
    spec: &DataSpec,
    seq_len: usize,
) -> Result<(Contexts, Contexts)> {
    let docs = read_texts(corpus)?;
    if spec.heldout_every < 2 {
        bail!("heldout_every must be at least 2");
    }
    let cut = |t: &str| -> String {
        match spec.max_chars_per_doc {
            Some(n) => t.chars().take(n).collect(),
            None => t.to_string(),
        }
    };
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for (i, d) in docs.iter().enumerate() {
        if (i + 1) % spec.heldout_every == 0 {
            held.push(cut(d));
        } else {
            train.push(cut(d));
        }
    }
    let ctx = seq_len + 1;
    let tr = Contexts::from_stream(&tok.encode_docs(train.iter().map(String::as_str))?, ctx);
    let he = Contexts::from_stream(&tok.encode_docs(held.iter().map(String::as_str))?, ctx);
    Ok((tr, he))
}
