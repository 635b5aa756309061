/// A rectangular table of already-formatted cells.
///
/// Cells are strings on purpose: each reproducer decides its precision once, and markdown, CSV and
/// snapshots then agree to the byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; panics if its width differs from the header's (a programming error).
    pub fn push<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) {
        let row: Vec<String> = row.into_iter().map(Into::into).collect();
        assert_eq!(
            row.len(),
            self.headers.len(),
            "row width {} != header width {} in table {:?}",
            row.len(),
            self.headers.len(),
            self.headers
        );
        self.rows.push(row);
    }

    /// GitHub pipe table, one trailing newline; numeric-looking columns are right-aligned.
    pub fn to_markdown(&self) -> String {
        let ncol = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(escape_md(cell).chars().count());
            }
        }
        let numeric: Vec<bool> = (0..ncol)
            .map(|c| !self.rows.is_empty() && self.rows.iter().all(|r| looks_numeric(&r[c])))
            .collect();
        let mut out = String::new();
        let line = |cells: Vec<String>, out: &mut String| {
            out.push('|');
            for (c, cell) in cells.iter().enumerate() {
                let pad = widths[c].saturating_sub(cell.chars().count());
                out.push(' ');
                if numeric[c] {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(cell);
                } else {
                    out.push_str(cell);
                    out.push_str(&" ".repeat(pad));
                }
                out.push_str(" |");
            }
            out.push('\n');
        };
        line(
            self.headers.iter().map(|h| escape_md(h)).collect(),
            &mut out,
        );
        out.push('|');
        for c in 0..ncol {
            let dashes = "-".repeat(widths[c].max(3));
            if numeric[c] {
                out.push_str(&format!(" {}: |", &dashes[1..]));
            } else {
                out.push_str(&format!(" {dashes} |"));
            }
        }
        out.push('\n');
        for row in &self.rows {
            line(row.iter().map(|c| escape_md(c)).collect(), &mut out);
        }
        out
    }

    /// RFC 4180 CSV with `\n` line ends.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let push_row = |cells: &[String], out: &mut String| {
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if cell.contains([',', '"', '\n', '\r']) {
                    out.push('"');
                    out.push_str(&cell.replace('"', "\"\""));
                    out.push('"');
                } else {
                    out.push_str(cell);
                }
            }
            out.push('\n');
        };
        push_row(&self.headers, &mut out);
        for row in &self.rows {
            push_row(row, &mut out);
        }
        out
    }
}

fn escape_md(cell: &str) -> String {
    cell.replace('|', "\\|").replace('\n', " ")
}

fn looks_numeric(cell: &str) -> bool {
    let t = cell.trim().trim_end_matches('%');
    !t.is_empty() && t != "-" && t.parse::<f64>().is_ok()
}

/// Fixed decimals; `-0.000` is printed as `0.000` so sign noise never shows up in a diff.
pub fn fmt_fixed(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    let s = format!("{x:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Scientific notation with `sig` significant digits (e.g. `1.234e-3`).
pub fn fmt_sig(x: f64, sig: usize) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    format!("{:.*e}", sig.saturating_sub(1), x)
}

/// An integer with thousands separators (`1,082,990`), for plans and counts people read.
pub fn fmt_grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_thousands() {
        assert_eq!(fmt_grouped(0), "0");
        assert_eq!(fmt_grouped(999), "999");
        assert_eq!(fmt_grouped(1000), "1,000");
        assert_eq!(fmt_grouped(176_247_271_424), "176,247,271,424");
    }

    #[test]
    fn markdown_and_csv() {
        let mut t = Table::new(["name", "value"]);
        t.push(["a,b", "1.50"]);
        t.push(["c|d", "10.25"]);
        assert_eq!(
            t.to_markdown(),
            "| name | value |\n| ---- | ----: |\n| a,b  |  1.50 |\n| c\\|d | 10.25 |\n"
        );
        assert_eq!(t.to_csv(), "name,value\n\"a,b\",1.50\nc|d,10.25\n");
    }

    #[test]
    fn negative_zero_is_zero() {
        assert_eq!(fmt_fixed(-0.00001, 3), "0.000");
        assert_eq!(fmt_fixed(-0.5, 1), "-0.5");
        assert_eq!(fmt_sig(0.0012345, 3), "1.23e-3");
    }

    #[test]
    #[should_panic(expected = "row width")]
    fn ragged_rows_are_rejected() {
        let mut t = Table::new(["a", "b"]);
        t.push(["1"]);
    }
}
