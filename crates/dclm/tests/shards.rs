//! The shard-addressable stages (`lmrepro dclm shards|shard|stages`: pool WARCs, heuristics,
//! BFF groups, MinHash steps, fastText scores), as a scheduler drives them: errors name what is
//! missing, a finished shard is not redone, a marker without its output is, and every stage built
//! from shards run one by one equals the one-call local engine's.

use lmrepro_dclm::cli::{run_json, At, Command, Sharded};
use lmrepro_dclm::Until;
use lmrepro_stage::testing::tree;
use serde_json::Value;
use std::path::Path;

fn at(cache: &Path) -> At {
    At {
        recipe: "dclm-baseline".into(),
        scale: None,
        cache: Some(cache.to_path_buf()),
    }
}

fn go(cmd: Command) -> anyhow::Result<Value> {
    run_json(cmd, lmrepro_data::testing::resolver())
}

fn stages(cache: &Path, until: Until) -> Value {
    go(Command::Stages {
        at: at(cache),
        until,
    })
    .unwrap()
}

fn shard(cache: &Path, name: &str) -> anyhow::Result<Value> {
    go(Command::Shard {
        stage: Sharded::Heuristics,
        shard: name.into(),
        at: at(cache),
    })
}

fn listing(cache: &Path) -> Value {
    go(Command::Shards {
        stage: Sharded::Heuristics,
        at: at(cache),
    })
    .unwrap()
}

fn step(cache: &Path, stage: Sharded, name: &str) -> anyhow::Result<Value> {
    go(Command::Shard {
        stage,
        shard: name.into(),
        at: at(cache),
    })
}

/// A MinHash step's shard names.
fn step_shards(cache: &Path, stage: Sharded) -> Vec<String> {
    let l = go(Command::Shards {
        stage,
        at: at(cache),
    })
    .unwrap();
    l["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn heuristics_shards_resume_and_equal_the_local_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let (sharded, local) = (tmp.path().join("sharded"), tmp.path().join("local"));

    // No pool yet: a shard task must not build it.
    let err = format!("{:#}", shard(&sharded, "x").unwrap_err());
    assert!(
        err.contains("pool stage") && err.contains("--until pool"),
        "{err}"
    );

    pool_shards_equal_the_local_engine(&sharded, &local);
    let err = format!("{:#}", shard(&sharded, "nope").unwrap_err());
    assert!(
        err.contains("no heuristics shard `nope`") && err.contains("00-"),
        "{err}"
    );

    let l = listing(&sharded);
    let names: Vec<String> = l["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 10);
    assert_eq!(l["finished"], false);
    let work = Path::new(l["work_dir"].as_str().unwrap()).to_path_buf();

    // Every shard by itself; a second call skips a done shard and returns the same counts.
    for n in &names {
        let first = shard(&sharded, n).unwrap();
        assert!(first.get("skipped").is_none());
        let again = shard(&sharded, n).unwrap();
        assert_eq!(again["skipped"], "shard done");
        assert_eq!(again["docs_out"], first["docs_out"]);
    }
    // A marker whose output is gone (a finish interrupted after moving it) is not trusted.
    let victim = work.join(format!("{}.jsonl", names[1]));
    let kept = std::fs::read(&victim).unwrap();
    std::fs::remove_file(&victim).unwrap();
    assert_eq!(listing(&sharded)["shards"][1]["done"], false);
    assert!(shard(&sharded, &names[1]).unwrap().get("skipped").is_none());
    assert_eq!(std::fs::read(&victim).unwrap(), kept);

    // Finishing moves the shards into the stage folder: byte-identical to the local engine's.
    let s = stages(&sharded, Until::Heuristics);
    let l2 = stages(&local, Until::Heuristics);
    assert_eq!(s["stages"][1]["key"], l2["stages"][1]["key"]);
    assert!(!work.exists(), "work folder left behind");
    let dir = |root: &Path| root.join(format!("heuristics-{}", l["key"].as_str().unwrap()));
    let files = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    assert_eq!(files(&dir(&sharded)), files(&dir(&local)));
    for f in files(&dir(&local)) {
        assert!(
            std::fs::read(dir(&sharded).join(&f)).unwrap()
                == std::fs::read(dir(&local).join(&f)).unwrap(),
            "{f:?} differs"
        );
    }
    // Afterwards every shard reads as done and a shard call does nothing.
    let after = listing(&sharded);
    assert_eq!(after["finished"], true);
    assert!(after["shards"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["done"] == true));
    assert_eq!(
        shard(&sharded, &names[0]).unwrap()["skipped"],
        "stage finished"
    );

    bff_groups_run_as_shards(&sharded);
    minhash_steps_equal_the_local_engine(&sharded, &local);
    let bff = |root: &Path| {
        let d = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("dedup-bff-")
            })
            .unwrap();
        tree(&d)
    };
    let (a, b) = (bff(&sharded), bff(&local));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(a.contains_key("docs/stats.json"));
    for (f, bytes) in &a {
        assert!(bytes == &b[f], "dedup-bff {f} differs");
    }
    fasttext_scores_equal_the_local_engine(&sharded, &local);
}

