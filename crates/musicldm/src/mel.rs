//! MusicLDM's mel front end: the input of its VAE and HiFi-GAN.
//!
//! Parameters come from the pinned configs (`musicldm.yaml` `preprocessing`: 16 kHz,
//! `filter_length` 1024, `hop_length` 160, `win_length` 1024, 64 mel bands, 0-8000 Hz,
//! `target_length` 1024 frames; `config_16k_64.json` agrees). The computation is
//! `utilities/audio/stft.py::TacotronSTFT.mel_spectrogram` of RetroCirce/MusicLDM (the same file
//! as AudioLDM's `audioldm/audio/stft.py`):
//! reflect-pad by `filter_length/2` on both sides, frames every `hop` samples, a periodic Hann
//! window (`get_window('hann', win_length, fftbins=True)` centred in `filter_length`), the
//! magnitude (not power) of the DFT through a Fourier-basis convolution, librosa's slaney mel
//! filters (`librosa_mel_fn(sr, n_fft, n_mels, fmin, fmax)`), then `log(clamp(x, min=1e-5))`.
//! The waveform preparation is AudioLDM's `wav_to_fbank` (`audioldm/audio/tools.py`):
//! `normalize_wav` (remove the mean, peak-normalise to 0.5), cut or zero-pad to
//! `target_length * hop` samples, peak-normalise to 0.5 again, clip to [-1, 1]; the frames are
//! then cut or zero-padded to `target_length` (`_pad_spec`).
//!
//! The upstream module runs in float32 on torch; this port computes in f64 (the conformance
//! fixture is a float64 numpy port of the same code; see `tools/make_fixtures.py`).

