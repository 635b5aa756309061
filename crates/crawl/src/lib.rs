//! lmrepro-crawl: DCLM's RefinedWeb heuristics (`dclm_baseline_refinedweb.yaml`, 26 steps) with
//! DCLM's exact semantics, fastText `lid.176` language ID in pure Rust, and the `crawl filter` CLI.
//!
//! See `README.md` in this crate for the quirks kept, the deviations (named options) and the
//! conformance figures.

pub mod assets;
pub mod cli;
pub use lmrepro_fasttext as fasttext;
pub mod io;
pub mod page;
pub mod pipeline;
/// CPython `str` semantics (moved to `lmrepro-pycompat`).
pub use lmrepro_pycompat::unicode as pyunicode;
pub mod reproduce;
pub mod retrie;
pub mod rules;
pub mod steps;
pub mod words;

pub use assets::Assets;
pub use page::{Field, Page};
pub use pipeline::{Outcome, Pipeline, DCLM_BASELINE_REFINEDWEB};
pub use reproduce::reproduce;
