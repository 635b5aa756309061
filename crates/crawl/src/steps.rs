//! Pipeline steps: DCLM's `func` names with their parameters, built from a yaml step mapping the
//! way `baselines.core.factories.get_mapper` does (keys starting with `_` are ignored).

use crate::assets::Assets;
use crate::fasttext::FastText;
use crate::page::{Field, Page};
use crate::retrie;
use crate::rules;
use anyhow::{anyhow, bail, Context, Result};
use lmrepro_pycompat::unicode as pyunicode;
use regex::Regex;
use serde_yaml::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// A character outside ASCII that Unicode `\w` (hence Unicode `\b`) counts as a word
/// character. On text without one, Unicode and ASCII `\b` agree everywhere: each side of a
/// position is then either ASCII (classified alike) or a non-word character for both.
pub const NONASCII_WORD: &str = r"[\w&&[^\x00-\x7F]]";

/// A `.` followed by a character that starts a TLD in another script (`tld_starts`, sorted): only
/// there can `url_re` match such a TLD. Curly quotes after a full stop (`."`) are common in web
/// text and start no TLD; testing any non-ASCII character sent those pages to the slow search.
fn dot_before_tld_start(text: &str, tld_starts: &[char]) -> bool {
    let b = text.as_bytes();
    memchr::memchr_iter(b'.', b).any(|i| {
        b.get(i + 1).is_some_and(|&n| n >= 0x80)
            && text[i + 1..]
                .chars()
                .next()
                .is_some_and(|c| tld_starts.binary_search(&c).is_ok())
    })
}

/// `uni_re.replace_all(text, "")` (`None`: nothing removed), found with `ascii_re`, the same
/// pattern with ASCII `\b`, whose group 3 is the TLD; `text` has no `.` before a character that
/// starts a TLD in another script.
///
/// The TLD follows a literal `.`, so only TLDs starting with an ASCII character can match here,
/// and those end with an ASCII letter or digit (checked when the step is built). The `\b` comes
/// right after the TLD, so Unicode `\b` there implies ASCII `\b` (the next character is then no
/// word character at all): every path `ascii_re` rejects, `uni_re` rejects too. So when the first match of `ascii_re` has a `\b`
/// whose next character is not a non-ASCII word character (both `\b` agree there), it is
/// `uni_re`'s first match as well; otherwise `uni_re` searches again from the same place.
fn remove_url_matches(
    text: &str,
    ascii_re: &Regex,
    uni_re: &UnicodeTwin,
    nonascii_word: &Regex,
) -> Option<String> {
    let mut locs = ascii_re.capture_locations();
    let mut out = String::new();
    let (mut last, mut pos, mut found) = (0, 0, false);
    while pos <= text.len() {
        let Some(m) = ascii_re.captures_read_at(&mut locs, text, pos) else {
            break;
        };
        let faces_word = locs.get(3).is_some_and(|(_, tld_end)| {
            text[tld_end..].chars().next().is_some_and(|c| {
                !c.is_ascii() && nonascii_word.is_match(c.encode_utf8(&mut [0; 4]))
            })
        });
        let (start, end) = if faces_word {
            match uni_re.get().find_at(text, pos) {
                Some(u) => (u.start(), u.end()),
                None => break,
            }
        } else {
            (m.start(), m.end())
        };
        if start == end {
            // The pattern cannot match empty text; were it to, replace_all's own stepping over
            // empty matches applies.
            return match uni_re.get().replace_all(text, "") {
                std::borrow::Cow::Owned(t) => Some(t),
                std::borrow::Cow::Borrowed(_) => None,
            };
        }
        out.push_str(&text[last..start]);
        (last, pos, found) = (end, end, true);
    }
    if !found {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// A URL-step pattern with Unicode `\b`, compiled on first use: most pages never need it (see
/// `remove_urls`), and compiling the patterns over the 1,591-TLD trie was most of the process
/// start-up. It is built only after its twin with ASCII `\b` (`(?-u:\b)`), the same pattern but
/// for the flavour of `\b`, has compiled: both have the same syntax and the same number of NFA
/// states (a `\b` is one look-around state either way), so this one compiles too.
pub struct UnicodeTwin {
    pattern: String,
    re: std::sync::OnceLock<Regex>,
}

impl UnicodeTwin {
    fn new(pattern: String) -> UnicodeTwin {
        UnicodeTwin {
            pattern,
            re: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> &Regex {
        self.re.get_or_init(|| {
            Regex::new(&self.pattern).expect("compiles: its ASCII-\\b twin compiled at build")
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The page goes on (possibly modified).
    Keep,
    /// The step returned `[]`.
    Drop,
    /// The step does not apply (a URL step on a page without URL).
    Skip,
    /// DCLM's function would raise; `get_mapper(_safe=True)` then drops the page and counts an
    /// error.
    Error(String),
}

/// The parameters of one yaml step, checked for unknown keys.
struct Params<'a> {
    func: &'a str,
    map: BTreeMap<String, &'a Value>,
    used: HashSet<String>,
}

impl<'a> Params<'a> {
    fn get(&mut self, key: &str) -> Option<&'a Value> {
        self.used.insert(key.to_string());
        self.map.get(key).copied().filter(|v| !v.is_null())
    }
    fn f64(&mut self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .or_else(|| v.as_i64().map(|i| i as f64))
                .or_else(|| match v.as_str() {
                    Some("inf") | Some(".inf") => Some(f64::INFINITY),
                    _ => None,
                })
                .with_context(|| format!("{}: `{key}` must be a number, got {v:?}", self.func)),
        }
    }
    fn bool(&mut self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .with_context(|| format!("{}: `{key}` must be true/false, got {v:?}", self.func)),
        }
    }
    fn string(&mut self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_string()))
                .with_context(|| format!("{}: `{key}` must be a string, got {v:?}", self.func)),
        }
    }
    /// A string or a list of strings (DCLM accepts both for banlists).
    fn strings(&mut self, key: &str) -> Result<Option<Vec<String>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Sequence(seq)) => seq
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    Value::Bool(b) => Ok(if *b { "True" } else { "False" }.to_string()),
                    other => Err(anyhow!(
                        "{}: `{key}` items must be strings, got {other:?}",
                        self.func
                    )),
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => bail!(
                "{}: `{key}` must be a string or a list, got {v:?}",
                self.func
            ),
        }
    }
    /// Errors on keys the function does not take (Python raises TypeError at call time).
    fn finish(self) -> Result<()> {
        let unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.used.contains(*k))
            .collect();
        if !unknown.is_empty() {
            bail!("{}: unexpected parameter(s) {unknown:?}", self.func);
        }
        Ok(())
    }
}

