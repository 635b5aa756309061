//! MinHash-LSH near-duplicate removal compatible with datatrove's `MinhashDedup*` steps, and exact
//! (content-hash) deduplication.
//!
//! Flow (each step streams from disk, so it scales past memory like datatrove's):
//! 1. **signatures** — per input file `f`: text → [`simplify_text`] → words ([`word_tokenize`]) →
//!    shingles = xxh64(`" ".join(n words)`) → `num_buckets × hashes_per_bucket` minima of
//!    `((shingle · a + b) mod 2^64) mod (2^61 − 1)` (numpy's wrapping uint64 arithmetic; `a, b` drawn
//!    exactly as `np.random.RandomState(seed).randint`). Per bucket `b` a sorted file
//!    `sigs/bucket_bbb/fffff.sig` of `(hashes…, doc)` records, as datatrove writes them.
//! 2. **buckets** — per bucket, a k-way merge of the sorted files; two consecutive equal band
//!    signatures make a duplicate pair `(file, doc, file, doc)` in `dups/bbbbb.dups`.
//! 3. **clusters** — union–find over all pairs with datatrove's rules (union by size; ties keep the
//!    first root); every node that is not its root is removed.
//! 4. **filter** — rewrite the inputs without the removed documents.
//!
//! Documents with fewer words than `n_grams` get no signature and are never duplicates (datatrove).

use anyhow::{bail, ensure, Context, Result};
use lmrepro_pycompat::numpy::RandomState;
use lmrepro_stage::{
    expand_inputs, progress, read_docs, shard_names, text, write_atomic, Doc, DocReader,
    OnMalformed, ShardedStage, Tally,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use lmrepro_stage::flat_json::{escape_mask, needs_escape};

/// The Mersenne prime 2^61 − 1 (datatrove's modulus).
pub const MERSENNE_PRIME: u64 = (1 << 61) - 1;

/// Parameters (defaults = datatrove's `MinhashConfig`: 5-grams, 14 buckets × 8 hashes, seed 1,
/// 64-bit xxhash). Also the `dedup minhash` flags: the clap defaults equal [`Default`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct MinhashConfig {
    #[arg(long, default_value_t = 5)]
    pub n_grams: usize,
    /// Bands (datatrove `num_buckets`); DCLM's ablation used 15 × 93.
    #[arg(long, default_value_t = 14)]
    pub num_buckets: usize,
    /// Rows per band (datatrove `hashes_per_bucket`).
    #[arg(long, default_value_t = 8)]
    pub hashes_per_bucket: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u32,
    /// Set from the input options (`--on-malformed`).
    #[arg(skip)]
    pub on_malformed: OnMalformed,
}

impl Default for MinhashConfig {
    fn default() -> Self {
        MinhashConfig {
            n_grams: 5,
            num_buckets: 14,
            hashes_per_bucket: 8,
            seed: 1,
            on_malformed: OnMalformed::Error,
        }
    }
}

/// The `(a, b)` permutation parameters datatrove draws for `num_hashes` hash functions.
pub fn parameters(seed: u32, num_hashes: usize) -> (Vec<u64>, Vec<u64>) {
    let mut g = RandomState::new(seed);
    let a = (0..num_hashes)
        .map(|_| g.randint_u64(1, MERSENNE_PRIME))
        .collect();
    let b = (0..num_hashes)
        .map(|_| g.randint_u64(0, MERSENNE_PRIME))
        .collect();
    (a, b)
}

// ---------------------------------------------------------------- text normalisation ----------

/// datatrove's `PUNCTUATION` string (each char becomes a space), incl. C0/C1 control ranges.
fn punctuation() -> &'static HashSet<char> {
    static P: OnceLock<HashSet<char>> = OnceLock::new();
    P.get_or_init(|| {
        let mut s: HashSet<char> =
            "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
                .chars()
                .collect();
        for (a, b) in [(0u32, 9u32), (11, 13), (13, 32), (127, 160)] {
            for x in a..b {
                s.insert(char::from_u32(x).unwrap());
            }
        }
        s
    })
}

/// datatrove's `simplify_text` with the default `TextNormConfig`: lowercase, numbers → `0`,
/// punctuation → space, whitespace runs → one space, NFD without nonspacing marks, strip.
///
/// One pass over the lowercased text instead of five (the steps of [`reference::simplify_text`],
/// which the proptests hold this equal to): ASCII bytes go through a table; other characters
/// take the reference's own tests (the same regex classes and punctuation set). NFD and the
/// removal of nonspacing marks only touch the non-ASCII runs: ASCII characters are starters
/// without decomposition, so NFD of a text is the concatenation of NFD of its ASCII and
/// non-ASCII runs (canonical reordering never crosses a starter).
pub fn simplify_text(text: &str) -> String {
    simplify(text).0
}

/// [`simplify_text`], and whether its words are known to be exactly one space apart (the ASCII
/// case; NFD and mark removal can leave runs of spaces, e.g. where a word was only marks).
fn simplify(text: &str) -> (String, bool) {
    // The reference lowercases with `str::to_lowercase`, which differs from lowercasing
    // character by character only in the final-sigma rule of `Σ`: texts with one take the
    // reference's lowercasing first.
    let joined = match collapse(text, true) {
        Some(joined) => joined,
        None => collapse(&text.to_lowercase(), false).expect("collapse without lowercasing"),
    };
    if joined.is_ascii() {
        // No decomposition, no marks, no edge whitespace: already the reference's result.
        return (joined, true);
    }
    nfd_without_marks(&joined)
}

/// What [`collapse`] does with an ASCII byte: separate words, start a number, or its lowercase.
#[derive(Clone, Copy, PartialEq)]
enum AsciiClass {
    Separator,
    Digit,
    Letter(u8),
}

/// Per ASCII byte, its class after the punctuation step (punctuation, control and whitespace
/// separate words). Built from the same set as the reference so both agree by construction.
fn ascii_classes() -> &'static [AsciiClass; 128] {
    static T: OnceLock<[AsciiClass; 128]> = OnceLock::new();
    T.get_or_init(|| {
        let p = punctuation();
        std::array::from_fn(|b| {
            let c = b as u8 as char;
            if c.is_ascii_digit() {
                AsciiClass::Digit
            } else if p.contains(&c) || c.is_whitespace() {
                AsciiClass::Separator
            } else {
                AsciiClass::Letter(c.to_ascii_lowercase() as u8)
            }
        })
    })
}

fn is_nd(c: char) -> bool {
    static R: OnceLock<regex::Regex> = OnceLock::new();
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    let mut buf = [0u8; 4];
    R.get_or_init(|| regex::Regex::new(r"\A\p{Nd}\z").unwrap())
        .is_match(c.encode_utf8(&mut buf))
}

fn is_mn(c: char) -> bool {
    static R: OnceLock<regex::Regex> = OnceLock::new();
    let mut buf = [0u8; 4];
    !c.is_ascii()
        && R.get_or_init(|| regex::Regex::new(r"\A\p{Mn}\z").unwrap())
            .is_match(c.encode_utf8(&mut buf))
}

/// End of the number match that starts (with a `\p{Nd}`) at byte `i` of `s`: the reference's
/// `\p{Nd}+(?:[.,،٫⎖⎗⎘]\p{Nd}+)?`, greedy.
fn number_end(s: &str, i: usize) -> usize {
    let digits_end = |mut i: usize| {
        while let Some(c) = s[i..].chars().next().filter(|&c| is_nd(c)) {
            i += c.len_utf8();
        }
        i
    };
    let i = digits_end(i);
    match s[i..].chars().next() {
        Some(sep @ ('.' | ',' | '،' | '٫' | '⎖' | '⎗' | '⎘')) => {
            let j = i + sep.len_utf8();
            if s[j..].chars().next().is_some_and(is_nd) {
                digits_end(j)
            } else {
                i
            }
        }
        _ => i,
    }
}

/// What [`collapse`]'s fast loop does with a byte: write this byte (the lowercased letter, or a
/// space for a separator: a space is never a letter's output, so it marks separators), or take
/// the slow path ([`ACT_SLOW`]).
const ACT_SEPARATOR: u8 = b' ';
const ACT_SLOW: u8 = 0x80;

/// Per byte, [`collapse`]'s action (digits and non-ASCII bytes take the slow path).
fn ascii_actions(lowercase: bool) -> &'static [u8; 256] {
    static LOWER: OnceLock<[u8; 256]> = OnceLock::new();
    static KEEP: OnceLock<[u8; 256]> = OnceLock::new();
    let build = |lowercase: bool| {
        let c = ascii_classes();
        std::array::from_fn(|b| match c.get(b) {
            Some(AsciiClass::Letter(l)) if lowercase => *l,
            Some(AsciiClass::Letter(_)) => b as u8,
            Some(AsciiClass::Separator) => ACT_SEPARATOR,
            Some(AsciiClass::Digit) | None => ACT_SLOW,
        })
    };
    if lowercase {
        LOWER.get_or_init(|| build(true))
    } else {
        KEEP.get_or_init(|| build(false))
    }
}

/// Lowercase (when `lowercase`; character by character), numbers → `0`, punctuation → space,
/// whitespace runs → one space, no edge spaces: the reference's steps 1–4 in one pass. Digits,
/// number separators, punctuation and whitespace are caseless and no character lowercases into
/// one, so classifying before lowercasing is the same as after. `None` when lowercasing meets a
/// `Σ` (its final-sigma rule needs `str::to_lowercase`; the caller lowercases first then).
fn collapse(text: &str, lowercase: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let act = ascii_actions(lowercase);
    // Room for the blocks' 64-byte stores from the start: a `reserve` past the capacity would
    // `realloc`, which copies the whole (still empty) allocation of a book's size.
    let mut out: Vec<u8> = Vec::with_capacity(text.len() + 64);
    // The last byte written is a separating space, or nothing was written: a separator writes
    // one space when this is false (trailing space removed at the end).
    let mut gap = true;
    let mut i = 0;
    let blocks = collapse_blocks_available();
    while i < bytes.len() {
        #[cfg(target_arch = "x86_64")]
        if blocks {
            out.reserve(bytes.len() - i + 64);
            // SAFETY: the CPU has the features (`collapse_blocks_available`).
            (i, gap) = unsafe { collapse_blocks_avx512(bytes, i, act, &mut out, gap) };
        }
        // Where the blocks stopped (a digit or non-ASCII byte within the next 64, or the last
        // bytes), the byte loop takes over up to that byte; without them, to the end.
        let limit = if blocks {
            bytes.len().min(i + 64)
        } else {
            bytes.len()
        };
        // Fast loop over ASCII letters and separators (almost all of the text): at most one
        // output byte per input byte.
        out.reserve(bytes.len() - i);
        let spare = out.spare_capacity_mut();
        let mut o = 0;
        // Branch-free per byte (word boundaries come every few bytes: a branch on letter vs
        // separator mispredicted at each): the byte is always stored, and the output advances
        // unless it is a separator following a separator (or the start).
        while i < limit {
            let a = act[bytes[i] as usize];
            if a == ACT_SLOW {
                break;
            }
            let sep = a == ACT_SEPARATOR;
            spare[o].write(a);
            o += !(sep & gap) as usize;
            gap = sep;
            i += 1;
        }
        // SAFETY: the loop above initialised spare[..o], the bytes following `out`'s length.
        unsafe { out.set_len(out.len() + o) };
        if i == bytes.len() {
            break;
        }
        if act[bytes[i] as usize] != ACT_SLOW {
            // The byte loop stopped at its limit: back to the blocks.
            continue;
        }
        // A digit or a non-ASCII character.
        let c = text[i..].chars().next().expect("a char at a char boundary");
        let w = c.len_utf8();
        // Numbers first: some digits (fullwidth `１`) are in the punctuation set too.
        if is_nd(c) {
            i = number_end(text, i);
            out.push(b'0');
            gap = false;
        } else if c.is_whitespace() || punctuation().contains(&c) {
            if !gap {
                out.push(b' ');
                gap = true;
            }
            i += w;
        } else {
            if lowercase {
                if c == 'Σ' {
                    return None;
                }
                let mut buf = [0u8; 4];
                for l in c.to_lowercase() {
                    out.extend_from_slice(l.encode_utf8(&mut buf).as_bytes());
                }
            } else {
                out.extend_from_slice(&bytes[i..i + w]);
            }
            gap = false;
            i += w;
        }
    }
    if gap && !out.is_empty() {
        out.pop();
    }
    Some(String::from_utf8(out).expect("whole characters were copied"))
}

