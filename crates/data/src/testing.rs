//! Helpers for tests that need pinned real data.
//!
//! Tests resolve inputs exactly like a run does. When `LMREPRO_DATA_MIRROR` is unset they fall back
//! to `<workspace>/../shared/data` (the layout `.ci/run` uses). A missing input panics with the data
//! layer's message, so a test never silently skips.

use crate::{workspace_root, Recipe, Resolver};
use std::path::PathBuf;

/// The resolver tests use.
pub fn resolver() -> Resolver {
    let mut r = Resolver::from_env();
    if r.mirror_dir.is_none() {
        let default = workspace_root().join("../shared/data");
        if default.is_dir() {
            r.mirror_dir = Some(default);
        }
    }
    r
}

/// Loads `recipes/<recipe>.toml`, panicking with context on error.
pub fn recipe(recipe: &str) -> Recipe {
    Recipe::load_named(recipe).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Resolves input `name` of recipe `recipe` to a verified path, or panics saying how to get it.
pub fn input(recipe_name: &str, name: &str) -> PathBuf {
    let r = recipe(recipe_name);
    r.resolve(&resolver(), name)
        .unwrap_or_else(|e| panic!("test input missing: {e:#}"))
}
