//! Our checkpoints as `transformers`-loadable folders: `config.json` + `model.safetensors` (f32),
//! in the layout [`crate::load`] reads (so export → load is an exact round trip).
//!
//! - GPT-2 option → `GPT2LMHeadModel` (`activation_function` `gelu` for our exact GELU,
//!   `gelu_new` for the tanh one).
//! - BLOOM option → `BloomForCausalLM`. transformers' BLOOM hard-codes the tanh GELU while our
//!   BLOOM preset uses the exact one; exporting such a model is an error unless
//!   [`ExportOptions::allow_gelu_approximation`] accepts the difference (documented in
//!   `docs/hf-checkpoints.md`).
//! - open_lm option → DCLM's released open_lm HF format (`OpenLMForCausalLM`, open_lm's `Params`
//!   keys, tensors under `model.`), which maps exactly.

use crate::load::{grouped_qkv_to_per_head, transpose};
use crate::weights::F32Tensor;
use anyhow::{bail, Context, Result};
use lmrepro_model::burn::module::Param;
use lmrepro_model::burn::tensor::backend::Backend;
use lmrepro_model::burn::tensor::Tensor;
use lmrepro_model::config::{FfnKind, ModelConfig, NormKind, PositionKind};
use lmrepro_model::model::{Linear, Norm, Transformer};
use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// Target formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Gpt2,
    Bloom,
    OpenLm,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Export a BLOOM-option model with the exact GELU although transformers' BLOOM computes the
    /// tanh approximation (activations then differ by up to ~5e-4).
    pub allow_gelu_approximation: bool,
}

fn val<B: Backend, const D: usize>(p: &Param<Tensor<B, D>>) -> Result<F32Tensor> {
    let t = p.val();
    let shape = t.dims().to_vec();
    let data = t
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading a parameter: {e:?}"))?;
    Ok(F32Tensor { shape, data })
}

struct Out(BTreeMap<String, F32Tensor>);

impl Out {
    fn put(&mut self, name: String, t: F32Tensor) {
        self.0.insert(name, t);
    }
    fn norm<B: Backend>(&mut self, name: &str, n: &Norm<B>) -> Result<()> {
        self.put(format!("{name}.weight"), val(&n.weight)?);
        if let Some(b) = &n.bias {
            self.put(format!("{name}.bias"), val(b)?);
        }
        Ok(())
    }
    fn linear<B: Backend>(&mut self, name: &str, l: &Linear<B>, conv1d: bool) -> Result<()> {
        let w = val(&l.weight)?;
        self.put(
            format!("{name}.weight"),
            if conv1d { transpose(&w) } else { w },
        );
        if let Some(b) = &l.bias {
            self.put(format!("{name}.bias"), val(b)?);
        }
        Ok(())
    }
}

fn check(ok: bool, what: &str, format: ExportFormat) -> Result<()> {
    if !ok {
        bail!(
            "cannot export to {format:?}: the model has {what}, which that format cannot express"
        );
    }
    Ok(())
}

