//! The fast encoder: HF's `encode(text, add_special_tokens=False)` for byte-level BPE tokenizers
//! (GPT-2 / GPT-NeoX family), built from the same `tokenizer.json`, with the same ids.
//!
//! Pipeline, step for step as HF `tokenizers` 0.22 (`AddedVocabulary::extract_and_normalize`,
//! `ByteLevel` pre-tokenizer, `BPE::tokenize`):
//! 1. split the raw text on the added tokens with `normalized: false` (leftmost-longest);
//! 2. NFC-normalize each remaining segment (or leave it, with no normalizer), then split it on the
//!    added tokens with `normalized: true` (their contents normalized too);
//! 3. cut each remaining piece into pre-tokens with the GPT-2 regex ([`crate::pretok`]);
//! 4. BPE each pre-token's UTF-8 bytes: start from one symbol per byte, repeatedly merge the pair
//!    of lowest rank (leftmost first) — what HF's priority queue does.
//!
//! Speed comes from skipping what HF does for offsets and strings (no `NormalizedString`
//! alignments, no byte → char remapping: ids are looked up by raw bytes) and from a per-thread
//! cache of pre-token → ids.
//!
//! Anything this path does not implement (other normalizers or pre-tokenizers, BPE dropout,
//! unknown-token handling, subword prefixes/suffixes, byte fallback, added tokens with
//! `single_word`/`lstrip`/`rstrip`, truncation, padding) makes [`FastBpe::from_json`] return the
//! reason; the caller then keeps HF's encoder.

use crate::pretok::Classes;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use anyhow::{anyhow, bail, Result};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use unicode_normalization_alignments::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// GPT-2's `bytes_to_unicode`: the printable character standing for each byte in the vocabulary.
fn byte_chars() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..256u32 {
        let printable = (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
        out[b as usize] = if printable {
            char::from_u32(b).expect("latin-1")
        } else {
            n += 1;
            char::from_u32(255 + n).expect("BMP")
        };
    }
    out
}

/// Pre-tokens of at most this many bytes are cached (longer ones are rare and rarely repeat).
const CACHE_MAX_PIECE: usize = 48;
/// A thread's cache is cleared when it holds this many pieces (bounds memory on odd inputs).
const CACHE_MAX_ENTRIES: usize = 1 << 18;

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// Piece bytes → ids.
type PieceCache = FxHashMap<Box<[u8]>, Box<[u32]>>;

thread_local! {
    /// (instance it belongs to, cache). One per thread: no locking on the hot path.
    static CACHE: RefCell<(u64, PieceCache)> = RefCell::new((0, FxHashMap::default()));
}

/// Added tokens of one kind: automaton over their contents and the id of each pattern.
struct AddedSet {
    automaton: AhoCorasick,
    ids: Vec<u32>,
}

impl AddedSet {
    fn new(patterns: &[String], ids: Vec<u32>) -> Result<Option<AddedSet>> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(patterns)?;
        Ok(Some(AddedSet { automaton, ids }))
    }

    /// Calls `f` with the text between matches and with each match's id, in order.
    fn split(set: Option<&AddedSet>, s: &str, mut f: impl FnMut(Part<'_>)) {
        let Some(set) = set else {
            f(Part::Text(s));
            return;
        };
        let mut start = 0;
        for m in set.automaton.find_iter(s) {
            if start < m.start() {
                f(Part::Text(&s[start..m.start()]));
            }
            f(Part::Token(set.ids[m.pattern().as_usize()]));
            start = m.end();
        }
        if start < s.len() {
            f(Part::Text(&s[start..]));
        }
    }
}

/// A piece of text around added tokens, or an added token's id.
enum Part<'s> {
    Text(&'s str),
    Token(u32),
}

/// Byte-level BPE encoder equivalent to HF's for the supported configurations.
pub(crate) struct FastBpe {
    instance: u64,
    nfc: bool,
    ignore_merges: bool,
    raw_added: Option<AddedSet>,
    normalized_added: Option<AddedSet>,
    classes: Classes,
    /// Id of each single byte.
    byte_ids: [u32; 256],
    /// (left id, right id) → (rank, merged id).
    merges: FxHashMap<(u32, u32), (u32, u32)>,
    /// Raw bytes of each vocabulary entry → id (only for `ignore_merges`).
    vocab_bytes: FxHashMap<Vec<u8>, u32>,
}

fn nfc(s: &str) -> Cow<'_, str> {
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().map(|(c, _)| c).collect())
    }
}

fn expect_null_or(v: &Value, key: &str, ok: impl Fn(&Value) -> bool) -> Result<()> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(x) if ok(x) => Ok(()),
        Some(x) => bail!("{key} = {x} is not supported"),
    }
}

