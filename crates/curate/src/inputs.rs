//! The pinned inputs of this crate (`recipes/inputs/corpus.toml`), resolved through the data layer.

use anyhow::{Context, Result};
use lmrepro_data::{workspace_root, Input, Resolver};
use std::path::PathBuf;

#[derive(serde::Deserialize)]
struct InputSet {
    inputs: Vec<Input>,
}

/// All inputs of the `corpus` input set.
pub fn corpus_inputs() -> Result<Vec<Input>> {
    let path = workspace_root().join("recipes/inputs/corpus.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let set: InputSet =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(set.inputs)
}

/// Resolves input `name` (e.g. `corpus/gutenberg_sample.jsonl.zst`) to a verified local path.
pub fn resolve(resolver: &Resolver, name: &str) -> Result<PathBuf> {
    let inputs = corpus_inputs()?;
    let input = inputs
        .iter()
        .find(|i| i.name == name)
        .with_context(|| format!("recipes/inputs/corpus.toml has no input `{name}`"))?;
    Ok(resolver.path(input)?)
}

/// [`resolve`] with the test resolver (mirror at `../shared/data` by default); panics with the
/// data layer's message when the file is missing.
pub fn test_input(name: &str) -> PathBuf {
    resolve(&lmrepro_data::testing::resolver(), name)
        .unwrap_or_else(|e| panic!("test input missing: {e:#}"))
}
