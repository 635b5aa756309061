//! Printed values: DCLM's README tables parsed from the pinned markdown, and each printed number
//! with the precision it was printed at, so a value from the database can be rendered the same
//! way and compared as text ("44.1" vs 0.4406858728 → "44.1").

use anyhow::{bail, Context, Result};

/// One pipe table of a markdown file.
#[derive(Debug, Clone, PartialEq)]
pub struct MdTable {
    /// 1-based line of the header.
    pub line: usize,
    pub header: Vec<String>,
    pub rows: Vec<MdRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MdRow {
    /// 1-based line in the file.
    pub line: usize,
    /// Cells, trimmed, `**bold**` markers removed.
    pub cells: Vec<String>,
}

impl MdTable {
    /// Index of a header cell.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.header.iter().position(|h| h == name).with_context(|| {
            format!(
                "the table at line {} has no column `{name}` (columns: {})",
                self.line,
                self.header.join(", ")
            )
        })
    }
}

fn cells(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    t.split('|')
        .map(|c| c.trim().replace("**", "").trim().to_string())
        .collect()
}

fn is_separator(line: &str) -> bool {
    let c = cells(line);
    !c.is_empty()
        && c.iter()
            .all(|x| !x.is_empty() && x.chars().all(|ch| ch == '-' || ch == ':') && x.contains('-'))
}

/// Every pipe table (header line, separator line, rows) in `md`.
pub fn tables(md: &str) -> Vec<MdTable> {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        if lines[i].trim_start().starts_with('|') && is_separator(lines[i + 1]) {
            let mut t = MdTable {
                line: i + 1,
                header: cells(lines[i]),
                rows: Vec::new(),
            };
            i += 2;
            while i < lines.len() && lines[i].trim_start().starts_with('|') {
                t.rows.push(MdRow {
                    line: i + 1,
                    cells: cells(lines[i]),
                });
                i += 1;
            }
            out.push(t);
        } else {
            i += 1;
        }
    }
    out
}

/// The first table whose header starts with `first` and holds every name in `also`.
pub fn find_table<'a>(all: &'a [MdTable], first: &str, also: &[&str]) -> Result<&'a MdTable> {
    all.iter()
        .find(|t| {
            t.header.first().map(String::as_str) == Some(first)
                && also.iter().all(|a| t.header.iter().any(|h| h == a))
        })
        .with_context(|| {
            format!(
                "no table with columns `{first}`, {} (found {} tables)",
                also.iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                all.len()
            )
        })
}

/// A row that only names a section (`| **Models we trained** | | | ... |`).
pub fn section_name(row: &MdRow) -> Option<&str> {
    let first = row.cells.first()?;
    (!first.is_empty() && row.cells[1..].iter().all(String::is_empty)).then_some(first.as_str())
}

/// A printed number and how it was printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Printed {
    pub text: String,
    pub kind: Kind,
    /// Digits after the decimal point (of the mantissa for scientific notation).
    pub decimals: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A fraction printed as a percentage without the sign: 0.441 → `44.1`.
    Percent,
    /// A count with a unit suffix: `412M`, `8.2B`, `0.14T`.
    Unit(char),
    /// Scientific notation: `2.0e19`.
    Scientific,
}

fn decimals(num: &str) -> usize {
    num.split_once('.').map_or(0, |(_, d)| d.len())
}

impl Printed {
    /// A score cell as the README prints it (a percentage).
    pub fn percent(text: &str) -> Result<Printed> {
        let t = text.trim();
        t.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .with_context(|| format!("`{text}` is not a printed number"))?;
        Ok(Printed {
            text: t.to_string(),
            kind: Kind::Percent,
            decimals: decimals(t),
        })
    }

    /// A count: `412M`, `8.2B`, `0.14T`, `2.0e19`.
    pub fn quantity(text: &str) -> Result<Printed> {
        let t = text.trim();
        if let Some((m, e)) = t.split_once('e') {
            if m.parse::<f64>().is_ok() && e.parse::<i32>().is_ok() {
                return Ok(Printed {
                    text: t.to_string(),
                    kind: Kind::Scientific,
                    decimals: decimals(m),
                });
            }
        }
        let Some(unit) = t
            .chars()
            .last()
            .filter(|c| matches!(c, 'K' | 'M' | 'B' | 'T'))
        else {
            bail!("`{text}` is not a printed count (`412M`, `8.2B`, `0.14T`, `2.0e19`)");
        };
        let num = &t[..t.len() - 1];
        if num.parse::<f64>().map_or(true, |v| !v.is_finite()) {
            bail!("`{text}` is not a printed count (`412M`, `8.2B`, `0.14T`, `2.0e19`)");
        }
        Ok(Printed {
            text: t.to_string(),
            kind: Kind::Unit(unit),
            decimals: decimals(num),
        })
    }

