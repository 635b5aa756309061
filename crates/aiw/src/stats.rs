//! Correct-response rates and the repo's uncertainty bands.
//!
//! Upstream (`scripts/plot.py`, `get_model_data`): for the `n` responses of a model (pooled over
//! the selected prompt ids) with correct-rate `p`,
//!
//! ```python
//! std = np.sqrt(p*(1-p)/n)
//! rv = optimize.root(f, [1, 1], args=(p, p*(1-p)/n)).x   # Beta with mean p, variance p(1-p)/n
//! if alpha > 0 and beta > 0: data = stats.beta.rvs(alpha, beta, size=1000)
//! else:                      data = np.random.normal(loc=p, scale=std, size=1000)
//! ```
//!
//! and the box plot draws those 1000 samples. The root has a closed form: mean `p` and variance
//! `p(1-p)/n` give `alpha + beta + 1 = n`, i.e. `alpha = p(n-1)`, `beta = (1-p)(n-1)`; for
//! `0 < p < 1`, `n ≥ 2` scipy's `hybr` converges to it (checked against scipy for every (k, n) of
//! the summary, `tests/fixtures/scipy_roots.json`). At `p ∈ {0, 1}` scipy stops at a degenerate
//! root (alpha ≈ 2.7e-20, beta ≈ 29.9 for p = 0; mirrored for p = 1), both positive, so upstream
//! samples a Beta whose draws are numerically all `p`: we draw the point mass `p` directly.
//! The Normal fallback is kept for the remaining case (`n < 2` with `0 < p < 1`, impossible for
//! 0/1 data but reachable through the API).
//!
//! Upstream's sampler is unseeded; ours is ChaCha8 seeded from (recipe seed, group key), so the
//! bands are reproducible and independent of the order groups are computed in.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Normal};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The distribution upstream draws its box-plot samples from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum BandFit {
    Beta {
        alpha: f64,
        beta: f64,
    },
    /// `p ∈ {0, 1}`: upstream's degenerate Beta, numerically a point mass.
    Point {
        p: f64,
    },
    Normal {
        mean: f64,
        std: f64,
    },
}

/// Fits the band distribution for `k` correct out of `n`.
pub fn fit(k: u64, n: u64) -> BandFit {
    let nf = n as f64;
    let p = if n == 0 { 0.0 } else { k as f64 / nf };
    if n == 0 || k == 0 || k == n {
        return BandFit::Point { p };
    }
    let alpha = p * (nf - 1.0);
    let beta = (1.0 - p) * (nf - 1.0);
    if alpha > 0.0 && beta > 0.0 {
        BandFit::Beta { alpha, beta }
    } else {
        BandFit::Normal {
            mean: p,
            std: (p * (1.0 - p) / nf).sqrt(),
        }
    }
}

/// Seed of the band of one group: the first 8 bytes of sha256(seed ‖ key).
pub fn group_seed(seed: u64, key: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(key.as_bytes());
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Draws `size` samples of the band (upstream: `size=1000`).
pub fn sample(fit: BandFit, size: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    match fit {
        BandFit::Point { p } => vec![p; size],
        BandFit::Beta { alpha, beta } => {
            let d = Beta::new(alpha, beta).expect("positive parameters");
            (0..size).map(|_| d.sample(&mut rng)).collect()
        }
        BandFit::Normal { mean, std } => {
            let d = Normal::new(mean, std.max(0.0)).expect("finite std");
            (0..size).map(|_| d.sample(&mut rng)).collect()
        }
    }
}

/// numpy's default (`linear`) percentile of sorted data.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// What seaborn's box plot shows for the samples (matplotlib `boxplot_stats`, `whis=1.5`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoxStats {
    pub mean: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub whisker_lo: f64,
    pub whisker_hi: f64,
}

pub fn box_stats(samples: &[f64]) -> BoxStats {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let q1 = percentile(&s, 25.0);
    let median = percentile(&s, 50.0);
    let q3 = percentile(&s, 75.0);
    let iqr = q3 - q1;
    let lo_lim = q1 - 1.5 * iqr;
    let hi_lim = q3 + 1.5 * iqr;
    // Whiskers reach the most extreme data within 1.5 IQR of the box (and never inside it).
    let whisker_lo = s
        .iter()
        .copied()
        .find(|&x| x >= lo_lim)
        .unwrap_or(q1)
        .min(q1);
    let whisker_hi = s
        .iter()
        .rev()
        .copied()
        .find(|&x| x <= hi_lim)
        .unwrap_or(q3)
        .max(q3);
    let mean = if s.is_empty() {
        f64::NAN
    } else {
        s.iter().sum::<f64>() / s.len() as f64
    };
    BoxStats {
        mean,
        q1,
        median,
        q3,
        whisker_lo,
        whisker_hi,
    }
}

/// Rate and band of one group of responses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Band {
    pub n: u64,
    pub k: u64,
    pub rate: f64,
    pub fit: BandFit,
    pub stats: BoxStats,
    #[serde(skip)]
    pub samples: Vec<f64>,
}

/// Rate + seeded band for `k` of `n`.
pub fn band(k: u64, n: u64, size: usize, seed: u64, key: &str) -> Band {
    let f = fit(k, n);
    let samples = sample(f, size, group_seed(seed, key));
    Band {
        n,
        k,
        rate: if n == 0 { 0.0 } else { k as f64 / n as f64 },
        fit: f,
        stats: box_stats(&samples),
        samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn degenerate_rates_are_point_masses() {
        assert_eq!(fit(0, 60), BandFit::Point { p: 0.0 });
        assert_eq!(fit(60, 60), BandFit::Point { p: 1.0 });
        let b = band(0, 60, 1000, 1, "x");
        assert_eq!(b.stats.median, 0.0);
        assert_eq!(b.stats.whisker_hi, 0.0);
    }

    #[test]
    fn seeded_and_order_independent() {
        let a = band(19, 60, 1000, 7, "m|88");
        let b = band(19, 60, 1000, 7, "m|88");
        assert_eq!(a, b);
        let c = band(19, 60, 1000, 8, "m|88");
        assert_ne!(a.samples, c.samples);
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        // np.percentile([1,2,3,4], [25,50,75]) == [1.75, 2.5, 3.25]
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&s, 25.0), 1.75);
        assert_eq!(percentile(&s, 50.0), 2.5);
        assert_eq!(percentile(&s, 75.0), 3.25);
    }

    proptest! {
        #[test]
        fn beta_fit_has_mean_p_and_variance_p1p_over_n(n in 2u64..500, k0 in 1u64..499) {
            let k = 1 + k0 % (n - 1);
            let p = k as f64 / n as f64;
            if let BandFit::Beta { alpha, beta } = fit(k, n) {
                let mean = alpha / (alpha + beta);
                let var = alpha * beta / ((alpha + beta).powi(2) * (alpha + beta + 1.0));
                prop_assert!((mean - p).abs() < 1e-12);
                prop_assert!((var - p * (1.0 - p) / n as f64).abs() < 1e-12);
            } else {
                prop_assert!(false, "interior rate must fit a Beta");
            }
        }

        #[test]
        fn box_stats_are_ordered(k in 0u64..=40, seed in 0u64..1000) {
            let b = band(k, 40, 200, seed, "g");
            let s = b.stats;
            prop_assert!(s.whisker_lo <= s.q1 && s.q1 <= s.median && s.median <= s.q3 && s.q3 <= s.whisker_hi);
            prop_assert!((0.0..=1.0).contains(&s.median));
        }
    }
}
