//! The metrics of the two tasks, with the reference implementations' semantics:
//! PubMedQA's `evaluation.py` (scikit-learn `accuracy_score`, `f1_score(average="macro")`), BIOSSES
//! Pearson and Spearman (SciPy `pearsonr`, `spearmanr` with `rankdata(method="average")`), plus
//! seeded percentile bootstrap intervals and NumPy's median / percentile.

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;

/// Fraction of positions where `pred` equals `truth`.
pub fn accuracy<T: PartialEq>(truth: &[T], pred: &[T]) -> Result<f64> {
    same_len(truth.len(), pred.len())?;
    let hits = truth.iter().zip(pred).filter(|(a, b)| a == b).count();
    Ok(hits as f64 / truth.len() as f64)
}

fn same_len(a: usize, b: usize) -> Result<()> {
    if a != b {
        bail!("{a} true labels but {b} predictions");
    }
    if a == 0 {
        bail!("no items to score");
    }
    Ok(())
}

/// scikit-learn `f1_score(truth, pred, average="macro")`: the unweighted mean over the labels
/// present in either list (`unique_labels`) of `2·tp / (|true| + |pred|)`, a label with neither
/// a true nor a predicted item (impossible here) or no hits scoring 0 (`zero_division="warn"`
/// returns 0).
pub fn macro_f1<T: Ord + Clone>(truth: &[T], pred: &[T]) -> Result<f64> {
    same_len(truth.len(), pred.len())?;
    let labels: BTreeSet<&T> = truth.iter().chain(pred).collect();
    let mut sum = 0.0;
    for l in &labels {
        let tp = truth
            .iter()
            .zip(pred)
            .filter(|(t, p)| t == l && p == l)
            .count();
        let n_true = truth.iter().filter(|t| t == l).count();
        let n_pred = pred.iter().filter(|p| p == l).count();
        let denom = n_true + n_pred;
        if denom > 0 {
            sum += 2.0 * tp as f64 / denom as f64;
        }
    }
    Ok(sum / labels.len() as f64)
}

/// SciPy `pearsonr(x, y).statistic`: centred, each normalised by its norm, dot product, clipped
/// to [-1, 1]. A constant input gives NaN, as SciPy does (with a warning).
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    same_len(x.len(), y.len())?;
    if x.len() < 2 {
        bail!("Pearson needs at least 2 pairs, got {}", x.len());
    }
    // SciPy returns NaN (ConstantInputWarning) when either input is constant; test equality
    // exactly, as SciPy does, rather than trusting a rounded-to-zero norm.
    if x.iter().all(|v| *v == x[0]) || y.iter().all(|v| *v == y[0]) {
        return Ok(f64::NAN);
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let xm: Vec<f64> = x.iter().map(|v| v - mx).collect();
    let ym: Vec<f64> = y.iter().map(|v| v - my).collect();
    let nx = xm.iter().map(|v| v * v).sum::<f64>().sqrt();
    let ny = ym.iter().map(|v| v * v).sum::<f64>().sqrt();
    if nx == 0.0 || ny == 0.0 {
        return Ok(f64::NAN);
    }
    let r: f64 = xm.iter().zip(&ym).map(|(a, b)| (a / nx) * (b / ny)).sum();
    Ok(r.clamp(-1.0, 1.0))
}

/// SciPy `rankdata(x, method="average")`: 1-based ranks, ties share the mean of their ranks.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    // Stable sort with a total order; NaN is not expected (scores are finite).
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        // Positions i..=j hold ranks i+1..=j+1; their mean is (i+j)/2 + 1.
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// SciPy `spearmanr(x, y).statistic`: Pearson on average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    pearson(&average_ranks(x), &average_ranks(y))
}

/// NumPy `median`: the middle value, or the mean of the two middle values.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// NumPy `percentile(xs, q)` with the default linear interpolation (`q` in 0..=100).
pub fn percentile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// A point estimate with a percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Item resamples for a bootstrap: `resamples` index vectors of length `n`, drawn with
/// replacement from ChaCha8 seeded with `seed`, so every statistic computed on the same seed sees
/// the same resamples (templates are compared on paired resamples).
pub fn bootstrap_indices(n: usize, resamples: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..resamples)
        .map(|_| (0..n).map(|_| rng.gen_range(0..n)).collect())
        .collect()
}

