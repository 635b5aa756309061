//! Hugging Face checkpoints for the eval suite, and our checkpoints for `transformers`.
//!
//! - [`config`]: `config.json` of GPT-NeoX, Llama, BLOOM, GPT-2 and DCLM's open_lm HF format →
//!   [`lmrepro_model::ModelConfig`] (unsupported options are errors naming the key);
//! - [`weights`]: memory-mapped safetensors, single file or sharded index, f32/bf16/f16;
//! - [`load`]: tensor names and layouts → the decoder's parameters (every tensor accounted for);
//! - [`lm`]: the loaded folder as a `TokenLm` with its own tokenizer, and `lmrepro score`;
//! - [`export`]: our GPT-2 / BLOOM / open_lm options as transformers-loadable folders;
//! - [`cli`]: `lmrepro score` and `lmrepro hf export`.

pub mod cli;
pub mod config;
pub mod export;
pub mod lm;
pub mod load;
pub mod weights;

pub use config::{Arch, HfConfig};
pub use lm::HfLm;

/// `hf:PATH` model arguments.
pub fn parse_model_arg(arg: &str) -> Option<std::path::PathBuf> {
    arg.strip_prefix("hf:").map(std::path::PathBuf::from)
}

/// A model folder as a boxed [`lmrepro_lm::TokenLm`] (for `lmrepro eval --model hf:PATH`).
pub fn load_token_lm(dir: &std::path::Path) -> anyhow::Result<Box<dyn lmrepro_lm::TokenLm>> {
    Ok(Box::new(HfLm::load(dir)?))
}
