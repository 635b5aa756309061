//! Spectral building blocks shared by the two front ends: librosa's slaney mel filter bank
//! (`librosa.filters.mel`), the periodic Hann window (`scipy.signal.get_window('hann', n,
//! fftbins=True)`), a real FFT power/magnitude spectrum, and a streaming STFT framer with
//! librosa's `center=True` zero padding.

use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// numpy's `np.round` (round half to even), which librosa uses for frame counts.
pub fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

/// `np.linspace(start, stop, n)` (endpoint included, last value exactly `stop`).
pub fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
    v[n - 1] = stop;
    v
}

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;

fn logstep() -> f64 {
    6.4f64.ln() / 27.0
}

/// Slaney mel scale (`librosa.hz_to_mel(htk=False)`).
pub fn hz_to_mel(f: f64) -> f64 {
    let min_log_mel = MIN_LOG_HZ / F_SP;
    if f >= MIN_LOG_HZ {
        min_log_mel + (f / MIN_LOG_HZ).ln() / logstep()
    } else {
        f / F_SP
    }
}

/// Inverse of [`hz_to_mel`] (`librosa.mel_to_hz(htk=False)`).
pub fn mel_to_hz(m: f64) -> f64 {
    let min_log_mel = MIN_LOG_HZ / F_SP;
    if m >= min_log_mel {
        MIN_LOG_HZ * (logstep() * (m - min_log_mel)).exp()
    } else {
        F_SP * m
    }
}

/// `librosa.filters.mel(sr=, n_fft=, n_mels=, fmin=, fmax=, htk=False, norm='slaney',
/// dtype=float32)`: `n_mels` rows of `1 + n_fft/2` weights. Values are rounded to `f32` at the
/// same two points as librosa (the triangle, then the slaney area normalisation), so the
/// filters equal librosa's bit for bit.
pub fn mel_filters(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Vec<Vec<f64>> {
    let n_bins = 1 + n_fft / 2;
    // np.fft.rfftfreq(n_fft, d=1/sr): k * (1 / (n * d)).
    let d = 1.0 / sr;
    let val = 1.0 / (n_fft as f64 * d);
    let fftfreqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * val).collect();
    let mel_f: Vec<f64> = linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
        .into_iter()
        .map(mel_to_hz)
        .collect();
    let fdiff: Vec<f64> = mel_f.windows(2).map(|w| w[1] - w[0]).collect();
    (0..n_mels)
        .map(|i| {
            let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
            fftfreqs
                .iter()
                .map(|&f| {
                    let lower = -(mel_f[i] - f) / fdiff[i];
                    let upper = (mel_f[i + 2] - f) / fdiff[i + 1];
                    let w = 0f64.max(lower.min(upper)) as f32;
                    ((w as f64) * enorm) as f32 as f64
                })
                .collect()
        })
        .collect()
}

/// Periodic Hann window of length `n` (`scipy.signal.get_window('hann', n, fftbins=True)`).
pub fn hann(n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos())
        .collect()
}

/// Windowed real FFT of fixed size returning `|X_k|^2` for `k = 0..=n/2`.
pub struct PowerSpectrum {
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
    input: Vec<f64>,
    output: Vec<realfft::num_complex::Complex<f64>>,
    scratch: Vec<realfft::num_complex::Complex<f64>>,
}

impl std::fmt::Debug for PowerSpectrum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PowerSpectrum(n={})", self.window.len())
    }
}

impl PowerSpectrum {
    pub fn new(window: Vec<f64>) -> Self {
        let n = window.len();
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let input = fft.make_input_vec();
        let output = fft.make_output_vec();
        let scratch = fft.make_scratch_vec();
        PowerSpectrum {
            fft,
            window,
            input,
            output,
            scratch,
        }
    }

    /// `|rfft(frame * window)|^2` into `out` (length `n/2 + 1`).
    pub fn power(&mut self, frame: &[f64], out: &mut [f64]) {
        for ((i, &x), &w) in self.input.iter_mut().zip(frame).zip(&self.window) {
            *i = x * w;
        }
        self.fft
            .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
            .expect("buffer sizes come from the plan");
        for (o, c) in out.iter_mut().zip(&self.output) {
            *o = c.re * c.re + c.im * c.im;
        }
    }
}

/// Streaming STFT framing with librosa's `center=True, pad_mode='constant'`: the signal is
/// preceded and followed by `n_fft/2` zeros and frame `t` starts at `t*hop` of the padded
/// signal, giving `1 + n/hop` frames for `n` samples. Memory is one frame plus one chunk.
#[derive(Debug)]
pub struct CenteredFramer {
    n_fft: usize,
    hop: usize,
    buf: Vec<f64>,
    finished: bool,
}

impl CenteredFramer {
    pub fn new(n_fft: usize, hop: usize) -> Self {
        CenteredFramer {
            n_fft,
            hop,
            buf: vec![0.0; n_fft / 2],
            finished: false,
        }
    }

    /// Adds samples and calls `emit` for every frame now complete.
    pub fn push(&mut self, samples: &[f32], emit: &mut impl FnMut(&[f64])) {
        assert!(!self.finished, "push after finish");
        self.buf.extend(samples.iter().map(|&s| s as f64));
        self.drain(emit);
    }

    fn drain(&mut self, emit: &mut impl FnMut(&[f64])) {
        let mut start = 0;
        while start + self.n_fft <= self.buf.len() {
            emit(&self.buf[start..start + self.n_fft]);
            start += self.hop;
        }
        self.buf.drain(..start.min(self.buf.len()));
    }

    /// Appends the trailing `n_fft/2` zeros and emits the last frames.
    pub fn finish(&mut self, emit: &mut impl FnMut(&[f64])) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.buf.extend(std::iter::repeat_n(0.0, self.n_fft / 2));
        self.drain(emit);
    }
}

/// `scipy.fft.next_fast_len(n, real=True)`: the smallest 5-smooth number `>= n`.
pub fn next_fast_len(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut k = m;
        for p in [2, 3, 5] {
            while k.is_multiple_of(p) {
                k /= p;
            }
        }
        if k == 1 {
            return m;
        }
        m += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_half_even_matches_numpy() {
        assert_eq!(round_half_even(21.5), 22.0);
        assert_eq!(round_half_even(22.5), 22.0);
        assert_eq!(round_half_even(2.4), 2.0);
        assert_eq!(round_half_even(-0.5), 0.0);
    }

    #[test]
    fn framer_gives_one_plus_n_over_hop_frames() {
        for n in [0usize, 1, 511, 512, 513, 5000] {
            let mut f = CenteredFramer::new(2048, 512);
            let mut count = 0;
            let x = vec![0.5f32; n];
            for c in x.chunks(700) {
                f.push(c, &mut |_| count += 1);
            }
            f.finish(&mut |_| count += 1);
            assert_eq!(count, 1 + n / 512, "n={n}");
        }
    }

    #[test]
    fn fast_len() {
        assert_eq!(next_fast_len(687), 720);
        assert_eq!(next_fast_len(1), 1);
        assert_eq!(next_fast_len(7), 8);
    }

    #[test]
    fn mel_filters_are_slaney_normalised_triangles() {
        let w = mel_filters(16000.0, 1024, 64, 0.0, 8000.0);
        assert_eq!(w.len(), 64);
        assert_eq!(w[0].len(), 513);
        // Slaney normalisation: each triangle has area ~ 1 in Hz units divided by bin width.
        for row in &w {
            assert!(row.iter().all(|&v| v >= 0.0));
            assert!(row.iter().any(|&v| v > 0.0));
        }
    }
}