use crate::spectral::{hann, mel_filters, PowerSpectrum};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Front-end parameters (the `preprocessing` block of `musicldm.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MelConfig {
    pub sampling_rate: u32,
    pub filter_length: usize,
    pub hop_length: usize,
    pub win_length: usize,
    pub n_mel_channels: usize,
    pub mel_fmin: f64,
    pub mel_fmax: f64,
    pub target_length: usize,
}

impl MelConfig {
    /// Reads the `preprocessing` block of MusicLDM's `musicldm.yaml`.
    pub fn from_yaml(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&text).with_context(|| format!("{}: not YAML", path.display()))?;
        let pre = &doc["preprocessing"];
        let get = |section: &str, key: &str| -> Result<f64> {
            pre[section][key].as_f64().with_context(|| {
                format!(
                    "{}: missing number preprocessing.{section}.{key}",
                    path.display()
                )
            })
        };
        let cfg = MelConfig {
            sampling_rate: get("audio", "sampling_rate")? as u32,
            filter_length: get("stft", "filter_length")? as usize,
            hop_length: get("stft", "hop_length")? as usize,
            win_length: get("stft", "win_length")? as usize,
            n_mel_channels: get("mel", "n_mel_channels")? as usize,
            mel_fmin: get("mel", "mel_fmin")?,
            mel_fmax: get("mel", "mel_fmax")?,
            target_length: get("mel", "target_length")? as usize,
        };
        if cfg.win_length > cfg.filter_length || cfg.hop_length == 0 {
            bail!(
                "{}: win_length {} > filter_length {} or hop 0",
                path.display(),
                cfg.win_length,
                cfg.filter_length
            );
        }
        Ok(cfg)
    }

    /// Checks the HiFi-GAN config agrees with the VAE's front end (it must: the vocoder reads
    /// the same mel frames).
    pub fn check_hifigan(&self, path: &Path) -> Result<()> {
        let v: serde_json::Value = serde_json::from_slice(
            &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{}: not JSON", path.display()))?;
        let pairs = [
            ("sampling_rate", self.sampling_rate as f64),
            ("n_fft", self.filter_length as f64),
            ("hop_size", self.hop_length as f64),
            ("win_size", self.win_length as f64),
            ("num_mels", self.n_mel_channels as f64),
            ("fmin", self.mel_fmin),
            ("fmax", self.mel_fmax),
        ];
        for (k, want) in pairs {
            let got = v[k]
                .as_f64()
                .with_context(|| format!("{}: missing number `{k}`", path.display()))?;
            if got != want {
                bail!(
                    "{}: `{k}` = {got} but musicldm.yaml implies {want}",
                    path.display()
                );
            }
        }
        Ok(())
    }

    /// Samples of one training chunk (`target_length * hop`: 10.24 s at 16 kHz).
    pub fn segment_samples(&self) -> usize {
        self.target_length * self.hop_length
    }
}

/// `TacotronSTFT` with its mel basis and window prepared once.
#[derive(Debug)]
pub struct TacotronStft {
    cfg: MelConfig,
    filters: Vec<Vec<f64>>,
    spec: PowerSpectrum,
}

impl TacotronStft {
    pub fn new(cfg: &MelConfig) -> Self {
        let mut window = vec![0.0; cfg.filter_length];
        // pad_center(get_window('hann', win_length, fftbins=True), size=filter_length)
        let lpad = (cfg.filter_length - cfg.win_length) / 2;
        for (i, w) in hann(cfg.win_length).into_iter().enumerate() {
            window[lpad + i] = w;
        }
        TacotronStft {
            filters: mel_filters(
                cfg.sampling_rate as f64,
                cfg.filter_length,
                cfg.n_mel_channels,
                cfg.mel_fmin,
                cfg.mel_fmax,
            ),
            spec: PowerSpectrum::new(window),
            cfg: cfg.clone(),
        }
    }

    /// `mel_spectrogram(y)[0]`: log-mel frames `[n_frames][n_mels]` (frame-major, as after
    /// AudioLDM's transpose), `n_frames = 1 + len/hop`.
    pub fn log_mel(&mut self, y: &[f32]) -> Result<Vec<Vec<f64>>> {
        let n = self.cfg.filter_length;
        let half = n / 2;
        if y.len() <= half {
            bail!(
                "waveform of {} samples is too short for reflect padding of {half}",
                y.len()
            );
        }
        // F.pad(mode='reflect'): mirror without repeating the edge sample.
        let len = y.len();
        let mut padded = Vec::with_capacity(len + n);
        for i in (1..=half).rev() {
            padded.push(y[i] as f64);
        }
        padded.extend(y.iter().map(|&v| v as f64));
        for i in 0..half {
            padded.push(y[len - 2 - i] as f64);
        }
        let n_frames = (padded.len() - n) / self.cfg.hop_length + 1;
        let mut power = vec![0.0; n / 2 + 1];
        let mut out = Vec::with_capacity(n_frames);
        for t in 0..n_frames {
            let start = t * self.cfg.hop_length;
            self.spec.power(&padded[start..start + n], &mut power);
            let mag: Vec<f64> = power.iter().map(|p| p.sqrt()).collect();
            out.push(
                self.filters
                    .iter()
                    .map(|row| {
                        let m: f64 = row.iter().zip(&mag).map(|(w, a)| w * a).sum();
                        m.max(1e-5).ln()
                    })
                    .collect(),
            );
        }
        Ok(out)
    }
}

/// AudioLDM's `normalize_wav`: remove the mean, divide by the peak (+1e-8), times 0.5.
pub fn normalize_wav(x: &[f32]) -> Vec<f64> {
    let n = x.len().max(1) as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let centred: Vec<f64> = x.iter().map(|&v| v as f64 - mean).collect();
    let peak = centred.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    centred.iter().map(|v| v / (peak + 1e-8) * 0.5).collect()
}

/// `read_wav_file` after resampling + `wav_to_fbank`: the `(target_length, n_mels)` log-mel
/// matrix MusicLDM's VAE reads, from a 16 kHz waveform (whole clip; the first training chunk).
pub fn fbank(stft: &mut TacotronStft, wav_16k: &[f32]) -> Result<Vec<Vec<f64>>> {
    let cfg = stft.cfg.clone();
    let seg = cfg.segment_samples();
    let norm = normalize_wav(wav_16k);
    // pad_wav: cut or zero-pad to the segment length.
    let mut w: Vec<f64> = norm.into_iter().take(seg).collect();
    w.resize(seg, 0.0);
    let peak = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if peak == 0.0 {
        bail!("silent waveform: AudioLDM's second peak normalisation divides by zero");
    }
    // `waveform / max|waveform| * 0.5`, then `torch.clip(FloatTensor(.), -1, 1)`.
    let y: Vec<f32> = w
        .iter()
        .map(|v| ((v / peak * 0.5) as f32).clamp(-1.0, 1.0))
        .collect();
    let mut frames = stft.log_mel(&y)?;
    // _pad_spec: cut or zero-pad to target_length frames.
    frames.truncate(cfg.target_length);
    while frames.len() < cfg.target_length {
        frames.push(vec![0.0; cfg.n_mel_channels]);
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> MelConfig {
        MelConfig {
            sampling_rate: 16000,
            filter_length: 1024,
            hop_length: 160,
            win_length: 1024,
            n_mel_channels: 64,
            mel_fmin: 0.0,
            mel_fmax: 8000.0,
            target_length: 1024,
        }
    }

    #[test]
    fn config_errors_name_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let y = dir.path().join("m.yaml");
        std::fs::write(
            &y,
            "preprocessing:\n  audio: {sampling_rate: 16000}\n  stft: {filter_length: 1024, win_length: 1024}\n  mel: {n_mel_channels: 64, mel_fmin: 0, mel_fmax: 8000, target_length: 1024}\n",
        )
        .unwrap();
        let e = format!("{:#}", MelConfig::from_yaml(&y).unwrap_err());
        assert!(
            e.contains("m.yaml") && e.contains("preprocessing.stft.hop_length"),
            "{e}"
        );
        let j = dir.path().join("h.json");
        std::fs::write(&j, r#"{"sampling_rate": 16000, "n_fft": 1024, "hop_size": 256, "win_size": 1024, "num_mels": 64, "fmin": 0, "fmax": 8000}"#).unwrap();
        let e = format!("{:#}", cfg().check_hifigan(&j).unwrap_err());
        assert!(
            e.contains("h.json") && e.contains("`hop_size` = 256"),
            "{e}"
        );
    }

    #[test]
    fn frame_count_and_silence_floor() {
        let mut s = TacotronStft::new(&cfg());
        let m = s.log_mel(&vec![0.0f32; 16000]).unwrap();
        assert_eq!(m.len(), 1 + 16000 / 160);
        assert!(m
            .iter()
            .flatten()
            .all(|&v| (v - 1e-5f64.ln()).abs() < 1e-12));
    }

    #[test]
    fn a_sine_peaks_in_the_right_band() {
        let c = cfg();
        let mut s = TacotronStft::new(&c);
        let f0 = 1000.0;
        let y: Vec<f32> = (0..16000)
            .map(|i| (0.5 * (2.0 * std::f64::consts::PI * f0 * i as f64 / 16000.0).sin()) as f32)
            .collect();
        let m = s.log_mel(&y).unwrap();
        let row = &m[50];
        let arg = (0..64).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
        // The band whose centre is nearest 1 kHz.
        let centres: Vec<f64> =
            crate::spectral::linspace(0.0, crate::spectral::hz_to_mel(8000.0), 66)
                .into_iter()
                .map(crate::spectral::mel_to_hz)
                .collect();
        let want = (1..65)
            .min_by(|&a, &b| (centres[a] - f0).abs().total_cmp(&(centres[b] - f0).abs()))
            .unwrap()
            - 1;
        assert!((arg as i64 - want as i64).abs() <= 1, "{arg} vs {want}");
    }

    #[test]
    fn fbank_shape_and_short_clip_padding() {
        let mut s = TacotronStft::new(&cfg());
        let y: Vec<f32> = (0..8000).map(|i| ((i % 50) as f32 / 50.0) - 0.5).collect();
        let f = fbank(&mut s, &y).unwrap();
        assert_eq!(f.len(), 1024);
        assert!(f.iter().all(|r| r.len() == 64));
        assert!(fbank(&mut s, &vec![0.0; 8000]).is_err());
    }
}