/// Whether [`collapse_blocks_avx512`] can run here.
fn collapse_blocks_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vbmi")
            && is_x86_feature_detected!("avx512vbmi2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`collapse`]'s byte loop 64 bytes at a time, from byte `i` with the loop's `gap`, for as
/// long as a whole block holds only ASCII letters and separators; returns where it stopped and
/// the `gap` there. Same bytes as the loop: each byte's action is the table's (`vpermi2b`
/// looks up all 64 in the 128-entry ASCII half of `act`), and a byte is kept unless it is a
/// separator after a separator (`sep & (sep << 1 | gap)`), which `vpcompressb` packs. Needs
/// `out` to have room for 64 bytes past its length (it stores a whole register and keeps the
/// packed bytes). Why: the byte loop was ~5 % of the run at ~8 instructions a byte.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2")]
unsafe fn collapse_blocks_avx512(
    bytes: &[u8],
    mut i: usize,
    act: &[u8; 256],
    out: &mut Vec<u8>,
    mut gap: bool,
) -> (usize, bool) {
    use std::arch::x86_64::*;
    let table_lo = _mm512_loadu_si512(act[..64].as_ptr().cast());
    let table_hi = _mm512_loadu_si512(act[64..128].as_ptr().cast());
    let space = _mm512_set1_epi8(ACT_SEPARATOR as i8);
    while i + 64 <= bytes.len() {
        let v = _mm512_loadu_si512(bytes[i..i + 64].as_ptr().cast());
        // act[v & 127]; non-ASCII bytes and the slow actions both have the top bit set.
        let a = _mm512_permutex2var_epi8(table_lo, v, table_hi);
        if _mm512_movepi8_mask(v) | _mm512_movepi8_mask(a) != 0 {
            break;
        }
        let sep = _mm512_cmpeq_epi8_mask(a, space);
        let keep = !(sep & (sep << 1 | gap as u64));
        out.reserve(64);
        let len = out.len();
        // SAFETY: `reserve` made room for the 64 bytes stored; the first `count_ones(keep)`
        // of them are the packed bytes kept.
        _mm512_storeu_si512(
            out.as_mut_ptr().add(len).cast(),
            _mm512_maskz_compress_epi8(keep, a),
        );
        out.set_len(len + keep.count_ones() as usize);
        gap = sep >> 63 != 0;
        i += 64;
    }
    (i, gap)
}

/// NFD without `\p{Mn}`, then `strip` (the reference's steps 5–6), run by run.
fn nfd_without_marks(s: &str) -> (String, bool) {
    use unicode_normalization::UnicodeNormalization;
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    // A non-ASCII whitespace character came out of NFD (never seen; checked, not assumed).
    let mut odd_space = false;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i] < 0x80 {
            i += 1;
        }
        out.push_str(&s[start..i]);
        let start = i;
        while i < bytes.len() && bytes[i] >= 0x80 {
            i += 1;
        }
        for c in s[start..i].nfd().filter(|&c| !is_mn(c)) {
            odd_space |= c.is_whitespace();
            out.push(c);
        }
    }
    let out = match out.trim() {
        t if t.len() == out.len() => out,
        t => t.to_string(),
    };
    // The ASCII part of `s` is words one space apart; a word of marks only leaves two spaces.
    let single_spaced = !odd_space && !out.contains("  ");
    (out, single_spaced)
}

/// NLTK's Treebank contraction splits that survive `simplify_text` (no apostrophe needed):
/// the split position, for a word that is followed by another word or not.
#[inline]
fn contraction_split(word: &str, followed: bool) -> Option<usize> {
    // Most words of 5 or 6 bytes start with another letter: one test instead of five
    // comparisons (`| 0x20` maps only `G`/`g`, `L`/`l`, `W`/`w`, `C`/`c` to these).
    if !matches!(
        word.as_bytes().first().map(|b| b | 0x20),
        Some(b'g' | b'l' | b'w' | b'c')
    ) {
        return None;
    }
    // The words are lowercase already, but the reference lowercases again: only ASCII letters
    // can lowercase into these ASCII words (the Kelvin sign gives `k`, which none contains).
    let is = |w: &str| word.eq_ignore_ascii_case(w);
    match word.len() {
        5 if is("gimme") || is("lemme") || is("gonna") || is("gotta") => Some(3),
        5 if followed && is("wanna") => Some(3),
        6 if is("cannot") => Some(3),
        _ => None,
    }
}

/// NLTK `word_tokenize` on simplified text (no punctuation left, so only whitespace splitting and
/// the Treebank contraction splits that need no apostrophe apply).
pub fn word_tokenize(simplified: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = simplified.split_whitespace().peekable();
    while let Some(w) = words.next() {
        match contraction_split(w, words.peek().is_some()) {
            Some(k) => {
                out.push(w[..k].to_string());
                out.push(w[k..].to_string());
            }
            None => out.push(w.to_string()),
        }
    }
    out
}

/// Shingles of a document: xxh64 of each space-joined n-gram of words.
///
/// Every n-gram's join is a slice of one buffer holding the words one space apart: the
/// simplified text itself when its words are one space apart and none splits; with a split
/// (`cannot` → `can not`), a copy with the splitting spaces inserted (no string per word or per
/// n-gram either way).
pub fn shingles(text: &str, n: usize) -> Vec<u64> {
    let (simplified, single_spaced) = simplify(text);
    let rebuilt;
    let words_of: &str = if single_spaced {
        &simplified
    } else {
        // Runs of spaces (or other whitespace): the words one space apart first.
        rebuilt = simplified.split_whitespace().collect::<Vec<_>>().join(" ");
        &rebuilt
    };
    let mut spans: Vec<[u32; 2]> = Vec::with_capacity(words_of.len() / 4);
    // `words_of` copied up to `copied`, with a space inserted at every split so far.
    let mut split_copy: Option<(String, usize)> = None;
    // Spaces inserted so far (the copy's length minus the bytes of `words_of` copied).
    let mut shift = 0usize;
    let mut push_word = |s: usize, e: usize, followed: bool, spans: &mut Vec<[u32; 2]>| {
        // Only words of 5 or 6 bytes can split: the others skip the comparisons.
        if !matches!(e - s, 5 | 6) {
            spans.push([(s + shift) as u32, (e + shift) as u32]);
            return;
        }
        match contraction_split(&words_of[s..e], followed) {
            Some(k) => {
                let (b, c) = split_copy
                    .get_or_insert_with(|| (String::with_capacity(words_of.len() + 64), 0));
                b.push_str(&words_of[*c..s + k]);
                b.push(' ');
                *c = s + k;
                spans.push([(s + shift) as u32, (s + k + shift) as u32]);
                spans.push([(s + k + shift + 1) as u32, (e + shift + 1) as u32]);
                shift += 1;
            }
            None => spans.push([(s + shift) as u32, (e + shift) as u32]),
        }
    };
    let b = words_of.as_bytes();
    if !b.is_empty() {
        let mut start = 0;
        for_each_space(b, |end| {
            push_word(start, end, true, &mut spans);
            start = end + 1;
        });
        push_word(start, b.len(), false, &mut spans);
    }
    let buf: &str = match &mut split_copy {
        Some((b, c)) => {
            b.push_str(&words_of[*c..]);
            b
        }
        None => words_of,
    };
    if n == 0 || spans.len() < n {
        return Vec::new();
    }
    shingle_hashes(buf.as_bytes(), &spans, n)
}

/// `xxh64` of every n-gram of `spans` (word spans `[start, end)` in `bytes`, in order): 8
/// shingles at a time in AVX-512 ([`xxh64_groups_avx512`]) where the CPU has it, else one at a
/// time ([`shingle_hash`]). Same values either way (`shingle_hashes_equal_the_library`).
fn shingle_hashes(bytes: &[u8], spans: &[[u32; 2]], n: usize) -> Vec<u64> {
    shingle_hashes_with(Simd::best(), bytes, spans, n)
}

/// [`shingle_hashes`] with the instruction set chosen (one of [`Simd::available`]; only
/// [`Simd::Avx512`] differs from the scalar code).
fn shingle_hashes_with(simd: Simd, bytes: &[u8], spans: &[[u32; 2]], n: usize) -> Vec<u64> {
    assert!(n > 0);
    let count = (spans.len() + 1).saturating_sub(n);
    let mut out = Vec::with_capacity(count);
    let one = |i: usize| shingle_hash(bytes, spans[i][0] as usize, spans[i + n - 1][1] as usize);
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    if simd == Simd::Avx512 {
        assert!(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq"));
        // SAFETY: the CPU has the features (checked above).
        i = unsafe { shingle_hashes_avx512(bytes, spans, n, &mut out) };
    }
    let _ = simd;
    out.extend((i..count).map(one));
    out
}

/// The AVX-512 part of [`shingle_hashes_with`]: appends the hashes of the first shingles to
/// `out`, 8 at a time ([`xxh64_groups_avx512`], or [`shingle_hash`] for a group it declines),
/// and returns how many it hashed (all but the last `count % 8`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn shingle_hashes_avx512(
    bytes: &[u8],
    spans: &[[u32; 2]],
    n: usize,
    out: &mut Vec<u64>,
) -> usize {
    let count = (spans.len() + 1).saturating_sub(n);
    let mut i = 0;
    // Two groups at a time, their steps interleaved: one group's chain of dependent
    // multiplies (~15 cycles each) is too long for the out-of-order window alone.
    while i + 8 <= count {
        out.reserve(16);
        let at = out.len();
        // SAFETY (both calls): `reserve` made room for the 16 hashes a call may store.
        if i + 16 <= count && xxh64_groups_avx512::<2>(bytes, spans, n, i, out.as_mut_ptr().add(at))
        {
            out.set_len(at + 16);
            i += 16;
            continue;
        }
        if xxh64_groups_avx512::<1>(bytes, spans, n, i, out.as_mut_ptr().add(at)) {
            out.set_len(at + 8);
        } else {
            out.extend(
                (i..i + 8).map(|i| {
                    shingle_hash(bytes, spans[i][0] as usize, spans[i + n - 1][1] as usize)
                }),
            );
        }
        i += 8;
    }
    i
}

/// The hashes of the `8G` shingles from `i` (`i + 8G ≤ spans.len() + 1 − n`) in AVX-512,
/// stored at `dst` (room for `8G` values); `false` (nothing stored) when one of them is 64
/// bytes or longer or has fewer than 64 bytes from its start in `bytes`. Not inlined: inlined
/// twice into its caller (`G` = 2 and 1) its registers spilled.
/// Why: scalar xxh64 was ~10 % of the run at ~36 cycles a shingle, bound by its instruction
/// count (four shingles interleaved in scalar code were no faster).
///
/// Per lane this is [`xxh64_below_64`]'s branch-free sequence: the state after the first
/// 32-byte stripe (scalar, for the ~13 % of shingles of ≥ 32 bytes, whose tail then starts at
/// `o = 32`), three 8-byte steps, one 4-byte step and three 1-byte steps, each kept or not by
/// a mask from the lane's tail length `t = len & 31`, then the avalanche. Each lane's 32 bytes
/// from `o` are loaded and transposed into four vectors of 8-byte words; the word after the
/// kept 8-byte steps holds the 4-byte step's bytes and then the 1-byte steps' (shifted out one
/// by one). Every read stays inside the 64 bytes from the shingle's start.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
#[inline(never)]
unsafe fn xxh64_groups_avx512<const G: usize>(
    bytes: &[u8],
    spans: &[[u32; 2]],
    n: usize,
    i: usize,
    dst: *mut u64,
) -> bool {
    use std::arch::x86_64::*;
    let set = |c: u64| _mm512_set1_epi64(c as i64);
    let mul = |a: __m512i, c: u64| _mm512_mullo_epi64(a, set(c));
    let last = i + 8 * G - 1;
    assert!(last + n <= spans.len());
    if spans[last][0] as usize + 64 > bytes.len() {
        return false;
    }
    let mut h = [_mm512_setzero_si512(); G];
    let mut t = [_mm512_setzero_si512(); G];
    let mut w = [[_mm512_setzero_si512(); 4]; G];
    for u in 0..G {
        let from = i + 8 * u;
        // A `[u32; 2]` span is one u64 lane: start in the low half, end in the high half.
        let first = _mm512_loadu_si512(spans[from..from + 8].as_ptr().cast());
        let lasts = _mm512_loadu_si512(spans[from + n - 1..from + n + 7].as_ptr().cast());
        let start = _mm512_and_si512(first, set(0xffff_ffff));
        let len = _mm512_sub_epi64(_mm512_srli_epi64::<32>(lasts), start);
        if _mm512_cmpge_epu64_mask(len, set(64)) != 0 {
            return false;
        }
        t[u] = _mm512_and_si512(len, set(31));
        let mut init = [0u64; 8];
        _mm512_storeu_si512(init.as_mut_ptr().cast(), _mm512_add_epi64(len, set(XXH_P5)));
        let mut long = _mm512_cmpge_epu64_mask(len, set(32));
        while long != 0 {
            let k = long.trailing_zeros() as usize;
            let s = spans[from + k][0] as usize;
            let l = (spans[from + k + n - 1][1] as usize - s) as u64;
            init[k] = xxh64_stripe(bytes[s..s + 64].try_into().unwrap()).wrapping_add(l);
            long &= long - 1;
        }
        h[u] = _mm512_loadu_si512(init.as_ptr().cast());
        // Each lane's 32 bytes from its tail (start + (len & 32)), transposed: `w[u][j]` holds
        // the lanes' 8-byte words `j`. Loads and shuffles rather than gathers, which are slow
        // microcode on CPUs with the gather-data-sampling mitigation.
        let mut at = [0u64; 8];
        _mm512_storeu_si512(
            at.as_mut_ptr().cast(),
            _mm512_add_epi64(start, _mm512_and_si512(len, set(32))),
        );
        let mut half = [_mm256_setzero_si256(); 8];
        for (half, &at) in half.iter_mut().zip(&at) {
            let at = at as usize;
            *half = _mm256_loadu_si256(bytes[at..at + 32].as_ptr().cast());
        }
        // Lanes (0|2), (1|3), (4|6), (5|7) per 256-bit half: after the 64-bit unpacks and
        // the 128-bit shuffles below the words come out in lane order.
        let z0 = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(half[0]), half[2]);
        let z1 = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(half[1]), half[3]);
        let z2 = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(half[4]), half[6]);
        let z3 = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(half[5]), half[7]);
        let (a, b) = (_mm512_unpacklo_epi64(z0, z1), _mm512_unpackhi_epi64(z0, z1));
        let (c, d) = (_mm512_unpacklo_epi64(z2, z3), _mm512_unpackhi_epi64(z2, z3));
        w[u] = [
            _mm512_shuffle_i64x2::<0b10_00_10_00>(a, c),
            _mm512_shuffle_i64x2::<0b10_00_10_00>(b, d),
            _mm512_shuffle_i64x2::<0b11_01_11_01>(a, c),
            _mm512_shuffle_i64x2::<0b11_01_11_01>(b, d),
        ];
    }
    let mut rest: [__m512i; G] = std::array::from_fn(|u| w[u][0]);
    for j in 0..3 {
        for u in 0..G {
            let r = mul(_mm512_rol_epi64::<31>(mul(w[u][j], XXH_P2)), XXH_P1);
            let next = _mm512_add_epi64(
                mul(_mm512_rol_epi64::<27>(_mm512_xor_si512(h[u], r)), XXH_P1),
                set(XXH_P4),
            );
            let keep = _mm512_cmpge_epu64_mask(t[u], set(8 * (j as u64 + 1)));
            h[u] = _mm512_mask_mov_epi64(h[u], keep, next);
            // The word after the kept 8-byte steps holds the 4- and 1-byte steps' bytes.
            rest[u] = _mm512_mask_mov_epi64(rest[u], keep, w[u][j + 1]);
        }
    }
    for u in 0..G {
        let four = _mm512_test_epi64_mask(t[u], set(4));
        let x = mul(_mm512_and_si512(rest[u], set(0xffff_ffff)), XXH_P1);
        let next = _mm512_add_epi64(
            mul(_mm512_rol_epi64::<23>(_mm512_xor_si512(h[u], x)), XXH_P2),
            set(XXH_P3),
        );
        h[u] = _mm512_mask_mov_epi64(h[u], four, next);
        rest[u] = _mm512_mask_mov_epi64(rest[u], four, _mm512_srli_epi64::<32>(rest[u]));
    }
    let ones = t.map(|t| _mm512_and_si512(t, set(3)));
    for j in 0..3u64 {
        for u in 0..G {
            let x = mul(_mm512_and_si512(rest[u], set(0xff)), XXH_P5);
            let next = mul(_mm512_rol_epi64::<11>(_mm512_xor_si512(h[u], x)), XXH_P1);
            h[u] = _mm512_mask_mov_epi64(h[u], _mm512_cmpgt_epu64_mask(ones[u], set(j)), next);
            rest[u] = _mm512_srli_epi64::<8>(rest[u]);
        }
    }
    for h in &mut h {
        *h = mul(_mm512_xor_si512(*h, _mm512_srli_epi64::<33>(*h)), XXH_P2);
    }
    for h in &mut h {
        *h = mul(_mm512_xor_si512(*h, _mm512_srli_epi64::<29>(*h)), XXH_P3);
    }
    for (u, h) in h.iter().enumerate() {
        _mm512_storeu_si512(
            dst.add(8 * u).cast(),
            _mm512_xor_si512(*h, _mm512_srli_epi64::<32>(*h)),
        );
    }
    true
}

