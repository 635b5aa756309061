//! The dclm-baseline recipe on real mirror data.
//!
//! The full tiny run (12 trainings + evaluations, ~20 minutes on 2 cores) is too long for the
//! suite, so its committed results are checked piece by piece:
//! - the data stages (pool → heuristics → dedup → fastText → tokenize) are rerun in full and must
//!   give exactly the committed per-stage counts, under the stage keys the committed run recorded;
//! - a smoke scale (the tiny model and schedule, stopped after 3 steps, 3 tasks × 2 items) must
//!   reproduce the committed first training losses, redo only training after a seed change, and
//!   give byte-identical result files when run again;
//! - the competition-scale plans must equal DCLM's pinned figures.

use lmrepro_data::{testing, Recipe};
use lmrepro_dclm::{
    load_params, plan, published, run, write_results, DclmBaselineReproducer, Options,
};
use lmrepro_report::reproducer::Reproducer;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

fn recipe() -> Recipe {
    testing::recipe("dclm-baseline")
}

fn committed(file: &str) -> String {
    let p = lmrepro_data::workspace_root()
        .join("results/dclm-baseline")
        .join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `cargo xtask reproduce dclm-baseline`",
            p.display()
        )
    })
}

#[test]
fn competition_scales_match_dclm_files() {
    let r = recipe();
    let res = testing::resolver();
    let text = lmrepro_dclm::dry_run(&r, &res, "400m-1x").unwrap();
    for want in [
        "params       411,616,256",
        "tokens       8,232,325,120",
        "batch        512 x 2048 tokens",
        "26 H100 hours",
    ] {
        assert!(text.contains(want), "plan lacks `{want}`:\n{text}");
    }
    assert!(!text.contains("MISMATCH"));
    let p = load_params(&r).unwrap();
    let plans = plan::plans(&r, &res, &p).unwrap();
    let by: BTreeMap<&str, &plan::Plan> = plans.iter().map(|x| (x.scale.as_str(), x)).collect();
    assert_eq!(by["1b-1x"].params, 1_439_795_200);
    assert_eq!(by["7b-1x"].params, 6_889_410_560);
    assert_eq!(by["7b-2x"].tokens, 275_576_422_400);
    for pl in plans.iter().filter(|x| !x.runnable_here) {
        assert!(
            !pl.checks.is_empty(),
            "{} is checked against nothing",
            pl.scale
        );
    }
    // A recipe figure that disagrees with DCLM's file is an error naming the file.
    let mut bad = p.clone();
    bad.scales.get_mut("400m-1x").unwrap().tokens = Some(8_232_325_121);
    let err = format!("{:#}", plan::plans(&r, &res, &bad).unwrap_err());
    assert!(
        err.contains("tokens") && err.contains("hyperparameters"),
        "{err}"
    );
    // The tiny scale is the only runnable one; a competition scale refuses to run.
    let err = lmrepro_dclm::run(&r, &res, &p, "7b-2x", &Options::default())
        .err()
        .expect("7b-2x must not run here");
    assert!(format!("{err:#}").contains("--dry-run"));
    assert!(lmrepro_dclm::dry_run(&r, &res, "13b").is_err());
}

#[test]
fn reproducer_plans_the_default_scale_without_a_scale() {
    let r = recipe();
    let res = testing::resolver();
    let rep = DclmBaselineReproducer;
    assert_eq!(rep.kind(), r.kind);
    assert!(rep.multi_scale());
    assert_eq!(rep.machine_dependent_files(), &[lmrepro_dclm::TIMINGS_FILE]);
    let default_scale = load_params(&r).unwrap().default_scale;
    assert_eq!(
        rep.plan(&r, &res, None).unwrap(),
        lmrepro_dclm::dry_run(&r, &res, &default_scale).unwrap()
    );
    assert_eq!(
        rep.plan(&r, &res, Some("400m-1x")).unwrap(),
        lmrepro_dclm::dry_run(&r, &res, "400m-1x").unwrap()
    );
}

