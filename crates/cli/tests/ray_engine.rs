//! The Ray engine (docs/scale-out.md) against the local engine, on a multi-node Ray cluster on
//! this machine: `ray.cluster_utils.Cluster` with a CPU-less head and two one-CPU worker nodes,
//! every node, the GCS and the driver on 127.0.0.1 (asserted by the harness). The dclm-baseline
//! data stages of a reduced pool (the recipe with fewer Wikipedia articles and Gutenberg chunks)
//! run through `python/lmrepro_ray/driver.py` with one heuristics shard task killed mid-way (its
//! `lmrepro` process and its worker; Ray retries it) and, later, the worker node running a MinHash
//! signatures task removed (`Cluster.remove_node`; Ray retries the task on the node left); every
//! file of every stage folder must equal the local engine's byte for byte, under the same stage
//! names and keys. Every shard-addressable step runs as tasks: the pool per WARC, heuristics per
//! pool file, BFF per shard group, MinHash in its four steps, fastText scores per file. One
//! cluster start-up for both faults (CI budget).
//!
//! Needs `.venv-ray/` (`cargo xtask ray-setup`); without it the test prints a skip line, and fails
//! under `LMREPRO_REQUIRE_ALL=1`.

use lmrepro_stage::testing::tree;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python when it has `ray`.
fn ray_python() -> Result<PathBuf, String> {
    let python = root().join(".venv-ray/bin/python");
    let probe = Command::new(&python)
        .args(["-c", "import ray; print(ray.__version__)"])
        .output();
    match probe {
        Ok(o) if o.status.success() => Ok(python),
        _ => Err(format!(
            "skip: {} has no `ray` (run `cargo xtask ray-setup`); Ray engine not compared",
            python.display()
        )),
    }
}