/// XXH64's state after the first 32-byte stripe of `block` (seed 0), merged.
#[inline(always)]
fn xxh64_stripe(block: &[u8; 64]) -> u64 {
    let rd64 = |i: usize| u64::from_le_bytes(block[i..i + 8].try_into().unwrap());
    let v1 = xxh_round(XXH_P1.wrapping_add(XXH_P2), rd64(0));
    let v2 = xxh_round(XXH_P2, rd64(8));
    let v3 = xxh_round(0, rd64(16));
    let v4 = xxh_round(0u64.wrapping_sub(XXH_P1), rd64(24));
    let mut h = v1
        .rotate_left(1)
        .wrapping_add(v2.rotate_left(7))
        .wrapping_add(v3.rotate_left(12))
        .wrapping_add(v4.rotate_left(18));
    for v in [v1, v2, v3, v4] {
        h = xxh_merge(h, v);
    }
    h
}

/// `xxh64(&bytes[start..end], 0)`: [`xxh64_below_64`] where 64 bytes from `start` are in
/// `bytes` and the shingle is shorter than 64 bytes (all but the last few of a document and the
/// rare very long ones), else the library's function.
#[inline(always)]
fn shingle_hash(bytes: &[u8], start: usize, end: usize) -> u64 {
    match bytes.get(start..start + 64) {
        Some(block) if end - start < 64 => {
            xxh64_below_64(block.try_into().expect("64 bytes"), end - start)
        }
        _ => xxhash_rust::xxh64::xxh64(&bytes[start..end], 0),
    }
}

const XXH_P1: u64 = 0x9E37_79B1_85EB_CA87;
const XXH_P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const XXH_P3: u64 = 0x1656_67B1_9E37_79F9;
const XXH_P4: u64 = 0x85EB_CA77_C2B2_AE63;
const XXH_P5: u64 = 0x27D4_EB2F_1656_67C5;

#[inline(always)]
fn xxh_round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(XXH_P2))
        .rotate_left(31)
        .wrapping_mul(XXH_P1)
}

#[inline(always)]
fn xxh_merge(acc: u64, v: u64) -> u64 {
    (acc ^ xxh_round(0, v))
        .wrapping_mul(XXH_P1)
        .wrapping_add(XXH_P4)
}

/// XXH64 (seed 0) of the first `len < 64` bytes of `block`, the same value as
/// `xxhash_rust::xxh64::xxh64(&block[..len], 0)` (proptest `short_xxh64_equals_the_library`).
///
/// Why not the library's function: a 5-word shingle is ~28 bytes, and the number of 8-byte,
/// 4-byte and 1-byte steps of the tail changes from one shingle to the next at random, so the
/// library's loops mispredicted a branch or two per shingle (~13 % of all samples went to
/// `xxh64`). Here every tail step is computed and kept or dropped by a select, reading past
/// `len` inside the 64-byte block (the discarded steps' bytes), so only the rarely taken
/// `len ≥ 32` (one 32-byte stripe, ~13 % of the shingles of the Gutenberg books) branches.
#[inline(always)]
fn xxh64_below_64(block: &[u8; 64], len: usize) -> u64 {
    debug_assert!(len < 64);
    // The masks keep each read inside the block (the positions are already that small) so the
    // compiler drops the bounds checks.
    let rd64 = |i: usize| u64::from_le_bytes(block[i & 56..(i & 56) + 8].try_into().unwrap());
    let rd32 = |i: usize| u32::from_le_bytes(block[i & 60..(i & 60) + 4].try_into().unwrap());
    let mut h = if len >= 32 {
        xxh64_stripe(block)
    } else {
        XXH_P5
    };
    h = h.wrapping_add(len as u64);
    // The tail: `t` bytes from `o`, in 8-byte, then 4-byte, then 1-byte steps.
    let (o, t) = (len & 32, len & 31);
    for k in 0..3 {
        let next = (h ^ xxh_round(0, rd64(o + 8 * k)))
            .rotate_left(27)
            .wrapping_mul(XXH_P1)
            .wrapping_add(XXH_P4);
        h = if t >= 8 * (k + 1) { next } else { h };
    }
    let q = o + (t & 24);
    let next = (h ^ (rd32(q) as u64).wrapping_mul(XXH_P1))
        .rotate_left(23)
        .wrapping_mul(XXH_P2)
        .wrapping_add(XXH_P3);
    h = if t & 4 != 0 { next } else { h };
    let q = q + (t & 4);
    for j in 0..3 {
        let next = (h ^ (block[(q + j) & 63] as u64).wrapping_mul(XXH_P5))
            .rotate_left(11)
            .wrapping_mul(XXH_P1);
        h = if j < (t & 3) { next } else { h };
    }
    h ^= h >> 33;
    h = h.wrapping_mul(XXH_P2);
    h ^= h >> 29;
    h = h.wrapping_mul(XXH_P3);
    h ^ (h >> 32)
}

/// Calls `f` with the position of each space in `b`, in order. Words are a few bytes long, so
/// a search per space (`memchr`) would restart at every word: instead each 64-byte block becomes
/// a bit mask of its spaces (one vector compare per 16 bytes), walked bit by bit.
fn for_each_space(b: &[u8], mut f: impl FnMut(usize)) {
    let mut blocks = b.chunks_exact(64);
    let mut base = 0;
    for block in &mut blocks {
        let mut mask = space_mask(block.try_into().unwrap());
        while mask != 0 {
            f(base + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        base += 64;
    }
    for (j, &c) in blocks.remainder().iter().enumerate() {
        if c == b' ' {
            f(base + j);
        }
    }
}

/// Bit `j` set where `block[j]` is a space.
#[inline(always)]
fn space_mask(block: &[u8; 64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        let mut mask = 0u64;
        for k in 0..4 {
            // SAFETY: SSE2 is part of x86_64; the load reads 16 bytes inside `block`.
            let m = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k) as *const __m128i);
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8))) as u16
            };
            mask |= (m as u64) << (16 * k);
        }
        mask
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut mask = 0u64;
        for (j, &c) in block.iter().enumerate() {
            mask |= ((c == b' ') as u64) << j;
        }
        mask
    }
}

/// `v mod (2^61 − 1)` without a division: `2^61 ≡ 1`, so `v ≡ (v >> 61) + (v & p)`, which is
/// below `2p` and needs at most one subtraction. Equal to `v % MERSENNE_PRIME` for every `v`
/// (proptest `mersenne_reduction_is_exact`).
#[inline(always)]
pub fn mod_mersenne(v: u64) -> u64 {
    let r = (v & MERSENNE_PRIME) + (v >> 61);
    if r >= MERSENNE_PRIME {
        r - MERSENNE_PRIME
    } else {
        r
    }
}

/// Lanes handled together by [`min_hashes`]: two AVX-512 registers of u64.
const LANES: usize = 16;

/// The kernel: `out[j] = min over s of ((s · a[j] + b[j]) mod 2^64) mod p`, lanes in blocks
/// of [`LANES`] (`a`, `b`, `out` have a multiple of `LANES` entries). Plain code that the
/// compiler vectorises for whatever target features its caller enables.
#[inline(always)]
fn min_hashes_body(sh: &[u64], a: &[u64], b: &[u64], out: &mut [u64]) {
    for ((ac, bc), oc) in a
        .chunks_exact(LANES)
        .zip(b.chunks_exact(LANES))
        .zip(out.chunks_exact_mut(LANES))
    {
        let ac: [u64; LANES] = ac.try_into().unwrap();
        let bc: [u64; LANES] = bc.try_into().unwrap();
        let mut m = [u64::MAX; LANES];
        for &s in sh {
            for k in 0..LANES {
                m[k] = m[k].min(mod_mersenne(s.wrapping_mul(ac[k]).wrapping_add(bc[k])));
            }
        }
        oc.copy_from_slice(&m);
    }
}

/// The AVX-512 kernel, written with intrinsics: left to itself the compiler vectorised
/// [`min_hashes_body`] across shingles and spilled the 16 lanes' minima to the stack. Here
/// each pass keeps [`AVX512_REGS`] registers of lanes in registers and broadcasts one shingle
/// at a time, and the reduction is lazy. With `v = s·a + b` (wrapping), `r = (v & p) + (v >> 61)`
/// lies in `[0, p + 7]` and equals `v mod p` unless `r ≥ p`; the kernel keeps the minimum of
/// `f = r − p` (wrapping), computed as `(v >> 61) − (!v & p)` (since `(v & p) − p = −(!v & p)`):
/// three operations like `r` itself, but ordered so that one minimum does two jobs. Every
/// fully reduced value (`r < p`) maps to `[2^64 − p, 2^64)`, in order, and every `r ≥ p` to
/// `[0, 8)`. So a lane's minimum `m ≥ 2^64 − p` means no value needed the final subtraction
/// and the answer is `m + p`; a smaller `m` (astronomically rare: a product's low 61 bits
/// within 7 of all ones) sends the lane to an exact recomputation with [`mod_mersenne`]. Per 8
/// lanes and shingle: multiply (3 µops), add, andn, shift, subtract, min = 8 vector µops,
/// against 10 for a full reduction and a minimum.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn min_hashes_avx512(sh: &[u64], a: &[u64], b: &[u64], out: &mut [u64]) {
    let mut done = 0;
    while a.len() - done >= 8 * AVX512_REGS {
        min_hashes_avx512_pass::<AVX512_REGS>(sh, a, b, out, done);
        done += 8 * AVX512_REGS;
    }
    while done < a.len() {
        min_hashes_avx512_pass::<1>(sh, a, b, out, done);
        done += 8;
    }
}

/// Registers of 8 lanes per pass of [`min_hashes_avx512`]: 7 minima, 7 `a`, 7 `b` and the
/// temporaries stay within the 32 vector registers, and 112 = 2 × 56 (datatrove's 14 × 8) is two passes.
#[cfg(target_arch = "x86_64")]
const AVX512_REGS: usize = 7;

