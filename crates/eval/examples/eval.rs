//! Runs the `eval` command without the workspace binary:
//! `cargo run -p lmrepro-eval --release --example eval -- --model ngram:wiki=10033 --suite core --out /tmp/eval`.
use clap::Parser;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    eval: lmrepro_eval::cli::EvalArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    lmrepro_eval::cli::run_eval(&args.eval)
}
