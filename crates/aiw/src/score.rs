//! Answer parsing and scoring, exactly as LAION-AI/AIW's collection scripts.
//!
//! Upstream (`data_collection/examples/example_litellm.py`, `example_together.py`,
//! `example_lmsys.py`, all identical here):
//!
//! ```python
//! model_response = model_response.replace('\n', ' ')
//! parsed_answer = re.findall(r'answer:.*?(\d+)', model_response.lower())[0]
//! # on IndexError:
//! parsed_answer = re.findall(r'has.*?(\d+)', model_response.lower())[0]
//! # on IndexError again: parsed_answer = None
//! correct = parsed_answer == right_answer
//! ```
//!
//! `re.findall(...)[0]` is the leftmost match; Rust's `regex` uses the same leftmost-first
//! semantics for lazy quantifiers, so `captures` gives the same group. Python's `.` without DOTALL
//! excludes only `\n`, exactly like Rust's default `.`; since newlines are replaced first, `.` can
//! cross every remaining character (including `\r`) in both.
//!
//! The symbolic prompts (ids 100–108, right answer `"null"`) are scored by the plot script's rule
//! (`scripts/plot.py`, `PARAMS_PROMPTS`): the *raw* response must contain `M+1` (ids 100–102),
//! `X+1` (103–105) or `Y+1` (106–108), with the regex `<VAR>(?:\s*\+|\s+\s*)1` — case-sensitive
//! and applied to the response as stored (newlines already replaced by the collection script).

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

fn answer_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"answer:.*?(\d+)").expect("static regex"))
}

fn has_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"has.*?(\d+)").expect("static regex"))
}

/// The text the parser sees: newlines replaced by spaces, then lower-cased (the order upstream
/// uses; both orders give the same string because lower-casing never creates a `\n`).
pub fn normalize_response(response: &str) -> String {
    response.replace('\n', " ").to_lowercase()
}

/// Upstream's parsed answer: first `answer:.*?(\d+)`, else first `has.*?(\d+)`, else `None`.
pub fn parse_answer(response: &str) -> Option<String> {
    let text = normalize_response(response);
    answer_re()
        .captures(&text)
        .or_else(|| has_re().captures(&text))
        .map(|c| c[1].to_string())
}

/// A prompt's right answer as stored in `prompts.json` / response files: a string (`"7"`,
/// `"null"`), a JSON number (`7.0`, ids 669–796), or JSON null (ids 785–786).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RightAnswer {
    Text(String),
    Number(f64),
    #[default]
    Null,
}

impl RightAnswer {
    /// Numeric value, if the answer is numeric (`"7"`, `" 7 "`, `7.0`, `"3.0"`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            RightAnswer::Text(s) => parse_number(s),
            RightAnswer::Number(x) => Some(*x),
            RightAnswer::Null => None,
        }
    }

    /// How the answer prints in tables: integers without decimals, `null` for none.
    pub fn display(&self) -> String {
        match self {
            RightAnswer::Text(s) => s.clone(),
            RightAnswer::Number(x) if x.fract() == 0.0 && x.abs() < 1e15 => {
                format!("{}", *x as i64)
            }
            RightAnswer::Number(x) => format!("{x}"),
            RightAnswer::Null => "null".to_string(),
        }
    }

    /// True for the symbolic prompts' placeholder answer (`"null"` or JSON null).
    pub fn is_null(&self) -> bool {
        matches!(self, RightAnswer::Null) || matches!(self, RightAnswer::Text(s) if s == "null")
    }
}

/// Parses an ASCII decimal number (what `\d+` captures, and the right answers' `"3"`/`"3.0"`).
fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return None;
    }
    t.parse::<f64>().ok()
}

/// How a parsed answer is compared with the right answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Comparison {
    /// Numeric equality (`"07"` = `"7"` = `7.0`); falls back to string equality when either side is
    /// not an ASCII number. The default: prompts 669–796 store float answers (`3.0`), which the
    /// collection scripts' string comparison could never match.
    #[default]
    Numeric,
    /// Upstream's literal `parsed_answer == right_answer` in Python: equal strings only; a string
    /// never equals a float (so every float-answer prompt scores 0), `None == None` is true.
    PythonEquality,
}

/// `correct` for a parsed answer.
pub fn is_correct(parsed: Option<&str>, right: &RightAnswer, cmp: Comparison) -> bool {
    match cmp {
        Comparison::PythonEquality => match (parsed, right) {
            (Some(p), RightAnswer::Text(r)) => p == r,
            (None, RightAnswer::Null) => true,
            _ => false,
        },
        Comparison::Numeric => {
            let Some(p) = parsed else { return false };
            match (parse_number(p), right.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => match right {
                    RightAnswer::Text(r) => p == r,
                    _ => false,
                },
            }
        }
    }
}

