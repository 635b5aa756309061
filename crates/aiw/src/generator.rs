//! AIW problem generator: template families with typed parameters and answer formulas.
//!
//! A prompt is `prefix + problem + suffix`:
//! - `prefix`: optional (`### Problem: ` of the base-model completion format, or the Reflection-70B
//!   system header);
//! - `problem`: a family's template rendered with slot values;
//! - `suffix`: optional instruction with its separator (STANDARD, THINKING v1/v2, RESTRICTED, …).
//!
//! Template syntax: literal text with slots `{sK|phrase}` that render as
//! `<count> <phrase>` with the phrase's last word inflected by the count (`1 brother`,
//! `4 brothers`, `3 male friends`, `M sisters`). A count is an integer (rendered as digits, lower-
//! or capitalised number words) or a symbol (`M`, `N`, `X`, `Y`: the symbolic prompts). The
//! family's `answer` is an integer linear formula over the slots (`s1 + 1`,
//! `s2 + s4 + s5 - 2*s0 - 2`); over symbols it renders symbolically (`M+1`).
//!
//! The families live in `families.toml` (see the crate README for how they were obtained and
//! which prompt ids they do not cover).

use crate::prompts::{Prompt, PromptSet};
use crate::score::{symbolic_variable, RightAnswer};
use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

const NUMBER_WORDS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

/// A slot value: a count or a symbol of the symbolic prompts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Int(i64),
    Symbol(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Symbol(s) => f.write_str(s),
        }
    }
}

/// How a count is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum NumberStyle {
    /// `4`
    #[default]
    Digits,
    /// `four` (falls back to digits above twenty)
    Words,
    /// `Four`
    CapitalWords,
}

fn render_count(v: &Value, style: NumberStyle) -> String {
    match (v, style) {
        (Value::Int(n), NumberStyle::Words | NumberStyle::CapitalWords) if (0..=20).contains(n) => {
            let w = NUMBER_WORDS[*n as usize];
            if style == NumberStyle::CapitalWords {
                let mut c = w.chars();
                let first = c.next().map(|c| c.to_ascii_uppercase()).unwrap_or_default();
                format!("{first}{}", c.as_str())
            } else {
                w.to_string()
            }
        }
        _ => v.to_string(),
    }
}

/// English plural of the nouns the prompts use (regular `+s`, `-y → -ies`, a few irregulars).
pub fn pluralize(word: &str) -> String {
    match word {
        "child" => "children".into(),
        "man" => "men".into(),
        "woman" => "women".into(),
        _ => {
            let b = word.as_bytes();
            if b.len() >= 2 && b[b.len() - 1] == b'y' && !b"aeiou".contains(&b[b.len() - 2]) {
                format!("{}ies", &word[..word.len() - 1])
            } else {
                format!("{word}s")
            }
        }
    }
}

/// `<count> <phrase>` with the last word of the phrase agreeing with the count.
fn render_slot(v: &Value, style: NumberStyle, phrase: &str) -> String {
    let singular = matches!(v, Value::Int(1));
    let (head, last) = match phrase.rsplit_once(' ') {
        Some((h, l)) => (format!("{h} "), l),
        None => (String::new(), phrase),
    };
    let noun = if singular {
        last.to_string()
    } else {
        pluralize(last)
    };
    format!("{} {head}{noun}", render_count(v, style))
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Lit(String),
    Slot { index: usize, phrase: String },
}

/// Integer linear form `Σ coef·s_i + c` (the answer formulas are linear).
#[derive(Debug, Clone, PartialEq, Default)]
struct Linear {
    coefs: BTreeMap<usize, i64>,
    constant: i64,
}

impl Linear {
    fn add(mut self, o: &Linear, sign: i64) -> Linear {
        for (k, v) in &o.coefs {
            *self.coefs.entry(*k).or_insert(0) += sign * v;
        }
        self.constant += sign * o.constant;
        self.coefs.retain(|_, v| *v != 0);
        self
    }
    fn scale(mut self, k: i64) -> Linear {
        for v in self.coefs.values_mut() {
            *v *= k;
        }
        self.constant *= k;
        self.coefs.retain(|_, v| *v != 0);
        self
    }
}

