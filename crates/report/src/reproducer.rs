//! The reproducer contract: every paper track implements [`Reproducer`] for the recipe `kind`s it
//! serves, and the CLI, xtask and the snapshot tests drive any recipe through it without naming
//! one. [`reproduce_into`] runs a reproducer into an empty folder and adds `provenance.json`;
//! [`publish`] swaps a finished staging folder into place.

use crate::{to_json_pretty, write_file, Provenance};
use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use std::path::Path;

/// How a recipe is run: the scale of a multi-scale recipe, or only its plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// `None`: the recipe's default scale.
    pub scale: Option<String>,
    /// Print the plan of the scale instead of running it.
    pub dry_run: bool,
}

/// Regenerates the results of the recipes of one `kind`.
pub trait Reproducer: Send + Sync {
    /// The recipe `kind` served (the `kind` key of `recipes/<name>.toml`).
    fn kind(&self) -> &'static str;

    /// Whether `--scale` / `--dry-run` apply (a recipe with several scales and a plan for each).
    fn multi_scale(&self) -> bool {
        false
    }

    /// Files written whose content depends on the machine or the run (timings): compared by
    /// name only when a fresh run is checked against the committed results.
    fn machine_dependent_files(&self) -> &'static [&'static str] {
        &[]
    }

    /// Files whose numbers come from CPU training and may move in their last digits on another
    /// CPU: compared under the cross-CPU contract (`crate::contract`) instead of byte for byte.
    fn cross_cpu_tolerant_files(&self) -> &'static [&'static str] {
        &[]
    }

    /// Writes the results into the empty folder `out` and returns the files it wrote that a
    /// reviewer reads (the markdown tables among them are snapshot-tested).
    fn reproduce(
        &self,
        recipe: &Recipe,
        resolver: &Resolver,
        out: &Path,
        opts: &RunOptions,
    ) -> Result<Vec<String>>;

    /// The plan of one scale (model, tokens, compute, checks), for `--dry-run`.
    fn plan(&self, recipe: &Recipe, _resolver: &Resolver, _scale: Option<&str>) -> Result<String> {
        bail!("recipe `{}` has a single scale and no plan", recipe.name)
    }
}

