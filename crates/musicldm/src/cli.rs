//! `lmrepro music ...`: the track's commands on your own audio.

use crate::beat::{beat_track, Aggregate, BeatParams, FileSource};
use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Track beats (librosa 0.11 `beat_track` defaults at the file's native rate) and write
    /// `{"tempo_bpm": f64, "beats_s": [f64, ...]}`. The audio is decoded twice, streamed; memory
    /// holds the onset envelope (one value per 512 samples), not the signal.
    Beats {
        /// Ogg Vorbis or WAV file.
        #[arg(long)]
        input: PathBuf,
        /// Output JSON file.
        #[arg(long)]
        output: PathBuf,
        /// Band aggregation of the onset envelope: `mean` (onset_strength's default, the
        /// reference's) or `median` (what `beat_track(y=...)` uses).
        #[arg(long, value_enum, default_value_t = AggregateArg::Mean)]
        aggregate: AggregateArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AggregateArg {
    Mean,
    Median,
}

/// The `music beats` output contract.
#[derive(Debug, Serialize)]
pub struct BeatsOutput {
    pub tempo_bpm: f64,
    pub beats_s: Vec<f64>,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Beats {
            input,
            output,
            aggregate,
        } => {
            let p = BeatParams {
                aggregate: match aggregate {
                    AggregateArg::Mean => Aggregate::Mean,
                    AggregateArg::Median => Aggregate::Median,
                },
                ..BeatParams::default()
            };
            let src = FileSource::open(&input)?;
            let b = beat_track(&src, &p)?;
            let out = BeatsOutput {
                tempo_bpm: b.tempo_bpm,
                beats_s: b.beat_times(),
            };
            let text = serde_json::to_string(&out)? + "\n";
            std::fs::write(&output, text)
                .with_context(|| format!("writing {}", output.display()))?;
            eprintln!(
                "{}: {:.2} BPM, {} beats over {} onset frames -> {}",
                input.display(),
                b.tempo_bpm,
                b.beat_frames.len(),
                b.onset_envelope.len(),
                output.display()
            );
            Ok(())
        }
    }
}
