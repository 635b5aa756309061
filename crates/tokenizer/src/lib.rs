//! The HF `tokenizers` JSON tokenizer (GPT-NeoX-20B for DCLM), loaded and called one way for every
//! crate: curation's tokenize + shuffle, on-the-fly tokenization in training, and evaluation.
//!
//! Invariant: [`Tokenizer::encode`] never adds special tokens (tokshuf-rs stores
//! `encode(text, add_special_tokens=False)`, and GPT-NeoX's post-processor adds none anyway), so
//! the three consumers see the same ids for the same text.
//!
//! Encoding goes through [`fast`] (a byte-level BPE built from the same `tokenizer.json`, ids
//! identical to HF's, several times faster) whenever the file's configuration is one it
//! implements; otherwise through HF `tokenizers`, and [`Tokenizer::backend`] names the reason.

mod fast;
mod pretok;

use anyhow::{anyhow, Context, Result};
use sha2::{Digest, Sha256};
use std::path::Path;

/// GPT-NeoX's end-of-text token (EOT between documents, EOS and padding in evaluation).
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// A loaded `tokenizer.json`.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// The fast encoder, or why this file's configuration needs HF's.
    fast: std::result::Result<fast::FastBpe, String>,
    sha256: String,
}

impl Tokenizer {
    /// Loads `path`, hashing the bytes it parsed (so the recorded identity is exactly the file
    /// used, even if it changes on disk afterwards).
    pub fn from_file(path: &Path) -> Result<Tokenizer> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading tokenizer {}", path.display()))?;
        let inner = tokenizers::Tokenizer::from_bytes(&bytes)
            .map_err(|e| anyhow!("loading tokenizer {}: {e}", path.display()))?;
        let json: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("parsing tokenizer {}", path.display()))?;
        let fast = fast::FastBpe::from_json(&json).map_err(|e| format!("{e:#}"));
        Ok(Tokenizer {
            inner,
            fast,
            sha256: hex::encode(Sha256::digest(&bytes)),
        })
    }

    /// Lower-case hex SHA-256 of the `tokenizer.json` bytes (recorded with token shards).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Which encoder [`Tokenizer::encode`] uses: `"fast"`, or `"hf (<why the fast one does not
    /// apply>)"`.
    pub fn backend(&self) -> String {
        match &self.fast {
            Ok(_) => "fast".to_string(),
            Err(why) => format!("hf ({why})"),
        }
    }

    /// Ids of `text` without special tokens (special tokens written in the text are still
    /// recognised, as in HF).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match &self.fast {
            Ok(fast) => {
                let mut ids = Vec::with_capacity(text.len() / 3);
                fast.encode(text, &mut ids);
                Ok(ids)
            }
            Err(_) => self.encode_hf(text),
        }
    }

    /// Ids of `text` from HF `tokenizers` itself (the reference the fast encoder is tested
    /// against). Offsets are not tracked (`encode_fast`): only ids are used, and they are the
    /// same as `encode`'s.
    pub fn encode_hf(&self, text: &str) -> Result<Vec<u32>> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self.inner.encode_fast(text, false).map_err(|e| {
            anyhow!(
                "tokenizing {:?}...: {e}",
                text.chars().take(40).collect::<String>()
            )
        })?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids`, special tokens skipped (`batch_decode(..., skip_special_tokens=True)`).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| anyhow!("decoding {} tokens: {e}", ids.len()))
    }

    /// The id of a (special) token, e.g. [`END_OF_TEXT`].
    pub fn token_id(&self, token: &str) -> Result<u32> {
        self.inner
            .token_to_id(token)
            .with_context(|| format!("the tokenizer has no {token} token"))
    }

    /// Vocabulary size without added tokens (50254 for GPT-NeoX-20B).
    pub fn base_vocab(&self) -> usize {
        self.inner.get_vocab_size(false)
    }

    /// Vocabulary size with added tokens (50277 for GPT-NeoX-20B): every id `encode` can emit is
    /// below it.
    pub fn full_vocab(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt_neox_ids_vocab_and_round_trip() {
        let path =
            lmrepro_data::testing::input("dclm-eval", "tokenizer/gpt-neox-20b/tokenizer.json");
        let tok = Tokenizer::from_file(&path).unwrap();
        assert_eq!(tok.encode("Hello world").unwrap(), [12092, 1533]);
        assert_eq!(tok.encode("").unwrap(), Vec::<u32>::new());
        assert_eq!(tok.token_id(END_OF_TEXT).unwrap(), 0);
        // tokshuf's PAD id is base + 2 = 50256.
        assert_eq!((tok.base_vocab(), tok.full_vocab()), (50254, 50277));
        let text = "Dedup, then tokenize:\n\tcafé  ✓";
        assert_eq!(tok.decode(&tok.encode(text).unwrap()).unwrap(), text);
        assert_eq!(tok.sha256().len(), 64);
        assert!(tok.token_id("<|no such token|>").is_err());
    }
}
