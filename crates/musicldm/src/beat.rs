//! A port of librosa 0.11.0's `beat.beat_track` with its defaults: onset strength
//! (`onset.onset_strength`: 128-band mel power spectrogram → dB with `top_db=80` → spectral flux
//! with lag 1, `max_size=1` → mean over bands → centred), tempo (`feature.tempo`: autocorrelation
//! tempogram over 8 s windows, mean over time, log-normal prior around `start_bpm=120` with
//! `std_bpm=1`, `max_tempo=320`) and the dynamic-programming tracker (Ellis 2007, `tightness=100`,
//! `trim=True`).
//!
//! Quirks kept (each matters for agreement with librosa's output):
//! * `beat_track(y=...)` computes the envelope with `aggregate=np.median`, while
//!   `onset_strength`'s default is `np.mean`; the mirrored reference was computed from the
//!   mean envelope (`beat_track(onset_envelope=onset_strength(y, sr))`), which is the default
//!   here ([`Aggregate::Mean`]); [`Aggregate::Median`] gives `beat_track(y=...)`.
//! * `top_db` clips relative to the global maximum of the whole file, so the streamed envelope
//!   needs two passes over the audio (first the maximum, then the flux).
//! * the local score's "same-mode convolution" never reads envelope frame 0 (its loop bound);
//! * frame counts use numpy's round-half-even;
//! * the DP keeps the first (closest) predecessor among equal scores, and the first beat is the
//!   first frame whose local score reaches 1 % of the maximum;
//! * trimming thresholds on half the RMS of a Hann-5 smoothed beat envelope whose slice keeps
//!   `n_beats + 2` values of the full convolution, and drops leading/trailing *frames* below it.

use crate::audio::MonoReader;
use crate::spectral::{
    hann, mel_filters, next_fast_len, round_half_even, CenteredFramer, PowerSpectrum,
};
use anyhow::{bail, Result};
use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How the per-band flux is reduced to one value per frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// `onset_strength`'s default (and the mirrored reference's envelope).
    #[default]
    Mean,
    /// What `beat_track(y=...)` uses internally.
    Median,
}

/// librosa's defaults for `beat_track` / `onset_strength` / `tempo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatParams {
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub top_db: f64,
    pub lag: usize,
    pub aggregate: Aggregate,
    pub start_bpm: f64,
    pub std_bpm: f64,
    pub ac_size_s: f64,
    pub max_tempo: f64,
    pub tightness: f64,
    pub trim: bool,
}

impl Default for BeatParams {
    fn default() -> Self {
        BeatParams {
            n_fft: 2048,
            hop: 512,
            n_mels: 128,
            top_db: 80.0,
            lag: 1,
            aggregate: Aggregate::Mean,
            start_bpm: 120.0,
            std_bpm: 1.0,
            ac_size_s: 8.0,
            max_tempo: 320.0,
            tightness: 100.0,
            trim: true,
        }
    }
}

/// What the tracker found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Beats {
    pub sample_rate: u32,
    pub hop: usize,
    pub tempo_bpm: f64,
    pub beat_frames: Vec<usize>,
    pub onset_envelope: Vec<f64>,
}

impl Beats {
    pub fn beat_times(&self) -> Vec<f64> {
        self.beat_frames
            .iter()
            .map(|&f| (f * self.hop) as f64 / self.sample_rate as f64)
            .collect()
    }
}

/// Mel power spectra of a stream, one callback per frame.
struct MelStream {
    framer: CenteredFramer,
    spec: PowerSpectrum,
    filters: Vec<Vec<(usize, f64)>>,
    power: Vec<f64>,
    mel: Vec<f64>,
}

impl MelStream {
    fn new(sr: u32, p: &BeatParams) -> Self {
        let dense = mel_filters(sr as f64, p.n_fft, p.n_mels, 0.0, sr as f64 / 2.0);
        // Sparse rows: each triangle touches a few dozen bins.
        let filters = dense
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .enumerate()
                    .filter(|(_, w)| *w != 0.0)
                    .collect()
            })
            .collect();
        MelStream {
            framer: CenteredFramer::new(p.n_fft, p.hop),
            spec: PowerSpectrum::new(hann(p.n_fft)),
            filters,
            power: vec![0.0; p.n_fft / 2 + 1],
            mel: vec![0.0; p.n_mels],
        }
    }

    fn frame(
        spec: &mut PowerSpectrum,
        filters: &[Vec<(usize, f64)>],
        power: &mut [f64],
        mel: &mut [f64],
        frame: &[f64],
    ) {
        spec.power(frame, power);
        for (m, row) in mel.iter_mut().zip(filters) {
            *m = row.iter().map(|&(k, w)| w * power[k]).sum();
        }
    }
}