/// Writes `dir/config.json` and `dir/model.safetensors`.
pub fn export<B: Backend>(
    model: &Transformer<B>,
    format: ExportFormat,
    opts: ExportOptions,
    dir: &Path,
) -> Result<()> {
    let c: &ModelConfig = &model.config;
    let common = c.n_kv_heads.is_none_or(|k| k == c.n_heads)
        && c.rotary_dims.is_none()
        && !c.parallel_residual;
    check(
        common,
        "grouped-query attention, partial rotary or parallel residuals",
        format,
    )?;
    let mut out = Out(BTreeMap::new());
    let config = match format {
        ExportFormat::Gpt2 => {
            check(
                c.position == PositionKind::Learned,
                "no learned positions",
                format,
            )?;
            check(
                c.norm == NormKind::LayerNorm && c.linear_bias,
                "norms or linears without bias",
                format,
            )?;
            check(
                !c.qk_norm && !c.post_embed_norm,
                "qk-norm or an embedding norm",
                format,
            )?;
            let act = match c.ffn {
                FfnKind::Gelu => "gelu",
                FfnKind::GeluTanh => "gelu_new",
                FfnKind::SwiGlu => return check(false, "a SwiGLU MLP", format),
            };
            out.put("transformer.wte.weight".into(), val(&model.tok_embeddings)?);
            let pos = model.pos_embeddings.as_ref().expect("learned positions");
            out.put("transformer.wpe.weight".into(), val(pos)?);
            for (i, l) in model.layers.iter().enumerate() {
                let p = format!("transformer.h.{i}");
                out.norm(&format!("{p}.ln_1"), &l.attention_norm)?;
                out.norm(&format!("{p}.ln_2"), &l.ffn_norm)?;
                out.linear(&format!("{p}.attn.c_attn"), &l.attention.in_proj, true)?;
                out.linear(&format!("{p}.attn.c_proj"), &l.attention.out_proj, true)?;
                out.linear(&format!("{p}.mlp.c_fc"), &l.feed_forward.w12, true)?;
                out.linear(&format!("{p}.mlp.c_proj"), &l.feed_forward.w3, true)?;
            }
            out.norm("transformer.ln_f", &model.norm)?;
            if let Some(o) = &model.output {
                out.put("lm_head.weight".into(), val(o)?);
            }
            json!({
                "architectures": ["GPT2LMHeadModel"],
                "model_type": "gpt2",
                "vocab_size": c.vocab_size,
                "n_positions": c.seq_len,
                "n_embd": c.d_model,
                "n_layer": c.n_layers,
                "n_head": c.n_heads,
                "n_inner": c.ffn_hidden(),
                "activation_function": act,
                "layer_norm_epsilon": c.norm_eps,
                "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
                "scale_attn_weights": true,
                "scale_attn_by_inverse_layer_idx": false,
                "reorder_and_upcast_attn": false,
                "tie_word_embeddings": c.tied_embeddings,
                "torch_dtype": "float32",
            })
        }
        ExportFormat::Bloom => {
            check(c.position == PositionKind::Alibi, "no ALiBi", format)?;
            check(
                c.norm == NormKind::LayerNorm && c.linear_bias,
                "norms or linears without bias",
                format,
            )?;
            check(
                !c.qk_norm && c.post_embed_norm,
                "qk-norm or no embedding LayerNorm",
                format,
            )?;
            check(
                c.ffn_hidden() == 4 * c.d_model,
                "an MLP width other than 4d",
                format,
            )?;
            match c.ffn {
                FfnKind::GeluTanh => {}
                FfnKind::Gelu if opts.allow_gelu_approximation => {}
                FfnKind::Gelu => bail!(
                    "cannot export to Bloom: the model uses the exact (erf) GELU and transformers' \
                     BLOOM hard-codes the tanh approximation; pass --allow-gelu-approximation to \
                     export anyway (activations differ by up to ~5e-4)"
                ),
                FfnKind::SwiGlu => return check(false, "a SwiGLU MLP", format),
            }
            out.put(
                "transformer.word_embeddings.weight".into(),
                val(&model.tok_embeddings)?,
            );
            let n = model.post_embed_norm.as_ref().expect("post-embedding norm");
            out.norm("transformer.word_embeddings_layernorm", n)?;
            for (i, l) in model.layers.iter().enumerate() {
                let p = format!("transformer.h.{i}");
                out.norm(&format!("{p}.input_layernorm"), &l.attention_norm)?;
                out.norm(&format!("{p}.post_attention_layernorm"), &l.ffn_norm)?;
                let w = val(&l.attention.in_proj.weight)?;
                out.put(
                    format!("{p}.self_attention.query_key_value.weight"),
                    grouped_qkv_to_per_head(&w, c.n_heads),
                );
                let b = val(l.attention.in_proj.bias.as_ref().expect("bias"))?;
                out.put(
                    format!("{p}.self_attention.query_key_value.bias"),
                    grouped_qkv_to_per_head(&b, c.n_heads),
                );
                out.linear(
                    &format!("{p}.self_attention.dense"),
                    &l.attention.out_proj,
                    false,
                )?;
                out.linear(
                    &format!("{p}.mlp.dense_h_to_4h"),
                    &l.feed_forward.w12,
                    false,
                )?;
                out.linear(&format!("{p}.mlp.dense_4h_to_h"), &l.feed_forward.w3, false)?;
            }
            out.norm("transformer.ln_f", &model.norm)?;
            if let Some(o) = &model.output {
                out.put("lm_head.weight".into(), val(o)?);
            }
            json!({
                "architectures": ["BloomForCausalLM"],
                "model_type": "bloom",
                "vocab_size": c.vocab_size,
                "hidden_size": c.d_model,
                "n_layer": c.n_layers,
                "n_head": c.n_heads,
                "layer_norm_epsilon": c.norm_eps,
                "apply_residual_connection_post_layernorm": false,
                "hidden_dropout": 0.0, "attention_dropout": 0.0,
                "pretraining_tp": 1,
                "slow_but_exact": false,
                "seq_length": c.seq_len,
                "tie_word_embeddings": c.tied_embeddings,
                "torch_dtype": "float32",
            })
        }
        ExportFormat::OpenLm => {
            check(
                c.position == (PositionKind::Rotary { base: 10000.0 }),
                "positions other than rotary with base 10000",
                format,
            )?;
            check(
                !c.linear_bias && c.ffn_hidden_size.is_none(),
                "linear biases or a custom MLP width",
                format,
            )?;
            let ffn = match c.ffn {
                FfnKind::SwiGlu => "swiglu_torch",
                FfnKind::Gelu => "gelu",
                FfnKind::GeluTanh => return check(false, "the tanh GELU", format),
            };
            let norm = match c.norm {
                NormKind::GainOnlyLayerNorm => "gain_only_lp_layer_norm",
                NormKind::LayerNorm => "default_layer_norm",
                NormKind::RmsNorm => "rms_norm",
            };
            // open_lm's GELU MLP is an `nn.Sequential(w1, GELU, w2)`: tensors `feed_forward.0/2`.
            let (w12, w3) = match c.ffn {
                FfnKind::SwiGlu => ("w12", "w3"),
                _ => ("0", "2"),
            };
            out.put(
                "model.tok_embeddings.weight".into(),
                val(&model.tok_embeddings)?,
            );
            if let Some(n) = &model.post_embed_norm {
                out.norm("model.post_embed_norm", n)?;
            }
            for (i, l) in model.layers.iter().enumerate() {
                let p = format!("model.layers.{i}");
                out.norm(&format!("{p}.attention_norm"), &l.attention_norm)?;
                out.norm(&format!("{p}.ffn_norm"), &l.ffn_norm)?;
                out.linear(
                    &format!("{p}.attention.in_proj"),
                    &l.attention.in_proj,
                    false,
                )?;
                out.linear(
                    &format!("{p}.attention.out_proj"),
                    &l.attention.out_proj,
                    false,
                )?;
                if let (Some(q), Some(k)) = (&l.attention.q_norm, &l.attention.k_norm) {
                    out.norm(&format!("{p}.attention.q_norm"), q)?;
                    out.norm(&format!("{p}.attention.k_norm"), k)?;
                }
                out.linear(
                    &format!("{p}.feed_forward.{w12}"),
                    &l.feed_forward.w12,
                    false,
                )?;
                out.linear(&format!("{p}.feed_forward.{w3}"), &l.feed_forward.w3, false)?;
            }
            out.norm("model.norm", &model.norm)?;
            if let Some(o) = &model.output {
                out.put("model.output.weight".into(), val(o)?);
            }
            json!({
                "architectures": ["OpenLMForCausalLM"],
                "model_type": "openlm",
                "dim": c.d_model,
                "n_layers": c.n_layers,
                "n_heads": c.n_heads,
                "vocab_size": c.vocab_size,
                "norm_eps": c.norm_eps,
                "seq_len": c.seq_len,
                "post_embed_norm": c.post_embed_norm,
                "weight_tying": c.tied_embeddings,
                "norm_type": norm,
                "attn_name": "torch_attn",
                "apply_qk_norm": c.qk_norm,
                "positional_embedding_type": "rotary",
                "ffn_type": ffn,
                "moe_freq": 0,
                "torch_dtype": "float32",
            })
        }
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = out
        .0
        .into_iter()
        .map(|(n, t)| {
            let b = t.data.iter().flat_map(|x| x.to_le_bytes()).collect();
            (n, t.shape, b)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(n, s, b)| Ok((n.clone(), TensorView::new(Dtype::F32, s.clone(), b)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    let st = safetensors::serialize(views, &Some(meta))?;
    let path = dir.join("model.safetensors");
    std::fs::write(&path, st).with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