/// The symbolic variable whose `+1` is the right answer of a symbolic prompt id (plot.py's
/// `PARAMS_PROMPTS`), or `None` for other ids.
pub fn symbolic_variable(prompt_id: i64) -> Option<char> {
    match prompt_id {
        100..=102 => Some('M'),
        103..=105 => Some('X'),
        106..=108 => Some('Y'),
        _ => None,
    }
}

fn symbolic_re(var: char) -> &'static Regex {
    static RES: OnceLock<[Regex; 3]> = OnceLock::new();
    let res = RES.get_or_init(|| {
        ['M', 'X', 'Y']
            .map(|v| Regex::new(&format!(r"{v}(?:\s*\+|\s+\s*)1")).expect("static regex"))
    });
    match var {
        'M' => &res[0],
        'X' => &res[1],
        _ => &res[2],
    }
}

/// plot.py's `get_correct_regex`: for ids 100–108 the response must contain `<VAR>+1`
/// (`re.search`, case-sensitive, on the stored response); other ids keep `stored_correct`.
pub fn correct_symbolic(prompt_id: i64, response: &str, stored_correct: bool) -> bool {
    match symbolic_variable(prompt_id) {
        Some(v) => symbolic_re(v).is_match(response),
        None => stored_correct,
    }
}

/// Parsed answer and verdict of one response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub parsed_answer: Option<String>,
    pub correct: bool,
}

/// Scores one response: symbolic rule for ids 100–108, parse + compare otherwise.
pub fn score(
    prompt_id: Option<i64>,
    response: &str,
    right: &RightAnswer,
    cmp: Comparison,
) -> Verdict {
    let parsed_answer = parse_answer(response);
    let correct = match prompt_id.and_then(symbolic_variable) {
        Some(v) => symbolic_re(v).is_match(response),
        None => is_correct(parsed_answer.as_deref(), right, cmp),
    };
    Verdict {
        parsed_answer,
        correct,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn answer_marker_wins_over_has() {
        assert_eq!(
            parse_answer("Alice has 4 brothers.\nAnswer: 2").as_deref(),
            Some("2")
        );
        assert_eq!(parse_answer("She has 12 sisters").as_deref(), Some("12"));
        assert_eq!(parse_answer("no digits here"), None);
        // Case-insensitive marker, lazy gap, greedy digits.
        assert_eq!(
            parse_answer("### ANSWER: the brother has 345 sisters").as_deref(),
            Some("345")
        );
    }

    #[test]
    fn newline_is_a_space_so_the_gap_crosses_lines() {
        // Without the replacement `.` could not cross the newline and the "has" rule would win.
        assert_eq!(parse_answer("has 1 answer:\n\n7").as_deref(), Some("7"));
    }

    #[test]
    fn numeric_vs_python_equality() {
        let f = RightAnswer::Number(3.0);
        assert!(is_correct(Some("3"), &f, Comparison::Numeric));
        assert!(!is_correct(Some("3"), &f, Comparison::PythonEquality));
        let s = RightAnswer::Text("7".into());
        assert!(is_correct(Some("07"), &s, Comparison::Numeric));
        assert!(!is_correct(Some("07"), &s, Comparison::PythonEquality));
        assert!(!is_correct(None, &s, Comparison::Numeric));
        assert!(is_correct(
            None,
            &RightAnswer::Null,
            Comparison::PythonEquality
        ));
    }

    #[test]
    fn symbolic_rule_matches_plot_py() {
        assert!(correct_symbolic(100, "the answer is M+1", false));
        assert!(correct_symbolic(100, "M +1", false));
        // Quirk of the upstream regex (checked with Python's re): no space allowed after `+`.
        assert!(!correct_symbolic(100, "M + 1", false));
        assert!(!correct_symbolic(100, "M+ 1", false));
        assert!(correct_symbolic(101, "M 1", false)); // `\s+\s*1`: a space counts
        assert!(!correct_symbolic(100, "m + 1", true)); // case-sensitive
        assert!(!correct_symbolic(103, "M + 1", true));
        assert!(correct_symbolic(107, "Y +1", false));
        assert!(correct_symbolic(55, "anything", true));
        assert!(!correct_symbolic(55, "M+1", false));
    }

    proptest! {
        #[test]
        fn parsed_answer_is_ascii_digits_found_in_text(s in "[a-zA-Z :\n0-9.]{0,80}") {
            if let Some(p) = parse_answer(&s) {
                prop_assert!(!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
                prop_assert!(normalize_response(&s).contains(&p));
            }
        }

        #[test]
        fn explicit_answer_line_is_parsed(pre in "[a-z ]{0,30}", n in 0u32..100000) {
            // Any text without digits/"answer:" before a final "Answer: n" parses to n.
            let pre = pre.replace("answer", "");
            let resp = format!("{pre}\nAnswer: {n}");
            prop_assert_eq!(parse_answer(&resp), Some(n.to_string()));
            prop_assert!(is_correct(Some(&n.to_string()), &RightAnswer::Number(n as f64), Comparison::Numeric));
        }
    }
}
