//! The paper's evaluation arithmetic (§4.3 / Tables 1-2) on embedding sets:
//!
//! * Fréchet distance between Gaussian fits of two embedding sets (FD_pann / FD_vgg in the paper,
//!   computed there by `audioldm_eval` as pytorch-fid does: `np.cov(rowvar=False)` and
//!   `scipy.linalg.sqrtm(sigma1 @ sigma2)`). Here the trace of the matrix square root is computed
//!   stably as `sum sqrt(eig(S1^1/2 S2 S1^1/2))` with symmetric Jacobi eigendecompositions
//!   (equal in exact arithmetic, and never complex);
//! * KL between class-probability sets, `audioldm_eval`'s `kl_softmax` and `kl_sigmoid`
//!   (`torch.nn.functional.kl_div(log(p_gen + 1e-6), p_ref, reduction='sum') / n`);
//! * cosine text/audio similarity (the CLAP score) and the novelty rate SIM_AA@τ: the share of
//!   generated samples whose most similar training sample has cosine similarity above τ.
//!
//! Embeddings come through [`AudioEmbedder`]; CLAP and PANN need weights that are not available
//! here, so the reproducer uses [`MelStatsEmbedder`], a named stand-in whose name is written into
//! every output table.

// Dense matrix code: index loops mirror the textbook formulas (Jacobi rotations, covariance).
#![allow(clippy::needless_range_loop)]

use anyhow::{bail, Result};

/// Maps audio to a fixed-length embedding. `name` is printed next to every number computed from
/// its embeddings.
pub trait AudioEmbedder {
    fn name(&self) -> &str;
    fn dim(&self) -> usize;
    /// Embeds a mono waveform at `sample_rate`.
    fn embed(&mut self, samples: &[f32], sample_rate: u32) -> Result<Vec<f64>>;
}

/// Offline stand-in for CLAP/PANN: mean and standard deviation over time of MusicLDM's 64-band
/// log-mel (the first training chunk of the clip, 16 kHz), 128 dimensions. It is *not* a
/// semantic embedding; the numbers computed from it check the arithmetic, not the model.
#[derive(Debug)]
pub struct MelStatsEmbedder {
    stft: crate::mel::TacotronStft,
    cfg: crate::mel::MelConfig,
}

impl MelStatsEmbedder {
    pub const NAME: &'static str = "mel-stats-128 (stand-in; not CLAP/PANN)";

    pub fn new(cfg: &crate::mel::MelConfig) -> Self {
        MelStatsEmbedder {
            stft: crate::mel::TacotronStft::new(cfg),
            cfg: cfg.clone(),
        }
    }
}

impl AudioEmbedder for MelStatsEmbedder {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn dim(&self) -> usize {
        2 * self.cfg.n_mel_channels
    }
    fn embed(&mut self, samples: &[f32], sample_rate: u32) -> Result<Vec<f64>> {
        let wav = crate::audio::resample(samples, sample_rate, self.cfg.sampling_rate)?;
        let frames = crate::mel::fbank(&mut self.stft, &wav)?;
        let n = frames.len() as f64;
        let m = self.cfg.n_mel_channels;
        let mut out = vec![0.0; 2 * m];
        for f in &frames {
            for (k, v) in f.iter().enumerate() {
                out[k] += v / n;
            }
        }
        for f in &frames {
            for (k, v) in f.iter().enumerate() {
                out[m + k] += (v - out[k]).powi(2) / n;
            }
        }
        for v in &mut out[m..] {
            *v = v.sqrt();
        }
        Ok(out)
    }
}

/// A dense symmetric matrix, row-major.
pub type Matrix = Vec<Vec<f64>>;

fn check_rows(x: &[Vec<f64>], what: &str) -> Result<usize> {
    let d = x.first().map(|r| r.len()).unwrap_or(0);
    if x.len() < 2 || d == 0 {
        bail!(
            "{what}: need at least 2 embeddings of dimension >= 1, got {} x {d}",
            x.len()
        );
    }
    for (i, r) in x.iter().enumerate() {
        if r.len() != d {
            bail!(
                "{what}: embedding {i} has dimension {} (expected {d})",
                r.len()
            );
        }
        if let Some(j) = r.iter().position(|v| !v.is_finite()) {
            bail!("{what}: embedding {i}, component {j} is not finite");
        }
    }
    Ok(d)
}