/// Lanes `from .. from + 8G` of [`min_hashes_avx512`] (`a.len() ≥ from + 8G`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn min_hashes_avx512_pass<const G: usize>(
    sh: &[u64],
    a: &[u64],
    b: &[u64],
    out: &mut [u64],
    from: usize,
) {
    use std::arch::x86_64::*;
    let (a, b) = (&a[from..from + 8 * G], &b[from..from + 8 * G]);
    let load = |v: &[u64], g: usize| _mm512_loadu_si512(v[8 * g..8 * g + 8].as_ptr().cast());
    let av: [__m512i; G] = std::array::from_fn(|g| load(a, g));
    let bv: [__m512i; G] = std::array::from_fn(|g| load(b, g));
    let p = _mm512_set1_epi64(MERSENNE_PRIME as i64);
    let mut lo = [_mm512_set1_epi64(-1); G];
    for &s in sh {
        let sv = _mm512_set1_epi64(s as i64);
        for g in 0..G {
            let v = _mm512_add_epi64(_mm512_mullo_epi64(sv, av[g]), bv[g]);
            // (v >> 61) − (!v & p) = r − p, wrapping.
            let f = _mm512_sub_epi64(_mm512_srli_epi64::<61>(v), _mm512_andnot_si512(v, p));
            lo[g] = _mm512_min_epu64(lo[g], f);
        }
    }
    for (g, v) in lo.iter().enumerate() {
        let mut m = [0u64; 8];
        _mm512_storeu_si512(m.as_mut_ptr().cast(), *v);
        for (k, (o, &m)) in out[from + 8 * g..][..8].iter_mut().zip(&m).enumerate() {
            let j = 8 * g + k;
            *o = if m >= MERSENNE_PRIME.wrapping_neg() {
                m.wrapping_add(MERSENNE_PRIME)
            } else {
                // Some value of this lane was not fully reduced: redo the lane exactly.
                sh.iter()
                    .map(|&s| mod_mersenne(s.wrapping_mul(a[j]).wrapping_add(b[j])))
                    .min()
                    .unwrap_or(u64::MAX)
            };
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn min_hashes_avx2(sh: &[u64], a: &[u64], b: &[u64], out: &mut [u64]) {
    min_hashes_body(sh, a, b, out)
}

/// Instruction sets [`min_hashes`] can use (all give the same bits: integer arithmetic only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simd {
    Portable,
    Avx2,
    Avx512,
}

impl Simd {
    /// The widest one this CPU has.
    pub fn best() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") {
                return Simd::Avx512;
            }
            if is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Portable
    }

    /// Those this CPU has (for tests).
    pub fn available() -> Vec<Simd> {
        let best = Simd::best();
        [Simd::Portable, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .filter(|&s| s as u8 <= best as u8)
            .collect()
    }
}

/// `a`, `b` zero-padded to a multiple of [`LANES`] (the padding lanes are computed and dropped).
fn padded(v: &[u64]) -> Vec<u64> {
    let mut p = v.to_vec();
    p.resize(v.len().div_ceil(LANES) * LANES, 0);
    p
}

/// [`signature`] with the instruction set chosen (`simd` must be one of [`Simd::available`]).
pub fn signature_with(simd: Simd, sh: &[u64], a: &[u64], b: &[u64]) -> Option<Vec<u64>> {
    assert_eq!(a.len(), b.len());
    if sh.is_empty() {
        return None;
    }
    let (pa, pb) = (padded(a), padded(b));
    let mut out = vec![0u64; pa.len()];
    match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => {
            assert!(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq"));
            // SAFETY: the CPU has the features (checked above).
            unsafe { min_hashes_avx512(sh, &pa, &pb, &mut out) }
        }
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => {
            assert!(is_x86_feature_detected!("avx2"));
            // SAFETY: the CPU has the feature (checked above).
            unsafe { min_hashes_avx2(sh, &pa, &pb, &mut out) }
        }
        _ => min_hashes_body(sh, &pa, &pb, &mut out),
    }
    out.truncate(a.len());
    Some(out)
}

/// Signature (`num_hashes` minima) of a shingle set; `None` when there are no shingles.
pub fn signature(sh: &[u64], a: &[u64], b: &[u64]) -> Option<Vec<u64>> {
    signature_with(Simd::best(), sh, a, b)
}

/// The straightforward implementations the fast ones above are tested against (the code the
/// conformance with datatrove was first established with).
#[cfg(test)]
pub(crate) mod reference {
    use super::*;

    fn numbers_re() -> &'static regex::Regex {
        static R: OnceLock<regex::Regex> = OnceLock::new();
        R.get_or_init(|| regex::Regex::new(r"\p{Nd}+(?:[.,،٫⎖⎗⎘]\p{Nd}+)?").unwrap())
    }

    fn mn_re() -> &'static regex::Regex {
        static R: OnceLock<regex::Regex> = OnceLock::new();
        R.get_or_init(|| regex::Regex::new(r"\p{Mn}").unwrap())
    }

    pub fn simplify_text(text: &str) -> String {
        use unicode_normalization::UnicodeNormalization;
        let lower = text.to_lowercase();
        let numbered = numbers_re().replace_all(&lower, "0");
        let p = punctuation();
        let spaced: String = numbered
            .chars()
            .map(|c| if p.contains(&c) { ' ' } else { c })
            .collect();
        let joined = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
        let nfd: String = joined.nfd().collect();
        mn_re().replace_all(&nfd, "").trim().to_string()
    }

    pub fn word_tokenize(simplified: &str) -> Vec<String> {
        let words: Vec<&str> = simplified.split_whitespace().collect();
        let mut out = Vec::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            let lw = w.to_lowercase();
            let split: Option<usize> = match lw.as_str() {
                "cannot" => Some(3),
                "gimme" | "lemme" => Some(3),
                "gonna" | "gotta" => Some(3),
                "wanna" if i + 1 < words.len() => Some(3),
                _ => None,
            };
            match split {
                Some(k) => {
                    out.push(w[..k].to_string());
                    out.push(w[k..].to_string());
                }
                None => out.push(w.to_string()),
            }
        }
        out
    }

    pub fn shingles(text: &str, n: usize) -> Vec<u64> {
        let words = word_tokenize(&simplify_text(text));
        if words.len() < n {
            return Vec::new();
        }
        words
            .windows(n)
            .map(|w| xxhash_rust::xxh64::xxh64(w.join(" ").as_bytes(), 0))
            .collect()
    }

    pub fn signature(sh: &[u64], a: &[u64], b: &[u64]) -> Option<Vec<u64>> {
        if sh.is_empty() {
            return None;
        }
        Some(
            a.iter()
                .zip(b)
                .map(|(&a, &b)| {
                    sh.iter()
                        .map(|&s| s.wrapping_mul(a).wrapping_add(b) % MERSENNE_PRIME)
                        .min()
                        .unwrap()
                })
                .collect(),
        )
    }
}

// ---------------------------------------------------------------- pipeline --------------------

type Record = (Vec<u64>, u32);

fn write_records(path: &Path, recs: &[Record]) -> Result<()> {
    let mut buf = Vec::new();
    for (sig, doc) in recs {
        for h in sig {
            buf.extend_from_slice(&h.to_le_bytes());
        }
        buf.extend_from_slice(&doc.to_le_bytes());
    }
    write_atomic(&path.with_extension("tmp"), path, &buf)
}

struct SigReader {
    r: BufReader<std::fs::File>,
    hpb: usize,
}

impl SigReader {
    fn next(&mut self) -> Result<Option<Record>> {
        let mut buf = vec![0u8; self.hpb * 8 + 4];
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.r.read(&mut buf[filled..])?;
            if n == 0 {
                if filled == 0 {
                    return Ok(None);
                }
                bail!("truncated signature record");
            }
            filled += n;
        }
        let sig = buf[..self.hpb * 8]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let doc = u32::from_le_bytes(buf[self.hpb * 8..].try_into().unwrap());
        Ok(Some((sig, doc)))
    }
}

/// Appends `serde_json::to_writer(d)`'s bytes (proptest `doc_writer_equals_serde_json`).
/// Why not serde_json itself: its string escaping looks up every byte of a book's text in a
/// table, one at a time (~4 % of the run); [`write_json_str`] skips 16 plain bytes at a time.
/// Everything but strings at the top level (numbers, nested values) is still serde_json's.
fn write_doc(out: &mut Vec<u8>, d: &Doc) {
    out.push(b'{');
    for (i, (k, v)) in d.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, k);
        out.push(b':');
        match v {
            serde_json::Value::String(s) => write_json_str(out, s),
            v => serde_json::to_writer(&mut *out, v).expect("serialising a JSON value cannot fail"),
        }
    }
    out.push(b'}');
}

/// `s` as serde_json writes a string: quoted; `"` and `\` escaped with a backslash; the
/// control characters below 0x20 as `\b \t \n \f \r` or `\u00xx` (lowercase hex); every other
/// character (DEL and non-ASCII included) as its UTF-8 bytes.
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut i = 0;
    // 16 bytes at a time, every escape of the block handled from its bit mask: a book's text
    // has a newline or a quote every few dozen bytes, so a copy call per run of plain bytes
    // (serde_json's way) or a new scan after each escape cost more than the scan itself.
    while i + 16 <= b.len() {
        let block: &[u8; 16] = b[i..i + 16].try_into().unwrap();
        let mut m = escape_mask(block);
        // Fixed-size 16-byte copies from `tmp` (no copy call of a variable length).
        let mut tmp = [0u8; 32];
        tmp[..16].copy_from_slice(block);
        out.reserve(112);
        let base = out.len();
        let mut o = 0;
        let mut from = 0;
        // SAFETY: `reserve` made room for 112 bytes after `base`. Before each write `o` is at
        // most 6 bytes per byte of the block consumed (`from ≤ 16`), so `o ≤ 96`, and a write
        // covers at most 16 bytes from `o`: inside the room. Reads stay in `tmp` (`from + 16 ≤
        // 32`) and `esc` (8 bytes). The `o` bytes kept have all been written.
        unsafe {
            let dst = out.as_mut_ptr().add(base);
            while m != 0 {
                let j = m.trailing_zeros() as usize;
                // Plain bytes `from..j`, then the escape of byte `j`.
                std::ptr::copy_nonoverlapping(tmp.as_ptr().add(from), dst.add(o), 16);
                o += j - from;
                let (esc, n) = escape_of(block[j]);
                std::ptr::copy_nonoverlapping(esc.as_ptr(), dst.add(o), 8);
                o += n;
                from = j + 1;
                m &= m - 1;
            }
            std::ptr::copy_nonoverlapping(tmp.as_ptr().add(from), dst.add(o), 16);
            o += 16 - from;
            out.set_len(base + o);
        }
        i += 16;
    }
    for &c in &b[i..] {
        if needs_escape(c) {
            let (esc, n) = escape_of(c);
            out.extend_from_slice(&esc[..n]);
        } else {
            out.push(c);
        }
    }
    out.push(b'"');
}

/// serde_json's escape of a byte that [`needs_escape`], padded to 8 bytes, and its length.
#[inline(always)]
fn escape_of(c: u8) -> ([u8; 8], usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let two = |e: u8| ([b'\\', e, 0, 0, 0, 0, 0, 0], 2);
    match c {
        b'"' => two(b'"'),
        b'\\' => two(b'\\'),
        b'\x08' => two(b'b'),
        b'\t' => two(b't'),
        b'\n' => two(b'n'),
        b'\x0c' => two(b'f'),
        b'\r' => two(b'r'),
        _ => (
            [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 15) as usize],
                0,
                0,
            ],
            6,
        ),
    }
}

/// A file's well-formed documents in order, each serialised as the filter step writes an
/// untouched document (`serde_json::to_vec` of the parsed document) and followed by `\n`, all in
/// one buffer: what [`run`] keeps from the signature pass so that the filter step need not read
/// and parse the file again. One buffer rather than one per document because it *is* the filter
/// step's output when the file loses nothing, and is edited into it in place otherwise
/// ([`filter_in_place`]): building the output in a second buffer page-faulted in and copied
/// every kept byte again (~60 K of the run's 120 K page faults on the 800 books).
struct Serialised {
    buf: Vec<u8>,
    /// Per document, the position of its `\n` in `buf`.
    ends: Vec<usize>,
}

impl Serialised {
    fn of(docs: &[(usize, Doc)]) -> Serialised {
        // Sized for the texts and their escapes up front: a few reallocations of a whole
        // file's buffer would copy it each time.
        let cap: usize = docs
            .iter()
            .map(|(_, d)| {
                let t = text(d).len();
                t + t / 16 + 4096
            })
            .sum();
        let mut buf = Vec::with_capacity(cap);
        let mut ends = Vec::with_capacity(docs.len());
        for (_, d) in docs {
            write_doc(&mut buf, d);
            ends.push(buf.len());
            buf.push(b'\n');
        }
        Serialised { buf, ends }
    }

    /// Document `i`'s line, without its `\n`.
    fn doc(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        &self.buf[start..self.ends[i]]
    }
}

/// What the filter step does with one document of a [`Serialised`] file.
enum Edit {
    Keep,
    Drop,
    /// Its new line (without `\n`).
    Replace(Vec<u8>),
}

