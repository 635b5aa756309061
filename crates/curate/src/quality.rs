//! fastText quality classifier with DCLM's settings and preprocessing: training on the pure-Rust
//! `fasttext` crate (which writes C++ fastText `.bin` models), inference on `lmrepro-fasttext`.
//!
//! * training (DCLM `baselines/train_fasttext_classifier.py` defaults used for DCLM-Baseline):
//!   supervised, softmax loss, `lr 0.1, dim 100, ws 5, epoch 5, minCount 1, wordNgrams 2`, labels
//!   `__label__hq` / `__label__cc`; one thread so training is reproducible (fastText's Hogwild
//!   threads are not);
//! * prediction (`quality_prediction_enrichers_calc_fasttext.py`): `" ".join(text.strip().splitlines())`,
//!   top-1 label, score = p if the label is `__label__hq` else 1 − p;
//! * filter: keep `score >= threshold` (DCLM: 0.018112), or keep the top fraction of the pool.

use anyhow::{bail, Context, Result};
use lmrepro_pycompat::unicode::{splitlines, strip};
use lmrepro_stage::{
    expand_inputs, progress, read_docs, read_lines, shard_names, text, Doc, OnMalformed,
    ShardedStage,
};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

const LABEL_PREFIX: &str = "__label__";
pub const HQ: &str = "__label__hq";
pub const CC: &str = "__label__cc";
/// DCLM-Baseline's absolute keep threshold (`fasttext_filter.yaml`).
pub const DCLM_THRESHOLD: f64 = 0.018112;

/// DCLM's preprocessing: `" ".join(content.strip().splitlines())`, with CPython's exact
/// whitespace and line-break classes.
pub fn preprocess(text: &str) -> String {
    splitlines(strip(text)).join(" ")
}

/// A training example's text: `text`, or GSM8K's `question` + "\n" + `answer`.
pub fn example_text(doc: &Doc) -> Option<String> {
    if let Some(Value::String(t)) = doc.get("text") {
        return Some(t.clone());
    }
    match (doc.get("question"), doc.get("answer")) {
        (Some(Value::String(q)), Some(Value::String(a))) => Some(format!("{q}\n{a}")),
        _ => None,
    }
}

/// Reads example texts from JSONL files (fields as in [`example_text`]).
pub fn read_examples(files: &[PathBuf]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for f in files {
        for (i, line) in read_lines(f)?.into_iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: invalid JSON", f.display(), i + 1))?;
            let Value::Object(m) = v else {
                bail!("{}:{}: not a JSON object", f.display(), i + 1);
            };
            let t = example_text(&m).with_context(|| {
                format!(
                    "{}:{}: no `text` (or `question`+`answer`)",
                    f.display(),
                    i + 1
                )
            })?;
            out.push(t);
        }
    }
    Ok(out)
}

/// Training parameters (defaults = DCLM).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    pub lr: f64,
    pub dim: i32,
    pub ws: i32,
    pub epoch: i32,
    pub min_count: i32,
    pub word_ngrams: i32,
    /// Hash buckets for word n-grams (fastText default 2,000,000).
    pub bucket: i32,
    pub seed: u64,
    /// Cap positives / negatives (random subset, seeded); `None` = all.
    pub max_positives: Option<usize>,
    pub max_negatives: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            lr: 0.1,
            dim: 100,
            ws: 5,
            epoch: 5,
            min_count: 1,
            word_ngrams: 2,
            bucket: 2_000_000,
            seed: 42,
            max_positives: None,
            max_negatives: None,
        }
    }
}