/// Declares the [`Reproducer`] of a single-scale recipe kind whose work is one function
/// `fn(&Recipe, &Resolver, &Path) -> anyhow::Result<Vec<String>>`:
///
/// ```
/// use lmrepro_data::{Recipe, Resolver};
/// use lmrepro_report::Reproducer;
///
/// fn reproduce(_: &Recipe, _: &Resolver, _: &std::path::Path) -> anyhow::Result<Vec<String>> {
///     Ok(vec!["table.md".into()])
/// }
///
/// lmrepro_report::single_scale_reproducer! {
///     /// The reproducer of recipe kind `example`.
///     pub struct ExampleReproducer("example") => reproduce
/// }
///
/// assert_eq!(ExampleReproducer.kind(), "example");
/// assert!(!ExampleReproducer.multi_scale());
/// ```
#[macro_export]
macro_rules! single_scale_reproducer {
    ($(#[$meta:meta])* $vis:vis struct $name:ident($kind:literal) => $run:path) => {
        $(#[$meta])*
        $vis struct $name;

        impl $crate::Reproducer for $name {
            fn kind(&self) -> &'static str {
                $kind
            }

            fn reproduce(
                &self,
                recipe: &$crate::__private::Recipe,
                resolver: &$crate::__private::Resolver,
                out: &::std::path::Path,
                _: &$crate::RunOptions,
            ) -> $crate::__private::Result<::std::vec::Vec<::std::string::String>> {
                $run(recipe, resolver, out)
            }
        }
    };
}

/// What [`single_scale_reproducer!`] expands to needs, whatever the caller imports.
#[doc(hidden)]
pub mod __private {
    pub use anyhow::Result;
    pub use lmrepro_data::{Recipe, Resolver};
}

/// The file every results folder has whose content depends on the run (git commit, command).
pub const PROVENANCE_FILE: &str = "provenance.json";

/// Outcome of one reproduction.
#[derive(Debug)]
pub struct Reproduced {
    /// The markdown tables written (relative paths), for snapshots.
    pub tables: Vec<String>,
    /// Every file written (relative, sorted), `provenance.json` included.
    pub files: Vec<String>,
}

/// Checks that `opts` make sense for `rep` (a scale or a dry run only for multi-scale recipes).
pub fn check_options(rep: &dyn Reproducer, recipe: &Recipe, opts: &RunOptions) -> Result<()> {
    if (opts.scale.is_some() || opts.dry_run) && !rep.multi_scale() {
        bail!(
            "recipe `{}` (kind `{}`) has a single scale: --scale and --dry-run do not apply",
            recipe.name,
            rep.kind()
        );
    }
    Ok(())
}

/// Runs `rep` into `out_dir` (created; must be empty or absent) and writes `provenance.json`.
pub fn reproduce_into(
    rep: &dyn Reproducer,
    recipe: &Recipe,
    resolver: &Resolver,
    out_dir: &Path,
    command: &str,
    opts: &RunOptions,
) -> Result<Reproduced> {
    check_options(rep, recipe, opts)?;
    if out_dir.exists() && std::fs::read_dir(out_dir)?.next().is_some() {
        bail!("{} is not empty", out_dir.display());
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut tables = rep
        .reproduce(recipe, resolver, out_dir, opts)
        .with_context(|| format!("reproducing `{}`", recipe.name))?;
    // CSV and JSON twins of a table are compared byte for byte with the committed files; only
    // markdown is worth a reviewer's snapshot diff.
    tables.retain(|t| t.ends_with(".md"));
    let mut files = list_files(out_dir)?;
    files.push(PROVENANCE_FILE.into());
    files.sort();
    let prov = Provenance::new(recipe, resolver, command, files.clone());
    write_file(out_dir, PROVENANCE_FILE, to_json_pretty(&prov)?)?;
    Ok(Reproduced { tables, files })
}

/// Replaces `dest` by the finished folder `staging` (both on one file system), so an
/// interrupted run never leaves a half-written results folder behind.
pub fn publish(staging: &Path, dest: &Path) -> Result<()> {
    if !staging.is_dir() {
        bail!("{} is not a finished results folder", staging.display());
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest).with_context(|| format!("replacing {}", dest.display()))?;
    }
    std::fs::rename(staging, dest)
        .with_context(|| format!("moving {} to {}", staging.display(), dest.display()))
}

/// Relative paths (with `/`) of all files under `dir`, sorted.
pub fn list_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under dir");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lmrepro_data::testing;

    /// Writes one table, its CSV twin and a timings file; fails when asked to.
    struct Fake {
        fail: bool,
    }

    impl Reproducer for Fake {
        fn kind(&self) -> &'static str {
            "fake"
        }

        fn machine_dependent_files(&self) -> &'static [&'static str] {
            &["timings.json"]
        }

        fn reproduce(
            &self,
            _: &Recipe,
            _: &Resolver,
            out: &Path,
            _: &RunOptions,
        ) -> Result<Vec<String>> {
            write_file(out, "t.md", "| a |\n")?;
            write_file(out, "t.csv", "a\n")?;
            write_file(&out.join("sub"), "timings.json", "{}\n")?;
            if self.fail {
                bail!("stage 3 failed");
            }
            Ok(vec!["t.md".into(), "t.csv".into()])
        }
    }

    fn recipe() -> Recipe {
        // Any committed recipe: only its name and inputs reach provenance.json.
        testing::recipe("dclm-heuristics")
    }

    fn run(fail: bool, out: &Path) -> Result<Reproduced> {
        reproduce_into(
            &Fake { fail },
            &recipe(),
            &testing::resolver(),
            out,
            "test",
            &RunOptions::default(),
        )
    }

    #[test]
    fn reproduce_into_writes_provenance_and_lists_markdown_tables() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("r");
        let done = run(false, &out).unwrap();
        assert_eq!(done.tables, vec!["t.md"]);
        assert_eq!(
            done.files,
            vec!["provenance.json", "sub/timings.json", "t.csv", "t.md"]
        );
        assert!(out.join(PROVENANCE_FILE).is_file());
        // A second run into the same, now non-empty, folder is refused.
        let again = run(false, &out);
        assert!(format!("{:#}", again.unwrap_err()).contains("is not empty"));
    }

    #[test]
    fn single_scale_reproducers_refuse_a_scale() {
        let opts = RunOptions {
            scale: Some("7b-2x".into()),
            dry_run: false,
        };
        let err = check_options(&Fake { fail: false }, &recipe(), &opts).unwrap_err();
        assert!(err.to_string().contains("single scale"), "{err}");
    }

    #[test]
    fn publish_replaces_the_destination_only_with_a_finished_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("results");
        write_file(&dest, "old.md", "old").unwrap();
        // A failed run leaves its staging folder unpublished: the old results stay.
        let staging = tmp.path().join("results.partial");
        let failed = run(true, &staging);
        assert!(format!("{:#}", failed.unwrap_err()).contains("stage 3 failed"));
        assert!(dest.join("old.md").is_file());
        std::fs::remove_dir_all(&staging).unwrap();
        assert!(publish(&staging, &dest).is_err(), "nothing to publish");
        assert!(dest.join("old.md").is_file());
        write_file(&staging, "new.md", "new").unwrap();
        publish(&staging, &dest).unwrap();
        assert_eq!(list_files(&dest).unwrap(), vec!["new.md"]);
        assert!(!staging.exists());
    }
}
