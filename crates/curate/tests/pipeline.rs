//! End-to-end tests on the real pinned data (Gutenberg sample, GPT-NeoX tokenizer, DCLM labels).

use lmrepro_curate::inputs::test_input;
use lmrepro_curate::{bff, minhash, quality, tokenize, tokens};
use lmrepro_stage::{Doc, OnMalformed};
use lmrepro_tokenizer::Tokenizer;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sample_docs() -> Vec<Doc> {
    let p = test_input("corpus/gutenberg_sample.jsonl.zst");
    let (ds, bad) = lmrepro_stage::read_docs(&p, OnMalformed::Error).unwrap();
    assert_eq!(bad, 0);
    ds.into_iter().map(|(_, d)| d).collect()
}

/// Writes real documents into `n` JSONL files (round robin), returning the directory.
fn split_into_files(dir: &Path, ds: &[Doc], n: usize) -> PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for k in 0..n {
        let part: Vec<Doc> = ds.iter().skip(k).step_by(n).cloned().collect();
        std::fs::write(
            input.join(format!("part_{k:02}.jsonl")),
            lmrepro_stage::to_jsonl(&part),
        )
        .unwrap();
    }
    input
}

fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_file() && !name.starts_with('.') {
            out.insert(name, std::fs::read(&p).unwrap());
        }
    }
    out
}

