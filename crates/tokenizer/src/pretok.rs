//! A hand-written scanner for the GPT-2 ByteLevel pre-tokenizer regex
//!
//! ```text
//! 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//! ```
//!
//! with exactly the splits the backtracking regex (`fancy-regex` in HF `tokenizers`) makes, found
//! left to right, alternatives in order. The character classes come from `regex-syntax`, the
//! crate that answers `\p{L}`, `\p{N}` and `\s` for `fancy-regex`, so both sides use the same
//! Unicode tables.
//!
//! Why the scanner is equivalent: at each position the regex tries the alternatives in order and
//! takes the first that matches. The contractions only start at `'`; the three ` ?class+` runs
//! are greedy and never need to give back characters (nothing follows them in the alternative);
//! `\s+(?!\S)` takes the whole whitespace run if it ends the text, else the run minus its last
//! character (the longest prefix followed by whitespace), and fails on a one-character run
//! followed by a non-space, where `\s+` takes that one character.

use anyhow::{bail, Result};
use regex_syntax::hir::{Class, HirKind};

/// Class of a code point as the regex sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum CharClass {
    /// `[^\s\p{L}\p{N}]`
    Other = 0,
    /// `\p{L}`
    Letter = 1,
    /// `\p{N}`
    Number = 2,
    /// `\s` (Unicode White_Space)
    Space = 3,
}

/// Per-code-point classes (one byte each for all of Unicode: 1.1 MB, built in about a
/// millisecond; a flat table keeps the scanner's inner loop free of searches).
pub(crate) struct Classes {
    table: Vec<u8>,
}

fn ranges_of(pattern: &str) -> Result<Vec<(u32, u32)>> {
    let hir = regex_syntax::parse(pattern)?;
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => Ok(c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect()),
        other => bail!("{pattern} did not parse to a Unicode class: {other:?}"),
    }
}

impl Classes {
    pub(crate) fn new() -> Result<Classes> {
        let mut table = vec![CharClass::Other as u8; 0x11_0000];
        for (pattern, class) in [
            (r"\p{L}", CharClass::Letter),
            (r"\p{N}", CharClass::Number),
            (r"\s", CharClass::Space),
        ] {
            for (lo, hi) in ranges_of(pattern)? {
                for cp in lo..=hi {
                    if table[cp as usize] != CharClass::Other as u8 {
                        bail!("U+{cp:04X} is in two of \\p{{L}}, \\p{{N}}, \\s");
                    }
                    table[cp as usize] = class as u8;
                }
            }
        }
        Ok(Classes { table })
    }

    #[inline]
    pub(crate) fn of(&self, c: char) -> CharClass {
        match self.table[c as usize] {
            1 => CharClass::Letter,
            2 => CharClass::Number,
            3 => CharClass::Space,
            _ => CharClass::Other,
        }
    }
}

/// Decodes the char at byte `i` of `s` (a char boundary) and its length in bytes.
#[inline]
fn char_at(s: &str, i: usize) -> (char, usize) {
    let b = s.as_bytes()[i];
    if b < 0x80 {
        return (b as char, 1);
    }
    // SAFETY-free slow path: `i` is a boundary, so the slice starts with a whole char.
    let c = s[i..].chars().next().expect("non-empty");
    (c, c.len_utf8())
}

impl Classes {
    /// End of the run of `class` characters starting at byte `i`.
    #[inline]
    fn run_end(&self, s: &str, mut i: usize, class: CharClass) -> usize {
        while i < s.len() {
            let (c, l) = char_at(s, i);
            if self.of(c) != class {
                break;
            }
            i += l;
        }
        i
    }

    /// Calls `emit` with each pre-token of `s`, in order (they concatenate to `s`).
    pub(crate) fn split<'s>(&self, s: &'s str, mut emit: impl FnMut(&'s str)) {
        let bytes = s.as_bytes();
        let n = s.len();
        let mut i = 0;
        while i < n {
            let (c, len) = char_at(s, i);
            if c == '\'' {
                let rest = &bytes[i + 1..];
                let contraction = match rest {
                    [b's' | b't' | b'm' | b'd', ..] => 2,
                    [b'r', b'e', ..] | [b'v', b'e', ..] | [b'l', b'l', ..] => 3,
                    _ => 0,
                };
                if contraction > 0 {
                    emit(&s[i..i + contraction]);
                    i += contraction;
                    continue;
                }
            }
            let class = self.of(c);
            if c == ' ' && i + 1 < n {
                let (next, next_len) = char_at(s, i + 1);
                let next_class = self.of(next);
                if next_class != CharClass::Space {
                    let end = self.run_end(s, i + 1 + next_len, next_class);
                    emit(&s[i..end]);
                    i = end;
                    continue;
                }
            }
            let end = if class == CharClass::Space {
                // The whitespace run and the start of its last character.
                let mut j = i + len;
                let mut last = i;
                while j < n {
                    let (c2, l2) = char_at(s, j);
                    if self.of(c2) != CharClass::Space {
                        break;
                    }
                    last = j;
                    j += l2;
                }
                if j == n || last == i {
                    j
                } else {
                    last
                }
            } else {
                self.run_end(s, i + len, class)
            };
            emit(&s[i..end]);
            i = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(s: &str) -> Vec<&str> {
        let classes = Classes::new().unwrap();
        let mut out = Vec::new();
        classes.split(s, |p| out.push(p));
        out
    }

    #[test]
    fn gpt2_splits() {
        assert_eq!(pieces("Hello world"), ["Hello", " world"]);
        assert_eq!(
            pieces("I'm  can't 're'sam"),
            ["I", "'m", " ", " can", "'t", " '", "re", "'s", "am"]
        );
        assert_eq!(
            pieces("a   b\n\nc  "),
            ["a", "  ", " b", "\n", "\n", "c", "  "]
        );
        assert_eq!(
            pieces(" 's ''x 123abc ?!."),
            [" '", "s", " ''", "x", " 123", "abc", " ?!."]
        );
        assert_eq!(pieces("\t x"), ["\t", " x"]);
        assert_eq!(pieces("é٣ 二\u{3000}x"), ["é", "٣", " 二", "\u{3000}", "x"]);
        assert_eq!(pieces(""), Vec::<&str>::new());
        assert_eq!(pieces(" "), [" "]);
    }

    #[test]
    fn classes_follow_regex_syntax() {
        let c = Classes::new().unwrap();
        assert_eq!(c.of('a'), CharClass::Letter);
        assert_eq!(c.of('7'), CharClass::Number);
        assert_eq!(c.of('\u{85}'), CharClass::Space);
        assert_eq!(c.of('\u{301}'), CharClass::Other); // combining acute: Mn, not L
        assert_eq!(c.of('\''), CharClass::Other);
    }
}
