//! The document a pipeline works on: DCLM's `page` dict reduced to what the steps read and write.

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
}