/// Source of mono audio that can be read twice (the `top_db` clip needs the global maximum).
pub trait Replayable {
    fn sample_rate(&self) -> u32;
    /// Calls `each` with successive chunks of the whole signal.
    fn replay(&self, each: &mut dyn FnMut(&[f32]) -> Result<()>) -> Result<()>;
}

impl Replayable for crate::audio::Clip {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
    fn replay(&self, each: &mut dyn FnMut(&[f32]) -> Result<()>) -> Result<()> {
        for c in self.samples.chunks(1 << 16) {
            each(c)?;
        }
        Ok(())
    }
}

/// A file decoded afresh on each pass: memory does not grow with the file's length.
#[derive(Debug, Clone)]
pub struct FileSource {
    pub path: std::path::PathBuf,
    sample_rate: u32,
}

impl FileSource {
    pub fn open(path: &Path) -> Result<Self> {
        let r = MonoReader::open(path)?;
        Ok(FileSource {
            path: path.to_path_buf(),
            sample_rate: r.sample_rate(),
        })
    }
}

impl Replayable for FileSource {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
    fn replay(&self, each: &mut dyn FnMut(&[f32]) -> Result<()>) -> Result<()> {
        let mut r = MonoReader::open(&self.path)?;
        let mut any = false;
        while let Some(c) = r.next_chunk()? {
            any |= !c.is_empty();
            each(&c)?;
        }
        if !any {
            bail!("{}: the stream holds no audio samples", self.path.display());
        }
        Ok(())
    }
}

fn mel_pass(src: &dyn Replayable, p: &BeatParams, each: &mut dyn FnMut(&[f64])) -> Result<()> {
    let mut ms = MelStream::new(src.sample_rate(), p);
    let MelStream {
        framer,
        spec,
        filters,
        power,
        mel,
    } = &mut ms;
    let mut emit = |f: &[f64]| {
        MelStream::frame(spec, filters, power, mel, f);
        each(mel);
    };
    src.replay(&mut |c| {
        framer.push(c, &mut emit);
        Ok(())
    })?;
    framer.finish(&mut emit);
    Ok(())
}

