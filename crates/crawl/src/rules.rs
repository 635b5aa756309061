//! DCLM's mapper functions (`baselines/mappers/...` at mlfoundations/dclm@361714b), one Rust
//! function per Python function, with the same definitions of words, lines and ratios. Each
//! function documents the quirks it keeps. Filters only read the text; modifiers return the new
//! text or `None` when DCLM returns `[]`.

use crate::words;
use lmrepro_pycompat::unicode as pyunicode;
use regex::Regex;
use std::collections::{HashMap, HashSet};

// ---------------------------------------------------------------- content filters

/// Python's `not (a > b)`, also for NaN thresholds (then the comparison is false and the page is
/// kept).
#[inline]
fn not_greater(a: f64, b: f64) -> bool {
    a.partial_cmp(&b) != Some(std::cmp::Ordering::Greater)
}

/// `page_length_filter(length_type='word', ...)` with `split_words(model='fasttext')`.
pub fn page_length_words(text: &str, min: f64, max: f64, ignore_punctuation: bool) -> bool {
    let n = words::fasttext_word_count(text, ignore_punctuation) as f64;
    !(n < min || n > max)
}

/// `word_length_filter`: mean `len()` of `str.split()` words within `[min, max]`; no words drops.
pub fn word_length_filter(text: &str, min: f64, max: f64) -> bool {
    let (mut n, mut chars) = (0usize, 0usize);
    for w in pyunicode::split_whitespace(text) {
        n += 1;
        chars += pyunicode::len(w);
    }
    if n == 0 {
        return false;
    }
    let avg = chars as f64 / n as f64;
    !(avg < min || avg > max)
}

/// Non-overlapping `str.count(sub)` (memchr's SIMD substring search; `str::matches`, which a
/// test compares it with, took 4 % of the heuristics in its two-way searcher).
fn count(text: &str, sub: &str) -> usize {
    memchr::memmem::find_iter(text.as_bytes(), sub.as_bytes()).count()
}

/// `symbol_ratio_filter`: (`#` + `...` + `. . .` + `…` counts) / `str.split()` words.
pub fn symbol_ratio_filter(text: &str, max_ratio: f64) -> bool {
    let symbols =
        count(text, "#") + count(text, "...") + count(text, ". . .") + count(text, "\u{2026}");
    let nwords = pyunicode::split_whitespace(text).count();
    !(nwords == 0 || symbols as f64 / nwords as f64 > max_ratio)
}

/// `bullet_count_filter`: stripped non-empty lines starting with `● • * -`.
pub fn bullet_count_filter(text: &str, max_ratio: f64) -> bool {
    let (mut n, mut bullets) = (0usize, 0usize);
    for line in words::split_paragraphs(text, "\n") {
        n += 1;
        if line.starts_with(['●', '•', '*', '-']) {
            bullets += 1;
        }
    }
    not_greater(bullets as f64, max_ratio * n as f64)
}

/// `ellipsis_count_filter`: stripped non-empty lines ending with `...`, `. . .` or `…`.
pub fn ellipsis_count_filter(text: &str, max_ratio: f64) -> bool {
    let (mut n, mut ell) = (0usize, 0usize);
    for line in words::split_paragraphs(text, "\n") {
        n += 1;
        if line.ends_with("...") || line.ends_with(". . .") || line.ends_with('\u{2026}') {
            ell += 1;
        }
    }
    not_greater(ell as f64, max_ratio * n as f64)
}

/// `alphabetic_word_ratio_filter`: share of `str.split()` words without any `isalpha()` char.
pub fn alphabetic_word_ratio_filter(text: &str, max_ratio: f64) -> bool {
    let (mut n, mut non_alpha) = (0usize, 0usize);
    for w in pyunicode::split_whitespace(text) {
        n += 1;
        if !w.chars().any(pyunicode::is_alpha) {
            non_alpha += 1;
        }
    }
    n != 0 && non_alpha as f64 / n as f64 <= max_ratio
}

const STOP_WORDS: [&str; 8] = ["the", "be", "to", "of", "and", "that", "have", "with"];