/// Turns `ser`'s buffer into the filter step's output, in place: the kept documents' lines in
/// order, each `Edit::Replace` one replaced by its new bytes; returns (buffer, documents kept).
/// Same bytes as appending every kept line to a new buffer (proptest
/// `filtering_in_place_equals_building_a_new_buffer`), without a second buffer's page faults
/// and copy of the untouched lines, which stay where they are until the first change.
///
/// How the moves stay safe: the untouched runs of lines are segments with a source range in the
/// buffer and a destination range in the output layout, shifted by `delta = dst - src`. The
/// destination ranges are disjoint and in source order. Segments with `delta < 0` are moved
/// first to last (each only overwrites bytes left of its source, already moved or dropped),
/// then those with `delta > 0` last to first (mirror image); a segment moving left never lands
/// on the source of one moving right and vice versa, because between a left-mover `i` and a
/// right-mover `j` either `j` precedes `i` (then `j`'s destination ends at or before `i`'s, which
/// begins left of `i`'s source) or follows it (then `j`'s destination begins right of its own
/// source, past `i`'s). Replacements are computed before any move and written last.
fn filter_in_place(ser: Serialised, mut edit: impl FnMut(usize, &[u8]) -> Edit) -> (Vec<u8>, u64) {
    enum From {
        Buf(usize),
        Side(usize),
    }
    // (where the bytes come from, length, destination)
    let mut segments: Vec<(From, usize, usize)> = Vec::new();
    let mut side = Vec::new();
    let (mut dst, mut kept) = (0usize, 0u64);
    for i in 0..ser.ends.len() {
        let start = if i == 0 { 0 } else { ser.ends[i - 1] + 1 };
        let len = ser.ends[i] + 1 - start;
        match edit(i, ser.doc(i)) {
            Edit::Drop => continue,
            Edit::Keep => {
                match segments.last_mut() {
                    // Extends the run of untouched lines just before it.
                    Some((From::Buf(s), l, _)) if *s + *l == start => *l += len,
                    _ => segments.push((From::Buf(start), len, dst)),
                }
                dst += len;
            }
            Edit::Replace(line) => {
                segments.push((From::Side(side.len()), line.len() + 1, dst));
                side.extend_from_slice(&line);
                side.push(b'\n');
                dst += line.len() + 1;
            }
        }
        kept += 1;
    }
    let mut buf = ser.buf;
    if dst > buf.len() {
        buf.resize(dst, 0);
    }
    for (from, len, to) in &segments {
        if let From::Buf(src) = *from {
            if to < &src {
                buf.copy_within(src..src + len, *to);
            }
        }
    }
    for (from, len, to) in segments.iter().rev() {
        if let From::Buf(src) = *from {
            if to > &src {
                buf.copy_within(src..src + len, *to);
            }
        }
    }
    for (from, len, to) in &segments {
        if let From::Side(src) = *from {
            buf[*to..to + len].copy_from_slice(&side[src..src + len]);
        }
    }
    buf.truncate(dst);
    (buf, kept)
}

/// How many bytes of [`Serialised`] documents [`run`] keeps in memory between the signature and
/// filter steps (1 GiB; files past it are read again by the filter step, as a distributed engine
/// always does). Bounded so that the stage still runs on corpora larger than memory.
const KEEP_FOR_FILTER_BYTES: usize = 1 << 30;

/// [`read_docs`] parsing every line where it was read: the file's decompressed bytes are read
/// in large pieces into one buffer and each complete line is parsed in place. Same documents,
/// line numbers, skips and errors as [`read_docs`] (`line_buffer_reading_equals_read_docs`).
/// Why: `BufRead::lines` grew a fresh `String` per line (a dozen reallocations for a book),
/// and `read_until` into a reused buffer still copied every byte once more out of the reader's
/// buffer; here the reads are at least the reader's 1 MiB capacity, which `BufReader` passes
/// straight to the decoder, and only a line cut by the end of the buffer is moved (to its
/// front) before the next read.
fn read_file_docs(path: &Path, on_malformed: OnMalformed) -> Result<(Vec<(usize, Doc)>, u64)> {
    read_file_docs_with(path, on_malformed, 1 << 20)
}

/// [`read_file_docs`] with at least `min_read` bytes of room for every read (tests use tiny
/// values so that lines cross the buffer's end).
fn read_file_docs_with(
    path: &Path,
    on_malformed: OnMalformed,
    min_read: usize,
) -> Result<(Vec<(usize, Doc)>, u64)> {
    let mut reader = lmrepro_stage::jsonl::open_reader(path)?;
    let mut buf = vec![0u8; 4 * min_read];
    // Unparsed bytes `buf[start..end]`; no `\n` in `buf[start..scanned]`.
    let (mut start, mut end, mut scanned) = (0usize, 0usize, 0usize);
    let mut eof = false;
    let mut docs = Vec::new();
    let mut malformed = 0;
    let mut line_no = 0;
    loop {
        let line_end = match memchr::memchr(b'\n', &buf[scanned..end]) {
            Some(j) => scanned + j + 1,
            None if eof => end,
            None => {
                scanned = end;
                // Make room for a read of `min_read` bytes: move the cut line to the front,
                // and grow the buffer only when that line alone fills it.
                if buf.len() - end < min_read {
                    buf.copy_within(start..end, 0);
                    (end, scanned, start) = (end - start, end - start, 0);
                    if buf.len() - end < min_read {
                        buf.resize(2 * buf.len().max(end + min_read), 0);
                    }
                }
                match reader.read(&mut buf[end..]) {
                    Ok(0) => eof = true,
                    Ok(n) => end += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        return Err(anyhow::Error::new(e).context(format!(
                            "{}:{}: read error",
                            path.display(),
                            line_no + 1
                        )));
                    }
                }
                continue;
            }
        };
        line_no += 1;
        if line_end == start {
            // End of the file: `read_until` read nothing.
            break;
        }
        // `BufRead::lines`: without the `\n`, then without one trailing `\r`.
        let mut line = &buf[start..line_end];
        (start, scanned) = (line_end, line_end);
        if let [head @ .., b'\n'] = line {
            line = head;
            if let [head @ .., b'\r'] = line {
                line = head;
            }
        }
        let line = std::str::from_utf8(line).map_err(|_| {
            anyhow::Error::new(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ))
            .context(format!("{}:{line_no}: read error", path.display()))
        })?;
        if line.trim().is_empty() {
            continue;
        }
        match lmrepro_stage::parse_doc_flat_first(line) {
            Ok(doc) => docs.push((line_no, doc)),
            Err(e) => match on_malformed {
                OnMalformed::Error => {
                    return Err(e.context(format!("{}:{line_no}", path.display())))
                }
                OnMalformed::Skip => malformed += 1,
            },
        }
    }
    Ok((docs, malformed))
}

/// Step 1 for one file: per-bucket sorted signature records. Returns (docs, docs with signature,
/// malformed lines), and with `keep` the documents serialised for the filter step.
fn signatures_of_file(
    file: &Path,
    fi: usize,
    sig_dir: &Path,
    cfg: &MinhashConfig,
    ab: &(Vec<u64>, Vec<u64>),
    keep: bool,
) -> Result<((u64, u64, u64), Option<Serialised>)> {
    let (ds, malformed) = read_file_docs(file, cfg.on_malformed)?;
    // The serialisation is sequential (one buffer) and overlaps the signatures on a second core.
    let (serialised, sigs): (_, Vec<Option<Vec<u64>>>) = rayon::join(
        || keep.then(|| Serialised::of(&ds)),
        || {
            ds.par_iter()
                .map(|(_, d)| signature(&shingles(text(d), cfg.n_grams), &ab.0, &ab.1))
                .collect()
        },
    );
    let hpb = cfg.hashes_per_bucket;
    let with_sig = sigs.iter().filter(|s| s.is_some()).count() as u64;
    for b in 0..cfg.num_buckets {
        let mut recs: Vec<Record> = sigs
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.as_ref()
                    .map(|s| (s[b * hpb..(b + 1) * hpb].to_vec(), i as u32))
            })
            .collect();
        recs.sort();
        let dir = sig_dir.join(format!("bucket_{b:03}"));
        std::fs::create_dir_all(&dir)?;
        write_records(&dir.join(format!("{fi:05}.sig")), &recs)?;
    }
    Ok(((ds.len() as u64, with_sig, malformed), serialised))
}

/// Step 2 for one bucket: merge the sorted files, emit pairs of consecutive equal signatures.
fn bucket_pairs(sig_dir: &Path, b: usize, n_files: usize, hpb: usize) -> Result<Vec<[u32; 4]>> {
    let dir = sig_dir.join(format!("bucket_{b:03}"));
    let mut readers = Vec::new();
    for fi in 0..n_files {
        let p = dir.join(format!("{fi:05}.sig"));
        let f = std::fs::File::open(&p).with_context(|| format!("opening {}", p.display()))?;
        readers.push(SigReader {
            r: BufReader::new(f),
            hpb,
        });
    }
    // Min-heap on (sig, file, doc), datatrove's HashSig order.
    let mut heap = BinaryHeap::new();
    for (fi, r) in readers.iter_mut().enumerate() {
        if let Some((sig, doc)) = r.next()? {
            heap.push(std::cmp::Reverse((sig, fi as u32, doc)));
        }
    }
    let mut pairs = Vec::new();
    let mut last: Option<(Vec<u64>, u32, u32)> = None;
    while let Some(std::cmp::Reverse(v)) = heap.pop() {
        if let Some(l) = &last {
            if l.0 == v.0 {
                pairs.push([l.1, l.2, v.1, v.2]);
            }
        }
        if let Some((sig, doc)) = readers[v.1 as usize].next()? {
            heap.push(std::cmp::Reverse((sig, v.1, doc)));
        }
        last = Some(v);
    }
    Ok(pairs)
}

/// Union–find with datatrove's rules.
#[derive(Default)]
pub struct UnionFind {
    parent: HashMap<(u32, u32), (u32, u32)>,
    size: HashMap<(u32, u32), u64>,
}

impl UnionFind {
    pub fn find(&mut self, x: (u32, u32)) -> (u32, u32) {
        let mut root = x;
        loop {
            match self.parent.get(&root) {
                Some(&p) if p != root => root = p,
                Some(_) => break,
                None => {
                    self.parent.insert(root, root);
                    break;
                }
            }
        }
        // Path compression.
        let mut cur = x;
        while cur != root {
            let next = self.parent[&cur];
            self.parent.insert(cur, root);
            cur = next;
        }
        root
    }

    pub fn union(&mut self, a: (u32, u32), b: (u32, u32)) {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let sa = *self.size.get(&ra).unwrap_or(&1);
        let sb = *self.size.get(&rb).unwrap_or(&1);
        if sa < sb {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent.insert(rb, ra);
        self.size.insert(ra, sa + sb);
        self.size.remove(&rb);
    }

    /// Nodes in sorted order with their roots.
    pub fn nodes(&mut self) -> Vec<((u32, u32), (u32, u32))> {
        let mut keys: Vec<(u32, u32)> = self.parent.keys().copied().collect();
        keys.sort();
        keys.into_iter().map(|k| (k, self.find(k))).collect()
    }
}

/// Counters of a MinHash or exact run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DedupStats {
    pub files: u64,
    pub docs_in: u64,
    pub docs_with_signature: u64,
    pub malformed_lines: u64,
    pub duplicate_pairs: u64,
    /// Documents in some cluster of size ≥ 2.
    pub docs_in_clusters: u64,
    pub clusters: u64,
    pub docs_removed: u64,
    pub docs_kept: u64,
}

lmrepro_stage::tally! {
    /// Counts of one exact-dedup shard, kept in its marker (fields in alphabetical order, so the
    /// marker has the same bytes as the sorted JSON object it replaced).
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    struct ExactCounts {
        docs_in: u64,
        docs_kept: u64,
        docs_removed: u64,
        malformed_lines: u64,
    }
}

/// Per removed/clustered document: `(file, doc) -> (cluster id, cluster size, removed)`.
pub type Clusters = BTreeMap<(u32, u32), (u32, u64, bool)>;

/// MinHash dedup as datatrove splits it, one step per shard so a distributed engine (the Ray
/// driver, `lmrepro dclm shard minhash-*`) can schedule each: (1) signatures per input file,
/// (2) one task per bucket (band), (3) one cluster merge, (4) filter per input file. Every step
/// writes its output under a temporary name, renames it, and is skipped when done, so any step
/// can be retried or resumed; [`run`] runs them all in one process. Layout under `out`:
/// `_state/sigs/bucket_bbb/fffff.sig` + `_state/sigs/_done/fffff`, `_state/dups/bbbbb_00.dups`,
/// `_state/clusters/fffff.clusters` + `_state/clusters.json` (the merge's completion record),
/// then the filtered shards with their markers and `stats.json`.
pub struct MinhashJob {
    pub files: Vec<PathBuf>,
    /// Output shard name of each input file (the filter step's shard names).
    pub names: Vec<String>,
    pub out: PathBuf,
    pub cfg: MinhashConfig,
    state: PathBuf,
}

/// What the cluster merge (step 3) records in `_state/clusters.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergeStats {
    pub duplicate_pairs: u64,
    pub clusters: u64,
    pub docs_in_clusters: u64,
    pub docs_removed: u64,
}

/// One record of a `.clusters` file: document, cluster id, cluster size, removed (17 bytes LE).
const CLUSTER_RECORD: usize = 17;

impl MinhashJob {
    /// The job over `inputs` (files or folders, expanded as every stage does) into `out`.
    pub fn new(inputs: &[PathBuf], out: &Path, cfg: &MinhashConfig) -> Result<MinhashJob> {
        let files = expand_inputs(inputs)?;
        Self::with_state(files, out, &out.join("_state"), cfg)
    }

    fn with_state(
        files: Vec<PathBuf>,
        out: &Path,
        state: &Path,
        cfg: &MinhashConfig,
    ) -> Result<MinhashJob> {
        if cfg.n_grams == 0 || cfg.num_buckets == 0 || cfg.hashes_per_bucket == 0 {
            bail!("n_grams, num_buckets and hashes_per_bucket must be positive");
        }
        ensure!(
            files.len() < 100_000,
            "{} input files: the signature files are numbered with 5 digits (at most 99,999)",
            files.len()
        );
        Ok(MinhashJob {
            names: shard_names(&files),
            files,
            out: out.to_path_buf(),
            cfg: cfg.clone(),
            state: state.to_path_buf(),
        })
    }

    fn sigs(&self) -> ShardedStage {
        ShardedStage::shared(&self.state.join("sigs"))
    }