/// Writes the fastText training file (`__label__x text` lines, shuffled with the seed) and
/// returns the number of (positive, negative) lines.
pub fn write_training_file(
    positives: &[String],
    negatives: &[String],
    cfg: &TrainConfig,
    path: &Path,
) -> Result<(usize, usize)> {
    let mut rng = ChaCha20Rng::seed_from_u64(cfg.seed);
    let mut pos: Vec<&String> = positives.iter().collect();
    let mut neg: Vec<&String> = negatives.iter().collect();
    pos.shuffle(&mut rng);
    neg.shuffle(&mut rng);
    pos.truncate(cfg.max_positives.unwrap_or(usize::MAX));
    neg.truncate(cfg.max_negatives.unwrap_or(usize::MAX));
    let mut lines: Vec<String> = pos
        .iter()
        .map(|t| format!("{HQ} {}", preprocess(t)))
        .chain(neg.iter().map(|t| format!("{CC} {}", preprocess(t))))
        .collect();
    lines.shuffle(&mut rng);
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    for l in &lines {
        writeln!(f, "{l}")?;
    }
    f.flush()?;
    Ok((pos.len(), neg.len()))
}

/// Trains a supervised model on a fastText-format file with DCLM's settings.
pub fn train_file(train: &Path, cfg: &TrainConfig) -> Result<fasttext::FastText> {
    let mut args = fasttext::args::Args::default();
    args.input = train.to_path_buf();
    args.model = fasttext::args::ModelName::Supervised;
    args.apply_supervised_defaults();
    args.lr = cfg.lr;
    args.dim = cfg.dim;
    args.ws = cfg.ws;
    args.epoch = cfg.epoch;
    args.min_count = cfg.min_count;
    args.word_ngrams = cfg.word_ngrams;
    // fastText drops the n-gram buckets when there are no word n-grams (and no subwords).
    args.bucket = if cfg.word_ngrams <= 1 { 0 } else { cfg.bucket };
    args.thread = 1;
    args.verbose = 0;
    fasttext::FastText::train(args).map_err(|e| anyhow::anyhow!("fastText training: {e}"))
}

/// A loaded classifier: inference by `lmrepro-fasttext` (C++ fastText's tokenisation, word
/// n-grams including the `(last word, </s>)` bigram, and f32 order of operations).
pub struct Classifier {
    model: lmrepro_fasttext::FastText,
}

impl Classifier {
    pub fn load(path: &Path) -> Result<Classifier> {
        Ok(Classifier::load_with_sha256(path)?.0)
    }

    /// Loads the model and returns the sha256 of its file, hashed in the same single read (the
    /// model is large: DCLM's is 855 MB).
    pub fn load_with_sha256(path: &Path) -> Result<(Classifier, String)> {
        use sha2::{Digest, Sha256};
        struct Hashing<R> {
            inner: R,
            hasher: Sha256,
        }
        impl<R: std::io::Read> std::io::Read for Hashing<R> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.inner.read(buf)?;
                self.hasher.update(&buf[..n]);
                Ok(n)
            }
        }
        let f = std::fs::File::open(path)
            .with_context(|| format!("opening fastText model {}", path.display()))?;
        let mut reader = std::io::BufReader::with_capacity(
            1 << 20,
            Hashing {
                inner: f,
                hasher: Sha256::new(),
            },
        );
        // The loader reads to the end of the file (it rejects trailing bytes), so every byte
        // has passed through the hasher.
        let model = lmrepro_fasttext::FastText::from_reader(&mut reader)
            .with_context(|| format!("loading fastText model {}", path.display()))?;
        let sha = hex::encode(reader.into_inner().hasher.finalize());
        Ok((Classifier { model }, sha))
    }

    /// Top-1 (label with its `__label__` prefix, probability) of already preprocessed text, as
    /// the Python module's `model.predict(line)` returns it.
    pub fn top1(&self, line: &str) -> Option<(String, f32)> {
        self.model
            .predict(line, 1)
            .into_iter()
            .next()
            .map(|p| (format!("{LABEL_PREFIX}{}", p.label), p.prob))
    }

    /// DCLM's hq score of a raw document text.
    pub fn score(&self, text: &str) -> f64 {
        // Labels come back without their `__label__` prefix; compare without building one per doc.
        let cc = &CC[LABEL_PREFIX.len()..];
        match self.model.predict(&preprocess(text), 1).first() {
            Some(p) if p.label == cc => 1.0 - p.prob as f64,
            Some(p) => p.prob as f64,
            // Only for a model without labels.
            None => 0.0,
        }
    }
}

