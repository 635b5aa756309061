//! The `lmrepro crawl` subcommands of this crate (the work is in [`crate::run`]).

use crate::run::{run_extract, ExtractArgs};
use anyhow::Result;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Extract main-content text from WARC files into jsonl(.zst) documents
    /// `{"id","text","url","metadata"}`.
    Extract(ExtractArgs),
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
            Cli::parse_from(["x", "extract", "--input", "w", "--output", "o"]).command;
        assert_eq!(a.options, crate::Options::default());
    }
}
