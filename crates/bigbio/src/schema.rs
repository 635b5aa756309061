//! The six BigBIO harmonised schemas (`bigbio/hub/bigbiohub.py` of bigscience-workshop/biomedical)
//! as Rust types, the task → schema map, and each schema's field layout as data ([`Ty`]) so a
//! reader can report every field that is missing or mistyped instead of stopping at the first.

use serde::{Deserialize, Serialize};
use std::fmt;

/// BigBIO's marker for a missing string value (`BigBioValues.NULL`).
pub const NULL_STR: &str = "<BB_NULL_STR>";

/// One of the six harmonised schemas (config names end in `_bigbio_<schema>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schema {
    Kb,
    Qa,
    Te,
    Pairs,
    T2t,
    Text,
}

impl Schema {
    pub const ALL: [Schema; 6] = [
        Schema::Kb,
        Schema::Qa,
        Schema::Te,
        Schema::Pairs,
        Schema::T2t,
        Schema::Text,
    ];

    /// The name used in config names and in the metadata's `bigbio_schemas` column.
    pub fn name(self) -> &'static str {
        match self {
            Schema::Kb => "kb",
            Schema::Qa => "qa",
            Schema::Te => "te",
            Schema::Pairs => "pairs",
            Schema::T2t => "t2t",
            Schema::Text => "text",
        }
    }

    pub fn parse(s: &str) -> Option<Schema> {
        Schema::ALL.into_iter().find(|x| x.name() == s)
    }

    /// The field layout of an example of this schema (`bigbiohub.<schema>_features`).
    pub fn layout(self) -> Ty {
        use Ty::*;
        let s = |n: &'static str| (n, Str);
        let strings = |n: &'static str| (n, List(Box::new(Str)));
        let offsets = || ("offsets", List(Box::new(Pair)));
        let normalized = || {
            (
                "normalized",
                List(Box::new(Obj(vec![s("db_name"), s("db_id")]))),
            )
        };
        match self {
            Schema::Kb => Obj(vec![
                s("id"),
                s("document_id"),
                (
                    "passages",
                    List(Box::new(Obj(vec![
                        s("id"),
                        s("type"),
                        strings("text"),
                        offsets(),
                    ]))),
                ),
                (
                    "entities",
                    List(Box::new(Obj(vec![
                        s("id"),
                        s("type"),
                        strings("text"),
                        offsets(),
                        normalized(),
                    ]))),
                ),
                (
                    "events",
                    List(Box::new(Obj(vec![
                        s("id"),
                        s("type"),
                        ("trigger", Obj(vec![strings("text"), offsets()])),
                        (
                            "arguments",
                            List(Box::new(Obj(vec![s("role"), s("ref_id")]))),
                        ),
                    ]))),
                ),
                (
                    "coreferences",
                    List(Box::new(Obj(vec![s("id"), strings("entity_ids")]))),
                ),
                (
                    "relations",
                    List(Box::new(Obj(vec![
                        s("id"),
                        s("type"),
                        s("arg1_id"),
                        s("arg2_id"),
                        normalized(),
                    ]))),
                ),
            ]),
            Schema::Qa => Obj(vec![
                s("id"),
                s("question_id"),
                s("document_id"),
                s("question"),
                s("type"),
                strings("choices"),
                s("context"),
                strings("answer"),
            ]),
            Schema::Te => Obj(vec![s("id"), s("premise"), s("hypothesis"), s("label")]),
            Schema::Pairs => Obj(vec![
                s("id"),
                s("document_id"),
                s("text_1"),
                s("text_2"),
                s("label"),
            ]),
            Schema::T2t => Obj(vec![
                s("id"),
                s("document_id"),
                s("text_1"),
                s("text_2"),
                s("text_1_name"),
                s("text_2_name"),
            ]),
            Schema::Text => Obj(vec![
                s("id"),
                s("document_id"),
                s("text"),
                strings("labels"),
            ]),
        }
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A field type of a schema layout (the `datasets.Features` of bigbiohub, language-neutral).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Str,
    /// `[int32, int32]`: a character span `[start, end)`.
    Pair,
    List(Box<Ty>),
    /// Fields in the order bigbiohub declares them.
    Obj(Vec<(&'static str, Ty)>),
}

impl Ty {
    /// The transcription used by `bigbio_schemas.json` (`"string"`, `["int32","int32"]`, `[T]`,
    /// `{field: T}`), so the layouts can be compared with the pinned transcription.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        match self {
            Ty::Str => json!("string"),
            Ty::Pair => json!(["int32", "int32"]),
            Ty::List(t) => Value::Array(vec![t.to_json()]),
            Ty::Obj(fields) => {
                let mut m = Map::new();
                for (k, t) in fields {
                    m.insert((*k).to_string(), t.to_json());
                }
                Value::Object(m)
            }
        }
    }
}

/// The BigBIO task categories (`bigbiohub.Tasks`): enum name, abbreviation, schema.
pub const TASKS: [(&str, &str, Schema); 13] = [
    ("NAMED_ENTITY_RECOGNITION", "NER", Schema::Kb),
    ("NAMED_ENTITY_DISAMBIGUATION", "NED", Schema::Kb),
    ("EVENT_EXTRACTION", "EE", Schema::Kb),
    ("RELATION_EXTRACTION", "RE", Schema::Kb),
    ("COREFERENCE_RESOLUTION", "COREF", Schema::Kb),
    ("QUESTION_ANSWERING", "QA", Schema::Qa),
    ("TEXTUAL_ENTAILMENT", "TE", Schema::Te),
    ("SEMANTIC_SIMILARITY", "STS", Schema::Pairs),
    ("TEXT_PAIRS_CLASSIFICATION", "TXT2CLASS", Schema::Pairs),
    ("PARAPHRASING", "PARA", Schema::T2t),
    ("TRANSLATION", "TRANSL", Schema::T2t),
    ("SUMMARIZATION", "SUM", Schema::T2t),
    ("TEXT_CLASSIFICATION", "TXTCLASS", Schema::Text),
];

