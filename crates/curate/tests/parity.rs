//! Full parity checks against reference outputs produced outside the project (ignored by default;
//! run with `cargo test -p lmrepro-curate --release --test parity -- --ignored`, see
//! benchmarks/curate/README.md for producing the reference files).

use lmrepro_curate::inputs::test_input;
use lmrepro_stage::OnMalformed;
use lmrepro_tokenizer::Tokenizer;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Same document set and keys as benchmarks/curate/scripts/tokenizer_reference.py.
fn parity_docs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let wiki: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(test_input("corpus/wikipedia_vital_summaries_en-us.json"))
            .unwrap(),
    )
    .unwrap();
    for (title, v) in wiki.as_object().unwrap() {
        out.push((
            format!("wiki:{title}"),
            v["extract"].as_str().unwrap().to_string(),
        ));
    }
    for name in ["agreement_data", "majority_data"] {
        let p = test_input(&format!("dclm_assets/data/{name}.jsonl"));
        for (i, line) in lmrepro_stage::read_lines(&p).unwrap().iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            out.push((
                format!("{name}:{}", i + 1),
                v["text"].as_str().unwrap().to_string(),
            ));
        }
    }
    let p = test_input("quality/negatives_cc_2019-30_dolma_sample.jsonl.gz");
    for (i, line) in lmrepro_stage::read_lines(&p).unwrap().iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        out.push((
            format!("dolma:{}", i + 1),
            v["text"].as_str().unwrap().to_string(),
        ));
    }
    for s in 0..4 {
        let p = test_input(&format!("corpus/gutenberg_top100_{s:02}.jsonl.zst"));
        for (_, d) in lmrepro_stage::read_docs(&p, OnMalformed::Error).unwrap().0 {
            out.push((
                format!("gutenberg:{}", d["id"].as_str().unwrap()),
                lmrepro_stage::text(&d).to_string(),
            ));
        }
    }
    out
}

#[test]
#[ignore = "needs LMREPRO_TOKENIZER_REF (output of tokenizer_reference.py); slow"]
fn tokenizer_ids_identical_to_python_on_all_documents() {
    let path = std::env::var("LMREPRO_TOKENIZER_REF").expect("set LMREPRO_TOKENIZER_REF");
    let mut want: HashMap<String, (u64, String)> = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        want.insert(
            v["key"].as_str().unwrap().to_string(),
            (
                v["n"].as_u64().unwrap(),
                v["sha256"].as_str().unwrap().to_string(),
            ),
        );
    }
    let tok = Tokenizer::from_file(&test_input("tokenizer/gpt-neox-20b/tokenizer.json")).unwrap();
    let docs = parity_docs();
    let results: Vec<(String, bool, u64)> = docs
        .par_iter()
        .map(|(k, t)| {
            let ids = tok.encode(t).unwrap();
            let mut bytes = Vec::with_capacity(ids.len() * 4);
            for id in &ids {
                bytes.extend_from_slice(&id.to_le_bytes());
            }
            let h = hex::encode(Sha256::digest(&bytes));
            let ok = want.get(k) == Some(&(ids.len() as u64, h));
            (k.clone(), ok, ids.len() as u64)
        })
        .collect();
    let mismatched: Vec<&String> = results.iter().filter(|r| !r.1).map(|r| &r.0).collect();
    let tokens: u64 = results.iter().map(|r| r.2).sum();
    eprintln!(
        "tokenizer parity: {} documents, {} tokens, {} mismatches, {} reference entries",
        results.len(),
        tokens,
        mismatched.len(),
        want.len()
    );
    assert_eq!(results.len(), want.len());
    assert!(
        mismatched.is_empty(),
        "first mismatches: {:?}",
        &mismatched[..mismatched.len().min(10)]
    );
}

/// The fast encoder (`Tokenizer::encode`) against HF `tokenizers` in-process
/// (`Tokenizer::encode_hf`, the encoder the Python parity above was first established with) on
/// the same 12,310 documents; needs no reference file.
#[test]
#[ignore = "slow: HF encodes 57.5 M tokens"]
fn fast_encoder_identical_to_hf_on_all_documents() {
    let tok = Tokenizer::from_file(&test_input("tokenizer/gpt-neox-20b/tokenizer.json")).unwrap();
    assert_eq!(tok.backend(), "fast");
    let docs = parity_docs();
    let results: Vec<(String, bool, u64)> = docs
        .par_iter()
        .map(|(k, t)| {
            let ids = tok.encode(t).unwrap();
            let ok = ids == tok.encode_hf(t).unwrap();
            (k.clone(), ok, ids.len() as u64)
        })
        .collect();
    let mismatched: Vec<&String> = results.iter().filter(|r| !r.1).map(|r| &r.0).collect();
    let tokens: u64 = results.iter().map(|r| r.2).sum();
    eprintln!(
        "fast vs hf: {} documents, {} tokens, {} mismatches",
        results.len(),
        tokens,
        mismatched.len()
    );
    assert_eq!(results.len(), 12_310);
    assert!(
        mismatched.is_empty(),
        "first mismatches: {:?}",
        &mismatched[..mismatched.len().min(10)]
    );
}
