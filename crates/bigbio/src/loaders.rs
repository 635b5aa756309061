//! Script-free loaders for the mirrored sets, with the semantics of the BigBIO hub scripts
//! (bigscience-workshop/biomedical `bigbio/hub/hub_repos/{pubmed_qa,biosses}`):
//!
//! - PubMedQA PQA-L (`ori_pqal.json`, keyed by PMID) → `qa`: `id = question_id = document_id =
//!   PMID`, `type = "yesno"`, `choices = [yes, no, maybe]`, `context = " ".join(CONTEXTS)`,
//!   `answer = [final_decision]`, in the order of the source file. The official test split is the
//!   500 PMIDs of `test_ground_truth.json`, in that file's order (the order of the loader's
//!   `pqal_test_set.json`).
//! - BIOSSES (`annotation_pairs_scores.tsv`) → `pairs`: `label = str(mean of the five annotator
//!   scores)` as Python prints a float, `document_id = sentence_id`, `id` = the 0-based row index
//!   of the TSV (pandas' index), splits from the loader's fixed TRAIN/DEV/TEST sentence-id lists
//!   (BLUE's split), each split in file order.

use crate::schema::{PairsExample, QaExample};
use anyhow::{bail, Context, Result};
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

/// A JSON object read into a list, keeping the file's key order (what Python's `dict` iterates
/// in) without switching serde_json to `preserve_order` for the whole workspace.
#[derive(Debug, Clone)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, T>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// One PQA-L item (the fields the loaders and the reference rows use; others are ignored).
#[derive(Debug, Clone, Deserialize)]
#[allow(non_snake_case)]
pub struct PqalItem {
    pub QUESTION: String,
    pub CONTEXTS: Vec<String>,
    pub LABELS: Vec<String>,
    pub final_decision: String,
    pub reasoning_required_pred: String,
    pub reasoning_free_pred: String,
    pub LONG_ANSWER: String,
}

/// `ori_pqal.json`: (PMID, item) in file order.
pub fn read_pqal(path: &Path) -> Result<Vec<(String, PqalItem)>> {
    Ok(read_json::<Ordered<PqalItem>>(path)?.0)
}

/// `test_ground_truth.json`: (PMID, label) in file order.
pub fn read_ground_truth(path: &Path) -> Result<Vec<(String, String)>> {
    Ok(read_json::<Ordered<String>>(path)?.0)
}

/// The `pubmed_qa_labeled_*_bigbio_qa` view of one item.
pub fn pqal_to_qa(pmid: &str, item: &PqalItem) -> QaExample {
    QaExample {
        id: pmid.to_string(),
        question_id: pmid.to_string(),
        document_id: pmid.to_string(),
        question: item.QUESTION.clone(),
        kind: "yesno".into(),
        choices: vec!["yes".into(), "no".into(), "maybe".into()],
        context: item.CONTEXTS.join(" "),
        answer: vec![item.final_decision.clone()],
    }
}

/// The 500-item official test split: the items of `ori` named by `truth`, in `truth`'s order.
/// A PMID missing from `ori`, or a label that disagrees with its `final_decision`, is an error.
pub fn pqal_test_split<'a>(
    ori: &'a [(String, PqalItem)],
    truth: &[(String, String)],
) -> Result<Vec<(&'a str, &'a PqalItem)>> {
    let index: std::collections::BTreeMap<&str, &PqalItem> =
        ori.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut out = Vec::with_capacity(truth.len());
    for (pmid, label) in truth {
        let Some((&k, &item)) = index.get_key_value(pmid.as_str()) else {
            bail!("test PMID {pmid} is not in the PQA-L file");
        };
        if item.final_decision != *label {
            bail!(
                "test PMID {pmid}: ground truth {label:?} but final_decision {:?}",
                item.final_decision
            );
        }
        out.push((k, item));
    }
    Ok(out)
}

/// One row of `annotation_pairs_scores.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BiossesRow {
    pub sentence_id: i64,
    pub sentence_1: String,
    pub sentence_2: String,
    /// annotator_a ..= annotator_e, each 0-4.
    pub scores: [i64; 5],
}

const BIOSSES_HEADER: [&str; 8] = [
    "sentence_id",
    "sentence_1",
    "sentence_2",
    "annotator_a",
    "annotator_b",
    "annotator_c",
    "annotator_d",
    "annotator_e",
];

