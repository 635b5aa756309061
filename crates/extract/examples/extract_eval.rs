//! Tuning loop without the whole CLI: `cargo run --release -p lmrepro-extract --example
//! extract_eval -- <trafilatura|aeb> <faithful|quality> [charset]` prints the score as JSON
//! (the same functions as `lmrepro crawl extract-eval`).
use lmrepro_extract::eval::{eval_aeb, eval_trafilatura};
use lmrepro_extract::pipeline::{Decoding, Mode, Options};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = Options::default();
    if args.get(1).map(String::as_str) == Some("quality") {
        opts.mode = Mode::Quality;
    }
    if args.get(2).map(String::as_str) == Some("charset") {
        opts.decoding = Decoding::Charset;
    }
    let r = lmrepro_data::testing::resolver();
    let json = match args.first().map(String::as_str) {
        Some("aeb") => serde_json::to_value(eval_aeb(&r, &opts)?)?,
        _ => serde_json::to_value(eval_trafilatura(&r, &opts)?)?,
    };
    println!("{json}");
    Ok(())
}
