//! lmrepro-crawl: DCLM's RefinedWeb heuristics (`dclm_baseline_refinedweb.yaml`, 26 steps) with
//! DCLM's exact semantics, fastText `lid.176` language ID in pure Rust, and the `crawl filter` CLI.
//!
//! - [`pipeline`] + [`steps`] (+ [`rules`], [`words`], [`retrie`]): the steps, built from DCLM's
//!   yaml schema or the built-in pipeline;
//! - [`page`]: the page the steps work on, made from a stage document in one place;
//! - [`runner`]: pages through a pipeline in parallel, counted per step (every caller uses it);
//! - [`filter`]: `crawl filter` over JSONL shards; [`reproduce`]: the `dclm-heuristics` recipe.
//!
//! Documents, JSONL files and resume markers come from `lmrepro-stage`; Python's `str` semantics
//! from `lmrepro-pycompat`. See `README.md` for the quirks kept, the deviations (named options)
//! and the conformance figures.

pub mod assets;
pub mod cli;
pub use lmrepro_fasttext as fasttext;
pub mod filter;
pub mod page;
pub mod pipeline;
pub mod reproduce;
pub mod retrie;
pub mod rules;
pub mod runner;
pub mod steps;
pub mod words;

pub use assets::Assets;
pub use page::{Field, Page};
pub use pipeline::{Outcome, Pipeline, PipelineArgs, DCLM_BASELINE_REFINEDWEB};
pub use reproduce::{reproduce, HeuristicsReproducer};
