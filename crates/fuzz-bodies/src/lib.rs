//! The bodies of the fuzz targets of issue 19, as plain functions of the input bytes.
//!
//! Each `fuzz/fuzz_targets/<name>.rs` is a one-line libFuzzer wrapper around the function of the
//! same name here, and `tests/replay.rs` runs the same functions on stable over the committed
//! regression inputs (`fuzz/regressions/<name>/`, the minimised inputs of every finding) and over
//! seeds from the pinned mirror, in the normal test suite. A body returns normally for any input;
//! a panic (or an abort, a hang, a memory blow-up) is a finding.
//!
//! Invariant: a body only *calls* the production reader the way production calls it and checks
//! properties every caller relies on (errors name the file, counts are consistent); it never
//! catches a panic, so the fuzzer sees every one.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

/// A fuzz target's body: any bytes in, no panic out.
pub type Body = fn(&[u8]);

/// Every target: name (= `fuzz/fuzz_targets/<name>.rs` = `fuzz/regressions/<name>/`) and body.
pub const TARGETS: &[(&str, Body)] = &[
    ("warc_reader", warc_reader),
    ("http_response", http_response),
    ("html_extract", html_extract),
    ("jsonl_docs", jsonl_docs),
    ("fasttext_model", fasttext_model),
    ("recipe_toml", recipe_toml),
    ("icl_task", icl_task),
    ("aiw_answer", aiw_answer),
    ("checkpoint_safetensors", checkpoint_safetensors),
    #[cfg(feature = "model")]
    ("checkpoint_load", checkpoint_load),
    ("audio_decode", audio_decode),
    ("bigbio_reader", bigbio_reader),
];

thread_local! {
    // One scratch folder per thread, its files overwritten by each input: a fresh temporary folder
    // per input cost 20x in rate, and a per-process folder would be shared by parallel tests.
    // (Thread-locals of the main thread are never dropped: the folder of a libFuzzer process
    // stays behind in $TMPDIR, as with a `static`.)
    static SCRATCH: OnceCell<tempfile::TempDir> = const { OnceCell::new() };
}

/// `name` in this thread's scratch folder, with `bytes` written to it.
fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, bytes).expect("writing the scratch file");
    path
}

fn scratch_dir() -> PathBuf {
    SCRATCH.with(|s| {
        s.get_or_init(|| tempfile::tempdir().expect("a scratch folder"))
            .path()
            .to_path_buf()
    })
}

/// An error of a reader of `path` must name it (the catalogue's "error naming the file").
fn assert_names(e: &anyhow::Error, path: &Path) {
    let name = path.file_name().unwrap().to_string_lossy();
    let msg = format!("{e:#}");
    assert!(
        msg.contains(&*name),
        "error without the file name {name}: {msg}"
    );
}

/// The streaming WARC reader on arbitrary bytes (plain, gzip multi-member or zstd, detected from
/// the first bytes as in production), then the HTTP layer of every record it yields.
pub fn warc_reader(data: &[u8]) {
    use lmrepro_extract::warc::{parse_http_response, WarcReader};
    let Ok(reader) = WarcReader::new(std::io::Cursor::new(data.to_vec())) else {
        return;
    };
    // A reader must end: every item consumes input or finishes (a bound catches a livelock as a
    // crash rather than a timeout with no stack).
    for (n, item) in reader.enumerate() {
        assert!(n <= data.len() + 1, "more items than input bytes");
        match item {
            Ok(record) => {
                let _ = parse_http_response(&record.block, true);
            }
            Err(e) => {
                let _ = (e.offset(), e.reason(), e.to_string());
            }
        }
    }
}

/// The HTTP header parser and the chunked-transfer decoder of response records.
pub fn http_response(data: &[u8]) {
    use lmrepro_extract::warc::{dechunk, parse_http_response};
    if let Ok(resp) = parse_http_response(data, true) {
        let _ = resp.charset();
        assert!(
            resp.body.len() <= data.len(),
            "de-chunking never grows the payload"
        );
    }
    if let Ok(body) = dechunk(data) {
        assert!(body.len() <= data.len());
    }
}

/// HTML → main text (resiliparse-style extraction on html5ever), DCLM's options and all-text
/// mode. Pages over the pipeline's `--max-nesting-work` default are passed over as the pipeline
/// skips them (their parse time is quadratic in the nesting depth; see docs/reliability.md).
pub fn html_extract(data: &[u8]) {
    use lmrepro_extract::pipeline::DEFAULT_MAX_NESTING_WORK;
    use lmrepro_extract::{extract_plain_text, nesting_work, ExtractOptions};
    let html = String::from_utf8_lossy(data);
    if nesting_work(&html) > DEFAULT_MAX_NESTING_WORK {
        return;
    }
    let mut opts = ExtractOptions::dclm();
    let _ = extract_plain_text(&html, &opts);
    opts.main_content = false;
    opts.links = true;
    opts.form_fields = true;
    let _ = extract_plain_text(&html, &opts);
}