/// Recursive-descent parser for `expr := term (('+'|'-') term)*`, `term := factor ('*' factor)*`,
/// `factor := int | sK | '(' expr ')' | '-' factor`.
struct FormulaParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl FormulaParser<'_> {
    fn parse(text: &str) -> Result<Linear> {
        let mut p = FormulaParser {
            s: text.as_bytes(),
            i: 0,
        };
        let e = p.expr()?;
        p.ws();
        if p.i != p.s.len() {
            bail!("answer formula `{text}`: unexpected text at byte {}", p.i);
        }
        Ok(e)
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i] == b' ' {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }
    fn expr(&mut self) -> Result<Linear> {
        let mut acc = self.term()?;
        while let Some(c @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let t = self.term()?;
            acc = acc.add(&t, if c == b'+' { 1 } else { -1 });
        }
        Ok(acc)
    }
    fn term(&mut self) -> Result<Linear> {
        let mut acc = self.factor()?;
        while self.peek() == Some(b'*') {
            self.i += 1;
            let f = self.factor()?;
            acc = if acc.coefs.is_empty() {
                f.scale(acc.constant)
            } else if f.coefs.is_empty() {
                acc.scale(f.constant)
            } else {
                bail!("answer formulas must be linear");
            };
        }
        Ok(acc)
    }
    fn number(&mut self) -> Result<i64> {
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])?
            .parse()
            .map_err(|e| anyhow!("bad number in formula: {e}"))
    }
    fn factor(&mut self) -> Result<Linear> {
        match self.peek() {
            Some(b'(') => {
                self.i += 1;
                let e = self.expr()?;
                if self.peek() != Some(b')') {
                    bail!("unbalanced parenthesis in formula");
                }
                self.i += 1;
                Ok(e)
            }
            Some(b'-') => {
                self.i += 1;
                Ok(self.factor()?.scale(-1))
            }
            Some(b's') => {
                self.i += 1;
                let k = self.number()? as usize;
                Ok(Linear {
                    coefs: BTreeMap::from([(k, 1)]),
                    constant: 0,
                })
            }
            Some(c) if c.is_ascii_digit() => Ok(Linear {
                coefs: BTreeMap::new(),
                constant: self.number()?,
            }),
            other => bail!(
                "unexpected {:?} in formula at byte {}",
                other.map(|c| c as char),
                self.i
            ),
        }
    }
}

/// A family's right answer for given values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Int(i64),
    /// Over symbols: `M+1`, `X+Y`, `2M-1`.
    Symbolic(String),
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Int(n) => write!(f, "{n}"),
            Answer::Symbolic(s) => f.write_str(s),
        }
    }
}

/// One template family.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: String,
    /// The id + description it was first seen with (documentation only).
    pub example: String,
    pub template: String,
    pub answer_formula: String,
    segments: Vec<Segment>,
    formula: Linear,
    regex: Regex,
    pub n_slots: usize,
}

fn count_alternatives() -> String {
    let mut alts = vec![r"\d+".to_string(), "[A-Z]".to_string()];
    for w in &NUMBER_WORDS[1..] {
        alts.push(w.to_string());
        let mut c = w.chars();
        let first = c.next().map(|c| c.to_ascii_uppercase()).unwrap_or_default();
        alts.push(format!("{first}{}", c.as_str()));
    }
    alts.join("|")
}

