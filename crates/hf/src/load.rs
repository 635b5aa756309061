//! Tensor names and layouts: a checkpoint's tensors → the parameter paths of
//! [`lmrepro_model::model::Transformer`] (`layers.3.attention.in_proj.weight`, ...).
//!
//! Layout conversions, all exact (permutations and transposes, no arithmetic):
//! - GPT-NeoX and BLOOM fuse q/k/v per head (`[heads, 3, head_dim]` rows); ours is
//!   `[q all heads; k; v]`, so rows are regrouped.
//! - Llama's separate q/k/v and gate/up projections are concatenated (gate first, like open_lm's
//!   `w12`).
//! - GPT-2's `Conv1D` stores `[in, out]`; ours is `[out, in]` (transposed).
//!
//! Every checkpoint tensor must be consumed (non-persistent buffers such as `attn.bias` masks and
//! `rotary_emb.inv_freq` excepted), and every model parameter filled: otherwise an error names it.

use crate::config::{Arch, HfConfig};
use crate::weights::{F32Tensor, Shards};
use anyhow::{bail, Result};
use lmrepro_model::burn::tensor::backend::Backend;
use lmrepro_model::burn::tensor::TensorData;
use lmrepro_model::model::Transformer;
use lmrepro_model::optim::load_params;
use lmrepro_model::ModelConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Buffers some `transformers` versions saved that carry no learned value.
fn is_buffer(name: &str) -> bool {
    name.ends_with(".attn.bias")
        || name.ends_with(".attn.masked_bias")
        || name.ends_with(".attention.bias")
        || name.ends_with(".attention.masked_bias")
        || name.ends_with("rotary_emb.inv_freq")
        || name.ends_with("pos_embed.inv_freq")
}

/// Regroups rows of a per-head fused `[h, 3, hd, ...]` q/k/v into `[3, h, hd, ...]`.
pub fn per_head_qkv_to_grouped(t: &F32Tensor, heads: usize) -> F32Tensor {
    permute_qkv_rows(t, heads, |h, which, i, hd| {
        ((h * 3 + which) * hd + i, (which * heads + h) * hd + i)
    })
}

/// The inverse of [`per_head_qkv_to_grouped`].
pub fn grouped_qkv_to_per_head(t: &F32Tensor, heads: usize) -> F32Tensor {
    permute_qkv_rows(t, heads, |h, which, i, hd| {
        ((which * heads + h) * hd + i, (h * 3 + which) * hd + i)
    })
}

/// Copies every row of a fused q/k/v tensor to its new place: `rows(head, which, i, head_dim)`
/// gives `(source row, destination row)`.
fn permute_qkv_rows(
    t: &F32Tensor,
    heads: usize,
    rows: impl Fn(usize, usize, usize, usize) -> (usize, usize),
) -> F32Tensor {
    let cols: usize = t.shape[1..].iter().product();
    let hd = t.shape[0] / (3 * heads);
    let mut data = vec![0f32; t.data.len()];
    for h in 0..heads {
        for which in 0..3 {
            for i in 0..hd {
                let (src, dst) = rows(h, which, i, hd);
                data[dst * cols..(dst + 1) * cols]
                    .copy_from_slice(&t.data[src * cols..(src + 1) * cols]);
            }
        }
    }
    F32Tensor {
        shape: t.shape.clone(),
        data,
    }
}

/// `[a, b]` → `[b, a]`.
pub fn transpose(t: &F32Tensor) -> F32Tensor {
    let (a, b) = (t.shape[0], t.shape[1]);
    let mut data = vec![0f32; t.data.len()];
    for i in 0..a {
        for j in 0..b {
            data[j * a + i] = t.data[i * b + j];
        }
    }
    F32Tensor {
        shape: vec![b, a],
        data,
    }
}

/// Row-wise concatenation of tensors with the same trailing shape.
fn concat_rows(parts: &[F32Tensor]) -> F32Tensor {
    let mut shape = parts[0].shape.clone();
    shape[0] = parts.iter().map(|p| p.shape[0]).sum();
    F32Tensor {
        shape,
        data: parts.iter().flat_map(|p| p.data.iter().copied()).collect(),
    }
}

/// Reads checkpoint tensors, remembering which were used.
struct Reader<'a> {
    shards: &'a Shards,
    used: BTreeSet<String>,
    out: BTreeMap<String, TensorData>,
    /// Our path → the checkpoint tensor(s) it came from (for shape errors).
    origin: BTreeMap<String, String>,
    last: Vec<String>,
}

