//! DCLM track: `cargo xtask reproduce dclm-baseline`.
//!
//! Runs the whole DCLM-Baseline story on pinned inputs: WARC extraction (`lmrepro-extract`) →
//! RefinedWeb heuristics (`lmrepro-crawl`) → BFF or MinHash dedup → fastText quality filter →
//! tokenize + shuffle (`lmrepro-curate`) → identical models trained per data variant and seed
//! (`lmrepro-model`) → llm-foundry ICL suite with CORE / EXTENDED (`lmrepro-eval`) → tables,
//! beside DCLM's published numbers for the same variants (`published`). Every stage is cached by
//! a key over its configuration and inputs (`cache`), so changing only the training seed redoes
//! only training and evaluation. Real scales (400M-1x ... 7B-2x) are validated and planned
//! (`plan`), not run.

pub mod cache;
pub mod crawl_run;
pub mod params;
pub mod plan;
pub mod pool;
pub mod published;
pub mod vocab;

use anyhow::{bail, Context, Result};
use cache::{Stage, StageCache};
use lmrepro_curate::quality::KeepRule;
use lmrepro_data::{Recipe, Resolver};
use lmrepro_model::{Contexts, DeviceKind, RunOptions};
use lmrepro_report::{fmt_fixed, write_file, Axis, LinePlot, SeriesStyle, Table};
use params::{DclmParams, ScaleSpec};
use pool::PoolSummary;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use vocab::{CompactLm, CompactVocab};

/// How to run the recipe.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Scale name (default: the recipe's `default_scale`).
    pub scale: Option<String>,
    /// Stage cache root (default: [`cache::default_root`]).
    pub cache_root: Option<PathBuf>,
    /// Progress bars for training and evaluation.
    pub progress: bool,
    /// Stop after the data stages (pool … tokenize, compact vocabulary).
    pub data_only: bool,
    /// How many train+eval jobs run at once (`None`: env `LMREPRO_JOBS`, else the number of
    /// CPUs). Results do not depend on it.
    pub jobs: Option<usize>,
}