/// `split_words` keyword arguments accepted through `**kwargs`.
#[derive(Debug, Clone, Copy)]
struct SplitWords {
    ignore_punctuation: bool,
}

fn split_words_kwargs(p: &mut Params, default_ignore_punct: bool) -> Result<SplitWords> {
    let ignore_punctuation = p.bool("ignore_punctuation", default_ignore_punct)?;
    if let Some(m) = p.string("model")? {
        if m != "fasttext" {
            bail!(
                "{}: split_words model `{m}` is not implemented (only `fasttext`)",
                p.func
            );
        }
    }
    if !p.bool("ignore_whitespace", true)? {
        bail!("{}: ignore_whitespace=False is not implemented", p.func);
    }
    Ok(SplitWords { ignore_punctuation })
}

/// A url_substring_filter matcher.
pub enum UrlMatcher {
    Domains(HashSet<String>),
    Pattern(Regex),
}

/// One executable step.
pub enum StepKind {
    MoveUrl,
    UrlSubstring {
        matcher: UrlMatcher,
        exact_domain_match: bool,
        ignore_chars: Vec<String>,
        num_banned: usize,
        case_sensitive: bool,
    },
    UrlRemoval {
        tld_gate: Regex,
        // Boxed: a twin holds its pattern and a slot for the compiled regex.
        url_re: Box<UnicodeTwin>,
        ipv4_re: Box<UnicodeTwin>,
        /// Necessary conditions for a match of `url_re` / `ipv4_re`: the core of each pattern
        /// without `\b` and the optional prefix, which every match contains. Unicode `\b` keeps
        /// the full patterns off the lazy DFA on non-ASCII text; these stay on it, so pages
        /// without a candidate skip the slow search (same result: no match either way).
        url_hint: Regex,
        ipv4_hint: Regex,
        /// `url_re` / `ipv4_re` with ASCII `\b` (`(?-u:\b)`), which the lazy DFA runs on any
        /// text. Used only on pages without a non-ASCII word character ([`NONASCII_WORD`]):
        /// there both `\b` agree at every position, since a character that is not ASCII is then
        /// a non-word character for both (tested on random and real texts).
        url_re_ascii_b: Regex,
        ipv4_re_ascii_b: Regex,
        nonascii_word: Regex,
        /// Every TLD ends in an ASCII letter or digit or starts with a non-ASCII character, and
        /// `url_re`'s group 3 is the TLD: then on pages without a `.` before a character of
        /// `tld_starts` `url_re_ascii_b` finds the matches and only those whose `\b` faces a
        /// non-ASCII word character are searched again with `url_re` ([`remove_url_matches`]).
        url_checked: bool,
        /// The first characters of the TLDs that start with a non-ASCII character, sorted
        /// (`url_re` is case-sensitive).
        tld_starts: Vec<char>,
    },
    NewlineRemoval(usize),
    DetectLang {
        key: String,
        overwrite: bool,
        model: Arc<FastText>,
    },
    LanguageFilter {
        key: String,
        keep: Vec<String>,
        threshold: f64,
    },
    PageLength {
        unit: LengthUnit,
        min: f64,
        max: f64,
    },
    WordLength {
        min: f64,
        max: f64,
    },
    SymbolRatio(f64),
    BulletCount(f64),
    EllipsisCount(f64),
    AlphabeticWordRatio(f64),
    StopWord {
        count_unique: bool,
        min: usize,
    },
    MassiveWebRepetition {
        skip_paragraph: bool,
    },
    WordCounter {
        key: String,
        overwrite: bool,
        ignore_punctuation: bool,
    },
    UppercaseRatioLine(f64),
    NumericRatioLine(f64),
    CounterLine(Regex),
    LineLength {
        min: f64,
        max: f64,
    },
    SubstringLine {
        re: Regex,
        max_length: Option<usize>,
        remove_substring_only: bool,
    },
    WordRemovalRatio {
        prev_key: String,
        new_key: Option<String>,
        max: f64,
        ignore_punctuation: bool,
    },
    // C4 / RefinedWeb extras.
    KeyNameNoop,
    SubstringFilter(Regex, bool),
    CitationRemoval(Regex),
    PunctuationLine {
        remove_ellipses: bool,
        end: Regex,
        ell: Regex,
    },
    WordLengthModifier(usize),
    WithinPageDedup {
        sep: &'static str,
        normalize: bool,
    },
}

