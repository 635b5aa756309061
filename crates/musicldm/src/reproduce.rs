//! `cargo xtask reproduce musicldm`: the front end, beat tracking, BAM and the metrics on the
//! five pinned clips, written to `results/musicldm/`.

use crate::audio::{load, resample, write_wav_i16, Clip};
use crate::beat::{beat_track, BeatParams, Beats};
use crate::beat_eval::{f_measure, trim_beats};
use crate::mel::{fbank, MelConfig, TacotronStft};
use crate::metrics::{frechet_distance, nearest_train_similarity, AudioEmbedder, MelStatsEmbedder};
use crate::mixup::{bam, BamParams, MixSource};
use crate::CLIPS;
use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_report::{fmt_fixed, to_json_pretty, write_file, Axis, LinePlot, SeriesStyle, Table};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// `[params]` of recipe `musicldm`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub f_measure_window_s: f64,
    pub min_beat_time_s: f64,
    pub tempo_tolerance: f64,
    pub beta_alpha: f64,
    pub segment_s: f64,
    pub seed: u64,
    pub novelty_thresholds: Vec<f64>,
}

/// Short ids used in file names and tables.
pub fn short_id(name: &str) -> &'static str {
    match name {
        n if n.starts_with("Hungarian") => "hungarian-dance",
        n if n.starts_with("Karissa") => "lets-go-fishin",
        n if n.contains("Sugar_Plum") => "sugar-plum-fairy",
        n if n.contains("Vibe_Ace") => "vibe-ace",
        n if n.starts_with("sorohanro") => "solo-trumpet",
        _ => "clip",
    }
}

/// The mel fixture committed with the crate (numpy port of TacotronSTFT on the Rust-resampled
/// waveform; see tools/make_fixtures.py).
const MEL_FIXTURE: &str = include_str!("../tests/fixtures/mel_reference.json");

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
        .unwrap_or_default()
}

/// Largest absolute difference between our fbank and the fixture's stored values (kept frames,
/// per-band means, every `frame_mean_stride`-th per-frame mean).
pub fn mel_fixture_diff(name: &str, m: &[Vec<f64>]) -> Result<f64> {
    let fx: Value = serde_json::from_str(MEL_FIXTURE)?;
    let c = &fx["clips"][name];
    if c.is_null() {
        bail!("mel fixture has no clip {name}");
    }
    let mut worst = 0.0f64;
    let kept: Vec<usize> = floats(&c["frames_kept"])
        .iter()
        .map(|&v| v as usize)
        .collect();
    for (t, row) in kept.iter().zip(c["frames"].as_array().context("frames")?) {
        for (a, b) in m[*t].iter().zip(floats(row)) {
            worst = worst.max((a - b).abs());
        }
    }
    let nb = m[0].len();
    let band: Vec<f64> = (0..nb)
        .map(|k| m.iter().map(|r| r[k]).sum::<f64>() / m.len() as f64)
        .collect();
    for (a, b) in band.iter().zip(floats(&c["band_mean"])) {
        worst = worst.max((a - b).abs());
    }
    let stride = c["frame_mean_stride"]
        .as_u64()
        .context("frame_mean_stride")? as usize;
    for (r, b) in m.iter().step_by(stride).zip(floats(&c["frame_mean"])) {
        let a = r.iter().sum::<f64>() / nb as f64;
        worst = worst.max((a - b).abs());
    }
    Ok(worst)
}

fn beats_svg(name: &str, b: &Beats, reference: &[f64], seconds: f64) -> Result<String> {
    let fr = b.sample_rate as f64 / b.hop as f64;
    let env: Vec<(f64, f64)> = b
        .onset_envelope
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as f64 / fr, v))
        .take_while(|(t, _)| *t <= seconds)
        .collect();
    let top = env.iter().map(|p| p.1).fold(0.0, f64::max);
    let mut plot = LinePlot::new(
        format!("{name}: onset envelope and beats (first {seconds:.0} s)"),
        Axis::linear("time (s)"),
        Axis::linear("onset strength"),
    );
    plot.add("onset envelope", env, SeriesStyle::Line);
    plot.add(
        "beats (this tracker)",
        b.beat_times()
            .into_iter()
            .filter(|t| *t <= seconds)
            .map(|t| (t, top * 1.05))
            .collect(),
        SeriesStyle::Points,
    );
    plot.add(
        "beats (librosa 0.11 reference)",
        reference
            .iter()
            .filter(|t| **t <= seconds)
            .map(|&t| (t, top * 1.12))
            .collect(),
        SeriesStyle::Points,
    );
    plot.to_svg()
}

struct ClipResult {
    name: String,
    clip: Clip,
    beats: Beats,
    wav16: Vec<f32>,
}

