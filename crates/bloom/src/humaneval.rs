//! HumanEval pass@k: the unbiased estimator of Chen et al. 2021 and the released per-temperature
//! results (`humaneval_pass_at_k.csv`, the merged `humaneval_temp{02,06,08}.json` of each results
//! directory).

use anyhow::{bail, Context, Result};
use std::path::Path;

/// Unbiased pass@k for one problem with `n` samples of which `c` pass (Chen et al. 2021, the
/// numerically stable form of `1 - C(n-c, k) / C(n, k)` from the Codex paper's figure 3:
/// `1 - prod(1 - k / arange(n - c + 1, n + 1))`).
pub fn pass_at_k(n: u64, c: u64, k: u64) -> f64 {
    assert!(
        c <= n && k >= 1 && k <= n,
        "pass@k needs c <= n and 1 <= k <= n"
    );
    if n - c < k {
        return 1.0;
    }
    1.0 - ((n - c + 1)..=n)
        .map(|i| 1.0 - k as f64 / i as f64)
        .product::<f64>()
}

/// pass@k of a problem set: the mean over problems of `pass_at_k(n, c_i, k)`.
pub fn mean_pass_at_k(n: u64, correct: &[u64], k: u64) -> f64 {
    correct.iter().map(|&c| pass_at_k(n, c, k)).sum::<f64>() / correct.len() as f64
}

/// One row of `humaneval_pass_at_k.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct HumanevalRow {
    pub model: String,
    /// The results directory (`bloom`, `bloom1b3`, `bloom2b5`, `bloom350m`, `opt`).
    pub repo_dir: String,
    pub temperature: f64,
    /// `(k label, value)` in column order: `pass@1`, `pass@10`, `pass@100`.
    pub pass: Vec<(String, f64)>,
}

pub fn read_csv(path: &Path) -> Result<Vec<HumanevalRow>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_csv(&text, &path.display().to_string())
}

/// Parses `model,repo_dir,temperature,pass@1,...` (no quoting in the pinned file).
pub fn parse_csv(text: &str, source: &str) -> Result<Vec<HumanevalRow>> {
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        bail!("{source}: empty file");
    };
    let cols: Vec<&str> = header.split(',').collect();
    if cols.len() < 4 || cols[..3] != ["model", "repo_dir", "temperature"] {
        bail!("{source}: line 1: expected header `model,repo_dir,temperature,pass@...`");
    }
    if let Some(bad) = cols[3..].iter().find(|c| !c.starts_with("pass@")) {
        bail!("{source}: line 1: column `{bad}` is not a pass@k column");
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != cols.len() {
            bail!(
                "{source}: line {}: {} cells, expected {}",
                i + 1,
                cells.len(),
                cols.len()
            );
        }
        let num = |j: usize| -> Result<f64> {
            let v: f64 = cells[j].parse().with_context(|| {
                format!(
                    "{source}: line {}: column `{}`: `{}` is not a number",
                    i + 1,
                    cols[j],
                    cells[j]
                )
            })?;
            if !v.is_finite() {
                bail!("{source}: line {}: column `{}` is {v}", i + 1, cols[j]);
            }
            Ok(v)
        };
        rows.push(HumanevalRow {
            model: cells[0].into(),
            repo_dir: cells[1].into(),
            temperature: num(2)?,
            pass: (3..cols.len())
                .map(|j| Ok((cols[j].to_string(), num(j)?)))
                .collect::<Result<_>>()?,
        });
    }
    Ok(rows)
}