#[test]
fn published_numbers_come_from_the_database() {
    let r = recipe();
    let res = testing::resolver();
    let p = load_params(&r).unwrap();
    let cells = published::load(&r, &res, &p.published).unwrap();
    let base = cells
        .iter()
        .find(|c| c.variant == "dclm-baseline" && c.scale == "400m-1x")
        .unwrap();
    assert_eq!(base.core_v1, Some(0.1756586347));
    assert_eq!(base.params, 411_616_256);
    // v2 from the released eval JSON, whose v1 agrees with the database.
    let eval: Value = serde_json::from_slice(
        &std::fs::read(
            r.resolve(
                &res,
                &format!(
                    "{}{}",
                    p.published.evals_prefix,
                    p.published
                        .rows
                        .iter()
                        .find(|x| x.variant == "dclm-baseline" && x.scale == "400m-1x")
                        .unwrap()
                        .model_json
                ),
            )
            .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!((eval["Core_v1"].as_f64().unwrap() - base.core_v1.unwrap()).abs() < 1e-9);
    assert_eq!(base.core_v2, eval["Core_v2"].as_f64());
    // No database row for the raw pool: the recipe names none.
    assert!(!cells.iter().any(|c| c.variant == "raw"));
    // An unknown key is an error, not a silent blank.
    let mut bad = p.published.clone();
    bad.rows[0].model_json = "evaluation_nope.json".into();
    let err = format!("{:#}", published::load(&r, &res, &bad).unwrap_err());
    assert!(err.contains("evaluation_nope.json"), "{err}");
}

fn curve_prefix(csv: &str, variant: &str, seed: u64, steps: u64) -> Vec<f64> {
    csv.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0] == variant && f[1] == seed.to_string() && f[2].parse::<u64>().unwrap() <= steps)
                .then(|| f[3].parse().unwrap())
        })
        .collect()
}

fn read_all(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    lmrepro_cli_files(dir)
        .into_iter()
        .filter(|f| f != lmrepro_dclm::TIMINGS_FILE)
        .map(|f| {
            let b = std::fs::read(dir.join(&f)).unwrap();
            (f, b)
        })
        .collect()
}

