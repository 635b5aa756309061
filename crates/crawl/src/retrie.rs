//! The regex patterns DCLM builds with `retrie` 0.3.1 (`Blacklist(words, match_substrings)`),
//! rebuilt byte for byte and translated to Rust `regex` syntax.
//!
//! The alternation order of a trie pattern decides which alternative a leftmost-first engine
//! takes, so the pattern is reproduced exactly: `retrie.trie.Trie._pattern` sorts children by
//! character, escapes each character with `re.escape`, sorts the alternatives as escaped strings and
//! folds single-character leaves into `[...]` classes. Python's `re` and Rust's `regex` both use
//! leftmost-first semantics, so the same pattern finds the same matches.

use std::collections::BTreeMap;

#[derive(Default)]
struct Node {
    children: BTreeMap<char, Node>,
    leaf: bool,
}

/// Python's `re.escape` (3.7+): escapes only `()[]{}?*+-|^$\.&~# \t\n\r\v\f`.
pub fn py_re_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A pattern in Python `re` syntax, as `Trie().add(*words).pattern()` returns it.
pub fn trie_pattern_python<S: AsRef<str>>(words: &[S]) -> String {
    let mut root = Node::default();
    for w in words {
        let mut node = &mut root;
        for c in w.as_ref().chars() {
            node = node.children.entry(c).or_default();
        }
        node.leaf = true;
    }
    pattern(&root).unwrap_or_default()
}

fn pattern(node: &Node) -> Option<String> {
    // `if not data or len(data) == 1 and "" in data: return None`
    if node.children.is_empty() {
        return None;
    }
    let mut deeper = Vec::new();
    let mut current = Vec::new();
    // Python sorts dict keys as strings; "" (the leaf marker) sorts first and is skipped. Chars
    // compare by code point, as Rust's BTreeMap<char> orders them.
    for (c, child) in &node.children {
        let esc = py_re_escape(&c.to_string());
        match pattern(child) {
            None => current.push(esc),
            Some(rec) => deeper.push(esc + &rec),
        }
    }
    let mut fin = deeper.clone();
    if !current.is_empty() {
        if current.len() == 1 {
            fin.push(current[0].clone());
        } else {
            fin.push(format!("[{}]", current.concat()));
        }
    }
    let mut result = if fin.len() == 1 {
        fin.pop().unwrap()
    } else {
        fin.sort(); // Python sorts str by code point, as Rust sorts String.
        format!("(?:{})", fin.join("|"))
    };
    if node.leaf {
        if deeper.is_empty() {
            result.push('?');
        } else {
            result = format!("(?:{result})?");
        }
    }
    Some(result)
}

/// Translates a pattern that uses only literals, `\`-escapes of non-alphanumerics, `(?:`, `|`,
/// `)`, `?` and `[...]` from Python syntax to Rust syntax: every escaped character becomes
/// `\x{..}`, every other non-alphanumeric literal inside a class too.
pub fn python_literal_pattern_to_rust(py: &str) -> String {
    let mut out = String::with_capacity(py.len() * 2);
    let mut chars = py.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let e = chars.next().expect("dangling escape in trie pattern");
                out.push_str(&format!("\\x{{{:X}}}", e as u32));
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c if in_class && !c.is_alphanumeric() => {
                out.push_str(&format!("\\x{{{:X}}}", c as u32))
            }
            c if !in_class && !c.is_alphanumeric() && !"(?:|)".contains(c) => {
                out.push_str(&regex::escape(&c.to_string()))
            }
            c => out.push(c),
        }
    }
    out
}

/// Rust-syntax trie pattern (no flags, no boundaries) for `words`.
pub fn trie_pattern(words: &[impl AsRef<str>]) -> String {
    python_literal_pattern_to_rust(&trie_pattern_python(words))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_retrie_docstring_examples() {
        assert_eq!(
            trie_pattern_python(&["abc", "foo", "abs"]),
            "(?:ab[cs]|foo)"
        );
        assert_eq!(
            trie_pattern_python(&["abc", "foo", "abs", "absolute"]),
            "(?:ab(?:c|s(?:olute)?)|foo)"
        );
        assert_eq!(
            trie_pattern_python(&["abc", "foo", "abs", "absolute", "abx"]),
            "(?:ab(?:[cx]|s(?:olute)?)|foo)"
        );
        assert_eq!(
            trie_pattern_python(&["abc", "foo", "abs", "absolute", "abx", "abxy"]),
            "(?:ab(?:c|s(?:olute)?|xy?)|foo)"
        );
    }

    #[test]
    fn double_escaping_of_pre_escaped_words() {
        // url_removal_modifier feeds re.escape()d TLDs into the trie, which escapes again: the
        // pattern then wants a literal backslash, so "xn--p1ai" can never match plain text.
        let p = trie_pattern_python(&[py_re_escape("xn--p1ai")]);
        assert_eq!(p, r"xn\\\-\\\-p1ai");
        let re = regex::Regex::new(&python_literal_pattern_to_rust(&p)).unwrap();
        assert!(!re.is_match("xn--p1ai"));
        assert!(re.is_match(r"xn\-\-p1ai"));
    }
}

/// Adapts a user regex written for Python's `re` to Rust's `regex` where the two differ on plain
/// text: Python reads a `{` that does not start a valid `{m}`, `{m,}`, `{,n}` or `{m,n}`
/// quantifier as a literal brace (C4's `substring_filter` banlist is `['{']`), Rust rejects it.
pub fn python_regex_to_rust(py: &str) -> String {
    let chars: Vec<char> = py.chars().collect();
    let mut out = String::with_capacity(py.len() + 4);
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                out.push(c);
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => {
                let rest: String = chars[i + 1..].iter().collect();
                let valid = rest.find('}').is_some_and(|end| {
                    let body = &rest[..end];
                    let (a, b) = body.split_once(',').unwrap_or((body, body));
                    !body.is_empty()
                        && a.chars().all(|c| c.is_ascii_digit())
                        && b.chars().all(|c| c.is_ascii_digit())
                        && !(a.is_empty() && b.is_empty())
                        && i > 0
                });
                if !valid {
                    out.push_str("\\{");
                    i += 1;
                    continue;
                }
            }
            '}' if !in_class => {
                // A `}` closing a valid quantifier was copied with it below; a lone one is literal.
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod brace_tests {
    #[test]
    fn literal_braces_like_python() {
        use super::python_regex_to_rust as t;
        assert_eq!(t("(?:{)"), r"(?:\{)");
        assert_eq!(t("a{2,3}"), "a{2,3}");
        assert_eq!(t("a{x}"), r"a\{x}");
        assert!(regex::Regex::new(&t("(?:{)"))
            .unwrap()
            .is_match("f(x) { y }"));
    }
}
