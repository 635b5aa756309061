//! `mir_eval.beat` scores (mir_eval 0.8.2): `f_measure` (±70 ms, maximum bipartite matching of
//! reference and estimated beats) and `trim_beats` (drop beats before 5 s). Note that
//! `mir_eval.beat.f_measure` itself does **not** trim; `mir_eval.beat.evaluate` trims both
//! sequences first. Both variants are reported by the reproducer.

/// Beats at or after `min_beat_time` (`mir_eval.beat.trim_beats`, default 5 s).
pub fn trim_beats(beats: &[f64], min_beat_time: f64) -> Vec<f64> {
    beats
        .iter()
        .copied()
        .filter(|&b| b >= min_beat_time)
        .collect()
}

/// Size of a maximum matching between `reference` and `estimated` events with
/// `|r - e| <= window` (`mir_eval.util.match_events`; any maximum matching has this size).
pub fn match_count(reference: &[f64], estimated: &[f64], window: f64) -> usize {
    // Candidate references of each estimate.
    let adj: Vec<Vec<usize>> = estimated
        .iter()
        .map(|&e| {
            reference
                .iter()
                .enumerate()
                .filter(|(_, &r)| (r - e).abs() <= window)
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; reference.len()];
    fn augment(
        u: usize,
        adj: &[Vec<usize>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for &v in &adj[u] {
            if seen[v] {
                continue;
            }
            seen[v] = true;
            if owner[v].is_none() || augment(owner[v].expect("checked"), adj, seen, owner) {
                owner[v] = Some(u);
                return true;
            }
        }
        false
    }
    let mut count = 0;
    for u in 0..estimated.len() {
        let mut seen = vec![false; reference.len()];
        if augment(u, &adj, &mut seen, &mut owner) {
            count += 1;
        }
    }
    count
}

/// `mir_eval.beat.f_measure(reference, estimated, f_measure_threshold=window)`; 0 when either
/// sequence is empty.
pub fn f_measure(reference: &[f64], estimated: &[f64], window: f64) -> f64 {
    if reference.is_empty() || estimated.is_empty() {
        return 0.0;
    }
    let m = match_count(reference, estimated, window) as f64;
    let p = m / estimated.len() as f64;
    let r = m / reference.len() as f64;
    if p == 0.0 && r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn f_measure_basics() {
        let r = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(f_measure(&r, &r, 0.07), 1.0);
        assert_eq!(f_measure(&r, &[], 0.07), 0.0);
        // One estimate near two references matches only one of them.
        assert_eq!(match_count(&[1.0, 1.05], &[1.03], 0.07), 1);
        let f = f_measure(&r, &[1.06, 2.5, 3.0], 0.07);
        assert!((f - 2.0 * (2.0 / 3.0) * 0.5 / (2.0 / 3.0 + 0.5)).abs() < 1e-12);
        assert_eq!(trim_beats(&[1.0, 5.0, 6.0], 5.0), vec![5.0, 6.0]);
    }

    proptest! {
        #[test]
        fn matching_is_symmetric_and_bounded(
            a in proptest::collection::vec(0.0f64..10.0, 0..30),
            b in proptest::collection::vec(0.0f64..10.0, 0..30),
        ) {
            let m = match_count(&a, &b, 0.07);
            prop_assert_eq!(m, match_count(&b, &a, 0.07));
            prop_assert!(m <= a.len().min(b.len()));
            let f = f_measure(&a, &b, 0.07);
            prop_assert!((0.0..=1.0).contains(&f));
        }
    }
}
