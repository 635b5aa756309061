//! Integration tests on the pinned mirror data: loaders equal the mirrored BigBIO views, the
//! PubMedQA reference rows and BIOSSES correlations equal scikit-learn / SciPy
//! (`tests/fixtures/reference.json`, made by `tests/fixtures/reference.py`), the schema layouts equal
//! the pinned transcription, and the catalogue equals an independent recount.

use lmrepro_bigbio::catalog::read_metadata;
use lmrepro_bigbio::loaders::{
    biosses_pairs, pqal_test_split, pqal_to_qa, read_biosses_tsv, read_ground_truth, read_pqal,
};
use lmrepro_bigbio::metrics::{accuracy, macro_f1, pearson, percentile, spearman};
use lmrepro_bigbio::reader::{read_jsonl, to_json_line};
use lmrepro_bigbio::reproduce::*;
use lmrepro_bigbio::schema::{Example, Schema};
use std::collections::{BTreeMap, BTreeSet};

fn input(name: &str) -> std::path::PathBuf {
    lmrepro_data::testing::input("bigbio", name)
}

fn reference() -> serde_json::Value {
    serde_json::from_str(include_str!("fixtures/reference.json")).unwrap()
}

#[test]
fn pubmedqa_reference_rows_are_exact() {
    let ori = read_pqal(&input(PQAL)).unwrap();
    let truth = read_ground_truth(&input(PQAL_TRUTH)).unwrap();
    assert_eq!(ori.len(), 1000);
    let test = pqal_test_split(&ori, &truth).unwrap();
    assert_eq!(test.len(), 500);
    let gold: Vec<String> = test.iter().map(|x| x.1.final_decision.clone()).collect();
    let reference = reference();
    let rows: [(&str, Vec<String>, f64, f64); 3] = [
        ("majority", vec!["yes".into(); 500], 0.552, 0.237113),
        (
            "reasoning_free_pred",
            test.iter()
                .map(|x| x.1.reasoning_free_pred.clone())
                .collect(),
            0.904,
            0.841823,
        ),
        (
            "reasoning_required_pred",
            test.iter()
                .map(|x| x.1.reasoning_required_pred.clone())
                .collect(),
            0.780,
            0.721920,
        ),
    ];
    for (name, pred, pub_acc, pub_f1) in rows {
        let acc = accuracy(&gold, &pred).unwrap();
        let f1 = macro_f1(&gold, &pred).unwrap();
        let sk = &reference["pubmedqa"][name];
        // Bit-for-bit with scikit-learn, and equal to the published rows at their 6 decimals.
        assert_eq!(acc, sk[0].as_f64().unwrap(), "{name} accuracy");
        assert_eq!(f1, sk[1].as_f64().unwrap(), "{name} macro-F1");
        assert_eq!(format!("{acc:.3}"), format!("{pub_acc:.3}"), "{name}");
        assert_eq!(format!("{f1:.6}"), format!("{pub_f1:.6}"), "{name}");
    }
}

#[test]
fn pubmedqa_loader_equals_the_mirrored_qa_view() {
    let ori = read_pqal(&input(PQAL)).unwrap();
    let truth = read_ground_truth(&input(PQAL_TRUTH)).unwrap();
    let test = pqal_test_split(&ori, &truth).unwrap();
    let loaded = read_jsonl(&input(PQAL_QA), Schema::Qa).unwrap();
    assert!(loaded.violations.is_empty(), "{:?}", loaded.violations);
    assert_eq!(loaded.records.len(), 500);
    for (rec, (id, item)) in loaded.records.iter().zip(&test) {
        assert_eq!(
            rec.example.as_ref().unwrap(),
            &Example::Qa(pqal_to_qa(id, item)),
            "line {}",
            rec.line
        );
        assert!(rec.extra.is_empty());
    }
    // Written back in Python's json.dumps layout, the loader's output is the mirrored file, byte
    // for byte.
    let ours: String = test
        .iter()
        .map(|(id, it)| to_json_line(&Example::Qa(pqal_to_qa(id, it))) + "\n")
        .collect();
    assert!(ours == std::fs::read_to_string(input(PQAL_QA)).unwrap());
}

