//! The `crawl-extraction` recipes: our extraction of the two benchmark WARCs next to the
//! resiliparse 2.0.1 goldens, and the scrapinghub article-extraction-benchmark score.

use crate::pipeline::Options;
use crate::quality::{aeb_score, compare_goldens, load_aeb_truth};
use anyhow::Result;
use lmrepro_data::{Recipe, Resolver};
use std::fmt::Write as _;
use std::path::Path;

lmrepro_report::single_scale_reproducer! {
    /// The reproducer of recipe kind `crawl-extraction`.
    pub struct ExtractionReproducer("crawl-extraction") => reproduce
}

/// Regenerates the tables into `out_dir`; returns the table files to pin in snapshot tests.
///
/// Recipe `[params]` (all optional): `options` = an [`Options`] table (defaults: DCLM's).
pub fn reproduce(recipe: &Recipe, resolver: &Resolver, out_dir: &Path) -> Result<Vec<String>> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Params {
        options: Option<Options>,
    }
    let params: Params = recipe.params()?;
    let opts = params.options.unwrap_or_default();
    let res = compare_goldens(resolver, &opts)?;
    let truth = load_aeb_truth(resolver)?;

    let mut md = String::from(
        "| input | response records | both extracted | both skipped (non-UTF-8) | exact match vs resiliparse 2.0.1 | token F1 vs resiliparse |\n|---|---:|---:|---:|---:|---:|\n",
    );
    let mut json = serde_json::Map::new();
    let mut aeb_md = String::new();
    for (cmp, docs) in &res {
        writeln!(
            md,
            "| {} | {} | {} | {} | {}/{} ({:.4}) | {:.4} |",
            cmp.warc,
            cmp.records,
            cmp.both_extracted,
            cmp.both_skipped,
            cmp.exact,
            cmp.both_extracted,
            cmp.exact_rate(),
            cmp.token_f1
        )?;
        json.insert(cmp.warc.clone(), serde_json::to_value(cmp)?);
        if cmp.warc.contains("scrapinghub") {
            let ours = aeb_score(&truth, docs)?;
            aeb_md = format!(
                "| extractor | F1 | precision | recall | accuracy |\n|---|---:|---:|---:|---:|\n| lmrepro-extract (main content, DCLM options) | {:.4} | {:.4} | {:.4} | {:.4} |\n| resiliparse 2.0.1 (published peer score) | 0.898 | | | |\n| trafilatura (published peer score) | 0.960 | | | |\n",
                ours.f1, ours.precision, ours.recall, ours.accuracy
            );
            json.insert("scrapinghub_aeb".into(), serde_json::to_value(ours)?);
        }
    }
    std::fs::write(out_dir.join("golden_similarity.md"), md)?;
    std::fs::write(out_dir.join("scrapinghub_aeb.md"), aeb_md)?;
    std::fs::write(
        out_dir.join("quality.json"),
        serde_json::to_string_pretty(&serde_json::Value::Object(json))? + "\n",
    )?;
    Ok(vec![
        "golden_similarity.md".into(),
        "scrapinghub_aeb.md".into(),
    ])
}
