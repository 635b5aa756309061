//! lmrepro-extract: streaming WARC reading and main-content text extraction, modelled on
//! resiliparse's `extract_plain_text(main_content=True)` as DCLM uses it.
//!
//! - [`warc`]: WARC records from uncompressed / gzip / zstd files, with offsets and recovery.
//! - [`dom`] + [`extract`]: HTML → text; [`article`]: the quality mode's article extractor.
//! - [`pipeline`]: `extract_warc(path, options)` → iterator of [`Doc`]s, the building block of
//!   `crawl extract` and `crawl run`.
//! - [`run`]: `crawl extract` (WARC files → one JSONL file + stats); [`cli`] holds only its clap
//!   types.
//! - [`eval`]: `crawl extract-eval`, the tuning (trafilatura evaldata) and test (AEB) scores of a
//!   mode.
//! - [`score`] + [`quality`]: the scrapinghub article-extraction-benchmark scorer and golden
//!   similarity; [`reproduce`]: the `crawl-extraction` recipe.
//!
//! Output files are written with `lmrepro-stage`'s writers.

pub mod article;
pub mod cli;
pub mod dom;
pub mod eval;
pub mod extract;
pub mod gum;
#[cfg(test)]
mod hostile;
pub mod inputs;
pub mod pipeline;
pub mod quality;
pub mod reproduce;
pub mod run;
pub mod score;
pub mod warc;

/// The source text of the modules an extraction runs through (WARC records, decoding, parser,
/// faithful extractor, article extractor). A stage cache of `--mode quality` texts keys on it
/// (`crates/dclm`'s pool stage), so that a changed extractor never reuses an older one's texts:
/// stage keys cover a recipe and the crate version, not code. Faithful texts are keyed without it:
/// they are pinned to resiliparse 2.0.1's, and their committed keys stay as they are.
pub const EXTRACTOR_SOURCES: [&str; 6] = [
    include_str!("warc.rs"),
    include_str!("pipeline.rs"),
    include_str!("gum.rs"),
    include_str!("dom.rs"),
    include_str!("extract.rs"),
    include_str!("article.rs"),
];

pub use extract::{extract_plain_text, ExtractOptions};
pub use pipeline::{extract_warc, nesting_work, Doc, DocError, Mode, Options};
pub use reproduce::{reproduce, ExtractionReproducer};
