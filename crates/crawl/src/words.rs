//! The word and line definitions of DCLM's rules. Each rule uses its own, and they differ:
//!
//! | definition | used by |
//! |---|---|
//! | [`fasttext_words`]: `fasttext.FastText.tokenize` (splits on ASCII ` \t\n\v\f\r\0` only, `</s>` per newline), then first char `isalnum` | page_length_filter (word), word_counter_enricher, word_removal_ratio_filter |
//! | [`uniseg_words`]: UAX #29 word segments (`uniseg.wordbreak.words`), then first char `isalnum` | massive_web_repetition_filters (n-grams) |
//! | `str.split()` ([`lmrepro_pycompat::unicode::split_whitespace`]) | word_length, symbol_ratio, stop_word, alphabetic_word_ratio filters, line_length_modifier, substring_line_modifier's max_length |
//! | [`split_paragraphs`]: `re.split(sep)`, `strip()`, drop empty | bullet/ellipsis filters, line/paragraph repetition |

use lmrepro_pycompat::unicode as pyunicode;
use unicode_segmentation::UnicodeSegmentation;

pub use lmrepro_fasttext::{fasttext_tokens, FastTextTokens, EOS};

/// `split_words(text, model=..., ignore_punctuation=True)` keeps tokens whose first character is
/// `isalnum()` (this also drops `</s>`).
#[inline]
pub fn first_char_alnum(w: &str) -> bool {
    w.chars().next().is_some_and(pyunicode::is_alnum)
}

/// `split_words(text, ignore_punctuation, ignore_whitespace=True)` with the fastText tokenizer.
pub fn fasttext_words(text: &str, ignore_punctuation: bool) -> impl Iterator<Item = &str> {
    fasttext_tokens(text).filter(move |w| {
        if ignore_punctuation {
            first_char_alnum(w)
        } else {
            !pyunicode::strip(w).is_empty()
        }
    })
}

/// Number of words by [`fasttext_words`] (what page_length_filter and word_counter_enricher count).
pub fn fasttext_word_count(text: &str, ignore_punctuation: bool) -> usize {
    if ignore_punctuation {
        fasttext_alnum_word_count(text)
    } else {
        fasttext_words(text, false).count()
    }
}

/// fastText's separators (`Dictionary::readWord`): ` \n\r\t\v\f\0`.
const FT_SPACE_MASK: u64 =
    1 << b' ' | 1 << b'\n' | 1 << b'\r' | 1 << b'\t' | 1 << 0x0b | 1 << 0x0c | 1;

#[inline]
fn is_ft_space(b: u8) -> bool {
    b <= b' ' && (FT_SPACE_MASK >> b) & 1 != 0
}

/// `fasttext_words(text, true).count()` without building tokens: the tokens are the maximal runs
/// of non-separator bytes (the `</s>` of each newline starts with `<`, never counted), and one
/// counts when its first character is `isalnum`. The three word counts of the pipeline (page
/// length, word counter, word removal ratio) spent most of their time in the token iterator. A
/// proptest compares it with the iterator.
pub fn fasttext_alnum_word_count(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut n, mut i) = (0, 0);
    while i < b.len() {
        let first = b[i];
        if is_ft_space(first) {
            i += 1;
            continue;
        }
        // Separators are ASCII, so a run starts on a character boundary.
        n += usize::from(if first < 0x80 {
            first.is_ascii_alphanumeric()
        } else {
            text[i..].chars().next().is_some_and(pyunicode::is_alnum)
        });
        i += 1;
        while i < b.len() && !is_ft_space(b[i]) {
            i += 1;
        }
    }
    n
}

/// `split_words(text, model='uniseg', ignore_punctuation=True)`: UAX #29 word segments whose first
/// character is `isalnum()`.
pub fn uniseg_words(text: &str) -> impl Iterator<Item = &str> {
    text.split_word_bounds().filter(|w| first_char_alnum(w))
}

