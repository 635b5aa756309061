//! The document passed between stages: one JSON object per line with at least a string `text`.
//! Every other field (`id`, `url`, `metadata`, anything unknown) is kept as is; objects are
//! re-serialised with sorted keys (serde_json's map), so output is stable.

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// A parsed document: the whole JSON object (unknown fields preserved).
pub type Doc = Map<String, Value>;

/// What to do with a line that is not a JSON object with a string `text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum OnMalformed {
    /// Stop with an error naming file and line (default).
    #[default]
    Error,
    /// Skip the line and count it in the stats.
    Skip,
}

/// Parses one JSONL line into a document; the error says why (the caller adds file:line).
pub fn parse_doc(line: &str) -> Result<Doc> {
    let value: Value = serde_json::from_str(line).context("invalid JSON")?;
    let Value::Object(map) = value else {
        bail!("not a JSON object");
    };
    match map.get("text") {
        Some(Value::String(_)) => Ok(map),
        Some(other) => bail!("field `text` is not a string but {}", kind(other)),
        None => bail!("missing field `text`"),
    }
}

/// The `text` of a parsed document.
pub fn text(doc: &Doc) -> &str {
    doc.get("text").and_then(Value::as_str).unwrap_or("")
}

/// An optional string at a path of keys (`["metadata", "WARC-Target-URI"]`): absent or null is
/// `None`; any other type is an error naming the field and the type found.
pub fn opt_str<'a>(doc: &'a Doc, path: &[&str]) -> Result<Option<&'a str>> {
    let (last, parents) = path.split_last().expect("a non-empty key path");
    let mut map = doc;
    for key in parents {
        match map.get(*key) {
            Some(Value::Object(m)) => map = m,
            _ => return Ok(None),
        }
    }
    match map.get(*last) {
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Null) | None => Ok(None),
        Some(other) => bail!("`{}` is not a string but {}", path.join("."), kind(other)),
    }
}

/// The JSON type of a value, for error messages.
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

/// Streams the documents of one file with their 1-based line numbers. Blank lines are ignored; a
/// malformed line is an error naming file and line, or (with [`OnMalformed::Skip`]) skipped and
/// counted in [`DocReader::malformed`].
pub struct DocReader {
    path: PathBuf,
    lines: std::io::Lines<Box<dyn BufRead + Send>>,
    line_no: usize,
    on_malformed: OnMalformed,
    malformed: u64,
}

impl DocReader {
    pub fn open(path: &Path, on_malformed: OnMalformed) -> Result<DocReader> {
        Ok(DocReader {
            path: path.to_path_buf(),
            lines: crate::jsonl::open_reader(path)?.lines(),
            line_no: 0,
            on_malformed,
            malformed: 0,
        })
    }

    /// Lines skipped as malformed so far.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }
}

impl Iterator for DocReader {
    type Item = Result<(usize, Doc)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = self.lines.next()?;
            self.line_no += 1;
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    return Some(Err(anyhow::Error::new(e).context(format!(
                        "{}:{}: read error",
                        self.path.display(),
                        self.line_no
                    ))))
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            match parse_doc(&line) {
                Ok(doc) => return Some(Ok((self.line_no, doc))),
                Err(e) => match self.on_malformed {
                    OnMalformed::Error => {
                        return Some(Err(e.context(format!(
                            "{}:{}",
                            self.path.display(),
                            self.line_no
                        ))))
                    }
                    OnMalformed::Skip => self.malformed += 1,
                },
            }
        }
    }
}