impl Reader<'_> {
    fn read(&mut self, name: &str) -> Result<F32Tensor> {
        self.used.insert(name.to_string());
        self.last.push(name.to_string());
        self.shards.get(name)
    }
    fn has(&self, name: &str) -> bool {
        self.shards.contains(name)
    }
    fn put(&mut self, ours: String, t: F32Tensor) {
        let from: Vec<String> = std::mem::take(&mut self.last);
        self.origin.insert(ours.clone(), from.join(" + "));
        self.out
            .insert(ours, TensorData::new(t.data, t.shape.clone()));
    }
    /// A tensor copied as is.
    fn copy(&mut self, theirs: &str, ours: &str) -> Result<()> {
        let t = self.read(theirs)?;
        self.put(ours.to_string(), t);
        Ok(())
    }
    /// `weight` and, when present, `bias` of a linear or norm.
    fn copy_wb(&mut self, theirs: &str, ours: &str, bias: bool) -> Result<()> {
        self.copy(&format!("{theirs}.weight"), &format!("{ours}.weight"))?;
        if bias {
            self.copy(&format!("{theirs}.bias"), &format!("{ours}.bias"))?;
        }
        Ok(())
    }
    /// A block's two norms: `{theirs}.{names[0]}` → `{ours}.attention_norm`, `{theirs}.{names[1]}` →
    /// `{ours}.ffn_norm` (every architecture here has this pair, under its own names).
    fn block_norms(
        &mut self,
        theirs: &str,
        ours: &str,
        names: [&str; 2],
        bias: bool,
    ) -> Result<()> {
        self.copy_wb(
            &format!("{theirs}.{}", names[0]),
            &format!("{ours}.attention_norm"),
            bias,
        )?;
        self.copy_wb(
            &format!("{theirs}.{}", names[1]),
            &format!("{ours}.ffn_norm"),
            bias,
        )
    }
    /// Conv1D (`[in, out]`) weight transposed, bias copied.
    fn conv1d(&mut self, theirs: &str, ours: &str) -> Result<()> {
        let w = self.read(&format!("{theirs}.weight"))?;
        if w.shape.len() != 2 {
            bail!(
                "{}: tensor `{theirs}.weight` has shape {:?}, expected a matrix",
                self.shards.file_of(&format!("{theirs}.weight")),
                w.shape
            );
        }
        self.put(format!("{ours}.weight"), transpose(&w));
        self.copy(&format!("{theirs}.bias"), &format!("{ours}.bias"))
    }
}

/// GPT-2 and BLOOM checkpoints are saved with or without the `transformer.` prefix.
fn prefix_of(shards: &Shards, probe: &str) -> &'static str {
    if shards.contains(&format!("transformer.{probe}")) {
        "transformer."
    } else {
        ""
    }
}