/// Calls `f` with each of [`uniseg_words`], in order, segmenting ASCII lines with
/// [`ascii_uniseg_words`] (the UAX #29 tables are most of the cost of the repetition filter).
///
/// Splitting after each `\n` keeps the segmentation: UAX #29 always breaks after LF (WB3a, which
/// comes before the WB4 rule that lets Extend/Format characters attach across). A test compares
/// this with [`uniseg_words`] on random mixed text and on the real texts.
pub fn for_each_uniseg_word<'a>(text: &'a str, mut f: impl FnMut(&'a str)) {
    for line in text.split_inclusive('\n') {
        if line.is_ascii() {
            ascii_uniseg_words(line, &mut f);
        } else if line
            .chars()
            .all(|c| c.is_ascii() || simple_class(c).is_some())
        {
            simple_uniseg_words(line, &mut f);
        } else {
            uniseg_words(line).for_each(&mut f);
        }
    }
}

/// The UAX #29 word-break classes [`simple_uniseg_words`] needs, for ASCII and the few
/// non-ASCII characters that make up most non-ASCII lines of English web text (typographic
/// quotes and dashes, Latin letters with diacritics): in the 780 labelled texts 2,930 of
/// 13,372 lines, 44 % of the bytes, have a non-ASCII character, and nearly all of them only
/// these.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wb {
    /// No rule joins it to a letter or digit (Other, CR, LF, Newline, WSegSpace, Double_Quote,
    /// and, for the joins that matter here, MidLetter/MidNum characters out of context).
    Other,
    /// ALetter (and `isalpha` in Python).
    Letter,
    /// Numeric (ASCII digits only).
    Digit,
    /// ExtendNumLet (`_`).
    Underscore,
    /// MidLetter (`:`).
    MidLetter,
    /// MidNum (`,` `;`).
    MidNum,
    /// MidNumLet and Single_Quote (`.` `'` `‘` `’`: WB6/7 and WB11/12 treat them alike).
    MidNumLet,
}

/// The class of `c` when [`simple_uniseg_words`] can segment text containing it; `None` for
/// every other non-ASCII character (Extend, Format, ZWJ, Hebrew, Katakana, regional
/// indicators, ideographs, …: those lines go to `unicode-segmentation`). A test checks each
/// non-ASCII entry against `unicode-segmentation`.
#[inline]
fn simple_class(c: char) -> Option<Wb> {
    Some(match c {
        'a'..='z' | 'A'..='Z' => Wb::Letter,
        '0'..='9' => Wb::Digit,
        '_' => Wb::Underscore,
        ':' => Wb::MidLetter,
        ',' | ';' => Wb::MidNum,
        '.' | '\'' | '\u{2018}' | '\u{2019}' => Wb::MidNumLet,
        '\0'..='\x7f' => Wb::Other,
        // Latin-1 Supplement and Latin Extended-A letters (all ALetter, all `isalpha`), not
        // `×` and `÷`.
        '\u{c0}'..='\u{17f}' if c != '\u{d7}' && c != '\u{f7}' => Wb::Letter,
        // “ ” – — … • £ © « » § ® ° → € ™: Other, not `isalnum`.
        '\u{201c}' | '\u{201d}' | '\u{2013}' | '\u{2014}' | '\u{2026}' | '\u{2022}' | '\u{a3}'
        | '\u{a9}' | '\u{ab}' | '\u{bb}' | '\u{a7}' | '\u{ae}' | '\u{b0}' | '\u{2192}'
        | '\u{20ac}' | '\u{2122}' => Wb::Other,
        _ => return None,
    })
}

/// The class of the character at byte `i` of `text` and its length (`i` on a boundary).
#[inline]
fn class_at(text: &str, i: usize) -> Option<(Wb, usize)> {
    let c = text[i..].chars().next()?;
    Some((simple_class(c).unwrap_or(Wb::Other), c.len_utf8()))
}

