//! The GPT-NeoX tokenizer (HF `tokenizers`, pure-Rust regex backend) as llm-foundry uses it.
//!
//! GPT-NeoX's `tokenizer.json` post-processor is plain ByteLevel and
//! `GPTNeoXTokenizerFast` adds neither BOS nor EOS by default, so `tokenizer(text)` and
//! `tokenizer(text, add_special_tokens=False)` give the same ids; both map to [`Tok::encode`].

use anyhow::{anyhow, Context, Result};
use std::path::Path;

pub struct Tok {
    inner: tokenizers::Tokenizer,
    /// `<|endoftext|>`: EOS and (as `pad_token_id` is None) the padding id.
    pub eos_id: u32,
    prefix_space: bool,
}

impl Tok {
    pub fn from_file(path: &Path) -> Result<Tok> {
        let inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| anyhow!("loading tokenizer {}: {e}", path.display()))?;
        let eos_id = inner
            .token_to_id("<|endoftext|>")
            .with_context(|| format!("{}: no <|endoftext|> token", path.display()))?;
        let mut t = Tok {
            inner,
            eos_id,
            prefix_space: false,
        };
        // llm-foundry `tokenizer_needs_prefix_space`: one token for " a" means BPE-with-spaces.
        t.prefix_space = t.encode(" a")?.len() == 1;
        Ok(t)
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self.inner.encode(text, false).map_err(|e| {
            anyhow!(
                "tokenizing {:?}...: {e}",
                text.chars().take(40).collect::<String>()
            )
        })?;
        Ok(enc.get_ids().to_vec())
    }

    /// `batch_decode(..., skip_special_tokens=True)` for one sequence.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| anyhow!("decoding {} tokens: {e}", ids.len()))
    }

    pub fn needs_prefix_space(&self) -> bool {
        self.prefix_space
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