/// The script's `keep_best_score` over the temperatures of one directory, in file order:
/// `(k label, max value)` per pass@k column.
pub fn best_per_k(rows: &[HumanevalRow], repo_dir: &str) -> Result<Vec<(String, f64)>> {
    let mut best: Option<Vec<(String, f64)>> = None;
    for r in rows.iter().filter(|r| r.repo_dir == repo_dir) {
        match &mut best {
            None => best = Some(r.pass.clone()),
            Some(b) => {
                for (slot, (_, v)) in b.iter_mut().zip(&r.pass) {
                    // Python's max(old, new) keeps old on ties.
                    if *v > slot.1 {
                        slot.1 = *v;
                    }
                }
            }
        }
    }
    best.with_context(|| format!("no humaneval results for directory `{repo_dir}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn estimator_edge_cases() {
        assert_eq!(pass_at_k(200, 0, 1), 0.0);
        assert_eq!(pass_at_k(200, 200, 100), 1.0);
        assert_eq!(pass_at_k(10, 5, 6), 1.0);
        // pass@1 = c / n.
        assert!((pass_at_k(200, 31, 1) - 31.0 / 200.0).abs() < 1e-15);
        // 1 - C(3,2)/C(5,2) = 1 - 3/10.
        assert!((pass_at_k(5, 2, 2) - 0.7).abs() < 1e-15);
    }

    #[test]
    fn reproduces_opt_at_temperature_0_6() {
        // OPT-175B at temperature 0.6: pass@1 3.0487804878048808e-05, pass@10
        // 0.0003048780487804881, pass@100 0.003048780487804878 (opt/humaneval_temp06.json):
        // exactly one of the 164 problems solved by one of 200 samples.
        let mut correct = vec![0u64; 164];
        correct[0] = 1;
        let got: Vec<f64> = [1, 10, 100]
            .iter()
            .map(|&k| mean_pass_at_k(200, &correct, k))
            .collect();
        let want = [
            3.0487804878048808e-05,
            0.0003048780487804881,
            0.003048780487804878,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 4.0 * f64::EPSILON * w, "{g} vs {w}");
        }
    }

    proptest! {
        #[test]
        fn estimator_is_a_probability_and_monotone(n in 1u64..300, c_frac in 0.0f64..1.0, k in 1u64..300) {
            let c = ((n as f64) * c_frac) as u64;
            let k = k.min(n);
            let p = pass_at_k(n, c, k);
            prop_assert!((0.0..=1.0 + 1e-12).contains(&p));
            if k < n {
                prop_assert!(pass_at_k(n, c, k + 1) >= p - 1e-12);
            }
            if c < n {
                prop_assert!(pass_at_k(n, c + 1, k) >= p - 1e-12);
            }
        }

        #[test]
        fn estimator_equals_the_binomial_ratio(n in 1u64..40, c_frac in 0.0f64..1.0, k in 1u64..40) {
            let c = ((n as f64) * c_frac) as u64;
            let k = k.min(n);
            // 1 - C(n-c, k) / C(n, k) with exact-ish f64 binomials for small n.
            let binom = |a: u64, b: u64| -> f64 {
                if b > a { return 0.0; }
                (0..b).fold(1.0, |acc, i| acc * (a - i) as f64 / (i + 1) as f64)
            };
            let want = 1.0 - binom(n - c, k) / binom(n, k);
            prop_assert!((pass_at_k(n, c, k) - want).abs() < 1e-9);
        }
    }

    #[test]
    fn csv_errors_name_line_and_column() {
        let err = parse_csv(
            "model,repo_dir,temperature,pass@1\nb,bloom,0.2,x\n",
            "he.csv",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("he.csv: line 2: column `pass@1`"), "{err}");
        let err = parse_csv("model,repo_dir,temperature,pass@1\nb,bloom,0.2\n", "he.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2: 3 cells, expected 4"), "{err}");
        let err = parse_csv(
            "model,repo_dir,temperature,pass@1\nb,bloom,0.2,NaN\n",
            "he.csv",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 2: column `pass@1` is NaN"), "{err}");
        assert!(parse_csv("a,b\n", "he.csv").is_err());
        let rows = parse_csv("model,repo_dir,temperature,pass@1\n", "he.csv").unwrap();
        assert!(best_per_k(&rows, "bloom").is_err());
    }
}
