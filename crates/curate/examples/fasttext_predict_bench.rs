//! Times fastText prediction alone, the same work `benchmarks/curate/scripts/fasttext_reference.py
//! predict` times for C++ (DCLM-preprocessed lines, top-1, model already loaded), and compares the
//! scores with that script's output when given.
//!
//! `cargo run --release -p lmrepro-curate --example fasttext_predict_bench -- MODEL.bin DOCS.jsonl [CPP_PRED.jsonl]`
//! (single-threaded; prints one JSON line).

use anyhow::{Context, Result};
use lmrepro_curate::quality::{self, Classifier};
use std::time::Instant;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 2,
        "usage: fasttext_predict_bench MODEL.bin DOCS.jsonl [CPP_PRED.jsonl]"
    );
    let clf = Classifier::load(args[0].as_ref())?;
    let texts: Vec<String> = std::fs::read_to_string(&args[1])
        .with_context(|| format!("reading {}", args[1]))?
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            Ok(quality::preprocess(v["text"].as_str().context("no text")?))
        })
        .collect::<Result<_>>()?;
    let t = Instant::now();
    let preds: Vec<Option<(String, f32)>> = texts.iter().map(|x| clf.top1(x)).collect();
    let dt = t.elapsed().as_secs_f64();
    let mut out = serde_json::json!({
        "docs": texts.len(), "seconds": dt, "docs_per_s": texts.len() as f64 / dt,
    });
    if let Some(cpp) = args.get(2) {
        let (mut agree, mut max_dp) = (0usize, 0f64);
        let text = std::fs::read_to_string(cpp).with_context(|| format!("reading {cpp}"))?;
        for (line, ours) in text.lines().zip(&preds) {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let (label, p) = ours.clone().unwrap_or_default();
            agree += (v["label"].as_str() == Some(label.as_str())) as usize;
            max_dp = max_dp.max((v["prob"].as_f64().unwrap_or(0.0) - p as f64).abs());
        }
        out["top1_agreement"] = serde_json::json!(agree as f64 / preds.len() as f64);
        out["max_abs_dp"] = serde_json::json!(max_dp);
    }
    println!("{out}");
    Ok(())
}
