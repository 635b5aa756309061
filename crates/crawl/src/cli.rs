//! The `lmrepro crawl` subcommands of this crate (the work is in [`crate::filter`]).

use crate::filter::{filter, FilterArgs};
use anyhow::Result;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Apply a DCLM heuristic pipeline to JSONL documents (`text`, optional `url` or
    /// `metadata.WARC-Target-URI`); prints pages in/out per step like DCLM.
    Filter(FilterArgs),
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Filter(a) => filter(&a).map(|_| ()),
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
    fn flags_are_unique_and_default_to_the_builtin_pipeline() {
        Cli::command().debug_assert();
        let Command::Filter(a) =
            Cli::parse_from(["x", "filter", "--input", "i", "--output", "o"]).command;
        assert_eq!(a.pipeline.pipeline, crate::DCLM_BASELINE_REFINEDWEB);
        assert_eq!(a.pipeline.curated_domains, Default::default());
    }
}
