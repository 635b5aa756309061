//! ALiBi slopes (Press et al. 2022) as BLOOM computes them (`build_alibi_tensor` in
//! `transformers/models/bloom/modeling_bloom.py`, same as the paper's `get_slopes`).
//!
//! For `n` heads, with `p` the largest power of two `<= n`: the first `p` slopes are
//! `b^1, b^2, ..., b^p` with `b = 2^(-8/p)`; when `n` is not a power of two, the remaining
//! `n - p` slopes are the odd powers `e^1, e^3, ...` of `e = 2^(-8/(2p))` (BLOOM-176B has 112 heads:
//! 64 + 48).

/// The per-head ALiBi slopes.
pub fn alibi_slopes(n_heads: usize) -> Vec<f64> {
    assert!(n_heads > 0, "ALiBi needs at least one head");
    let p = 1usize << (usize::BITS - 1 - n_heads.leading_zeros());
    // BLOOM: base = 2 ** (-(2 ** -(log2(p) - 3))) = 2^(-8/p).
    let base = 2f64.powf(-(2f64.powf(-((p as f64).log2() - 3.0))));
    let mut slopes: Vec<f64> = (1..=p).map(|k| base.powi(k as i32)).collect();
    if p != n_heads {
        let extra_base = 2f64.powf(-(2f64.powf(-((2 * p) as f64).log2() + 3.0)));
        let remaining = (n_heads - p).min(p);
        slopes.extend((0..remaining).map(|i| extra_base.powi((2 * i + 1) as i32)));
    }
    slopes
}

/// Additive attention bias `[heads, t, t]`, row-major: `-slope_h * (i - j)` for key `j <= i`
/// (future keys are masked by causality anyway and get 0). BLOOM adds `slope_h * j` instead; the
/// two differ by `slope_h * i`, constant along each softmax row, so the attention weights are equal
/// (documented in the crate README). The relative form keeps magnitudes bounded.
pub fn alibi_bias(n_heads: usize, t: usize) -> Vec<f64> {
    let slopes = alibi_slopes(n_heads);
    let mut out = vec![0.0; n_heads * t * t];
    for (h, s) in slopes.iter().enumerate() {
        for i in 0..t {
            for j in 0..=i {
                out[(h * t + i) * t + j] = -s * (i - j) as f64;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn power_of_two_heads() {
        // 8 heads: 2^-1, 2^-2, ..., 2^-8 (ALiBi paper).
        let s = alibi_slopes(8);
        for (k, v) in s.iter().enumerate() {
            assert!((v - 2f64.powi(-(k as i32 + 1))).abs() < 1e-15);
        }
        // 16 heads: 2^-0.5, 2^-1, ...
        let s = alibi_slopes(16);
        assert!((s[0] - 2f64.powf(-0.5)).abs() < 1e-15);
        assert!((s[15] - 2f64.powi(-8)).abs() < 1e-15);
    }

    #[test]
    fn bloom_176b_112_heads() {
        let s = alibi_slopes(112);
        assert_eq!(s.len(), 112);
        // First 64: 2^(-8k/64) = 2^(-k/8).
        assert!((s[0] - 2f64.powf(-0.125)).abs() < 1e-15);
        assert!((s[63] - 2f64.powi(-8)).abs() < 1e-15);
        // Then odd powers of 2^(-8/128) = 2^(-1/16): 2^(-1/16), 2^(-3/16), ..., 2^(-95/16).
        assert!((s[64] - 2f64.powf(-1.0 / 16.0)).abs() < 1e-15);
        assert!((s[111] - 2f64.powf(-95.0 / 16.0)).abs() < 1e-15);
    }

    #[test]
    fn non_power_of_two_small() {
        // 12 heads: 8 slopes of base 2^-1, then 4 odd powers of 2^-0.5.
        let s = alibi_slopes(12);
        assert_eq!(s.len(), 12);
        let want_extra = [-0.5f64, -1.5, -2.5, -3.5];
        for (i, e) in want_extra.iter().enumerate() {
            assert!((s[8 + i] - 2f64.powf(*e)).abs() < 1e-15);
        }
    }

    proptest! {
        #[test]
        fn slopes_in_unit_interval_and_count(n in 1usize..300) {
            let s = alibi_slopes(n);
            prop_assert_eq!(s.len(), n);
            for v in &s {
                prop_assert!(*v > 0.0 && *v < 1.0 + 1e-12);
            }
        }
    }

    #[test]
    fn bias_is_relative_and_causal() {
        let b = alibi_bias(2, 3);
        let s = alibi_slopes(2);
        // head 1, query 2, key 0: -s1 * 2
        assert_eq!(b[(3 + 2) * 3], -s[1] * 2.0);
        // diagonal is 0, future is 0.
        assert_eq!(b[4], 0.0);
        assert_eq!(b[1], 0.0);
    }
}
