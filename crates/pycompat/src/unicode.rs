//! CPython `str` semantics for single characters and the whitespace operations DCLM relies on.
//!
//! DCLM's rules are written with Python's `str.isalnum()`, `isalpha()`, `isdigit()`, `isupper()`,
//! `split()` and `strip()`. Rust's `char` predicates use different Unicode properties (e.g.
//! `char::is_alphabetic` includes combining marks, `char::is_whitespace` excludes U+001C..U+001F), so
//! the exact CPython classes are tabulated in `unicode_tables.rs` (generated from CPython 3.11.7,
//! the interpreter that produced the goldens; Unicode 14.0.0).

use crate::unicode_tables as t;

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if c < lo {
                std::cmp::Ordering::Greater
            } else if c > hi {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// `c.isalpha()`.
#[inline]
pub fn is_alpha(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        in_table(t::ALPHA, c)
    }
}

/// `c.isalnum()`.
#[inline]
pub fn is_alnum(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        in_table(t::ALNUM, c)
    }
}

/// `c.isdigit()` (includes superscripts and circled digits, unlike `\d`).
#[inline]
pub fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        in_table(t::DIGIT, c)
    }
}

/// `c.isupper()`.
#[inline]
pub fn is_upper(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_uppercase()
    } else {
        in_table(t::UPPER, c)
    }
}

/// `c.isspace()`: also what `str.split()`, `str.strip()` and `re`'s `\s` use. Includes U+001C..U+001F.
#[inline]
pub fn is_space(c: char) -> bool {
    if c.is_ascii() {
        matches!(
            c,
            '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f' | ' '
        )
    } else {
        in_table(t::SPACE, c)
    }
}

/// `s.split()` (no argument): runs of Python whitespace separate words, no empty words.
pub fn split_whitespace(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|w| !w.is_empty())
}

/// `s.strip()` (no argument).
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `len(s)`: number of code points.
#[inline]
pub fn len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// `s.isspace()` for a whole string (false for the empty string).
pub fn str_is_space(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_space)
}

/// `s.rstrip()` (no argument).
pub fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

/// `s.lstrip()` (no argument).
pub fn lstrip(s: &str) -> &str {
    s.trim_start_matches(is_space)
}

/// A line boundary of `str.splitlines()` (`"\r\n"` counts as one, see [`splitlines`]).
#[inline]
pub fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// `s.splitlines()`: lines without their breaks; `"\r\n"` is one break; no empty last line.
pub fn splitlines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if is_line_break(c) {
            out.push(&s[start..i]);
            let mut next = i + c.len_utf8();
            if c == '\r' && matches!(it.peek(), Some(&(_, '\n'))) {
                it.next();
                next += 1;
            }
            start = next;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// The character class `[\s]` of Python's `re` for use inside a Rust regex: Rust's `\s` lacks
/// U+001C..U+001F.
pub const RE_SPACE_CLASS: &str = r"[\s\x1C-\x1F]";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_classes_differ_from_rust_where_expected() {
        // U+0345 COMBINING GREEK YPOGEGRAMMENI (Mn, Other_Alphabetic): alphabetic for Rust, not for Python.
        assert!('\u{345}'.is_alphabetic());
        assert!(!is_alpha('\u{345}') && !is_alnum('\u{345}'));
        // Superscript two: isdigit, not isdecimal; Rust is_numeric.
        assert!(is_digit('²') && is_alnum('²'));
        // U+001F unit separator: Python whitespace, not Rust's.
        assert!(is_space('\x1f') && !'\x1f'.is_whitespace());
        // NBSP is whitespace for str.split().
        assert_eq!(
            split_whitespace("a\u{a0}b\x1cc").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(strip("\u{3000} x \x1e"), "x");
        assert!(is_upper('Σ') && !is_upper('σ'));
        assert_eq!(len("héllo"), 5);
    }

    #[test]
    fn splitlines_like_python() {
        // python3 -c 'print("a\r\nb\rc\n\nd\x1ce\n".splitlines())'
        assert_eq!(
            splitlines("a\r\nb\rc\n\nd\x1ce\n"),
            ["a", "b", "c", "", "d", "e"]
        );
        assert_eq!(splitlines(""), Vec::<&str>::new());
        assert_eq!(splitlines("\n"), [""]);
        assert_eq!(splitlines("x\u{2028}y\r"), ["x", "y"]);
    }

    proptest::proptest! {
        /// Lines hold no break, and lines + the breaks between them give back the input.
        #[test]
        fn splitlines_partitions_the_input(s in "[a\\r\\n\\x0b\\x1c\\u{85}\\u{2028} é]{0,40}") {
            let lines = splitlines(&s);
            let mut rebuilt = String::new();
            let mut rest = s.as_str();
            for line in &lines {
                proptest::prop_assert!(!line.chars().any(is_line_break));
                proptest::prop_assert!(rest.starts_with(line));
                rebuilt.push_str(line);
                rest = &rest[line.len()..];
                let brk = if rest.starts_with("\r\n") { 2 } else { rest.chars().next().map_or(0, char::len_utf8) };
                rebuilt.push_str(&rest[..brk]);
                rest = &rest[brk..];
            }
            proptest::prop_assert_eq!(rebuilt, s.clone());
            proptest::prop_assert!(rest.is_empty());
        }

        /// strip() removes exactly the is_space characters at both ends.
        #[test]
        fn strip_is_lstrip_of_rstrip(s in "[ a\\t\\x1f\\u{a0}\\u{3000}b]{0,20}") {
            proptest::prop_assert_eq!(strip(&s), lstrip(rstrip(&s)));
            let t = strip(&s);
            proptest::prop_assert!(!t.starts_with(is_space) && !t.ends_with(is_space));
        }
    }
}
