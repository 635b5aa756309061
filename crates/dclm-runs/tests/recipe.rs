//! The dclm-results recipe on the pinned files: every printed leaderboard row of "Models we
//! trained" is accounted for, and the runs found agree with what DCLM printed.

use lmrepro_data::testing;
use lmrepro_dclm_runs::results::{self, leaderboard, runs_of, scale_table, Params, Status};

#[test]
fn every_printed_row_is_matched_or_explained() {
    let recipe = testing::recipe("dclm-results");
    let p: Params = recipe.params().unwrap();
    let (db, _) = results::load(&recipe, &testing::resolver(), &p).unwrap();
    let readme =
        std::fs::read_to_string(recipe.resolve(&testing::resolver(), &p.readme).unwrap()).unwrap();
    let runs = runs_of(&db.runs).unwrap();
    let rows = leaderboard(&runs, &readme, &p.leaderboard).unwrap();
    let labels: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {} {}", r.model, r.params, r.tokens))
        .collect();
    assert_eq!(
        labels,
        [
            "FineWeb edu 7B 0.14T",
            "FineWeb edu 7B 0.28T",
            "DCLM-BASELINE 7B 0.14T",
            "DCLM-BASELINE 7B 0.28T",
            "DCLM-BASELINE 7B 2.6T"
        ]
    );
    for r in &rows {
        assert_eq!(r.cells.len(), p.leaderboard.columns.len());
        assert!(
            !r.matching.is_empty() || r.reason.is_some(),
            "{} {}: neither matched nor explained",
            r.model,
            r.tokens
        );
    }
    // The two shorter DCLM-Baseline runs agree in all five cells (v2 aggregated from the
    // per-task columns); FineWeb-edu has no 7B run and 2.6T no run at all.
    for r in &rows[2..4] {
        assert!(!r.matching.is_empty(), "{}", r.tokens);
        assert!(
            r.cells.iter().all(|c| c.status == Status::Matched),
            "{:?}",
            r.cells
        );
    }
    for r in [&rows[0], &rows[1], &rows[4]] {
        assert!(r.candidates.is_empty());
        assert!(r.cells.iter().all(|c| c.status == Status::Missing));
    }
    assert!(
        rows[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("1 runs of these datasets, at 1b-1x (1B / 2.88e10)"),
        "{:?}",
        rows[0].reason
    );
    // The database's own aggregates are what DCLM's aggregation of its per-task columns gives.
    let rc = db.recomputed.clone().unwrap();
    assert_eq!(rc.extended_equal, rc.extended_compared);
    assert!(rc.extended_compared > 100);

    let scales = scale_table(&runs, &readme, &p.scale_table).unwrap();
    let names: Vec<&str> = scales.iter().map(|s| s.scale.as_str()).collect();
    assert_eq!(names, ["400M-1x", "1B-1x", "3B-1x", "7B-1x", "7B-2x"]);
    assert_eq!(scales[2].runs, 0, "no 3B run in the database");
}
