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

/// An 8-bit mono PCM WAV of `n` samples at any declared rate (hound's writer overflows its byte
/// rate above 1 GHz, so the header is written by hand: what a hostile file would hold).
fn wav_8bit_mono(rate: u32, n: u32) -> Vec<u8> {
    let mut fmt: Vec<u8> = vec![];
    for (v, width) in [(1, 2), (1, 2), (rate, 4), (rate, 4), (1, 2), (8, 2)] {
        fmt.extend(&u32::to_le_bytes(v)[..width]);
    }
    let mut body: Vec<u8> = b"WAVEfmt ".to_vec();
    body.extend(16u32.to_le_bytes());
    body.extend(fmt);
    body.extend(b"data");
    body.extend(n.to_le_bytes());
    body.extend((0..n).map(|i| (i * 7) as u8));
    let mut out: Vec<u8> = b"RIFF".to_vec();
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

/// Fuzz findings (issue 19, `audio_decode`; inputs in `fuzz/regressions/audio_decode/`): a WAV
/// header declaring 4 GHz made the resampler allocate 32 GB (an abort), 1 Hz an 8M-point FFT per
/// two samples. Rates outside 1 kHz – 768 kHz are now an error naming file and rate; both ends
/// of the range still decode.
#[test]
fn sample_rates_outside_1khz_to_768khz_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (rate, ok) in [
        (1, false),
        (999, false),
        (1_000, true),
        (768_000, true),
        (768_001, false),
        (4_000_000_007, false),
    ] {
        let p = dir.path().join(format!("r{rate}.wav"));
        std::fs::write(&p, wav_8bit_mono(rate, 64)).unwrap();
        match load(&p) {
            Ok(clip) => {
                assert!(ok, "{rate} Hz loaded");
                assert_eq!((clip.sample_rate, clip.samples.len()), (rate, 64));
            }
            Err(e) => {
                let e = format!("{e:#}");
                assert!(!ok, "{rate} Hz: {e}");
                assert!(
                    e.contains(&format!("r{rate}.wav")) && e.contains(&format!("{rate} Hz")),
                    "{e}"
                );
            }
        }
    }
}

/// Fuzz finding (issue 19, `audio_decode`, crash-f958b6bc… in 31 executions; input
/// `fuzz/regressions/audio_decode/crash-nonfinite-float-wav-rubato-fft`): a float WAV holding
/// NaN / inf samples decoded, and resampling it panicked inside rubato ("Imaginary part of first
/// value was non-zero"). Non-finite samples are now an error naming file and sample, as librosa's
/// `util.valid_audio` refuses them; `resample` refuses them too.
#[test]
fn non_finite_samples_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let p = dir.path().join("nan.wav");
        let mut x = vec![0.25f32; 40_000];
        x[35_000] = bad;
        write_wav(&p, 16_000, &x).unwrap();
        let e = err_of(&p);
        assert!(
            e.contains("nan.wav") && e.contains("sample 35000") && e.contains("not finite"),
            "{e}"
        );
        let e = format!("{:#}", resample(&x, 22_050, 16_000).unwrap_err());
        assert!(e.contains("sample 35000"), "{e}");
    }
}

/// Fuzz finding (issue 19, `audio_decode`, crash-17ef817a… after 3,160 executions; input
/// `fuzz/regressions/audio_decode/oom-vorbis-comment-count-lewton`, its Ogg CRCs recomputed since
/// the fuzz build skips them): lewton sized a vector from the Vorbis comment header's count
/// before reading it and asked for 206 GB (abort). The header's lengths are now checked against
/// the packet first; a real clip still decodes.
#[test]
fn vorbis_comment_lengths_past_the_packet_are_clear_errors() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/audio_decode/oom-vorbis-comment-count-lewton");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("comments.ogg");
    std::fs::copy(&src, &p).unwrap();
    let e = err_of(&p);
    assert!(
        e.contains("comments.ogg") && e.contains("Vorbis comment header declares"),
        "{e}"
    );
    assert!(load(&trumpet()).is_ok());
}

/// Fuzz finding (issue 19, `audio_decode`, crash-49a84086… after 43,605 executions; input
/// `fuzz/regressions/audio_decode/oom-vorbis-codebook-lookup-lewton`, Ogg CRCs recomputed): lewton
/// sized a codebook's lookup table from the setup header before reading it and asked for 48 GB
/// (abort). The codebooks are now walked first, with libvorbis's size rule; every pinned clip
/// still decodes.
#[test]
fn vorbis_codebooks_beyond_their_packet_are_clear_errors() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/audio_decode/oom-vorbis-codebook-lookup-lewton");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("books.ogg");
    std::fs::copy(&src, &p).unwrap();
    let e = err_of(&p);
    assert!(
        e.contains("books.ogg") && e.contains("Vorbis setup header: codebook"),
        "{e}"
    );
    let audio = testing::input("musicldm", "musicldm/audio/Kevin_MacLeod_-_Vibe_Ace.ogg");
    for clip in std::fs::read_dir(audio.parent().unwrap()).unwrap() {
        let clip = clip.unwrap().path();
        if clip.extension().is_some_and(|e| e == "ogg") {
            assert!(load(&clip).is_ok(), "{}", clip.display());
        }
    }
}

/// Fuzz finding (issue 19, `audio_decode`, crash-64d01e85… in the seed corpus, round 3; input
/// `fuzz/regressions/audio_decode/crash-vorbis-codebook-zero-dimensions-precheck`): a codebook of
/// lookup type 1 with 0 dimensions overflowed the codebook walk's own `lookup1_values` (every base
/// fits), and lewton's answered a 17 GB table. It is now an error naming the codebook.
#[test]
fn a_vorbis_lookup1_codebook_without_dimensions_is_a_clear_error() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/audio_decode/crash-vorbis-codebook-zero-dimensions-precheck");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dims0.ogg");
    std::fs::copy(&src, &p).unwrap();
    let e = err_of(&p);
    assert!(e.contains("dims0.ogg") && e.contains("0 dimensions"), "{e}");
}