/// All documents of a file with their line numbers, and the number of malformed lines skipped.
pub fn read_docs(path: &Path, on_malformed: OnMalformed) -> Result<(Vec<(usize, Doc)>, u64)> {
    let mut reader = DocReader::open(path, on_malformed)?;
    let docs = reader.by_ref().collect::<Result<Vec<_>>>()?;
    Ok((docs, reader.malformed()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonl::{expand_inputs, to_jsonl};
    use std::io::Write;

    #[test]
    fn malformed_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(
            &path,
            "{\"text\": \"ok\", \"extra\": {\"k\": 1}}\n\n{\"text\": 3}\nnot json\n{\"id\": \"x\"}\n[1]\n",
        )
        .unwrap();
        let err = read_docs(&path, OnMalformed::Error).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("a.jsonl:3"), "{msg}");
        assert!(msg.contains("`text` is not a string but a number"), "{msg}");
        let (docs, bad) = read_docs(&path, OnMalformed::Skip).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].0, 1);
        assert_eq!(bad, 4);
        // Unknown fields survive a round trip.
        let out = String::from_utf8(to_jsonl(&[docs[0].1.clone()])).unwrap();
        assert_eq!(out, "{\"extra\":{\"k\":1},\"text\":\"ok\"}\n");
    }

    #[test]
    fn compressed_inputs_read() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"{\"text\":\"a\"}\n{\"text\":\"b\"}\n";
        let zst = dir.path().join("x.jsonl.zst");
        std::fs::write(&zst, zstd::bulk::compress(body, 3).unwrap()).unwrap();
        let gz = dir.path().join("y.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(body).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        for p in [&zst, &gz] {
            let (docs, _) = read_docs(p, OnMalformed::Error).unwrap();
            assert_eq!(docs.len(), 2);
            assert_eq!(text(&docs[1].1), "b");
        }
        assert_eq!(expand_inputs(&[dir.path().to_path_buf()]).unwrap().len(), 2);
    }

    #[test]
    fn truncated_zstd_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let body: String = (0..2000)
            .map(|i| format!("{{\"text\":\"doc {i}\"}}\n"))
            .collect();
        let full = zstd::bulk::compress(body.as_bytes(), 3).unwrap();
        let path = dir.path().join("cut.jsonl.zst");
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        let err = read_docs(&path, OnMalformed::Skip).unwrap_err();
        assert!(format!("{err:#}").contains("cut.jsonl.zst"), "{err:#}");
    }

    #[test]
    fn typed_optional_fields() {
        let doc = parse_doc(r#"{"text":"t","url":null,"metadata":{"WARC-Target-URI":"u","n":1}}"#)
            .unwrap();
        assert_eq!(opt_str(&doc, &["url"]).unwrap(), None);
        assert_eq!(
            opt_str(&doc, &["metadata", "WARC-Target-URI"]).unwrap(),
            Some("u")
        );
        assert_eq!(opt_str(&doc, &["nope", "x"]).unwrap(), None);
        let err = opt_str(&doc, &["metadata", "n"]).unwrap_err().to_string();
        assert_eq!(err, "`metadata.n` is not a string but a number");
    }

    proptest::proptest! {
        /// Any string survives write → read as a document's text.
        #[test]
        fn text_round_trips(s in "\\PC{0,40}") {
            let mut doc = Doc::new();
            doc.insert("text".into(), Value::String(s.clone()));
            let line = String::from_utf8(to_jsonl(&[doc])).unwrap();
            let back = parse_doc(line.trim_end_matches('\n')).unwrap();
            proptest::prop_assert_eq!(text(&back), s.as_str());
        }
    }

    /// Invalid UTF-8 is a read error naming file and line, under both policies (a line that cannot
    /// be decoded is not a malformed document that could be skipped: the stream itself is bad).
    #[test]
    fn invalid_utf8_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, b"{\"text\": \"ok\"}\n{\"text\": \"\xff\xfe\"}\n").unwrap();
        for policy in [OnMalformed::Error, OnMalformed::Skip] {
            let err = format!("{:#}", read_docs(&path, policy).unwrap_err());
            assert!(err.contains("bad.jsonl:2"), "{err}");
        }
    }

    #[test]
    fn empty_files_hold_no_documents() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("e.jsonl", Vec::new()),
            ("e.jsonl.zst", zstd::bulk::compress(b"", 3).unwrap()),
            ("blank.jsonl", b"\n \n\t\n".to_vec()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(read_docs(&path, OnMalformed::Error).unwrap(), (vec![], 0));
        }
    }

    #[test]
    fn truncated_and_corrupt_gzip_are_errors_naming_the_file() {
        use flate2::{write::GzEncoder, Compression};
        let dir = tempfile::tempdir().unwrap();
        let body: String = (0..2000)
            .map(|i| format!("{{\"text\":\"doc {i}\"}}\n"))
            .collect();
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(body.as_bytes()).unwrap();
        let full = enc.finish().unwrap();
        let cut = dir.path().join("cut.jsonl.gz");
        std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
        let err = read_docs(&cut, OnMalformed::Skip).unwrap_err();
        assert!(format!("{err:#}").contains("cut.jsonl.gz"), "{err:#}");
        let mut flipped = full.clone();
        flipped[full.len() / 2] ^= 0xff;
        let bad = dir.path().join("flip.jsonl.gz");
        std::fs::write(&bad, &flipped).unwrap();
        let err = read_docs(&bad, OnMalformed::Skip).unwrap_err();
        assert!(format!("{err:#}").contains("flip.jsonl.gz"), "{err:#}");
    }

    /// A huge line (8 MiB of text, no newline until the end) is one document, not an error.
    #[test]
    fn a_huge_line_is_one_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.jsonl");
        let text = "x".repeat(8 << 20);
        std::fs::write(&path, format!("{{\"text\": \"{text}\"}}")).unwrap();
        let (docs, _) = read_docs(&path, OnMalformed::Error).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(super::text(&docs[0].1).len(), 8 << 20);
    }

    /// Non-finite numbers are not JSON: `NaN` in a field is a malformed line, named.
    #[test]
    fn nan_and_infinity_are_malformed_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.jsonl");
        std::fs::write(
            &path,
            "{\"text\": \"a\", \"score\": NaN}\n{\"text\": \"b\", \"s\": Infinity}\n",
        )
        .unwrap();
        let err = format!("{:#}", read_docs(&path, OnMalformed::Error).unwrap_err());
        assert!(
            err.contains("nan.jsonl:1") && err.contains("invalid JSON"),
            "{err}"
        );
        assert_eq!(read_docs(&path, OnMalformed::Skip).unwrap(), (vec![], 2));
    }
}
