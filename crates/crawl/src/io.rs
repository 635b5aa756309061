//! JSONL documents in and out: plain, `.gz` or `.zst`; each line `{"text": ..., "url"?: ...,
//! "metadata"?: {"WARC-Target-URI": ...}, ...}`.

use crate::page::{Field, Page};
use anyhow::{Context, Result};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// Opens a possibly compressed file for reading lines (by extension: `.gz`, `.zst`).
pub fn open_lines(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let name = path.to_string_lossy();
    let r: Box<dyn Read + Send> = if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else if name.ends_with(".zst") || name.ends_with(".zstd") {
        Box::new(
            zstd::stream::read::Decoder::new(f)
                .with_context(|| format!("opening zstd {}", path.display()))?,
        )
    } else {
        Box::new(f)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, r)))
}

/// Creates a writer, zstd-compressed when the name ends in `.zst`, gzip for `.gz`.
pub fn create_writer(path: &Path) -> Result<Box<dyn Write + Send>> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let name = path.to_string_lossy();
    // The temporary name of a shard ends in `.tmp`; look at the name before it.
    let name = name.trim_end_matches(".tmp");
    Ok(if name.ends_with(".zst") {
        Box::new(zstd::stream::write::Encoder::new(f, 3)?.auto_finish())
    } else if name.ends_with(".gz") {
        Box::new(flate2::write::GzEncoder::new(
            f,
            flate2::Compression::default(),
        ))
    } else {
        Box::new(BufWriter::with_capacity(1 << 20, f))
    })
}

/// A parsed input line.
pub struct Doc {
    /// The whole JSON object (written back for kept documents).
    pub json: Map<String, Value>,
    pub page: Page,
}

/// Parses one JSONL line; the error says what is wrong (the caller adds file and line).
pub fn parse_doc(line: &str) -> std::result::Result<Doc, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(json) = v else {
        return Err("not a JSON object".into());
    };
    let text = match json.get("text") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("`text` is not a string but {}", kind(other))),
        None => return Err("no `text` field".into()),
    };
    let url = match json.get("url") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => return Err(format!("`url` is not a string but {}", kind(other))),
    };
    let warc_target_uri = match json.get("metadata").and_then(|m| m.get("WARC-Target-URI")) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => {
            return Err(format!(
                "`metadata.WARC-Target-URI` is not a string but {}",
                kind(other)
            ))
        }
    };
    Ok(Doc {
        page: Page {
            text,
            url,
            warc_target_uri,
            fields: Default::default(),
        },
        json,
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The output object of a kept document: the input object with the final `text`, `url` (set by
/// move_url_modifier) and the enrichers' keys, as DCLM writes its pages.
pub fn kept_json(mut json: Map<String, Value>, page: &Page) -> Value {
    json.insert("text".into(), Value::String(page.text.clone()));
    if let Some(u) = &page.url {
        json.insert("url".into(), Value::String(u.clone()));
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
        json.insert(k.clone(), v);
    }
    Value::Object(json)
}
