//! The `lmrepro crawl` subcommands of this crate (the work is in [`crate::run`]).

use crate::run::{run_extract, ExtractArgs};
use anyhow::Result;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Extract main-content text from WARC files into jsonl(.zst) documents
    /// `{"id","text","url","metadata"}`.
    Extract(ExtractArgs),
    /// Score an extraction mode on a labelled page set: `trafilatura` (trafilatura's evaldata
    /// snippets, the tuning set) or `aeb` (scrapinghub article-extraction benchmark, the test
    /// set). Prints one JSON object.
    ExtractEval(EvalArgs),
}

/// Page set of `crawl extract-eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalSet {
    Trafilatura,
    Aeb,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    #[arg(long, value_enum)]
    pub set: EvalSet,
    #[command(flatten)]
    pub options: crate::Options,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Extract(args) => {
            let stats = run_extract(&args)?;
            eprintln!(
                "extracted {} documents from {} records in {} files ({} skipped)",
                stats.totals.documents,
                stats.totals.records_read,
                stats.files.len(),
                stats.totals.skipped_total
            );
            Ok(())
        }
        Command::ExtractEval(args) => {
            let resolver = lmrepro_data::Resolver::from_env();
            let json = match args.set {
                EvalSet::Trafilatura => {
                    serde_json::to_value(crate::eval::eval_trafilatura(&resolver, &args.options)?)?
                }
                EvalSet::Aeb => {
                    serde_json::to_value(crate::eval::eval_aeb(&resolver, &args.options)?)?
                }
            };
            println!("{json}");
            Ok(())
        }
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

    #[test]
    fn flags_are_unique_and_default_to_dclm() {
        Cli::command().debug_assert();
        let Command::Extract(a) =
            Cli::parse_from(["x", "extract", "--input", "w", "--output", "o"]).command
        else {
            panic!("not extract")
        };
        assert_eq!(a.options, crate::Options::default());
        let Command::ExtractEval(e) =
            Cli::parse_from(["x", "extract-eval", "--set", "aeb", "--mode", "quality"]).command
        else {
            panic!("not extract-eval")
        };
        assert_eq!(e.set, EvalSet::Aeb);
        assert_eq!(e.options.mode, crate::Mode::Quality);
    }
}
