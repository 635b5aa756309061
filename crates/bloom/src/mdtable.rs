//! `mdtable.txt` as BigScience committed it: two header lines, then
//! `| task | language | metric ↑ | value | [opt] |` rows. Used as conformance goldens.

use crate::convert::Row;
use anyhow::{bail, Result};

/// The cells of one golden row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldenRow {
    pub line: usize,
    pub cells: Vec<String>,
}

/// The data rows of an `mdtable.txt` (header and separator skipped, blank lines ignored).
pub fn parse(text: &str, source: &str) -> Result<Vec<GoldenRow>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(2) {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let Some(inner) = t.strip_prefix('|').and_then(|s| s.strip_suffix('|')) else {
            bail!("{source}: line {}: not a table row: {line}", i + 1);
        };
        out.push(GoldenRow {
            line: i + 1,
            cells: inner.split('|').map(|c| c.trim().to_string()).collect(),
        });
    }
    Ok(out)
}

/// The cells our row would print (the OPT cell only if `with_opt`).
pub fn cells(row: &Row, with_opt: bool) -> Vec<String> {
    let mut c = vec![
        row.task.clone(),
        row.language.clone(),
        row.metric_cell(),
        row.value_cell(),
    ];
    if with_opt {
        c.push(row.opt_cell());
    }
    c
}

/// Outcome of comparing rows with a golden table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conformance {
    pub rows: usize,
    pub equal: usize,
    /// `line N: ours [..] vs golden [..]`, first few only.
    pub mismatches: Vec<String>,
}

/// Compares row by row (same order, same count); `with_opt` when the golden has the OPT column.
pub fn compare(rows: &[Row], golden: &[GoldenRow], with_opt: bool) -> Conformance {
    let mut equal = 0;
    let mut mismatches = Vec::new();
    for i in 0..rows.len().max(golden.len()) {
        let ours = rows.get(i).map(|r| cells(r, with_opt));
        let theirs = golden.get(i).map(|g| g.cells.clone());
        if ours.is_some() && ours == theirs {
            equal += 1;
        } else if mismatches.len() < 5 {
            mismatches.push(format!(
                "row {}: ours {:?} vs golden {:?}",
                i + 1,
                ours,
                theirs
            ));
        }
    }
    Conformance {
        rows: golden.len(),
        equal,
        mismatches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(task: &str, value: f64, opt: f64) -> Row {
        Row {
            task: task.into(),
            group: task.into(),
            language: "eng".into(),
            metric: "acc".into(),
            arrow: "↑",
            value,
            opt,
            prompts: 1,
        }
    }

    #[test]
    fn parses_and_compares() {
        let text = "| Task | Language | Metric | BLOOM-176B | OPT-175B* |\n\
                    |:--|:--|:--|--:|--:|\n\
                    | arc_challenge | eng | acc ↑ | 0.411 | 0.412 |\n\
                    | cola (Median of 5 prompts) | eng | acc ↑ | 0.39 | 0.444 |";
        let g = parse(text, "m.txt").unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].line, 4);
        let rows = vec![
            row("arc_challenge", 0.4112627986348123, 0.4121160409556314),
            row("cola (Median of 5 prompts)", 0.3902, 0.4442),
        ];
        let c = compare(&rows, &g, true);
        assert_eq!((c.rows, c.equal), (2, 2));
        // Without the OPT column only four cells are compared (bloom2b5's golden).
        let four = parse(
            "h\ns\n| arc_challenge | eng | acc ↑ | 0.411 |\n| x | eng | acc ↑ | 0.5 |\n",
            "b.txt",
        )
        .unwrap();
        let c = compare(&rows, &four, false);
        assert_eq!(c.equal, 1);
        assert!(c.mismatches[0].contains("row 2"), "{:?}", c.mismatches);
        // A missing row is a mismatch too.
        assert_eq!(compare(&rows[..1], &g, true).equal, 1);
        assert!(parse("h\ns\nnot a row\n", "x.txt").is_err());
    }
}