/// [`uniseg_words`] of text whose characters all have a [`simple_class`]: the rules of
/// [`ascii_uniseg_words`] over those classes. None of these characters is Extend, Format or
/// ZWJ (WB4), a Hebrew letter, Katakana or a regional indicator, so a kept segment runs over
/// letters, digits and `_` (WB5, WB8–WB10, WB13a/b) and over one MidLetter/MidNumLet between
/// two letters (WB6/7) or one MidNum/MidNumLet between two digits (WB11/12). Tested against
/// `unicode-segmentation` on random strings of these characters and on the real texts.
fn simple_uniseg_words<'a>(text: &'a str, f: &mut impl FnMut(&'a str)) {
    let n = text.len();
    let word = |c: Wb| matches!(c, Wb::Letter | Wb::Digit | Wb::Underscore);
    let mut i = 0;
    while let Some((first, len)) = class_at(text, i) {
        if !word(first) {
            i += len;
            continue;
        }
        let start = i;
        let mut prev = first;
        i += len;
        while i < n {
            let (c, clen) = class_at(text, i).expect("i < n on a boundary");
            if word(c) {
                prev = c;
                i += clen;
                continue;
            }
            let Some((next, nlen)) = class_at(text, i + clen) else {
                break;
            };
            let letters = prev == Wb::Letter
                && next == Wb::Letter
                && matches!(c, Wb::MidLetter | Wb::MidNumLet);
            let digits =
                prev == Wb::Digit && next == Wb::Digit && matches!(c, Wb::MidNum | Wb::MidNumLet);
            if !(letters || digits) {
                break;
            }
            prev = next;
            i += clen + nlen;
        }
        if first != Wb::Underscore {
            f(&text[start..i]);
        }
    }
}

/// A letter, digit or `_`: the ASCII characters of the UAX #29 word classes ALetter, Numeric and
/// ExtendNumLet, which always join each other (WB5, WB8–WB10, WB13a, WB13b).
#[inline]
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// [`uniseg_words`] of ASCII text. In ASCII, UAX #29 has no Extend/Format/ZWJ, Hebrew, Katakana or
/// regional-indicator characters, so a segment starting with a letter or digit (the only ones
/// `isalnum` keeps) runs over letters, digits and `_`, and over one of `:` `.` `'` between two
/// letters (WB6/WB7: MidLetter, MidNumLet, Single_Quote) or one of `,` `;` `.` `'` between two digits
/// (WB11/WB12: MidNum, MidNumLet, Single_Quote). Every other segment (spaces, CR LF, punctuation)
/// starts with a character that is not alphanumeric and joins no following letter or digit; a
/// segment starting with `_` is skipped whole.
pub fn ascii_uniseg_words<'a>(text: &'a str, f: &mut impl FnMut(&'a str)) {
    let b = text.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        let first = b[i];
        if !is_word_byte(first) {
            i += 1;
            continue;
        }
        let start = i;
        let mut prev = first;
        i += 1;
        while i < n {
            let c = b[i];
            if is_word_byte(c) {
                prev = c;
                i += 1;
                continue;
            }
            let Some(&next) = b.get(i + 1) else { break };
            let letters = prev.is_ascii_alphabetic()
                && next.is_ascii_alphabetic()
                && matches!(c, b':' | b'.' | b'\'');
            let digits = prev.is_ascii_digit()
                && next.is_ascii_digit()
                && matches!(c, b',' | b';' | b'.' | b'\'');
            if !(letters || digits) {
                break;
            }
            prev = next;
            i += 2;
        }
        if first != b'_' {
            f(&text[start..i]);
        }
    }
}

/// `split_paragraphs(text, paragraph_end=sep, remove_empty=True)`: `re.split(sep, text)` with a
/// literal separator, each piece `strip()`ped, empty pieces dropped.
pub fn split_paragraphs<'a>(text: &'a str, sep: &'a str) -> impl Iterator<Item = &'a str> {
    split_literal(text, sep)
        .map(pyunicode::strip)
        .filter(|p| !p.is_empty())
}

