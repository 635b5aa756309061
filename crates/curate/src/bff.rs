//! BFF: Bloom-filter n-gram deduplication with the semantics of DCLM's `dedup/bff` (`old-both`).
//!
//! Per document (in a fixed, seeded order):
//! 1. split `text` at every `\n` into paragraphs `[0, n1) [n1, n2) …` (a paragraph after the first
//!    starts *with* its newline, so removing it removes that newline, as upstream);
//! 2. tokens = Unicode word bounds (`unicode-segmentation`) that are not all-whitespace;
//! 3. n-grams of `max_ngram_size` tokens, sliding by one; a paragraph with fewer tokens but at least
//!    `min_ngram_size` yields one n-gram of all its tokens; shorter paragraphs yield none;
//! 4. a paragraph whose contained fraction is `> threshold` is removed, otherwise its n-grams are
//!    inserted (so later paragraphs of the same document see them);
//! 5. `old-both`: if the document's contained n-grams / all n-grams `> threshold`, the whole text is
//!    dropped; a document whose remaining text is empty after `trim` is not written.
//!
//! Deliberate deviations (README "BFF"): seeded hashing and a seeded file order (upstream uses
//! `thread_rng`); documents are checked against the filter one at a time in order, while tokenizing
//! and hashing run in parallel, so results do not depend on thread timing; the k filter indices are
//! derived from one 64-bit n-gram fingerprint by double hashing instead of k full ahash passes
//! (same false-positive rate, much faster); the filter size uses upstream's binary search without
//! the "90 % of system RAM" cap (that cap made the size machine-dependent).

use anyhow::{bail, Context, Result};
use lmrepro_stage::{
    expand_inputs, progress, read_docs, shard_names, text, Doc, DocReader, OnMalformed,
    ShardedStage, Tally,
};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use unicode_segmentation::UnicodeSegmentation;

/// Upstream's `--remove-type` values that are implemented here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum RemoveType {
    /// DCLM-Baseline: paragraph removal, plus whole-document removal when > threshold of the
    /// document's n-grams were contained before any insertion of this document… paragraph by paragraph.
    OldBoth,
    /// Paragraph removal only.
    Paragraph,
    /// The whole text is one unit.
    Document,
    /// Document pass (which inserts the whole text's n-grams) followed by a paragraph pass; removes
    /// almost everything on the second pass, as upstream's does (kept for comparison only).
    NaiveBoth,
}

/// Parameters (defaults = upstream defaults except `remove_type`, which is DCLM-Baseline's). Also
/// the `dedup bff` flags: the clap defaults equal [`Default`] (tested in `cli`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct BffConfig {
    /// Expected n-gram count for sizing the filter; counted in a first pass when omitted.
    #[arg(long)]
    pub expected_ngram_count: Option<u64>,
    #[arg(long, default_value_t = 0.01)]
    pub fp_rate: f64,
    #[arg(long, default_value_t = 20)]
    pub min_ngram_size: usize,
    #[arg(long, default_value_t = 20)]
    pub max_ngram_size: usize,
    #[arg(long, default_value_t = 0.8)]
    pub filtering_threshold: f64,
    #[arg(long, value_enum, default_value_t = RemoveType::OldBoth)]
    pub remove_type: RemoveType,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Independent global shards (DCLM used 10): files `i` with `i % total_shards == shard_num`
    /// form a shard, each with its own filter.
    #[arg(long, default_value_t = 1)]
    pub total_shards: usize,
    /// Run only this shard (default: all, one after the other).
    #[arg(long)]
    pub shard_num: Option<usize>,
    /// Keep the text and add `bff_duplicate_spans` / `bff_contained_ngram_count` instead.
    #[arg(long)]
    pub annotate: bool,
    /// Set from the input options (`--on-malformed`).
    #[arg(skip)]
    pub on_malformed: OnMalformed,
    /// Stop after this many files of a shard (simulates an interrupted run in tests).
    #[serde(skip)]
    #[arg(skip)]
    pub stop_after_files: Option<usize>,
}

impl Default for BffConfig {
    fn default() -> Self {
        BffConfig {
            expected_ngram_count: None,
            fp_rate: 0.01,
            min_ngram_size: 20,
            max_ngram_size: 20,
            filtering_threshold: 0.8,
            remove_type: RemoveType::OldBoth,
            seed: 0,
            total_shards: 1,
            shard_num: None,
            annotate: false,
            on_malformed: OnMalformed::Error,
            stop_after_files: None,
        }
    }
}

/// Upstream's `optimal_number_of_hashers`.
pub fn optimal_number_of_hashers(size_in_bytes: u64, expected_elements: u64) -> usize {
    let n = expected_elements as f64;
    let m = (size_in_bytes * 8) as f64;
    ((m / n) * 2f64.ln()).ceil() as usize
}