impl Family {
    fn new(name: String, example: String, template: String, answer: String) -> Result<Family> {
        let mut segments = Vec::new();
        let mut lit = String::new();
        let mut rest = template.as_str();
        while let Some(open) = rest.find(['{', '}']) {
            lit.push_str(&rest[..open]);
            // `{{` and `}}` are literal braces (the SQL prompts contain `{the query}`).
            if rest[open..].starts_with("{{") || rest[open..].starts_with("}}") {
                lit.push_str(&rest[open..open + 1]);
                rest = &rest[open + 2..];
                continue;
            }
            if rest[open..].starts_with('}') {
                bail!("family {name}: unmatched `}}` (write `}}}}` for a literal brace)");
            }
            if !lit.is_empty() {
                segments.push(Segment::Lit(std::mem::take(&mut lit)));
            }
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .with_context(|| format!("family {name}: unclosed slot"))?;
            let inner = &rest[open + 1..close];
            let (slot, phrase) = inner
                .split_once('|')
                .with_context(|| format!("family {name}: slot `{inner}` lacks `|phrase`"))?;
            let index: usize = slot
                .strip_prefix('s')
                .and_then(|k| k.parse().ok())
                .with_context(|| format!("family {name}: bad slot name `{slot}`"))?;
            segments.push(Segment::Slot {
                index,
                phrase: phrase.to_string(),
            });
            rest = &rest[close + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            segments.push(Segment::Lit(lit));
        }
        let n_slots = segments
            .iter()
            .filter_map(|s| match s {
                Segment::Slot { index, .. } => Some(index + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let counts = count_alternatives();
        let mut re = String::from("^");
        for s in &segments {
            match s {
                Segment::Lit(t) => re.push_str(&regex::escape(t)),
                Segment::Slot { phrase, .. } => {
                    let (head, last) = match phrase.rsplit_once(' ') {
                        Some((h, l)) => (format!("{h} "), l),
                        None => (String::new(), phrase.as_str()),
                    };
                    re.push_str(&format!(
                        "({counts}) {}(?:{}|{})",
                        regex::escape(&head),
                        regex::escape(last),
                        regex::escape(&pluralize(last))
                    ));
                }
            }
        }
        re.push('$');
        let regex = Regex::new(&re).with_context(|| format!("family {name}: template regex"))?;
        let formula = FormulaParser::parse(&answer).with_context(|| format!("family {name}"))?;
        if let Some(&k) = formula.coefs.keys().find(|&&k| k >= n_slots) {
            bail!("family {name}: formula uses s{k} but the template has {n_slots} slots");
        }
        Ok(Family {
            name,
            example,
            template,
            answer_formula: answer,
            segments,
            formula,
            regex,
            n_slots,
        })
    }

    /// Renders the problem text.
    pub fn render(&self, values: &[Value], styles: &[NumberStyle]) -> Result<String> {
        if values.len() != self.n_slots {
            bail!(
                "family {} takes {} values (s0..s{}), got {}",
                self.name,
                self.n_slots,
                self.n_slots.saturating_sub(1),
                values.len()
            );
        }
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Lit(t) => out.push_str(t),
                Segment::Slot { index, phrase } => {
                    let style = styles.get(*index).copied().unwrap_or_default();
                    out.push_str(&render_slot(&values[*index], style, phrase));
                }
            }
        }
        Ok(out)
    }

    /// The right answer for `values`.
    pub fn answer(&self, values: &[Value]) -> Result<Answer> {
        let mut total = self.formula.constant;
        let mut symbolic: Vec<(i64, String)> = Vec::new();
        for (&k, &coef) in &self.formula.coefs {
            match values.get(k) {
                Some(Value::Int(n)) => total += coef * n,
                Some(Value::Symbol(s)) => symbolic.push((coef, s.clone())),
                None => bail!("family {}: no value for s{k}", self.name),
            }
        }
        if symbolic.is_empty() {
            return Ok(Answer::Int(total));
        }
        // Canonical compact form, e.g. `M+1`, `X+Y-2`, `2M`.
        let mut s = String::new();
        for (i, (coef, sym)) in symbolic.iter().enumerate() {
            let sign = if *coef < 0 {
                "-"
            } else if i > 0 {
                "+"
            } else {
                ""
            };
            let mag = coef.abs();
            s.push_str(sign);
            if mag != 1 {
                s.push_str(&mag.to_string());
            }
            s.push_str(sym);
        }
        if total > 0 {
            s.push_str(&format!("+{total}"));
        } else if total < 0 {
            s.push_str(&format!("{total}"));
        }
        Ok(Answer::Symbolic(s))
    }

    /// Recovers values and styles from a problem text, if it is an instance of this family.
    fn parse(&self, problem: &str) -> Option<(Vec<Value>, Vec<NumberStyle>)> {
        let caps = self.regex.captures(problem)?;
        let mut values: Vec<Option<Value>> = vec![None; self.n_slots];
        let mut styles = vec![NumberStyle::Digits; self.n_slots];
        let mut g = 1;
        for s in &self.segments {
            if let Segment::Slot { index, .. } = s {
                let tok = caps.get(g)?.as_str();
                g += 1;
                let (v, st) = if let Ok(n) = tok.parse::<i64>() {
                    (Value::Int(n), NumberStyle::Digits)
                } else if let Some(n) = NUMBER_WORDS.iter().position(|w| *w == tok) {
                    (Value::Int(n as i64), NumberStyle::Words)
                } else if let Some(n) = NUMBER_WORDS
                    .iter()
                    .position(|w| w.eq_ignore_ascii_case(tok))
                {
                    (Value::Int(n as i64), NumberStyle::CapitalWords)
                } else {
                    (Value::Symbol(tok.to_string()), NumberStyle::Digits)
                };
                // A slot used twice must hold the same value.
                if values[*index].as_ref().is_some_and(|old| *old != v) {
                    return None;
                }
                values[*index] = Some(v);
                styles[*index] = st;
            }
        }
        Some((values.into_iter().collect::<Option<Vec<_>>>()?, styles))
    }
}

/// A prefix or suffix of the catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub name: String,
    pub text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FamilyEntry {
    name: String,
    #[serde(default)]
    example: String,
    template: String,
    answer: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    prefix: Vec<Part>,
    #[serde(default)]
    suffix: Vec<Part>,
    #[serde(default)]
    family: Vec<FamilyEntry>,
}

/// A concrete prompt: family + values + framing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub family: String,
    pub values: Vec<Value>,
    pub styles: Vec<NumberStyle>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub suffix: Option<String>,
}

/// The family catalog (families.toml, compiled in).
#[derive(Debug, Clone)]
pub struct Catalog {
    pub prefixes: Vec<Part>,
    pub suffixes: Vec<Part>,
    pub families: Vec<Family>,
    by_name: BTreeMap<String, usize>,
}

const FAMILIES_TOML: &str = include_str!("../families.toml");

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> &'static Catalog {
        static CAT: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        CAT.get_or_init(|| {
            Catalog::from_toml(FAMILIES_TOML).expect("families.toml is valid (tested)")
        })
    }

    pub fn from_toml(text: &str) -> Result<Catalog> {
        let file: CatalogFile = toml::from_str(text).context("parsing families.toml")?;
        let mut families = Vec::new();
        let mut by_name = BTreeMap::new();
        for f in file.family {
            let fam = Family::new(f.name, f.example, f.template, f.answer)?;
            if by_name.insert(fam.name.clone(), families.len()).is_some() {
                bail!("family `{}` defined twice", fam.name);
            }
            families.push(fam);
        }
        Ok(Catalog {
            prefixes: file.prefix,
            suffixes: file.suffix,
            families,
            by_name,
        })
    }

    pub fn family(&self, name: &str) -> Result<&Family> {
        self.by_name
            .get(name)
            .map(|&i| &self.families[i])
            .with_context(|| {
                format!(
                    "no AIW family `{name}` (families: f001..f{:03})",
                    self.families.len()
                )
            })
    }

    fn part<'a>(parts: &'a [Part], name: &str, what: &str) -> Result<&'a Part> {
        parts.iter().find(|p| p.name == name).with_context(|| {
            let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
            format!("no {what} `{name}`; known: {}", names.join(", "))
        })
    }

    /// Full prompt text of an instance.
    pub fn render(&self, inst: &Instance) -> Result<String> {
        let fam = self.family(&inst.family)?;
        let mut out = String::new();
        if let Some(p) = &inst.prefix {
            out.push_str(&Catalog::part(&self.prefixes, p, "prefix")?.text);
        }
        out.push_str(&fam.render(&inst.values, &inst.styles)?);
        if let Some(s) = &inst.suffix {
            out.push_str(&Catalog::part(&self.suffixes, s, "suffix")?.text);
        }
        Ok(out)
    }

    /// The right answer of an instance.
    pub fn answer(&self, inst: &Instance) -> Result<Answer> {
        self.family(&inst.family)?.answer(&inst.values)
    }

    /// Finds the family instance whose rendering is exactly `text`.
    pub fn match_text(&self, text: &str) -> Option<Instance> {
        let mut prefixes: Vec<Option<&Part>> = self
            .prefixes
            .iter()
            .filter(|p| text.starts_with(&p.text))
            .map(Some)
            .collect();
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.map_or(0, |p| p.text.len())));
        prefixes.push(None);
        for pre in prefixes {
            let body = &text[pre.map_or(0, |p| p.text.len())..];
            let mut suffixes: Vec<Option<&Part>> = self
                .suffixes
                .iter()
                .filter(|s| body.ends_with(&s.text) && body.len() > s.text.len())
                .map(Some)
                .collect();
            suffixes.sort_by_key(|s| std::cmp::Reverse(s.map_or(0, |s| s.text.len())));
            suffixes.push(None);
            for suf in suffixes {
                let problem = &body[..body.len() - suf.map_or(0, |s| s.text.len())];
                for fam in &self.families {
                    if let Some((values, styles)) = fam.parse(problem) {
                        let inst = Instance {
                            family: fam.name.clone(),
                            values,
                            styles,
                            prefix: pre.map(|p| p.name.clone()),
                            suffix: suf.map(|s| s.name.clone()),
                        };
                        if self.render(&inst).ok().as_deref() == Some(text) {
                            return Some(inst);
                        }
                    }
                }
            }
        }
        None
    }
}

