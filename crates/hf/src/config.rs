//! `config.json` of a Hugging Face checkpoint → [`ModelConfig`].
//!
//! Each architecture reads the keys its `transformers` config class (or open_lm's
//! `OpenLMConfig`, whose keys are open_lm's `Params` fields) defines. Options that change the
//! computation and that the decoder does not implement (rope scaling, post-LayerNorm residuals,
//! per-layer attention scaling, MoE, ...) are errors naming the key, never silently ignored.

use anyhow::{bail, Context, Result};
use lmrepro_model::config::{FfnKind, ModelConfig, NormKind, PositionKind};
use serde_json::{Map, Value};
use std::path::Path;

/// The checkpoint families the loader maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    GptNeoX,
    Llama,
    Bloom,
    Gpt2,
    OpenLm,
}

impl Arch {
    /// From `model_type` (or, failing that, the first `architectures` entry).
    pub fn detect(cfg: &Map<String, Value>) -> Result<Arch> {
        let mt = cfg.get("model_type").and_then(Value::as_str).unwrap_or("");
        Ok(match mt {
            "gpt_neox" => Arch::GptNeoX,
            "llama" | "mistral" => Arch::Llama,
            "bloom" => Arch::Bloom,
            "gpt2" => Arch::Gpt2,
            "openlm" => Arch::OpenLm,
            other => bail!(
                "model_type `{other}` is not supported (gpt_neox, llama, mistral, bloom, gpt2, openlm)"
            ),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::GptNeoX => "gpt_neox",
            Arch::Llama => "llama",
            Arch::Bloom => "bloom",
            Arch::Gpt2 => "gpt2",
            Arch::OpenLm => "openlm",
        }
    }
}

/// A parsed `config.json`.
#[derive(Debug, Clone)]
pub struct HfConfig {
    pub arch: Arch,
    pub model: ModelConfig,
    /// `eos_token_id` when given (the eval's padding / EOS id falls back to the tokenizer's).
    pub eos_token_id: Option<u32>,
}

struct Keys<'a> {
    map: &'a Map<String, Value>,
    file: &'a str,
}

impl Keys<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?
            .with_context(|| format!("{}: missing integer key `{key}`", self.file))
    }
    fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|x| Some(x as usize))
                .with_context(|| format!("{}: key `{key}` is {v}, expected an integer", self.file)),
        }
    }
    fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .with_context(|| format!("{}: key `{key}` is {v}, expected a number", self.file)),
        }
    }
    fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .with_context(|| format!("{}: key `{key}` is {v}, expected true/false", self.file)),
        }
    }
    fn str_or<'b>(&'b self, key: &str, default: &'b str) -> Result<&'b str> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_str()
                .with_context(|| format!("{}: key `{key}` is {v}, expected a string", self.file)),
        }
    }
    /// A key (also looked up inside `rope_parameters`, transformers 5's layout).
    fn rope(&self, key: &str) -> Option<&Value> {
        self.get(key).or_else(|| {
            self.get("rope_parameters")
                .and_then(|r| r.get(key))
                .filter(|v| !v.is_null())
        })
    }
    fn rope_f64(&self, keys: &[&str], default: f64) -> Result<f64> {
        for k in keys {
            if let Some(v) = self.rope(k) {
                return v.as_f64().with_context(|| {
                    format!("{}: key `{k}` is {v}, expected a number", self.file)
                });
            }
        }
        Ok(default)
    }
    /// Rope scaling changes positions; only the plain ("default") rope is implemented.
    fn plain_rope(&self) -> Result<()> {
        if let Some(s) = self.get("rope_scaling") {
            bail!("{}: `rope_scaling` {s} is not supported", self.file);
        }
        if let Some(t) = self.rope("rope_type").and_then(Value::as_str) {
            if t != "default" {
                bail!("{}: rope_type `{t}` is not supported", self.file);
            }
        }
        Ok(())
    }
    fn require(&self, key: &str, want: bool, default: bool) -> Result<()> {
        if self.bool_or(key, default)? != want {
            bail!("{}: `{key}: {}` is not supported", self.file, !want);
        }
        Ok(())
    }
}

fn gelu_kind(act: &str, file: &str) -> Result<FfnKind> {
    Ok(match act {
        "gelu" => FfnKind::Gelu,
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => FfnKind::GeluTanh,
        other => bail!("{file}: activation `{other}` is not supported (gelu, gelu_new)"),
    })
}