/// Units of page_length_filter.
#[derive(Debug, Clone, Copy)]
pub enum LengthUnit {
    Word { ignore_punctuation: bool },
    Char,
    Line { remove_empty: bool },
    Paragraph { remove_empty: bool },
}

/// Functions DCLM has that lmrepro does not implement (their yaml steps are rejected with this
/// list in the message).
pub const UNSUPPORTED_HINT: &str = "implemented: the 26 steps of dclm_baseline_refinedweb.yaml plus \
key_name_modifier, substring_filter, citation_removal_modifier, punctuation_line_modifier, \
word_length_modifier (model split), within_page_dedup; not: sentence-based page_length_filter (nltk/blingfire), \
exact_dedup, split/join_lines_modifier, langdetect, quality models";

impl StepKind {
    /// Builds a step from its yaml mapping.
    pub fn build(func: &str, mapping: &serde_yaml::Mapping, assets: &Assets) -> Result<StepKind> {
        let mut map = BTreeMap::new();
        for (k, v) in mapping {
            let k = k.as_str().context("step keys must be strings")?;
            if k == "func" || k == "module" || k.starts_with('_') {
                continue;
            }
            map.insert(k.to_string(), v);
        }
        let mut p = Params {
            func,
            map,
            used: HashSet::new(),
        };
        let kind = match func {
            "move_url_modifier" => StepKind::MoveUrl,
            "url_substring_filter" => build_url_substring(&mut p, assets)?,
            "url_removal_modifier" => {
                let path = p
                    .string("tlds_filepath")?
                    .unwrap_or_else(|| "baselines/mappers/iana_tlds.txt".to_string());
                let text = assets.read_dclm_text(&path)?;
                let raw = pyunicode::splitlines(&text);
                // The IANA list has ASCII TLDs and 169 in other scripts (`测试`); see
                // `remove_url_matches` for why the ends and starts matter.
                let tlds_split = raw.iter().all(|t| {
                    t.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
                        || t.chars().next().is_some_and(|c| !c.is_ascii())
                });
                let mut tld_starts: Vec<char> = raw
                    .iter()
                    .filter_map(|t| t.chars().next().filter(|c| !c.is_ascii()))
                    .collect();
                tld_starts.sort_unstable();
                tld_starts.dedup();
                let tlds: Vec<String> = raw.iter().map(|t| retrie::py_re_escape(t)).collect();
                let trie = retrie::trie_pattern(&tlds);
                let s = pyunicode::RE_SPACE_CLASS;
                // `Blacklist(tlds, match_substrings=True).compiled.match(text)`: IGNORECASE,
                // anchored at the start of the text only.
                let tld_gate = Regex::new(&format!(r"\A(?i:{trie})"))?;
                let url_pat = |b: &str| {
                    format!(
                        r"{s}{{0,10}}(?:((https?|ftp)://))?[-a-zA-Z0-9@:%._\+~#=]{{1,256}}\.({trie}){b}([-a-zA-Z0-9()@:%_\+.~#?&//=]*)"
                    )
                };
                let ipv4_pat = |b: &str| {
                    format!(
                        r"{s}{{0,10}}{b}((https?|ftp)://)?(?:[0-2]?[0-9]{{1,2}}\.){{3}}[0-2]?[0-9]{{1,2}}[-a-zA-Z0-9()@:%_\+.~#?&//=]*"
                    )
                };
                let url_re_ascii_b = Regex::new(&url_pat(r"(?-u:\b)"))?;
                let url_re = Box::new(UnicodeTwin::new(url_pat(r"\b")));
                let url_checked = tlds_split && url_re_ascii_b.captures_len() == 5;
                let ipv4_re_ascii_b = Regex::new(&ipv4_pat(r"(?-u:\b)"))?;
                let ipv4_re = Box::new(UnicodeTwin::new(ipv4_pat(r"\b")));
                let url_hint = Regex::new(&format!(r"[-a-zA-Z0-9@:%._\+~#=]\.(?:{trie})"))?;
                let ipv4_hint = Regex::new(r"(?:[0-2]?[0-9]{1,2}\.){3}[0-2]?[0-9]{1,2}")?;
                StepKind::UrlRemoval {
                    tld_gate,
                    url_re,
                    ipv4_re,
                    url_hint,
                    ipv4_hint,
                    url_re_ascii_b,
                    ipv4_re_ascii_b,
                    nonascii_word: Regex::new(NONASCII_WORD)?,
                    url_checked,
                    tld_starts,
                }
            }
            "newline_removal_modifier" => {
                StepKind::NewlineRemoval(p.f64("max_consecutive", 2.0)? as usize)
            }
            "detect_lang_whole_page_enricher" => {
                let model = p
                    .string("model")?
                    .context("detect_lang_whole_page_enricher: `model` is required")?;
                if model != "fasttext" {
                    bail!("detect_lang_whole_page_enricher: model `{model}` is not implemented (only fasttext)");
                }
                let prefix = p
                    .string("key_prefix")?
                    .unwrap_or_else(|| "language_id_whole_page".into());
                if p.get("seed").is_some() {
                    bail!("detect_lang_whole_page_enricher: DCLM raises NotImplementedError for a fasttext seed");
                }
                StepKind::DetectLang {
                    key: format!("{prefix}_{model}"),
                    overwrite: p.bool("overwrite", false)?,
                    model: assets.lid_model()?,
                }
            }
            "language_filter" => {
                let keep = p
                    .strings("keep_languages")?
                    .context("language_filter: `keep_languages` is required")?;
                if !matches!(p.map.get("keep_languages"), Some(Value::Sequence(_))) {
                    bail!("language_filter: keep_languages must be a list (DCLM raises TypeError)");
                }
                StepKind::LanguageFilter {
                    key: p
                        .string("key")?
                        .unwrap_or_else(|| "language_id_whole_page_langdetect".into()),
                    keep,
                    threshold: p.f64("threshold", 0.0)?,
                }
            }
            "page_length_filter" => {
                let lt = p
                    .string("length_type")?
                    .context("page_length_filter: `length_type` is required")?;
                let min = p.f64("min_length", 1.0)?;
                let max = p.f64("max_length", f64::INFINITY)?;
                let unit = match lt.as_str() {
                    "word" => LengthUnit::Word {
                        ignore_punctuation: split_words_kwargs(&mut p, false)?.ignore_punctuation,
                    },
                    "char" => LengthUnit::Char,
                    "line" => LengthUnit::Line {
                        remove_empty: p.bool("remove_empty", true)?,
                    },
                    "paragraph" => LengthUnit::Paragraph {
                        remove_empty: p.bool("remove_empty", true)?,
                    },
                    other => bail!("page_length_filter: length_type `{other}` is not implemented ({UNSUPPORTED_HINT})"),
                };
                StepKind::PageLength { unit, min, max }
            }
            "word_length_filter" => StepKind::WordLength {
                min: p.f64("min_length", 0.0)?,
                max: p.f64("max_length", f64::INFINITY)?,
            },
            "symbol_ratio_filter" => StepKind::SymbolRatio(p.f64("max_symbol_to_word_ratio", 0.1)?),
            "bullet_count_filter" => StepKind::BulletCount(p.f64("max_bullet_start_ratio", 0.9)?),
            "ellipsis_count_filter" => {
                StepKind::EllipsisCount(p.f64("max_ellipsis_end_ratio", 0.3)?)
            }
            "alphabetic_word_ratio_filter" => {
                StepKind::AlphabeticWordRatio(p.f64("max_ratio", 0.2)?)
            }
            "stop_word_filter" => StepKind::StopWord {
                count_unique: p.bool("count_unique", false)?,
                min: p.f64("min_stop_word", 2.0)?.max(0.0) as usize,
            },
            "massive_web_repetition_filters" => StepKind::MassiveWebRepetition {
                skip_paragraph: p.bool("skip_paragraph", false)?,
            },
            "word_counter_enricher" => StepKind::WordCounter {
                key: p.string("key")?.unwrap_or_else(|| "word_count".into()),
                overwrite: p.bool("overwrite", false)?,
                ignore_punctuation: split_words_kwargs(&mut p, true)?.ignore_punctuation,
            },
            "uppercase_ratio_line_modifier" => {
                StepKind::UppercaseRatioLine(p.f64("max_ratio", 0.5)?)
            }
            "numeric_ratio_line_modifier" => StepKind::NumericRatioLine(p.f64("max_ratio", 1.0)?),
            "counter_line_modifier" => StepKind::CounterLine(rules::counter_regex()),
            "line_length_modifier" => StepKind::LineLength {
                min: p.f64("min_length", 0.0)?,
                max: p.f64("max_length", f64::INFINITY)?,
            },
            "substring_line_modifier" => {
                let banlist = p
                    .strings("banlist")?
                    .context("substring_line_modifier: `banlist` is required")?;
                let case_sensitive = p.bool("case_sensitive", false)?;
                let location = p.string("location")?.unwrap_or_else(|| "any".into());
                if !["prefix", "suffix", "any"].contains(&location.as_str()) {
                    bail!("substring_line_modifier: location must be prefix, suffix or any");
                }
                let max_length = p
                    .get("max_length")
                    .map(|v| v.as_f64().or(v.as_i64().map(|i| i as f64)));
                let max_length = match max_length {
                    None => None,
                    Some(Some(m)) => Some(m.max(0.0) as usize),
                    Some(None) => bail!("substring_line_modifier: max_length must be a number"),
                };
                let re = rules::substring_line_regex(&banlist, case_sensitive, &location)
                    .with_context(|| format!("substring_line_modifier: banlist {banlist:?} is not a regex lmrepro accepts"))?;
                StepKind::SubstringLine {
                    re,
                    max_length,
                    remove_substring_only: p.bool("remove_substring_only", false)?,
                }
            }
            "word_removal_ratio_filter" => StepKind::WordRemovalRatio {
                prev_key: p
                    .string("prev_word_count_key")?
                    .context("word_removal_ratio_filter: `prev_word_count_key` is required")?,
                new_key: p.string("new_word_count_key")?,
                max: p.f64("max_removed_ratio", 0.05)?,
                ignore_punctuation: split_words_kwargs(&mut p, true)?.ignore_punctuation,
            },
            "key_name_modifier" => {
                let old = p.string("old_key")?.unwrap_or_else(|| "content".into());
                let new = p.string("new_key")?.unwrap_or_else(|| "text".into());
                p.bool("allow_overwrite", false)?;
                if old == "text" || new != "text" {
                    bail!("key_name_modifier: only renaming another key to `text` is supported (pages here carry `text` only)");
                }
                // Pages are read from `text`; a page has no `content` key, so DCLM's rename is a no-op.
                StepKind::KeyNameNoop
            }
            "substring_filter" => {
                let banlist = match p.string("banlist_from_fname")? {
                    Some(f) => pyunicode::splitlines(&assets.read_dclm_text(&f)?)
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    None => p
                        .strings("banlist")?
                        .context("substring_filter: needs banlist or banlist_from_fname")?,
                };
                let location = p.string("location")?.unwrap_or_else(|| "any".into());
                let case_sensitive = p.bool("case_sensitive", false)?;
                let exact_word = p.bool("exact_word", false)?;
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
                let mut pat = retrie::python_regex_to_rust(&format!("(?:{})", items.join("|")));
                if exact_word {
                    pat = format!(r"\b{pat}\b");
                }
                match location.as_str() {
                    "prefix" => pat = format!("^{pat}"),
                    "suffix" => pat = format!("{pat}$"),
                    "any" => {}
                    _ => bail!("substring_filter: location must be one of any, prefix, suffix"),
                }
                StepKind::SubstringFilter(
                    Regex::new(&pat).with_context(|| {
                        format!("substring_filter: banlist is not a regex lmrepro accepts: {pat}")
                    })?,
                    case_sensitive,
                )
            }
            "citation_removal_modifier" => {
                StepKind::CitationRemoval(Regex::new(r"\[\d*\]|\[edit\]|\[citation needed\]")?)
            }
            "punctuation_line_modifier" => {
                let s = pyunicode::RE_SPACE_CLASS;
                StepKind::PunctuationLine {
                    remove_ellipses: p.bool("remove_ellipses", false)?,
                    end: Regex::new(&format!("[.!?\"\u{2026}]{s}*$"))?,
                    ell: Regex::new(&format!(r"(?:\.\.\.|\u{{2026}}){s}*$"))?,
                }
            }
            "word_length_modifier" => {
                let max = p.f64("max_length", 1000.0)? as usize;
                match p.string("model")?.as_deref() {
                    Some("split") => {}
                    other => bail!(
                        "word_length_modifier: model {other:?} is not implemented (only `split`)"
                    ),
                }
                StepKind::WordLengthModifier(max)
            }
            "within_page_dedup" => {
                let g = p.string("granularity")?.unwrap_or_else(|| "line".into());
                StepKind::WithinPageDedup {
                    sep: match g.as_str() {
                        "line" => "\n",
                        "paragraph" => "\n\n",
                        _ => bail!("within_page_dedup: granularity must be line or paragraph"),
                    },
                    normalize: p.bool("normalize", true)?,
                }
            }
            other => bail!("function `{other}` is not implemented ({UNSUPPORTED_HINT})"),
        };
        p.finish()?;
        Ok(kind)
    }

