//! The document a pipeline works on: DCLM's `page` dict reduced to what the steps read and write,
//! and the one place where a stage document becomes a page and a kept page becomes a document.

use anyhow::Result;
use lmrepro_stage::doc::{opt_str, text};
use lmrepro_stage::Doc;
use serde_json::Value;
use std::collections::BTreeMap;

/// A value an enricher stored on the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// `detect_lang_whole_page_enricher`: `{label: prob}` (empty when the text is only spaces and
    /// ASCII punctuation).
    Lang(BTreeMap<String, f64>),
    /// `word_counter_enricher`.
    Count(u64),
}

/// One document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// `page["text"]`.
    pub text: String,
    /// `page["url"]`.
    pub url: Option<String>,
    /// `page["metadata"]["WARC-Target-URI"]`.
    pub warc_target_uri: Option<String>,
    /// Keys written by enrichers.
    pub fields: BTreeMap<String, Field>,
}

impl Page {
    pub fn from_text(text: impl Into<String>) -> Page {
        Page {
            text: text.into(),
            ..Page::default()
        }
    }

    /// A page whose URL is its WARC record's target (an extracted WARC record): DCLM's
    /// `move_url_modifier` then sets `url` to the same value.
    pub fn with_url(text: impl Into<String>, url: Option<String>) -> Page {
        Page {
            text: text.into(),
            warc_target_uri: url.clone(),
            url,
            ..Page::default()
        }
    }

    /// The page of a stage document: `text`, optional `url` and `metadata.WARC-Target-URI`; a
    /// URL field that is present but not a string is an error.
    pub fn from_doc(doc: &Doc) -> Result<Page> {
        let owned = |s: Option<&str>| s.map(str::to_string);
        Ok(Page {
            text: text(doc).to_string(),
            url: owned(opt_str(doc, &["url"])?),
            warc_target_uri: owned(opt_str(doc, &["metadata", "WARC-Target-URI"])?),
            fields: BTreeMap::new(),
        })
    }
}

/// The output object of a kept document: the input object with the final `text`, `url` (set by
/// move_url_modifier) and the enrichers' keys, as DCLM writes its pages.
pub fn kept_json(mut doc: Doc, page: &Page) -> Doc {
    doc.insert("text".into(), Value::String(page.text.clone()));
    if let Some(u) = &page.url {
        doc.insert("url".into(), Value::String(u.clone()));
    }
    for (k, f) in &page.fields {
        let v = match f {
            Field::Lang(m) => Value::Object(
                m.iter()
                    .map(|(l, p)| (l.clone(), Value::from(*p)))
                    .collect(),
            ),
            Field::Count(c) => Value::from(*c),
        };
        doc.insert(k.clone(), v);
    }
    doc
}
