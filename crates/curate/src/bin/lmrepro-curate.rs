//! Standalone entry point of the curate commands (the `lmrepro` binary embeds the same
//! [`lmrepro_curate::cli::Command`]); used by the benchmarks.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "lmrepro-curate",
    about = "Dedup, quality classifier, tokenize + shuffle"
)]
struct Cli {
    #[command(subcommand)]
    cmd: lmrepro_curate::cli::Command,
}

fn main() -> anyhow::Result<()> {
    lmrepro_curate::cli::run(Cli::parse().cmd)
}