    /// Shard names of step 1 (`fffff`, the input file's index).
    pub fn signature_shards(&self) -> Vec<String> {
        (0..self.files.len()).map(|fi| format!("{fi:05}")).collect()
    }

    fn file_index(&self, shard: &str, step: &str) -> Result<usize> {
        match shard.parse::<usize>() {
            Ok(fi) if fi < self.files.len() && shard == format!("{fi:05}") => Ok(fi),
            _ => bail!(
                "no minhash {step} shard `{shard}`; the shards are 00000..{:05}",
                self.files.len().saturating_sub(1)
            ),
        }
    }

    pub fn signatures_done(&self, shard: &str) -> bool {
        self.sigs().is_done(shard)
    }

    /// Step 1 for input file `shard` (`fffff`): its per-bucket sorted signature files, then its
    /// marker with (documents, documents with a signature, malformed lines).
    pub fn run_signatures(&self, shard: &str) -> Result<(u64, u64, u64)> {
        Ok(self.signatures_keeping(shard, false)?.0)
    }

    /// [`Self::run_signatures`], and with `keep` the file's documents serialised for
    /// [`Self::filter_from`] (`None` when the shard was already done: nothing was read).
    fn signatures_keeping(
        &self,
        shard: &str,
        keep: bool,
    ) -> Result<((u64, u64, u64), Option<Serialised>)> {
        let fi = self.file_index(shard, "signatures")?;
        let sigs = self.sigs();
        let _lock = match sigs.claim(shard, || sigs.is_done(shard))? {
            lmrepro_stage::Claim::Done(stats) => return Ok((stats, None)),
            lmrepro_stage::Claim::Mine(lock) => lock,
        };
        let ab = parameters(
            self.cfg.seed,
            self.cfg.num_buckets * self.cfg.hashes_per_bucket,
        );
        let (c, kept) = signatures_of_file(&self.files[fi], fi, &sigs.dir, &self.cfg, &ab, keep)?;
        sigs.mark_done(shard, &c)?;
        Ok((c, kept))
    }

    /// Shard names of step 2 (`bbb`, the bucket).
    pub fn bucket_shards(&self) -> Vec<String> {
        (0..self.cfg.num_buckets)
            .map(|b| format!("{b:03}"))
            .collect()
    }

    fn bucket_index(&self, shard: &str) -> Result<usize> {
        match shard.parse::<usize>() {
            Ok(b) if b < self.cfg.num_buckets && shard == format!("{b:03}") => Ok(b),
            _ => bail!(
                "no minhash buckets shard `{shard}`; the shards are 000..{:03}",
                self.cfg.num_buckets - 1
            ),
        }
    }

    fn dups_path(&self, b: usize) -> PathBuf {
        self.state.join("dups").join(format!("{b:05}_00.dups"))
    }

    pub fn bucket_done(&self, shard: &str) -> bool {
        self.bucket_index(shard)
            .is_ok_and(|b| self.dups_path(b).is_file())
    }

    /// Step 2 for bucket `shard` (`bbb`): the k-way merge of every file's sorted signatures of
    /// that bucket; the duplicate pairs go to `dups/bbbbb_00.dups`. Needs step 1 finished.
    pub fn run_bucket(&self, shard: &str) -> Result<u64> {
        let b = self.bucket_index(shard)?;
        let path = self.dups_path(b);
        if path.is_file() {
            return Ok(std::fs::metadata(&path)?.len() / 16);
        }
        let missing: Vec<String> = self
            .signature_shards()
            .into_iter()
            .filter(|s| !self.signatures_done(s))
            .collect();
        ensure!(
            missing.is_empty(),
            "minhash buckets need every signature shard; not done: {}",
            missing.join(", ")
        );
        let pairs = bucket_pairs(
            &self.sigs().dir,
            b,
            self.files.len(),
            self.cfg.hashes_per_bucket,
        )?;
        let mut buf = Vec::with_capacity(pairs.len() * 16);
        for p in &pairs {
            for x in p {
                buf.extend_from_slice(&x.to_le_bytes());
            }
        }
        let dir = self.state.join("dups");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        // A per-bucket temporary name: two buckets are written at once.
        write_atomic(&dir.join(format!(".{b:05}.tmp")), &path, &buf)?;
        Ok(pairs.len() as u64)
    }

    /// The duplicate pairs of every bucket, in bucket order (step 2's output read back).
    pub fn pairs(&self) -> Result<Vec<[u32; 4]>> {
        let mut all = Vec::new();
        for b in 0..self.cfg.num_buckets {
            let path = self.dups_path(b);
            let bytes = std::fs::read(&path).with_context(|| {
                format!(
                    "reading {} (run the minhash buckets step first)",
                    path.display()
                )
            })?;
            ensure!(
                bytes.len() % 16 == 0,
                "{}: {} bytes is not a whole number of 16-byte pairs",
                path.display(),
                bytes.len()
            );
            all.extend(bytes.chunks_exact(16).map(|c| {
                let x = |i: usize| u32::from_le_bytes(c[i * 4..i * 4 + 4].try_into().unwrap());
                [x(0), x(1), x(2), x(3)]
            }));
        }
        Ok(all)
    }

    fn merge_path(&self) -> PathBuf {
        self.state.join("clusters.json")
    }

    pub fn clusters_done(&self) -> bool {
        self.merge_path().is_file()
    }

    /// Step 3, global (datatrove's `MinhashDedupCluster` is one task too): union–find over all
    /// pairs in bucket order; each input file's clustered documents go to
    /// `clusters/fffff.clusters` (sorted by document), then `clusters.json` marks it done.
    pub fn run_clusters(&self) -> Result<MergeStats> {
        if self.clusters_done() {
            return read_json(&self.merge_path());
        }
        let dir = self.state.join("clusters");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let _lock = lmrepro_stage::lock::lock_file(&dir.join(".lock"))?;
        if self.clusters_done() {
            return read_json(&self.merge_path());
        }
        let pairs = self.pairs()?;
        let clusters = clusters_of(&pairs);
        let mut per_file: Vec<Vec<u8>> = vec![Vec::new(); self.files.len()];
        for (&(fi, di), &(cid, size, removed)) in &clusters {
            let buf = per_file
                .get_mut(fi as usize)
                .with_context(|| format!("pair names input file {fi} of {}", self.files.len()))?;
            buf.extend_from_slice(&di.to_le_bytes());
            buf.extend_from_slice(&cid.to_le_bytes());
            buf.extend_from_slice(&size.to_le_bytes());
            buf.push(removed as u8);
        }
        for (fi, buf) in per_file.iter().enumerate() {
            write_atomic(
                &dir.join(format!(".{fi:05}.tmp")),
                &dir.join(format!("{fi:05}.clusters")),
                buf,
            )?;
        }
        let st = MergeStats {
            duplicate_pairs: pairs.len() as u64,
            clusters: clusters.values().map(|c| c.0).collect::<HashSet<_>>().len() as u64,
            docs_in_clusters: clusters.len() as u64,
            docs_removed: clusters.values().filter(|c| c.2).count() as u64,
        };
        write_atomic(
            &self.state.join(".clusters.json.tmp"),
            &self.merge_path(),
            (serde_json::to_string_pretty(&st)? + "\n").as_bytes(),
        )?;
        Ok(st)
    }

    fn stage(&self) -> ShardedStage {
        ShardedStage::shared(&self.out)
    }

    pub fn filter_done(&self, shard: &str) -> bool {
        self.stage().is_done(shard)
    }

    /// Step 4 for the output shard `shard` (an input file's shard name): the file without its
    /// removed documents, kept cluster members tagged with their cluster's id and size.
    pub fn run_filter(&self, shard: &str) -> Result<u64> {
        self.filter_from(shard, None)
    }

    /// [`Self::run_filter`], from the documents the signature step kept (`serialised`: this
    /// process read and serialised the file in step 1), or from the file (`None`). Both write
    /// the same bytes: an untouched document's line is `to_vec` of the parsed document either
    /// way, and a kept cluster member is parsed back from its serialised form, which gives the
    /// same document (serde_json round-trips its own output exactly: sorted keys, strings, and
    /// floats with `float_roundtrip`); `kept_documents_give_the_filter_the_same_bytes`.
    fn filter_from(&self, shard: &str, serialised: Option<Serialised>) -> Result<u64> {
        let Some(fi) = self.names.iter().position(|n| n == shard) else {
            bail!(
                "no minhash filter shard `{shard}`; the shards are {}",
                self.names.join(", ")
            );
        };
        let stage = self.stage();
        let kept_of = |s: &ShardedStage| -> Result<u64> {
            Ok(s.done_stats::<serde_json::Value>(shard)?["docs_kept"]
                .as_u64()
                .unwrap_or(0))
        };
        if stage.is_done(shard) {
            return kept_of(&stage);
        }
        ensure!(
            self.clusters_done(),
            "minhash filter needs the cluster merge ({} missing)",
            self.merge_path().display()
        );
        let _lock = stage.lock_shard(shard)?;
        if stage.is_done(shard) {
            return kept_of(&stage);
        }
        let path = self
            .state
            .join("clusters")
            .join(format!("{fi:05}.clusters"));
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        ensure!(
            bytes.len() % CLUSTER_RECORD == 0,
            "{}: {} bytes is not a whole number of {CLUSTER_RECORD}-byte records",
            path.display(),
            bytes.len()
        );
        let clusters: HashMap<u32, (u32, u64, bool)> = bytes
            .chunks_exact(CLUSTER_RECORD)
            .map(|r| {
                let di = u32::from_le_bytes(r[0..4].try_into().unwrap());
                let cid = u32::from_le_bytes(r[4..8].try_into().unwrap());
                let size = u64::from_le_bytes(r[8..16].try_into().unwrap());
                (di, (cid, size, r[16] != 0))
            })
            .collect();
        // Streamed: each kept document is serialised as it is read, into one buffer sized from
        // the input (the bytes `write_shard` gives for the kept documents; compressed in one
        // piece so they stay the same). Holding every parsed document first cost a second
        // copy of the file and its page faults.
        let file = &self.files[fi];
        let mut kept = 0u64;
        let jsonl = match serialised {
            Some(docs) => {
                let (jsonl, k) =
                    filter_in_place(docs, |di, line| match clusters.get(&(di as u32)) {
                        Some(&(_, _, true)) => Edit::Drop,
                        Some(&(cid, size, false)) => {
                            let mut d: lmrepro_stage::Doc = serde_json::from_slice(line)
                                .expect("serde_json parses what it wrote");
                            tag_cluster_member(&mut d, cid, size);
                            Edit::Replace(
                                serde_json::to_vec(&d)
                                    .expect("serialising a JSON value cannot fail"),
                            )
                        }
                        None => Edit::Keep,
                    });
                kept = k;
                jsonl
            }
            None => {
                let mut jsonl = Vec::with_capacity(crate::bff::decompressed_size_hint(file));
                // Document ids are positions among the well-formed documents, as in step 1.
                for (di, d) in DocReader::open(file, self.cfg.on_malformed)?.enumerate() {
                    let (_, mut d) = d?;
                    match clusters.get(&(di as u32)) {
                        Some(&(_, _, true)) => continue,
                        Some(&(cid, size, false)) => tag_cluster_member(&mut d, cid, size),
                        None => {}
                    }
                    write_doc(&mut jsonl, &d);
                    jsonl.push(b'\n');
                    kept += 1;
                }
                jsonl
            }
        };
        let compressed = zstd::bulk::compress(&jsonl, 3).context("zstd compression")?;
        drop(jsonl);
        write_atomic(
            &stage.temp_path(shard, ".jsonl.zst"),
            &stage.shard_path(shard),
            &compressed,
        )?;
        stage.mark_done(shard, &json!({"docs_kept": kept}))?;
        Ok(kept)
    }

    /// The run's totals from the steps' records (every step must be done); writes `stats.json`.
    pub fn finish(&self) -> Result<DedupStats> {
        let mut st = DedupStats {
            files: self.files.len() as u64,
            ..Default::default()
        };
        for s in self.signature_shards() {
            ensure!(
                self.signatures_done(&s),
                "minhash signatures shard {s} not done"
            );
            let c: (u64, u64, u64) = self.sigs().done_stats(&s)?;
            st.docs_in += c.0;
            st.docs_with_signature += c.1;
            st.malformed_lines += c.2;
        }
        ensure!(self.clusters_done(), "minhash cluster merge not done");
        let m: MergeStats = read_json(&self.merge_path())?;
        st.duplicate_pairs = m.duplicate_pairs;
        st.clusters = m.clusters;
        st.docs_in_clusters = m.docs_in_clusters;
        st.docs_removed = m.docs_removed;
        for n in &self.names {
            ensure!(self.filter_done(n), "minhash filter shard {n} not done");
            st.docs_kept += self.run_filter(n)?;
        }
        self.stage()
            .write_stats(&json!({"minhash": st, "config": self.cfg}))?;
        Ok(st)
    }
}