fn lmrepro_cli_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn tiny_pipeline_matches_committed_results_caches_and_is_deterministic() {
    let r = recipe();
    let res = testing::resolver();
    let p = load_params(&r).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let opts = Options {
        cache_root: Some(tmp.path().join("cache")),
        data_only: true,
        ..Default::default()
    };

    // 1. Data stages, from scratch, equal the committed run.
    let data = run(&r, &res, &p, "tiny", &opts).unwrap();
    let summary: Value = serde_json::from_str(&committed("summary.json")).unwrap();
    assert_eq!(json!(data.pool), summary["pool"], "pool differs");
    assert_eq!(
        json!(data.heuristics),
        summary["heuristics"],
        "heuristics differ"
    );
    assert_eq!(json!(data.dedup), summary["dedup"], "dedup differs");
    assert_eq!(json!(data.variant_docs), summary["variant_docs"]);
    assert_eq!(json!(data.variant_tokens), summary["variant_tokens"]);
    assert_eq!(json!(data.heldout_tokens), summary["heldout_tokens"]);
    // Same stages, in the same order, under the same keys as the committed run: a cache built by
    // it stays valid. (A deliberate key change, e.g. a STAGE_FORMAT or version bump, needs the
    // recipe rerun so that results/dclm-baseline/timings.json records the new keys.)
    let timings: Value = serde_json::from_str(&committed("timings.json")).unwrap();
    let data_stage = |stage: &str| !stage.starts_with("train-") && !stage.starts_with("eval-");
    let committed_keys: Vec<(&str, &str)> = timings["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["stage"].as_str().unwrap(), t["key"].as_str().unwrap()))
        .filter(|(stage, _)| data_stage(stage))
        .collect();
    let keys: Vec<(&str, &str)> = data
        .timings
        .iter()
        .map(|t| (t.stage.as_str(), t.key.as_str()))
        .collect();
    assert_eq!(keys, committed_keys, "data stages or their keys changed");
    // Every stage really ran here (fresh cache) and the pipeline narrows the pool.
    assert!(data.timings.iter().all(|t| !t.cached));
    let docs = |v: &str| data.variant_docs[v].0;
    assert!(docs("raw") > docs("heuristics") && docs("heuristics") >= docs("bff"));
    assert!(docs("bff") > docs("fasttext-top20") && docs("fasttext-top20") > docs("dclm-baseline"));

    // 2. Smoke scale: the tiny model and schedule, 3 steps, 3 tasks x 2 items, one seed.
    let mut smoke = p.clone();
    let mut s = smoke.scales["tiny"].clone();
    s.stop_after = Some(3);
    s.eval.suite = "arc_easy,copa,lambada_openai".into();
    s.eval.limit = Some(2);
    smoke.scales.insert("smoke".into(), s);
    smoke.seeds = vec![124];
    let opts = Options {
        data_only: false,
        ..opts
    };
    let first = run(&r, &res, &smoke, "smoke", &opts).unwrap();
    for t in &first.timings {
        let model_stage = t.stage.starts_with("train-") || t.stage.starts_with("eval-");
        assert_eq!(
            t.cached, !model_stage,
            "stage {} cached = {}",
            t.stage, t.cached
        );
    }
    // The first steps are the committed full run's first steps (same data order and schedule).
    let curves = committed("loss_curves.csv");
    for v in &p.variants {
        let mine: Vec<f64> = first.train[&(v.name.clone(), 124)]
            .train_curve
            .iter()
            .map(|x| x.1)
            .collect();
        let theirs = curve_prefix(&curves, &v.name, 124, 3);
        assert_eq!(mine.len(), 3);
        assert_eq!(theirs.len(), 3, "committed curve of {} lacks steps", v.name);
        for (a, b) in mine.iter().zip(&theirs) {
            assert!(
                (a - b).abs() <= 1e-4 * b.abs(),
                "{}: {mine:?} vs committed {theirs:?}",
                v.name
            );
        }
    }
    let out_a = tmp.path().join("a");
    std::fs::create_dir_all(&out_a).unwrap();
    let tables = write_results(&r, &res, &smoke, &first, &out_a).unwrap();
    assert!(tables.contains(&"variants.md".to_string()));
    let variants = std::fs::read_to_string(out_a.join("variants.md")).unwrap();
    assert!(
        variants.contains("(partial)"),
        "3 of 53 tasks must be marked partial"
    );
    // The tables that do not depend on training are the committed ones, pinned as snapshots.
    for table in ["stages.md", "heuristics_steps.md", "published.md"] {
        let fresh = std::fs::read_to_string(out_a.join(table)).unwrap();
        assert_eq!(
            fresh,
            committed(table),
            "results/dclm-baseline/{table} is stale"
        );
        insta::assert_snapshot!(
            format!("dclm-baseline__{}", table.trim_end_matches(".md")),
            fresh
        );
    }

    // A training stage is a checkpoint `lmrepro eval --model <dir>` can load (compact vocabulary
    // included); its scores are distributions over GPT-NeoX ids.
    let train_dir = std::fs::read_dir(tmp.path().join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("train-dclm-baseline-")
        })
        .unwrap();
    assert!(train_dir.join(lmrepro_dclm::COMPACT_VOCAB_FILE).is_file());
    let mut lm = lmrepro_dclm::load_checkpoint_lm(&train_dir).unwrap();
    let scored = lm
        .score(&[lmrepro_lm::ScoreRequest {
            context: vec![510, 5347],
            continuation: vec![273, 49000],
        }])
        .unwrap();
    assert!(scored[0].logprobs.iter().all(|l| l.is_finite() && *l < 0.0));
    let row = &lm.next_token_logprobs(&[vec![510]]).unwrap()[0];
    assert_eq!(row.len(), 50432);
    let mass: f64 = row.iter().map(|&l| (l as f64).exp()).sum();
    assert!((mass - 1.0).abs() < 1e-3, "probability mass {mass}");
    let err = lmrepro_dclm::load_checkpoint_lm(tmp.path()).err().unwrap();
    assert!(format!("{err:#}").contains("checkpoint"), "{err:#}");

    // 3. Changing only the seed redoes training and evaluation, nothing else.
    let mut reseeded = smoke.clone();
    reseeded.seeds = vec![7];
    let again = run(&r, &res, &reseeded, "smoke", &opts).unwrap();
    for t in &again.timings {
        let model_stage = t.stage.starts_with("train-") || t.stage.starts_with("eval-");
        assert_eq!(
            t.cached, !model_stage,
            "stage {} after a seed change",
            t.stage
        );
    }

    // 4. Training and evaluation again from scratch: byte-identical results.
    for e in std::fs::read_dir(tmp.path().join("cache")).unwrap() {
        let e = e.unwrap();
        let n = e.file_name().to_string_lossy().to_string();
        if n.starts_with("train-") || n.starts_with("eval-") {
            std::fs::remove_dir_all(e.path()).unwrap();
        }
    }
    let second = run(&r, &res, &smoke, "smoke", &opts).unwrap();
    assert!(second
        .timings
        .iter()
        .any(|t| t.stage.starts_with("train-") && !t.cached));
    let out_b = tmp.path().join("b");
    std::fs::create_dir_all(&out_b).unwrap();
    write_results(&r, &res, &smoke, &second, &out_b).unwrap();
    let (a, b) = (read_all(&out_a), read_all(&out_b));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (f, bytes) in &a {
        assert!(bytes == &b[f], "{f} differs between two identical runs");
    }
}
