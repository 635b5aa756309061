//! Token input: real text tokenized on the fly, raw token shards, and the seeded data order.
//!
//! Like DCLM's `tokshuf`, documents are tokenized, each followed by the end-of-text token, the
//! stream is concatenated and cut into non-overlapping contexts of `seq_len + 1` tokens (inputs are
//! the first `seq_len`, targets the last `seq_len`); the trailing partial context is dropped.

use anyhow::{bail, Context, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// The texts of a document file (`corpus/gutenberg_*.jsonl.zst`: one JSON object per line with a
/// string `text`), in file order; a malformed line is an error naming file and line.
pub fn read_texts(path: &Path) -> Result<Vec<String>> {
    let (docs, _) = lmrepro_stage::read_docs(path, lmrepro_stage::OnMalformed::Error)?;
    Ok(docs
        .into_iter()
        .map(|(_, d)| lmrepro_stage::text(&d).to_string())
        .collect())
}

/// How text becomes token ids.
pub enum TextTokenizer {
    /// UTF-8 bytes (ids 0–255) and end-of-text 256: vocabulary 257. For fast CPU tests.
    Bytes,
    /// A HF `tokenizers` JSON (GPT-NeoX-20B for DCLM); end-of-text `<|endoftext|>` (id 0 there).
    #[cfg(feature = "hf-tokenizer")]
    Hf {
        tokenizer: Box<lmrepro_tokenizer::Tokenizer>,
        eot: u32,
    },
}

impl TextTokenizer {
    /// Loads a HF `tokenizer.json` (needs the `hf-tokenizer` feature).
    #[cfg(not(feature = "hf-tokenizer"))]
    pub fn hf(path: &Path) -> Result<Self> {
        bail!(
            "{}: this build has no HF tokenizer support; rebuild with `--features lmrepro-model/hf-tokenizer` \
             (or use pre-tokenized shards / the `bytes` tokenizer)",
            path.display()
        )
    }

    /// Loads a HF `tokenizer.json`.
    #[cfg(feature = "hf-tokenizer")]
    pub fn hf(path: &Path) -> Result<Self> {
        let tokenizer = lmrepro_tokenizer::Tokenizer::from_file(path)?;
        let eot = tokenizer
            .token_id(lmrepro_tokenizer::END_OF_TEXT)
            .with_context(|| format!("{}", path.display()))?;
        Ok(TextTokenizer::Hf {
            tokenizer: Box::new(tokenizer),
            eot,
        })
    }

    pub fn eot(&self) -> u32 {
        match self {
            TextTokenizer::Bytes => 256,
            #[cfg(feature = "hf-tokenizer")]
            TextTokenizer::Hf { eot, .. } => *eot,
        }
    }

    /// Smallest vocabulary that holds every id this tokenizer emits.
    pub fn min_vocab(&self) -> usize {
        match self {
            TextTokenizer::Bytes => 257,
            #[cfg(feature = "hf-tokenizer")]
            TextTokenizer::Hf { tokenizer, .. } => tokenizer.full_vocab(),
        }
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match self {
            TextTokenizer::Bytes => Ok(text.bytes().map(u32::from).collect()),
            #[cfg(feature = "hf-tokenizer")]
            TextTokenizer::Hf { tokenizer, .. } => tokenizer.encode(text),
        }
    }

    /// Tokenizes documents into one stream, each document followed by end-of-text.
    pub fn encode_docs<'a>(&self, docs: impl IntoIterator<Item = &'a str>) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        for d in docs {
            out.extend(self.encode(d)?);
            out.push(self.eot());
        }
        Ok(out)
    }
}

/// A set of fixed-length contexts (`ctx = seq_len + 1` tokens each).
#[derive(Debug, Clone, PartialEq)]
pub struct Contexts {
    pub ctx: usize,
    pub tokens: Vec<u32>,
}

impl Contexts {
    /// Cuts a token stream into non-overlapping contexts, dropping the partial tail.
    pub fn from_stream(stream: &[u32], ctx: usize) -> Self {
        let n = stream.len() / ctx;
        Contexts {
            ctx,
            tokens: stream[..n * ctx].to_vec(),
        }
    }