/// How one prompt id relates to the families.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Coverage {
    /// Text regenerated exactly and the formula gives the stored right answer.
    Exact { instance: Instance, answer: Answer },
    /// Text regenerated exactly; the stored answer is `null` and the prompt is symbolic, so the
    /// symbolic answer (e.g. `M+1`) is checked against plot.py's rule where one exists (ids
    /// 100–108) and is otherwise unverifiable.
    Symbolic {
        instance: Instance,
        answer: Answer,
        verified: bool,
    },
    /// Text regenerated exactly but the stored right answer disagrees with the family formula.
    AnswerMismatch {
        instance: Instance,
        answer: Answer,
        stored: String,
    },
    /// Multi-turn prompt (list of turns): not templated.
    MultiTurn,
    /// No family renders this text.
    NoFamily,
}

/// Classifies one prompt.
pub fn coverage_of(cat: &Catalog, p: &Prompt) -> Coverage {
    let Some(text) = p.text() else {
        return Coverage::MultiTurn;
    };
    let Some(instance) = cat.match_text(text) else {
        return Coverage::NoFamily;
    };
    let answer = match cat.answer(&instance) {
        Ok(a) => a,
        Err(_) => return Coverage::NoFamily,
    };
    match (&answer, &p.right_answer) {
        (Answer::Int(n), right) if right.as_f64() == Some(*n as f64) => {
            Coverage::Exact { instance, answer }
        }
        (Answer::Symbolic(s), right) if right.is_null() => {
            let verified = symbolic_variable(p.id)
                .is_some_and(|_| crate::score::correct_symbolic(p.id, s, false));
            Coverage::Symbolic {
                instance,
                answer,
                verified,
            }
        }
        (_, right) => Coverage::AnswerMismatch {
            instance,
            answer,
            stored: right_display(right),
        },
    }
}

