//! `[params]` of a `dclm-baseline` recipe.

use anyhow::{bail, Result};
use lmrepro_model::recipe::ModelSpec;
use lmrepro_model::train::OptimConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DclmParams {
    /// Scale run by `cargo xtask reproduce dclm-baseline` without `--scale`.
    pub default_scale: String,
    /// Training seeds: every variant is trained once per seed (same seeds for every variant).
    pub seeds: Vec<u64>,
    /// Read by the workspace results test (the full run is too long for it; see
    /// crates/dclm/tests/pipeline.rs).
    #[serde(default)]
    pub snapshot_in_tests: Option<bool>,
    pub pool: PoolSpec,
    pub heuristics: HeuristicsSpec,
    pub bff: BffSpec,
    pub minhash: MinhashSpec,
    pub quality: QualitySpec,
    /// Input name of the GPT-NeoX-20B tokenizer.json.
    pub tokenizer: String,
    pub variants: Vec<VariantSpec>,
    pub scales: BTreeMap<String, ScaleSpec>,
    pub published: PublishedSpec,
}

/// The tiny-scale candidate pool: real crawl pages plus text sources (see the recipe).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// WARC inputs; every `response` record is extracted (resiliparse semantics, DCLM options).
    pub warcs: Vec<String>,
    /// JSONL inputs with a `text` field (DCLM's human-labelled CC texts).
    pub texts: Vec<String>,
    /// Wikipedia summaries JSON (`{title: {title, extract}}`).
    pub wikipedia: String,
    /// Use this many articles (sorted by title) of the summaries file.
    pub wikipedia_articles: usize,
    /// Gutenberg JSONL.zst: books cut into chunks at paragraph breaks.
    pub gutenberg: String,
    pub gutenberg_chunk_chars: usize,
    /// Use this many chunks (in book order).
    pub gutenberg_chunks: usize,
    /// Every `heldout_every`-th document of each text source (not WARC pages) is held out: the
    /// common held-out set every variant's model is evaluated on.
    pub heldout_every: usize,
    /// Extractor of the WARC pages: `faithful` (default, DCLM's resiliparse call) or `quality`
    /// (deviation, `docs/extract.md`); left out of the stage key when faithful.
    #[serde(default, skip_serializing_if = "lmrepro_extract::Mode::is_faithful")]
    pub extract_mode: lmrepro_extract::Mode,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeuristicsSpec {
    /// `dclm-baseline-refinedweb` (the built-in 26 steps).
    pub pipeline: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BffSpec {
    pub min_ngram_size: usize,
    pub max_ngram_size: usize,
    pub filtering_threshold: f64,
    pub fp_rate: f64,
    pub seed: u64,
    /// Shard groups, each with its own Bloom filter (DCLM's `--total-shards`: pool file `i` in
    /// group `i % shard_groups`; its 400M-1x pool ran 10). Default 1: one filter over the whole
    /// pool, as the committed results were made; more groups keep duplicates across groups. Not
    /// written into the stage key when 1, so the default keeps today's key.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub shard_groups: usize,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinhashSpec {
    pub n_grams: usize,
    pub num_buckets: usize,
    pub hashes_per_bucket: usize,
    pub seed: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySpec {
    pub positives: Vec<String>,
    pub negatives: Vec<String>,
    pub max_positives: Option<usize>,
    pub max_negatives: Option<usize>,
    /// Cap the larger class at the size of the smaller (seeded subset), as DCLM's classifier was
    /// trained on equal numbers (200k / 200k).
    #[serde(default)]
    pub balance: bool,
    pub seed: u64,
}

/// One row of the table: which stages produce its training data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    pub name: String,
    pub label: String,
    /// Apply the RefinedWeb heuristics.
    pub heuristics: bool,
    /// `bff`, `minhash` or none.
    #[serde(default)]
    pub dedup: Option<Dedup>,
    /// Keep the top fraction of the (deduplicated) pool by fastText score.
    #[serde(default)]
    pub fasttext_top_fraction: Option<f64>,
}

/// A dedup method, as the recipe names it (an unknown name is a parse error listing these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dedup {
    /// BFF: Bloom-filter n-gram dedup (DCLM-Baseline's).
    Bff,
    /// MinHash near-duplicate removal (the ablation).
    Minhash,
}

impl Dedup {
    /// The recipe's name, used in stage names and result tables.
    pub fn name(self) -> &'static str {
        match self {
            Dedup::Bff => "bff",
            Dedup::Minhash => "minhash",
        }
    }
}

impl VariantSpec {
    pub fn validate(&self) -> Result<()> {
        if self.dedup.is_some() && !self.heuristics {
            bail!("variant `{}`: dedup runs after the heuristics", self.name);
        }
        if let Some(f) = self.fasttext_top_fraction {
            if !(f > 0.0 && f <= 1.0) {
                bail!(
                    "variant `{}`: fasttext_top_fraction must be in (0, 1]",
                    self.name
                );
            }
            if self.dedup.is_none() {
                bail!(
                    "variant `{}`: the fastText filter runs after dedup",
                    self.name
                );
            }
        }
        Ok(())
    }
}

