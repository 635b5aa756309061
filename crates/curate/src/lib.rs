//! Crawl processing II: deduplication (BFF, MinHash-LSH, exact), fastText quality classifier,
//! tokenize + shuffle, and the token-shard reader. See `README.md` for formats and deviations.
//!
//! Only [`tokens`] is available without the default `pipeline` feature.

pub mod tokens;

#[cfg(feature = "pipeline")]
pub mod bff;
#[cfg(feature = "pipeline")]
pub mod cli;
#[cfg(feature = "pipeline")]
pub mod docs;
#[cfg(feature = "pipeline")]
pub mod inputs;
#[cfg(feature = "pipeline")]
pub mod minhash;
#[cfg(feature = "pipeline")]
pub mod quality;
#[cfg(feature = "pipeline")]
pub mod tokenize;