fn lower_is_stop_word(w: &str) -> Option<&'static str> {
    // Stop words are 2-4 ASCII letters; `str.lower()` of anything longer or non-ASCII can only
    // equal one if it lower-cases to ASCII, which only ASCII letters and U+212A KELVIN SIGN do
    // (no stop word has a k), so comparing ASCII-case-insensitively is exact.
    if w.len() > 4 || !w.is_ascii() {
        return None;
    }
    STOP_WORDS
        .iter()
        .copied()
        .find(|s| s.eq_ignore_ascii_case(w))
}

/// `stop_word_filter`: at least `min` stop words among `str.split()` words (lower-cased).
pub fn stop_word_filter(text: &str, count_unique: bool, min: usize) -> bool {
    if count_unique {
        let mut seen = HashSet::new();
        for w in pyunicode::split_whitespace(text) {
            if let Some(s) = lower_is_stop_word(w) {
                seen.insert(s);
                if seen.len() >= min {
                    return true;
                }
            }
        }
    } else {
        let mut c = 0;
        for w in pyunicode::split_whitespace(text) {
            if lower_is_stop_word(w).is_some() {
                c += 1;
                if c >= min {
                    return true;
                }
            }
        }
    }
    // DCLM returns [] here even when min_stop_word <= 0 and there are no words.
    false
}

/// `massive_web_repetition_filters(page, skip_paragraph)`: Gopher repetition thresholds in DCLM's
/// order. Returns the first failing check's name for reports, or `None` when the page passes.
pub fn massive_web_repetition(text: &str, skip_paragraph: bool) -> Option<&'static str> {
    if text.is_empty() {
        return Some("empty");
    }
    // Lines and paragraphs are each split and counted once, for both of their checks.
    let (mut lines, mut paragraphs): (Option<SegStats>, Option<SegStats>) = (None, None);
    let checks: [(&str, &str, bool, f64); 4] = [
        ("line_count", "\n", false, 0.3),
        ("paragraph_count", "\n\n", false, 0.3),
        ("line_chars", "\n", true, 0.2),
        ("paragraph_chars", "\n\n", true, 0.2),
    ];
    for (name, sep, chars, max) in checks {
        if skip_paragraph && sep == "\n\n" {
            continue;
        }
        let slot = if sep == "\n" {
            &mut lines
        } else {
            &mut paragraphs
        };
        if !slot
            .get_or_insert_with(|| SegStats::new(text, sep))
            .passes(chars, max)
        {
            return Some(name);
        }
    }
    // Intern words as ids so n-grams hash as small integer slices (exact counts, no hash of
    // strings per n-gram).
    // Sized for short words up front: growing the map rehashed every word id several times.
    let mut ids: HashMap<&str, u32, FxBuild> =
        HashMap::with_capacity_and_hasher(text.len() / 16, FxBuild::default());
    let mut seq: Vec<u32> = Vec::with_capacity(text.len() / 4);
    let mut id_len: Vec<usize> = Vec::new();
    words::for_each_uniseg_word(text, |w| {
        let next = ids.len() as u32;
        let id = *ids.entry(w).or_insert_with(|| {
            id_len.push(pyunicode::len(w));
            next
        });
        seq.push(id);
    });
    let lens: Vec<usize> = seq.iter().map(|&i| id_len[i as usize]).collect();
    ngram_repetition(&seq, &lens)
}

/// Gopher's n-gram repetition thresholds (n, largest allowed fraction, verdict name): n ≤ 4 checks
/// the most frequent n-gram, n ≥ 5 the characters covered by duplicated n-grams.
const NGRAM_CHECKS: [(usize, f64, &str); 9] = [
    (2, 0.2, "2gram"),
    (3, 0.18, "3gram"),
    (4, 0.16, "4gram"),
    (5, 0.15, "5gram"),
    (6, 0.14, "6gram"),
    (7, 0.13, "7gram"),
    (8, 0.12, "8gram"),
    (9, 0.11, "9gram"),
    (10, 0.10, "10gram"),
];

