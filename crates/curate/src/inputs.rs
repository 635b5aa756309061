//! The pinned inputs of this crate (`recipes/inputs/corpus.toml`), resolved through the data layer.

use anyhow::Result;
use lmrepro_data::{Input, Resolver};
use std::path::PathBuf;

/// All inputs of the `corpus` input set.
pub fn corpus_inputs() -> Result<Vec<Input>> {
    lmrepro_data::input_set("corpus")
}

/// Resolves input `name` (e.g. `corpus/gutenberg_sample.jsonl.zst`) to a verified local path.
pub fn resolve(resolver: &Resolver, name: &str) -> Result<PathBuf> {
    lmrepro_data::resolve_in_set(resolver, "corpus", name)
}

/// [`resolve`] with the test resolver (mirror at `../shared/data` by default); panics with the
/// data layer's message when the file is missing.
pub fn test_input(name: &str) -> PathBuf {
    resolve(&lmrepro_data::testing::resolver(), name)
        .unwrap_or_else(|e| panic!("test input missing: {e:#}"))
}
