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

    /// Megatron-DeepSpeed's `get_slopes(112)` (the code BLOOM-176B was trained with), printed by
    /// `tools/alibi_slopes_reference.py 112`.
    const MEGATRON_112: [f64; 112] = [
        0.9170040432046712,
        0.8408964152537145,
        0.7711054127039704,
        0.7071067811865475,
        0.6484197773255047,
        0.5946035575013605,
        0.5452538663326288,
        0.4999999999999999,
        0.45850202160233555,
        0.4204482076268572,
        0.38555270635198513,
        0.3535533905932737,
        0.32420988866275235,
        0.2973017787506802,
        0.27262693316631437,
        0.24999999999999994,
        0.22925101080116772,
        0.21022410381342857,
        0.19277635317599254,
        0.1767766952966368,
        0.16210494433137615,
        0.14865088937534007,
        0.13631346658315716,
        0.12499999999999994,
        0.11462550540058385,
        0.10511205190671426,
        0.09638817658799625,
        0.08838834764831839,
        0.08105247216568806,
        0.07432544468767002,
        0.06815673329157856,
        0.062499999999999965,
        0.057312752700291916,
        0.05255602595335713,
        0.04819408829399812,
        0.04419417382415919,
        0.040526236082844024,
        0.037162722343835004,
        0.03407836664578928,
        0.031249999999999976,
        0.028656376350145955,
        0.02627801297667856,
        0.024097044146999057,
        0.022097086912079594,
        0.020263118041422012,
        0.0185813611719175,
        0.017039183322894638,
        0.015624999999999988,
        0.014328188175072976,
        0.013139006488339279,
        0.012048522073499527,
        0.011048543456039795,
        0.010131559020711004,
        0.00929068058595875,
        0.008519591661447317,
        0.007812499999999992,
        0.007164094087536487,
        0.0065695032441696385,
        0.0060242610367497625,
        0.005524271728019897,
        0.005065779510355501,
        0.004645340292979374,
        0.004259795830723658,
        0.0039062499999999952,
        0.9576032806985737,
        0.8781260801866498,
        0.8052451659746274,
        0.73841307296975,
        0.6771277734684467,
        0.6209289060367423,
        0.5693943173783462,
        0.5221368912137074,
        0.4788016403492873,
        0.4390630400933253,
        0.40262258298731407,
        0.3692065364848753,
        0.33856388673422366,
        0.3104644530183715,
        0.28469715868917334,
        0.2610684456068539,
        0.23940082017464384,
        0.21953152004666288,
        0.2013112914936572,
        0.1846032682424378,
        0.169281943367112,
        0.1552322265091859,
        0.1423485793445868,
        0.13053422280342705,
        0.11970041008732203,
        0.10976576002333152,
        0.10065564574682868,
        0.09230163412121899,
        0.08464097168355605,
        0.07761611325459301,
        0.07117428967229347,
        0.0652671114017136,
        0.05985020504366107,
        0.05488288001166581,
        0.05032782287341439,
        0.046150817060609535,
        0.04232048584177807,
        0.038808056627296535,
        0.03558714483614677,
        0.032633555700856826,
        0.02992510252183056,
        0.027441440005832932,
        0.02516391143670722,
        0.023075408530304785,
        0.021160242920889055,
        0.019404028313648285,
        0.0177935724180734,
        0.016316777850428427,
    ];

    #[test]
    fn bloom_176b_112_heads_match_megatron_deepspeed() {
        let s = alibi_slopes(112);
        for (h, (&ours, &theirs)) in s.iter().zip(MEGATRON_112.iter()).enumerate() {
            // Megatron multiplies `start * ratio ** i` in f64, we take `base.powi(k)`: rounding
            // differs in the last bits (Megatron's 8th slope is 0.4999999999999999, not 0.5; its
            // largest deviation from the exact 2^(-k/8), 2^(-(2i+1)/16) is 5.3e-15 relative) ...
            assert!(
                (ours - theirs).abs() <= 1e-14 * theirs,
                "head {h}: {ours} vs {theirs}"
            );
            // ... and exactly in the f32 the model computes in.
            assert_eq!(ours as f32, theirs as f32, "head {h}");
        }
        // Head 64 starts the interleaved half: Megatron's get_slopes(128)[0::2].
        assert_eq!(MEGATRON_112[64] as f32, 2f64.powf(-1.0 / 16.0) as f32);
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