impl HfConfig {
    pub fn load(dir: &Path) -> Result<HfConfig> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let map = v
            .as_object()
            .with_context(|| format!("{}: not a JSON object", path.display()))?;
        Self::from_map(map, &path.display().to_string())
    }

    pub fn from_map(map: &Map<String, Value>, file: &str) -> Result<HfConfig> {
        let arch = Arch::detect(map).with_context(|| format!("{file}: unknown architecture"))?;
        let k = Keys { map, file };
        let model = match arch {
            Arch::GptNeoX => {
                k.plain_rope()?;
                let d = k.usize("hidden_size")?;
                let h = k.usize("num_attention_heads")?;
                let pct = k.rope_f64(&["rotary_pct", "partial_rotary_factor"], 1.0)?;
                // transformers: `rotary_ndims = int(head_size * rotary_pct)`.
                let rot = ((d / h) as f64 * pct) as usize;
                ModelConfig {
                    vocab_size: k.usize("vocab_size")?,
                    d_model: d,
                    n_layers: k.usize("num_hidden_layers")?,
                    n_heads: h,
                    seq_len: k.opt_usize("max_position_embeddings")?.unwrap_or(2048),
                    norm: NormKind::LayerNorm,
                    norm_eps: k.f64_or("layer_norm_eps", 1e-5)?,
                    qk_norm: false,
                    position: PositionKind::Rotary {
                        base: k.rope_f64(&["rotary_emb_base", "rope_theta"], 10000.0)?,
                    },
                    ffn: gelu_kind(k.str_or("hidden_act", "gelu")?, file)?,
                    post_embed_norm: false,
                    tied_embeddings: k.bool_or("tie_word_embeddings", false)?,
                    linear_bias: k.bool_or("attention_bias", true)?,
                    n_kv_heads: None,
                    rotary_dims: (rot != d / h).then_some(rot),
                    parallel_residual: k.bool_or("use_parallel_residual", true)?,
                    ffn_hidden_size: k.opt_usize("intermediate_size")?,
                }
            }
            Arch::Llama => {
                k.plain_rope()?;
                let d = k.usize("hidden_size")?;
                let h = k.usize("num_attention_heads")?;
                if let Some(hd) = k.opt_usize("head_dim")? {
                    if hd * h != d {
                        bail!(
                            "{file}: head_dim {hd} × {h} heads ≠ hidden_size {d} is not supported"
                        );
                    }
                }
                let act = k.str_or("hidden_act", "silu")?;
                if act != "silu" {
                    bail!("{file}: hidden_act `{act}` is not supported (silu)");
                }
                let attn_bias = k.bool_or("attention_bias", false)?;
                if attn_bias != k.bool_or("mlp_bias", false)? {
                    bail!("{file}: attention_bias ≠ mlp_bias is not supported");
                }
                if let Some(w) = k.get("sliding_window") {
                    let seq = k.opt_usize("max_position_embeddings")?.unwrap_or(0);
                    if w.as_u64().is_some_and(|w| (w as usize) < seq) {
                        bail!("{file}: sliding_window {w} is not supported");
                    }
                }
                ModelConfig {
                    vocab_size: k.usize("vocab_size")?,
                    d_model: d,
                    n_layers: k.usize("num_hidden_layers")?,
                    n_heads: h,
                    seq_len: k.opt_usize("max_position_embeddings")?.unwrap_or(2048),
                    norm: NormKind::RmsNorm,
                    norm_eps: k.f64_or("rms_norm_eps", 1e-6)?,
                    qk_norm: false,
                    position: PositionKind::Rotary {
                        base: k.rope_f64(&["rope_theta"], 10000.0)?,
                    },
                    ffn: FfnKind::SwiGlu,
                    post_embed_norm: false,
                    tied_embeddings: k.bool_or("tie_word_embeddings", false)?,
                    linear_bias: attn_bias,
                    n_kv_heads: Some(k.opt_usize("num_key_value_heads")?.unwrap_or(h)),
                    rotary_dims: None,
                    parallel_residual: false,
                    ffn_hidden_size: Some(k.usize("intermediate_size")?),
                }
            }
            Arch::Bloom => {
                k.require("apply_residual_connection_post_layernorm", false, false)?;
                let d = match k.opt_usize("hidden_size")? {
                    Some(d) => d,
                    None => k.usize("n_embed")?,
                };
                ModelConfig {
                    vocab_size: k.usize("vocab_size")?,
                    d_model: d,
                    n_layers: k.usize("n_layer")?,
                    n_heads: k.usize("n_head")?,
                    // ALiBi has no position table; 2048 is BLOOM's training context.
                    seq_len: k.opt_usize("seq_length")?.unwrap_or(2048),
                    norm: NormKind::LayerNorm,
                    norm_eps: k.f64_or("layer_norm_epsilon", 1e-5)?,
                    qk_norm: false,
                    position: PositionKind::Alibi,
                    // transformers' BLOOM hard-codes the tanh GELU (`bloom_gelu_forward`).
                    ffn: FfnKind::GeluTanh,
                    post_embed_norm: true,
                    tied_embeddings: k.bool_or("tie_word_embeddings", true)?,
                    linear_bias: true,
                    n_kv_heads: None,
                    rotary_dims: None,
                    parallel_residual: false,
                    ffn_hidden_size: None,
                }
            }
            Arch::Gpt2 => {
                k.require("scale_attn_weights", true, true)?;
                k.require("scale_attn_by_inverse_layer_idx", false, false)?;
                let d = k.usize("n_embd")?;
                ModelConfig {
                    vocab_size: k.usize("vocab_size")?,
                    d_model: d,
                    n_layers: k.usize("n_layer")?,
                    n_heads: k.usize("n_head")?,
                    seq_len: k.usize("n_positions")?,
                    norm: NormKind::LayerNorm,
                    norm_eps: k.f64_or("layer_norm_epsilon", 1e-5)?,
                    qk_norm: false,
                    position: PositionKind::Learned,
                    ffn: gelu_kind(k.str_or("activation_function", "gelu_new")?, file)?,
                    post_embed_norm: false,
                    tied_embeddings: k.bool_or("tie_word_embeddings", true)?,
                    linear_bias: true,
                    n_kv_heads: None,
                    rotary_dims: None,
                    parallel_residual: false,
                    ffn_hidden_size: k.opt_usize("n_inner")?,
                }
            }
            Arch::OpenLm => {
                let pos = k.str_or("positional_embedding_type", "rotary")?;
                if pos != "rotary" {
                    bail!("{file}: positional_embedding_type `{pos}` is not supported (rotary)");
                }
                if k.opt_usize("moe_freq")?.unwrap_or(0) != 0 {
                    bail!("{file}: mixture-of-experts layers (moe_freq > 0) are not supported");
                }
                for key in [
                    "attn_activation",
                    "attn_seq_scalar",
                    "attn_seq_scalar_alpha",
                ] {
                    if let Some(v) = k.get(key) {
                        bail!("{file}: `{key}: {v}` is not supported");
                    }
                }
                let norm = match k.str_or("norm_type", "default_layer_norm")? {
                    "gain_only_lp_layer_norm" | "gain_only_layer_norm" => {
                        NormKind::GainOnlyLayerNorm
                    }
                    "default_layer_norm" | "lp_layer_norm" => NormKind::LayerNorm,
                    "rms_norm" => NormKind::RmsNorm,
                    other => bail!("{file}: norm_type `{other}` is not supported"),
                };
                let ffn = match k.str_or("ffn_type", "swiglu")? {
                    "swiglu" | "swiglu_torch" => FfnKind::SwiGlu,
                    "gelu" => FfnKind::Gelu,
                    other => bail!("{file}: ffn_type `{other}` is not supported"),
                };
                let qk = k.bool_or("apply_qk_norm", false)? || k.bool_or("qk_norm", false)?;
                ModelConfig {
                    vocab_size: k.usize("vocab_size")?,
                    d_model: k.usize("dim")?,
                    n_layers: k.usize("n_layers")?,
                    n_heads: k.usize("n_heads")?,
                    seq_len: k.opt_usize("seq_len")?.unwrap_or(2048),
                    norm,
                    norm_eps: k.f64_or("norm_eps", 1e-5)?,
                    qk_norm: qk,
                    position: PositionKind::Rotary { base: 10000.0 },
                    ffn,
                    post_embed_norm: k.bool_or("post_embed_norm", false)?,
                    tied_embeddings: k.bool_or("weight_tying", false)?,
                    linear_bias: false,
                    n_kv_heads: None,
                    rotary_dims: None,
                    parallel_residual: false,
                    ffn_hidden_size: None,
                }
            }
        };
        model
            .validate()
            .with_context(|| format!("{file}: the {} config does not build", arch.name()))?;
        let eos_token_id = match k.get("eos_token_id") {
            Some(Value::Array(a)) => a.first().and_then(Value::as_u64).map(|x| x as u32),
            Some(v) => v.as_u64().map(|x| x as u32),
            None => None,
        };
        Ok(HfConfig {
            arch,
            model,
            eos_token_id,
        })
    }
}