/// The nine Gopher n-gram checks on interned words `seq` (`lens[i]`: characters of word i).
fn ngram_repetition(seq: &[u32], lens: &[usize]) -> Option<&'static str> {
    // Character offset of each word start: an n-gram's length is a difference of two entries.
    let mut offsets: Vec<usize> = Vec::with_capacity(seq.len() + 1);
    offsets.push(0);
    for &l in lens {
        offsets.push(offsets.last().copied().unwrap_or(0) + l);
    }
    let total = offsets[seq.len()];
    // `grams[i]` is the id of the (n-1)-gram starting at word i; the n-gram at i is interned as
    // the pair (that id, word i+n-1). Equal pairs <=> equal n-grams (by induction on n), so the
    // counts are exact while each level hashes one u64 per position instead of n words.
    //
    // An n-gram that occurs once extends an (n-1)-gram that occurs once (another occurrence of
    // the n-gram would start with another occurrence of its prefix), so positions whose prefix is
    // unique are marked [`UNIQUE`] and never hashed again: past the first levels almost every
    // position of ordinary text is unique, and only the repeated ones cost a hash lookup.
    let mut grams: Vec<u32> = seq.to_vec();
    let mut word_counts = vec![0u32; seq.iter().map(|&w| w as usize + 1).max().unwrap_or(0)];
    for &w in seq {
        word_counts[w as usize] += 1;
    }
    for g in &mut grams {
        if word_counts[*g as usize] == 1 {
            *g = UNIQUE;
        }
    }
    let mut pair_ids: HashMap<u64, u32, FxBuild> =
        HashMap::with_capacity_and_hasher(seq.len(), FxBuild::default());
    let mut counts: Vec<u32> = Vec::with_capacity(seq.len());
    for (n, max, name) in NGRAM_CHECKS {
        if seq.len() < n {
            // Fewer words than n: this and every longer check pass.
            break;
        }
        pair_ids.clear();
        counts.clear();
        let m = seq.len() - n + 1;
        for i in 0..m {
            if grams[i] == UNIQUE {
                continue;
            }
            let key = (u64::from(grams[i]) << 32) | u64::from(seq[i + n - 1]);
            let next = pair_ids.len() as u32;
            let id = *pair_ids.entry(key).or_insert(next);
            if id == next {
                counts.push(0);
            }
            counts[id as usize] += 1;
            grams[i] = id;
        }
        grams.truncate(m);
        for g in &mut grams {
            if *g != UNIQUE && counts[*g as usize] == 1 {
                *g = UNIQUE;
            }
        }
        if !ngram_passes(&grams, &counts, &offsets, total, n, max) {
            return Some(name);
        }
    }
    None
}

/// The id of an n-gram known to occur once (not interned).
const UNIQUE: u32 = u32::MAX;

/// The hasher of interned ids, words and lines (rustc-hash's FxHash: a multiply per 8 bytes).
/// Counting is exact whatever the hash (the maps compare keys); only speed depends on it.
type FxBuild = rustc_hash::FxBuildHasher;

#[derive(Clone)]
struct SegStats {
    n: usize,
    total_chars: usize,
    /// Sum of counts of segments seen more than once, and of their `len * count`.
    dup_count: usize,
    dup_chars: usize,
}

impl SegStats {
    fn new(text: &str, sep: &str) -> SegStats {
        let mut counts: HashMap<&str, usize, FxBuild> = HashMap::default();
        let (mut n, mut total) = (0, 0);
        for s in words::split_paragraphs(text, sep) {
            n += 1;
            total += pyunicode::len(s);
            *counts.entry(s).or_default() += 1;
        }
        let (mut dc, mut dch) = (0, 0);
        for (s, c) in counts {
            if c > 1 {
                dc += c;
                dch += pyunicode::len(s) * c;
            }
        }
        SegStats {
            n,
            total_chars: total,
            dup_count: dc,
            dup_chars: dch,
        }
    }

    /// `repetition_filter(page, 'line'|'paragraph', max, count_characters)`.
    fn passes(&self, count_characters: bool, max: f64) -> bool {
        match self.n {
            0 => false,
            1 => true,
            n => {
                let frac = if count_characters {
                    self.dup_chars as f64 / self.total_chars as f64
                } else {
                    self.dup_count as f64 / n as f64
                };
                frac <= max
            }
        }
    }
}

