//! Validation beyond types, after BigBIO's own hub test (`tests/test_bigbio_hub.py`):
//!
//! - shape: every field of the schema present with its type (strings never JSON `null`: BigBIO
//!   writes a missing string as [`NULL_STR`]), spans `[start, end]` of two int32;
//! - ids (every `id` key, nested ones included) unique across the file;
//! - kb: passages hold exactly one text and one span; each span of a passage, entity or event
//!   trigger lies inside the example text (the passage texts joined by one space, indexed by code
//!   point like Python `str`) and the text at that span equals the stated text; as many texts as
//!   spans; relation / coreference arguments name entities of the example, event arguments name
//!   entities or events;
//! - qa: `choices` only for `multiple_choice` / `yesno`, which need choices, and every answer
//!   (other than [`NULL_STR`]) is one of the choices.
//!
//! Upstream only logs a warning for offset mismatches and dangling references (many source corpora
//! have a few); here every one is a [`Violation`], and the caller decides whether to fail.

use crate::schema::{Example, KbExample, QaExample, Span, Ty, NULL_STR};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One problem with one record: where (line, record id, field path) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// 1-based line of the JSONL file (0 when the record did not come from a file).
    pub line: usize,
    /// The record's `id`, or `<line N>` when it has none.
    pub record: String,
    /// Path of the field, e.g. `entities[2].offsets[0]`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: record `{}`: field `{}`: {}",
            self.line, self.record, self.field, self.message
        )
    }
}

/// `(field, message)` pairs found in one record.
pub type Problems = Vec<(String, String)>;