/// Upstream's `prob_of_false_positive`.
pub fn prob_of_false_positive(size_in_bytes: u64, expected_elements: u64, k: usize) -> f64 {
    let k = k as f64;
    let m = (size_in_bytes * 8) as f64;
    let n = expected_elements as f64;
    (1.0 - (1.0 - (1.0 / m)).powf(k * n)).powf(k)
}

/// Upstream's `compute_bloom_size` (binary search, optimal hashers) without the system-RAM cap.
pub fn compute_bloom_size(fp_rate: f64, expected_ngram_count: u64) -> u64 {
    let mut lo: u64 = 1;
    let mut hi: u64 = 420_744_073_709_551_615;
    while lo < hi - 1 {
        let mid = lo + (hi - lo) / 2;
        let k = optimal_number_of_hashers(mid, expected_ngram_count);
        if prob_of_false_positive(mid, expected_ngram_count, k) > fp_rate {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    hi
}

/// Filter geometry decided up front (and reported before any work).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct FilterPlan {
    pub expected_ngram_count: u64,
    pub size_bytes: u64,
    pub num_hashers: usize,
    pub predicted_fp_rate: f64,
}

impl FilterPlan {
    pub fn new(expected_ngram_count: u64, fp_rate: f64) -> FilterPlan {
        let n = expected_ngram_count.max(1);
        let size = compute_bloom_size(fp_rate, n).max(4);
        let k = optimal_number_of_hashers(size, n).max(1);
        // Upstream allocates size / 4 u32 words.
        let size_bytes = size / 4 * 4;
        FilterPlan {
            expected_ngram_count: n,
            size_bytes,
            num_hashers: k,
            predicted_fp_rate: prob_of_false_positive(size_bytes, n, k),
        }
    }
}

/// The Bloom filter: `k` bit positions per n-gram fingerprint, `hash / 32 % words` and
/// `hash % 32` as upstream.
pub struct BloomFilter {
    words: Vec<u32>,
    k: usize,
    seed: u64,
}

const MAGIC: u32 = 0x81F0_F118;

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl BloomFilter {
    pub fn new(plan: &FilterPlan, seed: u64) -> BloomFilter {
        BloomFilter {
            words: vec![0; (plan.size_bytes / 4) as usize],
            k: plan.num_hashers,
            seed,
        }
    }

    pub fn size_in_bytes(&self) -> u64 {
        self.words.len() as u64 * 4
    }

    #[inline]
    fn positions(&self, fp: u64) -> impl Iterator<Item = (usize, u32)> + '_ {
        let h1 = fp;
        let h2 = splitmix64(fp ^ self.seed) | 1;
        let n = self.words.len() as u64;
        (0..self.k as u64).map(move |i| {
            let h = h1.wrapping_add(i.wrapping_mul(h2));
            (((h / 32) % n) as usize, (h % 32) as u32)
        })
    }

    pub fn contains(&self, fp: u64) -> bool {
        self.positions(fp)
            .all(|(w, b)| self.words[w] & (1 << b) != 0)
    }

    pub fn insert(&mut self, fp: u64) {
        let pos: Vec<(usize, u32)> = self.positions(fp).collect();
        for (w, b) in pos {
            self.words[w] |= 1 << b;
        }
    }

    /// Fraction of bits set.
    pub fn sparsity(&self) -> f64 {
        let set: u64 = self.words.iter().map(|w| w.count_ones() as u64).sum();
        set as f64 / (self.words.len() as f64 * 32.0)
    }

    fn save(&self, path: &Path, files_done: u64) -> Result<()> {
        let tmp = path.with_extension("tmp");
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?,
        );
        f.write_all(&MAGIC.to_le_bytes())?;
        f.write_all(&(self.k as u64).to_le_bytes())?;
        f.write_all(&self.seed.to_le_bytes())?;
        f.write_all(&files_done.to_le_bytes())?;
        f.write_all(&(self.words.len() as u64).to_le_bytes())?;
        let mut buf = Vec::with_capacity(self.words.len() * 4);
        for w in &self.words {
            buf.extend_from_slice(&w.to_le_bytes());
        }
        f.write_all(&buf)?;
        // A failed flush (disk full) is an error, never a truncated filter renamed into place;
        // filesystems that cannot sync (EINVAL) are not an error (as `write_atomic`).
        match f.into_inner()?.sync_all() {
            Err(e) if e.raw_os_error() != Some(22) => {
                std::fs::remove_file(&tmp).ok();
                return Err(e).with_context(|| format!("writing {}", tmp.display()));
            }
            _ => {}
        }
        lmrepro_stage::publish(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(())
    }

    fn load(path: &Path) -> Result<(BloomFilter, u64)> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .with_context(|| format!("opening {}", path.display()))?
            .read_to_end(&mut bytes)?;
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
        if bytes.len() < 36 || u32::from_le_bytes(bytes[0..4].try_into().unwrap()) != MAGIC {
            bail!("{}: not a filter checkpoint", path.display());
        }
        let (k, seed, done, n) = (u64_at(4), u64_at(12), u64_at(20), u64_at(28));
        if bytes.len() as u64 != 36 + n * 4 {
            bail!("{}: truncated filter checkpoint", path.display());
        }
        let words = bytes[36..]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        Ok((
            BloomFilter {
                words,
                k: k as usize,
                seed,
            },
            done,
        ))
    }
}