    /// `url_removal_modifier` on `page.text` (no-op for other steps); `fast`: allow the ASCII-`\b`
    /// patterns where they are exact (false only in tests, which compare both).
    pub fn remove_urls<'a>(&'a self, page: &mut Page, fast: bool) {
        if let StepKind::UrlRemoval {
            tld_gate,
            url_re,
            ipv4_re,
            url_hint,
            ipv4_hint,
            url_re_ascii_b,
            ipv4_re_ascii_b,
            nonascii_word,
            url_checked,
            tld_starts,
        } = self
        {
            let ascii_b = fast && (page.text.is_ascii() || !nonascii_word.is_match(&page.text));
            // The Unicode-`\b` patterns are compiled only when a page needs them.
            let pick =
                |ascii: &'a Regex, uni: &'a UnicodeTwin| if ascii_b { ascii } else { uni.get() };
            if tld_gate.is_match(&page.text) && url_hint.is_match(&page.text) {
                if !ascii_b && fast && *url_checked && !dot_before_tld_start(&page.text, tld_starts)
                {
                    if let Some(t) =
                        remove_url_matches(&page.text, url_re_ascii_b, url_re, nonascii_word)
                    {
                        page.text = t;
                    }
                } else if let std::borrow::Cow::Owned(t) =
                    pick(url_re_ascii_b, url_re).replace_all(&page.text, "")
                {
                    page.text = t;
                }
            }
            if ipv4_hint.is_match(&page.text) {
                if let std::borrow::Cow::Owned(t) =
                    pick(ipv4_re_ascii_b, ipv4_re).replace_all(&page.text, "")
                {
                    page.text = t;
                }
            }
        }
    }

    /// Runs the step on `page`.
    pub fn apply(&self, page: &mut Page) -> Verdict {
        use Verdict::*;
        let keep = |b: bool| if b { Keep } else { Drop };
        match self {
            StepKind::MoveUrl => {
                // DCLM: page['url'] = page['metadata']['WARC-Target-URI'] (KeyError without it).
                // lmrepro keeps an existing `url` and skips the URL steps for pages with neither.
                match &page.warc_target_uri {
                    Some(u) => {
                        page.url = Some(u.clone());
                        Keep
                    }
                    None if page.url.is_some() => Keep,
                    None => Skip,
                }
            }
            StepKind::UrlSubstring {
                matcher,
                exact_domain_match,
                ignore_chars,
                num_banned,
                case_sensitive,
            } => {
                let Some(url) = &page.url else { return Skip };
                let mut u = if *exact_domain_match {
                    match netloc(url) {
                        Ok(n) => n.to_string(),
                        Err(e) => return Error(e),
                    }
                } else {
                    url.clone()
                };
                if !case_sensitive {
                    u = u.to_lowercase();
                }
                for c in ignore_chars {
                    u = u.replace(c.as_str(), "");
                }
                match matcher {
                    UrlMatcher::Domains(set) => keep(!(*exact_domain_match && set.contains(&u))),
                    UrlMatcher::Pattern(re) => {
                        let distinct: HashSet<&str> =
                            re.find_iter(&u).map(|m| m.as_str()).collect();
                        keep(distinct.len() < *num_banned)
                    }
                }
            }
            StepKind::UrlRemoval { .. } => {
                self.remove_urls(page, true);
                keep(!page.text.is_empty())
            }
            StepKind::NewlineRemoval(max) => {
                if page.text.contains(&"\n".repeat(max + 1)) {
                    page.text = rules::newline_removal_modifier(&page.text, *max);
                }
                Keep
            }
            StepKind::DetectLang {
                key,
                overwrite,
                model,
            } => {
                if !overwrite && page.fields.contains_key(key) {
                    return Error(format!("cannot overwrite an existing key {key}"));
                }
                let mut m = BTreeMap::new();
                if !rules::is_space_or_punct(&page.text) {
                    let flat = page.text.replace('\n', "");
                    match model.predict(&flat, 1).into_iter().next() {
                        Some(pr) => {
                            m.insert(pr.label, pr.prob as f64);
                        }
                        // Python: predictions[0][0] on an empty result raises IndexError.
                        None => return Error("fastText returned no prediction".into()),
                    }
                }
                page.fields.insert(key.clone(), Field::Lang(m));
                Keep
            }
            StepKind::LanguageFilter {
                key,
                keep: langs,
                threshold,
            } => match page.fields.get(key) {
                Some(Field::Lang(m)) => keep(
                    langs
                        .iter()
                        .any(|l| m.get(l).is_some_and(|p| *p > *threshold)),
                ),
                Some(_) => Error(format!("`{key}` is not a language-id field")),
                None => Error(format!("The input JSON object does not have a {key} field")),
            },
            StepKind::PageLength { unit, min, max } => {
                let n = match unit {
                    LengthUnit::Word { ignore_punctuation } => {
                        return keep(rules::page_length_words(
                            &page.text,
                            *min,
                            *max,
                            *ignore_punctuation,
                        ))
                    }
                    LengthUnit::Char => pyunicode::len(&page.text),
                    LengthUnit::Line { remove_empty } => {
                        split_count(&page.text, "\n", *remove_empty)
                    }
                    LengthUnit::Paragraph { remove_empty } => {
                        split_count(&page.text, "\n\n", *remove_empty)
                    }
                } as f64;
                keep(!(n < *min || n > *max))
            }
            StepKind::WordLength { min, max } => {
                keep(rules::word_length_filter(&page.text, *min, *max))
            }
            StepKind::SymbolRatio(m) => keep(rules::symbol_ratio_filter(&page.text, *m)),
            StepKind::BulletCount(m) => keep(rules::bullet_count_filter(&page.text, *m)),
            StepKind::EllipsisCount(m) => keep(rules::ellipsis_count_filter(&page.text, *m)),
            StepKind::AlphabeticWordRatio(m) => {
                keep(rules::alphabetic_word_ratio_filter(&page.text, *m))
            }
            StepKind::StopWord { count_unique, min } => {
                keep(rules::stop_word_filter(&page.text, *count_unique, *min))
            }
            StepKind::MassiveWebRepetition { skip_paragraph } => {
                keep(rules::massive_web_repetition(&page.text, *skip_paragraph).is_none())
            }
            StepKind::WordCounter {
                key,
                overwrite,
                ignore_punctuation,
            } => {
                if !overwrite && page.fields.contains_key(key) {
                    return Error(format!("cannot overwrite an existing key {key}"));
                }
                let n = crate::words::fasttext_word_count(&page.text, *ignore_punctuation) as u64;
                page.fields.insert(key.clone(), Field::Count(n));
                Keep
            }
            StepKind::UppercaseRatioLine(m) => {
                set_or_drop(page, rules::uppercase_ratio_line_modifier(&page.text, *m))
            }
            StepKind::NumericRatioLine(m) => {
                set_or_drop(page, rules::numeric_ratio_line_modifier(&page.text, *m))
            }
            StepKind::CounterLine(re) => {
                set_or_drop(page, rules::counter_line_modifier(&page.text, re))
            }
            StepKind::LineLength { min, max } => {
                set_or_drop(page, rules::line_length_modifier(&page.text, *min, *max))
            }
            StepKind::SubstringLine {
                re,
                max_length,
                remove_substring_only,
            } => set_or_drop(
                page,
                rules::substring_line_modifier(&page.text, re, *max_length, *remove_substring_only),
            ),
            StepKind::WordRemovalRatio {
                prev_key,
                new_key,
                max,
                ignore_punctuation,
            } => {
                let prev = match page.fields.get(prev_key) {
                    Some(Field::Count(c)) => *c,
                    _ => {
                        return Error(format!(
                            "'{prev_key}' key must exist in the page dictionary"
                        ))
                    }
                };
                if let Some(Field::Count(now)) = new_key.as_ref().and_then(|k| page.fields.get(k)) {
                    if prev == 0 {
                        return Drop;
                    }
                    return keep((prev as i64 - *now as i64) as f64 / prev as f64 <= *max);
                }
                keep(rules::word_removal_ratio_filter(
                    &page.text,
                    prev,
                    *max,
                    *ignore_punctuation,
                ))
            }
            StepKind::KeyNameNoop => Keep,
            StepKind::SubstringFilter(re, case_sensitive) => {
                let hit = if *case_sensitive {
                    re.is_match(&page.text)
                } else {
                    re.is_match(&page.text.to_lowercase())
                };
                keep(!hit)
            }
            StepKind::CitationRemoval(re) => {
                set_or_drop(page, rules::citation_removal_modifier(&page.text, re))
            }
            StepKind::PunctuationLine {
                remove_ellipses,
                end,
                ell,
            } => set_or_drop(
                page,
                rules::punctuation_line_modifier(&page.text, *remove_ellipses, end, ell),
            ),
            StepKind::WordLengthModifier(max) => {
                set_or_drop(page, rules::word_length_modifier_split(&page.text, *max))
            }
            StepKind::WithinPageDedup { sep, normalize } => {
                page.text = rules::within_page_dedup(&page.text, sep, *normalize);
                Keep
            }
        }
    }

    /// True for the steps that read the URL (skipped on pages without one).
    pub fn is_url_step(&self) -> bool {
        matches!(self, StepKind::MoveUrl | StepKind::UrlSubstring { .. })
    }
}