/// Parses the BIOSSES TSV (tab-separated, header row, no quoting in the file).
pub fn parse_biosses_tsv(text: &str, source: &str) -> Result<Vec<BiossesRow>> {
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        bail!("{source}: empty file");
    };
    let header: Vec<&str> = header.trim_start_matches('\u{feff}').split('\t').collect();
    if header != BIOSSES_HEADER {
        bail!("{source}:1: header {header:?}, expected {BIOSSES_HEADER:?}");
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 8 {
            bail!("{source}:{}: {} columns, expected 8", i + 1, f.len());
        }
        let int = |c: usize| -> Result<i64> {
            f[c].trim().parse::<i64>().with_context(|| {
                format!(
                    "{source}:{}: column `{}` is {:?}, not an integer",
                    i + 1,
                    BIOSSES_HEADER[c],
                    f[c]
                )
            })
        };
        let mut scores = [0i64; 5];
        for (k, s) in scores.iter_mut().enumerate() {
            *s = int(3 + k)?;
            if !(0..=4).contains(s) {
                bail!(
                    "{source}:{}: column `{}` is {s}, outside the 0-4 scale",
                    i + 1,
                    BIOSSES_HEADER[3 + k]
                );
            }
        }
        rows.push(BiossesRow {
            sentence_id: int(0)?,
            sentence_1: f[1].to_string(),
            sentence_2: f[2].to_string(),
            scores,
        });
    }
    Ok(rows)
}

pub fn read_biosses_tsv(path: &Path) -> Result<Vec<BiossesRow>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_biosses_tsv(&text, &path.display().to_string())
}

/// The loader's split lists (`TRAIN_INDEXES`, `DEV_INDEXES`, `TEST_INDEXES`: sentence ids, BLUE's
/// split, bigscience-workshop/biomedical issue 664).
pub const BIOSSES_TRAIN: [i64; 64] = [
    78, 45, 35, 50, 27, 13, 87, 1, 58, 99, 55, 74, 66, 39, 44, 18, 84, 76, 19, 10, 75, 46, 15, 86,
    60, 14, 51, 79, 29, 34, 94, 28, 62, 42, 21, 30, 11, 53, 6, 12, 26, 48, 31, 32, 77, 37, 95, 85,
    36, 56, 43, 61, 16, 5, 67, 65, 54, 3, 73, 98, 17, 4, 92, 93,
];
pub const BIOSSES_DEV: [i64; 16] = [88, 82, 8, 63, 47, 68, 40, 90, 100, 24, 41, 91, 80, 9, 72, 2];
pub const BIOSSES_TEST: [i64; 20] = [
    59, 96, 70, 22, 81, 38, 57, 23, 33, 89, 69, 49, 7, 71, 97, 25, 83, 64, 52, 20,
];

/// The splits in the order the loader generates them.
pub const BIOSSES_SPLITS: [(&str, &[i64]); 3] = [
    ("train", &BIOSSES_TRAIN),
    ("validation", &BIOSSES_DEV),
    ("test", &BIOSSES_TEST),
];

