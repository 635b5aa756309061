//! Hand-broken BigBIO records: each problem is one violation naming line, record and field, and no
//! record is dropped.

use lmrepro_bigbio::reader::{read_clean, read_jsonl, validate_values};
use lmrepro_bigbio::schema::Schema;
use serde_json::{json, Value};

/// A clean kb document: two passages ("Aspirin helps." + " " + "It works."), two entities, a
/// relation, a coreference and an event.
fn kb() -> Value {
    json!({
        "id": "doc1", "document_id": "pmid1",
        "passages": [
            {"id": "p1", "type": "title", "text": ["Aspirin helps."], "offsets": [[0, 14]]},
            {"id": "p2", "type": "abstract", "text": ["It works."], "offsets": [[15, 24]]}
        ],
        "entities": [
            {"id": "e1", "type": "Chemical", "text": ["Aspirin"], "offsets": [[0, 7]],
             "normalized": [{"db_name": "MESH", "db_id": "D001241"}]},
            {"id": "e2", "type": "Chemical", "text": ["It"], "offsets": [[15, 17]], "normalized": []}
        ],
        "events": [
            {"id": "ev1", "type": "Help", "trigger": {"text": ["helps"], "offsets": [[8, 13]]},
             "arguments": [{"role": "Theme", "ref_id": "e1"}]}
        ],
        "coreferences": [{"id": "c1", "entity_ids": ["e1", "e2"]}],
        "relations": [{"id": "r1", "type": "same", "arg1_id": "e1", "arg2_id": "e2", "normalized": []}]
    })
}

fn run(schema: Schema, values: Vec<Value>) -> Vec<(usize, String, String, String)> {
    let n = values.len();
    let loaded = validate_values(
        schema,
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i + 1, Ok(v)))
            .collect(),
    );
    assert_eq!(loaded.records.len(), n, "no record is dropped");
    loaded
        .violations
        .into_iter()
        .map(|v| (v.line, v.record, v.field, v.message))
        .collect()
}

#[test]
fn a_clean_kb_document_passes() {
    assert_eq!(run(Schema::Kb, vec![kb()]), vec![]);
}

#[test]
fn offset_out_of_range() {
    let mut d = kb();
    d["entities"][1]["offsets"][0] = json!([15, 99]);
    let v = run(Schema::Kb, vec![d]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(
        (v[0].1.as_str(), v[0].2.as_str()),
        ("doc1", "entities[1].offsets[0]")
    );
    assert!(
        v[0].3.contains("out of range") && v[0].3.contains("24 characters"),
        "{}",
        v[0].3
    );
}

#[test]
fn text_mismatch_at_offset() {
    let mut d = kb();
    d["entities"][0]["offsets"][0] = json!([1, 8]);
    let v = run(Schema::Kb, vec![d]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].2, "entities[0].text[0]");
    assert!(v[0].3.contains("\"spirin \""), "{}", v[0].3);
    // Passage spans are checked the same way.
    let mut d = kb();
    d["passages"][1]["offsets"][0] = json!([14, 23]);
    let v = run(Schema::Kb, vec![d]);
    assert_eq!(v[0].2, "passages[1].text[0]");
}

#[test]
fn offsets_count_code_points_like_python() {
    let mut d = kb();
    d["passages"][0]["text"] = json!(["Äspirin helps."]);
    d["entities"][0]["text"] = json!(["Äspirin"]);
    assert_eq!(run(Schema::Kb, vec![d]), vec![]);
}

#[test]
fn dangling_relation_coreference_and_event_arguments() {
    let mut d = kb();
    d["relations"][0]["arg2_id"] = json!("e9");
    d["coreferences"][0]["entity_ids"][1] = json!("ev1");
    d["events"][0]["arguments"][0]["ref_id"] = json!("nope");
    let v = run(Schema::Kb, vec![d]);
    let fields: Vec<&str> = v.iter().map(|x| x.2.as_str()).collect();
    assert_eq!(
        fields,
        [
            "relations[0].arg2_id",
            "coreferences[0].entity_ids[1]",
            "events[0].arguments[0].ref_id"
        ]
    );
    assert!(v[0].3.contains("`e9` is not the id of an entity"));
}