/// The JSONL document reader: the bytes as a plain, `.gz` and `.zst` file, read with both
/// malformed-line policies. Errors must name the file; nothing may panic.
pub fn jsonl_docs(data: &[u8]) {
    use lmrepro_stage::{read_docs, OnMalformed};
    for name in ["a.jsonl", "a.jsonl.gz", "a.jsonl.zst"] {
        let path = scratch_file(name, data);
        match read_docs(&path, OnMalformed::Error) {
            Ok((docs, skipped)) => {
                assert_eq!(skipped, 0);
                for (line, doc) in &docs {
                    assert!(*line >= 1);
                    let _ = lmrepro_stage::text(doc);
                }
            }
            Err(e) => assert_names(&e, &path),
        }
        let _ = read_docs(&path, OnMalformed::Skip);
    }
}

/// The fastText `.bin`/`.ftz` loader (dense and product-quantized) and a prediction with
/// whatever it accepted.
pub fn fasttext_model(data: &[u8]) {
    use lmrepro_fasttext::FastText;
    if let Ok(model) = FastText::from_bytes(data) {
        let _ = model.nlabels();
        let _ = model.predict("the quick brown fox\njumps", 2);
        let _ = model.predict("", 1);
    }
}

/// Recipe TOML (`Recipe::load`, through a file as in production, so input-set references are
/// resolved against an empty `inputs/` folder) and the input-set list format.
pub fn recipe_toml(data: &[u8]) {
    use lmrepro_data::{parse_input_set, Recipe};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_input_set(text);
    let _ = std::fs::create_dir_all(scratch_dir().join("inputs"));
    let path = scratch_file("r.toml", data);
    if let Ok(recipe) = Recipe::load(&path) {
        let _ = recipe.params::<toml::Value>();
    }
}

/// ICL task JSONL (every task type, with and without categories, chosen by the first byte) and
/// the eval YAML registry (bit 3 of the first byte); errors must name the file.
pub fn icl_task(data: &[u8]) {
    use lmrepro_eval::tasks::{Registry, TaskType};
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let task_type = match selector % 4 {
        0 => TaskType::MultipleChoice,
        1 => TaskType::Schema,
        2 => TaskType::LanguageModeling,
        _ => TaskType::GenerationTaskWithAnswers,
    };
    let has_categories = selector & 4 != 0;
    let path = Path::new("t.jsonl");
    if let Err(e) = lmrepro_eval::data::parse_task_text(text, path, task_type, has_categories) {
        assert_names(&e, path);
    }
    if selector & 8 != 0 {
        let _ = Registry::parse(text);
    }
}

/// The AIW answer parser and the scorer's normalisation on arbitrary model responses.
pub fn aiw_answer(data: &[u8]) {
    use lmrepro_aiw::score::{normalize_response, parse_answer};
    let response = String::from_utf8_lossy(data);
    let _ = normalize_response(&response);
    let _ = parse_answer(&response);
}

/// The checkpoint tensor files without burn: the `safetensors` calls `lmrepro-model`'s
/// `checkpoint::read_safetensors` makes (deserialise, then every tensor's dtype, shape and bytes),
/// and the invariant it relies on when it hands the bytes to burn's `TensorData::from_bytes_vec`:
/// a tensor's byte length is its element count times its dtype's size. The full loader (with
/// `state.json` and burn) is [`checkpoint_load`]; this one is cheap enough for the default fuzz
/// build. (The loader verifies each file's sha256 against `state.json` first, so in production
/// these bytes come from a file whose hash matched: a buggy or hostile writer, not bit rot.)
pub fn checkpoint_safetensors(data: &[u8]) {
    use safetensors::tensor::Dtype;
    let Ok(st) = safetensors::SafeTensors::deserialize(data) else {
        return;
    };
    for (name, view) in st.tensors() {
        let size = match view.dtype() {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
            // Any other dtype is an error naming the tensor in the loader.
            _ => continue,
        };
        let n = view
            .shape()
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d));
        assert_eq!(
            n.and_then(|n| n.checked_mul(size)),
            Some(view.data().len()),
            "tensor `{name}`: {:?} x {size} bytes != {} bytes",
            view.shape(),
            view.data().len()
        );
    }
}