fn right_display(r: &RightAnswer) -> String {
    r.display()
}

/// Coverage of every prompt id, in id order.
pub fn coverage(cat: &Catalog, prompts: &PromptSet) -> Vec<(i64, Coverage)> {
    let mut out: Vec<(i64, Coverage)> = prompts
        .prompts
        .iter()
        .map(|p| (p.id, coverage_of(cat, p)))
        .collect();
    out.sort_by_key(|(id, _)| *id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fam(t: &str, a: &str) -> Family {
        Family::new("t".into(), String::new(), t.into(), a.into()).unwrap()
    }

    #[test]
    fn renders_agreement_and_styles() {
        let f = fam(
            "Alice has {s0|brother} and she also has {s1|sister}. How many sisters does Alice's brother have?",
            "s1 + 1",
        );
        let v = [Value::Int(1), Value::Int(6)];
        assert_eq!(
            f.render(&v, &[]).unwrap(),
            "Alice has 1 brother and she also has 6 sisters. How many sisters does Alice's brother have?"
        );
        assert_eq!(f.answer(&v).unwrap(), Answer::Int(7));
        let w = f
            .render(&v, &[NumberStyle::Words, NumberStyle::CapitalWords])
            .unwrap();
        assert!(
            w.starts_with("Alice has one brother and she also has Six sisters."),
            "{w}"
        );
        let sym = [Value::Symbol("N".into()), Value::Symbol("M".into())];
        assert!(f
            .render(&sym, &[])
            .unwrap()
            .starts_with("Alice has N brothers and she also has M sisters."));
        assert_eq!(f.answer(&sym).unwrap(), Answer::Symbolic("M+1".into()));
    }

    #[test]
    fn parse_roundtrip_and_rejects_disagreement() {
        let f = fam("Alice has {s0|male friend} and {s1|girl}.", "s0 + s1");
        let (v, st) = f.parse("Alice has 3 male friends and one girl.").unwrap();
        assert_eq!(v, vec![Value::Int(3), Value::Int(1)]);
        assert_eq!(
            f.render(&v, &st).unwrap(),
            "Alice has 3 male friends and one girl."
        );
        // "1 male friends" parses but does not re-render identically.
        let (v, st) = f.parse("Alice has 1 male friends and one girl.").unwrap();
        assert_ne!(
            f.render(&v, &st).unwrap(),
            "Alice has 1 male friends and one girl."
        );
    }

    #[test]
    fn formulas() {
        let f = fam("{s0|a} {s1|b} {s2|c}", "s2 + s1 - 2*(s0 + 1)");
        let v = [Value::Int(1), Value::Int(5), Value::Int(6)];
        assert_eq!(f.answer(&v).unwrap(), Answer::Int(7));
        assert!(Family::new("x".into(), String::new(), "{s0|a}".into(), "s0*s0".into()).is_err());
        assert!(Family::new("x".into(), String::new(), "{s0|a}".into(), "s1".into()).is_err());
        assert_eq!(pluralize("comedy"), "comedies");
        assert_eq!(pluralize("boy"), "boys");
        let f = fam("SQL ```sql {{the query}}``` for {s0|sister}", "s0 + 1");
        assert_eq!(
            f.render(&[Value::Int(2)], &[]).unwrap(),
            "SQL ```sql {the query}``` for 2 sisters"
        );
        assert!(f.parse("SQL ```sql {the query}``` for 2 sisters").is_some());
    }

    #[test]
    fn builtin_catalog_loads() {
        let c = Catalog::builtin();
        assert!(c.families.len() > 100);
        assert!(c.suffixes.iter().any(|s| s.name == "THINKING_V2"));
    }
}