/// Maps the checkpoint's tensors to our parameter paths.
pub fn map_tensors(cfg: &HfConfig, shards: &Shards) -> Result<BTreeMap<String, TensorData>> {
    let m: &ModelConfig = &cfg.model;
    let mut r = Reader {
        shards,
        used: BTreeSet::new(),
        out: BTreeMap::new(),
        origin: BTreeMap::new(),
        last: Vec::new(),
    };
    let norm_bias = m.norm == lmrepro_model::config::NormKind::LayerNorm;
    let b = m.linear_bias;
    match cfg.arch {
        Arch::GptNeoX => {
            r.copy("gpt_neox.embed_in.weight", "tok_embeddings")?;
            for i in 0..m.n_layers {
                let (p, o) = (format!("gpt_neox.layers.{i}"), format!("layers.{i}"));
                r.block_norms(
                    &p,
                    &o,
                    ["input_layernorm", "post_attention_layernorm"],
                    true,
                )?;
                for suffix in ["weight", "bias"].iter().take(if b { 2 } else { 1 }) {
                    let t = r.read(&format!("{p}.attention.query_key_value.{suffix}"))?;
                    r.put(
                        format!("{o}.attention.in_proj.{suffix}"),
                        per_head_qkv_to_grouped(&t, m.n_heads),
                    );
                }
                r.copy_wb(
                    &format!("{p}.attention.dense"),
                    &format!("{o}.attention.out_proj"),
                    b,
                )?;
                r.copy_wb(
                    &format!("{p}.mlp.dense_h_to_4h"),
                    &format!("{o}.feed_forward.w12"),
                    b,
                )?;
                r.copy_wb(
                    &format!("{p}.mlp.dense_4h_to_h"),
                    &format!("{o}.feed_forward.w3"),
                    b,
                )?;
            }
            r.copy_wb("gpt_neox.final_layer_norm", "norm", true)?;
            if !m.tied_embeddings {
                r.copy("embed_out.weight", "output")?;
            }
        }
        Arch::Llama => {
            r.copy("model.embed_tokens.weight", "tok_embeddings")?;
            for i in 0..m.n_layers {
                let (p, o) = (format!("model.layers.{i}"), format!("layers.{i}"));
                r.block_norms(
                    &p,
                    &o,
                    ["input_layernorm", "post_attention_layernorm"],
                    false,
                )?;
                for suffix in ["weight", "bias"].iter().take(if b { 2 } else { 1 }) {
                    let parts = ["q_proj", "k_proj", "v_proj"]
                        .iter()
                        .map(|x| r.read(&format!("{p}.self_attn.{x}.{suffix}")))
                        .collect::<Result<Vec<_>>>()?;
                    r.put(
                        format!("{o}.attention.in_proj.{suffix}"),
                        concat_rows(&parts),
                    );
                    let parts = ["gate_proj", "up_proj"]
                        .iter()
                        .map(|x| r.read(&format!("{p}.mlp.{x}.{suffix}")))
                        .collect::<Result<Vec<_>>>()?;
                    r.put(
                        format!("{o}.feed_forward.w12.{suffix}"),
                        concat_rows(&parts),
                    );
                }
                r.copy_wb(
                    &format!("{p}.self_attn.o_proj"),
                    &format!("{o}.attention.out_proj"),
                    b,
                )?;
                r.copy_wb(
                    &format!("{p}.mlp.down_proj"),
                    &format!("{o}.feed_forward.w3"),
                    b,
                )?;
            }
            r.copy("model.norm.weight", "norm.weight")?;
            if !m.tied_embeddings {
                r.copy("lm_head.weight", "output")?;
            }
        }
        Arch::Bloom => {
            let x = prefix_of(shards, "word_embeddings.weight");
            r.copy(&format!("{x}word_embeddings.weight"), "tok_embeddings")?;
            r.copy_wb(
                &format!("{x}word_embeddings_layernorm"),
                "post_embed_norm",
                true,
            )?;
            for i in 0..m.n_layers {
                let (p, o) = (format!("{x}h.{i}"), format!("layers.{i}"));
                r.block_norms(
                    &p,
                    &o,
                    ["input_layernorm", "post_attention_layernorm"],
                    true,
                )?;
                for suffix in ["weight", "bias"] {
                    let t = r.read(&format!("{p}.self_attention.query_key_value.{suffix}"))?;
                    r.put(
                        format!("{o}.attention.in_proj.{suffix}"),
                        per_head_qkv_to_grouped(&t, m.n_heads),
                    );
                }
                r.copy_wb(
                    &format!("{p}.self_attention.dense"),
                    &format!("{o}.attention.out_proj"),
                    true,
                )?;
                r.copy_wb(
                    &format!("{p}.mlp.dense_h_to_4h"),
                    &format!("{o}.feed_forward.w12"),
                    true,
                )?;
                r.copy_wb(
                    &format!("{p}.mlp.dense_4h_to_h"),
                    &format!("{o}.feed_forward.w3"),
                    true,
                )?;
            }
            r.copy_wb(&format!("{x}ln_f"), "norm", true)?;
            if !m.tied_embeddings {
                r.copy("lm_head.weight", "output")?;
            } else if r.has("lm_head.weight") {
                // A tied head saved explicitly is the embedding again.
                r.used.insert("lm_head.weight".into());
            }
        }
        Arch::Gpt2 => {
            let x = prefix_of(shards, "wte.weight");
            r.copy(&format!("{x}wte.weight"), "tok_embeddings")?;
            r.copy(&format!("{x}wpe.weight"), "pos_embeddings")?;
            for i in 0..m.n_layers {
                let (p, o) = (format!("{x}h.{i}"), format!("layers.{i}"));
                r.block_norms(&p, &o, ["ln_1", "ln_2"], true)?;
                r.conv1d(
                    &format!("{p}.attn.c_attn"),
                    &format!("{o}.attention.in_proj"),
                )?;
                r.conv1d(
                    &format!("{p}.attn.c_proj"),
                    &format!("{o}.attention.out_proj"),
                )?;
                r.conv1d(&format!("{p}.mlp.c_fc"), &format!("{o}.feed_forward.w12"))?;
                r.conv1d(&format!("{p}.mlp.c_proj"), &format!("{o}.feed_forward.w3"))?;
            }
            r.copy_wb(&format!("{x}ln_f"), "norm", true)?;
            if !m.tied_embeddings {
                r.copy("lm_head.weight", "output")?;
            } else if r.has("lm_head.weight") {
                r.used.insert("lm_head.weight".into());
            }
        }
        Arch::OpenLm => {
            // DCLM's released HF format: open_lm's own names under `model.`.
            r.copy("model.tok_embeddings.weight", "tok_embeddings")?;
            if m.post_embed_norm {
                r.copy_wb("model.post_embed_norm", "post_embed_norm", norm_bias)?;
            }
            for i in 0..m.n_layers {
                let (p, o) = (format!("model.layers.{i}"), format!("layers.{i}"));
                // open_lm's GELU MLP is `nn.Sequential(w1, GELU, w2)`: `feed_forward.0` / `.2`.
                let (w12, w3) = match m.ffn {
                    lmrepro_model::config::FfnKind::SwiGlu => ("w12", "w3"),
                    _ => ("0", "2"),
                };
                for (theirs, ours) in [
                    ("attention.in_proj", "attention.in_proj"),
                    ("attention.out_proj", "attention.out_proj"),
                    (&format!("feed_forward.{w12}"), "feed_forward.w12"),
                    (&format!("feed_forward.{w3}"), "feed_forward.w3"),
                ] {
                    r.copy_wb(&format!("{p}.{theirs}"), &format!("{o}.{ours}"), false)?;
                }
                let mut norms = vec!["attention_norm", "ffn_norm"];
                if m.qk_norm {
                    norms.extend(["attention.q_norm", "attention.k_norm"]);
                }
                for n in norms {
                    r.copy_wb(&format!("{p}.{n}"), &format!("{o}.{n}"), norm_bias)?;
                }
            }
            r.copy_wb("model.norm", "norm", norm_bias)?;
            if !m.tied_embeddings {
                r.copy("model.output.weight", "output")?;
            }
        }
    }
    let unused: Vec<&str> = shards
        .names()
        .filter(|n| !r.used.contains(*n) && !is_buffer(n))
        .collect();
    if let Some(first) = unused.first() {
        bail!(
            "{}: unexpected tensor `{first}` for a {} model with this config{}",
            shards.file_of(first),
            cfg.arch.name(),
            if unused.len() > 1 {
                format!(" ({} more unexpected)", unused.len() - 1)
            } else {
                String::new()
            }
        );
    }
    // Shapes, checked here so the error names the checkpoint's tensor and file.
    let want = expected_shapes(m);
    for (ours, data) in &r.out {
        let theirs = &r.origin[ours];
        let file = shards.file_of(theirs.split(" + ").next().unwrap_or(""));
        match want.get(ours) {
            Some(shape) if shape.as_slice() == data.shape.as_slice() => {}
            Some(shape) => bail!(
                "{file}: tensor `{theirs}` has shape {:?}; the config implies {:?} (for `{ours}`)",
                shape_in_checkpoint(cfg.arch, ours, data.shape.as_slice()),
                shape_in_checkpoint(cfg.arch, ours, shape)
            ),
            None => bail!(
                "{file}: tensor `{theirs}` has no place in this {} model",
                cfg.arch.name()
            ),
        }
    }
    Ok(r.out)
}

