//! fastText supervised-model inference (`lid.176.ftz` / `.bin`, DCLM's quality classifier),
//! written from the fastText 0.9.2 file format and prediction code so that probabilities equal
//! the Python `fasttext` module's.
//!
//! One implementation serves both users: language ID in the RefinedWeb heuristics
//! (`lmrepro-crawl`) and the quality classifier (`lmrepro-curate`; training there still uses the
//! crates.io `fasttext` crate, whose `.bin` files this crate reads).
//!
//! Why not the crates.io `fasttext` 0.8.0 crate for inference: it loads `lid.176.ftz` but ignores
//! the pruned n-gram index of quantized models and predicts wrong labels (`ar` 0.73 for an English
//! page whose fastText answer is `en` 0.94), and its `predict` leaves out the `(last word, </s>)`
//! word bigram that C++ fastText scores (|Δp| up to 0.02 on DCLM's labelled texts).

mod model;
mod tokens;

pub use model::{FastText, Prediction};
pub use tokens::{fasttext_tokens, FastTextTokens, EOS};
