//! `crawl filter`: the annotate contract, the per-step report, malformed lines, resumption,
//! compressed I/O, and the yaml loader on DCLM's own yaml files.

mod common;

use lmrepro_crawl::assets::CuratedDomains;
use lmrepro_crawl::filter::{filter_with, FilterArgs, RunStats};
use lmrepro_crawl::pipeline::{builtin_steps, parse_yaml, Pipeline};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

fn filter(a: &FilterArgs) -> anyhow::Result<RunStats> {
    filter_with(a, lmrepro_data::testing::resolver())
}

fn args(input: Vec<PathBuf>, output: PathBuf) -> FilterArgs {
    FilterArgs {
        pipeline: Default::default(),
        annotate: false,
        input,
        output,
        stats: None,
        skip_malformed: false,
        force: false,
        threads: Some(2),
        quiet: true,
    }
}

/// The first `n` lines of agreement_data.jsonl, written to `dir/name`.
fn agreement_head(dir: &Path, name: &str, n: usize) -> PathBuf {
    let src = common::assets()
        .input_path("dclm/data/agreement_data.jsonl")
        .unwrap();
    let text = std::fs::read_to_string(src).unwrap();
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    for l in text.lines().take(n) {
        writeln!(f, "{l}").unwrap();
    }
    p
}

#[test]
fn annotate_contract_matches_golden() {
    let dir = tempfile::tempdir().unwrap();
    let n = 60;
    let input = agreement_head(dir.path(), "in.jsonl", n);
    let out = dir.path().join("out.jsonl");
    let mut a = args(vec![input], out.clone());
    a.annotate = true;
    let stats = filter(&a).unwrap();
    let golden = common::read_jsonl(&common::golden("agreement_golden.jsonl"));
    let lines: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), n);
    for (i, (l, g)) in lines.iter().zip(&golden).enumerate() {
        // Exact key order and spacing of the contract.
        assert!(l.starts_with("{\"kept\": "), "{l}");
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 3);
        assert_eq!(v["kept"], g["kept"], "doc {i}");
        assert_eq!(v["dropped_by"], g["dropped_at_step"], "doc {i}");
        assert_eq!(v["text"], g["text"], "doc {i}");
    }
    let total = &stats.total.pipeline;
    assert_eq!(total.docs_in, n as u64);
    assert_eq!(total.pages_without_url, n as u64);
    assert_eq!(total.steps[0].count.skipped, n as u64);
    let report = lmrepro_crawl::filter::report(&stats);
    assert!(report.contains("URL steps"), "{report}");
    assert!(report.contains("16_massive_web_repetition_filters"));
}

#[test]
fn malformed_lines_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.jsonl");
    std::fs::write(&input, "{\"text\": \"fine\"}\n{\"text\": 3}\nnot json\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let err = filter(&args(vec![input.clone()], out.clone())).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("bad.jsonl:2: malformed document: field `text` is not a string"),
        "{msg}"
    );
    // Counted and skipped on request.
    let mut a = args(vec![input.clone()], out.clone());
    a.skip_malformed = true;
    let stats = filter(&a).unwrap();
    assert_eq!(stats.total.malformed_skipped, 2);
    assert_eq!(stats.total.pipeline.docs_in, 1);
    // Not with --annotate.
    let mut a = args(vec![input], out);
    a.annotate = true;
    a.skip_malformed = true;
    assert!(filter(&a).is_err());
}

#[test]
fn shards_resume_and_compressed_io() {
    let dir = tempfile::tempdir().unwrap();
    let plain = agreement_head(dir.path(), "a.jsonl", 12);
    // The same lines as .zst and .gz, with URLs so the URL steps run.
    let text = std::fs::read_to_string(&plain).unwrap();
    let with_url: String = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["metadata"] = serde_json::json!({"WARC-Target-URI": "https://example.com/page"});
            v.to_string() + "\n"
        })
        .collect();
    let zst = dir.path().join("b.jsonl.zst");
    std::fs::write(&zst, zstd::encode_all(with_url.as_bytes(), 3).unwrap()).unwrap();
    let gz = dir.path().join("c.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    let outdir = dir.path().join("out");
    let a = args(vec![plain, zst, gz], outdir.clone());
    let first = filter(&a).unwrap();
    assert_eq!(first.shards.len(), 3);
    assert!(first.shards_resumed.is_empty());
    // One convention for every stage: the shard's output, then its marker `_done/<shard>`.
    for s in ["a.jsonl", "b.jsonl.zst", "c.jsonl.gz"] {
        assert!(outdir.join(s).is_file(), "{s}");
        assert!(outdir.join("_done").join(s).is_file(), "{s}");
    }
    let shard = |i: usize| &first.shards[i].counts.pipeline;
    // URL steps ran on b (no skips), were skipped on a and c.
    assert_eq!(shard(1).pages_without_url, 0);
    assert_eq!(shard(0).pages_without_url, 12);
    assert_eq!(shard(0).docs_kept, shard(1).docs_kept);
    let kept_b =
        zstd::decode_all(std::fs::File::open(outdir.join("b.jsonl.zst")).unwrap()).unwrap();
    let kept_b = String::from_utf8(kept_b).unwrap();
    assert_eq!(kept_b.lines().count() as u64, shard(1).docs_kept);
    let v: Value = serde_json::from_str(kept_b.lines().next().unwrap()).unwrap();
    assert_eq!(v["url"], "https://example.com/page");
    assert!(v["previous_word_count"].is_u64());
    assert!(v["language_id_whole_page_fasttext"]["en"].as_f64().unwrap() > 0.65);
    // Rerun: all three shards resumed from their markers, same totals.
    let second = filter(&a).unwrap();
    assert_eq!(second.shards_resumed.len(), 3);
    assert_eq!(second.total, first.total);
    // A shard without its marker is redone; --force redoes every shard.
    std::fs::remove_file(outdir.join("_done/a.jsonl")).unwrap();
    let third = filter(&a).unwrap();
    assert_eq!(third.shards_resumed.len(), 2);
    assert_eq!(third.total, first.total);
    let mut forced = a.clone();
    forced.force = true;
    assert!(filter(&forced).unwrap().shards_resumed.is_empty());
}