/// Seeded token/n-gram hashing.
#[derive(Clone)]
pub struct Hasher {
    token: ahash::RandomState,
    ngram: ahash::RandomState,
}

impl Hasher {
    pub fn new(seed: u64) -> Hasher {
        let s = |i: u64| splitmix64(seed ^ splitmix64(i));
        Hasher {
            token: ahash::RandomState::with_seeds(s(1), s(2), s(3), s(4)),
            ngram: ahash::RandomState::with_seeds(s(5), s(6), s(7), s(8)),
        }
    }

    /// Tokens of a unit as upstream: word bounds that are not all whitespace.
    pub fn tokens(text: &str) -> impl Iterator<Item = &str> {
        let (ascii, unicode) = if text.is_ascii() {
            (Some(AsciiTokens { rest: text }), None)
        } else {
            (None, Some(Self::tokens_unicode(text)))
        };
        ascii
            .into_iter()
            .flatten()
            .chain(unicode.into_iter().flatten())
    }

    /// [`Hasher::tokens`] through `unicode-segmentation` (any text).
    pub fn tokens_unicode(text: &str) -> impl Iterator<Item = &str> {
        text.split_word_bounds()
            .filter(|w| w.chars().any(|c| !c.is_whitespace()))
    }

    /// Fingerprints of the n-grams of one unit (paragraph or document), upstream's rule.
    pub fn unit_ngrams(&self, unit: &str, min_n: usize, max_n: usize) -> Vec<u64> {
        let mut out = Vec::new();
        self.unit_ngrams_into(unit, min_n, max_n, &mut Vec::new(), &mut out);
        out
    }

    /// [`Hasher::unit_ngrams`] appended to `out`, with `toks` as scratch space (no allocation
    /// per paragraph).
    pub fn unit_ngrams_into(
        &self,
        unit: &str,
        min_n: usize,
        max_n: usize,
        toks: &mut Vec<u64>,
        out: &mut Vec<u64>,
    ) {
        toks.clear();
        toks.extend(Self::tokens(unit).map(|t| self.token.hash_one(t)));
        if toks.len() >= max_n {
            out.extend(toks.windows(max_n).map(|w| self.ngram.hash_one(w)));
        } else if !toks.is_empty() && toks.len() >= min_n {
            out.push(self.ngram.hash_one(&toks[..]));
        }
    }
}

/// The non-whitespace UAX #29 word-bound segments of an ASCII text, without the general
/// segmenter's per-character table lookups (most of BFF's time on mostly-ASCII books). In ASCII
/// the rules reduce to: letters, digits and `_` join (WB5, WB8–WB10, WB13a/b); `'`, `.`, `:`
/// join two letters (WB6/7); `'`, `.`, `,`, `;` join two digits (WB11/12); every other
/// non-whitespace byte is a segment of its own (WB999); whitespace never joins a non-whitespace
/// byte (WB3–WB3d). Held equal to `split_word_bounds` by the proptest `ascii_tokens_*`.
struct AsciiTokens<'a> {
    rest: &'a str,
}

impl<'a> Iterator for AsciiTokens<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let b = self.rest.as_bytes();
        // Skip whitespace (`char::is_whitespace` in ASCII: \t \n \x0b \x0c \r and space).
        let start = b
            .iter()
            .position(|&c| !matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' '))?;
        let core = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        let mut i = start + 1;
        if core(b[start]) {
            while i < b.len() {
                let c = b[i];
                if core(c) {
                    i += 1;
                } else if i + 1 < b.len()
                    && match c {
                        b'\'' | b'.' => {
                            (b[i - 1].is_ascii_alphabetic() && b[i + 1].is_ascii_alphabetic())
                                || (b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit())
                        }
                        b':' => b[i - 1].is_ascii_alphabetic() && b[i + 1].is_ascii_alphabetic(),
                        b',' | b';' => b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit(),
                        _ => false,
                    }
                {
                    i += 2;
                } else {
                    break;
                }
            }
        }
        let tok = &self.rest[start..i];
        self.rest = &self.rest[i..];
        Some(tok)
    }
}

/// Paragraph boundaries: `[0, i1, i2, …, len]` for every `\n` at byte `i`.
pub fn paragraph_bounds(text: &str) -> Vec<usize> {
    let mut b = vec![0];
    b.extend(text.match_indices('\n').map(|(i, _)| i));
    b.push(text.len());
    b
}