/// `str(x)` of a Python float: shortest round-trip digits, `.0` on integral values, exponent
/// form below 1e-4 and from 1e16 on (`1e-05`, `1e+16`).
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        // Rust's `{:e}` is shortest round-trip too: `1.5e-7` → Python `1.5e-07`.
        let s = format!("{x:e}");
        let (mant, exp) = s.split_once('e').expect("exponent form");
        let e: i32 = exp.parse().expect("integer exponent");
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", e.abs());
    }
    let s = format!("{x}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// The `biosses_bigbio_pairs` view: (split, example) for every split, in loader order.
pub fn biosses_pairs(rows: &[BiossesRow]) -> Vec<(&'static str, PairsExample)> {
    let mut out = Vec::with_capacity(rows.len());
    for (split, ids) in BIOSSES_SPLITS {
        for (uid, row) in rows.iter().enumerate() {
            if !ids.contains(&row.sentence_id) {
                continue;
            }
            let sum: i64 = row.scores.iter().sum();
            out.push((
                split,
                PairsExample {
                    id: uid.to_string(),
                    document_id: row.sentence_id.to_string(),
                    text_1: row.sentence_1.clone(),
                    text_2: row.sentence_2.clone(),
                    label: py_float_repr(sum as f64 / 5.0),
                },
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr() {
        assert_eq!(py_float_repr(4.0), "4.0");
        assert_eq!(py_float_repr(11.0 / 5.0), "2.2");
        assert_eq!(py_float_repr(0.0), "0.0");
        assert_eq!(py_float_repr(3.0 / 5.0), "0.6");
        assert_eq!(py_float_repr(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(py_float_repr(1e16), "1e+16");
        assert_eq!(py_float_repr(1.5e-7), "1.5e-07");
        assert_eq!(py_float_repr(0.0001), "0.0001");
        assert_eq!(py_float_repr(-2.5), "-2.5");
    }

    #[test]
    fn splits_partition_the_hundred_pairs() {
        let mut all: Vec<i64> = BIOSSES_SPLITS
            .iter()
            .flat_map(|s| s.1.iter().copied())
            .collect();
        all.sort();
        assert_eq!(all, (1..=100).collect::<Vec<_>>());
    }

    #[test]
    fn tsv_errors_name_line_and_column() {
        let head = BIOSSES_HEADER.join("\t");
        let bad = format!("{head}\n1\ta\tb\t1\t2\tx\t3\t4\n");
        let e = parse_biosses_tsv(&bad, "f.tsv").unwrap_err().to_string();
        assert!(e.contains("f.tsv:2") && e.contains("annotator_c"), "{e}");
        let short = format!("{head}\n1\ta\tb\n");
        assert!(parse_biosses_tsv(&short, "f.tsv")
            .unwrap_err()
            .to_string()
            .contains("3 columns"));
        let range = format!("{head}\n1\ta\tb\t1\t2\t5\t3\t4\n");
        assert!(parse_biosses_tsv(&range, "f.tsv")
            .unwrap_err()
            .to_string()
            .contains("outside the 0-4 scale"));
    }

    #[test]
    fn json_errors_name_file_and_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ori_pqal.json");
        std::fs::write(&path, "{\"1\": {\"QUESTION\": \"q\"}}").unwrap();
        let e = format!("{:#}", read_pqal(&path).unwrap_err());
        assert!(
            e.contains("ori_pqal.json") && e.contains("missing field `CONTEXTS`"),
            "{e}"
        );
        assert!(e.contains("line 1"), "{e}");
        let test = [("9".to_string(), "yes".to_string())];
        let e = pqal_test_split(&[], &test).unwrap_err().to_string();
        assert!(e.contains("test PMID 9"), "{e}");
    }

    #[test]
    fn ordered_keeps_file_order() {
        let o: Ordered<i32> = serde_json::from_str(r#"{"b": 1, "a": 2, "c": 3}"#).unwrap();
        let keys: Vec<&str> = o.0.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        // Anything but tabs and line breaks (the TSV has no quoting).
        "[^\t\r\n]{0,40}"
    }

    proptest! {
        #[test]
        fn tsv_rows_round_trip(
            rows in proptest::collection::vec((1i64..1000, text(), text(), proptest::array::uniform5(0i64..=4)), 0..20)
        ) {
            let mut tsv = BIOSSES_HEADER.join("\t");
            tsv.push('\n');
            for (id, a, b, s) in &rows {
                let scores: Vec<String> = s.iter().map(|x| x.to_string()).collect();
                tsv.push_str(&format!("{id}\t{a}\t{b}\t{}\n", scores.join("\t")));
            }
            let parsed = parse_biosses_tsv(&tsv, "p.tsv").unwrap();
            prop_assert_eq!(parsed.len(), rows.len());
            for (p, (id, a, b, s)) in parsed.iter().zip(&rows) {
                prop_assert_eq!((p.sentence_id, &p.sentence_1, &p.sentence_2, p.scores), (*id, a, b, *s));
            }
        }

        #[test]
        fn float_repr_round_trips_and_means_print_like_python(x in proptest::num::f64::NORMAL, sum in 0i64..=20) {
            prop_assert_eq!(py_float_repr(x).parse::<f64>().unwrap(), x);
            // Means of five 0-4 scores: one decimal, Python style ("2.2", "4.0").
            let s = py_float_repr(sum as f64 / 5.0);
            prop_assert_eq!(s.clone(), format!("{}.{}", sum / 5, (sum % 5) * 2));
        }
    }
}