impl FastBpe {
    /// Builds the encoder from a parsed `tokenizer.json`, or says why this configuration is not
    /// one it implements.
    pub(crate) fn from_json(json: &Value) -> Result<FastBpe> {
        expect_null_or(json, "truncation", |_| false)?;
        expect_null_or(json, "padding", |_| false)?;
        let nfc = match json.get("normalizer") {
            None | Some(Value::Null) => false,
            Some(n) if n["type"] == "NFC" => true,
            Some(n) => bail!(
                "normalizer {} is not supported (only NFC or none)",
                n["type"]
            ),
        };
        let pre = &json["pre_tokenizer"];
        if pre["type"] != "ByteLevel" {
            bail!(
                "pre_tokenizer {} is not supported (only ByteLevel)",
                pre["type"]
            );
        }
        if pre["add_prefix_space"] != false {
            bail!("ByteLevel add_prefix_space must be false");
        }
        if !matches!(pre.get("use_regex"), None | Some(Value::Bool(true))) {
            bail!("ByteLevel use_regex = false is not supported");
        }
        let model = &json["model"];
        if model["type"] != "BPE" {
            bail!("model {} is not supported (only BPE)", model["type"]);
        }
        expect_null_or(model, "dropout", |d| d.as_f64() == Some(0.0))?;
        expect_null_or(model, "unk_token", |_| false)?;
        expect_null_or(model, "continuing_subword_prefix", |_| false)?;
        expect_null_or(model, "end_of_word_suffix", |_| false)?;
        expect_null_or(model, "byte_fallback", |b| b == false)?;
        let ignore_merges = model["ignore_merges"] == true;

        let to_byte: FxHashMap<char, u8> = byte_chars()
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect();
        let vocab = model["vocab"]
            .as_object()
            .ok_or_else(|| anyhow!("model.vocab is not an object"))?;
        let mut vocab_bytes: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
        let mut by_token: FxHashMap<&str, u32> = FxHashMap::default();
        for (token, id) in vocab {
            let id = id
                .as_u64()
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| anyhow!("model.vocab[{token:?}] is not a u32 id"))?;
            by_token.insert(token, id);
            // Tokens with characters outside the byte alphabet can never be produced by byte-level
            // BPE (HF's merges could not reach them either); they are simply not indexed.
            if let Some(bytes) = token
                .chars()
                .map(|c| to_byte.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
            {
                vocab_bytes.insert(bytes, id);
            }
        }
        // Bytes that never occur in UTF-8 (0xC0, 0xC1, 0xF5-0xFF) may be missing (GPT-NeoX lacks
        // 0xC0 and 0xC1); any other missing byte would be dropped by HF, which we do not mimic.
        let mut byte_ids = [u32::MAX; 256];
        for (b, c) in byte_chars().iter().enumerate() {
            match by_token.get(c.to_string().as_str()) {
                Some(&id) => byte_ids[b] = id,
                None if b == 0xC0 || b == 0xC1 || b >= 0xF5 => {}
                None => bail!("byte {b:#04x} ({c:?}) is not in the vocabulary (HF would drop it)"),
            }
        }
        let merges_json = model["merges"]
            .as_array()
            .ok_or_else(|| anyhow!("model.merges is not an array"))?;
        let mut merges: FxHashMap<(u32, u32), (u32, u32)> = FxHashMap::default();
        for (rank, m) in merges_json.iter().enumerate() {
            let (a, b) = match m {
                // Legacy "a b": exactly one space, as HF's convert_merges_to_hashmap requires.
                Value::String(s) => {
                    let parts: Vec<&str> = s.split(' ').collect();
                    match parts[..] {
                        [a, b] => (a, b),
                        _ => bail!("merge {rank} {s:?} is not two tokens"),
                    }
                }
                Value::Array(p) => match &p[..] {
                    [Value::String(a), Value::String(b)] => (a.as_str(), b.as_str()),
                    _ => bail!("merge {rank} {m} is not two tokens"),
                },
                _ => bail!("merge {rank} {m} is not a string or pair"),
            };
            let id = |t: &str| {
                by_token
                    .get(t)
                    .copied()
                    .ok_or_else(|| anyhow!("merge {rank}: {t:?} is not in the vocabulary"))
            };
            let merged = format!("{a}{b}");
            // Later duplicates overwrite earlier ones, as in HF's map.
            merges.insert((id(a)?, id(b)?), (rank as u32, id(&merged)?));
        }

        let mut raw = (Vec::new(), Vec::new());
        let mut normalized = (Vec::new(), Vec::new());
        for t in json["added_tokens"].as_array().into_iter().flatten() {
            let content = t["content"]
                .as_str()
                .ok_or_else(|| anyhow!("added token {t} has no content"))?;
            for flag in ["single_word", "lstrip", "rstrip"] {
                if t[flag] == true {
                    bail!("added token {content:?} has {flag} = true (not supported)");
                }
            }
            let id = t["id"]
                .as_u64()
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| anyhow!("added token {content:?} has no u32 id"))?;
            if content.is_empty() {
                continue;
            }
            if t["normalized"] == true {
                let c = if nfc {
                    nfc_owned(content)
                } else {
                    content.to_string()
                };
                normalized.0.push(c);
                normalized.1.push(id);
            } else {
                raw.0.push(content.to_string());
                raw.1.push(id);
            }
        }
        Ok(FastBpe {
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            nfc,
            ignore_merges,
            raw_added: AddedSet::new(&raw.0, raw.1)?,
            normalized_added: AddedSet::new(&normalized.0, normalized.1)?,
            classes: Classes::new()?,
            byte_ids,
            merges,
            vocab_bytes,
        })
    }

    /// Ids of `text` (no special tokens added), appended to `out`.
    pub(crate) fn encode(&self, text: &str, out: &mut Vec<u32>) {
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != self.instance {
                *cache = (self.instance, FxHashMap::default());
            }
            let cache = &mut cache.1;
            AddedSet::split(self.raw_added.as_ref(), text, |part| match part {
                Part::Token(id) => out.push(id),
                Part::Text(segment) => {
                    let segment = if self.nfc {
                        nfc(segment)
                    } else {
                        Cow::Borrowed(segment)
                    };
                    AddedSet::split(
                        self.normalized_added.as_ref(),
                        &segment,
                        |part| match part {
                            Part::Token(id) => out.push(id),
                            Part::Text(t) => self
                                .classes
                                .split(t, |piece| self.piece(piece.as_bytes(), cache, out)),
                        },
                    );
                }
            });
        });
    }

    fn piece(
        &self,
        piece: &[u8],
        cache: &mut FxHashMap<Box<[u8]>, Box<[u32]>>,
        out: &mut Vec<u32>,
    ) {
        if piece.len() == 1 {
            out.push(self.byte_ids[piece[0] as usize]);
            return;
        }
        if piece.len() > CACHE_MAX_PIECE {
            self.bpe(piece, out);
            return;
        }
        if let Some(ids) = cache.get(piece) {
            out.extend_from_slice(ids);
            return;
        }
        let start = out.len();
        self.bpe(piece, out);
        if cache.len() >= CACHE_MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(piece.into(), out[start..].into());
    }

    /// BPE of one pre-token, HF's `Word::merge_all` without dropout: a heap of (rank, position)
    /// over live adjacent pairs; stale entries are skipped when popped.
    fn bpe(&self, piece: &[u8], out: &mut Vec<u32>) {
        if self.ignore_merges {
            if let Some(&id) = self.vocab_bytes.get(piece) {
                out.push(id);
                return;
            }
        }
        let n = piece.len();
        let mut ids: Vec<u32> = piece.iter().map(|&b| self.byte_ids[b as usize]).collect();
        // Doubly linked list over symbol positions; `alive[i]` false once merged into its left.
        let mut next: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut alive = vec![true; n];
        let mut heap: BinaryHeap<Reverse<(u32, usize, u32)>> = BinaryHeap::with_capacity(n);
        for i in 0..n - 1 {
            if let Some(&(rank, new)) = self.merges.get(&(ids[i], ids[i + 1])) {
                heap.push(Reverse((rank, i, new)));
            }
        }
        while let Some(Reverse((_, pos, new))) = heap.pop() {
            if !alive[pos] || next[pos] >= n {
                continue;
            }
            let right = next[pos];
            // Stale if either side changed since the entry was pushed.
            match self.merges.get(&(ids[pos], ids[right])) {
                Some(&(_, m)) if m == new => {}
                _ => continue,
            }
            ids[pos] = new;
            alive[right] = false;
            next[pos] = next[right];
            if next[pos] < n {
                prev[next[pos]] = pos;
            }
            let p = prev[pos];
            if p < n {
                if let Some(&(rank, m)) = self.merges.get(&(ids[p], ids[pos])) {
                    heap.push(Reverse((rank, p, m)));
                }
            }
            let q = next[pos];
            if q < n {
                if let Some(&(rank, m)) = self.merges.get(&(ids[pos], ids[q])) {
                    heap.push(Reverse((rank, pos, m)));
                }
            }
        }
        let mut i = 0;
        while i < n {
            out.push(ids[i]);
            i = next[i];
        }
    }
}

fn nfc_owned(s: &str) -> String {
    nfc(s).into_owned()
}
