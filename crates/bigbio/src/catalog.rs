//! The dataset catalogue: counts over `bigbio_datasets_metadata.csv` (one row per hub script, with
//! its `_SUPPORTED_TASKS`, `bigbio_*` schemas, `_LANGUAGES`, `_LICENSE`, `_PUBMED`, `_LOCAL`).
//!
//! Counting rule (the output contract of `results/bigbio/catalog.json`): keys exactly as the file
//! writes them; a `;`-separated field counts the dataset once under each distinct entry; an empty
//! field counts it under none.

use crate::schema::{schema_of_task, Schema};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One row of the metadata file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DatasetMeta {
    pub name: String,
    pub display_name: String,
    pub tasks: String,
    pub bigbio_schemas: String,
    pub languages: String,
    pub license: String,
    pub pubmed: String,
    pub local: String,
    pub homepage: String,
}

/// The distinct entries of a `;`-separated field, in first-seen order (empty field: none).
pub fn entries(field: &str) -> Vec<&str> {
    let mut seen = BTreeSet::new();
    field
        .split(';')
        .filter(|s| !s.is_empty())
        .filter(|s| seen.insert(*s))
        .collect()
}

impl DatasetMeta {
    pub fn tasks(&self) -> Vec<&str> {
        entries(&self.tasks)
    }
    pub fn schemas(&self) -> Vec<&str> {
        entries(&self.bigbio_schemas)
    }
    pub fn languages(&self) -> Vec<&str> {
        entries(&self.languages)
    }
}

fn parse_bool(v: &str, row: usize, column: &str, source: &str) -> Result<bool> {
    match v {
        "True" => Ok(true),
        "False" => Ok(false),
        _ => bail!("{source}: row {row}: column `{column}` is {v:?}, expected True or False"),
    }
}

/// The parsed metadata, with `pubmed` / `local` as booleans.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub rows: Vec<DatasetMeta>,
    pub pubmed: Vec<bool>,
    pub local: Vec<bool>,
}

const COLUMNS: [&str; 9] = [
    "name",
    "display_name",
    "tasks",
    "bigbio_schemas",
    "languages",
    "license",
    "pubmed",
    "local",
    "homepage",
];

/// Parses the metadata CSV (RFC 4180 via the `csv` crate). Errors name the row (1-based data
/// row, the header being row 0) and the column.
pub fn parse_metadata(text: &str, source: &str) -> Result<Metadata> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .with_context(|| format!("{source}: reading the header"))?
        .iter()
        .map(str::to_string)
        .collect();
    if headers != COLUMNS {
        bail!("{source}: header {headers:?}, expected {COLUMNS:?}");
    }
    let (mut rows, mut pubmed, mut local) = (Vec::new(), Vec::new(), Vec::new());
    let mut names = BTreeSet::new();
    for (i, rec) in rdr.deserialize::<DatasetMeta>().enumerate() {
        let row = i + 1;
        let m = rec.with_context(|| format!("{source}: row {row}"))?;
        if m.name.is_empty() {
            bail!("{source}: row {row}: column `name` is empty");
        }
        if !names.insert(m.name.clone()) {
            bail!("{source}: row {row}: dataset `{}` listed twice", m.name);
        }
        for s in m.schemas() {
            if Schema::parse(s).is_none() {
                bail!(
                    "{source}: row {row} (`{}`): column `bigbio_schemas` has unknown schema {s:?}",
                    m.name
                );
            }
        }
        for t in m.tasks() {
            if schema_of_task(t).is_none() {
                bail!(
                    "{source}: row {row} (`{}`): column `tasks` has unknown task {t:?}",
                    m.name
                );
            }
        }
        pubmed.push(parse_bool(&m.pubmed, row, "pubmed", source)?);
        local.push(parse_bool(&m.local, row, "local", source)?);
        rows.push(m);
    }
    Ok(Metadata {
        rows,
        pubmed,
        local,
    })
}

pub fn read_metadata(path: &Path) -> Result<Metadata> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_metadata(&text, &path.display().to_string())
}

/// `results/bigbio/catalog.json`, fields in the contract's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub datasets: usize,
    pub by_task: BTreeMap<String, usize>,
    pub by_schema: BTreeMap<String, usize>,
    pub by_language: BTreeMap<String, usize>,
    pub pubmed: usize,
    pub local: usize,
}

fn tally<'a>(it: impl Iterator<Item = Vec<&'a str>>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for keys in it {
        for k in keys {
            *m.entry(k.to_string()).or_insert(0) += 1;
        }
    }
    m
}

