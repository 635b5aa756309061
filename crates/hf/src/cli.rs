//! `lmrepro score --model hf:PATH --input IN.jsonl --output OUT.jsonl` and
//! `lmrepro hf export --checkpoint DIR --format gpt2|bloom|open-lm --out DIR`.

use crate::export::{export, ExportFormat, ExportOptions};
use crate::lm::{score_file, Cpu};
use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct ScoreArgs {
    /// `hf:PATH`: a folder with config.json, model.safetensors (or a sharded index) and
    /// tokenizer.json.
    #[arg(long)]
    pub model: String,
    /// JSON lines with a `"text"` field.
    #[arg(long)]
    pub input: PathBuf,
    /// JSON lines `{"ids": [...], "logprobs": [...]}` (log-probability of each token after the first).
    #[arg(long)]
    pub output: PathBuf,
}

pub fn run_score(args: &ScoreArgs) -> Result<()> {
    let dir = crate::parse_model_arg(&args.model)
        .with_context(|| format!("--model `{}` must be hf:PATH", args.model))?;
    let s = score_file(&dir, &args.input, &args.output)?;
    eprintln!(
        "scored {} items, {} tokens in {:.3} s ({:.2} items/s, {:.1} tokens/s); wrote {}",
        s.items,
        s.tokens,
        s.seconds,
        s.items as f64 / s.seconds,
        s.tokens as f64 / s.seconds,
        args.output.display()
    );
    Ok(())
}

#[derive(clap::Subcommand, Debug)]
pub enum HfCommand {
    /// Export a checkpoint of `lmrepro train` as a transformers-loadable folder.
    Export {
        /// Checkpoint directory (or a run directory: its newest `step_*`).
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long, value_enum)]
        format: ExportFormat,
        #[arg(long)]
        out: PathBuf,
        /// BLOOM: export the exact-GELU model although transformers' BLOOM uses the tanh GELU.
        #[arg(long)]
        allow_gelu_approximation: bool,
    },
}

pub fn run(cmd: HfCommand) -> Result<()> {
    match cmd {
        HfCommand::Export {
            checkpoint,
            format,
            out,
            allow_gelu_approximation,
        } => {
            let lm = lmrepro_model::lm::BurnLm::<Cpu>::load(&checkpoint, &Default::default())?;
            export(
                &lm.model,
                format,
                ExportOptions {
                    allow_gelu_approximation,
                },
                &out,
            )?;
            eprintln!("wrote {}", out.display());
            Ok(())
        }
    }
}