impl Options {
    fn workers(&self) -> usize {
        self.jobs
            .or_else(|| std::env::var("LMREPRO_JOBS").ok()?.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// `reproduce` entry point of the registry: the recipe's default scale.
pub fn reproduce(recipe: &Recipe, resolver: &Resolver, out_dir: &Path) -> Result<Vec<String>> {
    reproduce_with(recipe, resolver, out_dir, &Options::default())
}

pub fn load_params(recipe: &Recipe) -> Result<DclmParams> {
    if recipe.kind != "dclm-baseline" {
        bail!(
            "recipe `{}` has kind `{}`, not `dclm-baseline`",
            recipe.name,
            recipe.kind
        );
    }
    let p: DclmParams = recipe.params()?;
    p.validate()
        .with_context(|| format!("recipe `{}`", recipe.name))?;
    Ok(p)
}

fn input_shas(recipe: &Recipe, names: &[&str]) -> Result<Value> {
    let mut m = serde_json::Map::new();
    for n in names {
        m.insert((*n).to_string(), json!(recipe.input(n)?.sha256));
    }
    Ok(Value::Object(m))
}

// ------------------------------------------------------------------------------------ stages --

/// Per-step page counts of the heuristics stage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepCount {
    pub id: String,
    pub pages_in: u64,
    pub pages_out: u64,
    /// Pages for which the step was skipped (no URL).
    pub skipped: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeuristicsSummary {
    pub docs_in: u64,
    pub docs_out: u64,
    pub chars_out: u64,
    pub errors: u64,
    pub steps: Vec<StepCount>,
    pub notes: Vec<String>,
}

fn run_heuristics(
    resolver: &Resolver,
    pipeline: &str,
    inputs: &[PathBuf],
    out: &Path,
) -> Result<HeuristicsSummary> {
    let mut assets = lmrepro_crawl::Assets::new(resolver.clone());
    assets.curated_domains = lmrepro_crawl::assets::CuratedDomains::Empty;
    let p = lmrepro_crawl::Pipeline::load(pipeline, None, &assets)?;
    let n_steps = p.steps.len();
    let mut stopped_at = vec![0u64; n_steps];
    let mut skipped = vec![0u64; n_steps];
    let (mut docs_in, mut docs_out, mut chars_out, mut errors) = (0u64, 0u64, 0u64, 0u64);
    for input in inputs {
        let (docs, _) =
            lmrepro_curate::docs::read_docs(input, lmrepro_curate::docs::OnMalformed::Error)?;
        let outcomes: Vec<_> = docs
            .par_iter()
            .map(|(_, d)| {
                let url = d.get("url").and_then(Value::as_str).map(str::to_string);
                let page = lmrepro_crawl::Page {
                    text: lmrepro_curate::docs::text(d).to_string(),
                    url: url.clone(),
                    warc_target_uri: url,
                    ..Default::default()
                };
                p.run(page)
            })
            .collect();
        let mut kept = Vec::new();
        for ((_, mut d), o) in docs.into_iter().zip(outcomes) {
            docs_in += 1;
            for &s in &o.skipped {
                skipped[s] += 1;
            }
            match &o.stop {
                Some(stop) => {
                    stopped_at[stop.step] += 1;
                    errors += stop.error.is_some() as u64;
                }
                None => {
                    docs_out += 1;
                    chars_out += o.page.text.chars().count() as u64;
                    d.insert("text".into(), Value::String(o.page.text));
                    kept.push(d);
                }
            }
        }
        let name = input.file_name().expect("pool files have names");
        pool::write_jsonl(&out.join(name), &kept)?;
    }
    let mut steps = Vec::with_capacity(n_steps);
    let mut alive = docs_in;
    for (i, s) in p.steps.iter().enumerate() {
        steps.push(StepCount {
            id: s.id.clone(),
            pages_in: alive,
            pages_out: alive - stopped_at[i],
            skipped: skipped[i],
        });
        alive -= stopped_at[i];
    }
    Ok(HeuristicsSummary {
        docs_in,
        docs_out,
        chars_out,
        errors,
        steps,
        notes: p.notes.clone(),
    })
}

/// Documents, characters and documents per `source` field of a set of JSONL files / directories,
/// in one read.
struct DocsProfile {
    docs: u64,
    chars: u64,
    sources: BTreeMap<String, u64>,
}

fn profile(inputs: &[PathBuf]) -> Result<DocsProfile> {
    let files = lmrepro_curate::docs::expand_inputs(inputs)?;
    let mut p = DocsProfile {
        docs: 0,
        chars: 0,
        sources: BTreeMap::new(),
    };
    for f in files {
        let (docs, _) =
            lmrepro_curate::docs::read_docs(&f, lmrepro_curate::docs::OnMalformed::Error)?;
        for (_, d) in docs {
            p.docs += 1;
            p.chars += lmrepro_curate::docs::text(&d).chars().count() as u64;
            let s = d.get("source").and_then(Value::as_str).unwrap_or("?");
            *p.sources.entry(s.to_string()).or_default() += 1;
        }
    }
    Ok(p)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocsSummary {
    pub docs_in: u64,
    pub docs_out: u64,
    pub chars_out: u64,
    pub detail: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokensSummary {
    pub documents: u64,
    pub tokens: u64,
    pub contexts: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    pub steps: u64,
    pub tokens_trained: u64,
    pub params: u64,
    pub final_train_loss: f64,
    /// Held-out cross-entropy over the compact vocabulary (what the trainer reports).
    pub heldout_loss_compact: f64,
    /// The same in nats per GPT-NeoX token (OTHER's mass spread uniformly).
    pub heldout_loss: f64,
    pub train_curve: Vec<(u64, f64)>,
    pub eval_curve: Vec<(u64, f64)>,
    /// Not part of the results (machine-dependent); reported in timings.
    pub tokens_per_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Per task: accuracy (DCLM's number).
    pub tasks: BTreeMap<String, f64>,
    pub items: BTreeMap<String, (usize, usize)>,
    pub missing: Vec<String>,
    pub core_v1: Headline,
    pub core_v2: Headline,
    pub extended_v1: Headline,
    pub extended_v2: Headline,
}

/// A CORE / EXTENDED number: exact, or the mean of the available tasks when some are missing.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Headline {
    pub value: f64,
    pub partial: bool,
}

impl Headline {
    fn from_eval(h: &lmrepro_eval::aggregate::Headline) -> Headline {
        match h {
            lmrepro_eval::aggregate::Headline::Value(v) => Headline {
                value: *v,
                partial: false,
            },
            lmrepro_eval::aggregate::Headline::Partial {
                mean_of_available, ..
            } => Headline {
                value: *mean_of_available,
                partial: true,
            },
        }
    }
}

/// Reads a token directory as contexts of GPT-NeoX ids, mapped through `table` when given.
fn load_contexts(dir: &Path, ctx: usize, map: Option<(&[u32], u32)>) -> Result<Contexts> {
    let ds = lmrepro_curate::tokens::TokenDataset::open(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let mut stream = Vec::new();
    for c in ds.iter_contexts() {
        let c = c.map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        if c.len() != ctx {
            bail!(
                "{}: contexts of {} tokens, the model needs {ctx}",
                dir.display(),
                c.len()
            );
        }
        match map {
            Some((t, other)) => stream.extend(c.iter().map(|&id| CompactVocab::map(t, other, id))),
            None => stream.extend(c),
        }
    }
    Ok(Contexts::from_stream(&stream, ctx))
}

// ---------------------------------------------------------------------------------- the run --

/// Everything one run produced, for the tables.
pub struct RunOutput {
    pub scale: String,
    pub pool: PoolSummary,
    pub heuristics: HeuristicsSummary,
    pub dedup: BTreeMap<String, DocsSummary>,
    pub quality_model: Value,
    pub variant_docs: BTreeMap<String, (u64, u64)>,
    /// Documents per pool source in each variant.
    pub variant_sources: BTreeMap<String, BTreeMap<String, u64>>,
    pub variant_tokens: BTreeMap<String, TokensSummary>,
    pub heldout_tokens: TokensSummary,
    pub vocab: Option<CompactVocab>,
    /// (variant, seed) → results.
    pub train: BTreeMap<(String, u64), TrainSummary>,
    pub eval: BTreeMap<(String, u64), EvalSummary>,
    pub timings: Vec<cache::StageTiming>,
    /// Wall-clock seconds of the whole run, and how many train+eval jobs ran at once.
    pub wall_seconds: f64,
    pub jobs: usize,
}

/// Runs every stage of `scale` (which must be runnable here), using the cache.
pub fn run(
    recipe: &Recipe,
    resolver: &Resolver,
    p: &DclmParams,
    scale_name: &str,
    opts: &Options,
) -> Result<RunOutput> {
    let scale = p.scale(scale_name)?;
    if !scale.runnable_here {
        bail!(
            "scale `{scale_name}` is GPU-cluster sized ({}); use `--dry-run` for its plan",
            scale.description
        );
    }
    let started = std::time::Instant::now();
    let mut cache = StageCache::new(opts.cache_root.clone().unwrap_or_else(cache::default_root));
    let run_cfg = scale.run_config()?;
    let ctx = run_cfg.model.seq_len + 1;

    // 1. Pool.
    let mut pool_inputs: Vec<&str> = p.pool.warcs.iter().map(String::as_str).collect();
    pool_inputs.extend(p.pool.texts.iter().map(String::as_str));
    pool_inputs.push(&p.pool.wikipedia);
    pool_inputs.push(&p.pool.gutenberg);
    let (pool_stage, pool_sum): (Stage, PoolSummary) = cache.run(
        "pool",
        &json!({"spec": p.pool, "inputs": input_shas(recipe, &pool_inputs)?}),
        |dir| pool::build(recipe, resolver, &p.pool, dir),
    )?;
    let pool_files = pool::files(&pool_stage.dir, &pool_sum);

    // 2. RefinedWeb heuristics.
    let (heur_stage, heur_sum): (Stage, HeuristicsSummary) = cache.run(
        "heuristics",
        &json!({"pool": pool_stage.key, "pipeline": p.heuristics.pipeline,
                "assets": input_shas(recipe, &["langid/lid.176.ftz"])?}),
        |dir| run_heuristics(resolver, &p.heuristics.pipeline, &pool_files, dir),
    )?;

    // 3. Dedup (only the kinds some variant uses).
    let mut dedup_stages: BTreeMap<String, Stage> = BTreeMap::new();
    let mut dedup_sums: BTreeMap<String, DocsSummary> = BTreeMap::new();
    let kinds: std::collections::BTreeSet<&str> = p
        .variants
        .iter()
        .filter_map(|v| v.dedup.as_deref())
        .collect();
    for kind in kinds {
        let heur_dir = heur_stage.dir.clone();
        let (st, sum): (Stage, DocsSummary) = match kind {
            "bff" => cache.run(
                "dedup-bff",
                &json!({"heuristics": heur_stage.key, "spec": p.bff}),
                |dir| {
                    let cfg = lmrepro_curate::bff::BffConfig {
                        min_ngram_size: p.bff.min_ngram_size,
                        max_ngram_size: p.bff.max_ngram_size,
                        filtering_threshold: p.bff.filtering_threshold,
                        fp_rate: p.bff.fp_rate,
                        seed: p.bff.seed,
                        ..Default::default()
                    };
                    let out = dir.join("docs");
                    let r = lmrepro_curate::bff::run(&[heur_dir], &out, &cfg, |_, _| {})?;
                    let out_profile = profile(&[out])?;
                    Ok(DocsSummary {
                        docs_in: r.total.docs_in,
                        docs_out: out_profile.docs,
                        chars_out: out_profile.chars,
                        detail: serde_json::to_value(&r.total)?,
                    })
                },
            )?,
            _ => cache.run(
                "dedup-minhash",
                &json!({"heuristics": heur_stage.key, "spec": p.minhash}),
                |dir| {
                    let cfg = lmrepro_curate::minhash::MinhashConfig {
                        n_grams: p.minhash.n_grams,
                        num_buckets: p.minhash.num_buckets,
                        hashes_per_bucket: p.minhash.hashes_per_bucket,
                        seed: p.minhash.seed,
                        on_malformed: lmrepro_curate::docs::OnMalformed::Error,
                    };
                    let out = dir.join("docs");
                    let st = lmrepro_curate::minhash::run(&[heur_dir], &out, &cfg)?;
                    let out_profile = profile(&[out])?;
                    Ok(DocsSummary {
                        docs_in: st.docs_in,
                        docs_out: out_profile.docs,
                        chars_out: out_profile.chars,
                        detail: serde_json::to_value(&st)?,
                    })
                },
            )?,
        };
        dedup_stages.insert(kind.to_string(), st);
        dedup_sums.insert(kind.to_string(), sum);
    }

    // 4. fastText quality classifier (trained once) and the top-fraction filters.
    let mut q_inputs: Vec<&str> = p.quality.positives.iter().map(String::as_str).collect();
    q_inputs.extend(p.quality.negatives.iter().map(String::as_str));
    let (q_stage, q_sum): (Stage, Value) = cache.run(
        "fasttext-train",
        &json!({"spec": p.quality, "inputs": input_shas(recipe, &q_inputs)?}),
        |dir| {
            let resolve_all = |names: &[String]| -> Result<Vec<PathBuf>> {
                names.iter().map(|n| recipe.resolve(resolver, n)).collect()
            };
            let pos = lmrepro_curate::quality::read_examples(&resolve_all(&p.quality.positives)?)?;
            let neg = lmrepro_curate::quality::read_examples(&resolve_all(&p.quality.negatives)?)?;
            let (mut max_pos, mut max_neg) = (p.quality.max_positives, p.quality.max_negatives);
            if p.quality.balance {
                let n = pos
                    .len()
                    .min(max_pos.unwrap_or(usize::MAX))
                    .min(neg.len().min(max_neg.unwrap_or(usize::MAX)));
                (max_pos, max_neg) = (Some(n), Some(n));
            }
            let cfg = lmrepro_curate::quality::TrainConfig {
                seed: p.quality.seed,
                max_positives: max_pos,
                max_negatives: max_neg,
                ..Default::default()
            };
            let train = dir.join("train.txt");
            let (np, nn) = lmrepro_curate::quality::write_training_file(&pos, &neg, &cfg, &train)?;
            let model = lmrepro_curate::quality::train_file(&train, &cfg)?;
            model
                .save_model(dir.join("model.bin"))
                .map_err(|e| anyhow::anyhow!("saving fastText model: {e}"))?;
            std::fs::remove_file(&train)?;
            Ok(json!({"positives": np, "negatives": nn}))
        },
    )?;
    let q_model = q_stage.dir.join("model.bin");

    // 5. Each variant's documents.
    let mut variant_dirs: BTreeMap<String, (String, Vec<PathBuf>)> = BTreeMap::new();
    let mut variant_docs = BTreeMap::new();
    let mut variant_sources = BTreeMap::new();
    for v in &p.variants {
        let (key, dirs, docs): (String, Vec<PathBuf>, (u64, u64)) =
            match (v.heuristics, v.dedup.as_deref(), v.fasttext_top_fraction) {
                (false, _, _) => (
                    pool_stage.key.clone(),
                    pool_files.clone(),
                    (
                        pool_sum.pool_docs(),
                        pool_sum.sources.iter().map(|s| s.pool_chars).sum(),
                    ),
                ),
                (true, None, _) => (
                    heur_stage.key.clone(),
                    vec![heur_stage.dir.clone()],
                    (heur_sum.docs_out, heur_sum.chars_out),
                ),
                (true, Some(d), None) => {
                    let st = &dedup_stages[d];
                    let s = &dedup_sums[d];
                    (
                        st.key.clone(),
                        vec![st.dir.join("docs")],
                        (s.docs_out, s.chars_out),
                    )
                }
                (true, Some(d), Some(f)) => {
                    let st = dedup_stages[d].clone();
                    let (fst, fsum): (Stage, DocsSummary) = cache.run(
                        &format!("fasttext-top{}-{d}", fraction_label(f)),
                        &json!({"docs": st.key, "model": q_stage.key, "top_fraction": f}),
                        |dir| {
                            let out = dir.join("docs");
                            let stats = lmrepro_curate::quality::predict_filter(
                                &[st.dir.join("docs")],
                                &q_model,
                                &out,
                                "fasttext_hq_prob",
                                Some(KeepRule::TopFraction(f)),
                                lmrepro_curate::docs::OnMalformed::Error,
                            )?;
                            let out_profile = profile(&[out])?;
                            Ok(DocsSummary {
                                docs_in: stats["docs_in"].as_u64().unwrap_or(0),
                                docs_out: out_profile.docs,
                                chars_out: out_profile.chars,
                                detail: stats,
                            })
                        },
                    )?;
                    (
                        fst.key.clone(),
                        vec![fst.dir.join("docs")],
                        (fsum.docs_out, fsum.chars_out),
                    )
                }
            };
        variant_docs.insert(v.name.clone(), docs);
        variant_sources.insert(v.name.clone(), profile(&dirs)?.sources);
        variant_dirs.insert(v.name.clone(), (key, dirs));
    }

    // 6. Tokenize + shuffle (GPT-NeoX, EOT after each document, contexts of seq_len + 1).
    let tokenizer = recipe.resolve(resolver, &p.tokenizer)?;
    let tok_sha = recipe.input(&p.tokenizer)?.sha256.clone();
    let tok_cfg = lmrepro_curate::tokenize::TokenizeConfig {
        seqlen: ctx,
        ..Default::default()
    };
    let tokenize = |cache: &mut StageCache,
                    what: &str,
                    upstream: &str,
                    inputs: &[PathBuf]|
     -> Result<(Stage, TokensSummary)> {
        cache.run(
            &format!("tokenize-{what}"),
            &json!({"docs": upstream, "tokenizer": tok_sha, "config": tok_cfg}),
            |dir| {
                let out = dir.join("tokens");
                let st =
                    lmrepro_curate::tokenize::tokenize_shuffle(inputs, &tokenizer, &out, &tok_cfg)?;
                Ok(TokensSummary {
                    documents: st.documents,
                    tokens: st.tokens,
                    contexts: st.contexts,
                })
            },
        )
    };
    let mut variant_tokens_stage = BTreeMap::new();
    let mut variant_tokens = BTreeMap::new();
    for v in &p.variants {
        let (key, dirs) = &variant_dirs[&v.name];
        let (st, sum) = tokenize(&mut cache, &v.name, key, dirs)?;
        variant_tokens_stage.insert(v.name.clone(), st);
        variant_tokens.insert(v.name.clone(), sum);
    }
    let (held_stage, held_sum) = tokenize(
        &mut cache,
        "heldout",
        &format!("{}/heldout", pool_stage.key),
        &[pool_stage.dir.join("heldout.jsonl")],
    )?;

    // 7. Compact vocabulary from the raw pool's tokens (the widest variant).
    let raw = p
        .variants
        .iter()
        .find(|v| !v.heuristics)
        .unwrap_or(&p.variants[0]);
    let vocab = match scale.compact_vocab {
        None => None,
        Some(size) => {
            let src = variant_tokens_stage[&raw.name].clone();
            let (_, v): (Stage, CompactVocab) = cache.run(
                "compact-vocab",
                &json!({"tokens": src.key, "size": size, "full": run_cfg_full_vocab(scale)?}),
                |_| {
                    let c = load_contexts(&src.dir.join("tokens"), ctx, None)?;
                    CompactVocab::from_counts(
                        (0..c.len()).flat_map(|i| c.get(i).to_vec()),
                        run_cfg_full_vocab(scale)? as u32,
                        size,
                    )
                },
            )?;
            Some(v)
        }
    };
    let vocab_key = json!(vocab.as_ref().map(|v| v.kept.clone()));
    let table = vocab.as_ref().map(|v| (v.table(), v.other_id()));
    let map = table.as_ref().map(|(t, o)| (t.as_slice(), *o));
    let heldout = load_contexts(&held_stage.dir.join("tokens"), ctx, map)?;
    // Share of held-out targets that are OTHER, over the contexts the trainer evaluates.
    let other_share = match &vocab {
        None => 0.0,
        Some(v) => {
            let n = (scale.eval_batches * scale.micro_batch).min(heldout.len());
            let mut other = 0u64;
            let mut total = 0u64;
            for i in 0..n {
                for &t in &heldout.get(i)[1..] {
                    other += (t == v.other_id()) as u64;
                    total += 1;
                }
            }
            other as f64 / total.max(1) as f64
        }
    };

    // 8. Train and evaluate every (variant, seed). The jobs are independent (each seeded by its
    // own config; the CPU backend runs an op on the calling thread), so they run on
    // `opts.jobs` worker threads; every result is the same whichever thread runs it, and the
    // timings are put back in job order.
    let jobs: Vec<(&params::VariantSpec, u64)> = p
        .variants
        .iter()
        .filter(|_| !opts.data_only)
        .flat_map(|v| p.seeds.iter().map(move |&s| (v, s)))
        .collect();
    let workers = opts.workers().min(jobs.len()).max(1);
    let one_at_a_time = workers == 1;
    // With several jobs at once, one bar counts jobs; per-job bars would overwrite each other.
    let job_opts = Options {
        progress: opts.progress && one_at_a_time,
        ..opts.clone()
    };
    let jobs_bar = (opts.progress && !one_at_a_time && !jobs.is_empty()).then(|| {
        let pb = indicatif::ProgressBar::new(jobs.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} train+eval jobs ({elapsed})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        pb.set_prefix(format!("{workers} at a time"));
        pb
    });
    type JobOutput = (TrainSummary, EvalSummary, Vec<cache::StageTiming>);
    let run_job = |v: &params::VariantSpec, seed: u64| -> Result<JobOutput> {
        let mut cache = cache.clone_empty();
        let tok_stage = &variant_tokens_stage[&v.name];
        let mut cfg = run_cfg.clone();
        cfg.seed = seed;
        let (tr_stage, tr_sum): (Stage, TrainSummary) = cache.run(
            &format!("train-{}-seed{seed}", v.name),
            &{
                let mut m = json!({"tokens": tok_stage.key, "heldout": held_stage.key,
                                   "vocab": vocab_key, "config": cfg});
                if let Some(n) = scale.stop_after {
                    m["stop_after"] = json!(n);
                }
                m
            },
            |dir| {
                let train_data = load_contexts(&tok_stage.dir.join("tokens"), ctx, map)?;
                let r = lmrepro_model::run_on(
                    DeviceKind::Cpu,
                    &cfg,
                    &train_data,
                    &heldout,
                    &RunOptions {
                        out_dir: Some(dir.to_path_buf()),
                        progress: job_opts.progress,
                        stop_after: scale.stop_after,
                        ..Default::default()
                    },
                )
                .with_context(|| format!("training variant `{}` seed {seed}", v.name))?;
                // A run directory is self-describing: `lmrepro eval --model <dir>` needs the
                // vocabulary map beside the checkpoint.
                if let Some(v) = &vocab {
                    write_file(dir, COMPACT_VOCAB_FILE, lmrepro_report::to_json_pretty(v)?)?;
                }
                let corr = vocab
                    .as_ref()
                    .map_or(0.0, |v| other_share * v.other_log_count());
                Ok(TrainSummary {
                    steps: r.steps,
                    tokens_trained: r.steps * cfg.tokens_per_step(),
                    params: cfg.model.num_params().total,
                    final_train_loss: r.final_train_loss,
                    heldout_loss_compact: r.final_eval_loss,
                    heldout_loss: r.final_eval_loss + corr,
                    train_curve: r.train_curve.clone(),
                    eval_curve: r.eval_curve.clone(),
                    tokens_per_s: r.tokens_per_s,
                })
            },
        )?;
        let (_, ev): (Stage, EvalSummary) = cache.run(
            &format!("eval-{}-seed{seed}", v.name),
            &json!({"model": tr_stage.key, "eval": scale.eval, "vocab": vocab_key,
                    "inputs": input_shas(recipe, &[&scale.eval.config])?}),
            |dir| {
                evaluate(
                    recipe,
                    resolver,
                    scale,
                    &tr_stage.dir,
                    vocab.as_ref(),
                    dir,
                    &job_opts,
                )
            },
        )?;
        Ok((tr_sum, ev, cache.timings))
    };
    // A pool of `workers` threads; `collect` keeps job order and, after a failure, starts no
    // further jobs.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .context("starting the train+eval worker threads")?;
    let results: Vec<JobOutput> = pool.install(|| {
        jobs.par_iter()
            .with_max_len(1)
            .map(|&(v, seed)| {
                let r = run_job(v, seed);
                if let Some(pb) = &jobs_bar {
                    pb.inc(1);
                }
                r
            })
            .collect::<Result<_>>()
    })?;
    if let Some(pb) = jobs_bar {
        pb.finish_and_clear();
    }
    let mut train = BTreeMap::new();
    let mut eval = BTreeMap::new();
    for ((v, seed), (tr, ev, timings)) in jobs.iter().zip(results) {
        cache.timings.extend(timings);
        train.insert((v.name.clone(), *seed), tr);
        eval.insert((v.name.clone(), *seed), ev);
    }

    Ok(RunOutput {
        scale: scale_name.to_string(),
        pool: pool_sum,
        heuristics: heur_sum,
        dedup: dedup_sums,
        quality_model: q_sum,
        variant_docs,
        variant_sources,
        variant_tokens,
        heldout_tokens: held_sum,
        vocab,
        train,
        eval,
        timings: cache.timings,
        wall_seconds: started.elapsed().as_secs_f64(),
        jobs: workers,
    })
}

fn run_cfg_full_vocab(scale: &ScaleSpec) -> Result<usize> {
    Ok(scale.model.config()?.vocab_size)
}

fn fraction_label(f: f64) -> String {
    format!("{}", (f * 100.0).round() as u64)
}

fn evaluate(
    recipe: &Recipe,
    resolver: &Resolver,
    scale: &ScaleSpec,
    model_dir: &Path,
    vocab: Option<&CompactVocab>,
    out: &Path,
    opts: &Options,
) -> Result<EvalSummary> {
    let env =
        lmrepro_eval::suite::SuiteEnv::load(recipe.clone(), resolver.clone(), &scale.eval.config)?;
    let labels = env.select(&scale.eval.suite)?;
    let lm = lmrepro_model::lm::BurnLm::<lmrepro_model::Cpu>::load(model_dir, &Default::default())?;
    let ropts = lmrepro_eval::suite::RunOptions {
        limit: scale.eval.limit,
        batch_items: 16,
        out_dir: out.to_path_buf(),
        progress: opts.progress,
    };
    let run = match vocab {
        Some(v) => {
            let mut m = CompactLm::new(lm, v.clone());
            lmrepro_eval::suite::run_suite(&env, &mut m, &labels, &ropts)?
        }
        None => {
            let mut m = lm;
            lmrepro_eval::suite::run_suite(&env, &mut m, &labels, &ropts)?
        }
    };
    Ok(EvalSummary {
        tasks: run
            .results
            .iter()
            .map(|(k, r)| (k.clone(), r.accuracy))
            .collect(),
        items: run
            .results
            .iter()
            .map(|(k, r)| (k.clone(), (r.items_scored, r.items_total)))
            .collect(),
        missing: run.missing.iter().map(|(t, _)| t.clone()).collect(),
        core_v1: Headline::from_eval(&run.v1.core),
        core_v2: Headline::from_eval(&run.v2.core),
        extended_v1: Headline::from_eval(&run.v1.extended),
        extended_v2: Headline::from_eval(&run.v2.extended),
    })
}

// ---------------------------------------------------------------------------------- tables --

fn mean_spread(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, if xs.len() > 1 { (hi - lo) / 2.0 } else { 0.0 })
}

fn fmt_ms(xs: &[f64], digits: usize) -> String {
    let (m, s) = mean_spread(xs);
    format!("{} ± {}", fmt_fixed(m, digits), fmt_fixed(s, digits))
}

fn fmt_headline(hs: &[Headline]) -> String {
    let xs: Vec<f64> = hs.iter().map(|h| h.value).collect();
    let mark = if hs.iter().any(|h| h.partial) {
        " (partial)"
    } else {
        ""
    };
    format!("{}{mark}", fmt_ms(&xs, 4))
}

fn opt4(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_string(), |v| fmt_fixed(v, 4))
}

/// Writes the result files; returns the markdown tables to snapshot.
pub fn write_results(
    recipe: &Recipe,
    resolver: &Resolver,
    p: &DclmParams,
    r: &RunOutput,
    out_dir: &Path,
) -> Result<Vec<String>> {
    let scale = p.scale(&r.scale)?;
    let any_eval = r.eval.values().next();
    let missing: Vec<String> = any_eval.map(|e| e.missing.clone()).unwrap_or_default();

    // Main table.
    let mut t = Table::new([
        "variant",
        "docs",
        "GPT-NeoX tokens",
        "train loss",
        "held-out loss",
        "CORE v1",
        "CORE v2",
        "EXTENDED v1",
        "EXTENDED v2",
    ]);
    let mut csv = Table::new([
        "variant",
        "seed",
        "docs",
        "tokens",
        "steps",
        "train_loss",
        "heldout_loss",
        "core_v1",
        "core_v2",
        "extended_v1",
        "extended_v2",
        "partial",
    ]);
    for v in &p.variants {
        let runs: Vec<(&TrainSummary, &EvalSummary)> = p
            .seeds
            .iter()
            .map(|&s| {
                (
                    &r.train[&(v.name.clone(), s)],
                    &r.eval[&(v.name.clone(), s)],
                )
            })
            .collect();
        let (docs, _) = r.variant_docs[&v.name];
        let tokens = r.variant_tokens[&v.name].tokens;
        let col = |f: &dyn Fn(&EvalSummary) -> Headline| -> String {
            fmt_headline(&runs.iter().map(|(_, e)| f(e)).collect::<Vec<_>>())
        };
        t.push([
            v.label.clone(),
            docs.to_string(),
            tokens.to_string(),
            fmt_ms(
                &runs
                    .iter()
                    .map(|(t, _)| t.final_train_loss)
                    .collect::<Vec<_>>(),
                4,
            ),
            fmt_ms(
                &runs.iter().map(|(t, _)| t.heldout_loss).collect::<Vec<_>>(),
                4,
            ),
            col(&|e| e.core_v1),
            col(&|e| e.core_v2),
            col(&|e| e.extended_v1),
            col(&|e| e.extended_v2),
        ]);
        for (&seed, (tr, ev)) in p.seeds.iter().zip(&runs) {
            csv.push([
                v.name.clone(),
                seed.to_string(),
                docs.to_string(),
                tokens.to_string(),
                tr.steps.to_string(),
                fmt_fixed(tr.final_train_loss, 6),
                fmt_fixed(tr.heldout_loss, 6),
                fmt_fixed(ev.core_v1.value, 6),
                fmt_fixed(ev.core_v2.value, 6),
                fmt_fixed(ev.extended_v1.value, 6),
                fmt_fixed(ev.extended_v2.value, 6),
                (ev.core_v1.partial || ev.extended_v1.partial).to_string(),
            ]);
        }
    }
    let first = r.train.values().next().context("no training runs")?;
    let items = any_eval
        .map(|e| e.items.values().map(|(s, _)| *s).sum::<usize>())
        .unwrap_or(0);
    let mut md = format!(
        "# dclm-baseline, scale `{}`: data-curation variants\n\n\
         Each row trains the same model ({} parameters, DCLM's count: {}) with the same seeds ({}) for the same \
         {} steps × {} × {} tokens on its own data, then runs the llm-foundry ICL suite `{}` \
         ({} items per task, {} items in all). Values are the mean ± half the range over the seeds. \
         Losses are nats per GPT-NeoX token; held-out = {} documents ({} tokens) set aside from the \
         text sources.\n\n",
        r.scale,
        plan::grouped(scale.run_config()?.model.num_params().dclm_reported()),
        scale_model_words(scale)?,
        p.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        first.steps,
        scale.global_batch,
        scale.model.seq_len.unwrap_or(2048),
        scale.eval.suite,
        scale.eval.limit.map_or("all".to_string(), |l| format!("at most {l}")),
        items,
        r.heldout_tokens.documents,
        r.heldout_tokens.tokens,
    );
    md.push_str(&t.to_markdown());
    if !missing.is_empty() {
        write!(
            md,
            "\n(partial): {} of the suite's tasks have no data file here ({}); CORE / EXTENDED \
             are the means over the tasks that ran, not DCLM's numbers (DCLM reports N/A).\n",
            missing.len(),
            missing.join(", ")
        )?;
    }
    // Two variants can end on the same documents (e.g. when the fastText filter keeps only pages
    // that neither dedup touched): say so rather than let identical rows look like a bug.
    for (i, a) in p.variants.iter().enumerate() {
        for b in &p.variants[i + 1..] {
            if r.variant_docs[&a.name] == r.variant_docs[&b.name]
                && r.variant_tokens[&a.name] == r.variant_tokens[&b.name]
                && r.variant_sources[&a.name] == r.variant_sources[&b.name]
            {
                write!(
                    md,
                    "\n`{}` and `{}` kept the same {} documents ({} characters, {} tokens): the \
                     filter after dedup selected documents neither dedup changed, so their rows are \
                     the same runs.\n",
                    a.name, b.name, r.variant_docs[&a.name].0, r.variant_docs[&a.name].1,
                    r.variant_tokens[&a.name].tokens
                )?;
            }
        }
    }
    if let Some(v) = &r.vocab {
        write!(
            md,
            "\nVocabulary: the {} most frequent GPT-NeoX ids of the raw pool + one shared id for the \
             other {} (`compact_vocab`, see docs/dclm.md); scores spread that id's probability \
             uniformly, so they are distributions over the full GPT-NeoX vocabulary.\n",
            v.kept.len(),
            v.other_count()
        )?;
    }
    write_file(out_dir, "variants.md", &md)?;
    write_file(out_dir, "variants.csv", csv.to_csv())?;

    // Stage table.
    let mut st = Table::new([
        "stage",
        "docs in",
        "docs out",
        "kept",
        "characters out",
        "note",
    ]);
    let pool_docs = r.pool.pool_docs();
    let pool_chars: u64 = r.pool.sources.iter().map(|s| s.pool_chars).sum();
    st.push([
        "pool (extract WARCs + text sources)".to_string(),
        String::new(),
        pool_docs.to_string(),
        String::new(),
        pool_chars.to_string(),
        format!(
            "WARC records skipped: {}",
            if r.pool.warc_skipped.is_empty() {
                "none".to_string()
            } else {
                r.pool
                    .warc_skipped
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    ]);
    let frac = |a: u64, b: u64| fmt_fixed(a as f64 / b.max(1) as f64, 4);
    st.push([
        format!("RefinedWeb heuristics ({})", p.heuristics.pipeline),
        r.heuristics.docs_in.to_string(),
        r.heuristics.docs_out.to_string(),
        frac(r.heuristics.docs_out, r.heuristics.docs_in),
        r.heuristics.chars_out.to_string(),
        format!("{} pages dropped by a raising step", r.heuristics.errors),
    ]);
    for (k, s) in &r.dedup {
        let note = match k.as_str() {
            "bff" => format!(
                "BFF {}-{}-grams, threshold {}, old-both",
                p.bff.min_ngram_size, p.bff.max_ngram_size, p.bff.filtering_threshold
            ),
            _ => format!(
                "MinHash {}-grams, {} buckets × {} hashes",
                p.minhash.n_grams, p.minhash.num_buckets, p.minhash.hashes_per_bucket
            ),
        };
        st.push([
            format!("dedup: {k}"),
            s.docs_in.to_string(),
            s.docs_out.to_string(),
            frac(s.docs_out, s.docs_in),
            s.chars_out.to_string(),
            note,
        ]);
    }
    for v in &p.variants {
        let (d, c) = r.variant_docs[&v.name];
        let tk = &r.variant_tokens[&v.name];
        st.push([
            format!("variant: {}", v.label),
            String::new(),
            d.to_string(),
            frac(d, pool_docs),
            c.to_string(),
            format!(
                "{} GPT-NeoX tokens incl. EOT, {} contexts",
                tk.tokens, tk.contexts
            ),
        ]);
    }
    let mut smd = String::from("# dclm-baseline: documents kept per stage\n\n");
    smd.push_str(&st.to_markdown());
    smd.push_str("\n## Pool sources\n\n");
    let mut ps = Table::new(["source", "pool docs", "held-out docs", "pool characters"]);
    for s in &r.pool.sources {
        ps.push([
            s.source.clone(),
            s.pool_docs.to_string(),
            s.heldout_docs.to_string(),
            s.pool_chars.to_string(),
        ]);
    }
    smd.push_str(&ps.to_markdown());
    write!(
        smd,
        "\nfastText quality classifier: trained on {} positives and {} negatives (DCLM's \
         OpenHermes-2.5 + ELI5 set was never released; see docs/dclm.md).\n",
        r.quality_model["positives"], r.quality_model["negatives"]
    )?;
    smd.push_str("\n## Documents per source in each variant\n\n");
    let sources: Vec<String> = r.pool.sources.iter().map(|s| s.source.clone()).collect();
    let mut header = vec!["variant".to_string()];
    header.extend(sources.iter().cloned());
    let mut comp = Table::new(header);
    for v in &p.variants {
        let m = &r.variant_sources[&v.name];
        let mut row = vec![v.label.clone()];
        row.extend(
            sources
                .iter()
                .map(|s| m.get(s).copied().unwrap_or(0).to_string()),
        );
        comp.push(row);
    }
    smd.push_str(&comp.to_markdown());
    write_file(out_dir, "stages.md", &smd)?;
    write_file(out_dir, "stages.csv", st.to_csv())?;

    // Heuristics per step.
    let mut ht = Table::new(["step", "pages in", "pages out", "skipped (no URL)"]);
    for s in &r.heuristics.steps {
        ht.push([
            s.id.clone(),
            s.pages_in.to_string(),
            s.pages_out.to_string(),
            s.skipped.to_string(),
        ]);
    }
    let mut hmd = String::from("# RefinedWeb heuristics on the pool: pages in / out per step\n\n");
    hmd.push_str(&ht.to_markdown());
    write_file(out_dir, "heuristics_steps.md", &hmd)?;

    // Per-task accuracies.
    let mut tasks = Table::new(["variant", "seed", "task", "accuracy", "items scored"]);
    for ((name, seed), e) in &r.eval {
        for (task, acc) in &e.tasks {
            tasks.push([
                name.clone(),
                seed.to_string(),
                task.clone(),
                fmt_fixed(*acc, 6),
                e.items[task].0.to_string(),
            ]);
        }
    }
    write_file(out_dir, "tasks.csv", tasks.to_csv())?;

    // Loss curves (first seed): training loss per step as lines, held-out evaluations as points.
    let mut plot = LinePlot::new(
        format!("dclm-baseline {}: loss (seed {})", r.scale, p.seeds[0]),
        Axis::linear("step"),
        Axis::linear("cross-entropy, compact vocabulary (nats)"),
    );
    let mut curves = Table::new([
        "variant",
        "seed",
        "step",
        "train_loss",
        "heldout_loss_compact",
    ]);
    for v in &p.variants {
        for &seed in &p.seeds {
            let tr = &r.train[&(v.name.clone(), seed)];
            let evals: BTreeMap<u64, f64> = tr.eval_curve.iter().copied().collect();
            for &(step, loss) in &tr.train_curve {
                curves.push([
                    v.name.clone(),
                    seed.to_string(),
                    step.to_string(),
                    fmt_fixed(loss, 6),
                    evals.get(&step).map_or(String::new(), |e| fmt_fixed(*e, 6)),
                ]);
            }
            if seed == p.seeds[0] {
                let pts: Vec<(f64, f64)> =
                    tr.train_curve.iter().map(|&(s, l)| (s as f64, l)).collect();
                plot.add(format!("{} (train)", v.label), pts, SeriesStyle::Line);
                let held: Vec<(f64, f64)> =
                    tr.eval_curve.iter().map(|&(s, l)| (s as f64, l)).collect();
                if !held.is_empty() {
                    plot.add(format!("{} (held-out)", v.label), held, SeriesStyle::Points);
                }
            }
        }
    }
    write_file(out_dir, "loss_curves.csv", curves.to_csv())?;
    write_file(out_dir, "loss_curves.svg", plot.to_svg()?)?;

    // DCLM's published numbers.
    let cells = published::load(recipe, resolver, &p.published)?;
    let mut pt = Table::new([
        "variant",
        "scale",
        "DCLM dataset",
        "model",
        "CORE v1",
        "EXTENDED v1",
        "MMLU 5-shot",
        "CORE v2",
        "EXTENDED v2",
        "CSV line",
    ]);
    for v in &p.variants {
        let mine: Vec<&published::PublishedCell> =
            cells.iter().filter(|c| c.variant == v.name).collect();
        if mine.is_empty() {
            pt.push([
                v.label.clone(),
                "—".into(),
                "(no DCLM run of this variant in the database)".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for c in mine {
            let ds = match &c.note {
                Some(n) => format!("`{}` ({n})", c.dataset),
                None => format!("`{}`", c.dataset),
            };
            pt.push([
                v.label.clone(),
                c.scale.clone(),
                ds,
                c.model.clone(),
                opt4(c.core_v1),
                opt4(c.extended_v1),
                opt4(c.mmlu),
                opt4(c.core_v2),
                opt4(c.extended_v2),
                c.line.to_string(),
            ]);
        }
    }
    let mut pmd = String::from(
        "# DCLM's published numbers for the same variants\n\n\
         Read from the pinned `assets/DCLM_model_database.csv` (mlfoundations/dclm@361714bd): `Core` = CORE v1, \
         `Extended` = EXTENDED v1, `mmlu_fewshot` = MMLU 5-shot (raw accuracy); v2 from the released eval JSON \
         where there is one (400M-1x). Rows are selected by the exact `Model JSON` key given in the recipe. \
         — = not in the file.\n\n",
    );
    pmd.push_str(&pt.to_markdown());
    write_file(out_dir, "published.md", &pmd)?;
    write_file(
        out_dir,
        "published.json",
        lmrepro_report::to_json_pretty(&cells)?,
    )?;

    // Real-scale plans.
    let plans = plan::plans(recipe, resolver, p)?;
    write_file(out_dir, "scales.md", plan::scales_markdown(&plans))?;

    let summary = json!({
        "scale": r.scale,
        "seeds": p.seeds,
        "pool": r.pool,
        "heuristics": r.heuristics,
        "dedup": r.dedup,
        "quality_model": r.quality_model,
        "variant_docs": r.variant_docs,
        "variant_sources": r.variant_sources,
        "variant_tokens": r.variant_tokens,
        "heldout_tokens": r.heldout_tokens,
        "compact_vocab_size": r.vocab.as_ref().map(CompactVocab::size),
        "runs": r.train.iter().map(|((v, s), t)| json!({
            "variant": v, "seed": s, "steps": t.steps, "tokens_trained": t.tokens_trained,
            "params": t.params, "final_train_loss": t.final_train_loss,
            "heldout_loss": t.heldout_loss, "heldout_loss_compact": t.heldout_loss_compact,
            "eval": r.eval[&(v.clone(), *s)],
        })).collect::<Vec<_>>(),
    });
    write_file(
        out_dir,
        "summary.json",
        lmrepro_report::to_json_pretty(&summary)?,
    )?;
    Ok(vec![
        "variants.md".into(),
        "stages.md".into(),
        "heuristics_steps.md".into(),
        "published.md".into(),
        "scales.md".into(),
    ])
}

fn scale_model_words(scale: &ScaleSpec) -> Result<String> {
    let c = scale.model.config()?;
    Ok(format!(
        "{} d={} l={} h={}, context {}",
        scale.model.arch, c.d_model, c.n_layers, c.n_heads, c.seq_len
    ))
}

/// Writes the per-stage runtime (machine-dependent, so outside the compared results).
pub fn timings_json(r: &RunOutput) -> Result<String> {
    let runs: Vec<Value> = r
        .train
        .iter()
        .map(|((v, s), t)| json!({"variant": v, "seed": s, "tokens_per_s": t.tokens_per_s}))
        .collect();
    lmrepro_report::to_json_pretty(&json!({
        "stages": r.timings,
        "wall_seconds": r.wall_seconds,
        "jobs_at_a_time": r.jobs,
        "total_seconds": r.timings.iter().map(|t| t.seconds).sum::<f64>(),
        "training_throughput": runs,
    }))
}

/// The compact vocabulary of a training run, beside its checkpoints.
pub const COMPACT_VOCAB_FILE: &str = "compact_vocab.json";

/// A trained checkpoint as a model over GPT-NeoX ids: `dir` is a checkpoint (`step_N`) or a run
/// directory (its newest checkpoint); a `compact_vocab.json` in the run directory wraps the model
/// in [`CompactLm`].
pub fn load_checkpoint_lm(dir: &Path) -> Result<Box<dyn lmrepro_lm::TokenLm>> {
    let lm = lmrepro_model::lm::BurnLm::<lmrepro_model::Cpu>::load(dir, &Default::default())
        .with_context(|| format!("loading checkpoint {}", dir.display()))?;
    let candidates = [
        dir.join(COMPACT_VOCAB_FILE),
        dir.join("..").join(COMPACT_VOCAB_FILE),
    ];
    match candidates.iter().find(|p| p.is_file()) {
        Some(p) => {
            let v: CompactVocab = serde_json::from_slice(&std::fs::read(p)?)
                .with_context(|| format!("{}: not a compact vocabulary", p.display()))?;
            if v.size() != lm.model.config.vocab_size {
                bail!(
                    "{}: {} entries but the model has a vocabulary of {}",
                    p.display(),
                    v.size(),
                    lm.model.config.vocab_size
                );
            }
            Ok(Box::new(CompactLm::new(lm, v)))
        }
        None => Ok(Box::new(lm)),
    }
}

/// Name of the machine-dependent file `reproduce` writes beside the results.
pub const TIMINGS_FILE: &str = "timings.json";

/// Runs `opts.scale` (default scale when `None`) and writes `results/…` into `out_dir`.
pub fn reproduce_with(
    recipe: &Recipe,
    resolver: &Resolver,
    out_dir: &Path,
    opts: &Options,
) -> Result<Vec<String>> {
    let p = load_params(recipe)?;
    let scale = opts
        .scale
        .clone()
        .unwrap_or_else(|| p.default_scale.clone());
    eprintln!("dclm-baseline, scale `{scale}`: stages (cache: {})", {
        opts.cache_root
            .clone()
            .unwrap_or_else(cache::default_root)
            .display()
            .to_string()
    });
    let r = run(recipe, resolver, &p, &scale, opts)?;
    let tables = write_results(recipe, resolver, &p, &r, out_dir)?;
    write_file(out_dir, TIMINGS_FILE, timings_json(&r)?)?;
    let total: f64 = r.timings.iter().map(|t| t.seconds).sum();
    // The two tables side by side on the terminal: this run, then DCLM's published numbers.
    for table in ["variants.md", "published.md"] {
        eprintln!("\n{}", std::fs::read_to_string(out_dir.join(table))?);
    }
    eprintln!(
        "dclm-baseline: stages took {:.1} s wall ({total:.1} s summed over stages; \
         train+eval jobs ran {} at a time, set LMREPRO_JOBS to change)",
        r.wall_seconds, r.jobs
    );
    Ok(tables)
}

/// `--dry-run`: the plan of a scale, as text.
pub fn dry_run(recipe: &Recipe, resolver: &Resolver, scale: &str) -> Result<String> {
    let p = load_params(recipe)?;
    let plans = plan::plans(recipe, resolver, &p)?;
    let Some(pl) = plans.iter().find(|x| x.scale == scale) else {
        p.scale(scale)?;
        bail!("no plan for scale `{scale}`");
    };
    Ok(plan::plan_text(recipe, &p, pl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_half_range() {
        assert_eq!(mean_spread(&[1.0, 3.0]), (2.0, 1.0));
        assert_eq!(mean_spread(&[2.0]), (2.0, 0.0));
        assert_eq!(fraction_label(0.1), "10");
    }
}
