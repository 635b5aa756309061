//! Snapshot tests of every committed results table, one test per recipe (a failure in one recipe
//! never hides another's).
//!
//! Each recipe is regenerated into a temporary directory through the same code path as
//! `cargo xtask reproduce`, then
//! 1. every markdown table is pinned with insta (`tests/snapshots/`), so a change that moves a
//!    number shows up as a reviewable snapshot diff (`cargo insta review`); CSV/JSON twins are not
//!    snapshotted (unreadable as diffs) but are covered by 2;
//! 2. every regenerated file except the machine-dependent ones (`provenance.json`, timings) must
//!    equal the committed file byte for byte, so `results/` can never silently go stale;
//! 3. a second run must be byte-identical to the first.
//!
//! Recipes whose full run is too slow for the test suite set `snapshot_in_tests = false` in
//! `[params]` and are covered by their crate's own tests instead.

use lmrepro_data::testing;
use lmrepro_report::RunOptions;

fn check_recipe(name: &str) {
    let recipe = testing::recipe(name);
    let committed = lmrepro_data::workspace_root().join("results").join(name);
    assert!(
        committed.is_dir(),
        "results/{name}/ is not committed; run `cargo xtask reproduce {name}`"
    );
    let volatile = lmrepro_cli::machine_dependent_files(&recipe).unwrap();
    let tolerant = lmrepro_cli::cross_cpu_tolerant_files(&recipe).unwrap();
    let opts = RunOptions::default();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join(name);
    let done = lmrepro_cli::reproduce_into(&recipe, &testing::resolver(), &out, "test", &opts)
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
        if volatile.contains(&file.as_str()) {
            continue;
        }
        let fresh = std::fs::read(out.join(file)).unwrap();
        let old = std::fs::read(committed.join(file)).unwrap();
        if tolerant.contains(&file.as_str()) && fresh != old {
            // Numbers from CPU training: the cross-CPU contract (docs/reliability.md §5).
            let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
            let slack = u64::from(file.ends_with(".svg"));
            lmrepro_report::contract::compare_text(&text(old), &text(fresh), slack)
                .unwrap_or_else(|e| panic!("results/{name}/{file}: {e:#}"));
            continue;
        }
        assert!(
            fresh == old,
            "results/{name}/{file} differs from a fresh run; run `cargo xtask reproduce {name}` \
             and review the snapshot diff"
        );
    }
    let second = tmp.path().join("again");
    lmrepro_cli::reproduce_into(&recipe, &testing::resolver(), &second, "test", &opts).unwrap();
    for file in &done.files {
        if !volatile.contains(&file.as_str()) {
            assert_eq!(
                std::fs::read(out.join(file)).unwrap(),
                std::fs::read(second.join(file)).unwrap(),
                "{name}/{file} is not deterministic"
            );
        }
    }
}

/// Whether a recipe's full run belongs in the test suite (`snapshot_in_tests`, default true).
fn in_tests(name: &str) -> bool {
    testing::recipe(name)
        .params
        .get("snapshot_in_tests")
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
}

macro_rules! recipe_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check_recipe($name);
            }
        )*

        /// The recipes with a test above.
        const TESTED: &[&str] = &[$($name),*];
    };
}

recipe_tests! {
    aiw => "aiw",
    bloom => "bloom",
    bigbio => "bigbio",
    chinchilla_approach3 => "chinchilla-approach3",
    crawl_extraction => "crawl-extraction",
    dclm_eval => "dclm-eval",
    dclm_heuristics => "dclm-heuristics",
    musicldm => "musicldm",
    dclm_results => "dclm-results",
    scaling_overtraining => "scaling-overtraining",
}

/// A new recipe cannot be forgotten: every recipe in `recipes/` has a test above, unless it says
/// `snapshot_in_tests = false` (and then it must not have one).
#[test]
fn every_recipe_is_tested_or_opted_out() {
    for name in lmrepro_data::Recipe::list().unwrap() {
        assert_eq!(
            TESTED.contains(&name.as_str()),
            in_tests(&name),
            "recipe `{name}`: add it to recipe_tests! in tests/results.rs, or set \
             snapshot_in_tests = false and test it in its crate"
        );
    }
}