/// The shape of a parameter as the checkpoint stores it (GPT-2 Conv1D matrices are transposed;
/// fused projections are reported whole).
fn shape_in_checkpoint(arch: Arch, ours: &str, shape: &[usize]) -> Vec<usize> {
    if arch == Arch::Gpt2
        && ours.starts_with("layers.")
        && ours.ends_with(".weight")
        && shape.len() == 2
        && !ours.contains("norm")
    {
        vec![shape[1], shape[0]]
    } else {
        shape.to_vec()
    }
}

/// Parameter path → shape of the module a config builds (no allocation: lazy parameters).
pub fn expected_shapes(m: &ModelConfig) -> BTreeMap<String, Vec<usize>> {
    use lmrepro_model::burn::module::{Module, ModuleVisitor, Param};
    use lmrepro_model::burn::tensor::Tensor;
    type Cpu = burn_flex::Flex;
    struct V {
        path: Vec<String>,
        out: BTreeMap<String, Vec<usize>>,
    }
    impl ModuleVisitor<Cpu> for V {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<Cpu, D>>) {
            self.out
                .insert(self.path.join("."), p.lazy_shape().as_slice().to_vec());
        }
    }
    let model = Transformer::<Cpu>::shapes_only(m, &Default::default());
    let mut v = V {
        path: Vec::new(),
        out: BTreeMap::new(),
    };
    model.visit(&mut v);
    v.out
}

/// Loads a model folder (config.json + safetensors) into the decoder.
pub fn load_model<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> Result<(HfConfig, Transformer<B>)> {
    let cfg = HfConfig::load(dir)?;
    let shards = Shards::open(dir)?;
    let tensors = map_tensors(&cfg, &shards)?;
    let model = Transformer::<B>::shapes_only(&cfg.model, device);
    let model = load_params(
        model,
        tensors,
        &format!("{} (hf {})", dir.display(), cfg.arch.name()),
    )?;
    Ok((cfg, model))
}