pub fn reproduce(recipe: &Recipe, resolver: &Resolver, out: &Path) -> Result<Vec<String>> {
    let p: Params = recipe.params()?;
    let input = |n: &str| recipe.resolve(resolver, n);
    let cfg = MelConfig::from_yaml(&input("musicldm/config/musicldm.yaml")?)?;
    cfg.check_hifigan(&input("musicldm/config/hifigan_config_16k_64.json")?)?;
    let lib: Value = serde_json::from_slice(&std::fs::read(input(
        "musicldm/librosa_beat_track_reference.json",
    )?)?)?;
    let mad: Value = serde_json::from_slice(&std::fs::read(input(
        "musicldm/madmom_beats_downbeats_reference.json",
    )?)?)?;
    let bp = BeatParams::default();
    let mut tables = vec![];

    // --- decode, beats, front end ------------------------------------------------------------
    let mut clips = vec![];
    for name in CLIPS {
        let path = input(&format!("musicldm/audio/{name}"))?;
        let clip = load(&path)?;
        let beats = beat_track(&clip, &bp).with_context(|| format!("beat tracking {name}"))?;
        let wav16 = resample(&clip.samples, clip.sample_rate, cfg.sampling_rate)?;
        clips.push(ClipResult {
            name: name.to_string(),
            clip,
            beats,
            wav16,
        });
    }

    // Front end table.
    let mut stft = TacotronStft::new(&cfg);
    let mut fe = Table::new([
        "clip",
        "16 kHz samples",
        "frames x bands",
        "log-mel mean",
        "log-mel std",
        "min",
        "max",
        "max |diff| vs numpy port",
    ]);
    let mut fe_worst = 0.0f64;
    for c in &clips {
        let m = fbank(&mut stft, &c.wav16)?;
        let all: Vec<f64> = m.iter().flatten().copied().collect();
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        let std = (all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
        let lo = all.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = all.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let d = mel_fixture_diff(&c.name, &m)?;
        fe_worst = fe_worst.max(d);
        fe.push([
            short_id(&c.name).to_string(),
            c.wav16.len().to_string(),
            format!("{} x {}", m.len(), m[0].len()),
            fmt_fixed(mean, 4),
            fmt_fixed(std, 4),
            fmt_fixed(lo, 4),
            fmt_fixed(hi, 4),
            if d < 1e-6 {
                "< 1e-6".into()
            } else {
                format!("{d:.1e}")
            },
        ]);
    }
    write_file(out, "front_end.md", format!(
        "# MusicLDM mel front end (TacotronSTFT, AudioLDM wav_to_fbank)\n\n\
         Config (musicldm.yaml, checked against config_16k_64.json): {} Hz, n_fft {}, hop {}, win {}, {} mel bands {}-{} Hz, {} frames (first {:.2} s of each clip).\n\
         Waveforms resampled to 16 kHz by rubato (FFT, synchronous); the numpy port of the upstream code read the same samples.\n\n{}",
        cfg.sampling_rate, cfg.filter_length, cfg.hop_length, cfg.win_length, cfg.n_mel_channels,
        cfg.mel_fmin, cfg.mel_fmax, cfg.target_length,
        cfg.segment_samples() as f64 / cfg.sampling_rate as f64, fe.to_markdown()))?;
    write_file(out, "front_end.csv", fe.to_csv())?;
    tables.push("front_end.md".to_string());

    // Beat table.
    let w = p.f_measure_window_s;
    let mut bt = Table::new([
        "clip",
        "duration s",
        "tempo (ours)",
        "tempo (librosa)",
        "tempo diff %",
        "beats ours/ref",
        "frames identical",
        "F vs librosa",
        "F vs librosa (>= 5 s)",
        "tempo (madmom)",
        "F vs madmom",
        "F vs madmom (>= 5 s)",
        "madmom downbeats",
    ]);
    let mut beat_json = serde_json::Map::new();
    for c in &clips {
        let r = &lib["files"][&c.name];
        let m = &mad["files"][&c.name];
        let ref_times = floats(&r["beat_times_s"]);
        let ref_frames: Vec<usize> = floats(&r["beat_frames"])
            .iter()
            .map(|&v| v as usize)
            .collect();
        let ours = c.beats.beat_times();
        let rt = r["tempo_bpm"].as_f64().context("tempo_bpm")?;
        let mad_beats = floats(&m["beat_times_s"]);
        let mad_down = floats(&m["downbeat_times_s"]);
        let trimmed = |x: &[f64]| trim_beats(x, p.min_beat_time_s);
        let ft = |a: &[f64], b: &[f64]| {
            let (ta, tb) = (trimmed(a), trimmed(b));
            if ta.is_empty() {
                "n/a (no beats >= 5 s)".to_string()
            } else {
                fmt_fixed(f_measure(&ta, &tb, w), 4)
            }
        };
        bt.push([
            short_id(&c.name).to_string(),
            fmt_fixed(c.clip.duration_s(), 2),
            fmt_fixed(c.beats.tempo_bpm, 2),
            fmt_fixed(rt, 2),
            fmt_fixed(100.0 * (c.beats.tempo_bpm - rt) / rt, 3),
            format!("{}/{}", ours.len(), ref_times.len()),
            (c.beats.beat_frames == ref_frames).to_string(),
            fmt_fixed(f_measure(&ref_times, &ours, w), 4),
            ft(&ref_times, &ours),
            fmt_fixed(
                m["tempo_bpm_from_median_ibi"].as_f64().unwrap_or(f64::NAN),
                2,
            ),
            fmt_fixed(f_measure(&mad_beats, &ours, w), 4),
            ft(&mad_beats, &ours),
            mad_down.len().to_string(),
        ]);
        beat_json.insert(
            short_id(&c.name).into(),
            serde_json::json!({
                "file": c.name,
                "tempo_bpm": (c.beats.tempo_bpm * 1e6).round() / 1e6,
                "beat_frames": c.beats.beat_frames,
            }),
        );
        write_file(
            &out.join("beats"),
            &format!("{}.svg", short_id(&c.name)),
            beats_svg(short_id(&c.name), &c.beats, &ref_times, 20.0)?,
        )?;
    }
    write_file(out, "beats.md", format!(
        "# Beat tracking: librosa 0.11 `beat_track` port vs librosa's own output and madmom\n\n\
         F = mir_eval.beat.f_measure (window {w} s, untrimmed); \"(>= 5 s)\" = after mir_eval.beat.trim_beats on both sequences, as mir_eval.beat.evaluate does. \
         madmom (RNN + DBN) is a different method: reported, not required to agree (octave errors expected).\n\n{}",
        bt.to_markdown()))?;
    write_file(out, "beats.csv", bt.to_csv())?;
    write_file(out, "beats.json", to_json_pretty(&beat_json)?)?;
    tables.push("beats.md".to_string());

    // --- BAM --------------------------------------------------------------------------------
    let sources: Vec<MixSource> = clips
        .iter()
        .map(|c| {
            let down = floats(&mad["files"][&c.name]["downbeat_times_s"]);
            MixSource {
                name: short_id(&c.name).to_string(),
                samples: c.wav16.clone(),
                sample_rate: cfg.sampling_rate,
                tempo_bpm: c.beats.tempo_bpm,
                beats_s: c.beats.beat_times(),
                downbeats_s: if down.is_empty() { None } else { Some(down) },
            }
        })
        .collect();
    let bam_p = BamParams {
        tempo_tolerance: p.tempo_tolerance,
        beta_alpha: p.beta_alpha,
        segment_samples: (p.segment_s * cfg.sampling_rate as f64).round() as usize,
        seed: p.seed,
    };
    let mixes = bam(&sources, &bam_p)?;
    let mut mt = Table::new([
        "a",
        "b",
        "tempo a",
        "tempo b",
        "tempo diff %",
        "anchor a (s)",
        "anchor b (s)",
        "offset b-a (s)",
        "lambda",
        "peak",
        "mix tempo",
        "F mix vs a",
        "F mix vs b",
        "file",
    ]);
    for mx in &mixes {
        let file = format!("{}__{}.wav", mx.a, mx.b);
        let clip = Clip {
            sample_rate: cfg.sampling_rate,
            samples: mx.samples.clone(),
        };
        let mb = beat_track(&clip, &bp)?;
        let mt_beats = mb.beat_times();
        let peak = mx.samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        std::fs::create_dir_all(out.join("bam"))?;
        write_wav_i16(&out.join("bam").join(&file), cfg.sampling_rate, &mx.samples)?;
        mt.push([
            mx.a.clone(),
            mx.b.clone(),
            fmt_fixed(mx.tempo_a, 2),
            fmt_fixed(mx.tempo_b, 2),
            fmt_fixed(
                100.0 * (mx.tempo_a - mx.tempo_b).abs() / mx.tempo_a.max(mx.tempo_b),
                2,
            ),
            format!("{} ({})", fmt_fixed(mx.anchor_a_s, 3), kind(mx.anchor_a)),
            format!("{} ({})", fmt_fixed(mx.anchor_b_s, 3), kind(mx.anchor_b)),
            fmt_fixed(mx.offset_s, 3),
            fmt_fixed(mx.lambda, 4),
            fmt_fixed(peak as f64, 4),
            fmt_fixed(mb.tempo_bpm, 2),
            fmt_fixed(f_measure(&mx.aligned_beats_a, &mt_beats, w), 4),
            fmt_fixed(f_measure(&mx.aligned_beats_b, &mt_beats, w), 4),
            format!("bam/{file}"),
        ]);
    }
    write_file(out, "bam.md", format!(
        "# Beat-synchronous audio mixup (BAM, MusicLDM §3.2)\n\n\
         Tempo groups: relative tempo difference <= {:.0} %; anchors: first madmom downbeat, else first tracked beat; \
         lambda ~ Beta({a}, {a}) seeded ({seed}); {:.2} s at {} Hz, each source normalised as AudioLDM's normalize_wav (peak 0.5). \
         F = the mixture's own tracked beats vs each source's aligned beats (mir_eval, {w} s).\n\
         Mixtures are derived from CC BY 3.0 clips (see recipes/inputs/musicldm.toml for authors).\n\n{}",
        100.0 * p.tempo_tolerance, p.segment_s, cfg.sampling_rate, mt.to_markdown(),
        a = p.beta_alpha, seed = p.seed))?;
    write_file(out, "bam.csv", mt.to_csv())?;
    tables.push("bam.md".to_string());

    // --- metrics on the stand-in embedder ----------------------------------------------------
    let mut emb = MelStatsEmbedder::new(&cfg);
    let train: Vec<Vec<f64>> = clips
        .iter()
        .map(|c| emb.embed(&c.wav16, cfg.sampling_rate))
        .collect::<Result<_>>()?;
    let gen: Vec<Vec<f64>> = mixes
        .iter()
        .map(|m| emb.embed(&m.samples, cfg.sampling_rate))
        .collect::<Result<_>>()?;
    let mut me = Table::new(["metric", "value", "embedder", "note"]);
    let en = emb.name().to_string();
    if gen.len() >= 2 {
        me.push([
            "FD(originals, BAM mixtures)".to_string(),
            fmt_fixed(frechet_distance(&train, &gen)?, 4),
            en.clone(),
            format!("{} vs {} samples in {} dimensions: rank-deficient covariances, arithmetic check only", train.len(), gen.len(), emb.dim()),
        ]);
    }
    let near = nearest_train_similarity(&gen, &train)?;
    for (m, s) in mixes.iter().zip(&near) {
        me.push([
            format!("nearest-original cosine of {}__{}", m.a, m.b),
            fmt_fixed(*s, 6),
            en.clone(),
            String::new(),
        ]);
    }
    for &t in &p.novelty_thresholds {
        let rate = near.iter().filter(|&&s| s > t).count() as f64 / near.len().max(1) as f64;
        me.push([
            format!("SIM_AA@{:.0} (share of mixtures above {t})", t * 100.0),
            fmt_fixed(rate, 4),
            en.clone(),
            "stand-in embedder: mel statistics are near-collinear, so this is not the paper's novelty".into(),
        ]);
    }
    me.push([
        "text-audio similarity".to_string(),
        "blocked".into(),
        "CLAP (needs weights)".into(),
        "cosine arithmetic conformance-tested on fixtures".into(),
    ]);
    me.push([
        "KL (softmax / sigmoid)".to_string(),
        "blocked".into(),
        "PANN classifier (needs weights)".into(),
        "KL arithmetic conformance-tested on fixtures".into(),
    ]);
    write_file(out, "metrics.md", format!(
        "# Evaluation arithmetic on the offline stand-in embedder\n\n\
         Embedder: `{en}` = mean and std over time of the 64-band log-mel (1024 frames at 16 kHz). \
         Not CLAP or PANN: the numbers exercise FD / cosine / novelty end to end; the paper's values need its checkpoints.\n\n{}",
        me.to_markdown()))?;
    write_file(out, "metrics.csv", me.to_csv())?;
    tables.push("metrics.md".to_string());

    write_file(
        out,
        "summary.json",
        to_json_pretty(&serde_json::json!({
            "mel_front_end_max_abs_diff_vs_numpy_port_below_1e-6": fe_worst < 1e-6,
            "beats": beat_json,
            "bam_pairs": mixes.len(),
            "embedder": en,
        }))?,
    )?;
    Ok(tables)
}

fn kind(k: crate::mixup::AnchorKind) -> &'static str {
    match k {
        crate::mixup::AnchorKind::Downbeat => "downbeat",
        crate::mixup::AnchorKind::FirstBeat => "first beat",
    }
}

lmrepro_report::single_scale_reproducer! {
    /// The reproducer of recipe kind `musicldm`.
    pub struct MusicLdmReproducer("musicldm") => reproduce
}
