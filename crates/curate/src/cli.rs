//! Command-line interface: `dedup {bff,minhash,exact}`, `quality {train,predict,filter}`,
//! `tokenize`. Every command writes a `stats.json` into its output directory and prints it.

use crate::{bff, minhash, quality, tokenize};
use anyhow::{bail, Result};
use lmrepro_stage::OnMalformed;
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Deduplicate JSONL documents.
    Dedup {
        #[command(subcommand)]
        method: DedupCommand,
    },
    /// fastText quality classifier.
    Quality {
        #[command(subcommand)]
        cmd: QualityCommand,
    },
    /// Tokenize (GPT-NeoX-20B tokenizer.json) into shuffled 2049-token contexts.
    Tokenize(TokenizeArgs),
}

#[derive(Debug, clap::Args)]
pub struct IoArgs {
    /// Input files or directories (*.jsonl, *.jsonl.gz, *.jsonl.zst).
    #[arg(long, required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Output stage directory (`<shard>.jsonl.zst`, `_done/`, `stats.json`).
    #[arg(long)]
    pub output: PathBuf,
    /// What to do with malformed JSONL lines.
    #[arg(long, value_enum, default_value_t = OnMalformed::Error)]
    pub on_malformed: OnMalformed,
}

#[derive(Debug, clap::Subcommand)]
pub enum DedupCommand {
    /// Bloom-filter paragraph/document n-gram dedup (DCLM's bff, `old-both` by default).
    Bff {
        #[command(flatten)]
        io: IoArgs,
        /// Expected n-gram count (sizes the filter); counted in a first pass when omitted.
        #[arg(long)]
        expected_ngram_count: Option<u64>,
        #[arg(long, default_value_t = 0.01)]
        fp_rate: f64,
        #[arg(long, default_value_t = 20)]
        min_ngram_size: usize,
        #[arg(long, default_value_t = 20)]
        max_ngram_size: usize,
        #[arg(long, default_value_t = 0.8)]
        filtering_threshold: f64,
        #[arg(long, value_enum, default_value_t = bff::RemoveType::OldBoth)]
        remove_type: bff::RemoveType,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Independent global shards (DCLM used 10); files i with i % N == shard form a shard.
        #[arg(long, default_value_t = 1)]
        total_shards: usize,
        /// Run only this shard (default: all, one after the other).
        #[arg(long)]
        shard_num: Option<usize>,
        /// Keep text; add `bff_duplicate_spans` and `bff_contained_ngram_count`.
        #[arg(long)]
        annotate: bool,
    },
    /// MinHash-LSH near-duplicate removal (datatrove-compatible signatures and clustering).
    Minhash {
        #[command(flatten)]
        io: IoArgs,
        #[arg(long, default_value_t = 5)]
        n_grams: usize,
        /// Bands (datatrove `num_buckets`); DCLM's ablation used 15 × 93.
        #[arg(long, default_value_t = 14)]
        num_buckets: usize,
        /// Rows per band (datatrove `hashes_per_bucket`).
        #[arg(long, default_value_t = 8)]
        hashes_per_bucket: usize,
        #[arg(long, default_value_t = 1)]
        seed: u32,
    },
    /// Exact text dedup (first occurrence kept).
    Exact {
        #[command(flatten)]
        io: IoArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum QualityCommand {
    /// Train a supervised fastText model (DCLM settings) from positive / negative JSONL files.
    Train {
        #[arg(long, required = true, num_args = 1..)]
        positives: Vec<PathBuf>,
        #[arg(long, required = true, num_args = 1..)]
        negatives: Vec<PathBuf>,
        /// Model output (.bin, C++ fastText format).
        #[arg(long)]
        output: PathBuf,
        #[arg(long)]
        max_positives: Option<usize>,
        #[arg(long)]
        max_negatives: Option<usize>,
        #[arg(long, default_value_t = 0.1)]
        lr: f64,
        #[arg(long, default_value_t = 100)]
        dim: i32,
        #[arg(long, default_value_t = 5)]
        epoch: i32,
        #[arg(long, default_value_t = 2)]
        word_ngrams: i32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Score documents (adds the score field, keeps all).
    Predict {
        #[command(flatten)]
        io: IoArgs,
        #[arg(long)]
        model: PathBuf,
        #[arg(long, default_value = "fasttext_hq_prob")]
        key: String,
    },
    /// Score and keep by absolute threshold or top fraction.
    Filter {
        #[command(flatten)]
        io: IoArgs,
        #[arg(long)]
        model: PathBuf,
        #[arg(long, default_value = "fasttext_hq_prob")]
        key: String,
        /// Keep score >= this (DCLM-Baseline: 0.018112).
        #[arg(long, conflicts_with = "top_fraction")]
        threshold: Option<f64>,
        /// Keep this top fraction of the pool (DCLM-Baseline: ~0.1).
        #[arg(long)]
        top_fraction: Option<f64>,
    },
}

#[derive(Debug, clap::Args)]
pub struct TokenizeArgs {
    #[arg(long, required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Output token directory (shards, manifest.jsonl, meta.json, stats.json).
    #[arg(long)]
    pub output: PathBuf,
    /// HF tokenizer.json (GPT-NeoX-20B).
    #[arg(long)]
    pub tokenizer: PathBuf,
    #[arg(long, default_value_t = 2049)]
    pub seqlen: usize,
    /// Contexts per output shard (tokshuf's wds_chunk_size).
    #[arg(long, default_value_t = 8192)]
    pub chunk_size: usize,
    #[arg(long, default_value_t = 128)]
    pub num_local_cells: usize,
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    /// Do not emit tokshuf's all-PAD context for files whose tokens divide evenly.
    #[arg(long)]
    pub drop_all_pad_context: bool,
    #[arg(long, value_enum, default_value_t = OnMalformed::Error)]
    pub on_malformed: OnMalformed,
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Dedup { method } => match method {
            DedupCommand::Bff {
                io,
                expected_ngram_count,
                fp_rate,
                min_ngram_size,
                max_ngram_size,
                filtering_threshold,
                remove_type,
                seed,
                total_shards,
                shard_num,
                annotate,
            } => {
                let cfg = bff::BffConfig {
                    expected_ngram_count,
                    fp_rate,
                    min_ngram_size,
                    max_ngram_size,
                    filtering_threshold,
                    remove_type,
                    seed,
                    total_shards,
                    shard_num,
                    annotate,
                    on_malformed: io.on_malformed,
                    stop_after_files: None,
                };
                let report = bff::run(&io.inputs, &io.output, &cfg, |s, p| {
                    eprintln!(
                        "bff shard {s}: filter {:.1} MiB ({} bytes), {} hashers, {} expected n-grams, predicted fp {:.4}",
                        p.size_bytes as f64 / (1 << 20) as f64,
                        p.size_bytes,
                        p.num_hashers,
                        p.expected_ngram_count,
                        p.predicted_fp_rate
                    )
                })?;
                print_json(&report)
            }
            DedupCommand::Minhash {
                io,
                n_grams,
                num_buckets,
                hashes_per_bucket,
                seed,
            } => {
                let cfg = minhash::MinhashConfig {
                    n_grams,
                    num_buckets,
                    hashes_per_bucket,
                    seed,
                    on_malformed: io.on_malformed,
                };
                print_json(&minhash::run(&io.inputs, &io.output, &cfg)?)
            }
            DedupCommand::Exact { io } => print_json(&minhash::run_exact(
                &io.inputs,
                &io.output,
                io.on_malformed,
            )?),
        },
        Command::Quality { cmd } => match cmd {
            QualityCommand::Train {
                positives,
                negatives,
                output,
                max_positives,
                max_negatives,
                lr,
                dim,
                epoch,
                word_ngrams,
                seed,
            } => {
                let cfg = quality::TrainConfig {
                    lr,
                    dim,
                    epoch,
                    word_ngrams,
                    seed,
                    max_positives,
                    max_negatives,
                    ..Default::default()
                };
                let pos = quality::read_examples(&positives)?;
                let neg = quality::read_examples(&negatives)?;
                let train = output.with_extension("train.txt");
                let (np, nn) = quality::write_training_file(&pos, &neg, &cfg, &train)?;
                let model = quality::train_file(&train, &cfg)?;
                model
                    .save_model(&output)
                    .map_err(|e| anyhow::anyhow!("saving {}: {e}", output.display()))?;
                print_json(&serde_json::json!({
                    "positives": np, "negatives": nn, "train_file": train, "model": output, "config": cfg,
                }))
            }
            QualityCommand::Predict { io, model, key } => print_json(&quality::predict_filter(
                &io.inputs,
                &model,
                &io.output,
                &key,
                None,
                io.on_malformed,
            )?),
            QualityCommand::Filter {
                io,
                model,
                key,
                threshold,
                top_fraction,
            } => {
                let rule = match (threshold, top_fraction) {
                    (Some(t), None) => quality::KeepRule::Threshold(t),
                    (None, Some(f)) if f > 0.0 && f <= 1.0 => quality::KeepRule::TopFraction(f),
                    (None, Some(f)) => bail!("--top-fraction must be in (0, 1], got {f}"),
                    _ => bail!("give --threshold or --top-fraction"),
                };
                print_json(&quality::predict_filter(
                    &io.inputs,
                    &model,
                    &io.output,
                    &key,
                    Some(rule),
                    io.on_malformed,
                )?)
            }
        },
        Command::Tokenize(a) => {
            let cfg = tokenize::TokenizeConfig {
                seqlen: a.seqlen,
                chunk_size: a.chunk_size,
                num_local_cells: a.num_local_cells,
                seed: a.seed,
                drop_all_pad_context: a.drop_all_pad_context,
                on_malformed: a.on_malformed,
                ..Default::default()
            };
            print_json(&tokenize::tokenize_shuffle(
                &a.inputs,
                &a.tokenizer,
                &a.output,
                &cfg,
            )?)
        }
    }
}