    /// `x` printed the way this value was.
    pub fn render(&self, x: f64) -> String {
        let d = self.decimals;
        match self.kind {
            Kind::Percent => lmrepro_report::fmt_fixed(100.0 * x, d),
            Kind::Scientific => format!("{x:.d$e}"),
            Kind::Unit(u) => {
                let scale = match u {
                    'K' => 1e3,
                    'M' => 1e6,
                    'B' => 1e9,
                    _ => 1e12,
                };
                format!("{}{u}", lmrepro_report::fmt_fixed(x / scale, d))
            }
        }
    }

    /// Whether `x` prints as this value.
    pub fn agrees(&self, x: f64) -> bool {
        x.is_finite() && self.render(x) == self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MD: &str = "intro\n\n| Model | Params | CORE (v1) |\n|-------|--------|-----------|\n\
                      | **Open** |  |  |\n| Llama2 | 7B | 49.2 |\n| **DCLM-BASELINE** | 7B | **57.1** |\n\ntext\n";

    #[test]
    fn parses_tables_sections_and_bold() {
        let all = tables(MD);
        assert_eq!(all.len(), 1);
        let t = find_table(&all, "Model", &["CORE (v1)"]).unwrap();
        assert_eq!(t.line, 3);
        assert_eq!(t.rows.len(), 3);
        assert_eq!(section_name(&t.rows[0]), Some("Open"));
        assert_eq!(section_name(&t.rows[1]), None);
        assert_eq!(t.rows[2].cells, ["DCLM-BASELINE", "7B", "57.1"]);
        assert_eq!(t.rows[2].line, 7);
        assert_eq!(t.column("CORE (v1)").unwrap(), 2);
        assert!(t.column("MMLU").unwrap_err().to_string().contains("line 3"));
        assert!(find_table(&all, "Scale", &[]).is_err());
    }

    #[test]
    fn renders_at_the_printed_precision() {
        let p = Printed::percent("44.1").unwrap();
        assert!(p.agrees(0.4406858728));
        assert!(!p.agrees(0.4466));
        assert!(!p.agrees(f64::NAN));
        let q = Printed::quantity("0.14T").unwrap();
        assert!(q.agrees(137788211200.0));
        assert_eq!(
            Printed::quantity("28B").unwrap().render(28795904000.0),
            "29B"
        );
        assert!(Printed::quantity("412M").unwrap().agrees(411616256.0));
        assert!(Printed::quantity("7B").unwrap().agrees(6889410560.0));
        let f = Printed::quantity("2.0e19").unwrap();
        assert_eq!(f.kind, Kind::Scientific);
        assert!(f.agrees(6.0 * 411616256.0 * 8232325120.0));
        assert!(Printed::quantity("?").is_err());
        assert!(Printed::quantity("15X").is_err());
        assert!(Printed::percent("✓").is_err());
    }

    proptest! {
        #[test]
        fn a_printed_percent_agrees_with_its_own_value(v in 0u32..10000) {
            let text = format!("{}.{}", v / 10, v % 10);
            let p = Printed::percent(&text).unwrap();
            prop_assert!(p.agrees(text.parse::<f64>().unwrap() / 100.0));
        }

        #[test]
        fn table_cells_survive_a_round_trip(cells in proptest::collection::vec("[a-zA-Z0-9 .()-]{1,10}", 1..6)) {
            let cells: Vec<String> = cells.iter().map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
            prop_assume!(!cells.is_empty());
            let md = format!("| {} |\n|{}\n| {} |\n", cells.join(" | "), "---|".repeat(cells.len()), cells.join(" | "));
            let t = &tables(&md)[0];
            prop_assert_eq!(&t.header, &cells);
            prop_assert_eq!(&t.rows[0].cells, &cells);
        }
    }
}