/// `repetition_filter(page, n, max)` with Gopher's defaults: `most_common` for n <= 4 (the longest
/// n-gram, in characters, among those tied for the top count), `all` above (characters of words
/// covered by any repeated n-gram, each word once). `grams[i]` is the id of the n-gram at word i
/// ([`UNIQUE`]: it occurs once), `counts[id]` its count, `offsets[i]` the characters before word i.
fn ngram_passes(
    grams: &[u32],
    counts: &[u32],
    offsets: &[usize],
    total: usize,
    n: usize,
    max: f64,
) -> bool {
    let top = counts.iter().copied().max().unwrap_or(0);
    if top <= 1 {
        return true;
    }
    let frac = if n <= 4 {
        let mut longest = 0usize;
        for (i, &g) in grams.iter().enumerate() {
            if g != UNIQUE && counts[g as usize] == top {
                longest = longest.max(offsets[i + n] - offsets[i]);
            }
        }
        (longest * top as usize) as f64 / total as f64
    } else {
        // Union of the covered word ranges, swept left to right (ranges start in order).
        let (mut chars, mut covered_to) = (0usize, 0usize);
        for (i, &g) in grams.iter().enumerate() {
            if g != UNIQUE && counts[g as usize] > 1 {
                let from = i.max(covered_to);
                chars += offsets[i + n] - offsets[from];
                covered_to = i + n;
            }
        }
        chars as f64 / total as f64
    };
    frac <= max
}

/// `word_removal_ratio_filter`: `(prev - now) / prev <= max`; `prev == 0` drops.
pub fn word_removal_ratio_filter(
    text: &str,
    prev: u64,
    max: f64,
    ignore_punctuation: bool,
) -> bool {
    if prev == 0 {
        return false;
    }
    let now = words::fasttext_word_count(text, ignore_punctuation) as i64;
    let ratio = (prev as i64 - now) as f64 / prev as f64;
    ratio <= max
}

// ---------------------------------------------------------------- modifiers

/// `'\n'.join(l for l in text.split('\n') if keep(l)).strip()`, `None` when empty: the line
/// filters' shared shape. When every line stays the result is `text.strip()`, without collecting
/// and re-joining the lines (most pages lose no line to any one filter).
fn keep_lines_strip(text: &str, mut keep: impl FnMut(&str) -> bool) -> Option<String> {
    let mut lines: Vec<&str> = Vec::new();
    let mut dropped = false;
    for l in text.split('\n') {
        if keep(l) {
            lines.push(l);
        } else {
            dropped = true;
        }
    }
    if !dropped {
        // `'\n'.join(text.split('\n')) == text`.
        let s = pyunicode::strip(text);
        return (!s.is_empty()).then(|| s.to_string());
    }
    join_strip(&lines)
}

/// `'\n'.join(lines).strip()`, `None` when empty (DCLM returns `[]`).
fn join_strip(lines: &[&str]) -> Option<String> {
    let j = lines.join("\n");
    let s = pyunicode::strip(&j);
    if s.is_empty() {
        None
    } else if s.len() == j.len() {
        Some(j)
    } else {
        Some(s.to_string())
    }
}

/// `uppercase_ratio_line_modifier`: drops lines whose `isupper()` share exceeds `max`; keeps
/// empty lines; ends with `.strip()`.
pub fn uppercase_ratio_line_modifier(text: &str, max: f64) -> Option<String> {
    char_ratio_line_modifier(text, max, |b| b.is_ascii_uppercase(), pyunicode::is_upper)
}

/// `numeric_ratio_line_modifier`: as above with `isdigit()`.
pub fn numeric_ratio_line_modifier(text: &str, max: f64) -> Option<String> {
    char_ratio_line_modifier(text, max, |b| b.is_ascii_digit(), pyunicode::is_digit)
}

/// Keeps empty lines and lines whose share of characters with `pred` is at most `max`
/// (characters counted as Python counts `len(line)`: code points). `ascii` is `pred` on ASCII
/// bytes: an all-ASCII line (most of them) is counted byte by byte, without decoding, and both
/// predicates are generic parameters so they inline (a `fn` pointer cost a call per character).
fn char_ratio_line_modifier(
    text: &str,
    max: f64,
    ascii: impl Fn(u8) -> bool,
    pred: impl Fn(char) -> bool,
) -> Option<String> {
    keep_lines_strip(text, |l| {
        l.is_empty() || {
            let (n, hits) = if l.is_ascii() {
                (l.len(), l.bytes().filter(|&b| ascii(b)).count())
            } else {
                l.chars()
                    .fold((0usize, 0usize), |(n, h), c| (n + 1, h + pred(c) as usize))
            };
            hits as f64 / n as f64 <= max
        }
    })
}