#[test]
fn biosses_loader_equals_the_mirrored_pairs_view_except_ids() {
    let rows = read_biosses_tsv(&input(BIOSSES_TSV)).unwrap();
    assert_eq!(rows.len(), 100);
    let ours = biosses_pairs(&rows);
    let sizes: Vec<usize> = ["train", "validation", "test"]
        .iter()
        .map(|s| ours.iter().filter(|x| x.0 == *s).count())
        .collect();
    assert_eq!(sizes, [64, 16, 20]);
    let mirrored = read_jsonl(&input(BIOSSES_PAIRS), Schema::Pairs).unwrap();
    assert!(mirrored.violations.is_empty(), "{:?}", mirrored.violations);
    assert_eq!(mirrored.records.len(), 100);
    let by_doc: BTreeMap<&str, &(&str, lmrepro_bigbio::schema::PairsExample)> =
        ours.iter().map(|x| (x.1.document_id.as_str(), x)).collect();
    for rec in &mirrored.records {
        let Some(Example::Pairs(p)) = &rec.example else {
            panic!("line {}", rec.line)
        };
        let (split, o) = by_doc[p.document_id.as_str()];
        assert_eq!(rec.extra["split"], *split, "line {}", rec.line);
        assert_eq!(
            (&p.text_1, &p.text_2, &p.label),
            (&o.text_1, &o.text_2, &o.label)
        );
        // The mirror's id is the sentence id; the loader's is the 0-based row index.
        assert_eq!(p.id, p.document_id);
        let sid: usize = p.document_id.parse().unwrap();
        assert_eq!(o.id, (sid - 1).to_string());
        let mean = rec.extra["annotator_scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .sum::<i64>() as f64
            / 5.0;
        assert_eq!(o.label.parse::<f64>().unwrap(), mean);
    }
}

#[test]
fn biosses_correlations_equal_scipy() {
    let rows = read_biosses_tsv(&input(BIOSSES_TSV)).unwrap();
    let reference = reference();
    for split in ["all", "test"] {
        let rs: Vec<_> = rows
            .iter()
            .filter(|r| {
                split == "all" || lmrepro_bigbio::loaders::BIOSSES_TEST.contains(&r.sentence_id)
            })
            .collect();
        for (k, a) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            let own: Vec<f64> = rs.iter().map(|r| r.scores[k] as f64).collect();
            let rest: Vec<f64> = rs
                .iter()
                .map(|r| (r.scores.iter().sum::<i64>() - r.scores[k]) as f64 / 4.0)
                .collect();
            let want = &reference["biosses_annotators"][format!("{a}_{split}")];
            let p = pearson(&own, &rest).unwrap();
            let s = spearman(&own, &rest).unwrap();
            assert!(
                (p - want[0].as_f64().unwrap()).abs() < 1e-13,
                "{a} {split} {p}"
            );
            assert!(
                (s - want[1].as_f64().unwrap()).abs() < 1e-13,
                "{a} {split} {s}"
            );
        }
    }
    let xs: Vec<f64> = (1..=10).map(f64::from).collect();
    assert_eq!(
        percentile(&xs, 2.5),
        reference["percentile_1_to_10_q2_5"].as_f64().unwrap()
    );
}

#[test]
fn schema_layouts_equal_the_pinned_transcription() {
    let text = std::fs::read_to_string(input(SCHEMAS)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let schemas = v["schemas"].as_object().unwrap();
    assert_eq!(schemas.len(), 6);
    for s in Schema::ALL {
        assert_eq!(schemas[s.name()], s.layout().to_json(), "schema {s}");
    }
    let map = v["task_to_schema"].as_object().unwrap();
    assert_eq!(map.len(), lmrepro_bigbio::schema::TASKS.len());
    for (_, abbr, schema) in lmrepro_bigbio::schema::TASKS {
        assert_eq!(map[abbr], schema.name(), "{abbr}");
    }
    assert_eq!(v["null_string"], lmrepro_bigbio::schema::NULL_STR);
}

/// A second, independent reading of the metadata: a hand-written RFC 4180 field splitter (no
/// `csv` crate, no serde) and a transposed index (column → entry → set of dataset names), counted
/// by set size.
fn recount(text: &str) -> serde_json::Value {
    let mut records: Vec<Vec<String>> = Vec::new();
    let (mut field, mut row) = (String::new(), Vec::new());
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        records.push(row);
    }
    let header = records.remove(0);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut index: BTreeMap<&str, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for r in &records {
        assert_eq!(r.len(), header.len());
        let name = &r[col("name")];
        for (column, key) in [
            ("tasks", "by_task"),
            ("bigbio_schemas", "by_schema"),
            ("languages", "by_language"),
        ] {
            for entry in r[col(column)].split(';').filter(|e| !e.is_empty()) {
                index
                    .entry(key)
                    .or_default()
                    .entry(entry.to_string())
                    .or_default()
                    .insert(name.clone());
            }
        }
    }
    let names: BTreeSet<&String> = records.iter().map(|r| &r[col("name")]).collect();
    let flag = |c: &str| records.iter().filter(|r| r[col(c)] == "True").count();
    let mut out = serde_json::json!({
        "datasets": names.len(),
        "pubmed": flag("pubmed"),
        "local": flag("local"),
    });
    for (key, entries) in index {
        let m: serde_json::Map<String, serde_json::Value> = entries
            .into_iter()
            .map(|(k, v)| (k, serde_json::json!(v.len())))
            .collect();
        out[key] = serde_json::Value::Object(m);
    }
    out
}

#[test]
fn catalogue_equals_an_independent_recount() {
    let path = input(METADATA);
    let catalog = read_metadata(&path).unwrap().catalog();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(serde_json::to_value(&catalog).unwrap(), recount(&text));
    assert_eq!(catalog.datasets, 144);
}

#[test]
fn committed_catalog_json_is_the_contract() {
    // The committed file parses into the contract's shape and equals a recount.
    let committed = lmrepro_data::workspace_root().join("results/bigbio/catalog.json");
    let text = std::fs::read_to_string(committed).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut want = [
        "datasets",
        "by_task",
        "by_schema",
        "by_language",
        "pubmed",
        "local",
    ];
    want.sort();
    assert_eq!(keys, want);
    let meta = std::fs::read_to_string(input(METADATA)).unwrap();
    assert_eq!(v, recount(&meta));
}
