//! Scores without the whole CLI (the functions of `lmrepro crawl extract-eval`):
//! - `extract_eval <trafilatura|aeb> <faithful|quality> [charset]`: extract the pinned WARC
//!   in that mode and print the score as JSON;
//! - `extract_eval score <trafilatura|aeb> PREDICTIONS.jsonl`: score texts made elsewhere (the
//!   peers of `benchmarks/extract/quality.sh`), lines `{"key": <X-Source-Path file name>,
//!   "text": <text or null>}`; a page without a line is an empty prediction (AEB) or no result
//!   (trafilatura set);
//! - `extract_eval pair REFERENCE.jsonl PREDICTIONS.jsonl`: the AEB shingle scores of one
//!   extractor's texts against another's (quality-mode development on the tuning WARC: how much of
//!   trafilatura's text ours has, and how much more; never against AEB's gold).
use anyhow::Context;
use lmrepro_extract::eval::{
    eval_aeb, eval_trafilatura, load_evaldata, read_predictions, SnippetCounts,
};
use lmrepro_extract::inputs::input_path;
use lmrepro_extract::pipeline::{Decoding, Mode, Options};
use lmrepro_extract::quality::load_aeb_truth;
use lmrepro_extract::score::aeb_metrics;
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = lmrepro_data::testing::resolver();
    if args.first().map(String::as_str) == Some("score") {
        let pred = read_predictions(Path::new(args.get(2).context("predictions file")?))?;
        let json = if args[1] == "aeb" {
            let truth = load_aeb_truth(&r)?;
            let mut keys: Vec<&String> = truth.keys().collect();
            keys.sort();
            let texts: Vec<(&str, String)> = keys
                .iter()
                .map(|k| {
                    let p = pred.get(&format!("{k}.html.gz")).or_else(|| pred.get(*k));
                    (truth[*k].as_str(), p.cloned().flatten().unwrap_or_default())
                })
                .collect();
            serde_json::to_value(aeb_metrics(texts.iter().map(|(t, p)| (*t, p.as_str()))))?
        } else {
            let data = load_evaldata(&input_path(&r, "crawl/trafilatura-evaldata.json")?)?;
            let mut c = SnippetCounts::default();
            for page in data.values() {
                let res = pred.get(&page.file).and_then(|t| t.as_deref());
                c.add(SnippetCounts::of(res, page));
            }
            let (p, rc, a, f1) = c.scores();
            serde_json::json!({"counts": c, "precision": p, "recall": rc, "accuracy": a, "f1": f1})
        };
        println!("{json}");
        return Ok(());
    }
    if args.first().map(String::as_str) == Some("pair") {
        let reference = read_predictions(Path::new(args.get(1).context("reference file")?))?;
        let pred = read_predictions(Path::new(args.get(2).context("predictions file")?))?;
        let mut keys: Vec<&String> = reference.keys().collect();
        keys.sort();
        let texts: Vec<(String, String)> = keys
            .iter()
            .map(|k| {
                let r = reference[*k].clone().unwrap_or_default();
                (r, pred.get(*k).cloned().flatten().unwrap_or_default())
            })
            .collect();
        let m = aeb_metrics(texts.iter().map(|(t, p)| (t.as_str(), p.as_str())));
        println!("{}", serde_json::to_value(m)?);
        return Ok(());
    }
    let mut opts = Options::default();
    if args.get(1).map(String::as_str) == Some("quality") {
        opts.mode = Mode::Quality;
    }
    if args.get(2).map(String::as_str) == Some("charset") {
        opts.decoding = Decoding::Charset;
    }
    let json = match args.first().map(String::as_str) {
        Some("aeb") => serde_json::to_value(eval_aeb(&r, &opts)?)?,
        _ => serde_json::to_value(eval_trafilatura(&r, &opts)?)?,
    };
    println!("{json}");
    Ok(())
}