/// `text.split(sep)` (`str.split(sep)` / `re.split` of a literal): the same pieces, found with
/// memchr (one byte) or memchr's SIMD substring search. `str::split` with a `&str` pattern runs
/// the two-way searcher even for `"\n"`: 6 % of the heuristics' instructions.
pub fn split_literal<'a>(text: &'a str, sep: &'a str) -> LiteralSplit<'a> {
    if sep.is_empty() {
        // Splits between characters; rare enough for the standard library's version.
        LiteralSplit::Empty(text.split(sep))
    } else {
        LiteralSplit::Sep {
            rest: Some(text),
            sep,
        }
    }
}

/// The iterator of [`split_literal`].
pub enum LiteralSplit<'a> {
    /// Non-empty separator; `rest` is `None` once the last piece is out.
    Sep {
        rest: Option<&'a str>,
        sep: &'a str,
    },
    Empty(std::str::Split<'a, &'a str>),
}

impl<'a> Iterator for LiteralSplit<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        match self {
            LiteralSplit::Sep { rest, sep } => {
                let r = (*rest)?;
                let s = sep.as_bytes();
                let hit = match s {
                    [b] => memchr::memchr(*b, r.as_bytes()),
                    _ => memchr::memmem::find(r.as_bytes(), s),
                };
                match hit {
                    // A match of a whole UTF-8 string starts and ends on character boundaries.
                    Some(i) => {
                        *rest = Some(&r[i + s.len()..]);
                        Some(&r[..i])
                    }
                    None => {
                        *rest = None;
                        Some(r)
                    }
                }
            }
            LiteralSplit::Empty(it) => it.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fast(text: &str) -> Vec<&str> {
        let mut v = Vec::new();
        for_each_uniseg_word(text, |w| v.push(w));
        v
    }

    /// The characters whose word-break classes matter (ASCII and not), and a few plain ones.
    const CHARS: &[char] = &[
        'a',
        'Z',
        'q',
        '0',
        '7',
        '_',
        '.',
        ',',
        ';',
        ':',
        '\'',
        '"',
        ' ',
        ' ',
        '\t',
        '\r',
        '\n',
        '\x0b',
        '\x0c',
        '-',
        '!',
        '#',
        '\u{85}',
        '\u{a0}',
        '\u{e9}',
        '\u{301}',
        '\u{200d}',
        '\u{200b}',
        '\u{2019}',
        '\u{2018}',
        '\u{5d0}',
        '\u{30a2}',
        '\u{1f1e6}',
        '\u{1f600}',
        '\u{ff10}',
        '\u{2028}',
        '\u{3000}',
        '\u{b7}',
        '\u{fe13}',
        '\u{ad}',
        '\u{661}',
    ];

    /// Every non-ASCII character [`simple_class`] knows, in the contexts its class decides.
    #[test]
    fn simple_classes_agree_with_unicode_segmentation() {
        let mut n = 0;
        for c in (0x80u32..0x3000).filter_map(char::from_u32) {
            let Some(class) = simple_class(c) else {
                continue;
            };
            n += 1;
            for ctx in ["a", "1", "_", "a.", "1,"] {
                for s in [
                    format!("{ctx}{c}{ctx}"),
                    format!("{c}{ctx}{c}"),
                    format!("x{c}y 1{c}2 {c}_{c}"),
                    format!("{c}{c} é{c}é"),
                ] {
                    let mut v = Vec::new();
                    simple_uniseg_words(&s, &mut |w| v.push(w));
                    assert_eq!(
                        v,
                        uniseg_words(&s).collect::<Vec<_>>(),
                        "{c:?} ({class:?}) in {s:?}"
                    );
                }
            }
        }
        assert_eq!(n, (0x180 - 0xc0 - 2) + 2 + 16);
    }

    /// The characters of [`simple_class`] and a few ASCII ones around them.
    const SIMPLE: &[char] = &[
        'a', 'Z', '0', '7', '_', '.', ',', ';', ':', '\'', '"', ' ', '\n', '\r', '-', '\u{2018}',
        '\u{2019}', '\u{e9}', '\u{c0}', '\u{17f}', '\u{d7}', '\u{f7}', '\u{201c}', '\u{201d}',
        '\u{2013}', '\u{2014}', '\u{2026}', '\u{2022}', '\u{a3}', '\u{a9}', '\u{ab}', '\u{bb}',
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20000, ..ProptestConfig::default() })]

        #[test]
        fn simple_path_equals_unicode_segmentation(
            s in prop::collection::vec(prop::sample::select(SIMPLE), 0..40)
        ) {
            let s: String = s.into_iter().collect();
            prop_assert_eq!(fast(&s), uniseg_words(&s).collect::<Vec<_>>());
            if s.chars().all(|c| simple_class(c).is_some()) {
                let mut v = Vec::new();
                simple_uniseg_words(&s, &mut |w| v.push(w));
                prop_assert_eq!(v, uniseg_words(&s).collect::<Vec<_>>());
            }
        }

        #[test]
        fn ascii_fast_path_equals_unicode_segmentation(
            s in prop::collection::vec(prop::sample::select(&CHARS[..20]), 0..40)
        ) {
            let s: String = s.into_iter().collect();
            let mut v = Vec::new();
            ascii_uniseg_words(&s, &mut |w| v.push(w));
            prop_assert_eq!(v, uniseg_words(&s).collect::<Vec<_>>());
        }

        #[test]
        fn line_wise_segmentation_equals_unicode_segmentation(
            s in prop::collection::vec(prop::sample::select(CHARS), 0..60)
        ) {
            let s: String = s.into_iter().collect();
            prop_assert_eq!(fast(&s), uniseg_words(&s).collect::<Vec<_>>());
        }

        #[test]
        fn alnum_word_count_equals_token_count(
            s in "[a0 \n\r\t\x0b\x0c\x00\u{a0}é_.<>/\u{2019}\u{4e2d}\u{661}]{0,60}",
        ) {
            prop_assert_eq!(fasttext_alnum_word_count(&s), fasttext_words(&s, true).count());
            prop_assert_eq!(fasttext_word_count(&s, true), fasttext_words(&s, true).count());
        }

        #[test]
        fn split_literal_equals_str_split(
            s in "[a\n\r é.…\u{2029}]{0,60}",
            sep in prop::sample::select(vec!["\n", "\n\n", ".", "…", "a.", "é", "", "\r\n", "xyz"]),
        ) {
            let fast: Vec<&str> = split_literal(&s, sep).collect();
            let slow: Vec<&str> = s.split(sep).collect();
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn line_wise_segmentation_on_any_text(s in "\\PC{0,80}") {
            prop_assert_eq!(fast(&s), uniseg_words(&s).collect::<Vec<_>>());
        }
    }

    #[test]
    fn ascii_words_follow_wb6_to_wb12() {
        assert_eq!(
            fast("can't a.b 3.14 1,000;5 x:y a.1 1.a _ab a_b 9_ e.g.\r\nnext"),
            [
                "can't", "a.b", "3.14", "1,000;5", "x:y", "a", "1", "1", "a", "a_b", "9_", "e.g",
                "next"
            ]
        );
    }

    #[test]
    fn fasttext_word_count_keeps_alnum_words() {
        assert_eq!(fasttext_word_count("Hello, world! (x) -y 3z\n", true), 3);
        assert_eq!(fasttext_word_count("", true), 0);
    }

    #[test]
    fn uniseg_words_keep_alnum_segments() {
        let w: Vec<_> = uniseg_words("Hello, world's 3.14 end.").collect();
        assert_eq!(w, ["Hello", "world's", "3.14", "end"]);
    }

    #[test]
    fn paragraphs_strip_and_drop_empty() {
        let p: Vec<_> = split_paragraphs(" a \n\n\n b\n", "\n\n").collect();
        assert_eq!(p, ["a", "b"]);
    }
}
