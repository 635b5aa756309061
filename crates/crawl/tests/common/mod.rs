//! Shared helpers of the integration tests: pinned inputs and the conformance goldens.
#![allow(dead_code)]

use lmrepro_crawl::{Assets, Pipeline};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The goldens of `../shared/conformance/dclm_refinedweb/` with their sha256 (the files are
/// never copied into the project; `LMREPRO_CONFORMANCE` may point elsewhere).
pub const GOLDENS: [(&str, &str); 4] = [
    (
        "agreement_golden.jsonl",
        "2b41433fe0b5579f843fa29521e262c7fdfa7df41ac3b49a4bdf2f4a71d79bce",
    ),
    (
        "agreement_per_step.jsonl",
        "21740a08a8b073c6bea636b417545ffcb3167687b1627f39f99daf715ab40677",
    ),
    (
        "agreement_step_counts.json",
        "833c523a628abab0e9472d6737948380e239cdb6ec05ee7aa1955039d0cc5098",
    ),
    (
        "url_filters_golden.jsonl",
        "5a7902e7ff689e55ff4ac94ad8ec4e3018d28b0ce8dfa27697d3ed3b38de4341",
    ),
];

pub fn golden(name: &str) -> PathBuf {
    let dir = std::env::var_os("LMREPRO_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| lmrepro_data::workspace_root().join("../shared/conformance"));
    let p = dir.join("dclm_refinedweb").join(name);
    let want = GOLDENS
        .iter()
        .find(|g| g.0 == name)
        .expect("known golden")
        .1;
    let got = lmrepro_data::sha256_file(&p).unwrap_or_else(|e| {
        panic!("conformance golden {} missing ({e}); set LMREPRO_CONFORMANCE to the conformance folder", p.display())
    });
    assert_eq!(
        got,
        want,
        "{} has a different sha256 than pinned",
        p.display()
    );
    p
}

pub fn read_jsonl(p: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn assets() -> &'static Assets {
    static A: OnceLock<Assets> = OnceLock::new();
    A.get_or_init(Assets::for_tests)
}

pub fn pipeline() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        Pipeline::load(lmrepro_crawl::DCLM_BASELINE_REFINEDWEB, None, assets()).unwrap()
    })
}

/// The raw texts of agreement_data.jsonl (pinned input).
pub fn agreement_texts() -> Vec<String> {
    let p = assets()
        .input_path("dclm/data/agreement_data.jsonl")
        .unwrap();
    read_jsonl(&p)
        .into_iter()
        .map(|v| v["text"].as_str().unwrap().to_string())
        .collect()
}