/// `counter_line_modifier`'s regex, on `line.lower()`; `\s` widened to Python's whitespace.
pub fn counter_regex() -> Regex {
    let s = pyunicode::RE_SPACE_CLASS;
    Regex::new(&format!(
        r"^\W*\d(?:,|\.|\d)*(?:K|k|M|m|B|b)?{s}+(?:likes|shares|comments|retweets|reposts|quotes|bookmarks|upvotes|downvotes|downloads|views|followers)\W*$"
    ))
    .expect("counter regex")
}

/// `counter_line_modifier`: drops lines like `12 likes`; ends with `.strip()`.
pub fn counter_line_modifier(text: &str, re: &Regex) -> Option<String> {
    keep_lines_strip(text, |l| {
        // Cheap exact pre-check: the regex needs a digit (`\d`) and one of the ASCII keywords.
        if !l.chars().any(|c| c.is_numeric()) {
            return true;
        }
        !re.is_match(&l.to_lowercase())
    })
}

/// `line_length_modifier`: keeps lines with `min <= len(line.split()) <= max` and empty lines;
/// no `.strip()`.
pub fn line_length_modifier(text: &str, min: f64, max: f64) -> Option<String> {
    let lines: Vec<&str> = text
        .split('\n')
        .filter(|l| {
            let n = pyunicode::split_whitespace(l).count() as f64;
            (min <= n && n <= max) || l.is_empty()
        })
        .collect();
    let j = lines.join("\n");
    if j.is_empty() {
        None
    } else {
        Some(j)
    }
}

/// `newline_removal_modifier`: runs of more than `max` newlines become `max` newlines.
pub fn newline_removal_modifier(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = 0usize;
    for c in text.chars() {
        if c == '\n' {
            run += 1;
            continue;
        }
        if run > 0 {
            for _ in 0..run.min(max) {
                out.push('\n');
            }
            run = 0;
        }
        out.push(c);
    }
    for _ in 0..run.min(max) {
        out.push('\n');
    }
    // `re.sub(r'\n{max+1,}', '\n'*max)`: runs of length <= max stay as they are (already handled
    // by min), longer runs become exactly max.
    out
}

/// `substring_line_modifier`'s compiled pattern. The banlist goes into the regex **unescaped**
/// (so `Read more...` ends in three any-characters), lower-cased unless case-sensitive.
pub fn substring_line_regex(
    banlist: &[String],
    case_sensitive: bool,
    location: &str,
) -> Result<Regex, regex::Error> {
    let items: Vec<String> = banlist
        .iter()
        .map(|b| {
            if case_sensitive {
                b.clone()
            } else {
                b.to_lowercase()
            }
        })
        .collect();
    let alt = crate::retrie::python_regex_to_rust(&format!("(?:{})", items.join("|")));
    let s = pyunicode::RE_SPACE_CLASS;
    let pat = match location {
        "prefix" => format!("^{alt}{s}?"),
        "suffix" => format!("{s}?{alt}$"),
        _ => format!("{s}?{alt}"),
    };
    let pat = if case_sensitive {
        pat
    } else {
        format!("(?i){pat}")
    };
    Regex::new(&pat)
}

/// `substring_line_modifier`: on lines with at most `max_length` `str.split()` words, deletes the
/// match (`remove_substring_only`, dropping lines left empty/whitespace) or drops the matching
/// line; ends with `.strip()`.
pub fn substring_line_modifier(
    text: &str,
    re: &Regex,
    max_length: Option<usize>,
    remove_substring_only: bool,
) -> Option<String> {
    let mut out: Vec<std::borrow::Cow<str>> = Vec::new();
    for line in text.split('\n') {
        // Counting stops past `m` words: long lines are left alone whatever their length.
        let short =
            max_length.is_none_or(|m| pyunicode::split_whitespace(line).take(m + 1).count() <= m);
        if short {
            if remove_substring_only {
                let modified = re.replace_all(line, "");
                if !line.is_empty() && (modified.is_empty() || pyunicode::str_is_space(&modified)) {
                    continue;
                }
                out.push(modified);
                continue;
            } else if re.is_match(line) {
                continue;
            }
        }
        out.push(std::borrow::Cow::Borrowed(line));
    }
    let refs: Vec<&str> = out.iter().map(|c| c.as_ref()).collect();
    join_strip(&refs)
}