/// Area under the ROC curve (ties count one half).
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks over ties (Mann–Whitney U).
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = r;
        }
        i = j + 1;
    }
    let npos = labels.iter().filter(|&&l| l).count() as f64;
    let nneg = labels.len() as f64 - npos;
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l)
        .map(|(r, _)| r)
        .sum();
    (rank_sum - npos * (npos + 1.0) / 2.0) / (npos * nneg)
}

/// How to choose which documents to keep.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepRule {
    /// `score >= t` (DCLM's `quality_filter`).
    Threshold(f64),
    /// The top fraction of the pool by score: the threshold is the score of the
    /// `ceil(f × n)`-th best document (ties at the threshold are kept).
    TopFraction(f64),
}

/// The absolute threshold a rule means on a pool of scores.
pub fn threshold_for(rule: KeepRule, scores: &[f64]) -> f64 {
    match rule {
        KeepRule::Threshold(t) => t,
        KeepRule::TopFraction(f) => {
            if scores.is_empty() {
                return f64::INFINITY;
            }
            let mut s = scores.to_vec();
            s.sort_by(|a, b| b.total_cmp(a));
            let k = ((f * s.len() as f64).ceil() as usize).clamp(1, s.len());
            s[k - 1]
        }
    }
}

/// Scores every document of `inputs` into stage `out` (adds `key`), then keeps those passing
/// `rule` (all when `rule` is `None`). Returns stats JSON.
pub fn predict_filter(
    inputs: &[PathBuf],
    model: &Path,
    out: &Path,
    key: &str,
    rule: Option<KeepRule>,
    on_malformed: OnMalformed,
) -> Result<Value> {
    predict_filter_scored(inputs, model, out, key, rule, on_malformed, None)
}

/// The scores of one input file's documents, in file order (a scoring shard's work).
pub fn score_file(clf: &Classifier, file: &Path, on_malformed: OnMalformed) -> Result<Vec<f64>> {
    let (ds, _) = read_docs(file, on_malformed)?;
    Ok(ds.par_iter().map(|(_, d)| clf.score(text(d))).collect())
}

/// Writes scores as a scoring shard keeps them: one little-endian `f64` per document (exact, so
/// the global threshold sees the very values one process would).
pub fn write_scores(tmp: &Path, path: &Path, scores: &[f64]) -> Result<()> {
    let bytes: Vec<u8> = scores.iter().flat_map(|s| s.to_le_bytes()).collect();
    lmrepro_stage::write_atomic(tmp, path, &bytes)
}