#[test]
fn builtin_equals_pinned_dclm_yaml() {
    let p = common::assets()
        .input_path("dclm/configs/dclm_baseline_refinedweb.yaml")
        .unwrap();
    let parsed = parse_yaml(&std::fs::read_to_string(p).unwrap()).unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].0, "cc");
    assert_eq!(parsed[0].1, builtin_steps());
}

#[test]
fn refinedweb_yaml_builds_and_c4_lists_missing_functions() {
    let a = common::assets();
    let rw = a.input_path("dclm/configs/refinedweb.yaml").unwrap();
    let p = Pipeline::load(rw.to_str().unwrap(), None, a).unwrap();
    assert_eq!(p.steps.len(), 27);
    // The inline banlist of refinedweb.yaml step 2 (exact domains).
    let run = |u: &str| {
        let mut page = lmrepro_crawl::Page {
            url: Some(u.into()),
            ..Default::default()
        };
        p.steps[2].kind.apply(&mut page)
    };
    assert_eq!(
        run("https://github.com/x"),
        lmrepro_crawl::steps::Verdict::Drop
    );
    // Quirk: ignore_chars ['www'] turns "www.github.com" into ".github.com", which is not listed.
    assert_eq!(
        run("https://www.github.com/x"),
        lmrepro_crawl::steps::Verdict::Keep
    );
    let c4 = a.input_path("dclm/configs/c4.yaml").unwrap();
    let err = format!(
        "{:#}",
        Pipeline::load(c4.to_str().unwrap(), None, a).err().unwrap()
    );
    for missing in [
        "exact_dedup",
        "split_lines_modifier",
        "join_lines_modifier",
        "length_type `sentence`",
        "model `langdetect`",
    ] {
        assert!(err.contains(missing), "{missing} not in {err}");
    }
    for fine in [
        "citation_removal_modifier",
        "punctuation_line_modifier",
        "substring_filter",
        "within_page_dedup",
    ] {
        assert!(
            !err.contains(&format!("({fine})")),
            "{fine} should build: {err}"
        );
    }
}

#[test]
fn yaml_errors_are_clear() {
    let a = common::assets();
    let err = Pipeline::from_yaml(
        "t",
        "- source: cc\n  steps:\n    - func: stop_word_filter\n      min_stop_words: 2\n",
        None,
        a,
    )
    .err()
    .unwrap();
    assert!(
        format!("{err:#}").contains("unexpected parameter(s) [\"min_stop_words\"]"),
        "{err:#}"
    );
    let err = Pipeline::from_yaml(
        "t",
        "- source: a\n  steps: []\n- source: b\n  steps: []\n",
        None,
        a,
    )
    .err()
    .unwrap();
    assert!(format!("{err:#}").contains("--source"));
    // `_aggregate` and other underscore keys are ignored like DCLM's factory does.
    Pipeline::from_yaml(
        "t",
        "- source: cc\n  steps:\n    - func: stop_word_filter\n      _aggregate: {x: 1}\n",
        None,
        a,
    )
    .unwrap();
    let err = Pipeline::from_yaml("t", "- source: cc\n  steps:\n    - func: url_substring_filter\n      banlist_from_fname: baselines/mappers/banlists/refinedweb_banned_domains_curated.txt\n      exact_domain_match: True\n", None, &{
        let mut x = lmrepro_crawl::Assets::for_tests();
        x.curated_domains = CuratedDomains::Error;
        x
    }).err().unwrap();
    assert!(format!("{err:#}").contains("Hugging Face"));
}

#[test]
fn reproduce_writes_step_table() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = lmrepro_data::Recipe {
        name: "dclm-heuristics".into(),
        kind: "dclm-heuristics".into(),
        title: "t".into(),
        description: String::new(),
        params: Default::default(),
        inputs: lmrepro_crawl::assets::pinned_inputs(),
        path: dir.path().join("dclm-heuristics.toml"),
        sha256: "0".repeat(64),
    };
    use lmrepro_report::Reproducer;
    let rep = lmrepro_crawl::HeuristicsReproducer;
    assert_eq!(rep.kind(), recipe.kind);
    let files = rep
        .reproduce(
            &recipe,
            &lmrepro_data::testing::resolver(),
            dir.path(),
            &Default::default(),
        )
        .unwrap();
    assert_eq!(files, ["step_counts.md"]);
    let md = std::fs::read_to_string(dir.path().join("step_counts.md")).unwrap();
    // agreement: 281 in, 252 out at the end (the golden's counts).
    assert!(
        md.contains("| 25_word_removal_ratio_filter | 252 | 252 |"),
        "{md}"
    );
    assert!(md.contains("| 08_language_filter | 281 | 277 |"), "{md}");
    assert!(
        md.contains("| agreement | all | 281 | 252 | 0.8968 |"),
        "{md}"
    );
}
