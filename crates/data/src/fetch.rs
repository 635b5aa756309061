//! `lmrepro fetch` and `cargo xtask fetch`: resolve and verify every pinned input of some recipes
//! (cache → mirror → download), counting where each came from. One implementation for both.

use crate::{Recipe, Resolver, Source};
use anyhow::{bail, Result};
use std::collections::BTreeSet;

/// What a fetch found.
#[derive(Debug, Default)]
pub struct FetchReport {
    pub recipes: usize,
    pub from_cache: usize,
    pub from_mirror: usize,
    pub downloaded: usize,
    /// `name (recipe): first line of the error` of optional inputs that are not available.
    pub optional_missing: Vec<String>,
    /// Errors of required inputs that are missing or corrupt, `[recipe] error`.
    pub missing: Vec<String>,
}

impl FetchReport {
    pub fn verified(&self) -> usize {
        self.from_cache + self.from_mirror + self.downloaded
    }

    /// Prints the summary on stderr; an error when a required input is missing.
    pub fn print_and_check(&self, resolver: &Resolver) -> Result<()> {
        eprintln!(
            "fetch: {} inputs of {} recipes verified ({} from cache, {} from mirror {}, {} downloaded)",
            self.verified(),
            self.recipes,
            self.from_cache,
            self.from_mirror,
            resolver
                .mirror_dir
                .as_ref()
                .map_or("<none>".to_string(), |m| m.display().to_string()),
            self.downloaded,
        );
        if !self.optional_missing.is_empty() {
            eprintln!(
                "optional inputs not available ({}); runs that need them report partial results:",
                self.optional_missing.len()
            );
            for m in &self.optional_missing {
                eprintln!("  - {m}");
            }
        }
        for m in &self.missing {
            eprintln!("error: {m}");
        }
        if !self.missing.is_empty() {
            bail!("{} required input(s) missing", self.missing.len());
        }
        Ok(())
    }
}

/// Resolves every input of the named recipes (all recipes when `names` is empty), each distinct
/// file once. `on_input` sees every resolved input (for a per-file listing).
pub fn fetch(
    names: &[String],
    resolver: &Resolver,
    mut on_input: impl FnMut(&str, &crate::Input, &Result<(std::path::PathBuf, Source), String>),
) -> Result<FetchReport> {
    let names = if names.is_empty() {
        Recipe::list()?
    } else {
        names.to_vec()
    };
    let mut report = FetchReport {
        recipes: names.len(),
        ..Default::default()
    };
    let mut seen = BTreeSet::new();
    for name in &names {
        let recipe = Recipe::load_named(name)?;
        for input in &recipe.inputs {
            if !seen.insert((input.path.clone(), input.sha256.clone())) {
                continue;
            }
            let outcome = resolver.resolve(input).map_err(|e| e.to_string());
            on_input(name, input, &outcome);
            match outcome {
                Ok((_, Source::Cache)) => report.from_cache += 1,
                Ok((_, Source::Mirror)) => report.from_mirror += 1,
                Ok((_, Source::Download)) => report.downloaded += 1,
                Err(e) if input.optional => report.optional_missing.push(format!(
                    "{} ({name}): {}",
                    input.name,
                    e.lines().next().unwrap_or("")
                )),
                Err(e) => report.missing.push(format!("[{name}] {e}")),
            }
        }
    }
    Ok(report)
}