/// Mean and `np.cov(x, rowvar=False)` (ddof 1).
pub fn mean_cov(x: &[Vec<f64>]) -> Result<(Vec<f64>, Matrix)> {
    let d = check_rows(x, "embeddings")?;
    let n = x.len() as f64;
    let mut mu = vec![0.0; d];
    for r in x {
        for (m, v) in mu.iter_mut().zip(r) {
            *m += v;
        }
    }
    mu.iter_mut().for_each(|m| *m /= n);
    let mut cov = vec![vec![0.0; d]; d];
    for r in x {
        for i in 0..d {
            let a = r[i] - mu[i];
            for j in i..d {
                cov[i][j] += a * (r[j] - mu[j]);
            }
        }
    }
    for i in 0..d {
        for j in i..d {
            cov[i][j] /= n - 1.0;
            cov[j][i] = cov[i][j];
        }
    }
    Ok((mu, cov))
}

/// Eigenvalues and eigenvectors (columns of `V`) of a symmetric matrix by cyclic Jacobi
/// rotations (converges for any symmetric input; accurate to a few ulps of the norm).
pub fn sym_eig(a: &Matrix) -> (Vec<f64>, Matrix) {
    let n = a.len();
    let mut a = a.clone();
    let mut v = vec![vec![0.0; n]; n];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        let diag: f64 = (0..n).map(|i| a[i][i] * a[i][i]).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sign / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k][p];
                    let akq = a[k][q];
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p][k];
                    let aqk = a[q][k];
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let vkp = row[p];
                    let vkq = row[q];
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i][i]).collect(), v)
}

fn matmul(a: &Matrix, b: &Matrix) -> Matrix {
    let n = a.len();
    let m = b[0].len();
    let k = b.len();
    let mut c = vec![vec![0.0; m]; n];
    for i in 0..n {
        for l in 0..k {
            let ail = a[i][l];
            if ail == 0.0 {
                continue;
            }
            for j in 0..m {
                c[i][j] += ail * b[l][j];
            }
        }
    }
    c
}

/// Symmetric PSD square root `V diag(sqrt(max(λ, 0))) Vᵀ`.
pub fn sqrtm_psd(a: &Matrix) -> Matrix {
    let (vals, v) = sym_eig(a);
    let n = a.len();
    let mut out = vec![vec![0.0; n]; n];
    for (k, &lam) in vals.iter().enumerate() {
        let s = lam.max(0.0).sqrt();
        if s == 0.0 {
            continue;
        }
        for i in 0..n {
            let vi = v[i][k] * s;
            for j in 0..n {
                out[i][j] += vi * v[j][k];
            }
        }
    }
    out
}

/// `||mu1-mu2||² + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2)` from two Gaussian fits.
pub fn frechet_distance_gauss(mu1: &[f64], s1: &Matrix, mu2: &[f64], s2: &Matrix) -> Result<f64> {
    if mu1.len() != mu2.len() || s1.len() != mu1.len() || s2.len() != mu2.len() {
        bail!(
            "Fréchet distance: dimensions differ ({} vs {})",
            mu1.len(),
            mu2.len()
        );
    }
    let diff: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b).powi(2)).sum();
    let r1 = sqrtm_psd(s1);
    let m = matmul(&matmul(&r1, s2), &r1);
    // Symmetrise against round-off before the eigen solve.
    let n = m.len();
    let msym: Matrix = (0..n)
        .map(|i| (0..n).map(|j| 0.5 * (m[i][j] + m[j][i])).collect())
        .collect();
    let (vals, _) = sym_eig(&msym);
    let tr_covmean: f64 = vals.iter().map(|&l| l.max(0.0).sqrt()).sum();
    let tr1: f64 = (0..n).map(|i| s1[i][i]).sum();
    let tr2: f64 = (0..n).map(|i| s2[i][i]).sum();
    Ok(diff + tr1 + tr2 - 2.0 * tr_covmean)
}

/// Fréchet distance between two embedding sets.
pub fn frechet_distance(x: &[Vec<f64>], y: &[Vec<f64>]) -> Result<f64> {
    let (m1, s1) = mean_cov(x)?;
    let (m2, s2) = mean_cov(y)?;
    frechet_distance_gauss(&m1, &s1, &m2, &s2)
}

fn softmax(x: &[f64]) -> Vec<f64> {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// How class logits become probabilities for [`kl_divergence`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlKind {
    Softmax,
    Sigmoid,
}