/// `citation_removal_modifier` (C4): deletes `[12]`, `[edit]`, `[citation needed]`.
pub fn citation_removal_modifier(text: &str, re: &Regex) -> Option<String> {
    let t = re.replace_all(text, "").into_owned();
    if t.is_empty() {
        None
    } else {
        Some(t)
    }
}

/// `punctuation_line_modifier` (C4): keeps lines ending in `.!?"…` (then optional whitespace)
/// and empty lines; optionally drops lines ending in an ellipsis.
pub fn punctuation_line_modifier(
    text: &str,
    remove_ellipses: bool,
    end: &Regex,
    ell: &Regex,
) -> Option<String> {
    let lines: Vec<&str> = text
        .split('\n')
        .filter(|l| end.is_match(l) || l.is_empty())
        .filter(|l| !remove_ellipses || !ell.is_match(l))
        .collect();
    let j = lines.join("\n");
    if j.is_empty() {
        None
    } else {
        Some(j)
    }
}

/// `word_length_modifier(model='split')` (C4): drops lines with a `str.split()` word longer than
/// `max` characters.
pub fn word_length_modifier_split(text: &str, max: usize) -> Option<String> {
    let lines: Vec<&str> = text
        .split('\n')
        .filter(|l| pyunicode::split_whitespace(l).all(|w| pyunicode::len(w) <= max))
        .collect();
    let j = lines.join("\n");
    if j.is_empty() {
        None
    } else {
        Some(j)
    }
}

/// `within_page_dedup(granularity, normalize)`: keeps the first occurrence of each line/paragraph
/// (normalised by `.strip().lower()`), always keeps empty ones.
pub fn within_page_dedup(text: &str, sep: &str, normalize: bool) -> String {
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for piece in words::split_literal(text, sep) {
        let norm = if normalize {
            pyunicode::strip(piece).to_lowercase()
        } else {
            piece.to_string()
        };
        if norm.is_empty() || !seen.contains(&norm) {
            out.push(piece);
            seen.insert(norm);
        }
    }
    out.join(sep)
}