/// Outcome of one document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocOutcome {
    /// Byte windows removed (paragraphs, or the whole text).
    pub removed: Vec<(usize, usize)>,
    pub whole_doc_removed: bool,
    pub total_ngrams: usize,
    pub contained_ngrams: usize,
    pub paragraphs: usize,
    pub paragraphs_removed: usize,
}

/// The units (paragraphs, or the whole text) of one document with their n-gram fingerprints,
/// flat: unit `i` is the byte window `windows[i]` with fingerprints `hashes[ends[i-1]..ends[i]]`
/// (one allocation per document, not one per paragraph).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Units {
    pub windows: Vec<(usize, usize)>,
    ends: Vec<usize>,
    pub hashes: Vec<u64>,
}

impl Units {
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Each unit's window and fingerprints.
    pub fn iter(&self) -> impl Iterator<Item = ((usize, usize), &[u64])> + '_ {
        self.windows.iter().enumerate().map(|(i, &w)| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            (w, &self.hashes[start..self.ends[i]])
        })
    }

    fn whole(hasher: &Hasher, text: &str, min_n: usize, max_n: usize) -> Units {
        let hashes = hasher.unit_ngrams(text, min_n, max_n);
        Units {
            windows: vec![(0, text.len())],
            ends: vec![hashes.len()],
            hashes,
        }
    }
}

/// Applies one unit list (each with its n-gram fingerprints) against the filter.
fn apply_units(
    filter: &mut BloomFilter,
    units: &Units,
    threshold: f64,
    update: bool,
) -> (Vec<(usize, usize)>, usize, usize) {
    let mut removed = Vec::new();
    let (mut total, mut contained_total) = (0, 0);
    for (window, hashes) in units.iter() {
        let contained = hashes.iter().filter(|&&h| filter.contains(h)).count();
        total += hashes.len();
        contained_total += contained;
        // 0/0 is NaN and NaN > t is false: an n-gram-less paragraph is kept, as upstream.
        if contained as f64 / hashes.len() as f64 > threshold {
            removed.push(window);
        } else if update {
            for &h in hashes {
                filter.insert(h);
            }
        }
    }
    (removed, total, contained_total)
}

/// Hashes of a document per paragraph (parallelisable part).
pub fn hash_paragraphs(hasher: &Hasher, text: &str, min_n: usize, max_n: usize) -> Units {
    let bounds = paragraph_bounds(text);
    let mut u = Units {
        windows: Vec::with_capacity(bounds.len() - 1),
        ends: Vec::with_capacity(bounds.len() - 1),
        hashes: Vec::new(),
    };
    let mut toks = Vec::new();
    for w in bounds.windows(2) {
        hasher.unit_ngrams_into(&text[w[0]..w[1]], min_n, max_n, &mut toks, &mut u.hashes);
        u.windows.push((w[0], w[1]));
        u.ends.push(u.hashes.len());
    }
    u
}

/// Runs one document through the filter (sequential part).
pub fn process_doc(
    filter: &mut BloomFilter,
    hasher: &Hasher,
    text: &str,
    paragraphs: &Units,
    cfg: &BffConfig,
) -> DocOutcome {
    let t = cfg.filtering_threshold;
    let doc_unit = || Units::whole(hasher, text, cfg.min_ngram_size, cfg.max_ngram_size);
    match cfg.remove_type {
        RemoveType::OldBoth | RemoveType::Paragraph => {
            let (removed, total, contained) = apply_units(filter, paragraphs, t, true);
            let whole =
                cfg.remove_type == RemoveType::OldBoth && contained as f64 / total as f64 > t;
            DocOutcome {
                paragraphs_removed: removed.len(),
                removed: if whole {
                    vec![(0, text.len())]
                } else {
                    removed
                },
                whole_doc_removed: whole,
                total_ngrams: total,
                contained_ngrams: contained,
                paragraphs: paragraphs.len(),
            }
        }
        RemoveType::Document => {
            let (removed, total, contained) = apply_units(filter, &doc_unit(), t, true);
            DocOutcome {
                whole_doc_removed: !removed.is_empty(),
                paragraphs_removed: 0,
                removed,
                total_ngrams: total,
                contained_ngrams: contained,
                paragraphs: paragraphs.len(),
            }
        }
        RemoveType::NaiveBoth => {
            let (removed, total, contained) = apply_units(filter, &doc_unit(), t, true);
            if !removed.is_empty() {
                return DocOutcome {
                    removed,
                    whole_doc_removed: true,
                    total_ngrams: total,
                    contained_ngrams: contained,
                    paragraphs: paragraphs.len(),
                    paragraphs_removed: 0,
                };
            }
            let (removed, total, contained) = apply_units(filter, paragraphs, t, true);
            DocOutcome {
                paragraphs_removed: removed.len(),
                removed,
                whole_doc_removed: false,
                total_ngrams: total,
                contained_ngrams: contained,
                paragraphs: paragraphs.len(),
            }
        }
    }
}

