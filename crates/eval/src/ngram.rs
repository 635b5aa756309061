//! A reference n-gram language model over token ids (interpolated Witten-Bell smoothing on top of
//! an add-one unigram), so the whole ICL suite runs end to end on CPU without a neural model.
//!
//! `P_0(w) = (c(w) + 1) / (T + V)`;
//! `P_k(w | h) = (c(h w) + u(h) P_{k-1}(w | h')) / (c(h) + u(h))` where `h'` drops the oldest
//! token, `c(h)` counts `h` as a context and `u(h)` is its number of distinct followers; contexts
//! never seen back off entirely. Every distribution sums to one over the vocabulary, so the
//! log-probabilities are proper and the MC/LM metrics mean what they say.
//!
//! The greedy token is found exactly without scanning the vocabulary: for a context `h` the
//! maximiser of `P_k` is either a follower of `h` or the maximiser of `P_{k-1}(. | h')` (for
//! non-followers `P_k` is `P_{k-1}` scaled by one constant), so a memoised recursion suffices.

use anyhow::{bail, Result};
use lmrepro_lm::{ScoreRequest, ScoreResult, TokenLm};
use std::collections::HashMap;

/// Token ids are packed 17 bits each into a u64 context key (GPT-NeoX has 50,277 ids).
const BITS: u32 = 17;
const MAX_ORDER: usize = 4;

#[derive(Debug, Default, Clone)]
struct Ctx {
    total: u64,
    /// (token, count), sorted by token.
    followers: Vec<(u32, u32)>,
}

pub struct NgramLm {
    name: String,
    order: usize,
    vocab: usize,
    unigram: Vec<u64>,
    total: u64,
    /// `tables[k-1]`: contexts of length k.
    tables: Vec<HashMap<u64, Ctx>>,
    argmax_cache: HashMap<(usize, u64), (u32, f64)>,
    unigram_best: u32,
}

fn key(ctx: &[u32]) -> u64 {
    let mut k = ctx.len() as u64;
    for &t in ctx {
        k = (k << BITS) | t as u64;
    }
    k
}

impl NgramLm {
    /// Trains on documents given as token sequences (each document's n-grams stay inside it).
    pub fn train(name: String, order: usize, vocab: usize, docs: &[Vec<u32>]) -> Result<NgramLm> {
        if !(1..=MAX_ORDER).contains(&order) {
            bail!("n-gram order must be between 1 and {MAX_ORDER}, got {order}");
        }
        if vocab >= 1 << BITS {
            bail!("vocabulary of {vocab} does not fit the {BITS}-bit packing");
        }
        let mut unigram = vec![0u64; vocab];
        let mut counts: Vec<HashMap<u64, HashMap<u32, u32>>> = vec![HashMap::new(); order - 1];
        let mut total = 0u64;
        for doc in docs {
            for (i, &w) in doc.iter().enumerate() {
                if w as usize >= vocab {
                    bail!("token id {w} outside the vocabulary of {vocab}");
                }
                unigram[w as usize] += 1;
                total += 1;
                for k in 1..order {
                    if i >= k {
                        *counts[k - 1]
                            .entry(key(&doc[i - k..i]))
                            .or_default()
                            .entry(w)
                            .or_default() += 1;
                    }
                }
            }
        }
        let tables = counts
            .into_iter()
            .map(|m| {
                m.into_iter()
                    .map(|(k, f)| {
                        let mut followers: Vec<(u32, u32)> = f.into_iter().collect();
                        followers.sort_unstable();
                        let total = followers.iter().map(|x| x.1 as u64).sum();
                        (k, Ctx { total, followers })
                    })
                    .collect()
            })
            .collect();
        // Lowest id among the most frequent tokens (torch.argmax picks the first maximum).
        let mut unigram_best = 0u32;
        for (i, &c) in unigram.iter().enumerate() {
            if c > unigram[unigram_best as usize] {
                unigram_best = i as u32;
            }
        }
        Ok(NgramLm {
            name,
            order,
            vocab,
            unigram,
            total,
            tables,
            argmax_cache: HashMap::new(),
            unigram_best,
        })
    }

    pub fn order(&self) -> usize {
        self.order
    }

    /// Tokens seen in training.
    pub fn train_tokens(&self) -> u64 {
        self.total
    }

    fn p0(&self, w: u32) -> f64 {
        (self.unigram[w as usize] + 1) as f64 / (self.total + self.vocab as u64) as f64
    }

    /// `P_k(w | hist[hist.len()-k..])`.
    fn prob(&self, hist: &[u32], w: u32, k: usize) -> f64 {
        let k = k.min(hist.len());
        if k == 0 {
            return self.p0(w);
        }
        let lower = self.prob(hist, w, k - 1);
        match self.tables[k - 1].get(&key(&hist[hist.len() - k..])) {
            None => lower,
            Some(ctx) => {
                let c = match ctx.followers.binary_search_by_key(&w, |x| x.0) {
                    Ok(i) => ctx.followers[i].1 as f64,
                    Err(_) => 0.0,
                };
                let u = ctx.followers.len() as f64;
                (c + u * lower) / (ctx.total as f64 + u)
            }
        }
    }

