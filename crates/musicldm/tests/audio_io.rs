//! Decoding: real clips, WAV round trips, and clear errors for bad files.

use lmrepro_data::testing;
use lmrepro_musicldm::audio::{load, resample, write_wav, MonoReader};

fn trumpet() -> std::path::PathBuf {
    testing::input("musicldm", "musicldm/audio/sorohanro_-_solo-trumpet-06.ogg")
}

fn err_of(path: &std::path::Path) -> String {
    format!("{:#}", load(path).unwrap_err())
}

#[test]
fn empty_wrong_format_and_truncated_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.ogg");
    std::fs::write(&empty, b"").unwrap();
    let e = err_of(&empty);
    assert!(e.contains("empty.ogg") && e.contains("empty file"), "{e}");

    let text = dir.path().join("notes.wav");
    std::fs::write(&text, b"hello, not audio").unwrap();
    let e = err_of(&text);
    assert!(
        e.contains("notes.wav") && e.contains("unsupported format at byte 0"),
        "{e}"
    );

    // An Ogg Vorbis file cut in the middle of a page.
    let bytes = std::fs::read(trumpet()).unwrap();
    let cut = dir.path().join("cut.ogg");
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 7]).unwrap();
    let e = err_of(&cut);
    assert!(e.contains("cut.ogg"), "{e}");
    assert!(e.contains("truncated") || e.contains("decode error"), "{e}");

    // Only the Ogg headers: no audio.
    let head = dir.path().join("head.ogg");
    std::fs::write(&head, &bytes[..40]).unwrap();
    let e = err_of(&head);
    assert!(e.contains("head.ogg"), "{e}");

    // A WAV whose header promises more samples than the file holds.
    let wav = dir.path().join("short.wav");
    write_wav(&wav, 16000, &vec![0.25f32; 4000]).unwrap();
    let full = std::fs::read(&wav).unwrap();
    std::fs::write(&wav, &full[..full.len() - 1000]).unwrap();
    let e = err_of(&wav);
    assert!(e.contains("short.wav") && e.contains("sample frame"), "{e}");
}

#[test]
fn wav_round_trip_stereo_mixdown_and_resampling() {
    let dir = tempfile::tempdir().unwrap();
    // 16-bit stereo: left 0.5, right -0.25 -> mono 0.125 (librosa.to_mono averages).
    let p = dir.path().join("st.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 22050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&p, spec).unwrap();
    for _ in 0..1000 {
        w.write_sample(16384i16).unwrap();
        w.write_sample(-8192i16).unwrap();
    }
    w.finalize().unwrap();
    let c = load(&p).unwrap();
    assert_eq!(c.sample_rate, 22050);
    assert_eq!(c.samples.len(), 1000);
    assert!(c.samples.iter().all(|&v| (v - 0.125).abs() < 1e-7));
    let r = MonoReader::open(&p).unwrap();
    assert_eq!(r.channels(), 2);

    // A 440 Hz sine survives 22.05 -> 16 kHz with its length and level.
    let x: Vec<f32> = (0..22050)
        .map(|i| (0.5 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 22050.0).sin()) as f32)
        .collect();
    let y = resample(&x, 22050, 16000).unwrap();
    assert_eq!(y.len(), 16000);
    for (i, v) in y.iter().enumerate().skip(200).take(15000) {
        let want = 0.5 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 16000.0).sin();
        assert!((*v as f64 - want).abs() < 2e-3, "sample {i}: {v} vs {want}");
    }
}
