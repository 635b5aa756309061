//! Conformance against the committed fixtures made by `tools/make_fixtures.py` (numpy / scipy /
//! librosa 0.11.0): MusicLDM's mel front end on the five clips, the metrics, and librosa's onset
//! envelope frame by frame.

use lmrepro_data::testing;
use lmrepro_musicldm::audio::{load, resample};
use lmrepro_musicldm::beat::{beat_track, BeatParams};
use lmrepro_musicldm::mel::{fbank, MelConfig, TacotronStft};
use lmrepro_musicldm::metrics::{
    frechet_distance, kl_divergence, mean_pair_cosine, nearest_train_similarity, novelty_rate,
    KlKind,
};
use lmrepro_musicldm::reproduce::mel_fixture_diff;
use lmrepro_musicldm::CLIPS;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// Tolerance of the front end: max |Δ log-mel| <= 1e-6 against the float64 numpy port.
const MEL_TOL: f64 = 1e-6;

#[test]
fn mel_front_end_matches_the_numpy_port_on_five_clips() {
    let fx = fixture("mel_reference.json");
    let cfg =
        MelConfig::from_yaml(&testing::input("musicldm", "musicldm/config/musicldm.yaml")).unwrap();
    cfg.check_hifigan(&testing::input(
        "musicldm",
        "musicldm/config/hifigan_config_16k_64.json",
    ))
    .unwrap();
    assert_eq!(
        (cfg.sampling_rate, cfg.filter_length, cfg.hop_length),
        (16000, 1024, 160)
    );
    assert_eq!((cfg.n_mel_channels, cfg.target_length), (64, 1024));
    let mut stft = TacotronStft::new(&cfg);
    for name in CLIPS {
        let c = &fx["clips"][name];
        let clip = load(&testing::input(
            "musicldm",
            &format!("musicldm/audio/{name}"),
        ))
        .unwrap();
        let wav = resample(&clip.samples, clip.sample_rate, 16000).unwrap();
        // The fixture was computed on exactly these samples (written by examples/export_16k).
        assert_eq!(
            wav.len() as u64,
            c["n_samples_16k"].as_u64().unwrap(),
            "{name}"
        );
        let sum: f64 = wav.iter().map(|&v| v as f64).sum();
        let sq: f64 = wav.iter().map(|&v| (v as f64).powi(2)).sum();
        assert!(
            (sum - c["wav_sum"].as_f64().unwrap()).abs() < 1e-6,
            "{name}: waveform changed; regenerate the fixture"
        );
        assert!(
            rel(sq, c["wav_sum_sq"].as_f64().unwrap()) < 1e-9,
            "{name}: waveform changed"
        );
        let m = fbank(&mut stft, &wav).unwrap();
        assert_eq!(m.len(), 1024);
        let d = mel_fixture_diff(name, &m).unwrap();
        assert!(d <= MEL_TOL, "{name}: max |diff| {d:e}");
        eprintln!("{name}: max |log-mel diff| {d:.2e}");
        let all: Vec<f64> = m.iter().flatten().copied().collect();
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        assert!(
            (mean - c["mean"].as_f64().unwrap()).abs() < MEL_TOL,
            "{name}"
        );
        let lo = all.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = all.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        assert!((lo - c["min"].as_f64().unwrap()).abs() < MEL_TOL, "{name}");
        assert!((hi - c["max"].as_f64().unwrap()).abs() < MEL_TOL, "{name}");
    }
}

#[test]
fn metrics_equal_numpy_scipy_to_1e6_relative() {
    let fx = fixture("metrics_reference.json");
    for case in fx["frechet"].as_array().unwrap() {
        let fd = frechet_distance(&rows(&case["x"]), &rows(&case["y"])).unwrap();
        let want = case["fd"].as_f64().unwrap();
        assert!(rel(fd, want) < 1e-6, "FD {fd} vs scipy {want}");
    }
    let k = &fx["kl"];
    let (g, r) = (rows(&k["gen_logits"]), rows(&k["ref_logits"]));
    for (kind, key) in [(KlKind::Softmax, "softmax"), (KlKind::Sigmoid, "sigmoid")] {
        let v = kl_divergence(&g, &r, kind).unwrap();
        assert!(rel(v, k[key].as_f64().unwrap()) < 1e-6, "KL {key}");
    }
    let c = &fx["cosine"];
    let s = mean_pair_cosine(&rows(&c["text"]), &rows(&c["audio"])).unwrap();
    assert!(rel(s, c["mean_pair_cosine"].as_f64().unwrap()) < 1e-6);
    let n = &fx["novelty"];
    let (gen, train) = (rows(&n["generated"]), rows(&n["train"]));
    let near = nearest_train_similarity(&gen, &train).unwrap();
    for (a, b) in near.iter().zip(n["nearest"].as_array().unwrap()) {
        assert!(rel(*a, b.as_f64().unwrap()) < 1e-6);
    }
    for t in ["0.90", "0.95"] {
        let rate = novelty_rate(&gen, &train, t.parse().unwrap()).unwrap();
        assert_eq!(
            rate,
            n[format!("rate_{t}")].as_f64().unwrap(),
            "rate at {t}"
        );
    }
}

#[test]
fn onset_envelope_matches_librosa_frame_by_frame() {
    let fx = fixture("onset_trumpet.json");
    let name = fx["file"].as_str().unwrap();
    let clip = load(&testing::input(
        "musicldm",
        &format!("musicldm/audio/{name}"),
    ))
    .unwrap();
    let b = beat_track(&clip, &BeatParams::default()).unwrap();
    let want: Vec<f64> = fx["onset_envelope"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(b.onset_envelope.len(), want.len());
    let top = want.iter().cloned().fold(0.0, f64::max);
    let worst = b
        .onset_envelope
        .iter()
        .zip(&want)
        .map(|(a, w)| (a - w).abs())
        .fold(0.0, f64::max);
    eprintln!("onset envelope: max |diff| {worst:.2e} (peak {top:.3})");
    for (t, (a, w)) in b.onset_envelope.iter().zip(&want).enumerate() {
        // librosa runs in float32 and decodes with libvorbis; 1e-4 of the envelope's peak.
        assert!((a - w).abs() <= 1e-4 * top, "frame {t}: {a} vs {w}");
    }
    assert_eq!(b.tempo_bpm, fx["tempo_bpm"].as_f64().unwrap());
    let frames: Vec<usize> = fx["beat_frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(b.beat_frames, frames);
}
