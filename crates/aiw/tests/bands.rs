//! The closed-form Beta fit equals scipy's numerical root used by AIW's plot script.

use lmrepro_aiw::stats::{fit, BandFit};

#[derive(serde::Deserialize)]
struct Root {
    k: u64,
    n: u64,
    alpha: f64,
    beta: f64,
    beta_branch: bool,
}

#[test]
fn closed_form_matches_scipy_root() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/scipy_roots.json"
    ))
    .unwrap();
    let roots: Vec<Root> = serde_json::from_str(&text).unwrap();
    assert!(roots.len() > 100);
    let mut interior = 0;
    for r in &roots {
        assert!(
            r.beta_branch,
            "upstream takes the Beta branch for every summary pair"
        );
        match fit(r.k, r.n) {
            BandFit::Beta { alpha, beta } => {
                interior += 1;
                assert!(
                    (alpha - r.alpha).abs() <= 1e-6 * alpha.max(1.0),
                    "{} {}: {alpha} vs {}",
                    r.k,
                    r.n,
                    r.alpha
                );
                assert!(
                    (beta - r.beta).abs() <= 1e-6 * beta.max(1.0),
                    "{} {}: {beta} vs {}",
                    r.k,
                    r.n,
                    r.beta
                );
            }
            BandFit::Point { p } => {
                // scipy's degenerate root: one parameter ~0, so every Beta draw is numerically p.
                assert!(r.k == 0 || r.k == r.n);
                let mean = r.alpha / (r.alpha + r.beta);
                assert!((mean - p).abs() < 1e-12, "{} {}: mean {mean}", r.k, r.n);
            }
            BandFit::Normal { .. } => panic!("no Normal fallback expected for {} {}", r.k, r.n),
        }
    }
    assert!(interior > 50);
}