/// `is_space_or_punct` of the LID enricher: every char is ASCII punctuation or a space (true
/// for the empty string).
pub fn is_space_or_punct(s: &str) -> bool {
    s.chars().all(|c| c == ' ' || c.is_ascii_punctuation())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The n-gram checks counted the direct way (hash maps of word slices): the reference the
    /// interned-pair counting in [`ngram_repetition`] must agree with.
    fn ngram_repetition_naive(ws: &[u32], lens: &[usize]) -> Option<&'static str> {
        let total: usize = lens.iter().sum();
        for (n, max, name) in NGRAM_CHECKS {
            if ws.len() < n {
                continue;
            }
            let mut counts: HashMap<&[u32], u32> = HashMap::new();
            for g in ws.windows(n) {
                *counts.entry(g).or_default() += 1;
            }
            let top = counts.values().copied().max().unwrap_or(0);
            if top <= 1 {
                continue;
            }
            let frac = if n <= 4 {
                let mut longest = 0usize;
                for (i, g) in ws.windows(n).enumerate() {
                    if counts[g] == top {
                        longest = longest.max(lens[i..i + n].iter().sum());
                    }
                }
                (longest * top as usize) as f64 / total as f64
            } else {
                let mut covered = vec![false; ws.len()];
                for (i, g) in ws.windows(n).enumerate() {
                    if counts[g] > 1 {
                        covered[i..i + n].iter_mut().for_each(|c| *c = true);
                    }
                }
                let chars: usize = (0..ws.len()).filter(|&i| covered[i]).map(|i| lens[i]).sum();
                chars as f64 / total as f64
            };
            if frac > max {
                return Some(name);
            }
        }
        None
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// Small vocabularies make repeated n-grams (and every verdict) common.
        #[test]
        fn interned_ngram_counts_match_naive_counts(
            words in prop::collection::vec((0u32..6, 1usize..9), 0..120),
            period in 1usize..12,
            copies in 0usize..6,
        ) {
            // Half the cases get a repeated block so the long n-gram checks trigger too.
            let mut seq: Vec<u32> = words.iter().map(|w| w.0).collect();
            let mut lens: Vec<usize> = words.iter().map(|w| w.1).collect();
            // Lengths must be a function of the word id, as for real interned words.
            for (i, w) in seq.iter().enumerate() {
                lens[i] = 1 + (*w as usize * 7) % 9;
            }
            let block: Vec<u32> = seq.iter().copied().take(period).collect();
            for _ in 0..copies {
                for &w in &block {
                    seq.push(w);
                    lens.push(1 + (w as usize * 7) % 9);
                }
            }
            prop_assert_eq!(ngram_repetition(&seq, &lens), ngram_repetition_naive(&seq, &lens));
        }
    }

    /// The line-ratio modifiers the direct way (every character through the `char` predicate,
    /// lines always re-joined): the reference for [`char_ratio_line_modifier`]'s fast paths.
    fn char_ratio_naive(text: &str, max: f64, pred: fn(char) -> bool) -> Option<String> {
        let lines: Vec<&str> = text
            .split('\n')
            .filter(|l| {
                l.is_empty() || {
                    let n = l.chars().count();
                    let hits = l.chars().filter(|&c| pred(c)).count();
                    hits as f64 / n as f64 <= max
                }
            })
            .collect();
        join_strip(&lines)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

        /// ASCII and non-ASCII lines (upper/lower case, digits in several scripts, Unicode
        /// spaces that `strip` removes), thresholds on both sides of typical shares.
        #[test]
        fn char_ratio_fast_paths_equal_the_direct_count(
            s in prop::collection::vec(prop::sample::select(vec![
                'a', 'B', 'Z', '7', ' ', '\n', '\n', '.', '\u{00C9}', '\u{00E9}', '\u{0663}',
                '\u{0394}', '\u{00A0}', '\u{3000}', '\u{FF11}', '\u{2160}', '\t',
            ]), 0..80),
            max in prop::sample::select(vec![0.0, 0.1, 0.25, 0.5, 0.999, 1.0]),
        ) {
            let s: String = s.into_iter().collect();
            prop_assert_eq!(
                uppercase_ratio_line_modifier(&s, max),
                char_ratio_naive(&s, max, pyunicode::is_upper)
            );
            prop_assert_eq!(
                numeric_ratio_line_modifier(&s, max),
                char_ratio_naive(&s, max, pyunicode::is_digit)
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

        /// The memchr count equals `str::matches` (non-overlapping, left to right), also for
        /// overlapping candidates such as `. . . . .` and `....`.
        #[test]
        fn memmem_count_equals_str_matches(
            s in prop::collection::vec(prop::sample::select(vec!['.', ' ', '#', 'a', '\u{2026}']), 0..60)
        ) {
            let s: String = s.into_iter().collect();
            for sub in ["#", "...", ". . .", "\u{2026}"] {
                prop_assert_eq!(count(&s, sub), s.matches(sub).count());
            }
        }
    }

    #[test]
    fn newline_removal_caps_runs() {
        assert_eq!(
            newline_removal_modifier("a\n\n\n\nb\nc\n\n\n", 2),
            "a\n\nb\nc\n\n"
        );
        assert_eq!(newline_removal_modifier("a\n\nb", 2), "a\n\nb");
    }

    #[test]
    fn read_more_is_an_unescaped_regex() {
        let re = substring_line_regex(&["Read more...".into()], false, "suffix").unwrap();
        // "..." matches any three characters, so "Read more!!!" is removed too.
        assert_eq!(
            substring_line_modifier("Intro\nRead more!!!\nBody text", &re, Some(10), true)
                .as_deref(),
            Some("Intro\nBody text")
        );
        // Lines longer than max_length words are left alone.
        let long = "one two three four five six seven eight nine ten eleven Read more...";
        assert_eq!(
            substring_line_modifier(long, &re, Some(10), true).as_deref(),
            Some(long)
        );
    }

    #[test]
    fn line_modifiers_strip_even_without_removal() {
        assert_eq!(
            uppercase_ratio_line_modifier("  hello\n", 0.5).as_deref(),
            Some("hello")
        );
        assert_eq!(
            line_length_modifier("  hello world\n", 2.0, f64::INFINITY).as_deref(),
            Some("  hello world\n")
        );
        assert_eq!(uppercase_ratio_line_modifier("ABC", 0.5), None);
    }

    #[test]
    fn counter_lines_are_removed() {
        let re = counter_regex();
        assert_eq!(
            counter_line_modifier("Post\n1.2K Likes\n3 views.\nEnd", &re).as_deref(),
            Some("Post\nEnd")
        );
    }
}
