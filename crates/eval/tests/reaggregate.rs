//! The 12 released DCLM eval JSONs re-aggregate to their stored Core/Extended v1 and v2.
use lmrepro_data::testing;
use lmrepro_eval::reproduce::reaggregate;

#[test]
fn released_eval_jsons_reaggregate_exactly() {
    let recipe = testing::recipe("dclm-eval");
    let r = reaggregate(&recipe, &testing::resolver()).unwrap();
    assert_eq!(r.checks.len(), 48, "12 files x 4 keys");
    for c in &r.checks {
        assert!(c.stored.is_some(), "{} {}: no stored value", c.file, c.key);
        assert!(
            c.exact,
            "{} {}: stored {:?} recomputed {:?}",
            c.file, c.key, c.stored, c.recomputed
        );
    }
    // The example: DCLM 400M-1x baseline.
    let dclm: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.run == "cc_v4_resiliparse_rw_v2_bff_minngram20_10shards_shard3_OH_eli5_vs_rw_v2_bigram_200k_train_0.1")
        .collect();
    let get = |k: &str| {
        dclm.iter()
            .find(|c| c.key == k)
            .unwrap()
            .recomputed
            .unwrap()
    };
    assert_eq!(format!("{:.6}", get("Core_v2")), "0.151555");
    assert_eq!(format!("{:.6}", get("Extended_v2")), "0.072332");
}

#[test]
fn reproduce_writes_the_tables() {
    let recipe = testing::recipe("dclm-eval");
    let dir = tempfile::tempdir().unwrap();
    let files = lmrepro_eval::reproduce(&recipe, &testing::resolver(), dir.path()).unwrap();
    assert_eq!(
        files,
        vec!["reaggregation.md", "reaggregation.csv", "categories_v2.md"]
    );
    let md = std::fs::read_to_string(dir.path().join("reaggregation.md")).unwrap();
    assert!(
        md.contains("48/48 stored values reproduced bit-for-bit"),
        "{md}"
    );
    assert_eq!(md.matches("| yes |").count(), 12, "{md}");
    // Byte-deterministic.
    let dir2 = tempfile::tempdir().unwrap();
    lmrepro_eval::reproduce(&recipe, &testing::resolver(), dir2.path()).unwrap();
    for f in files {
        assert_eq!(
            std::fs::read(dir.path().join(&f)).unwrap(),
            std::fs::read(dir2.path().join(&f)).unwrap(),
            "{f}"
        );
    }
}