/// The real checkpoint loader, `lmrepro_model::checkpoint::load`, on a checkpoint folder made
/// from the input. First byte even: the rest is `state.json` (the tensor files are absent, so
/// this drives the JSON parse and its checks). Odd: the rest is both `model.safetensors` and
/// `optimizer.safetensors`, under a valid `state.json` recording their sha256 (so the bytes reach
/// the safetensors parser and burn's `TensorData`). Errors must name the checkpoint file.
#[cfg(feature = "model")]
pub fn checkpoint_load(data: &[u8]) {
    use lmrepro_model::checkpoint::{load, CheckpointState, FORMAT};
    use sha2::{Digest, Sha256};
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let dir = scratch_dir().join("ckpt");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if selector & 1 == 0 {
        std::fs::write(dir.join("state.json"), rest).unwrap();
    } else {
        let sha = hex::encode(Sha256::digest(rest));
        let state = CheckpointState {
            format: FORMAT.to_string(),
            step: 1,
            adam_step: 1,
            data_order: lmrepro_model::data::DataOrder::new(1, 4),
            model: lmrepro_model::config::ModelConfig::open_lm(16, 1, 2),
            train: serde_json::json!({}),
            model_sha256: sha.clone(),
            optimizer_sha256: sha,
        };
        let json = serde_json::to_string(&state).unwrap();
        std::fs::write(dir.join("state.json"), json).unwrap();
        std::fs::write(dir.join("model.safetensors"), rest).unwrap();
        std::fs::write(dir.join("optimizer.safetensors"), rest).unwrap();
    }
    match load(&dir) {
        Ok(ck) => {
            let _ = ck.state.model.validate();
            for t in ck.weights.values().chain(ck.exp_avg.values()) {
                let _ = t.num_elements();
            }
        }
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(
                msg.contains("ckpt"),
                "error without the checkpoint path: {msg}"
            );
        }
    }
}

/// Sample rate MusicLDM's front end resamples every clip to (`preprocessing.audio.sampling_rate`).
const MUSICLDM_RATE: u32 = 16_000;

/// The audio decoders of `lmrepro-musicldm` (Ogg Vorbis via lewton, WAV via hound; the container
/// is sniffed from the magic bytes, as in production), streamed chunk by chunk as `MonoReader`
/// does for the beat tracker, then the first two seconds of what was decoded resampled to
/// 16 kHz, as `reproduce` and the metrics do with every clip. Errors must name the file.
pub fn audio_decode(data: &[u8]) {
    use lmrepro_musicldm::audio::{resample, MonoReader};
    let path = scratch_file("clip.audio", data);
    let mut reader = match MonoReader::open(&path) {
        Ok(r) => r,
        Err(e) => return assert_names(&e, &path),
    };
    let rate = reader.sample_rate();
    assert!(rate > 0 && reader.channels() > 0);
    let mut head = Vec::new();
    let mut total = 0u64;
    loop {
        match reader.next_chunk() {
            Ok(Some(chunk)) => {
                total += chunk.len() as u64;
                if head.len() < 2 * rate as usize {
                    head.extend_from_slice(&chunk);
                }
            }
            Ok(None) => break,
            Err(e) => return assert_names(&e, &path),
        }
    }
    assert_eq!(reader.position(), total);
    // Two seconds bound the output, which grows with the duration (a 1 Hz header makes a few
    // samples hours long): the body checks the resampler's set-up for any declared rate, not
    // the cost of long clips.
    head.truncate(2 * rate as usize);
    if !head.is_empty() {
        let _ = resample(&head, rate, MUSICLDM_RATE);
    }
}

/// The BigBIO readers: the first byte picks a schema (`read_jsonl` validation of every line
/// against it, then `into_examples` and the JSONL writer for clean files) or one of the
/// script-free loaders' inputs (BIOSSES TSV, PubMedQA `ori_pqal.json` / ground truth). Every
/// violation must name a line; errors must name the file.
pub fn bigbio_reader(data: &[u8]) {
    use lmrepro_bigbio::{loaders, reader, schema::Schema};
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 8 {
        s @ 0..=5 => {
            let schema = Schema::ALL[s as usize];
            let path = scratch_file("b.jsonl", rest);
            let loaded = match reader::read_jsonl(&path, schema) {
                Ok(l) => l,
                Err(e) => return assert_names(&e, &path),
            };
            for v in &loaded.violations {
                assert!(v.line >= 1, "violation without a line: {v}");
            }
            match loaded.into_examples("b.jsonl") {
                Ok(examples) => {
                    for (ex, _) in &examples {
                        let _ = reader::to_json_line(ex);
                    }
                }
                Err(e) => assert_names(&e, &path),
            }
        }
        6 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                if let Ok(rows) = loaders::parse_biosses_tsv(text, "b.tsv") {
                    let _ = loaders::biosses_pairs(&rows);
                }
            }
        }
        _ => {
            let path = scratch_file("b.json", rest);
            match loaders::read_pqal(&path) {
                Ok(items) => {
                    for (pmid, item) in &items {
                        let _ = loaders::pqal_to_qa(pmid, item);
                    }
                }
                Err(e) => assert_names(&e, &path),
            }
            if let Err(e) = loaders::read_ground_truth(&path) {
                assert_names(&e, &path);
            }
        }
    }
}