/// The statistic on all items and its `level` (e.g. 0.95) percentile interval over `samples`.
/// Resamples where the statistic is NaN (e.g. a constant resample for a correlation) are left
/// out of the interval.
pub fn bootstrap(
    samples: &[Vec<usize>],
    n: usize,
    level: f64,
    stat: impl Fn(&[usize]) -> f64,
) -> Estimate {
    let all: Vec<usize> = (0..n).collect();
    let value = stat(&all);
    let stats: Vec<f64> = samples
        .iter()
        .map(|s| stat(s))
        .filter(|v| !v.is_nan())
        .collect();
    let tail = (1.0 - level) / 2.0 * 100.0;
    Estimate {
        value,
        lo: percentile(&stats, tail),
        hi: percentile(&stats, 100.0 - tail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn f1_matches_sklearn_by_hand() {
        // sklearn: f1_score(["a","a","b","c"], ["a","b","b","b"], average="macro")
        // a: 2*1/(2+1)=0.6667, b: 2*1/(1+3)=0.5, c: 0 → 0.388889
        let t = ["a", "a", "b", "c"];
        let p = ["a", "b", "b", "b"];
        assert!((macro_f1(&t, &p).unwrap() - 0.3888888888888889).abs() < 1e-15);
        assert_eq!(accuracy(&t, &p).unwrap(), 0.5);
        assert!(accuracy(&t, &p[..3]).is_err());
        let empty: [&str; 0] = [];
        assert!(macro_f1(&empty, &empty).is_err());
    }

    #[test]
    fn ranks_average_ties_like_scipy() {
        // scipy.stats.rankdata([0, 2, 3, 2]) == [1, 2.5, 4, 2.5]
        assert_eq!(
            average_ranks(&[0.0, 2.0, 3.0, 2.0]),
            vec![1.0, 2.5, 4.0, 2.5]
        );
        assert_eq!(average_ranks(&[1.0, 1.0, 1.0]), vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn correlations_by_hand() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 6.0, 8.0, 10.0];
        assert!((pearson(&x, &y).unwrap() - 1.0).abs() < 1e-15);
        // scipy.stats.spearmanr([1,2,3,4,5],[5,6,7,8,7]).statistic == 0.8207826816681233
        let s = spearman(&x, &[5.0, 6.0, 7.0, 8.0, 7.0]).unwrap();
        assert!((s - 0.8207826816681233).abs() < 1e-12, "{s}");
        assert!(pearson(&x, &[1.0; 5]).unwrap().is_nan());
    }

    #[test]
    fn numpy_median_and_percentile() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        // numpy.percentile([1,2,3,4], 2.5) == 1.075
        assert!((percentile(&[4.0, 1.0, 2.0, 3.0], 2.5) - 1.075).abs() < 1e-12);
        assert_eq!(percentile(&[4.0, 1.0, 2.0, 3.0], 100.0), 4.0);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_mean() {
        let x: Vec<f64> = (0..50).map(|i| (i % 7) as f64).collect();
        let s1 = bootstrap_indices(50, 200, 7);
        assert_eq!(s1, bootstrap_indices(50, 200, 7));
        assert_ne!(s1, bootstrap_indices(50, 200, 8));
        let mean = |idx: &[usize]| idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64;
        let e = bootstrap(&s1, 50, 0.95, mean);
        assert!(e.lo < e.value && e.value < e.hi, "{e:?}");
    }

    proptest! {
        #[test]
        fn correlations_are_bounded_and_symmetric(
            v in proptest::collection::vec((-5i32..5, -5i32..5), 3..40)
        ) {
            let x: Vec<f64> = v.iter().map(|p| p.0 as f64).collect();
            let y: Vec<f64> = v.iter().map(|p| p.1 as f64).collect();
            for f in [pearson, spearman] {
                let a = f(&x, &y).unwrap();
                let b = f(&y, &x).unwrap();
                prop_assert!(a.is_nan() && b.is_nan() || (a - b).abs() < 1e-12);
                prop_assert!(a.is_nan() || (-1.0..=1.0).contains(&a));
            }
            // Ranks sum to n(n+1)/2 whatever the ties.
            let n = x.len() as f64;
            prop_assert!((average_ranks(&x).iter().sum::<f64>() - n * (n + 1.0) / 2.0).abs() < 1e-9);
        }

        #[test]
        fn f1_is_one_iff_perfect(v in proptest::collection::vec(0u8..3, 1..60), flip in 0usize..60) {
            prop_assert_eq!(macro_f1(&v, &v).unwrap(), 1.0);
            let mut p = v.clone();
            let i = flip % p.len();
            p[i] = (p[i] + 1) % 3;
            prop_assert!(macro_f1(&v, &p).unwrap() < 1.0);
            prop_assert!(accuracy(&v, &p).unwrap() < 1.0);
        }
    }
}
