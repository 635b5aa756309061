//! Pinned inputs of this crate (`recipes/inputs/crawl_pages.toml`) and the resiliparse
//! goldens of `../shared/conformance/extraction/` (pinned by sha256, never copied).

use anyhow::{Context, Result};
use lmrepro_data::{Input, Resolver};
use std::path::PathBuf;

/// The inputs of `recipes/inputs/crawl_pages.toml`.
pub fn pinned_inputs() -> Result<Vec<Input>> {
    lmrepro_data::input_set("crawl_pages")
}

/// Resolves a pinned input (e.g. `crawl/scrapinghub-aeb.warc.gz`) to a verified path.
pub fn input_path(resolver: &Resolver, name: &str) -> Result<PathBuf> {
    lmrepro_data::resolve_in_set(resolver, "crawl_pages", name)
}

/// resiliparse 2.0.1 goldens (`extract_plain_text(body.decode("utf-8"), main_content=True)`), one
/// per benchmark WARC: (file name, sha256, WARC input name).
pub const GOLDENS: [(&str, &str, &str); 2] = [
    (
        "scrapinghub-aeb.resiliparse.jsonl.zst",
        "74911a9890037feecc34eb6a456539e22c498b9ad46353355a5853b25b6395d8",
        "crawl/scrapinghub-aeb.warc.gz",
    ),
    (
        "trafilatura-testpages.resiliparse.jsonl.zst",
        "11de454c4d6e4e672e6eeb106390a0eba26a61653be9b7777255959ae478ee37",
        "crawl/trafilatura-testpages.warc.gz",
    ),
];

/// One golden line.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Golden {
    pub warc_record_id: String,
    pub target_uri: Option<String>,
    pub x_source_path: Option<String>,
    pub body_sha1: String,
    pub text: Option<String>,
    pub skip_reason: Option<String>,
}

/// The conformance folder: `LMREPRO_CONFORMANCE` or `<workspace>/../shared/conformance`.
pub fn conformance_dir() -> PathBuf {
    std::env::var_os("LMREPRO_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| lmrepro_data::workspace_root().join("../shared/conformance"))
}

/// Reads a golden file after checking its pinned sha256.
pub fn load_golden(file_name: &str) -> Result<Vec<Golden>> {
    let (_, sha, _) = GOLDENS
        .iter()
        .find(|g| g.0 == file_name)
        .with_context(|| format!("unknown golden {file_name}"))?;
    let path = conformance_dir().join("extraction").join(file_name);
    let got = lmrepro_data::sha256_file(&path).with_context(|| {
        format!(
            "resiliparse golden {} missing; set LMREPRO_CONFORMANCE to the conformance folder",
            path.display()
        )
    })?;
    anyhow::ensure!(
        got == *sha,
        "{} has sha256 {got}, pinned {sha}",
        path.display()
    );
    let bytes = zstd::decode_all(std::fs::File::open(&path)?)?;
    let text = String::from_utf8(bytes).context("golden is UTF-8")?;
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1))
        })
        .collect()
}