    pub fn len(&self) -> usize {
        self.tokens.len() / self.ctx
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> &[u32] {
        &self.tokens[i * self.ctx..(i + 1) * self.ctx]
    }

    /// Largest id (to check against the model's vocabulary).
    pub fn max_id(&self) -> Option<u32> {
        self.tokens.iter().copied().max()
    }

    /// Reads a raw token shard: little-endian `u16` or `u32` ids, `ctx` per context (the layout of
    /// DCLM's tokenized shards once unpacked: 2049 ids per context).
    pub fn read_shard(path: &Path, bytes_per_id: usize, ctx: usize) -> Result<Self> {
        let mut raw = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut raw))
            .with_context(|| format!("reading token shard {}", path.display()))?;
        if bytes_per_id != 2 && bytes_per_id != 4 {
            bail!("token width must be 2 or 4 bytes, got {bytes_per_id}");
        }
        let rec = bytes_per_id * ctx;
        if !raw.len().is_multiple_of(rec) {
            bail!(
                "{}: {} bytes is not a whole number of {ctx}-token contexts of u{} ids (context {} is truncated)",
                path.display(),
                raw.len(),
                bytes_per_id * 8,
                raw.len() / rec
            );
        }
        let tokens = if bytes_per_id == 2 {
            raw.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as u32)
                .collect()
        } else {
            raw.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        Ok(Contexts { ctx, tokens })
    }
}

/// Seeded order over contexts: a fresh permutation per epoch, derived only from `(seed, epoch)`,
/// so the position (`consumed`) is the whole state a checkpoint needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataOrder {
    pub seed: u64,
    pub n: usize,
    /// Contexts handed out so far (across epochs).
    pub consumed: u64,
    #[serde(skip)]
    perm: Option<(u64, Vec<usize>)>,
}

impl DataOrder {
    pub fn new(seed: u64, n: usize) -> Self {
        DataOrder {
            seed,
            n,
            consumed: 0,
            perm: None,
        }
    }

    fn permutation(seed: u64, epoch: u64, n: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        idx.shuffle(&mut rng);
        idx
    }

    /// The next context index.
    pub fn next_index(&mut self) -> usize {
        assert!(self.n > 0, "no training contexts");
        let epoch = self.consumed / self.n as u64;
        let pos = (self.consumed % self.n as u64) as usize;
        if self.perm.as_ref().map(|(e, _)| *e) != Some(epoch) {
            self.perm = Some((epoch, Self::permutation(self.seed, epoch, self.n)));
        }
        self.consumed += 1;
        self.perm.as_ref().expect("set above").1[pos]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn contexts_drop_tail() {
        let c = Contexts::from_stream(&[1, 2, 3, 4, 5, 6, 7], 3);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(1), &[4, 5, 6]);
    }

    #[test]
    fn shard_roundtrip_and_truncation_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.bin");
        let ids: Vec<u16> = vec![1, 2, 3, 65535, 5, 6];
        let bytes: Vec<u8> = ids.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&p, &bytes).unwrap();
        let c = Contexts::read_shard(&p, 2, 3).unwrap();
        assert_eq!(c.get(1), &[65535, 5, 6]);
        std::fs::write(&p, &bytes[..10]).unwrap();
        let err = Contexts::read_shard(&p, 2, 3).unwrap_err().to_string();
        assert!(err.contains("context 1 is truncated"), "{err}");
    }

    proptest! {
        #[test]
        fn order_is_a_permutation_per_epoch(seed in any::<u64>(), n in 1usize..50) {
            let mut o = DataOrder::new(seed, n);
            for _ in 0..2 {
                let mut seen: Vec<usize> = (0..n).map(|_| o.next_index()).collect();
                seen.sort();
                prop_assert_eq!(seen, (0..n).collect::<Vec<_>>());
            }
        }

        #[test]
        fn order_resumes_from_position(seed in any::<u64>(), n in 1usize..30, k in 0usize..60) {
            let mut a = DataOrder::new(seed, n);
            for _ in 0..k { a.next_index(); }
            let saved = serde_json::to_string(&a).unwrap();
            let mut b: DataOrder = serde_json::from_str(&saved).unwrap();
            for _ in 0..20 { prop_assert_eq!(a.next_index(), b.next_index()); }
        }
    }

    #[test]
    fn bytes_tokenizer_appends_eot() {
        let t = TextTokenizer::Bytes;
        assert_eq!(
            t.encode_docs(["ab", "c"]).unwrap(),
            vec![97, 98, 256, 99, 256]
        );
    }
}