/// `librosa.onset.onset_strength(y, sr)` (defaults; `aggregate` selectable), streamed in two
/// passes over `src`.
pub fn onset_strength(src: &dyn Replayable, p: &BeatParams) -> Result<Vec<f64>> {
    // Pass 1: the global maximum of the mel power (power_to_db's `top_db` reference).
    let mut max_power = f64::NEG_INFINITY;
    mel_pass(src, p, &mut |m| {
        for &v in m {
            if v > max_power {
                max_power = v;
            }
        }
    })?;
    let amin = 1e-10f64;
    let floor = 10.0 * max_power.max(amin).log10() - p.top_db;
    // Pass 2: dB, flux against `lag` frames back, aggregate.
    let pad = p.lag + p.n_fft / (2 * p.hop);
    let mut env = vec![0.0; pad];
    let mut history: std::collections::VecDeque<Vec<f64>> = std::collections::VecDeque::new();
    let mut n_frames = 0usize;
    let mut diff = vec![0.0; p.n_mels];
    mel_pass(src, p, &mut |m| {
        n_frames += 1;
        let db: Vec<f64> = m
            .iter()
            .map(|&v| (10.0 * v.max(amin).log10()).max(floor))
            .collect();
        if history.len() == p.lag {
            let prev = &history[0];
            for ((d, &a), &b) in diff.iter_mut().zip(&db).zip(prev) {
                *d = (a - b).max(0.0);
            }
            env.push(match p.aggregate {
                Aggregate::Mean => diff.iter().sum::<f64>() / diff.len() as f64,
                Aggregate::Median => median(&mut diff.clone()),
            });
            history.pop_front();
        }
        history.push_back(db);
    })?;
    env.truncate(n_frames);
    env.resize(n_frames, 0.0);
    Ok(env)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// `librosa.feature.tempo(onset_envelope=env, sr, hop_length)` with the default prior:
/// the mean over frames of the inf-normalised autocorrelation tempogram, weighted by a
/// log-normal prior, argmax. Streams over frames (memory: one window).
pub fn tempo(env: &[f64], sr: u32, p: &BeatParams) -> f64 {
    // time_to_frames(ac_size): int(ac_size * sr) // hop
    let win = ((p.ac_size_s * sr as f64) as i64 / p.hop as i64) as usize;
    let n = env.len();
    let half = win / 2;
    // np.pad(mode='linear_ramp', end_values=0) on both sides.
    let first = env.first().copied().unwrap_or(0.0);
    let last = env.last().copied().unwrap_or(0.0);
    let mut padded = Vec::with_capacity(n + 2 * half);
    for i in 0..half {
        padded.push(i as f64 * (first / half as f64));
    }
    padded.extend_from_slice(env);
    for i in 0..half {
        padded.push((half - 1 - i) as f64 * (last / half as f64));
    }
    let window = hann(win);
    let n_pad = next_fast_len(2 * win - 1);
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(n_pad);
    let inv = planner.plan_fft_inverse(n_pad);
    let mut buf = fwd.make_input_vec();
    let mut spec = fwd.make_output_vec();
    let mut out = inv.make_output_vec();
    let mut sum = vec![0.0f64; win];
    let tiny = f32::MIN_POSITIVE as f64;
    // util.frame needs len(padded) >= win; librosa raises otherwise.
    let frames = if padded.len() >= win { n } else { 0 };
    for t in 0..frames {
        buf.iter_mut().for_each(|b| *b = 0.0);
        for k in 0..win {
            buf[k] = padded[t + k] * window[k];
        }
        fwd.process(&mut buf, &mut spec).expect("plan sizes");
        for c in spec.iter_mut() {
            *c = realfft::num_complex::Complex::new(c.re * c.re + c.im * c.im, 0.0);
        }
        inv.process(&mut spec, &mut out).expect("plan sizes");
        let scale = 1.0 / n_pad as f64;
        let mut mx = 0.0f64;
        for v in out.iter().take(win) {
            mx = mx.max((v * scale).abs());
        }
        let len = if mx < tiny { 1.0 } else { mx };
        for (s, v) in sum.iter_mut().zip(&out) {
            *s += v * scale / len;
        }
    }
    let tg: Vec<f64> = sum.iter().map(|s| s / frames.max(1) as f64).collect();
    // tempo_frequencies(win): bin 0 is inf.
    let bpms: Vec<f64> = (0..win)
        .map(|k| {
            if k == 0 {
                f64::INFINITY
            } else {
                60.0 * sr as f64 / (p.hop as f64 * k as f64)
            }
        })
        .collect();
    let max_idx = bpms.iter().position(|&b| b < p.max_tempo).unwrap_or(0);
    let mut best = 0;
    let mut best_v = f64::NEG_INFINITY;
    for k in 0..win {
        let prior = if k < max_idx || k == 0 {
            f64::NEG_INFINITY
        } else {
            -0.5 * ((bpms[k].log2() - p.start_bpm.log2()) / p.std_bpm).powi(2)
        };
        let v = (1e6 * tg[k]).ln_1p() + prior;
        if v > best_v {
            best_v = v;
            best = k;
        }
    }
    bpms[best]
}

/// The DP tracker (`__beat_tracker`) on an onset envelope at a fixed tempo.
pub fn track(env: &[f64], bpm: f64, frame_rate: f64, p: &BeatParams) -> Result<Vec<usize>> {
    if bpm <= 0.0 || bpm.is_nan() {
        bail!("bpm={bpm} must be strictly positive");
    }
    if p.tightness <= 0.0 {
        bail!("tightness must be strictly positive");
    }
    let n = env.len();
    if n == 0 {
        return Ok(vec![]);
    }
    let fpb = round_half_even(frame_rate * 60.0 / bpm);
    // __normalize_onsets: divide by the sample standard deviation (ddof=1).
    let mean = env.iter().sum::<f64>() / n as f64;
    let var = env.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    let norm = var.sqrt() + f64::from(f32::MIN_POSITIVE);
    let onsets: Vec<f64> = env.iter().map(|v| v / norm).collect();
    // __beat_local_score (static tempo): loop bounds exactly as librosa's.
    let fpb_i = fpb as i64;
    let window: Vec<f64> = (-fpb_i..=fpb_i)
        .map(|j| (-0.5 * (j as f64 * 32.0 / fpb).powi(2)).exp())
        .collect();
    let k_len = window.len() as i64;
    let nn = n as i64;
    let local: Vec<f64> = (0..nn)
        .map(|i| {
            let lo = 0.max(i + k_len / 2 - nn + 1);
            let hi = (i + k_len / 2).min(k_len);
            (lo..hi)
                .map(|k| window[k as usize] * onsets[(i + k_len / 2 - k) as usize])
                .sum()
        })
        .collect();
    // __beat_track_dp
    let max_local = local.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let score_thresh = 0.01 * max_local;
    let mut backlink = vec![-1i64; n];
    let mut cumscore = vec![0.0f64; n];
    let mut first_beat = true;
    let start_off = round_half_even(fpb / 2.0) as i64;
    let stop_off = 2 * fpb_i + 1;
    let log_fpb = fpb.ln();
    for i in 0..nn {
        let score_i = local[i as usize];
        let mut best_score = f64::NEG_INFINITY;
        let mut beat_location = -1i64;
        let mut loc = i - start_off;
        while loc > i - stop_off {
            if loc < 0 {
                break;
            }
            let s =
                cumscore[loc as usize] - p.tightness * (((i - loc) as f64).ln() - log_fpb).powi(2);
            if s > best_score {
                best_score = s;
                beat_location = loc;
            }
            loc -= 1;
        }
        cumscore[i as usize] = if beat_location >= 0 {
            score_i + best_score
        } else {
            score_i
        };
        if first_beat && score_i < score_thresh {
            backlink[i as usize] = -1;
        } else {
            backlink[i as usize] = beat_location;
            first_beat = false;
        }
    }
    // __last_beat: median of the cumulative score at its local maxima.
    let is_max: Vec<bool> = (0..n)
        .map(|i| {
            if i == 0 {
                false
            } else if i == n - 1 {
                cumscore[i] > cumscore[i - 1]
            } else {
                cumscore[i] > cumscore[i - 1] && cumscore[i] >= cumscore[i + 1]
            }
        })
        .collect();
    let mut maxima: Vec<f64> = (0..n).filter(|&i| is_max[i]).map(|i| cumscore[i]).collect();
    let threshold = if maxima.is_empty() {
        // np.ma.median of a fully masked array is masked; getdata gives 0.
        0.0
    } else {
        0.5 * median(&mut maxima)
    };
    let mut tail = n - 1;
    for i in (0..n).rev() {
        if is_max[i] && cumscore[i] >= threshold {
            tail = i;
            break;
        }
    }
    // __dp_backtrack
    let mut beats = vec![false; n];
    let mut k = tail as i64;
    while k >= 0 {
        beats[k as usize] = true;
        k = backlink[k as usize];
    }
    // __trim_beats
    let beat_scores: Vec<f64> = (0..n).filter(|&i| beats[i]).map(|i| local[i]).collect();
    let w = [0.0, 0.5, 1.0, 0.5, 0.0];
    let full_len = beat_scores.len() + w.len() - 1;
    let full: Vec<f64> = (0..full_len)
        .map(|j| {
            (0..w.len())
                .filter(|&q| j >= q && j - q < beat_scores.len())
                .map(|q| w[q] * beat_scores[j - q])
                .sum()
        })
        .collect();
    let lo = w.len() / 2;
    let hi = (n + w.len() / 2).min(full_len);
    let smooth = if lo < hi { &full[lo..hi] } else { &full[0..0] };
    let thr = if p.trim && !smooth.is_empty() {
        0.5 * (smooth.iter().map(|v| v * v).sum::<f64>() / smooth.len() as f64).sqrt()
    } else {
        0.0
    };
    let mut i = 0;
    while i < n && local[i] <= thr {
        beats[i] = false;
        i += 1;
    }
    let mut j = n as i64 - 1;
    while j >= 0 && local[j as usize] <= thr {
        beats[j as usize] = false;
        j -= 1;
    }
    Ok((0..n).filter(|&i| beats[i]).collect())
}

/// `librosa.beat.beat_track` on an onset envelope (tempo estimated unless `bpm` is given).
pub fn beat_track_envelope(
    env: Vec<f64>,
    sr: u32,
    p: &BeatParams,
    bpm: Option<f64>,
) -> Result<Beats> {
    if !env.iter().any(|&v| v != 0.0) {
        return Ok(Beats {
            sample_rate: sr,
            hop: p.hop,
            tempo_bpm: 0.0,
            beat_frames: vec![],
            onset_envelope: env,
        });
    }
    let tempo_bpm = match bpm {
        Some(b) => b,
        None => tempo(&env, sr, p),
    };
    let frames = track(&env, tempo_bpm, sr as f64 / p.hop as f64, p)?;
    Ok(Beats {
        sample_rate: sr,
        hop: p.hop,
        tempo_bpm,
        beat_frames: frames,
        onset_envelope: env,
    })
}

/// Onset envelope + tempo + DP on any replayable source, at its native rate.
pub fn beat_track(src: &dyn Replayable, p: &BeatParams) -> Result<Beats> {
    let env = onset_strength(src, p)?;
    beat_track_envelope(env, src.sample_rate(), p, None)
}
