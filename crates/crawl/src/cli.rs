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