/// The dclm-baseline recipe with a smaller pool (about 1,100 documents instead of 4,654), in `dir/recipes/` beside a link to the pinned
/// input sets (so the test takes seconds per engine, not a minute).
///
/// `bff_groups` > 1 writes `params.bff.shard_groups` (a recipe of its own, `dclm-bff-groups.toml`).
fn reduced_recipe(dir: &Path, bff_groups: usize) -> PathBuf {
    let recipes = dir.join("recipes");
    std::fs::create_dir_all(&recipes).unwrap();
    if !recipes.join("inputs").exists() {
        std::os::unix::fs::symlink(
            root().join("recipes/inputs").canonicalize().unwrap(),
            recipes.join("inputs"),
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(root().join("recipes/dclm-baseline.toml")).unwrap();
    let mut reduced = text.clone();
    for (from, to) in [
        ("wikipedia_articles = 3000", "wikipedia_articles = 100"),
        ("gutenberg_chunks = 400", "gutenberg_chunks = 20"),
        // The largest WARC (1,006 pages); the other five stay.
        ("    \"crawl/trafilatura-testpages.warc.gz\",\n", ""),
    ] {
        assert!(reduced.contains(from), "recipe lacks `{from}`");
        reduced = reduced.replace(from, to);
    }
    let mut name = "dclm-baseline.toml";
    if bff_groups > 1 {
        let (from, to) = (
            "seed = 0\n",
            format!("seed = 0\nshard_groups = {bff_groups}\n"),
        );
        assert!(reduced.contains("[params.bff]"));
        let at = reduced.find("[params.bff]").unwrap();
        let end = at + reduced[at..].find(from).expect("params.bff has a seed") + from.len();
        reduced.replace_range(at..end, &reduced[at..end].replace(from, &to));
        name = "dclm-bff-groups.toml";
    }
    let path = recipes.join(name);
    std::fs::write(&path, reduced).unwrap();
    path
}

fn lmrepro(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_lmrepro"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lmrepro {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ray_cluster_output_is_byte_identical_to_the_local_engine() {
    let python = match ray_python() {
        Ok(p) => p,
        Err(why) => {
            if std::env::var_os("LMREPRO_REQUIRE_ALL").is_some_and(|v| v == "1") {
                panic!("{why} (LMREPRO_REQUIRE_ALL=1)");
            }
            eprintln!("{why}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let recipe = reduced_recipe(tmp.path(), 1);
    let recipe = recipe.to_str().unwrap();
    // The same recipe with two BFF shard groups, run afterwards on the same caches (only its
    // dedup-bff stage is new) up to dedup: two BFF tasks on Ray, the same bytes as the local
    // engine's two groups.
    let groups = reduced_recipe(tmp.path(), 2);
    let groups = groups.to_str().unwrap();
    let (local, ray) = (tmp.path().join("local"), tmp.path().join("ray"));

    // Local engine.
    let started = std::time::Instant::now();
    let l = lmrepro(&[
        "dclm",
        "stages",
        "--recipe",
        recipe,
        "--cache",
        local.to_str().unwrap(),
        "--until",
        "tokenize",
    ]);
    let local_seconds = started.elapsed().as_secs_f64();
    let lg = lmrepro(&[
        "dclm",
        "stages",
        "--recipe",
        groups,
        "--cache",
        local.to_str().unwrap(),
        "--until",
        "dedup",
    ]);

    // Ray engine on a 3-node cluster, the largest heuristics shard killed on its first attempt.
    let chaos = tmp.path().join("chaos");
    std::fs::create_dir_all(&chaos).unwrap();
    let summary = tmp.path().join("summary.json");
    let started = std::time::Instant::now();
    let out = Command::new(&python)
        .args([
            "-m",
            "lmrepro_ray.cluster_check",
            "--workers",
            "2",
            "--lmrepro",
        ])
        .arg(env!("CARGO_BIN_EXE_lmrepro"))
        .args(["--recipe", recipe, "--until", "tokenize", "--cache"])
        .arg(&ray)
        .arg("--summary")
        .arg(&summary)
        .args([
            "--chaos-shard",
            "00-crawl_scrapinghub-aeb_warc_gz",
            "--chaos-delay",
            "0.05",
        ])
        .args(["--chaos-remove-node", "minhash-signatures:00002"])
        .args(["--then-recipe", groups, "--then-until", "dedup"])
        .arg("--chaos-dir")
        .arg(&chaos)
        .env("PYTHONPATH", root().join("python"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ray cluster run failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ray_seconds = started.elapsed().as_secs_f64();
    let s: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    eprintln!(
        "local engine {local_seconds:.1} s; ray engine {ray_seconds:.1} s (cluster start {:.1} s)",
        s["cluster_start_seconds"].as_f64().unwrap()
    );
    // Where the Ray side's time goes (for the docs; the lead re-measures idle).
    for st in s["steps"].as_array().unwrap() {
        eprintln!(
            "  {:<34} {:>7.1} s wall, {:>7.1} s in lmrepro",
            st["step"].as_str().unwrap(),
            st["wall_seconds"].as_f64().unwrap(),
            st["lmrepro_seconds"].as_f64().unwrap()
        );
        for t in st["stages"].as_array().into_iter().flatten() {
            if t["cached"] == false {
                eprintln!(
                    "      {:<30} {:>7.1} s",
                    t["stage"].as_str().unwrap(),
                    t["seconds"].as_f64().unwrap()
                );
            }
        }
    }
    assert_eq!(s["nodes"], 3);
    assert_eq!(s["node_addresses"], serde_json::json!(["127.0.0.1"]));

    // The killed shard was killed while it ran, then retried to completion: no shard lost or
    // run twice to completion, every pool file a heuristics shard.
    let killed: Value = serde_json::from_slice(
        &std::fs::read(chaos.join("00-crawl_scrapinghub-aeb_warc_gz.killed")).unwrap(),
    )
    .unwrap();
    assert_eq!(killed["killed_while_running"], true, "{killed}");
    let shards = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["step"] == "heuristics shards")
        .unwrap();
    assert_eq!(shards["ran"], shards["shards"]);
    assert_eq!(shards["skipped_done"], 0);

    // The node running MinHash signatures shard 00002 was removed while its task ran; the task
    // was retried on the node left. Every MinHash step ran each of its shards once (a retry that
    // found its shard finished by the lost node's orphaned process counts as `found_done`).
    let removed: Value = serde_json::from_slice(
        &std::fs::read(chaos.join("minhash-signatures-00002.started.removed")).unwrap(),
    )
    .unwrap();
    assert_eq!(removed["workers_left"], 1, "{removed}");
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{}-{}",
                    t["stage"].as_str().unwrap(),
                    t["key"].as_str().unwrap()
                )
            })
            .collect()
    };
    let step = |name: &str| {
        s["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["step"] == name)
            .unwrap_or_else(|| panic!("no step `{name}`"))
            .clone()
    };
    for name in [
        "minhash-signatures",
        "minhash-buckets",
        "minhash-clusters",
        "minhash-filter",
    ] {
        let st = step(&format!("{name} shards"));
        assert_eq!(st["ran"], st["shards"], "{st}");
        assert_eq!(st["skipped_done"], 0, "{st}");
    }
    assert_eq!(
        step("minhash-signatures shards")["shards"],
        shards["shards"]
    );
    // The other shard-addressable steps: the pool one task per WARC (five in the reduced
    // recipe), BFF one task per shard group (one: DCLM-Baseline's single filter), fastText
    // scoring one task per file of each top-fraction stage; each shard ran once.
    for (name, n) in [
        ("pool shards", Some(5)),
        ("bff shards", Some(1)),
        ("fasttext-scores shards", None),
    ] {
        let st = step(name);
        assert_eq!(st["ran"], st["shards"], "{st}");
        assert_eq!(st["skipped_done"], 0, "{st}");
        assert_eq!(st["found_done"], 0, "{st}");
        match n {
            Some(n) => assert_eq!(st["shards"], n, "{st}"),
            None => assert!(st["shards"].as_u64().unwrap() >= 2, "{st}"),
        }
    }
    eprintln!("node removal: {removed}");

    // Tokenize + shuffle as shard tasks: one per input file of each of the 7 token stages (6
    // variants + held-out), then the cells round by round (128 cells: 8 groups of 16 in round 0,
    // the 8 overflow cells, the last cell), each shard once.
    let files = step("tokenize-files shards");
    assert_eq!(files["ran"], files["shards"], "{files}");
    assert_eq!(files["found_done"], 0, "{files}");
    assert!(files["shards"].as_u64().unwrap() >= 7, "{files}");
    let cells = step("tokenize-cells shards");
    assert_eq!(cells["shards"], 7 * (8 + 1 + 1), "{cells}");
    assert_eq!(cells["ran"], cells["shards"], "{cells}");
    assert_eq!(cells["found_done"], 0, "{cells}");
    // Round 0 reads every context the files made exactly once.
    let round0: u64 = cells["per_shard"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["shard"].as_str().unwrap().contains(".r0."))
        .map(|x| x["contexts_in"].as_u64().unwrap())
        .sum();
    assert_eq!(files["contexts"], round0, "{cells}");

    // BFF with two shard groups: one task per group, another stage key than one group's.
    let then = &s["then"];
    let bff2 = then["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["step"] == "bff shards")
        .unwrap();
    assert_eq!(bff2["shards"], 2, "{bff2}");
    assert_eq!(bff2["ran"], 2, "{bff2}");
    assert_ne!(bff2["key"], step("bff shards")["key"]);
    let then_last = then["steps"].as_array().unwrap().last().unwrap();
    assert_eq!(names(&lg["stages"]), names(&then_last["stages"]));

    // Same stages under the same keys, and the same bytes in every file.
    let ray_last = s["steps"].as_array().unwrap().last().unwrap();
    assert_eq!(names(&l["stages"]), names(&ray_last["stages"]));
    let (a, b) = (tree(&local), tree(&ray));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "different files"
    );
    for (f, bytes) in &a {
        assert!(bytes == &b[f], "{f} differs between the engines");
    }
    assert!(a.keys().any(|f| f.starts_with("heuristics-")));
    assert!(a
        .keys()
        .any(|f| f.starts_with("dedup-minhash-") && f.contains("/_state/clusters/")));
    assert!(
        !a.keys()
            .any(|f| f.contains(".shards/") || f.contains("/_state/stage1/")),
        "work folder left behind"
    );
    // Two BFF stages (one group; two groups, each in its own folder), seven token stages.
    let bff_stages: std::collections::BTreeSet<&str> = a
        .keys()
        .filter(|f| f.starts_with("dedup-bff-"))
        .map(|f| f.split('/').next().unwrap())
        .collect();
    assert_eq!(bff_stages.len(), 2, "{bff_stages:?}");
    assert!(a.keys().any(|f| f.contains("/docs/group-0001/")));
    let token_stages: Vec<&String> = a
        .keys()
        .filter(|f| f.starts_with("tokenize-") && f.ends_with("/tokens/manifest.jsonl"))
        .collect();
    assert_eq!(token_stages.len(), 7, "{token_stages:?}");

    // A rerun would skip every shard: the finished stage vouches for them all.
    let again = lmrepro(&[
        "dclm",
        "shards",
        "heuristics",
        "--recipe",
        recipe,
        "--cache",
        ray.to_str().unwrap(),
    ]);
    assert_eq!(again["finished"], true);
    let listed = again["shards"].as_array().unwrap();
    assert_eq!(listed.len() as u64, shards["shards"].as_u64().unwrap());
    assert!(listed.iter().all(|x| x["done"] == true));
}
