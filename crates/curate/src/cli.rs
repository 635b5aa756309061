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
        #[command(flatten)]
        cfg: bff::BffConfig,
    },
    /// MinHash-LSH near-duplicate removal (datatrove-compatible signatures and clustering).
    Minhash {
        #[command(flatten)]
        io: IoArgs,
        #[command(flatten)]
        cfg: minhash::MinhashConfig,
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
    #[command(flatten)]
    pub cfg: tokenize::TokenizeConfig,
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Dedup { method } => match method {
            DedupCommand::Bff { io, mut cfg } => {
                cfg.on_malformed = io.on_malformed;
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
            DedupCommand::Minhash { io, mut cfg } => {
                cfg.on_malformed = io.on_malformed;
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
        Command::Tokenize(a) => print_json(&tokenize::tokenize_shuffle(
            &a.inputs,
            &a.tokenizer,
            &a.output,
            &a.cfg,
        )?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    fn parse(args: &[&str]) -> Command {
        Cli::parse_from(std::iter::once("x").chain(args.iter().copied())).command
    }

    /// The configs are the flags: with no flags, each equals its `Default` (the library's and the
    /// reference's defaults), so the two can never drift apart.
    #[test]
    fn flags_default_to_the_library_defaults() {
        Cli::command().debug_assert();
        let io = ["--inputs", "i", "--output", "o"];
        let Command::Dedup {
            method: DedupCommand::Bff { cfg, .. },
        } = parse(&[&["dedup", "bff"][..], &io].concat())
        else {
            panic!("not bff")
        };
        assert_eq!(cfg, bff::BffConfig::default());
        let Command::Dedup {
            method: DedupCommand::Minhash { cfg, .. },
        } = parse(&[&["dedup", "minhash"][..], &io].concat())
        else {
            panic!("not minhash")
        };
        assert_eq!(cfg, minhash::MinhashConfig::default());
        let Command::Tokenize(a) = parse(&[&["tokenize", "--tokenizer", "t"][..], &io].concat())
        else {
            panic!("not tokenize")
        };
        assert_eq!(a.cfg, tokenize::TokenizeConfig::default());
        let Command::Dedup {
            method: DedupCommand::Bff { cfg, .. },
        } = parse(
            &[
                &["dedup", "bff", "--seed", "7", "--shard-num", "1"][..],
                &io,
            ]
            .concat(),
        )
        else {
            panic!("not bff")
        };
        assert_eq!((cfg.seed, cfg.shard_num), (7, Some(1)));
    }
}