impl Metadata {
    pub fn catalog(&self) -> Catalog {
        Catalog {
            datasets: self.rows.len(),
            by_task: tally(self.rows.iter().map(DatasetMeta::tasks)),
            by_schema: tally(self.rows.iter().map(DatasetMeta::schemas)),
            by_language: tally(self.rows.iter().map(DatasetMeta::languages)),
            pubmed: self.pubmed.iter().filter(|&&b| b).count(),
            local: self.local.iter().filter(|&&b| b).count(),
        }
    }

    /// Datasets per licence string, as written.
    pub fn by_license(&self) -> BTreeMap<String, usize> {
        tally(self.rows.iter().map(|r| vec![r.license.as_str()]))
    }

    /// Where the metadata disagrees with itself: (dataset, what), sorted by dataset.
    /// - an empty `tasks`, `bigbio_schemas` or `languages` field;
    /// - a schema implied by a listed task (`TASK_TO_SCHEMA`) that is not listed, or a listed
    ///   schema no listed task implies.
    pub fn inconsistencies(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for r in &self.rows {
            for (col, v) in [
                ("tasks", &r.tasks),
                ("bigbio_schemas", &r.bigbio_schemas),
                ("languages", &r.languages),
            ] {
                if v.is_empty() {
                    out.push((r.name.clone(), format!("empty `{col}`")));
                }
            }
            let implied: BTreeSet<&str> = r
                .tasks()
                .iter()
                .filter_map(|t| schema_of_task(t))
                .map(Schema::name)
                .collect();
            let listed: BTreeSet<&str> = r.schemas().into_iter().collect();
            if !r.tasks.is_empty() && !r.bigbio_schemas.is_empty() {
                for s in implied.difference(&listed) {
                    out.push((
                        r.name.clone(),
                        format!("tasks imply schema `{s}`, which is not listed"),
                    ));
                }
                for s in listed.difference(&implied) {
                    out.push((
                        r.name.clone(),
                        format!("schema `{s}` is listed but no listed task implies it"),
                    ));
                }
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str =
        "name,display_name,tasks,bigbio_schemas,languages,license,pubmed,local,homepage\n";

    #[test]
    fn counts_follow_the_contract() {
        let csv = format!(
            "{HEAD}a,A,NAMED_ENTITY_RECOGNITION;RELATION_EXTRACTION,kb,English,MIT,True,False,h\n\
             b,\"B, b\",QUESTION_ANSWERING,qa,\"English;Chinese (Traditional, Taiwan)\",MIT,False,True,h\n\
             c,C,,,English (United States),UNKNOWN,False,False,h\n"
        );
        let m = parse_metadata(&csv, "m.csv").unwrap();
        let c = m.catalog();
        assert_eq!(c.datasets, 3);
        assert_eq!(c.by_task["NAMED_ENTITY_RECOGNITION"], 1);
        assert_eq!(c.by_task.len(), 3);
        assert_eq!(c.by_schema.len(), 2);
        assert_eq!(c.by_language["English"], 2);
        assert_eq!(c.by_language["English (United States)"], 1);
        assert_eq!(c.by_language["Chinese (Traditional, Taiwan)"], 1);
        assert_eq!((c.pubmed, c.local), (1, 1));
        assert_eq!(m.by_license()["MIT"], 2);
        let inc = m.inconsistencies();
        assert!(inc.contains(&("c".into(), "empty `tasks`".into())));
    }

    #[test]
    fn bad_rows_are_named() {
        let bad_bool = format!("{HEAD}a,A,QUESTION_ANSWERING,qa,English,MIT,yes,False,h\n");
        let e = parse_metadata(&bad_bool, "m.csv").unwrap_err().to_string();
        assert!(e.contains("row 1") && e.contains("`pubmed`"), "{e}");
        let bad_schema = format!("{HEAD}a,A,QUESTION_ANSWERING,qaa,English,MIT,True,False,h\n");
        let e = format!("{:#}", parse_metadata(&bad_schema, "m.csv").unwrap_err());
        assert!(e.contains("unknown schema \"qaa\""), "{e}");
        let dup = format!(
            "{HEAD}a,A,QUESTION_ANSWERING,qa,English,MIT,True,False,h\na,A,,,,MIT,True,False,h\n"
        );
        assert!(parse_metadata(&dup, "m.csv")
            .unwrap_err()
            .to_string()
            .contains("listed twice"));
    }

    #[test]
    fn a_repeated_entry_counts_once() {
        assert_eq!(entries("English;English;French"), vec!["English", "French"]);
        assert!(entries("").is_empty());
    }
}