/// Text with the removed windows cut out.
pub fn cut(text: &str, removed: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for &(s, e) in removed {
        out.push_str(&text[last..s]);
        last = e;
    }
    out.push_str(&text[last..]);
    out
}

lmrepro_stage::tally! {
    /// Counters of a shard or run (a run's are the sum of its shards').
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct BffStats {
        pub files: u64,
        pub docs_in: u64,
        pub docs_out: u64,
        pub docs_removed_whole: u64,
        pub docs_emptied: u64,
        pub malformed_lines: u64,
        pub paragraphs: u64,
        pub paragraphs_removed: u64,
        pub text_bytes_in: u64,
        pub text_bytes_out: u64,
        pub ngrams: u64,
        pub contained_ngrams: u64,
    }
}

impl BffStats {
    /// Fraction of text bytes removed.
    pub fn removed_byte_fraction(&self) -> f64 {
        1.0 - self.text_bytes_out as f64 / self.text_bytes_in.max(1) as f64
    }
}

/// Runs one hashed document through the filter, counts it in `st` and returns what is written
/// (`None`: the document is dropped).
fn dedup_one(
    filter: &mut BloomFilter,
    hasher: &Hasher,
    mut doc: Doc,
    paras: &Units,
    cfg: &BffConfig,
    st: &mut BffStats,
) -> Option<Doc> {
    st.docs_in += 1;
    // Moved out of the document (an empty string stays in its place) and put back or replaced
    // below: no copy of the text.
    let text = match doc.get_mut("text") {
        Some(Value::String(t)) => std::mem::take(t),
        _ => String::new(),
    };
    let o = process_doc(filter, hasher, &text, paras, cfg);
    st.paragraphs += o.paragraphs as u64;
    st.paragraphs_removed += o.paragraphs_removed as u64;
    st.ngrams += o.total_ngrams as u64;
    st.contained_ngrams += o.contained_ngrams as u64;
    st.text_bytes_in += text.len() as u64;
    st.docs_removed_whole += o.whole_doc_removed as u64;
    if cfg.annotate {
        doc.insert("bff_duplicate_spans".into(), json!(o.removed));
        doc.insert(
            "bff_contained_ngram_count".into(),
            json!(o.contained_ngrams),
        );
        st.text_bytes_out += text.len() as u64;
        st.docs_out += 1;
        if let Some(Value::String(t)) = doc.get_mut("text") {
            *t = text;
        }
        return Some(doc);
    }
    let new_text = cut(&text, &o.removed);
    // Upstream drops a document whose output text is blank.
    if new_text.trim().is_empty() {
        if !o.whole_doc_removed {
            st.docs_emptied += 1;
        }
        return None;
    }
    st.text_bytes_out += new_text.len() as u64;
    st.docs_out += 1;
    doc.insert("text".into(), Value::String(new_text));
    if cfg.remove_type == RemoveType::OldBoth {
        doc.insert(
            "bff_contained_ngram_count_before_dedupe".into(),
            json!(o.contained_ngrams),
        );
    }
    Some(doc)
}

/// Deduplicates documents held in memory against `filter` (parallel hashing, sequential
/// filtering); [`run`] streams files through the same steps instead.
pub fn dedup_docs(
    filter: &mut BloomFilter,
    hasher: &Hasher,
    docs_in: Vec<Doc>,
    cfg: &BffConfig,
) -> (Vec<Doc>, BffStats) {
    let hashed: Vec<Units> = docs_in
        .par_iter()
        .map(|d| hash_paragraphs(hasher, text(d), cfg.min_ngram_size, cfg.max_ngram_size))
        .collect();
    let mut st = BffStats::default();
    let out = docs_in
        .into_iter()
        .zip(hashed)
        .filter_map(|(doc, paras)| dedup_one(filter, hasher, doc, &paras, cfg, &mut st))
        .collect();
    (out, st)
}

/// The decompressed size of `file` where it is cheap to know (a plain file's size, a zstd
/// frame's content size), else 0. The output is about that size: reserving it up front spares
/// the growing buffer's copies, which at 32 → 64 MB briefly held both (the peak memory).
pub(crate) fn decompressed_size_hint(file: &Path) -> usize {
    let name = file.to_string_lossy();
    if name.ends_with(".zst") || name.ends_with(".zstd") {
        let mut head = [0u8; 18];
        let n = std::fs::File::open(file)
            .and_then(|mut f| f.read(&mut head))
            .unwrap_or(0);
        match zstd::zstd_safe::get_frame_content_size(&head[..n]) {
            Ok(Some(size)) => usize::try_from(size).unwrap_or(0),
            _ => 0,
        }
    } else if name.ends_with(".gz") {
        0
    } else {
        std::fs::metadata(file).map_or(0, |m| m.len() as usize)
    }
}