#[test]
fn duplicate_ids_within_and_across_records() {
    let mut d = kb();
    d["events"][0]["id"] = json!("e1");
    let mut d2 = kb();
    d2["id"] = json!("doc2");
    d2["entities"] = json!([]);
    d2["relations"] = json!([]);
    d2["coreferences"] = json!([]);
    d2["events"] = json!([]);
    d2["passages"][0]["id"] = json!("p9");
    let v = run(Schema::Kb, vec![d, d2]);
    // Record 1: e1 for an entity and an event. Record 2: p2 already used by doc1.
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(
        (v[0].0, v[0].1.as_str(), v[0].2.as_str()),
        (1, "doc1", "events[0].id")
    );
    assert!(v[0].3.contains("not unique"));
    assert_eq!(
        (v[1].0, v[1].1.as_str(), v[1].2.as_str()),
        (2, "doc2", "passages[1].id")
    );
    assert!(v[1].3.contains("first used by record `doc1`"), "{}", v[1].3);
}

#[test]
fn shape_problems_are_all_reported() {
    let qa = json!({
        "id": "q1", "question_id": "q1", "document_id": null, "question": 3,
        "type": "yesno", "choices": ["yes", "no"], "answer": ["yes"]
    });
    let v = run(Schema::Qa, vec![qa]);
    let fields: Vec<&str> = v.iter().map(|x| x.2.as_str()).collect();
    assert_eq!(fields, ["document_id", "question", "context"]);
    assert!(v[0].3.contains("<BB_NULL_STR>"));
    assert!(v[2].3.contains("missing"));
}

#[test]
fn spans_must_be_two_int32() {
    let mut d = kb();
    d["entities"][0]["offsets"] = json!([[0, 7, 9], [0.5, 3000000000i64]]);
    let v = run(Schema::Kb, vec![d]);
    let fields: Vec<&str> = v.iter().map(|x| x.2.as_str()).collect();
    assert_eq!(
        fields,
        [
            "entities[0].offsets[0]",
            "entities[0].offsets[1][0]",
            "entities[0].offsets[1][1]"
        ]
    );
}

#[test]
fn qa_answers_must_be_choices_unless_null() {
    let q = |answer: &str, kind: &str, choices: Vec<&str>| {
        json!({"id": format!("{answer}{kind}"), "question_id": "q", "document_id": "d",
               "question": "?", "type": kind, "choices": choices, "context": "c",
               "answer": [answer]})
    };
    let v = run(
        Schema::Qa,
        vec![
            q("yes", "yesno", vec!["yes", "no", "maybe"]),
            q("<BB_NULL_STR>", "yesno", vec!["yes", "no", "maybe"]),
            q("perhaps", "yesno", vec!["yes", "no", "maybe"]),
            q("x", "factoid", vec!["x"]),
            q("x", "multiple_choice", vec![]),
        ],
    );
    let got: Vec<(usize, &str)> = v.iter().map(|x| (x.0, x.2.as_str())).collect();
    assert_eq!(
        got,
        [
            (3, "answer[0]"),
            (4, "type"),
            (5, "choices"),
            (5, "answer[0]")
        ]
    );
}

#[test]
fn reader_names_file_line_record_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pairs.jsonl");
    let good = json!({"id": "1", "document_id": "1", "text_1": "a", "text_2": "b", "label": "2.2", "split": "train"});
    let dup = json!({"id": "1", "document_id": "2", "text_1": "a", "text_2": "b", "label": "1.0"});
    std::fs::write(&path, format!("{good}\n\n{{not json\n{dup}\n")).unwrap();
    let loaded = read_jsonl(&path, Schema::Pairs).unwrap();
    assert_eq!(loaded.records.len(), 3);
    assert_eq!(loaded.records[0].extra["split"], "train");
    let msg = format!("{:#}", read_clean(&path, Schema::Pairs).unwrap_err());
    assert!(msg.contains("2 violation(s)"), "{msg}");
    assert!(
        msg.contains("pairs.jsonl:line 3: record `<line 3>`: field `<record>`: not JSON"),
        "{msg}"
    );
    assert!(
        msg.contains("line 4: record `1`: field `id`: id `1` is not unique"),
        "{msg}"
    );
}
