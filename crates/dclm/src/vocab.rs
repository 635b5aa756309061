//! Compact vocabulary for CPU-sized models.
//!
//! With GPT-NeoX's 50,432-entry vocabulary a 1M-parameter model spends almost all its time on the
//! output layer (a 2,048-token step computes 100M logits). The tiny scale therefore trains on the
//! `n - 1` most frequent GPT-NeoX ids of the raw pool plus one shared id `OTHER` for every other
//! id. The model still reads and scores GPT-NeoX tokens: a token outside the kept set gets
//! `log p(OTHER) - ln(#ids in OTHER)`, i.e. OTHER's mass spread uniformly over the ids it stands
//! for, so every score is a proper distribution over the full vocabulary and per-token losses are
//! in nats per GPT-NeoX token. This is a named deviation (`compact_vocab` in the recipe; `None`
//! trains on the full vocabulary as DCLM does).

use anyhow::{bail, Result};
use lmrepro_lm::{ScoreRequest, ScoreResult, TokenLm};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompactVocab {
    /// Full-vocabulary size the map covers (ids at or above it also map to OTHER).
    pub full_size: u32,
    /// Kept GPT-NeoX ids, most frequent first (compact id = position).
    pub kept: Vec<u32>,
}

impl CompactVocab {
    /// Keeps the `size - 1` most frequent ids of `tokens` (ties: lower id first).
    pub fn from_counts(
        tokens: impl IntoIterator<Item = u32>,
        full_size: u32,
        size: usize,
    ) -> Result<Self> {
        if size < 2 {
            bail!("a compact vocabulary needs at least 2 entries");
        }
        let mut counts = vec![0u64; full_size as usize];
        for t in tokens {
            if let Some(c) = counts.get_mut(t as usize) {
                *c += 1;
            }
        }
        let mut ids: Vec<u32> = (0..full_size).filter(|&i| counts[i as usize] > 0).collect();
        ids.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
        ids.truncate(size - 1);
        Ok(CompactVocab {
            full_size,
            kept: ids,
        })
    }

    /// Compact vocabulary size (kept ids + OTHER).
    pub fn size(&self) -> usize {
        self.kept.len() + 1
    }

    pub fn other_id(&self) -> u32 {
        self.kept.len() as u32
    }

    /// How many full-vocabulary ids OTHER stands for.
    pub fn other_count(&self) -> u32 {
        self.full_size - self.kept.len() as u32
    }

    /// Full id → compact id table.
    pub fn table(&self) -> Vec<u32> {
        let mut t = vec![self.other_id(); self.full_size as usize];
        for (c, &id) in self.kept.iter().enumerate() {
            t[id as usize] = c as u32;
        }
        t
    }

    pub fn map(table: &[u32], other: u32, id: u32) -> u32 {
        table.get(id as usize).copied().unwrap_or(other)
    }

    /// `ln(#ids in OTHER)`: the per-token correction from a compact to a full-vocabulary loss.
    pub fn other_log_count(&self) -> f64 {
        (self.other_count().max(1) as f64).ln()
    }
}

/// A model over a compact vocabulary, seen as a model over the full one.
pub struct CompactLm<M: TokenLm> {
    pub inner: M,
    vocab: CompactVocab,
    table: Vec<u32>,
}

impl<M: TokenLm> CompactLm<M> {
    pub fn new(inner: M, vocab: CompactVocab) -> Self {
        let table = vocab.table();
        CompactLm {
            inner,
            vocab,
            table,
        }
    }

    fn to_compact(&self, ids: &[u32]) -> Vec<u32> {
        let other = self.vocab.other_id();
        ids.iter()
            .map(|&t| CompactVocab::map(&self.table, other, t))
            .collect()
    }
}

impl<M: TokenLm> TokenLm for CompactLm<M> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn max_context(&self) -> usize {
        self.inner.max_context()
    }

    fn score(&mut self, batch: &[ScoreRequest]) -> Result<Vec<ScoreResult>> {
        let mapped: Vec<ScoreRequest> = batch
            .iter()
            .map(|r| ScoreRequest {
                context: self.to_compact(&r.context),
                continuation: self.to_compact(&r.continuation),
            })
            .collect();
        let mut out = self.inner.score(&mapped)?;
        let other = self.vocab.other_id();
        let corr = self.vocab.other_log_count();
        for (res, req) in out.iter_mut().zip(&mapped) {
            for ((lp, greedy), &t) in res
                .logprobs
                .iter_mut()
                .zip(res.greedy_match.iter_mut())
                .zip(&req.continuation)
            {
                if t == other {
                    *lp -= corr;
                    // Greedy agreement is over full ids: an argmax of OTHER stands for ~40k ids
                    // and never reproduces one particular rare token.
                    *greedy = false;
                }
            }
        }
        Ok(out)
    }

    fn next_token_logprobs(&mut self, contexts: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        let mapped: Vec<Vec<u32>> = contexts.iter().map(|c| self.to_compact(c)).collect();
        let rows = self.inner.next_token_logprobs(&mapped)?;
        let other = self.vocab.other_id() as usize;
        let corr = self.vocab.other_log_count() as f32;
        Ok(rows
            .into_iter()
            .map(|row| {
                self.table
                    .iter()
                    .map(|&c| {
                        let c = c as usize;
                        if c == other {
                            row[c] - corr
                        } else {
                            row[c]
                        }
                    })
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_frequent_ids_are_kept_ties_by_id() {
        let v = CompactVocab::from_counts([5, 5, 3, 3, 9, 1], 10, 3).unwrap();
        assert_eq!(v.kept, vec![3, 5]);
        assert_eq!(v.other_id(), 2);
        assert_eq!(v.other_count(), 8);
        let t = v.table();
        assert_eq!(t[3], 0);
        assert_eq!(t[5], 1);
        assert_eq!(t[9], 2);
        assert_eq!(CompactVocab::map(&t, 2, 500), 2);
    }

    /// A uniform model over the compact vocabulary must give a proper distribution over the
    /// full one once OTHER's mass is spread.
    struct Uniform(usize);
    impl TokenLm for Uniform {
        fn name(&self) -> String {
            "uniform".into()
        }
        fn max_context(&self) -> usize {
            8
        }
        fn score(&mut self, batch: &[ScoreRequest]) -> Result<Vec<ScoreResult>> {
            Ok(batch
                .iter()
                .map(|r| ScoreResult {
                    logprobs: vec![-(self.0 as f64).ln(); r.continuation.len()],
                    greedy_match: vec![true; r.continuation.len()],
                })
                .collect())
        }
        fn next_token_logprobs(&mut self, contexts: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
            Ok(contexts
                .iter()
                .map(|_| vec![-(self.0 as f32).ln(); self.0])
                .collect())
        }
    }

    #[test]
    fn spread_other_mass_sums_to_one() {
        let v = CompactVocab::from_counts([1, 1, 2], 6, 3).unwrap();
        let mut lm = CompactLm::new(Uniform(3), v);
        let rows = lm.next_token_logprobs(&[vec![1]]).unwrap();
        let total: f64 = rows[0].iter().map(|&l| (l as f64).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
        let s = lm
            .score(&[ScoreRequest {
                context: vec![1],
                continuation: vec![1, 4],
            }])
            .unwrap();
        assert!((s[0].logprobs[1] - (-(3f64).ln() - (4f64).ln())).abs() < 1e-9);
        assert_eq!(s[0].greedy_match, vec![true, false]);
    }
}