/// Text bytes read ahead and hashed per batch: enough documents to keep the threads busy, few
/// enough that the batch (held twice: one hashed while the previous one is filtered) stays small
/// next to the output buffer.
const BATCH_TEXT_BYTES: usize = 256 << 10;

/// The next documents of `reader` (at least one unless it is exhausted), hashed in parallel.
fn next_batch(
    reader: &mut DocReader,
    hasher: &Hasher,
    cfg: &BffConfig,
) -> Result<Vec<(Doc, Units)>> {
    let mut docs = Vec::new();
    let mut bytes = 0;
    while bytes < BATCH_TEXT_BYTES {
        let Some(d) = reader.next() else { break };
        let (_, d) = d?;
        bytes += text(&d).len();
        docs.push(d);
    }
    Ok(docs
        .into_par_iter()
        .map(|d| {
            let u = hash_paragraphs(hasher, text(&d), cfg.min_ngram_size, cfg.max_ngram_size);
            (d, u)
        })
        .collect())
}

/// Deduplicates the documents of `reader` against `filter`, appending the kept ones as JSONL
/// lines to `out` (the bytes `to_jsonl` gives for the kept documents). Documents are streamed in
/// batches: the next batch is read and hashed while the current one goes through the filter in
/// order, so the result never depends on the thread count.
pub fn dedup_stream(
    filter: &mut BloomFilter,
    hasher: &Hasher,
    reader: &mut DocReader,
    cfg: &BffConfig,
    out: &mut Vec<u8>,
) -> Result<BffStats> {
    let mut st = BffStats::default();
    let mut cur = next_batch(reader, hasher, cfg)?;
    while !cur.is_empty() {
        let (next, ()) = rayon::join(
            || next_batch(reader, hasher, cfg),
            || {
                for (doc, paras) in cur {
                    if let Some(d) = dedup_one(filter, hasher, doc, &paras, cfg, &mut st) {
                        serde_json::to_writer(&mut *out, &d)
                            .expect("serialising a JSON value cannot fail");
                        out.push(b'\n');
                    }
                }
            },
        );
        cur = next?;
    }
    Ok(st)
}

/// Counts the n-grams BFF would insert (upper bound used to size the filter).
pub fn count_ngrams(files: &[PathBuf], cfg: &BffConfig) -> Result<u64> {
    let mut total = 0u64;
    for f in files {
        let (ds, _) = read_docs(f, OnMalformed::Skip)?;
        total += ds
            .par_iter()
            .map(|(_, d)| {
                paragraph_bounds(text(d))
                    .windows(2)
                    .map(|w| {
                        let n = Hasher::tokens(&text(d)[w[0]..w[1]]).count();
                        if n >= cfg.max_ngram_size {
                            (n - cfg.max_ngram_size + 1) as u64
                        } else {
                            (n > 0 && n >= cfg.min_ngram_size) as u64
                        }
                    })
                    .sum::<u64>()
            })
            .sum::<u64>();
    }
    Ok(total)
}

/// Result of a BFF run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BffReport {
    pub shards: Vec<ShardReport>,
    pub total: BffStats,
    pub removed_byte_fraction: f64,
    pub removed_doc_fraction: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardReport {
    pub shard_num: usize,
    pub plan: FilterPlan,
    pub filter_sparsity: f64,
    pub stats: BffStats,
}

/// Plans the filter of every shard that will run (so memory can be reported before any work).
pub fn plan(files: &[PathBuf], cfg: &BffConfig) -> Result<Vec<(usize, Vec<PathBuf>, FilterPlan)>> {
    if cfg.total_shards == 0 {
        bail!("total_shards must be at least 1");
    }
    if cfg.min_ngram_size == 0 || cfg.max_ngram_size < cfg.min_ngram_size {
        bail!("need 1 <= min_ngram_size <= max_ngram_size");
    }
    let shards: Vec<usize> = match cfg.shard_num {
        Some(s) if s >= cfg.total_shards => {
            bail!("shard_num {s} must be < total_shards {}", cfg.total_shards)
        }
        Some(s) => vec![s],
        None => (0..cfg.total_shards).collect(),
    };
    let mut out = Vec::new();
    for s in shards {
        let mut mine: Vec<PathBuf> = files
            .iter()
            .enumerate()
            .filter(|(i, _)| i % cfg.total_shards == s)
            .map(|(_, f)| f.clone())
            .collect();
        // Upstream shuffles the file order with thread_rng; we shuffle with the seed.
        mine.shuffle(&mut ChaCha20Rng::seed_from_u64(
            cfg.seed ^ ((s as u64) << 32),
        ));
        let n = match cfg.expected_ngram_count {
            Some(n) => n,
            None => count_ngrams(&mine, cfg)?,
        };
        out.push((s, mine, FilterPlan::new(n, cfg.fp_rate)));
    }
    Ok(out)
}

