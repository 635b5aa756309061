//! AIW track: LAION-AI/AIW ("Alice in Wonderland", Nezhurina et al. 2024).
//!
//! - [`score`]: the repo's answer parser and scorer (oracle: 1820/1820 stored verdicts).
//! - [`records`], [`prompts`], [`summary`]: the released files.
//! - [`generator`]: template families regenerating the prompts, and new instances.
//! - [`stats`]: correct-response rates with the repo's Beta-fit bands (seeded).
//! - [`reproduce()`] / [`AiwReproducer`]: recipe kind `aiw` (tables + plots).
//! - [`client`], [`runner`], [`cli`]: OpenAI-compatible client, resumable runs, `lmrepro aiw ...`.
//! - [`testing`]: a scripted OpenAI-compatible server on 127.0.0.1 for the client's tests (and other tracks').

pub mod cli;
pub mod client;
pub mod generator;
pub mod plot;
pub mod prompts;
pub mod records;
pub mod reproduce;
pub mod runner;
pub mod score;
pub mod stats;
pub mod summary;
pub mod testing;

pub use reproduce::reproduce;

lmrepro_report::single_scale_reproducer! {
    /// Recipe kind `aiw`: the paper's tables and plots re-scored from the released responses.
    pub struct AiwReproducer("aiw") => reproduce
}
