//! Snapshot tests of every committed results table.
//!
//! For each recipe with a committed `results/<recipe>/`, the recipe is regenerated into a temporary
//! directory through the same code path as `cargo xtask reproduce`, then
//! 1. every markdown table is pinned with insta (`tests/snapshots/`), so a change that moves a
//!    number shows up as a reviewable snapshot diff (`cargo insta review`);
//! 2. every regenerated file except `provenance.json` must equal the committed file byte for byte,
//!    so `results/` can never silently go stale.
//!
//! Recipes whose full run is too slow for the test suite set `snapshot_in_tests = false` in
//! `[params]` and are covered by their crate's own tests instead.

use lmrepro_data::testing;

fn check_recipe(name: &str) {
    let recipe = testing::recipe(name);
    let committed = lmrepro_data::workspace_root().join("results").join(name);
    assert!(
        committed.is_dir(),
        "results/{name}/ is not committed; run `cargo xtask reproduce {name}`"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join(name);
    let done = lmrepro_cli::reproduce_into(&recipe, &testing::resolver(), &out, "test")
        .unwrap_or_else(|e| panic!("reproducing {name}: {e:#}"));
    assert!(!done.tables.is_empty(), "{name} produced no tables");
    for table in &done.tables {
        let text = std::fs::read_to_string(out.join(table)).unwrap();
        let snap = format!("{name}__{}", table.trim_end_matches(".md"));
        insta::assert_snapshot!(snap, text);
    }
    let committed_files = lmrepro_cli::list_files(&committed).unwrap();
    assert_eq!(
        committed_files, done.files,
        "results/{name}/ lists other files than a fresh run; run `cargo xtask reproduce {name}`"
    );
    for file in &done.files {
        if lmrepro_cli::VOLATILE_FILES.contains(&file.as_str()) {
            continue;
        }
        let fresh = std::fs::read(out.join(file)).unwrap();
        let old = std::fs::read(committed.join(file)).unwrap();
        assert!(
            fresh == old,
            "results/{name}/{file} differs from a fresh run; run `cargo xtask reproduce {name}` \
             and review the snapshot diff"
        );
    }
    let second = tmp.path().join("again");
    lmrepro_cli::reproduce_into(&recipe, &testing::resolver(), &second, "test").unwrap();
    for file in &done.files {
        if !lmrepro_cli::VOLATILE_FILES.contains(&file.as_str()) {
            assert_eq!(
                std::fs::read(out.join(file)).unwrap(),
                std::fs::read(second.join(file)).unwrap(),
                "{name}/{file} is not deterministic"
            );
        }
    }
}

/// Every recipe in `recipes/` must have committed results that a fresh run reproduces.
#[test]
fn every_recipe_reproduces_its_committed_results() {
    let names = lmrepro_data::Recipe::list().unwrap();
    assert!(!names.is_empty());
    let mut checked = Vec::new();
    // LMREPRO_TEST_RECIPES=a,b narrows the run while iterating locally; CI never sets it.
    let only: Option<Vec<String>> = std::env::var("LMREPRO_TEST_RECIPES")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    for name in names {
        if only.as_ref().is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let recipe = testing::recipe(&name);
        let in_tests = recipe
            .params
            .get("snapshot_in_tests")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if in_tests {
            check_recipe(&name);
            checked.push(name);
        }
    }
    assert!(!checked.is_empty(), "no recipe was checked");
}