/// A model / token-budget scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    pub description: String,
    /// Whether `reproduce` can run it here (only the tiny scale); the others have `--dry-run`.
    pub runnable_here: bool,
    pub model: ModelSpec,
    /// Train on the `n - 1` most frequent GPT-NeoX ids of the raw pool plus one shared id for
    /// the rest (log-probabilities spread uniformly over that rest). `None`: the full vocabulary.
    #[serde(default)]
    pub compact_vocab: Option<usize>,
    pub global_batch: usize,
    pub micro_batch: usize,
    #[serde(default)]
    pub steps: Option<u64>,
    #[serde(default)]
    pub tokens: Option<u64>,
    pub optim: OptimConfig,
    pub eval_every: u64,
    pub eval_batches: usize,
    /// Stop each training run after this many steps of its schedule (tests compare these first
    /// steps with the committed full run; the lr schedule keeps its full length).
    #[serde(default)]
    pub stop_after: Option<u64>,
    pub eval: EvalSpec,
    /// DCLM's name of the scale (`400M-1x`), the pinned training JSON and DCLM's README figures.
    #[serde(default)]
    pub dclm: Option<DclmScale>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSpec {
    /// Eval yaml input (`dclm_assets/eval/heavy.yaml`).
    pub config: String,
    /// `core`, `extended`, `mmlu` or a comma list.
    pub suite: String,
    /// Items per task (None: all).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// How DCLM ran this scale (checked against the pinned files where they have the figure).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DclmScale {
    pub name: String,
    /// Pinned training JSON with `hyperparameters` (only 400M-1x is released).
    #[serde(default)]
    pub training_json: Option<String>,
    /// DCLM's training config file (for the plan's citation).
    pub config_file: String,
    /// `Train H100 hours` and `Pool size` of DCLM's README scale table (mlfoundations/dclm@361714bd
    /// README.md, "Scale | Model parameters | Train tokens | Train FLOPs | Train H100 hours").
    pub readme_h100_hours: f64,
    pub readme_pool_size: String,
    /// Pinned list of the pool's shards (400M-1x only).
    #[serde(default)]
    pub pool_list: Option<String>,
}

/// Where DCLM's published numbers come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedSpec {
    /// `DCLM_model_database.csv` input.
    pub database: String,
    /// Prefix of the eval-JSON inputs (`Model JSON` appended) for the v2 aggregates.
    pub evals_prefix: String,
    pub rows: Vec<PublishedRow>,
}

/// One (variant, scale) cell: the `Model JSON` key of the database row.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedRow {
    pub variant: String,
    pub scale: String,
    pub model_json: String,
    /// What differs from our variant (e.g. substring dedup instead of BFF).
    #[serde(default)]
    pub note: Option<String>,
}

impl DclmParams {
    pub fn validate(&self) -> Result<()> {
        if self.seeds.is_empty() {
            bail!("give at least one seed");
        }
        if self.variants.is_empty() {
            bail!("give at least one variant");
        }
        let mut names = std::collections::BTreeSet::new();
        for v in &self.variants {
            v.validate()?;
            if !names.insert(v.name.as_str()) {
                bail!("variant `{}` appears twice", v.name);
            }
        }
        if !self.scales.contains_key(&self.default_scale) {
            bail!(
                "default_scale `{}` is not in [params.scales]",
                self.default_scale
            );
        }
        if self.pool.heldout_every < 2 {
            bail!("pool.heldout_every must be at least 2");
        }
        for r in &self.published.rows {
            if !names.contains(r.variant.as_str()) {
                bail!("published row names unknown variant `{}`", r.variant);
            }
        }
        Ok(())
    }

    pub fn scale(&self, name: &str) -> Result<&ScaleSpec> {
        self.scales.get(name).ok_or_else(|| {
            let known: Vec<_> = self.scales.keys().cloned().collect();
            anyhow::anyhow!("unknown scale `{name}` (known: {})", known.join(", "))
        })
    }
}

impl ScaleSpec {
    /// The training run configuration (the seed is set per run).
    pub fn run_config(&self) -> Result<lmrepro_model::RunConfig> {
        let mut model = self.model.config()?;
        if let Some(k) = self.compact_vocab {
            model.vocab_size = k;
        }
        let steps = match (self.steps, self.tokens) {
            (Some(s), None) => s,
            // DCLM stops on the token budget: the last step may be partial, so round up.
            (None, Some(t)) => t.div_ceil((self.global_batch * model.seq_len) as u64),
            (Some(_), Some(_)) => bail!("give either `steps` or `tokens`, not both"),
            (None, None) => bail!("give `steps` or `tokens`"),
        };
        let cfg = lmrepro_model::RunConfig {
            model,
            optim: self.optim,
            global_batch: self.global_batch,
            micro_batch: self.micro_batch,
            steps,
            seed: 0,
            eval_every: self.eval_every,
            eval_batches: self.eval_batches,
            checkpoint_every: 0,
            peak_flops: None,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(dedup: &str) -> std::result::Result<VariantSpec, toml::de::Error> {
        toml::from_str(&format!(
            "name = \"v\"\nlabel = \"v\"\nheuristics = true\ndedup = \"{dedup}\"\n"
        ))
    }

    #[test]
    fn dedup_names_are_the_recipes_and_nothing_else() {
        assert_eq!(variant("bff").unwrap().dedup, Some(Dedup::Bff));
        assert_eq!(variant("minhash").unwrap().dedup, Some(Dedup::Minhash));
        for (d, name) in [(Dedup::Bff, "bff"), (Dedup::Minhash, "minhash")] {
            assert_eq!(d.name(), name);
            assert_eq!(serde_json::to_value(d).unwrap(), name);
        }
        // Anything else used to fall through to MinHash; now it names the allowed values.
        let err = variant("exact-substring").unwrap_err().to_string();
        assert!(
            err.contains("exact-substring") && err.contains("`bff`") && err.contains("`minhash`"),
            "{err}"
        );
    }
}