/// The fields the filter step adds to a kept member of a cluster.
fn tag_cluster_member(d: &mut lmrepro_stage::Doc, cid: u32, size: u64) {
    d.insert("minhash_cluster_id".into(), json!(cid));
    d.insert("minhash_cluster_size".into(), json!(size));
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Union–find over `pairs` in order; per clustered document its cluster id (numbered in sorted
/// node order by root), cluster size and whether it is removed (every node but its root).
fn clusters_of(pairs: &[[u32; 4]]) -> Clusters {
    let mut uf = UnionFind::default();
    for p in pairs {
        uf.union((p[0], p[1]), (p[2], p[3]));
    }
    let nodes = uf.nodes();
    let mut cluster_ids: HashMap<(u32, u32), u32> = HashMap::new();
    let mut clusters = Clusters::new();
    for (node, root) in nodes {
        let next = cluster_ids.len() as u32;
        let cid = *cluster_ids.entry(root).or_insert(next);
        let size = *uf.size.get(&root).unwrap_or(&1);
        clusters.insert(node, (cid, size, node != root));
    }
    clusters
}

/// Steps 1–3, signatures, buckets, clusters, in memory as well; `work` keeps `sigs/`, `dups/`,
/// `clusters/` and `clusters.json`.
pub fn find_duplicates(
    files: &[PathBuf],
    work: &Path,
    cfg: &MinhashConfig,
) -> Result<(Clusters, Vec<[u32; 4]>, DedupStats)> {
    let job = MinhashJob::with_state(files.to_vec(), work, work, cfg)?;
    let (mut st, _) = job.signatures_and_clusters(true, 0)?;
    st.docs_kept = 0;
    let pairs = job.pairs()?;
    Ok((clusters_of(&pairs), pairs, st))
}

impl MinhashJob {
    /// Steps 1–3 in this process (signatures file by file, buckets in parallel). Per file, the
    /// documents serialised for the filter step while their total stays within `keep_bytes`
    /// (`None` for the others: the filter step reads those files again).
    fn signatures_and_clusters(
        &self,
        show_progress: bool,
        keep_bytes: usize,
    ) -> Result<(DedupStats, Vec<Option<Serialised>>)> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let mut st = DedupStats {
            files: self.files.len() as u64,
            ..Default::default()
        };
        let pb = progress::bar_if(show_progress, self.files.len() as u64, "minhash signatures");
        let held = AtomicUsize::new(0);
        // Files in parallel as well as documents within a file: reading and parsing a file is
        // sequential work, and every file's outputs are its own (the same bytes in any order).
        let (counts, kept): (Vec<_>, Vec<_>) = self
            .signature_shards()
            .par_iter()
            .map(|s| {
                let (c, docs) = self.signatures_keeping(s, keep_bytes > 0)?;
                // Which files are kept depends on the order files finish in; the filter
                // writes the same bytes either way.
                let docs = docs.filter(|docs| {
                    let size = docs.buf.len();
                    let before = held.fetch_add(size, Ordering::Relaxed);
                    let fits = before + size <= keep_bytes;
                    if !fits {
                        held.fetch_sub(size, Ordering::Relaxed);
                    }
                    fits
                });
                pb.inc(1);
                Ok((c, docs))
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        for c in counts {
            st.docs_in += c.0;
            st.docs_with_signature += c.1;
            st.malformed_lines += c.2;
        }
        pb.finish_and_clear();
        self.bucket_shards()
            .par_iter()
            .map(|b| self.run_bucket(b).map(|_| ()))
            .collect::<Result<()>>()?;
        let m = self.run_clusters()?;
        st.duplicate_pairs = m.duplicate_pairs;
        st.clusters = m.clusters;
        st.docs_in_clusters = m.docs_in_clusters;
        st.docs_removed = m.docs_removed;
        Ok((st, kept))
    }
}

/// Full MinHash dedup of `inputs` into stage directory `out` (work files under `out/_state`):
/// the four steps of [`MinhashJob`] in this process, each skipped where done.
pub fn run(inputs: &[PathBuf], out: &Path, cfg: &MinhashConfig) -> Result<DedupStats> {
    run_keeping(inputs, out, cfg, KEEP_FOR_FILTER_BYTES)
}

/// [`run`], keeping at most `keep_bytes` of serialised documents from step 1 for step 4.
fn run_keeping(
    inputs: &[PathBuf],
    out: &Path,
    cfg: &MinhashConfig,
    keep_bytes: usize,
) -> Result<DedupStats> {
    // One run per folder at a time (a distributed engine's shard tasks lock shard by shard).
    let _stage = ShardedStage::create(out)?;
    let job = MinhashJob::new(inputs, out, cfg)?;
    let (_, kept) = job.signatures_and_clusters(true, keep_bytes)?;
    let pb = progress::bar(job.files.len() as u64, "minhash filter");
    // Each output shard is its own file: filtering them in parallel writes the same bytes.
    job.names.par_iter().zip(kept).try_for_each(|(n, docs)| {
        job.filter_from(n, docs)?;
        pb.inc(1);
        Ok::<_, anyhow::Error>(())
    })?;
    pb.finish_and_clear();
    job.finish()
}

/// Exact dedup: the first document (in file, line order) with a given text is kept; the key is
/// the first 16 bytes of sha256(text). Memory: 16 bytes per distinct document.
///
/// Resume: next to each finished shard, `_state/exact/<shard>.keys` holds the keys that shard added
/// to the seen set and `<shard>.dups` the keys of the documents it removed, and the shard's marker
/// its counts; a resumed run loads those instead of re-reading and re-hashing finished inputs.
pub fn run_exact(inputs: &[PathBuf], out: &Path, on_malformed: OnMalformed) -> Result<DedupStats> {
    use sha2::{Digest, Sha256};
    let files = expand_inputs(inputs)?;
    let names = shard_names(&files);
    let stage = ShardedStage::create(out)?;
    let state = out.join("_state").join("exact");
    std::fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let mut seen: HashSet<[u8; 16]> = HashSet::new();
    let mut totals = ExactCounts::default();
    let mut dup_keys: HashSet<[u8; 16]> = HashSet::new();
    let pb = progress::bar(files.len() as u64, "exact dedup");
    for (fi, f) in files.iter().enumerate() {
        let name = &names[fi];
        let (keys_path, dups_path) = (
            state.join(format!("{name}.keys")),
            state.join(format!("{name}.dups")),
        );
        if stage.is_done(name) && keys_path.is_file() && dups_path.is_file() {
            let counts: ExactCounts = stage
                .done_stats(name)
                .with_context(|| format!("{}: marker of {name}", out.display()))?;
            let new_keys = read_keys(&keys_path)?;
            ensure!(
                new_keys.len() as u64 == counts.docs_kept,
                "{}: {} keys for {} kept documents (delete the stage to redo it)",
                keys_path.display(),
                new_keys.len(),
                counts.docs_kept
            );
            seen.extend(new_keys);
            dup_keys.extend(read_keys(&dups_path)?);
            totals.tally(&counts);
            pb.inc(1);
            continue;
        }
        let (ds, malformed) = read_docs(f, on_malformed)?;
        let keys: Vec<[u8; 16]> = ds
            .par_iter()
            .map(|(_, d)| {
                let h = Sha256::digest(text(d).as_bytes());
                h[..16].try_into().unwrap()
            })
            .collect();
        let docs_in = ds.len() as u64;
        let mut kept = Vec::new();
        let (mut new_keys, mut removed_keys) = (Vec::new(), Vec::new());
        for ((_, d), k) in ds.into_iter().zip(keys) {
            if seen.insert(k) {
                kept.push(d);
                new_keys.push(k);
            } else {
                removed_keys.push(k);
                dup_keys.insert(k);
            }
        }
        let counts = ExactCounts {
            docs_in,
            docs_kept: kept.len() as u64,
            docs_removed: removed_keys.len() as u64,
            malformed_lines: malformed,
        };
        // Keys first, marker last: a marker always has its keys.
        write_keys(&state, &keys_path, &new_keys)?;
        write_keys(&state, &dups_path, &removed_keys)?;
        stage.write_shard(name, &kept, &counts)?;
        totals.tally(&counts);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut st = DedupStats {
        files: files.len() as u64,
        docs_in: totals.docs_in,
        docs_kept: totals.docs_kept,
        docs_removed: totals.docs_removed,
        malformed_lines: totals.malformed_lines,
        ..Default::default()
    };
    st.clusters = dup_keys.len() as u64;
    st.docs_in_clusters = st.docs_removed + st.clusters;
    stage.write_stats(&json!({"exact": st}))?;
    Ok(st)
}

fn write_keys(dir: &Path, path: &Path, keys: &[[u8; 16]]) -> Result<()> {
    let tmp = dir.join(".keys.tmp");
    write_atomic(&tmp, path, &keys.concat())
}

fn read_keys(path: &Path) -> Result<Vec<[u8; 16]>> {
    let b = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    ensure!(
        b.len() % 16 == 0,
        "{}: {} bytes is not a whole number of 16-byte keys (delete the stage to redo it)",
        path.display(),
        b.len()
    );
    Ok(b.chunks_exact(16).map(|c| c.try_into().unwrap()).collect())
}

/// Writes pairs as `file doc file doc` lines (for comparisons with datatrove).
pub fn write_pairs(path: &Path, pairs: &[[u32; 4]]) -> Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    for p in pairs {
        writeln!(w, "{} {} {} {}", p[0], p[1], p[2], p[3])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn simplify_like_datatrove() {
        assert_eq!(
            simplify_text("Héllo,  WORLD!\n It’s 3.14 and 42…"),
            "hello world it s 0 and 0"
        );
        assert_eq!(simplify_text("  \t "), "");
    }

    #[test]
    fn treebank_contractions() {
        assert_eq!(
            word_tokenize("i cannot wanna go wanna"),
            vec!["i", "can", "not", "wan", "na", "go", "wanna"]
        );
    }

    #[test]
    fn union_find_keeps_bigger_root_and_first_on_ties() {
        let mut uf = UnionFind::default();
        uf.union((0, 1), (0, 2));
        uf.union((0, 3), (0, 4));
        uf.union((0, 3), (0, 1));
        let nodes = uf.nodes();
        // Ties: the first argument's root stays; equal sizes → (0,3)'s root (0,3) wins.
        assert!(nodes.iter().all(|(_, r)| *r == (0, 3)), "{nodes:?}");
    }

    /// Characters that exercise every branch of `simplify_text`: ASCII letters, digits and
    /// punctuation, number separators, non-ASCII digits (Arabic-Indic, fullwidth), punctuation
    /// and whitespace outside ASCII, letters with decompositions, combining marks (Mn and Mc),
    /// final sigma, the Kelvin sign, dotted capital I, control characters.
    fn long_text() -> impl Strategy<Value = String> {
        let run = "[a-zA-Z ,.;:!?'\"\n\t-]{0,200}";
        prop::collection::vec(prop_oneof![run.boxed(), tricky_text().boxed()], 0..8)
            .prop_map(|parts| parts.concat())
    }

    fn tricky_text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "a",
            "B",
            "z",
            "Q",
            "0",
            "7",
            "42",
            "3.14",
            "1,5",
            ".",
            ",",
            "!",
            "'",
            "\"",
            "-",
            "_",
            " ",
            "  ",
            "\n",
            "\t",
            "\r",
            "\u{b}",
            "\u{1}",
            "\u{1f}",
            "\u{7f}",
            "\u{85}",
            "\u{a0}",
            "\u{2003}",
            "\u{3000}",
            "،",
            "٫",
            "⎖",
            "٣",
            "١٢",
            "１",
            "９",
            "—",
            "“",
            "”",
            "’",
            "…",
            "％",
            "é",
            "É",
            "e\u{301}",
            "\u{301}",
            "\u{302}\u{323}",
            "\u{903}",
            "ñ",
            "Å",
            "\u{212b}",
            "\u{212a}",
            "İ",
            "Σ",
            "ΣΑΣ",
            "σ",
            "ς",
            "ß",
            "ﬁ",
            "\u{37e}",
            "\u{1fef}",
            "\u{2000}",
            "ǅ",
            "ᾼ",
            "한",
            "\u{1d165}\u{301}",
            "cannot",
            "CANNOT",
            "gimme",
            "lemme",
            "gonna",
            "gotta",
            "wanna",
            "Wanna",
            "ca\u{301}nnot",
            "x",
        ]);
        prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn mersenne_reduction_is_exact(v in any::<u64>()) {
            prop_assert_eq!(mod_mersenne(v), v % MERSENNE_PRIME);
        }

        #[test]
        fn fast_simplify_equals_reference(t in tricky_text()) {
            prop_assert_eq!(simplify_text(&t), reference::simplify_text(&t));
        }

        #[test]
        fn fast_simplify_equals_reference_on_any_string(t in ".{0,60}") {
            prop_assert_eq!(simplify_text(&t), reference::simplify_text(&t));
        }

        /// Texts long enough for the 64-byte blocks of `collapse`: long ASCII runs (the
        /// blocks) with the tricky pieces (digits, non-ASCII: the byte loop) between them.
        #[test]
        fn fast_simplify_equals_reference_on_long_texts(t in long_text()) {
            prop_assert_eq!(simplify_text(&t), reference::simplify_text(&t));
            prop_assert_eq!(shingles(&t, 5), reference::shingles(&t, 5));
        }

        #[test]
        fn fast_shingles_equal_reference(t in tricky_text(), n in 1usize..7) {
            let simplified = simplify_text(&t);
            prop_assert_eq!(word_tokenize(&simplified), reference::word_tokenize(&simplified));
            prop_assert_eq!(shingles(&t, n), reference::shingles(&t, n));
        }

        #[test]
        fn every_instruction_set_gives_the_reference_signature(
            sh in prop::collection::vec(any::<u64>(), 0..300),
            seed in 0u32..1000,
            num in 1usize..40,
        ) {
            let (a, b) = parameters(seed, num);
            let want = reference::signature(&sh, &a, &b);
            for simd in Simd::available() {
                prop_assert_eq!(&signature_with(simd, &sh, &a, &b), &want, "{:?}", simd);
            }
        }
    }

    proptest! {
        #[test]
        fn short_xxh64_equals_the_library(
            block in prop::collection::vec(any::<u8>(), 64),
            len in 0usize..64,
        ) {
            let block: [u8; 64] = block.try_into().unwrap();
            prop_assert_eq!(
                xxh64_below_64(&block, len),
                xxhash_rust::xxh64::xxh64(&block[..len], 0)
            );
        }

        /// Every n-gram of random word spans (words of 0–80 bytes, gaps of 1–3, so groups
        /// with shingles of ≥ 32 and ≥ 64 bytes and groups near the buffer's end) hashed by
        /// every instruction set like the library hashes the n-gram's bytes.
        #[test]
        fn shingle_hashes_equal_the_library(
            words in prop::collection::vec((0u32..80, 1u32..4), 0..120),
            short in any::<bool>(),
            n in 1usize..8,
            fill in any::<u64>(),
        ) {
            let mut spans = Vec::new();
            let mut at = 0u32;
            for (len, gap) in words {
                // Mostly short words, as in text, unless `short` is false.
                let len = if short { len % 9 } else { len };
                spans.push([at, at + len]);
                at += len + gap;
            }
            let mut state = fill | 1;
            let bytes: Vec<u8> = (0..at)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let want: Vec<u64> = (0..(spans.len() + 1).saturating_sub(n))
                .map(|i| {
                    let (s, e) = (spans[i][0] as usize, spans[i + n - 1][1] as usize);
                    xxhash_rust::xxh64::xxh64(&bytes[s..e], 0)
                })
                .collect();
            for simd in Simd::available() {
                prop_assert_eq!(&shingle_hashes_with(simd, &bytes, &spans, n), &want, "{:?}", simd);
            }
        }

        #[test]
        fn shingle_hash_equals_the_library(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
            start in 0usize..200,
            len in 0usize..120,
        ) {
            let start = start.min(bytes.len());
            let end = (start + len).min(bytes.len());
            prop_assert_eq!(
                shingle_hash(&bytes, start, end),
                xxhash_rust::xxh64::xxh64(&bytes[start..end], 0)
            );
        }

        #[test]
        fn doc_writer_equals_serde_json(doc in json_doc()) {
            let mut ours = Vec::new();
            write_doc(&mut ours, &doc);
            prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&doc).unwrap()
            );
        }

        /// Lanes where some product needs the final subtraction (`(v & p) + (v >> 61) ≥ p`)
        /// among ordinary ones: the AVX-512 kernel's recomputation path.
        #[test]
        fn unreduced_products_are_recomputed(
            sh in prop::collection::vec(any::<u64>(), 1..50),
            wraps in prop::collection::vec((0u64..8, 0u64..8), 0..4),
            num in 1usize..40,
        ) {
            let (mut a, mut b) = parameters(7, num);
            // Lane 0 is the identity: shingles `hi·2^61 + p − 1 − k` with `hi + … ≥ p`.
            a[0] = 1;
            b[0] = 0;
            let mut sh = sh;
            for (hi, k) in wraps {
                sh.push((hi << 61) | (MERSENNE_PRIME - k));
            }
            let want = reference::signature(&sh, &a, &b);
            for simd in Simd::available() {
                prop_assert_eq!(&signature_with(simd, &sh, &a, &b), &want, "{:?}", simd);
            }
        }
    }

    #[test]
    fn strings_of_escapes_only_are_written_like_serde_json() {
        // Whole 16-byte blocks of 6-byte escapes (the most a block can grow), and mixtures.
        for s in [
            "\u{1}".repeat(40),
            "\"\\\n\r\t\u{8}\u{c}\u{1f}".repeat(9),
            format!("{}é{}", "\u{0}".repeat(17), "a\"".repeat(20)),
        ] {
            let mut ours = Vec::new();
            write_json_str(&mut ours, &s);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&s).unwrap()
            );
        }
    }

    #[test]
    fn every_length_below_64_hashes_like_the_library() {
        let block: [u8; 64] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
        for len in 0..64 {
            assert_eq!(
                xxh64_below_64(&block, len),
                xxhash_rust::xxh64::xxh64(&block[..len], 0),
                "length {len}"
            );
        }
    }

    /// Documents with strings full of what JSON escapes (quotes, backslashes, every control
    /// character, DEL, non-ASCII) at the top level and nested, numbers, booleans and nulls.
    fn json_doc() -> impl Strategy<Value = Doc> {
        let text = "[a-z \"\\\\\u{0}-\u{1f}\u{7f}é€😀]{0,80}";
        let leaf = prop_oneof![
            text.prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
        ];
        let value = leaf.prop_recursive(2, 12, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map(text, inner, 0..3)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        });
        prop::collection::btree_map(text, value, 0..5).prop_map(|m| m.into_iter().collect())
    }

    #[test]
    fn extreme_products_reduce_exactly() {
        // Products whose low 61 bits are all ones, or that wrap to 0 / u64::MAX.
        let sh = [
            0,
            1,
            u64::MAX,
            MERSENNE_PRIME,
            MERSENNE_PRIME + 1,
            1 << 61,
            7 << 61,
        ];
        let a = [1, MERSENNE_PRIME - 1, u64::MAX, 1 << 63];
        let b = [0, MERSENNE_PRIME - 1, u64::MAX, 6];
        for simd in Simd::available() {
            assert_eq!(
                signature_with(simd, &sh, &a, &b),
                reference::signature(&sh, &a, &b),
                "{simd:?}"
            );
        }
    }

    #[test]
    fn identical_documents_share_signatures() {
        let (a, b) = parameters(1, 16);
        let t = "the quick brown fox jumps over the lazy dog again and again";
        let s1 = signature(&shingles(t, 5), &a, &b).unwrap();
        let s2 = signature(&shingles(&t.to_uppercase(), 5), &a, &b).unwrap();
        assert_eq!(s1, s2);
        assert!(signature(&shingles("too short", 5), &a, &b).is_none());
        assert!(s1.iter().all(|&h| h < MERSENNE_PRIME));
    }

    proptest! {
        #[test]
        fn spaces_found_by_mask_equal_a_byte_scan(
            b in prop::collection::vec(prop::sample::select(vec![b' ', b'a', b'\n', 0xc3]), 0..300)
        ) {
            let mut found = Vec::new();
            for_each_space(&b, |i| found.push(i));
            let expected: Vec<usize> = (0..b.len()).filter(|&i| b[i] == b' ').collect();
            prop_assert_eq!(found, expected);
        }
    }

    /// Every file of a folder, by relative path, with its bytes.
    fn folder_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    out.insert(
                        p.strip_prefix(root).unwrap().into(),
                        std::fs::read(&p).unwrap(),
                    );
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(dir, dir, &mut out);
        out
    }

    /// A document line: one of a few texts (so that some are duplicates), other fields of every
    /// JSON type (floats that need all 17 digits, nested objects, unicode and escapes), keys in
    /// any order; sometimes a malformed line.
    fn doc_line() -> impl Strategy<Value = String> {
        let texts = prop::sample::select(vec![
            "the quick brown fox jumps over the lazy dog again and again",
            "The quick brown fox jumps over the lazy dog again and AGAIN!",
            "a completely different text about minhash signatures and buckets",
            "ünïcödé text with \"quotes\", tabs\tand newlines\n in it, five words",
            "short",
        ]);
        let value = prop_oneof![
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            any::<i64>().prop_map(|i| json!(i)),
            any::<u64>().prop_map(|i| json!(i)),
            "[a-zé\"\\\u{1}/ ]{0,8}".prop_map(|s| json!(s)),
            any::<bool>().prop_map(|b| json!({"nested": b, "list": [1.5, null, "x"]})),
        ];
        (
            texts,
            prop::collection::vec(("[a-z_]{1,6}", value), 0..4),
            0u8..20,
        )
            .prop_map(|(t, fields, kind)| {
                if kind == 0 {
                    return "{not json".to_string();
                }
                // Keys in reverse order, as another writer might put them.
                let mut parts: Vec<String> = fields
                    .iter()
                    .filter(|(k, _)| k != "text")
                    .map(|(k, v)| format!("{}: {}", json!(k), v))
                    .collect();
                parts.push(format!("\"text\": {}", json!(t)));
                parts.reverse();
                format!("{{{}}}", parts.join(", "))
            })
    }

    proptest! {
        #[test]
        fn line_buffer_reading_equals_read_docs(
            lines in prop::collection::vec(prop::sample::select(vec![
                r#"{"text": "a b c", "id": 1}"#.as_bytes(),
                br#"{"text":"x\u00e9","f":0.5}"#,
                b"",
                b"   ",
                b"\t\r",
                b"{\"text\": 3}",
                b"not json",
                b"{\"text\": \"\xff\"}",
                b"{\"text\": \"caf\xc3\xa9\"}\r",
            ]), 0..8),
            last_newline in any::<bool>(),
            zst in any::<bool>(),
            truncate in 0usize..4,
            min_read in 1usize..40,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut bytes = lines.join(&b'\n');
            if last_newline && !lines.is_empty() {
                bytes.push(b'\n');
            }
            let p = if zst {
                let p = dir.path().join("f.jsonl.zst");
                // A cut frame: a read error where its data ends.
                let mut z = zstd::bulk::compress(&bytes, 3).unwrap();
                z.truncate(z.len() - truncate.min(z.len() - 1));
                std::fs::write(&p, z).unwrap();
                p
            } else {
                let p = dir.path().join("f.jsonl");
                std::fs::write(&p, &bytes).unwrap();
                p
            };
            for on in [OnMalformed::Skip, OnMalformed::Error] {
                let (a, b) = (read_file_docs_with(&p, on, min_read), read_docs(&p, on));
                match (a, b) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                    (Err(a), Err(b)) => prop_assert_eq!(format!("{a:#}"), format!("{b:#}")),
                    (a, b) => prop_assert!(false, "{:?} vs {:?}", a.map(|_| ()), b.map(|_| ())),
                }
            }
        }
    }

    #[test]
    fn kept_cluster_members_are_tagged_the_same_from_kept_documents() {
        let dir = tempfile::tempdir().unwrap();
        let t = "the quick brown fox jumps over the lazy dog again and again";
        let p = dir.path().join("in.jsonl");
        let lines = [
            json!({"text": t, "x": 0.1 + 0.2, "id": "é"}).to_string(),
            json!({"text": "another text of more than five words here"}).to_string(),
            json!({"id": 7, "text": t.to_uppercase(), "minhash_cluster_id": "old"}).to_string(),
        ];
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        let cfg = MinhashConfig::default();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        run_keeping(std::slice::from_ref(&p), &a, &cfg, usize::MAX).unwrap();
        run_keeping(&[p], &b, &cfg, 0).unwrap();
        let out = folder_bytes(&a);
        assert_eq!(out, folder_bytes(&b));
        let shard = zstd::decode_all(&out[Path::new("in.jsonl.zst")][..]).unwrap();
        assert_eq!(
            String::from_utf8(shard).unwrap(),
            format!(
                "{}\n{}\n",
                r#"{"id":"é","minhash_cluster_id":0,"minhash_cluster_size":2,"text":"the quick brown fox jumps over the lazy dog again and again","x":0.30000000000000004}"#,
                lines[1]
            )
        );
    }

    proptest! {
        // Lines of any length (empty, short, longer than their neighbours), and per line a
        // drop, a keep or a replacement shorter or longer than it: every mix of left and
        // right moves, a grown and a shrunk buffer.
        #[test]
        fn filtering_in_place_equals_building_a_new_buffer(
            docs in prop::collection::vec(
                (prop::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..40),
                 0u8..4,
                 prop::collection::vec(any::<u8>(), 0..80)),
                0..30)
        ) {
            let mut buf = Vec::new();
            let mut ends = Vec::new();
            for (line, _, _) in &docs {
                buf.extend_from_slice(line);
                ends.push(buf.len());
                buf.push(b'\n');
            }
            let mut expected = Vec::new();
            let mut expected_kept = 0u64;
            for (line, what, new) in &docs {
                match what {
                    0 => continue,
                    1 => expected.extend_from_slice(new),
                    _ => expected.extend_from_slice(line),
                }
                expected.push(b'\n');
                expected_kept += 1;
            }
            let ser = Serialised { buf, ends };
            let (out, kept) = filter_in_place(ser, |i, line| {
                assert_eq!(line, &docs[i].0[..]);
                match docs[i].1 {
                    0 => Edit::Drop,
                    1 => Edit::Replace(docs[i].2.clone()),
                    _ => Edit::Keep,
                }
            });
            prop_assert_eq!(kept, expected_kept);
            prop_assert_eq!(out, expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Step 4 from the documents kept in step 1 writes what it writes from the files.
        #[test]
        fn kept_documents_give_the_filter_the_same_bytes(
            files in prop::collection::vec(prop::collection::vec(doc_line(), 1..12), 1..4)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut inputs = Vec::new();
            for (i, lines) in files.iter().enumerate() {
                let p = dir.path().join(format!("in{i}.jsonl"));
                std::fs::write(&p, lines.join("\n") + "\n").unwrap();
                inputs.push(p);
            }
            let cfg = MinhashConfig {
                num_buckets: 4,
                hashes_per_bucket: 2,
                on_malformed: OnMalformed::Skip,
                ..Default::default()
            };
            let (a, b) = (dir.path().join("a"), dir.path().join("b"));
            let sa = run_keeping(&inputs, &a, &cfg, usize::MAX).unwrap();
            let sb = run_keeping(&inputs, &b, &cfg, 0).unwrap();
            prop_assert_eq!(sa, sb);
            prop_assert_eq!(folder_bytes(&a), folder_bytes(&b));
        }
    }
}