/// Checks `v` against a layout. At the top level, fields outside the schema are allowed (exports
/// often add `split`); inside nested objects they are reported.
pub fn check_shape(v: &Value, ty: &Ty, path: &str, top: bool, out: &mut Problems) {
    let at = |p: &str| {
        if p.is_empty() {
            "<record>".to_string()
        } else {
            p.to_string()
        }
    };
    match ty {
        Ty::Str => match v {
            Value::String(_) => {}
            Value::Null => out.push((
                at(path),
                format!("is null; BigBIO writes a missing string as \"{NULL_STR}\""),
            )),
            other => out.push((
                at(path),
                format!("expected a string, found {}", kind(other)),
            )),
        },
        Ty::Pair => match v.as_array() {
            Some(a) if a.len() == 2 => {
                for (i, x) in a.iter().enumerate() {
                    // Floats and numbers outside int32 are both wrong (`datasets` stores int32).
                    if x.as_i64().is_none_or(|n| i32::try_from(n).is_err()) {
                        out.push((
                            format!("{path}[{i}]"),
                            format!("expected an int32, found {x}"),
                        ));
                    }
                }
            }
            Some(a) => out.push((
                at(path),
                format!("expected a span [start, end], found {} numbers", a.len()),
            )),
            None => out.push((
                at(path),
                format!("expected a span [start, end], found {}", kind(v)),
            )),
        },
        Ty::List(inner) => match v.as_array() {
            Some(a) => {
                for (i, x) in a.iter().enumerate() {
                    check_shape(x, inner, &format!("{path}[{i}]"), false, out);
                }
            }
            None => out.push((at(path), format!("expected a list, found {}", kind(v)))),
        },
        Ty::Obj(fields) => match v.as_object() {
            Some(m) => {
                let join = |k: &str| {
                    if path.is_empty() {
                        k.to_string()
                    } else {
                        format!("{path}.{k}")
                    }
                };
                for (k, t) in fields {
                    match m.get(*k) {
                        Some(x) => check_shape(x, t, &join(k), false, out),
                        None => out.push((join(k), "is missing".into())),
                    }
                }
                if !top {
                    for k in m.keys() {
                        if !fields.iter().any(|f| f.0 == k) {
                            out.push((join(k), "is not a field of the schema".into()));
                        }
                    }
                }
            }
            None => out.push((at(path), format!("expected an object, found {}", kind(v)))),
        },
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Per-record semantic checks (offsets, references, QA answers).
pub fn check_example(ex: &Example) -> Problems {
    let mut out = Vec::new();
    if ex.id().is_empty() {
        out.push(("id".into(), "is empty".into()));
    }
    match ex {
        Example::Kb(kb) => check_kb(kb, &mut out),
        Example::Qa(qa) => check_qa(qa, &mut out),
        _ => {}
    }
    out
}

/// The text kb offsets index: every passage text, joined by one space (`_get_example_text`).
pub fn kb_text(kb: &KbExample) -> String {
    let texts: Vec<&str> = kb
        .passages
        .iter()
        .flat_map(|p| p.text.iter().map(String::as_str))
        .collect();
    texts.join(" ")
}

fn check_spans(chars: &[char], texts: &[String], offsets: &[Span], path: &str, out: &mut Problems) {
    if texts.len() != offsets.len() {
        out.push((
            format!("{path}.text"),
            format!(
                "{} texts for {} offsets (one text per span)",
                texts.len(),
                offsets.len()
            ),
        ));
    }
    for (i, &[start, end]) in offsets.iter().enumerate() {
        let field = format!("{path}.offsets[{i}]");
        if start < 0 || end < start || end as usize > chars.len() {
            out.push((
                field,
                format!(
                    "span [{start}, {end}] is out of range of the example text ({} characters)",
                    chars.len()
                ),
            ));
            continue;
        }
        let at: String = chars[start as usize..end as usize].iter().collect();
        match texts.get(i) {
            Some(t) if *t == at => {}
            Some(t) => out.push((
                format!("{path}.text[{i}]"),
                format!("is {t:?} but the text at offsets [{start}, {end}] is {at:?}"),
            )),
            None => {}
        }
    }
}

fn check_kb(kb: &KbExample, out: &mut Problems) {
    let text = kb_text(kb);
    let chars: Vec<char> = text.chars().collect();
    for (i, p) in kb.passages.iter().enumerate() {
        let path = format!("passages[{i}]");
        if p.text.len() != 1 || p.offsets.len() != 1 {
            out.push((
                path.clone(),
                format!(
                    "a passage has exactly one text and one span, found {} and {}",
                    p.text.len(),
                    p.offsets.len()
                ),
            ));
        }
        check_spans(&chars, &p.text, &p.offsets, &path, out);
    }
    for (i, e) in kb.entities.iter().enumerate() {
        check_spans(&chars, &e.text, &e.offsets, &format!("entities[{i}]"), out);
    }
    for (i, e) in kb.events.iter().enumerate() {
        check_spans(
            &chars,
            &e.trigger.text,
            &e.trigger.offsets,
            &format!("events[{i}].trigger"),
            out,
        );
    }
    let entities: BTreeSet<&str> = kb.entities.iter().map(|e| e.id.as_str()).collect();
    let events: BTreeSet<&str> = kb.events.iter().map(|e| e.id.as_str()).collect();
    for (i, r) in kb.relations.iter().enumerate() {
        for (name, id) in [("arg1_id", &r.arg1_id), ("arg2_id", &r.arg2_id)] {
            if !entities.contains(id.as_str()) {
                out.push((
                    format!("relations[{i}].{name}"),
                    format!("`{id}` is not the id of an entity of this example"),
                ));
            }
        }
    }
    for (i, c) in kb.coreferences.iter().enumerate() {
        for (j, id) in c.entity_ids.iter().enumerate() {
            if !entities.contains(id.as_str()) {
                out.push((
                    format!("coreferences[{i}].entity_ids[{j}]"),
                    format!("`{id}` is not the id of an entity of this example"),
                ));
            }
        }
    }
    for (i, e) in kb.events.iter().enumerate() {
        for (j, a) in e.arguments.iter().enumerate() {
            let id = a.ref_id.as_str();
            if !entities.contains(id) && !events.contains(id) {
                out.push((
                    format!("events[{i}].arguments[{j}].ref_id"),
                    format!("`{id}` is not the id of an entity or event of this example"),
                ));
            }
        }
    }
}

fn check_qa(qa: &QaExample, out: &mut Problems) {
    let mc = qa.kind == "multiple_choice" || qa.kind == "yesno";
    if !qa.choices.is_empty() && !mc {
        out.push((
            "type".into(),
            format!(
                "is {:?} but `choices` is filled (only multiple_choice and yesno have choices)",
                qa.kind
            ),
        ));
    }
    if mc {
        if qa.choices.is_empty() {
            out.push((
                "choices".into(),
                format!("is empty for a {:?} question", qa.kind),
            ));
        }
        for (i, a) in qa.answer.iter().enumerate() {
            if a != NULL_STR && !qa.choices.contains(a) {
                out.push((
                    format!("answer[{i}]"),
                    format!("{a:?} is not one of the choices {:?}", qa.choices),
                ));
            }
        }
    }
}

/// Every `id` of a record with its field path (the record id first, then nested ones).
pub fn ids_of(ex: &Example) -> Vec<(String, String)> {
    let mut ids = vec![("id".to_string(), ex.id().to_string())];
    if let Example::Kb(kb) = ex {
        let parts: [(&str, Vec<&String>); 5] = [
            ("passages", kb.passages.iter().map(|x| &x.id).collect()),
            ("entities", kb.entities.iter().map(|x| &x.id).collect()),
            ("events", kb.events.iter().map(|x| &x.id).collect()),
            (
                "coreferences",
                kb.coreferences.iter().map(|x| &x.id).collect(),
            ),
            ("relations", kb.relations.iter().map(|x| &x.id).collect()),
        ];
        for (name, list) in parts {
            for (i, id) in list.into_iter().enumerate() {
                ids.push((format!("{name}[{i}].id"), id.clone()));
            }
        }
    }
    ids
}

/// Tracks ids across a file (upstream's `test_are_ids_globally_unique`).
#[derive(Debug, Default)]
pub struct IdRegistry {
    seen: BTreeMap<String, (String, String)>,
}

impl IdRegistry {
    /// Registers the ids of `ex`; duplicates are reported against the first holder.
    pub fn add(&mut self, ex: &Example, out: &mut Problems) {
        for (field, id) in ids_of(ex) {
            match self.seen.get(&id) {
                Some((rec, f)) => out.push((
                    field,
                    format!("id `{id}` is not unique (first used by record `{rec}`, field `{f}`)"),
                )),
                None => {
                    self.seen.insert(id, (ex.id().to_string(), field));
                }
            }
        }
    }
}

#[cfg(test)]
mod props {
    use crate::reader::validate_values;
    use crate::schema::Schema;
    use proptest::prelude::*;
    use serde_json::json;

    /// A kb document over random passages with entities at random valid spans.
    fn doc(passages: &[String], spans: &[(usize, usize, usize)]) -> serde_json::Value {
        let text: Vec<char> = passages.join(" ").chars().collect();
        let mut start = 0;
        let ps: Vec<_> = passages
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let n = p.chars().count();
                let v = json!({"id": format!("p{i}"), "type": "t", "text": [p], "offsets": [[start, start + n]]});
                start += n + 1;
                v
            })
            .collect();
        let es: Vec<_> = spans
            .iter()
            .enumerate()
            .map(|(i, &(a, len, _))| {
                let a = a % (text.len() + 1);
                let b = (a + len).min(text.len());
                let t: String = text[a..b].iter().collect();
                json!({"id": format!("e{i}"), "type": "t", "text": [t], "offsets": [[a, b]], "normalized": []})
            })
            .collect();
        json!({"id": "d", "document_id": "d", "passages": ps, "entities": es,
               "events": [], "coreferences": [], "relations": []})
    }

    proptest! {
        #[test]
        fn valid_spans_pass_and_a_shifted_span_is_caught(
            passages in proptest::collection::vec("[a-zé ]{1,20}", 1..4),
            spans in proptest::collection::vec((0usize..80, 1usize..10, 0usize..1), 1..6),
            which in 0usize..6,
        ) {
            let d = doc(&passages, &spans);
            let clean = validate_values(Schema::Kb, vec![(1, Ok(d.clone()))]);
            prop_assert!(clean.violations.is_empty(), "{:?}", clean.violations);
            // Move one entity's span past the end of the text: always out of range.
            let mut bad = d;
            let i = which % spans.len();
            let len: usize = passages.iter().map(|p| p.chars().count()).sum::<usize>() + passages.len() - 1;
            bad["entities"][i]["offsets"][0] = json!([len + 1, len + 2]);
            let broken = validate_values(Schema::Kb, vec![(1, Ok(bad))]);
            prop_assert_eq!(broken.violations.len(), 1);
            prop_assert_eq!(broken.violations[0].field.clone(), format!("entities[{i}].offsets[0]"));
        }
    }
}