/// Runs BFF over `inputs` into stage directory `out` (resumable: a filter checkpoint is saved after
/// every file, then the file's `_done` marker).
pub fn run(
    inputs: &[PathBuf],
    out: &Path,
    cfg: &BffConfig,
    mut report_plan: impl FnMut(usize, &FilterPlan),
) -> Result<BffReport> {
    let files = expand_inputs(inputs)?;
    let names = shard_names(&files);
    let name_of = |p: &PathBuf| names[files.iter().position(|f| f == p).unwrap()].clone();
    let stage = ShardedStage::create(out)?;
    let state = out.join("_state");
    std::fs::create_dir_all(&state)?;
    let plans = plan(&files, cfg)?;
    for (s, _, p) in &plans {
        report_plan(*s, p);
    }
    let hasher = Hasher::new(cfg.seed);
    let mut reports = Vec::new();
    for (s, mine, plan) in plans {
        let ckpt = state.join(format!("bff_shard{s:04}.filter"));
        let (mut filter, mut done) = if ckpt.is_file() {
            BloomFilter::load(&ckpt)?
        } else {
            (BloomFilter::new(&plan, cfg.seed), 0)
        };
        if filter.size_in_bytes() != plan.size_bytes || filter.k != plan.num_hashers {
            bail!(
                "{} was made with other parameters; remove it to start over",
                ckpt.display()
            );
        }
        let mut st = BffStats::default();
        let pb = progress::bar(mine.len() as u64, &format!("bff shard {s}"));
        for (i, file) in mine.iter().enumerate() {
            let name = name_of(file);
            if (i as u64) < done {
                // Finished before the interruption: its filter state is in the checkpoint.
                let prev: BffStats = stage
                    .done_stats(&name)
                    .with_context(|| format!("stats of {name}"))?;
                st.tally(&prev);
                pb.inc(1);
                continue;
            }
            if cfg.stop_after_files.is_some_and(|n| i >= n) {
                pb.finish_and_clear();
                bail!("stopped after {i} files (stop_after_files)");
            }
            stage.clear(&name)?;
            let mut reader = DocReader::open(file, cfg.on_malformed)?;
            // The kept documents as JSONL, compressed in one piece at the end: a streaming
            // encoder would need less memory but frames the output differently (other bytes).
            let mut jsonl = Vec::with_capacity(decompressed_size_hint(file));
            let mut fst = dedup_stream(&mut filter, &hasher, &mut reader, cfg, &mut jsonl)?;
            fst.files = 1;
            fst.malformed_lines = reader.malformed();
            // Order matters for resuming: output, then marker, then filter (with `done`). The
            // filter's `done` is what a resumed run trusts; a file it counts must already have
            // its marker (the stats are read back from it). Killed between the marker and the
            // filter, the run redoes this file from the filter before it (`clear` drops the
            // marker first), which writes the same bytes. (The order was output, filter,
            // marker: a kill between the last two left a run that could not resume — "stats
            // of <file>" — seen while putting BFF under the kill -9 harness; regression test
            // `bff_dying_before_a_marker_resumes_identically`.)
            let shard_path = stage.shard_path(&name);
            let compressed = zstd::bulk::compress(&jsonl, 3)?;
            drop(jsonl);
            lmrepro_stage::write_atomic(
                &stage.temp_path(&name, ".jsonl.zst"),
                &shard_path,
                &compressed,
            )?;
            // Through a JSON value, so the marker's keys stay sorted as before (same bytes).
            stage.mark_done(&name, &serde_json::to_value(&fst)?)?;
            done = i as u64 + 1;
            filter.save(&ckpt, done)?;
            st.tally(&fst);
            pb.inc(1);
        }
        pb.finish_and_clear();
        reports.push(ShardReport {
            shard_num: s,
            plan,
            filter_sparsity: filter.sparsity(),
            stats: st,
        });
    }
    let total: BffStats = lmrepro_stage::sum(reports.iter().map(|r| &r.stats));
    let report = BffReport {
        removed_byte_fraction: total.removed_byte_fraction(),
        removed_doc_fraction: 1.0 - total.docs_out as f64 / total.docs_in.max(1) as f64,
        shards: reports,
        total,
    };
    stage.write_stats(&json!({"bff": report, "config": cfg}))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(n: usize) -> BffConfig {
        BffConfig {
            min_ngram_size: n,
            max_ngram_size: n,
            expected_ngram_count: Some(10_000),
            ..Default::default()
        }
    }

    fn doc(text: &str) -> Doc {
        let mut d = Doc::new();
        d.insert("text".into(), Value::String(text.into()));
        d.insert("id".into(), Value::String("x".into()));
        d
    }

    #[test]
    fn sizing_matches_upstream_formulas() {
        // Upstream sysreq for 1e6 n-grams at fp 0.01: ~1.2 MB, 7 hashers.
        let plan = FilterPlan::new(1_000_000, 0.01);
        assert_eq!(plan.num_hashers, 7);
        assert!(plan.predicted_fp_rate <= 0.0101, "{plan:?}");
        let bits_per = plan.size_bytes as f64 * 8.0 / 1e6;
        assert!((9.4..9.8).contains(&bits_per), "{bits_per}");
    }

    #[test]
    fn tokens_drop_whitespace() {
        let t: Vec<&str> = Hasher::tokens("Hello,  world!\r\n It's").collect();
        assert_eq!(t, vec!["Hello", ",", "world", "!", "It's"]);
    }

    proptest::proptest! {
        #[test]
        fn ascii_tokens_equal_word_bounds(t in "[a-c0-2 _'.:,;\"!\t\r\n\x0b\x0c\x1f()-]{0,40}") {
            let fast: Vec<&str> = Hasher::tokens(&t).collect();
            let slow: Vec<&str> = Hasher::tokens_unicode(&t).collect();
            proptest::prop_assert_eq!(fast, slow);
        }

        #[test]
        fn ascii_tokens_equal_word_bounds_any_ascii(t in "[\x00-\x7f]{0,40}") {
            let fast: Vec<&str> = Hasher::tokens(&t).collect();
            let slow: Vec<&str> = Hasher::tokens_unicode(&t).collect();
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn ascii_tokens_on_word_rules() {
        let t = "Can't e.g. a:b 3.14 1,000 1;2 4'5 x_1 _a a. .5 a.1 1.a http://x.y ...";
        let fast: Vec<&str> = Hasher::tokens(t).collect();
        let slow: Vec<&str> = Hasher::tokens_unicode(t).collect();
        assert_eq!(fast, slow);
        assert!(fast.contains(&"Can't") && fast.contains(&"1,000") && fast.contains(&"x_1"));
    }

    #[test]
    fn paragraphs_keep_their_leading_newline() {
        let text = "a b c\nd e f\n\nx";
        let b = paragraph_bounds(text);
        assert_eq!(b, vec![0, 5, 11, 12, 14]);
        assert_eq!(cut(text, &[(5, 11)]), "a b c\n\nx");
    }

    #[test]
    fn repeated_paragraphs_and_documents_are_removed() {
        let c = cfg(3);
        let plan = FilterPlan::new(10_000, 0.01);
        let mut f = BloomFilter::new(&plan, 1);
        let h = Hasher::new(1);
        let docs_in = vec![
            doc("one two three four\nfive six seven eight"),
            // Second paragraph repeats; first is new: only the repeat goes.
            doc("alpha beta gamma delta\nfive six seven eight"),
            // All repeated: the whole document goes.
            doc("one two three four\nfive six seven eight"),
            // Short paragraphs (< min n) have no n-grams and stay.
            doc("hi\nyo"),
            doc(""),
        ];
        let (out, st) = dedup_docs(&mut f, &h, docs_in, &c);
        let texts: Vec<&str> = out.iter().map(text).collect();
        assert_eq!(
            texts,
            vec![
                "one two three four\nfive six seven eight",
                "alpha beta gamma delta",
                "hi\nyo"
            ]
        );
        assert_eq!(st.docs_in, 5);
        assert_eq!(st.docs_out, 3);
        assert_eq!(st.docs_removed_whole, 1);
        // Unknown fields kept, upstream's count field added.
        assert_eq!(out[1]["id"], "x");
        assert_eq!(out[1]["bff_contained_ngram_count_before_dedupe"], 2);
    }

    #[test]
    fn within_document_repeats_are_removed() {
        let c = cfg(2);
        let mut f = BloomFilter::new(&FilterPlan::new(1000, 0.01), 3);
        let h = Hasher::new(3);
        let (out, _) = dedup_docs(&mut f, &h, vec![doc("a b c\nx y\na b c")], &c);
        assert_eq!(text(&out[0]), "a b c\nx y");
    }

    #[test]
    fn naive_both_removes_the_rest() {
        let c = BffConfig {
            remove_type: RemoveType::NaiveBoth,
            ..cfg(2)
        };
        let mut f = BloomFilter::new(&FilterPlan::new(1000, 0.01), 3);
        let h = Hasher::new(3);
        // The document pass inserts every n-gram, so the paragraph pass finds them all.
        let (out, _) = dedup_docs(&mut f, &h, vec![doc("a b c\nd e f")], &c);
        assert!(out.is_empty());
    }
}
