//! Beat-synchronous mixup (MusicLDM, arXiv 2308.01546 §3.2 "Beat-Synchronous Mixup").
//!
//! The public MusicLDM code is inference only, so the procedure follows the paper's text:
//! a beat tracker (Beat Transformer in the paper) gives each training track a tempo and a
//! downbeat map; tracks are grouped by tempo and only tracks of one tempo group are mixed;
//! the two tracks are aligned on their downbeats; the mixture is `λ·x1 + (1-λ)·x2` with
//! `λ ~ Beta(5, 5)`. BAM mixes waveforms (here); BLM mixes VAE latents and decodes them, which
//! needs the VAE ([`LatentCodec`] is the seam; no implementation exists here).
//!
//! Choices where the text leaves room (each a recipe parameter or stated in docs/musicldm.md):
//! * "same tempo group" = relative tempo difference `|t1-t2| / max(t1,t2) <= tempo_tolerance`;
//!   no time-stretching (the paper mentions none), so beats drift by that share at most;
//! * anchor = first downbeat of the mirrored madmom downbeat tracker when the clip has one,
//!   else the first beat of our tracker;
//! * each source is AudioLDM-normalised (`normalize_wav`: mean removed, peak 0.5) before the
//!   mix, so a convex combination can never clip;
//! * λ is drawn from ChaCha8 seeded by `(seed, pair index)`.

use anyhow::{bail, Result};
use rand::SeedableRng;
use rand_distr::{Beta, Distribution};
use serde::Serialize;

/// One clip ready for mixing: 16 kHz mono waveform and its beat information (seconds).
#[derive(Debug, Clone)]
pub struct MixSource {
    pub name: String,
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub tempo_bpm: f64,
    pub beats_s: Vec<f64>,
    /// Downbeats from a downbeat tracker, if one gave any.
    pub downbeats_s: Option<Vec<f64>>,
}

/// Where a source is cut before mixing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnchorKind {
    Downbeat,
    FirstBeat,
}

impl MixSource {
    /// The alignment point: the first downbeat, else the first beat.
    pub fn anchor(&self) -> Result<(f64, AnchorKind)> {
        if let Some(d) = self.downbeats_s.as_ref().and_then(|d| d.first()) {
            return Ok((*d, AnchorKind::Downbeat));
        }
        match self.beats_s.first() {
            Some(&b) => Ok((b, AnchorKind::FirstBeat)),
            None => bail!("{}: no beats and no downbeats to align on", self.name),
        }
    }
}

/// A mixed pair.
#[derive(Debug, Clone, Serialize)]
pub struct Mixture {
    pub a: String,
    pub b: String,
    pub tempo_a: f64,
    pub tempo_b: f64,
    pub anchor_a_s: f64,
    pub anchor_b_s: f64,
    pub anchor_a: AnchorKind,
    pub anchor_b: AnchorKind,
    /// `anchor_b - anchor_a`: how far b is shifted relative to a.
    pub offset_s: f64,
    pub lambda: f64,
    #[serde(skip)]
    pub samples: Vec<f32>,
    /// Each source's beats after alignment, relative to the mixture start.
    pub aligned_beats_a: Vec<f64>,
    pub aligned_beats_b: Vec<f64>,
}

/// Mixing parameters (recipe `[params]`).
#[derive(Debug, Clone, PartialEq)]
pub struct BamParams {
    pub tempo_tolerance: f64,
    pub beta_alpha: f64,
    pub segment_samples: usize,
    pub seed: u64,
}

/// Whether two tempi are one tempo group.
pub fn same_tempo_group(t1: f64, t2: f64, tolerance: f64) -> bool {
    t1 > 0.0 && t2 > 0.0 && (t1 - t2).abs() / t1.max(t2) <= tolerance
}

/// All pairs `(i, j)`, `i < j` in input order, of one tempo group.
pub fn tempo_pairs(sources: &[MixSource], tolerance: f64) -> Vec<(usize, usize)> {
    let mut out = vec![];
    for i in 0..sources.len() {
        for j in i + 1..sources.len() {
            if same_tempo_group(sources[i].tempo_bpm, sources[j].tempo_bpm, tolerance) {
                out.push((i, j));
            }
        }
    }
    out
}

/// λ for pair `index`: `Beta(alpha, alpha)` from ChaCha8 seeded by `seed` and the index.
pub fn draw_lambda(seed: u64, index: u64, alpha: f64) -> Result<f64> {
    let beta =
        Beta::new(alpha, alpha).map_err(|e| anyhow::anyhow!("Beta({alpha}, {alpha}): {e}"))?;
    let mut rng =
        rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    Ok(beta.sample(&mut rng))
}

/// The segment of `src` starting at its anchor, normalised like AudioLDM's `normalize_wav` and
/// zero-padded to `len` samples.
fn aligned_segment(src: &MixSource, anchor_s: f64, len: usize) -> Vec<f64> {
    let start = (anchor_s * src.sample_rate as f64).round() as usize;
    let norm = crate::mel::normalize_wav(&src.samples);
    let mut seg: Vec<f64> = norm.into_iter().skip(start).take(len).collect();
    seg.resize(len, 0.0);
    seg
}