    /// The maximiser of `P_k(. | hist)` and its probability (ties to the lowest id).
    fn argmax(&mut self, hist: &[u32], k: usize) -> (u32, f64) {
        let k = k.min(hist.len());
        if k == 0 {
            let b = self.unigram_best;
            return (b, self.p0(b));
        }
        let ckey = key(&hist[hist.len() - k..]);
        if let Some(&hit) = self.argmax_cache.get(&(k, ckey)) {
            return hit;
        }
        let lower_best = self.argmax(hist, k - 1);
        let result = match self.tables[k - 1].get(&ckey) {
            None => lower_best,
            Some(ctx) => {
                let followers: Vec<u32> = ctx.followers.iter().map(|x| x.0).collect();
                let mut best = (lower_best.0, self.prob(hist, lower_best.0, k));
                for w in followers {
                    let p = self.prob(hist, w, k);
                    if p > best.1 || (p == best.1 && w < best.0) {
                        best = (w, p);
                    }
                }
                best
            }
        };
        // Bound the memo so long runs do not grow without limit.
        if self.argmax_cache.len() > 2_000_000 {
            self.argmax_cache.clear();
        }
        self.argmax_cache.insert((k, ckey), result);
        result
    }
}

impl TokenLm for NgramLm {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn max_context(&self) -> usize {
        usize::MAX
    }

    fn score(&mut self, batch: &[ScoreRequest]) -> Result<Vec<ScoreResult>> {
        let mut out = Vec::with_capacity(batch.len());
        let k = self.order - 1;
        for req in batch {
            let mut seq = req.context.clone();
            let mut logprobs = Vec::with_capacity(req.continuation.len());
            let mut greedy = Vec::with_capacity(req.continuation.len());
            for &w in &req.continuation {
                if w as usize >= self.vocab {
                    bail!("token id {w} outside the vocabulary of {}", self.vocab);
                }
                let p = self.prob(&seq, w, k);
                logprobs.push(p.ln());
                greedy.push(self.argmax(&seq, k).0 == w);
                seq.push(w);
            }
            out.push(ScoreResult {
                logprobs,
                greedy_match: greedy,
            });
        }
        Ok(out)
    }

    fn next_token_logprobs(&mut self, contexts: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        let k = self.order - 1;
        Ok(contexts
            .iter()
            .map(|c| {
                (0..self.vocab as u32)
                    .map(|w| self.prob(c, w, k).ln() as f32)
                    .collect()
            })
            .collect())
    }

    fn greedy_next(&mut self, contexts: &[Vec<u32>]) -> Result<Vec<u32>> {
        let k = self.order - 1;
        Ok(contexts.iter().map(|c| self.argmax(c, k).0).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> NgramLm {
        let docs = vec![vec![1, 2, 3, 1, 2, 4], vec![1, 2, 3]];
        NgramLm::train("toy".into(), 3, 6, &docs).unwrap()
    }

    #[test]
    fn distributions_sum_to_one() {
        let m = toy();
        for hist in [vec![], vec![1], vec![1, 2], vec![5, 5], vec![2, 3]] {
            let s: f64 = (0..6).map(|w| m.prob(&hist, w, 2)).sum();
            assert!((s - 1.0).abs() < 1e-12, "{hist:?}: {s}");
        }
    }

    #[test]
    fn greedy_is_the_true_argmax() {
        let mut m = toy();
        for hist in [vec![], vec![1], vec![1, 2], vec![5, 5], vec![2, 3], vec![3]] {
            let brute = (0..6u32)
                .map(|w| (w, m.prob(&hist, w, 2)))
                .fold((0u32, -1.0f64), |b, x| if x.1 > b.1 { x } else { b });
            assert_eq!(
                m.greedy_next(std::slice::from_ref(&hist)).unwrap()[0],
                brute.0,
                "{hist:?}"
            );
        }
        // After "1 2" the model has seen 3 twice and 4 once.
        assert_eq!(m.greedy_next(&[vec![1, 2]]).unwrap(), vec![3]);
    }

    #[test]
    fn score_reports_logprobs_and_greedy() {
        let mut m = toy();
        let r = m
            .score(&[ScoreRequest {
                context: vec![1],
                continuation: vec![2, 3],
            }])
            .unwrap();
        assert_eq!(r[0].greedy_match, vec![true, true]);
        assert!(r[0].logprobs.iter().all(|&l| l < 0.0));
        assert!(NgramLm::train("x".into(), 9, 6, &[]).is_err());
    }
}