/// Every file of the stage folders named `<prefix>-*` under `root`, by path below `root`.
fn stage_trees(root: &Path, prefix: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with(prefix) {
            for (f, bytes) in tree(&p) {
                out.insert(format!("{name}/{f}"), bytes);
            }
        }
    }
    out
}

/// The pool's WARC shards run one by one, then `stages --until pool`: the pool folder equals the
/// local engine's (which builds it in one call).
fn pool_shards_equal_the_local_engine(sharded: &Path, local: &Path) {
    let names = step_shards(sharded, Sharded::Pool);
    assert_eq!(names.len(), 6, "one shard per WARC: {names:?}");
    let err = format!("{:#}", step(sharded, Sharded::Pool, "99-x").unwrap_err());
    assert!(
        err.contains("no pool shard `99-x`") && err.contains(&names[0]),
        "{err}"
    );
    for n in &names {
        let first = step(sharded, Sharded::Pool, n).unwrap();
        assert!(first.get("skipped").is_none(), "{first}");
        assert!(first["docs_out"].as_u64().unwrap() > 0, "{first}");
        let again = step(sharded, Sharded::Pool, n).unwrap();
        assert_eq!(again["skipped"], "shard done");
        assert_eq!(again["docs_out"], first["docs_out"]);
    }
    stages(sharded, Until::Pool);
    stages(local, Until::Pool);
    let (a, b) = (stage_trees(sharded, "pool-"), stage_trees(local, "pool-"));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(
        !a.keys().any(|k| k.contains(".shards/")),
        "work folder left"
    );
    for (f, bytes) in &a {
        assert!(bytes == &b[f], "{f} differs");
    }
    assert_eq!(
        step(sharded, Sharded::Pool, &names[0]).unwrap()["skipped"],
        "stage finished"
    );
}

/// BFF's shard groups (one by default: DCLM-Baseline's single filter) as shards.
fn bff_groups_run_as_shards(sharded: &Path) {
    assert_eq!(step_shards(sharded, Sharded::Bff), vec!["0000"]);
    let err = format!("{:#}", step(sharded, Sharded::Bff, "0001").unwrap_err());
    assert!(err.contains("no BFF shard group `0001`"), "{err}");
    let first = step(sharded, Sharded::Bff, "0000").unwrap();
    assert!(first["docs_in"].as_u64().unwrap() > first["docs_out"].as_u64().unwrap());
    let again = step(sharded, Sharded::Bff, "0000").unwrap();
    assert_eq!(again["skipped"], "shard done");
    assert_eq!(again["docs_out"], first["docs_out"]);
}

