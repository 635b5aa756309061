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