/// The schema a task (enum name as the metadata writes it) maps to (`TASK_TO_SCHEMA`).
pub fn schema_of_task(task: &str) -> Option<Schema> {
    TASKS.iter().find(|t| t.0 == task).map(|t| t.2)
}

/// The abbreviation of a task (`Tasks.NAMED_ENTITY_RECOGNITION.value == "NER"`).
pub fn task_abbreviation(task: &str) -> Option<&'static str> {
    TASKS.iter().find(|t| t.0 == task).map(|t| t.1)
}

/// A character span `[start, end)` into the example text (Python `str` indices: code points).
pub type Span = [i64; 2];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Normalized {
    pub db_name: String,
    pub db_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passage {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Vec<String>,
    pub offsets: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Vec<String>,
    pub offsets: Vec<Span>,
    pub normalized: Vec<Normalized>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub text: Vec<String>,
    pub offsets: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Argument {
    pub role: String,
    pub ref_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub trigger: Trigger,
    pub arguments: Vec<Argument>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coreference {
    pub id: String,
    pub entity_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub arg1_id: String,
    pub arg2_id: String,
    pub normalized: Vec<Normalized>,
}

/// `bigbio_kb`: NER, NED, RE, EE, COREF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbExample {
    pub id: String,
    pub document_id: String,
    pub passages: Vec<Passage>,
    pub entities: Vec<Entity>,
    pub events: Vec<Event>,
    pub coreferences: Vec<Coreference>,
    pub relations: Vec<Relation>,
}

/// `bigbio_qa`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QaExample {
    pub id: String,
    pub question_id: String,
    pub document_id: String,
    pub question: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub choices: Vec<String>,
    pub context: String,
    pub answer: Vec<String>,
}

/// `bigbio_te`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeExample {
    pub id: String,
    pub premise: String,
    pub hypothesis: String,
    pub label: String,
}

/// `bigbio_pairs` (STS, text-pair classification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairsExample {
    pub id: String,
    pub document_id: String,
    pub text_1: String,
    pub text_2: String,
    pub label: String,
}

/// `bigbio_t2t` (paraphrase, translation, summarisation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct T2tExample {
    pub id: String,
    pub document_id: String,
    pub text_1: String,
    pub text_2: String,
    pub text_1_name: String,
    pub text_2_name: String,
}

/// `bigbio_text` (text classification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextExample {
    pub id: String,
    pub document_id: String,
    pub text: String,
    pub labels: Vec<String>,
}

/// An example of any schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Example {
    Kb(KbExample),
    Qa(QaExample),
    Te(TeExample),
    Pairs(PairsExample),
    T2t(T2tExample),
    Text(TextExample),
}

impl Example {
    pub fn schema(&self) -> Schema {
        match self {
            Example::Kb(_) => Schema::Kb,
            Example::Qa(_) => Schema::Qa,
            Example::Te(_) => Schema::Te,
            Example::Pairs(_) => Schema::Pairs,
            Example::T2t(_) => Schema::T2t,
            Example::Text(_) => Schema::Text,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Example::Kb(x) => &x.id,
            Example::Qa(x) => &x.id,
            Example::Te(x) => &x.id,
            Example::Pairs(x) => &x.id,
            Example::T2t(x) => &x.id,
            Example::Text(x) => &x.id,
        }
    }

    /// Deserialises a JSON object already checked against `schema.layout()`.
    pub fn from_value(schema: Schema, v: serde_json::Value) -> serde_json::Result<Example> {
        use serde_json::from_value as f;
        Ok(match schema {
            Schema::Kb => Example::Kb(f(v)?),
            Schema::Qa => Example::Qa(f(v)?),
            Schema::Te => Example::Te(f(v)?),
            Schema::Pairs => Example::Pairs(f(v)?),
            Schema::T2t => Example::T2t(f(v)?),
            Schema::Text => Example::Text(f(v)?),
        })
    }

    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::to_value as t;
        match self {
            Example::Kb(x) => t(x),
            Example::Qa(x) => t(x),
            Example::Te(x) => t(x),
            Example::Pairs(x) => t(x),
            Example::T2t(x) => t(x),
            Example::Text(x) => t(x),
        }
        .expect("plain structs serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_maps_to_a_schema_and_names_round_trip() {
        for s in Schema::ALL {
            assert_eq!(Schema::parse(s.name()), Some(s));
        }
        assert_eq!(schema_of_task("SEMANTIC_SIMILARITY"), Some(Schema::Pairs));
        assert_eq!(task_abbreviation("QUESTION_ANSWERING"), Some("QA"));
        assert_eq!(schema_of_task("NER"), None);
    }

    #[test]
    fn serialised_field_order_is_the_layout_order() {
        let qa = Example::Qa(QaExample {
            id: "1".into(),
            question_id: "1".into(),
            document_id: "1".into(),
            question: "q".into(),
            kind: "yesno".into(),
            choices: vec!["yes".into()],
            context: "c".into(),
            answer: vec!["yes".into()],
        });
        let text = serde_json::to_string(&qa.to_value()).unwrap();
        // serde_json's Map is sorted, so compare key sets against the layout instead of order.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let Ty::Obj(fields) = Schema::Qa.layout() else {
            panic!()
        };
        let mut want: Vec<&str> = fields.iter().map(|f| f.0).collect();
        want.sort();
        assert_eq!(keys, want);
    }
}
