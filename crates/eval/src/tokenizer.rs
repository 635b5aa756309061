//! The GPT-NeoX tokenizer as llm-foundry uses it: the shared [`lmrepro_tokenizer::Tokenizer`] plus
//! its EOS id and llm-foundry's prefix-space probe.
//!
//! GPT-NeoX's `tokenizer.json` post-processor is plain ByteLevel and `GPTNeoXTokenizerFast` adds
//! neither BOS nor EOS by default, so `tokenizer(text)` and `tokenizer(text,
//! add_special_tokens=False)` give the same ids; both map to [`Tok::encode`].

use anyhow::Result;
use lmrepro_tokenizer::{Tokenizer, END_OF_TEXT};
use std::path::Path;

pub struct Tok {
    inner: Tokenizer,
    /// `<|endoftext|>`: EOS and (as `pad_token_id` is None) the padding id.
    pub eos_id: u32,
    prefix_space: bool,
}

impl Tok {
    pub fn from_file(path: &Path) -> Result<Tok> {
        let inner = Tokenizer::from_file(path)?;
        // GPT-NeoX / GPT-2 / BLOOM-style vocabularies name EOS `<|endoftext|>`; Llama-family
        // ones `</s>` or `<|end_of_text|>` (a model folder's tokenizer, issue 15).
        let eos_id = [END_OF_TEXT, "</s>", "<|end_of_text|>"]
            .iter()
            .find_map(|t| inner.token_id(t).ok())
            .map_or_else(|| inner.token_id(END_OF_TEXT), Ok)?;
        // llm-foundry `tokenizer_needs_prefix_space`: one token for " a" means BPE-with-spaces.
        let prefix_space = inner.encode(" a")?.len() == 1;
        Ok(Tok {
            inner,
            eos_id,
            prefix_space,
        })
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.inner.encode(text)
    }

    /// `batch_decode(..., skip_special_tokens=True)` for one sequence.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids)
    }

    pub fn needs_prefix_space(&self) -> bool {
        self.prefix_space
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.full_vocab()
    }
}
