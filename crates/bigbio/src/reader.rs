//! BigBIO-schema JSONL: one example per line. The reader keeps every line: a record that fails a
//! check is still counted and each of its problems is a [`Violation`] naming line, record id and
//! field; nothing is dropped silently.

use crate::schema::{Example, Schema};
use crate::validate::{check_example, check_shape, IdRegistry, Violation};
use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use std::io::{BufRead, Write};
use std::path::Path;

/// One line of a BigBIO JSONL file.
#[derive(Debug, Clone)]
pub struct Record {
    pub line: usize,
    /// `None` when the line is not JSON or does not have the schema's shape.
    pub example: Option<Example>,
    /// Top-level fields outside the schema (e.g. `split`), kept as read.
    pub extra: Map<String, Value>,
}

/// Everything read from a file, with every violation found.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub schema: Schema,
    pub records: Vec<Record>,
    pub violations: Vec<Violation>,
}

impl Loaded {
    /// The examples when the file is clean; otherwise an error listing every violation.
    pub fn into_examples(self, source: &str) -> Result<Vec<(Example, Map<String, Value>)>> {
        if !self.violations.is_empty() {
            let mut msg = format!(
                "{source}: {} violation(s) of the BigBIO `{}` schema in {} records:",
                self.violations.len(),
                self.schema,
                self.records.len()
            );
            for v in &self.violations {
                msg.push_str(&format!("\n  {source}:{v}"));
            }
            bail!(msg);
        }
        Ok(self
            .records
            .into_iter()
            .map(|r| (r.example.expect("clean records parsed"), r.extra))
            .collect())
    }
}

/// Validates records given as JSON values (line numbers 1-based, in order).
pub fn validate_values(schema: Schema, values: Vec<(usize, Result<Value, String>)>) -> Loaded {
    let layout = schema.layout();
    let mut ids = IdRegistry::default();
    let mut records = Vec::with_capacity(values.len());
    let mut violations = Vec::new();
    for (line, parsed) in values {
        let mut problems = Vec::new();
        let mut extra = Map::new();
        let mut record_id = format!("<line {line}>");
        let example = match parsed {
            Err(e) => {
                problems.push(("<record>".to_string(), format!("not JSON: {e}")));
                None
            }
            Ok(v) => {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    record_id = id.to_string();
                }
                check_shape(&v, &layout, "", true, &mut problems);
                if let (Value::Object(m), crate::schema::Ty::Obj(fields)) = (&v, &layout) {
                    for (k, x) in m {
                        if !fields.iter().any(|f| f.0 == k) {
                            extra.insert(k.clone(), x.clone());
                        }
                    }
                }
                if problems.is_empty() {
                    match Example::from_value(schema, v) {
                        Ok(ex) => {
                            problems.extend(check_example(&ex));
                            ids.add(&ex, &mut problems);
                            Some(ex)
                        }
                        Err(e) => {
                            problems
                                .push(("<record>".into(), format!("does not deserialise: {e}")));
                            None
                        }
                    }
                } else {
                    None
                }
            }
        };
        for (field, message) in problems {
            violations.push(Violation {
                line,
                record: record_id.clone(),
                field,
                message,
            });
        }
        records.push(Record {
            line,
            example,
            extra,
        });
    }
    Loaded {
        schema,
        records,
        violations,
    }
}

/// Reads and validates a BigBIO JSONL file (blank lines are skipped, as JSONL readers do).
pub fn read_jsonl(path: &Path, schema: Schema) -> Result<Loaded> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut values = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: reading", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        values.push((
            i + 1,
            serde_json::from_str::<Value>(&line).map_err(|e| e.to_string()),
        ));
    }
    Ok(validate_values(schema, values))
}

/// Reads a file that must be clean: the examples with their extra fields.
pub fn read_clean(path: &Path, schema: Schema) -> Result<Vec<(Example, Map<String, Value>)>> {
    read_jsonl(path, schema)?.into_examples(&path.display().to_string())
}

/// Python's `json.dumps(obj, ensure_ascii=False)` layout: `", "` between items, `": "` after keys
/// (serde_json's string escaping already equals Python's for `ensure_ascii=False`).
struct PyFormatter;

impl serde_json::ser::Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        item_separator(w, first)
    }
    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        item_separator(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

/// Python's default item separator `", "`, written before every item but the first.
fn item_separator<W: ?Sized + Write>(w: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        w.write_all(b", ")
    }
}

/// One example as a JSON line, fields in the schema's order, in the bytes Python's
/// `json.dumps(example, ensure_ascii=False)` writes for the same dict.
pub fn to_json_line(ex: &Example) -> String {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, PyFormatter);
    use serde::Serialize;
    // The structs, not `to_value()`: serde_json's map would sort the keys.
    match ex {
        Example::Kb(x) => x.serialize(&mut ser),
        Example::Qa(x) => x.serialize(&mut ser),
        Example::Te(x) => x.serialize(&mut ser),
        Example::Pairs(x) => x.serialize(&mut ser),
        Example::T2t(x) => x.serialize(&mut ser),
        Example::Text(x) => x.serialize(&mut ser),
    }
    .expect("plain structs serialise");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

/// Writes examples as JSONL ([`to_json_line`] per example).
pub fn write_jsonl(path: &Path, examples: &[Example]) -> Result<()> {
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    for ex in examples {
        w.write_all(to_json_line(ex).as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))
}