/// Reads a [`write_scores`] file.
pub fn read_scores(path: &Path) -> Result<Vec<f64>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() % 8 != 0 {
        bail!(
            "{}: {} bytes is not a whole number of f64 scores",
            path.display(),
            bytes.len()
        );
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

/// Gives file `i`'s scores when they were computed already (`None`: score it now).
pub type ScoresOf<'a> = dyn Fn(usize, &Path, &Classifier) -> Result<Option<Vec<f64>>> + 'a;

/// [`predict_filter`] with pass 1 split out: `scores(i, file, classifier)` gives file `i`'s
/// scores (computed by a scoring shard, DCLM's per-shard pass before its global threshold), or
/// `None` to score here. The output is the same either way.
pub fn predict_filter_scored(
    inputs: &[PathBuf],
    model: &Path,
    out: &Path,
    key: &str,
    rule: Option<KeepRule>,
    on_malformed: OnMalformed,
    scores: Option<&ScoresOf<'_>>,
) -> Result<Value> {
    let files = expand_inputs(inputs)?;
    let names = shard_names(&files);
    let (clf, model_sha256) = Classifier::load_with_sha256(model)?;
    let stage = ShardedStage::create(out)?;
    // Pass 1: score (needed for the pool quantile); scores of a shard are kept in memory.
    let pb = progress::bar(files.len() as u64, "fastText scoring");
    // Opt-in (LMREPRO_WORK_TIMES): the CPU seconds of the scoring loops alone, for the
    // predict-vs-predict benchmark ratio; never part of the stats.
    let mut timer = crate::work_timer::WorkTimer::from_env("fasttext predict");
    let mut scored: Vec<(Vec<Doc>, Vec<f64>, u64)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let (ds, malformed) = read_docs(f, on_malformed)?;
        let given = match scores {
            Some(get) => get(i, f, &clf)?,
            None => None,
        };
        let scores: Vec<f64> = match given {
            Some(s) if s.len() == ds.len() => s,
            Some(s) => bail!(
                "{}: {} scores for {} documents (scored from another version of the file?)",
                f.display(),
                s.len(),
                ds.len()
            ),
            None => timer.time(|| ds.par_iter().map(|(_, d)| clf.score(text(d))).collect()),
        };
        scored.push((ds.into_iter().map(|(_, d)| d).collect(), scores, malformed));
        pb.inc(1);
    }
    pb.finish_and_clear();
    timer.finish()?;
    let all: Vec<f64> = scored.iter().flat_map(|s| s.1.iter().copied()).collect();
    let t = rule.map(|r| threshold_for(r, &all));
    let mut kept_total = 0u64;
    let mut malformed_total = 0u64;
    for (i, (ds, scores, malformed)) in scored.into_iter().enumerate() {
        malformed_total += malformed;
        let mut kept = Vec::new();
        for (mut d, s) in ds.into_iter().zip(scores) {
            if t.is_none_or(|t| s >= t) {
                d.insert(key.to_string(), json!(s));
                kept.push(d);
            }
        }
        kept_total += kept.len() as u64;
        stage.write_shard(&names[i], &kept, &json!({"docs_kept": kept.len()}))?;
    }
    let stats = json!({
        "docs_in": all.len(),
        "docs_kept": kept_total,
        "kept_fraction": kept_total as f64 / all.len().max(1) as f64,
        "threshold": t,
        "rule": rule,
        "malformed_lines": malformed_total,
        "model_sha256": model_sha256,
    });
    stage.write_stats(&stats)?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocess_like_python() {
        // " ".join("  a\r\nb\n\nc \n".strip().splitlines()) == "a b  c "? strip removes the
        // trailing " \n" first, so: "a b  c".
        assert_eq!(preprocess("  a\r\nb\n\nc \n"), "a b  c");
        assert_eq!(preprocess("x\u{2028}y\x0bz"), "x y z");
        assert_eq!(preprocess(""), "");
        assert_eq!(preprocess("one"), "one");
    }

    #[test]
    fn auc_simple_cases() {
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), 1.0);
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), 0.0);
        assert_eq!(auc(&[0.5, 0.5], &[false, true]), 0.5);
    }

    #[test]
    fn scores_files_round_trip_exactly_and_reject_a_torn_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.scores");
        let scores = [0.0, 1.0, 0.1 + 0.2, f64::MIN_POSITIVE, 0.018112];
        write_scores(&tmp.path().join(".a.tmp"), &path, &scores).unwrap();
        let back = read_scores(&path).unwrap();
        assert_eq!(
            back.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
            scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>()
        );
        std::fs::write(&path, [0u8; 12]).unwrap();
        let err = format!("{:#}", read_scores(&path).unwrap_err());
        assert!(
            err.contains("a.scores") && err.contains("12 bytes"),
            "{err}"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_scores_round_trip(scores in proptest::collection::vec(proptest::num::f64::ANY, 0..50)) {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("s.scores");
            write_scores(&tmp.path().join(".s.tmp"), &path, &scores).unwrap();
            let back: Vec<u64> = read_scores(&path).unwrap().iter().map(|s| s.to_bits()).collect();
            let want: Vec<u64> = scores.iter().map(|s| s.to_bits()).collect();
            proptest::prop_assert_eq!(back, want);
        }
    }

    #[test]
    fn top_fraction_threshold() {
        let s = [0.1, 0.9, 0.5, 0.7, 0.3];
        assert_eq!(threshold_for(KeepRule::TopFraction(0.4), &s), 0.7);
        assert_eq!(threshold_for(KeepRule::TopFraction(0.01), &s), 0.9);
        assert_eq!(threshold_for(KeepRule::Threshold(0.2), &s), 0.2);
    }
}