/// `audioldm_eval`'s KL: `sum_i sum_c p_ref log(p_ref / (p_gen + 1e-6)) / n` over paired rows of
/// logits (generated, reference); terms with `p_ref = 0` are 0 (torch's `xlogy`).
pub fn kl_divergence(
    gen_logits: &[Vec<f64>],
    ref_logits: &[Vec<f64>],
    kind: KlKind,
) -> Result<f64> {
    if gen_logits.len() != ref_logits.len() || gen_logits.is_empty() {
        bail!(
            "KL: {} generated vs {} reference rows (must be paired and non-empty)",
            gen_logits.len(),
            ref_logits.len()
        );
    }
    let mut total = 0.0;
    for (i, (g, r)) in gen_logits.iter().zip(ref_logits).enumerate() {
        if g.len() != r.len() {
            bail!("KL: row {i} has {} vs {} classes", g.len(), r.len());
        }
        let (pg, pr): (Vec<f64>, Vec<f64>) = match kind {
            KlKind::Softmax => (softmax(g), softmax(r)),
            KlKind::Sigmoid => (
                g.iter().map(|&v| sigmoid(v)).collect(),
                r.iter().map(|&v| sigmoid(v)).collect(),
            ),
        };
        for (q, p) in pg.iter().zip(&pr) {
            if *p > 0.0 {
                total += p * (p.ln() - (q + 1e-6).ln());
            }
        }
    }
    Ok(total / gen_logits.len() as f64)
}

/// Cosine similarity; 0 when either vector is zero.
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Mean cosine similarity of paired (text, audio) embeddings: the paper's text-audio score.
pub fn mean_pair_cosine(text: &[Vec<f64>], audio: &[Vec<f64>]) -> Result<f64> {
    if text.len() != audio.len() || text.is_empty() {
        bail!(
            "similarity: {} text vs {} audio embeddings",
            text.len(),
            audio.len()
        );
    }
    Ok(text
        .iter()
        .zip(audio)
        .map(|(t, a)| cosine(t, a))
        .sum::<f64>()
        / text.len() as f64)
}

/// For each generated embedding, the highest cosine similarity to any training embedding.
pub fn nearest_train_similarity(generated: &[Vec<f64>], train: &[Vec<f64>]) -> Result<Vec<f64>> {
    if train.is_empty() {
        bail!("novelty: no training embeddings");
    }
    Ok(generated
        .iter()
        .map(|g| {
            train
                .iter()
                .map(|t| cosine(g, t))
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect())
}

/// SIM_AA@τ: the share of generated samples whose nearest training sample has cosine
/// similarity strictly above `threshold` (lower is more novel).
pub fn novelty_rate(generated: &[Vec<f64>], train: &[Vec<f64>], threshold: f64) -> Result<f64> {
    if generated.is_empty() {
        bail!("novelty: no generated embeddings");
    }
    let near = nearest_train_similarity(generated, train)?;
    Ok(near.iter().filter(|&&s| s > threshold).count() as f64 / near.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn jacobi_reconstructs() {
        let a = vec![
            vec![4.0, 1.0, 0.5],
            vec![1.0, 3.0, 0.2],
            vec![0.5, 0.2, 1.0],
        ];
        let r = sqrtm_psd(&a);
        let back = matmul(&r, &r);
        for i in 0..3 {
            for j in 0..3 {
                assert!((back[i][j] - a[i][j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn fd_of_a_set_with_itself_is_zero_and_bad_input_errors() {
        let x: Vec<Vec<f64>> = (0..20)
            .map(|i| vec![(i as f64).sin(), (i as f64 * 0.7).cos(), i as f64 * 0.1])
            .collect();
        assert!(frechet_distance(&x, &x).unwrap().abs() < 1e-10);
        assert!(frechet_distance(&x[..1], &x).is_err());
        let mut bad = x.clone();
        bad[3][1] = f64::NAN;
        let e = frechet_distance(&bad, &x).unwrap_err().to_string();
        assert!(e.contains("embedding 3, component 1"), "{e}");
    }

    proptest! {
        #[test]
        fn fd_is_symmetric_and_non_negative(seed in 0u64..1000) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let x: Vec<Vec<f64>> = (0..12).map(|_| (0..4).map(|_| rng.gen::<f64>()).collect()).collect();
            let y: Vec<Vec<f64>> = (0..15).map(|_| (0..4).map(|_| rng.gen::<f64>() * 2.0).collect()).collect();
            let a = frechet_distance(&x, &y).unwrap();
            let b = frechet_distance(&y, &x).unwrap();
            prop_assert!(a >= -1e-9);
            prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0));
        }

        #[test]
        fn novelty_rate_is_a_share(seed in 0u64..1000, thr in -1.0f64..1.0) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let g: Vec<Vec<f64>> = (0..7).map(|_| (0..3).map(|_| rng.gen::<f64>() - 0.5).collect()).collect();
            let t: Vec<Vec<f64>> = (0..5).map(|_| (0..3).map(|_| rng.gen::<f64>() - 0.5).collect()).collect();
            let r = novelty_rate(&g, &t, thr).unwrap();
            prop_assert!((0.0..=1.0).contains(&r));
            // Every sample is its own nearest neighbour at similarity 1.
            prop_assert_eq!(novelty_rate(&t, &t, 0.999).unwrap(), 1.0);
        }
    }
}
