//! CPython's `float` printing and rounding, and `statistics.median`.
//!
//! - [`repr`]: `repr(x)` / `str(x)` of a float (CPython's `float_repr`: the shortest digit string
//!   that reads back as `x`, fixed notation for decimal exponents -4 ≤ e < 16, otherwise
//!   `d.ddde±XX` with at least two exponent digits; `inf`, `nan`, `-0.0`). Rust's `{}` differs
//!   (`1e16` prints as `10000000000000000`, `0.0` as `0`), so tables that BigScience wrote with
//!   Python's `format` go through here.
//! - [`round`]: `round(x, ndigits)` for `ndigits >= 0` (CPython's `double_round`: the correctly
//!   rounded decimal string, ties to even on the exact binary value, read back as a float).
//! - [`median`]: `statistics.median` (sort, middle element, or the mean `(a + b) / 2` of the two
//!   middle ones).

/// `repr(x)` of a Python float.
pub fn repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` without precision prints the shortest round-trip digits (like CPython's
    // `repr` mode 0): `d[.ddd]e[-]X`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    // CPython's `format_float_short`: `decpt` is the position of the decimal point after the
    // first digit counted from the left; exponent notation iff decpt <= -4 or decpt > 16.
    let decpt = exp + 1;
    let body = if decpt <= -4 || decpt > 16 {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{first}{frac}e{esign}{:02}", exp.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else {
        let d = decpt as usize;
        if digits.len() <= d {
            format!("{digits}{}.0", "0".repeat(d - digits.len()))
        } else {
            format!("{}.{}", &digits[..d], &digits[d..])
        }
    };
    format!("{sign}{body}")
}

/// `round(x, ndigits)` of a Python float, `ndigits >= 0`.
pub fn round(x: f64, ndigits: u32) -> f64 {
    // CPython returns x unchanged when rounding cannot change it (non-finite, or more digits
    // than a double carries: NDIGITS_MAX = 323).
    if !x.is_finite() || ndigits > 323 {
        return x;
    }
    // Rust's fixed-precision formatting is exact (Grisu with Dragon4 fallback) and rounds ties
    // of the exact binary value to even, which is what `_Py_dg_dtoa(x, 3, ndigits)` does; the
    // string is then read back correctly rounded, like `_Py_dg_strtod`.
    let s = format!("{:.*}", ndigits as usize, x);
    s.parse().expect("formatted float parses")
}

/// Why [`median`] refused its data (where Python would raise or silently misorder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MedianError {
    /// `statistics.StatisticsError: no median for empty data`.
    Empty,
    /// A NaN makes Python's `sorted` order depend on the input order; refused instead.
    NaN,
}

impl std::fmt::Display for MedianError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MedianError::Empty => write!(f, "no median for empty data"),
            MedianError::NaN => write!(f, "NaN in the data of a median"),
        }
    }
}

impl std::error::Error for MedianError {}

/// `statistics.median(data)` (Python 3.11).
pub fn median(data: &[f64]) -> Result<f64, MedianError> {
    if data.is_empty() {
        return Err(MedianError::Empty);
    }
    if data.iter().any(|v| v.is_nan()) {
        return Err(MedianError::NaN);
    }
    let mut v = data.to_vec();
    // Stable like `sorted` (only -0.0 / 0.0 ties could show the difference).
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    Ok(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn repr_matches_cpython() {
        // `repr(x)` printed by CPython 3.11.7.
        let cases: &[(f64, &str)] = &[
            (0.39, "0.39"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e-05, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (1e22, "1e+22"),
            (1.5e-7, "1.5e-07"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.1 + 0.2, "0.30000000000000004"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (100.0, "100.0"),
            (-2.5, "-2.5"),
            (12.031, "12.031"),
            (3.0487804878048808e-05, "3.0487804878048808e-05"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for &(x, want) in cases {
            assert_eq!(repr(x), want, "{x:e}");
        }
    }

    #[test]
    fn round_matches_cpython() {
        // `round(x, n)` of CPython 3.11.7: ties go to even on the exact binary value.
        let cases: &[(f64, u32, f64)] = &[
            (0.0625, 3, 0.062),
            (0.125, 2, 0.12),
            (0.375, 2, 0.38),
            (2.5, 0, 2.0),
            (0.0005, 3, 0.001),
            (0.0015, 3, 0.002),
            (1.0005, 3, 1.0),
            (2.675, 2, 2.67),
            (0.4112627986348123, 3, 0.411),
            (1e-05, 3, 0.0),
        ];
        for &(x, n, want) in cases {
            assert_eq!(round(x, n).to_bits(), want.to_bits(), "round({x}, {n})");
        }
        assert_eq!(repr(round(-1e-5, 3)), "-0.0");
        assert!(round(f64::NAN, 3).is_nan());
    }

    #[test]
    fn median_is_statistics_median() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Ok(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Ok(2.5));
        assert_eq!(median(&[0.1, 0.2]), Ok((0.1 + 0.2) / 2.0));
        assert_eq!(median(&[]), Err(MedianError::Empty));
        assert_eq!(median(&[1.0, f64::NAN]), Err(MedianError::NaN));
    }

    proptest! {
        #[test]
        fn repr_round_trips(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assume!(x.is_finite());
            let s = repr(x);
            prop_assert_eq!(s.parse::<f64>().unwrap().to_bits(), x.to_bits(), "{}", s);
            // Fixed notation always has a point; exponent notation has a sign and 2+ digits.
            if let Some((_, e)) = s.split_once('e') {
                prop_assert!(e.starts_with('-') || e.starts_with('+'));
                prop_assert!(e.len() >= 3);
            } else {
                prop_assert!(s.contains('.'));
            }
        }

        #[test]
        fn round_is_within_half_unit(x in -1e6f64..1e6, n in 0u32..6) {
            let r = round(x, n);
            let unit = 10f64.powi(-(n as i32));
            prop_assert!((r - x).abs() <= unit / 2.0 * (1.0 + 1e-9));
            prop_assert_eq!(round(r, n).to_bits(), r.to_bits());
        }
    }
}