fn shift_beats(beats: &[f64], anchor: f64, len_s: f64) -> Vec<f64> {
    beats
        .iter()
        .map(|b| b - anchor)
        .filter(|&b| (0.0..len_s).contains(&b))
        .collect()
}

/// Mixes `a` and `b` aligned on their anchors with ratio `lambda`.
pub fn mix_pair(
    a: &MixSource,
    b: &MixSource,
    lambda: f64,
    segment_samples: usize,
) -> Result<Mixture> {
    if a.sample_rate != b.sample_rate {
        bail!(
            "{} ({} Hz) and {} ({} Hz): resample both to one rate before mixing",
            a.name,
            a.sample_rate,
            b.name,
            b.sample_rate
        );
    }
    if !(0.0..=1.0).contains(&lambda) {
        bail!("mixup ratio {lambda} is outside [0, 1]");
    }
    let (ta, ka) = a.anchor()?;
    let (tb, kb) = b.anchor()?;
    let sa = aligned_segment(a, ta, segment_samples);
    let sb = aligned_segment(b, tb, segment_samples);
    let samples = sa
        .iter()
        .zip(&sb)
        .map(|(x, y)| (lambda * x + (1.0 - lambda) * y) as f32)
        .collect();
    let len_s = segment_samples as f64 / a.sample_rate as f64;
    Ok(Mixture {
        a: a.name.clone(),
        b: b.name.clone(),
        tempo_a: a.tempo_bpm,
        tempo_b: b.tempo_bpm,
        anchor_a_s: ta,
        anchor_b_s: tb,
        anchor_a: ka,
        anchor_b: kb,
        offset_s: tb - ta,
        lambda,
        samples,
        aligned_beats_a: shift_beats(&a.beats_s, ta, len_s),
        aligned_beats_b: shift_beats(&b.beats_s, tb, len_s),
    })
}

/// BAM over a set of sources: every same-tempo pair mixed once, λ seeded per pair.
pub fn bam(sources: &[MixSource], p: &BamParams) -> Result<Vec<Mixture>> {
    tempo_pairs(sources, p.tempo_tolerance)
        .into_iter()
        .enumerate()
        .map(|(k, (i, j))| {
            let lambda = draw_lambda(p.seed, k as u64, p.beta_alpha)?;
            mix_pair(&sources[i], &sources[j], lambda, p.segment_samples)
        })
        .collect()
}

/// The latent-space variant (BLM) needs MusicLDM's VAE: encode both aligned mel segments,
/// mix the latents with the same λ, decode (then HiFi-GAN for audio). Nothing implements
/// this here: the VAE checkpoint (`vae-ckpt.ckpt` in `musicldm.yaml`) is not available.
pub trait LatentCodec {
    /// `(target_length, n_mels)` log-mel → latent `(channels, t, f)` flattened.
    fn encode(&mut self, log_mel: &[Vec<f64>]) -> Result<Vec<f32>>;
    fn decode(&mut self, latent: &[f32]) -> Result<Vec<Vec<f64>>>;
}

/// BLM on two aligned log-mel segments through a [`LatentCodec`].
pub fn blm(
    codec: &mut dyn LatentCodec,
    mel_a: &[Vec<f64>],
    mel_b: &[Vec<f64>],
    lambda: f64,
) -> Result<Vec<Vec<f64>>> {
    let za = codec.encode(mel_a)?;
    let zb = codec.encode(mel_b)?;
    if za.len() != zb.len() {
        bail!("latents differ in size: {} vs {}", za.len(), zb.len());
    }
    let z: Vec<f32> = za
        .iter()
        .zip(&zb)
        .map(|(x, y)| (lambda as f32) * x + (1.0 - lambda as f32) * y)
        .collect();
    codec.decode(&z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_and_lambda() {
        assert!(same_tempo_group(120.0, 125.0, 0.05));
        assert!(!same_tempo_group(120.0, 130.0, 0.05));
        let l1 = draw_lambda(7, 0, 5.0).unwrap();
        assert_eq!(l1, draw_lambda(7, 0, 5.0).unwrap());
        assert_ne!(l1, draw_lambda(7, 1, 5.0).unwrap());
        assert!((0.0..=1.0).contains(&l1));
        assert!(draw_lambda(7, 0, -1.0).is_err());
    }

    /// Beta(5, 5) has mean 1/2 and variance 1/44.
    #[test]
    fn lambda_distribution_moments() {
        let xs: Vec<f64> = (0..4000).map(|i| draw_lambda(1, i, 5.0).unwrap()).collect();
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!((m - 0.5).abs() < 0.01, "{m}");
        assert!((v - 1.0 / 44.0).abs() < 0.003, "{v}");
    }
}