fn split_count(text: &str, sep: &str, remove_empty: bool) -> usize {
    if remove_empty {
        crate::words::split_paragraphs(text, sep).count()
    } else {
        crate::words::split_literal(text, sep).count()
    }
}

fn set_or_drop(page: &mut Page, new: Option<String>) -> Verdict {
    match new {
        Some(t) => {
            page.text = t;
            Verdict::Keep
        }
        None => Verdict::Drop,
    }
}

fn build_url_substring(p: &mut Params, assets: &Assets) -> Result<StepKind> {
    let case_sensitive = p.bool("case_sensitive", false)?;
    let exact_domain_match = p.bool("exact_domain_match", false)?;
    let match_substrings = p.bool("match_substrings", true)?;
    let num_banned = p.f64("num_banned_substrs", 1.0)?.max(0.0) as usize;
    let ignore_chars = p.strings("ignore_chars")?.unwrap_or_default();
    let banlist: Vec<String> = match p.string("banlist_from_fname")? {
        Some(f) => {
            if f.ends_with(".pkl") || f.ends_with(".pickle") {
                bail!("url_substring_filter: pickled banlists ({f}) are not supported");
            }
            pyunicode::splitlines(&assets.read_dclm_text(&f)?)
                .iter()
                .map(|s| s.to_string())
                .collect()
        }
        None => p
            .strings("banlist")?
            .context("url_substring_filter: needs banlist or banlist_from_fname")?,
    };
    let banlist: Vec<String> = if case_sensitive {
        banlist
    } else {
        banlist.iter().map(|b| b.to_lowercase()).collect()
    };
    let matcher = if exact_domain_match {
        UrlMatcher::Domains(banlist.into_iter().collect())
    } else {
        let trie = retrie::trie_pattern(&banlist);
        let body = if match_substrings {
            trie
        } else {
            format!(r"\b{trie}\b")
        };
        // retrie compiles with re.IGNORECASE unless case-sensitive.
        let pat = if case_sensitive {
            body
        } else {
            format!("(?i){body}")
        };
        UrlMatcher::Pattern(Regex::new(&pat)?)
    };
    Ok(StepKind::UrlSubstring {
        matcher,
        exact_domain_match,
        ignore_chars,
        num_banned,
        case_sensitive,
    })
}

/// `urllib.parse.urlparse(url).netloc` (CPython 3.11).
pub fn netloc(url: &str) -> std::result::Result<&str, String> {
    // _remove_unsafe_bytes_from_url and lstrip of C0 controls/space: they only shift where the
    // netloc starts; a URL with tabs/newlines inside the netloc is not handled (documented).
    let url = url.trim_start_matches(|c: char| c <= ' ');
    let mut rest = url;
    if let Some(i) = url.find(':') {
        let scheme = &url[..i];
        if i > 0
            && scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            rest = &url[i + 1..];
        }
    }
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let n = &after[..end];
        if n.contains('[') != n.contains(']') {
            return Err("ValueError('Invalid IPv6 URL')".into());
        }
        Ok(n)
    } else {
        Ok("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netloc_like_urlparse() {
        assert_eq!(
            netloc("http://www.Example.com:80/a?b#c").unwrap(),
            "www.Example.com:80"
        );
        assert_eq!(netloc("https://a.b?x").unwrap(), "a.b");
        assert_eq!(netloc("example.com/path").unwrap(), "");
        assert!(netloc("http://[::1/").is_err());
    }
}