/// The tokenize steps as shards (their output against the local engine's is the Ray test's): a
/// file shard is not redone, a round before the one it reads fails by name, names are checked.
/// On the held-out set (one small file) to keep it cheap.
fn tokenize_steps_refuse_and_resume(sharded: &Path) {
    let files = step_shards(sharded, Sharded::TokenizeFiles);
    assert!(files.contains(&"heldout.00000000".to_string()), "{files:?}");
    assert!(
        files.iter().any(|n| n.starts_with("dclm-baseline.")),
        "{files:?}"
    );
    let cells = step_shards(sharded, Sharded::TokenizeCells);
    let held: Vec<&String> = cells.iter().filter(|n| n.starts_with("heldout.")).collect();
    assert_eq!(
        held,
        (0..8)
            .map(|g| format!("heldout.r0.c{:05}-{:05}", g * 16, g * 16 + 15))
            .chain([
                "heldout.r1.c00000-00007".into(),
                "heldout.r2.c00000-00000".into()
            ])
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>()
    );
    let err = format!(
        "{:#}",
        step(sharded, Sharded::TokenizeFiles, "nope.00000000").unwrap_err()
    );
    assert!(
        err.contains("heldout") && err.contains("dclm-baseline"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        step(sharded, Sharded::TokenizeFiles, "heldout.7").unwrap_err()
    );
    assert!(err.contains("FFFFFFFF"), "{err}");
    let err = format!(
        "{:#}",
        step(sharded, Sharded::TokenizeCells, "heldout.r0.c00000").unwrap_err()
    );
    assert!(
        err.contains("file 00000000") && err.contains("not done"),
        "{err}"
    );
    let first = step(sharded, Sharded::TokenizeFiles, "heldout.00000000").unwrap();
    assert!(first.get("skipped").is_none(), "{first}");
    assert!(first["contexts"].as_u64().unwrap() > 0, "{first}");
    let again = step(sharded, Sharded::TokenizeFiles, "heldout.00000000").unwrap();
    assert_eq!(again["skipped"], "shard done");
    assert_eq!(again["contexts"], first["contexts"]);
    let err = format!(
        "{:#}",
        step(sharded, Sharded::TokenizeCells, "heldout.r1.c00000-00007").unwrap_err()
    );
    assert!(err.contains("round 0 cell 00000"), "{err}");
    let err = format!(
        "{:#}",
        step(sharded, Sharded::TokenizeCells, "heldout.r0.x1").unwrap_err()
    );
    assert!(err.contains("rR.cAAAAA"), "{err}");
    let r0 = step(sharded, Sharded::TokenizeCells, "heldout.r0.c00000-00127").unwrap();
    assert_eq!(r0["contexts_in"], first["contexts"], "{r0}");
}

/// fastText scoring one file per shard, then the global threshold: the top-fraction stages equal
/// the local engine's.
fn fasttext_scores_equal_the_local_engine(sharded: &Path, local: &Path) {
    let err = format!(
        "{:#}",
        go(Command::Shards {
            stage: Sharded::FasttextScores,
            at: at(sharded),
        })
        .unwrap_err()
    );
    assert!(err.contains("--until classifier"), "{err}");
    stages(sharded, Until::Classifier);
    let names = step_shards(sharded, Sharded::FasttextScores);
    assert!(
        names.iter().any(|n| n.starts_with("top10-bff.")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("top20-bff.")),
        "{names:?}"
    );
    let err = format!(
        "{:#}",
        step(sharded, Sharded::FasttextScores, "top30-bff.x").unwrap_err()
    );
    assert!(err.contains("top10-bff"), "{err}");
    // Every third file scored as its own shard (each task loads the ~850 MB classifier, so not
    // all of them: CI time); the global step scores the rest with one load, so both paths meet.
    for n in names.iter().step_by(3) {
        let first = step(sharded, Sharded::FasttextScores, n).unwrap();
        assert!(first.get("skipped").is_none(), "{first}");
        let again = step(sharded, Sharded::FasttextScores, n).unwrap();
        assert_eq!(again["skipped"], "shard done");
    }
    let listed = go(Command::Shards {
        stage: Sharded::FasttextScores,
        at: at(sharded),
    })
    .unwrap();
    let done: Vec<bool> = listed["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["done"] == true)
        .collect();
    assert_eq!(
        done,
        (0..names.len()).map(|i| i % 3 == 0).collect::<Vec<_>>()
    );
    let err = format!(
        "{:#}",
        go(Command::Shards {
            stage: Sharded::TokenizeFiles,
            at: at(sharded),
        })
        .unwrap_err()
    );
    assert!(err.contains("--until quality"), "{err}");
    stages(sharded, Until::Quality);
    stages(local, Until::Quality);
    tokenize_steps_refuse_and_resume(sharded);
    let (a, b) = (
        stage_trees(sharded, "fasttext-top"),
        stage_trees(local, "fasttext-top"),
    );
    assert!(a.keys().any(|k| k.contains("/docs/")), "{:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(
        !a.keys().any(|k| k.contains(".shards/")),
        "work folder left"
    );
    for (f, bytes) in &a {
        assert!(bytes == &b[f], "{f} differs");
    }
}

/// The MinHash stage run step by step (datatrove's split) equals the local engine's one call.
fn minhash_steps_equal_the_local_engine(sharded: &Path, local: &Path) {
    // A later step refuses to run before the one it reads.
    let err = format!(
        "{:#}",
        step(sharded, Sharded::MinhashBuckets, "000").unwrap_err()
    );
    assert!(err.contains("need every signature shard"), "{err}");
    let filters = step_shards(sharded, Sharded::MinhashFilter);
    let err = format!(
        "{:#}",
        step(sharded, Sharded::MinhashFilter, &filters[0]).unwrap_err()
    );
    assert!(err.contains("needs the cluster merge"), "{err}");
    let err = format!(
        "{:#}",
        step(sharded, Sharded::MinhashSignatures, "10").unwrap_err()
    );
    assert!(err.contains("no minhash signatures shard `10`"), "{err}");

    let mut docs_in = 0;
    for stage in [
        Sharded::MinhashSignatures,
        Sharded::MinhashBuckets,
        Sharded::MinhashClusters,
        Sharded::MinhashFilter,
    ] {
        for n in step_shards(sharded, stage) {
            let out = step(sharded, stage, &n).unwrap();
            assert!(out.get("skipped").is_none(), "{out}");
            docs_in += out["docs_in"].as_u64().unwrap_or(0);
            // Retried after success: nothing redone.
            let again = step(sharded, stage, &n).unwrap();
            assert_eq!(again["skipped"], "shard done", "{again}");
        }
    }
    let s = stages(sharded, Until::Dedup);
    let l = stages(local, Until::Dedup);
    let dir = |v: &Value, root: &Path| {
        let t = v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["stage"] == "dedup-minhash")
            .unwrap()
            .clone();
        root.join(format!("dedup-minhash-{}", t["key"].as_str().unwrap()))
    };
    let (a, b) = (tree(&dir(&s, sharded)), tree(&dir(&l, local)));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(a.keys().any(|k| k.starts_with("docs/_state/clusters/")));
    assert!(!a
        .keys()
        .any(|k| k.rsplit('/').next().unwrap().starts_with('.')));
    for (f, bytes) in &a {
        assert!(bytes == &b[f], "{f} differs");
    }
    let stats: Value = serde_json::from_slice(&a["docs/stats.json"]).unwrap();
    assert_eq!(stats["minhash"]["docs_in"], docs_in);
    assert!(stats["minhash"]["docs_removed"].as_u64().unwrap() > 0);
    // The finished stage vouches for every step's shards.
    assert_eq!(
        step(sharded, Sharded::MinhashClusters, "all").unwrap()["skipped"],
        "stage finished"
    );
}
