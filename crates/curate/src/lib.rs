//! Crawl processing II: deduplication (BFF, MinHash-LSH, exact), fastText quality classifier,
//! tokenize + shuffle, and the token-shard reader. See `README.md` for formats and deviations.
//!
//! Documents, stage folders, progress bars and summed stats come from `lmrepro-stage`; the
//! tokenizer from `lmrepro-tokenizer`; Python/numpy behaviour from `lmrepro-pycompat`.

pub mod bff;
pub mod cli;
pub mod inputs;
pub mod minhash;
pub mod quality;
pub mod tokenize;
pub mod tokens;
pub mod work_timer;
