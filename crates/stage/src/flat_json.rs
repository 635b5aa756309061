//! JSON lines without serde_json where that is safe and faster: the byte tests of a JSON
//! string's escapes (shared with writers that escape 16 bytes at a time) and a parser for the
//! common flat line, `{"key": "string", ...}`, that gives [`parse_doc`]'s document or declines.

use crate::doc::{parse_doc, Doc};
use anyhow::Result;

/// [`parse_doc`], trying [`parse_flat_doc`] first: the same document and the same errors. For
/// readers of corpora whose lines are flat objects of strings (the Gutenberg shards of the
/// MinHash benchmark); on nested lines (`"metadata": {...}`) the flat attempt is work done
/// twice up to the first non-string value, so [`parse_doc`] stays the general reader.
pub fn parse_doc_flat_first(line: &str) -> Result<Doc> {
    parse_flat_doc(line).map_or_else(|| parse_doc(line), Ok)
}

/// [`parse_doc`] of a line that is a flat JSON object of strings without
/// `\u` escapes (every Gutenberg line is), or `None` for any other line (then `parse_doc`
/// parses it, and gives its errors). The same document when it answers: JSON whitespace, keys
/// and values unescaped as serde_json does (`\" \\ \/ \b \f \n \r \t`), a repeated key
/// keeps its last value (serde_json's map), a control character or another escape declines.
/// Why: serde_json unescapes a string into a scratch buffer that starts empty for every line
/// and grows by doubling (a dozen `realloc` copies for a book), then copies it into the
/// `String`; here each string is unescaped once into a `String` of its escaped length
/// (`flat_doc_parser_equals_serde_json`).
pub fn parse_flat_doc(line: &str) -> Option<Doc> {
    let b = line.as_bytes();
    let ws = |mut i: usize| {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    };
    let mut i = ws(0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut doc = Doc::new();
    loop {
        i = ws(i + 1);
        let (key, after) = flat_json_str(line, i)?;
        i = ws(after);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let (value, after) = flat_json_str(line, ws(i + 1))?;
        doc.insert(key, serde_json::Value::String(value));
        i = ws(after);
        match b.get(i) {
            Some(b',') => continue,
            Some(b'}') => break,
            _ => return None,
        }
    }
    (ws(i + 1) == b.len() && matches!(doc.get("text"), Some(serde_json::Value::String(_))))
        .then_some(doc)
}

/// The JSON string starting with the quote at byte `i` of `s`, unescaped, and the position
/// after its closing quote; `None` for a `\u` escape, an invalid escape, a control character
/// or no string there (see [`parse_flat_doc`]).
fn flat_json_str(s: &str, i: usize) -> Option<(String, usize)> {
    let b = s.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut i = i + 1;
    // Keys and short values fit in 256 bytes; a longer string gets room for the rest of the
    // line once (an unescaped string is never longer than its escaped form).
    let mut out: Vec<u8> = Vec::with_capacity((b.len() - i).min(256));
    loop {
        // The next quote, backslash or control character, 16 bytes at a time.
        let mut j = i;
        let special = loop {
            match b.get(j..j + 16) {
                Some(block) => {
                    let m = escape_mask(block.try_into().unwrap());
                    if m != 0 {
                        break j + m.trailing_zeros() as usize;
                    }
                    j += 16;
                }
                None => break j + b[j..].iter().position(|&c| needs_escape(c))?,
            }
        };
        if out.capacity() - out.len() <= special - i {
            out.reserve_exact(b.len() - i);
        }
        out.extend_from_slice(&b[i..special]);
        match b[special] {
            b'"' => {
                // Sized for the rest of the line: give room far past the string back (a
                // shrink in place, no copy of the text).
                if out.capacity() > 2 * out.len() + 256 {
                    out.shrink_to_fit();
                }
                // SAFETY: `out` holds runs of the `str` `s` cut at ASCII bytes (quotes,
                // backslashes) and the ASCII bytes of escapes: valid UTF-8.
                return Some((unsafe { String::from_utf8_unchecked(out) }, special + 1));
            }
            b'\\' => {
                out.push(match b.get(special + 1)? {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    _ => return None,
                });
                i = special + 2;
            }
            _ => return None,
        }
    }
}

/// Does byte `c` need escaping in a JSON string (a control character, `"` or `\\`)?
#[inline(always)]
pub fn needs_escape(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

/// Bit `j` set where `block[j]` needs escaping in a JSON string.
#[inline(always)]
pub fn escape_mask(block: &[u8; 16]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86_64; the load reads the 16 bytes of `block`.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr() as *const __m128i);
            // Unsigned `c ≤ 0x1f` as `min(c, 0x1f) == c`.
            let ctrl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            _mm_movemask_epi8(_mm_or_si128(ctrl, _mm_or_si128(quote, backslash))) as u32
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut m = 0;
        for (j, &c) in block.iter().enumerate() {
            m |= (needs_escape(c) as u32) << j;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Lines of flat objects (keys and values with every escape serde_json writes, `\/`,
        /// raw non-ASCII, repeated keys, JSON whitespace), some with a number, a `\u` escape,
        /// a raw control character or cut short: whenever the flat parser answers, serde_json
        /// parses the same document; and it answers for every flat line without `\u`.
        #[test]
        fn flat_doc_parser_equals_serde_json(
            pairs in prop::collection::vec(
                ("[a-z\"\\\\/\n\t\u{8}\u{c}\r é€]{0,12}", "[a-z\"\\\\/\n\t\r\u{8}\u{c} é€]{0,40}"),
                0..5,
            ),
            text in "[a-z\"\\\\\n é]{0,60}",
            ws in prop::sample::select(vec!["", " ", "\t", " \r\n "]),
            slash in any::<bool>(),
            odd in 0usize..5,
            cut in any::<prop::sample::Index>(),
        ) {
            let mut members: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}{ws}:{ws}{}", serde_json::to_string(k).unwrap(), serde_json::to_string(v).unwrap()))
                .collect();
            members.push(format!("\"text\":{ws}{}", serde_json::to_string(&text).unwrap()));
            let mut line = format!("{ws}{{{ws}{}{ws}}}{ws}", members.join(&format!("{ws},{ws}")));
            if slash {
                line = line.replace('/', "\\/");
            }
            let flat = odd == 0 && !line.contains("\\u");
            match odd {
                1 => line = line.replacen(':', ": 12.5, \"n\":", 1),
                2 => line = line.replacen("\"text\"", "\"te\\u0078t\"", 1),
                3 => line = line.replacen(' ', "\u{1}", 1),
                4 => {
                    let mut at = cut.index(line.len() + 1);
                    while !line.is_char_boundary(at) {
                        at -= 1;
                    }
                    line.truncate(at);
                }
                _ => {}
            }
            let ours = parse_flat_doc(&line);
            if flat {
                prop_assert!(ours.is_some(), "declined {:?}", line);
            }
            if let Some(d) = ours {
                prop_assert_eq!(Some(d), parse_doc(&line).ok(), "{:?}", line);
            }
        }

    }
}