#[test]
fn tokenizer_ids_match_python_fixture() {
    // tests/fixtures/tokenizer_ids.json: ids from the Python `tokenizers` package (see README).
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer_ids.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let tok = Tokenizer::from_file(&test_input("tokenizer/gpt-neox-20b/tokenizer.json")).unwrap();
    assert_eq!(tok.base_vocab() + 2, 50256, "tokshuf's PAD id");
    assert_eq!(tok.full_vocab(), 50277);
    let docs = fixture["docs"].as_object().unwrap();
    assert!(docs.len() >= 20);
    for (key, d) in docs {
        let want: Vec<u32> = d["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let got = tok.encode(d["text"].as_str().unwrap()).unwrap();
        assert_eq!(got, want, "{key}");
    }
    assert_eq!(tok.encode("Hello world").unwrap(), vec![12092, 1533]);
}

#[test]
fn tokenize_shuffle_roundtrip_and_resume() {
    let ds = sample_docs();
    let tmp = tempfile::tempdir().unwrap();
    let input = split_into_files(tmp.path(), &ds[..8], 3);
    // A malformed line and an empty document: the first is skipped and counted, the second
    // contributes only its EOT.
    let extra = input.join("part_99.jsonl");
    std::fs::write(
        &extra,
        "{\"text\": \"\"}\nnot json\n{\"text\": \"Hello world\"}\n",
    )
    .unwrap();
    let tokenizer = test_input("tokenizer/gpt-neox-20b/tokenizer.json");
    let cfg = tokenize::TokenizeConfig {
        chunk_size: 16,
        num_local_cells: 32,
        on_malformed: OnMalformed::Skip,
        ..Default::default()
    };
    let out = tmp.path().join("tok");
    let st =
        tokenize::tokenize_shuffle(std::slice::from_ref(&input), &tokenizer, &out, &cfg).unwrap();
    assert_eq!(st.files, 4);
    assert_eq!(st.documents, 8 + 2);
    assert_eq!(st.malformed_lines, 1);
    let data = tokens::TokenDataset::open(&out).unwrap();
    data.verify().unwrap();
    assert_eq!(data.meta.dtype, tokens::Dtype::U16);
    assert_eq!(data.meta.pad_id, 50256);
    assert_eq!(data.num_contexts(), st.contexts);
    assert!(data.manifest.len() > 2);
    // The multiset of contexts equals the unshuffled per-file contexts.
    let tok = Tokenizer::from_file(&tokenizer).unwrap();
    let mut expected: Vec<Vec<u32>> = Vec::new();
    for f in lmrepro_stage::expand_inputs(std::slice::from_ref(&input)).unwrap() {
        let (fd, _) = lmrepro_stage::read_docs(&f, OnMalformed::Skip).unwrap();
        let mut stream = Vec::new();
        for (_, d) in &fd {
            stream.extend(tok.encode(lmrepro_stage::text(d)).unwrap());
            stream.push(0);
        }
        expected.extend(tokenize::contexts_of_stream(&stream, 2049, 50256, false).0);
    }
    let mut got: Vec<Vec<u32>> = data.iter_contexts().map(|c| c.unwrap()).collect();
    assert_ne!(got, expected, "contexts are shuffled");
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // The small file is one padded context: [Hello, world-ids..., EOT, PAD...].
    assert!(got
        .iter()
        .any(|c| c[..4] == [0, 12092, 1533, 0] && c[4] == 50256));

    // Same seed, fresh directory: byte-identical. Interrupted run (stage-1 state of two files
    // left behind, outputs missing) resumes to the same bytes.
    let out2 = tmp.path().join("tok2");
    tokenize::tokenize_shuffle(std::slice::from_ref(&input), &tokenizer, &out2, &cfg).unwrap();
    assert_eq!(read_tree(&out), read_tree(&out2));
    let out3 = tmp.path().join("tok3");
    let partial = tokenize::TokenizeConfig {
        stop_after_stage1_files: Some(2),
        ..cfg.clone()
    };
    assert!(
        tokenize::tokenize_shuffle(std::slice::from_ref(&input), &tokenizer, &out3, &partial)
            .is_err()
    );
    assert!(out3.join("_state").is_dir());
    tokenize::tokenize_shuffle(&[input], &tokenizer, &out3, &cfg).unwrap();
    assert_eq!(read_tree(&out), read_tree(&out3));
}

fn bff_cfg() -> bff::BffConfig {
    bff::BffConfig {
        min_ngram_size: 13,
        max_ngram_size: 13,
        seed: 7,
        ..Default::default()
    }
}

#[test]
fn bff_removes_gutenberg_boilerplate_and_resumes_identically() {
    let mut ds = sample_docs();
    ds.truncate(9);
    // A real second edition: the same book again with a different header line.
    let mut copy = ds[0].clone();
    let t = format!("Another edition\n{}", lmrepro_stage::text(&ds[0]));
    copy.insert("text".into(), serde_json::Value::String(t));
    copy.insert("id".into(), serde_json::Value::String("copy".into()));
    ds.push(copy);
    let tmp = tempfile::tempdir().unwrap();
    let input = split_into_files(tmp.path(), &ds, 3);
    let out = tmp.path().join("bff");
    let mut planned = Vec::new();
    let r = bff::run(std::slice::from_ref(&input), &out, &bff_cfg(), |s, p| {
        planned.push((s, *p))
    })
    .unwrap();
    assert_eq!(planned.len(), 1);
    assert!(planned[0].1.size_bytes > 0);
    assert_eq!(r.total.docs_in, 10);
    // The duplicated edition goes entirely; boilerplate paragraphs of the others go too.
    assert_eq!(r.total.docs_removed_whole, 1);
    assert!(r.total.paragraphs_removed > r.total.paragraphs / 1000);
    assert!(
        r.removed_byte_fraction > 0.09 && r.removed_byte_fraction < 0.2,
        "{}",
        r.removed_byte_fraction
    );
    let kept: Vec<Doc> = lmrepro_stage::expand_inputs(std::slice::from_ref(&out))
        .unwrap()
        .iter()
        .flat_map(|f| lmrepro_stage::read_docs(f, OnMalformed::Error).unwrap().0)
        .map(|(_, d)| d)
        .collect();
    assert_eq!(kept.len(), 9);
    assert!(kept
        .iter()
        .all(|d| d.contains_key("bff_contained_ngram_count_before_dedupe")));
    assert!(
        kept.iter().all(|d| d.contains_key("author")),
        "unknown fields kept"
    );

    // Interrupted after one file, then resumed: identical bytes.
    let out2 = tmp.path().join("bff2");
    let stop = bff::BffConfig {
        stop_after_files: Some(1),
        ..bff_cfg()
    };
    assert!(bff::run(std::slice::from_ref(&input), &out2, &stop, |_, _| {}).is_err());
    assert_eq!(std::fs::read_dir(out2.join("_done")).unwrap().count(), 1);
    let r2 = bff::run(std::slice::from_ref(&input), &out2, &bff_cfg(), |_, _| {}).unwrap();
    assert_eq!(read_tree(&out), read_tree(&out2));
    assert_eq!(r.total, r2.total);

    // Sharded mode: two shards with separate filters see fewer duplicates.
    let out3 = tmp.path().join("bff3");
    let sharded = bff::BffConfig {
        total_shards: 2,
        ..bff_cfg()
    };
    let r3 = bff::run(&[input], &out3, &sharded, |_, _| {}).unwrap();
    assert_eq!(r3.shards.len(), 2);
    assert_eq!(r3.total.docs_in, 10);
}

/// A run that dies after a file's output and marker but before the filter checkpoint (here: the
/// second file's marker cannot be written) must resume to the same bytes. Before the fix the
/// order was output, filter checkpoint, marker: a run dying before the marker left a checkpoint
/// that counted the file and no marker to read its stats from, and every resume failed
/// ("stats of part_01"); the kill -9 harness (`lmrepro-cli tests/kill_anywhere.rs`) found it.
#[test]
fn bff_dying_before_a_marker_resumes_identically() {
    let mut ds = sample_docs();
    ds.truncate(6);
    let tmp = tempfile::tempdir().unwrap();
    let input = split_into_files(tmp.path(), &ds, 3);
    let out = tmp.path().join("bff");
    bff::run(std::slice::from_ref(&input), &out, &bff_cfg(), |_, _| {}).unwrap();

    let out2 = tmp.path().join("bff2");
    let files = lmrepro_stage::expand_inputs(std::slice::from_ref(&input)).unwrap();
    let second = &lmrepro_stage::shard_names(&files)[1];
    // A folder where the marker's temporary file goes: creating it fails.
    let obstacle = out2.join("_done").join(format!(".{second}.tmp"));
    std::fs::create_dir_all(&obstacle).unwrap();
    assert!(bff::run(std::slice::from_ref(&input), &out2, &bff_cfg(), |_, _| {}).is_err());
    std::fs::remove_dir(&obstacle).unwrap();
    bff::run(std::slice::from_ref(&input), &out2, &bff_cfg(), |_, _| {}).unwrap();
    assert_eq!(read_tree(&out), read_tree(&out2));
    for sub in ["_done", "_state"] {
        assert_eq!(
            read_tree(&out.join(sub)),
            read_tree(&out2.join(sub)),
            "{sub}"
        );
    }
}

#[test]
fn minhash_and_exact_find_real_duplicates() {
    let mut ds = sample_docs();
    ds.truncate(6);
    let mut exact = ds[1].clone();
    exact.insert("id".into(), serde_json::Value::String("exact-copy".into()));
    let mut near = ds[2].clone();
    let t = lmrepro_stage::text(&ds[2]);
    // Near duplicate: drop the first 2 % of the book.
    let cut = t.char_indices().nth(t.chars().count() / 50).unwrap().0;
    near.insert(
        "text".into(),
        serde_json::Value::String(t[cut..].to_string()),
    );
    ds.push(exact);
    ds.push(near);
    let tmp = tempfile::tempdir().unwrap();
    let input = split_into_files(tmp.path(), &ds, 2);
    let out = tmp.path().join("mh");
    let st = minhash::run(
        std::slice::from_ref(&input),
        &out,
        &minhash::MinhashConfig::default(),
    )
    .unwrap();
    assert_eq!(st.docs_in, 8);
    assert_eq!(st.docs_removed, 2, "{st:?}");
    assert_eq!(st.clusters, 2);
    assert_eq!(st.docs_kept, 6);
    let ex_dir = tmp.path().join("ex");
    let ex = minhash::run_exact(std::slice::from_ref(&input), &ex_dir, OnMalformed::Error).unwrap();
    assert_eq!(ex.docs_removed, 1);
    assert_eq!(ex.docs_kept, 7);
    assert_eq!(ex.clusters, 1);

    // Resume after an interruption during the second shard: the first (which holds the copy that
    // makes a document of the second a duplicate) must come from its saved keys, not be re-read —
    // its input is made unreadable to prove it.
    let before = read_tree(&ex_dir);
    let names = lmrepro_stage::shard_names(
        &lmrepro_stage::expand_inputs(std::slice::from_ref(&input)).unwrap(),
    );
    assert_eq!(names.len(), 2);
    std::fs::remove_file(ex_dir.join("_done").join(&names[1])).unwrap();
    std::fs::remove_file(ex_dir.join(format!("{}.jsonl.zst", names[1]))).unwrap();
    std::fs::write(input.join("part_00.jsonl"), "not json\n").unwrap();
    let resumed =
        minhash::run_exact(std::slice::from_ref(&input), &ex_dir, OnMalformed::Error).unwrap();
    assert_eq!(resumed, ex);
    assert_eq!(read_tree(&ex_dir), before);
}

#[test]
fn minhash_parameters_match_numpy() {
    // np.random.RandomState(1).randint(1, 2**61-1, dtype=np.uint64, size=(1, 3)) and the next
    // randint(0, 2**61-1, ...) (values from tests/fixtures/README.md).
    let (a, b) = minhash::parameters(1, 3);
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minhash_params_seed1.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let want = |k: &str| -> Vec<u64> {
        fixture[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect()
    };
    assert_eq!(a, want("a"));
    assert_eq!(b, want("b"));
}

#[test]
fn quality_classifier_trains_and_ranks_labelled_cc() {
    let pos = quality::read_examples(&[test_input(
        "quality/positives_alpaca_eval_10models.jsonl.zst",
    )])
    .unwrap();
    let neg = quality::read_examples(&[test_input(
        "quality/negatives_cc_2019-30_dolma_sample.jsonl.gz",
    )])
    .unwrap();
    assert_eq!(pos.len(), 8050);
    assert_eq!(neg.len(), 697);
    let tmp = tempfile::tempdir().unwrap();
    let train = tmp.path().join("train.txt");
    // Small model for test speed; the DCLM-sized comparison is in benchmarks/curate.
    let cfg = quality::TrainConfig {
        max_positives: Some(697),
        dim: 16,
        bucket: 100_000,
        ..Default::default()
    };
    let (np, nn) = quality::write_training_file(&pos, &neg, &cfg, &train).unwrap();
    assert_eq!((np, nn), (697, 697));
    let model = quality::train_file(&train, &cfg).unwrap();
    let path = tmp.path().join("m.bin");
    model.save_model(&path).unwrap();
    let clf = quality::Classifier::load(&path).unwrap();
    let p = clf.score("Here is a clear, step by step explanation of how photosynthesis works.");
    assert!((0.0..=1.0).contains(&p));
    let mut scores = Vec::new();
    let mut labels = Vec::new();
    let mut max_dp = 0.0f32;
    for f in [
        "dclm_assets/data/agreement_data.jsonl",
        "dclm_assets/data/majority_data.jsonl",
    ] {
        for line in lmrepro_stage::read_lines(&test_input(f)).unwrap() {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let text = v["text"].as_str().unwrap();
            scores.push(clf.score(text));
            labels.push(v["label"] == 1);
            // Two independent implementations must agree: our inference (lmrepro-fasttext) and the
            // `fasttext` crate that trained the model, fed C++'s token line (with its `</s>`).
            let line = quality::preprocess(text);
            let (ours_label, ours_p) = clf.top1(&line).unwrap();
            let (mut words, mut lab) = (Vec::new(), Vec::new());
            model
                .dict()
                .get_line_from_str(&format!("{line} </s>"), &mut words, &mut lab);
            let theirs = &model.predict_on_words(&words, 1, 0.0)[0];
            max_dp = max_dp.max((ours_p - theirs.prob).abs());
            if (theirs.prob - 0.5).abs() > 1e-4 {
                assert_eq!(ours_label, theirs.label, "top label of {f} text {text:?}");
            }
        }
    }
    eprintln!("lmrepro-fasttext vs fasttext crate on 780 texts: max |dp| {max_dp:e}");
    assert!(max_dp <= 1e-6, "max |dp| {max_dp}");
    assert_eq!(scores.len(), 780);
    let auc = quality::auc(&scores, &labels);
    assert!(auc > 0.55, "AUC {auc}");
    // Filter by top fraction through the stage API.
    let input = split_into_files(tmp.path(), &sample_docs()[..5], 1);
    let stats = quality::predict_filter(
        &[input],
        &path,
        &tmp.path().join("q"),
        "fasttext_hq_prob",
        Some(quality::KeepRule::TopFraction(0.4)),
        OnMalformed::Error,
    )
    .unwrap();
    assert_eq!(stats["docs_kept"], 2);
    // The model is hashed while it is read: the stats carry the file's sha256.
    assert_eq!(stats["model_sha256"], tokens::sha256_path(&path).unwrap());
}

#[test]
fn cli_definitions_are_consistent() {
    use clap::CommandFactory;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: lmrepro_curate::cli::Command,
    }
    Cli::command().debug_assert();
    use clap::Parser;
    let c = Cli::try_parse_from([
        "x",
        "dedup",
        "bff",
        "--inputs",
        "a",
        "--output",
        "b",
        "--min-ngram-size",
        "13",
        "--max-ngram-size",
        "13",
        "--total-shards",
        "10",
    ])
    .unwrap();
    assert!(matches!(c.cmd, lmrepro_curate::cli::Command::Dedup { .. }));
    assert!(Cli::try_parse_from([
        "x",
        "quality",
        "filter",
        "--inputs",
        "a",
        "--output",
        "b",
        "--model",
        "m",
        "--threshold",
        "0.1",
        "--top-fraction",
        "0.1"
    ])
    .is_err());
}

/// Small contexts and chunks, so every overflow round emits full chunks: (32 cells, 2 overflow
/// cells) → (2, 1) → (1, 0).
fn small_tokshuf_cfg() -> tokenize::TokenizeConfig {
    tokenize::TokenizeConfig {
        seqlen: 33,
        chunk_size: 3,
        num_local_cells: 32,
        seed: 99,
        ..Default::default()
    }
}

/// The first 3,000 characters of each document (a few hundred contexts in all: fast in debug).
fn short_docs(ds: &[Doc]) -> Vec<Doc> {
    ds.iter()
        .map(|d| {
            let mut d = d.clone();
            let text: String = lmrepro_stage::text(&d).chars().take(3000).collect();
            d.insert("text".into(), serde_json::Value::String(text));
            d
        })
        .collect()
}

/// sha256 over every output file's name and bytes.
fn tree_sha256(dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (name, bytes) in read_tree(dir) {
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    hex::encode(h.finalize())
}

/// The output of the one-process tokenize + shuffle from before it was split into shard steps
/// (recorded with main at 99de127, `cargo test -p lmrepro-curate --test pipeline`): the split
/// must not change a byte.
const SMALL_TOKSHUF_SHA256: &str =
    "9f9f1fb51c10bfd6512917c8f353a7d11ce46fc6685800bbcf9dd1e7af698bfb";

#[test]
fn tokenize_shuffle_output_is_pinned() {
    let ds = sample_docs();
    let tmp = tempfile::tempdir().unwrap();
    let input = split_into_files(tmp.path(), &short_docs(&ds[..12]), 5);
    let tokenizer = test_input("tokenizer/gpt-neox-20b/tokenizer.json");
    let out = tmp.path().join("tok");
    let st = tokenize::tokenize_shuffle(&[input], &tokenizer, &out, &small_tokshuf_cfg()).unwrap();
    assert!(st.shards > 10, "{st:?}");
    assert_eq!(tree_sha256(&out), SMALL_TOKSHUF_SHA256, "{st:?}");
}

/// The split steps, each from its own job (as separate tasks would run them), files and cells in
/// reverse order, a leftover temporary file of a killed task in the way: the same bytes as the
/// one-process run; a step before the one it reads fails by name.
#[test]
fn tokenize_steps_in_any_order_equal_the_one_process_run() {
    let ds = sample_docs();
    let tmp = tempfile::tempdir().unwrap();
    let input = split_into_files(tmp.path(), &short_docs(&ds[..12]), 5);
    let tokenizer = test_input("tokenizer/gpt-neox-20b/tokenizer.json");
    let out = tmp.path().join("tok");
    let cfg = small_tokshuf_cfg();
    // Each step from a job of its own, as separate tasks would build them (one tokenizer load:
    // loading it per job would make this test slow in debug).
    let tok = std::sync::Arc::new(Tokenizer::from_file(&tokenizer).unwrap());
    let job = || {
        tokenize::TokenizeJob::with_tokenizer(std::slice::from_ref(&input), tok.clone(), &out, &cfg)
            .unwrap()
    };
    let j =
        tokenize::TokenizeJob::new(std::slice::from_ref(&input), &tokenizer, &out, &cfg).unwrap();
    assert_eq!(j.rounds(), &[(32, 2), (2, 1), (1, 0)]);
    assert_eq!(tokenize::rounds(128), vec![(128, 8), (8, 1), (1, 0)]);
    assert_eq!(tokenize::rounds(8), vec![(8, 0)]);
    let err = format!("{:#}", j.run_cell(0, 3).unwrap_err());
    assert!(
        err.contains("file 00000000") && err.contains("not done"),
        "{err}"
    );
    let err = format!("{:#}", j.run_file(5).unwrap_err());
    assert!(err.contains("no input file 5"), "{err}");
    for fi in (0..5).rev() {
        let st = job().run_file(fi).unwrap();
        assert_eq!(job().run_file(fi).unwrap(), st, "a done file is not redone");
    }
    let err = format!("{:#}", job().run_cell(1, 0).unwrap_err());
    assert!(err.contains("round 0 cell 00000"), "{err}");
    assert!(format!("{:#}", job().run_cell(3, 0).unwrap_err()).contains("no round 3"));
    assert!(format!("{:#}", job().run_cell(1, 2).unwrap_err()).contains("no cell 2"));
    // A killed task's temporary files: never read, never published.
    std::fs::write(out.join(".shard_00000000.tmp"), b"half").unwrap();
    let cell = out.join("_state/stage1/cell_00003");
    std::fs::write(cell.join(".00000001.bin.tmp"), b"half").unwrap();
    for r in 0..3 {
        for c in (0..j.rounds()[r].0).rev() {
            job().run_cell(r, c).unwrap();
        }
        if r == 0 {
            assert!(format!("{:#}", job().finish().unwrap_err()).contains("round 1 cell 00000"));
        }
    }
    let st = job().finish().unwrap();
    assert!(!out.join("_state").exists());
    assert_eq!(tree_sha256(&out), SMALL_TOKSHUF_SHA256, "{st:?}");
    assert!(!out.join(".shard_00000000.tmp").exists());
}
