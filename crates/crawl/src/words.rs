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
    fasttext_words(text, ignore_punctuation).count()
}

/// `split_words(text, model='uniseg', ignore_punctuation=True)`: UAX #29 word segments whose first
/// character is `isalnum()`.
pub fn uniseg_words(text: &str) -> impl Iterator<Item = &str> {
    text.split_word_bounds().filter(|w| first_char_alnum(w))
}

/// `split_paragraphs(text, paragraph_end=sep, remove_empty=True)`: `re.split(sep, text)` with a
/// literal separator, each piece `strip()`ped, empty pieces dropped.
pub fn split_paragraphs<'a>(text: &'a str, sep: &'a str) -> impl Iterator<Item = &'a str> {
    text.split(sep)
        .map(pyunicode::strip)
        .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

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
