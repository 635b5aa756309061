//! Training plans of the six BLOOM sizes (`--scale 176b --dry-run`): architecture and parameter
//! count through `lmrepro-model`'s BLOOM option, tokens, Megatron-DeepSpeed's batch ramp-up and
//! iteration count, the 3D-parallel layout, FLOPs and the GPU-hours they imply, beside the paper's
//! figures. Every number is read from the pinned `bloom_family_configs.json`, computed, or taken
//! from the recipe's `[[params.scales]]` where each paper figure carries its source.

use crate::params::{Figure, ScaleParams};
use anyhow::{bail, Context, Result};
use lmrepro_model::alibi::alibi_slopes;
use lmrepro_model::config::ModelConfig;
use lmrepro_report::{fmt_grouped, fmt_sig, Table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Where the config figures come from.
pub const CONFIG_SOURCE: &str = "bloom_family_configs.json (from the tr11 slurm scripts)";

/// One model of `bloom_family_configs.json` (fields the plan uses).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FamilyConfig {
    pub source_script: String,
    pub n_layer: usize,
    pub hidden_size: usize,
    pub n_head: usize,
    pub head_dim: usize,
    pub ffn_hidden: usize,
    pub seq_len: usize,
    pub padded_vocab: usize,
    pub tokenizer_vocab: usize,
    pub tp: u64,
    pub pp: u64,
    pub micro_batch: u64,
    pub global_batch: u64,
    pub train_samples: u64,
    pub lr_decay_samples: u64,
    pub lr_warmup_samples: u64,
    pub lr: f64,
    pub min_lr: f64,
    pub lr_decay_style: String,
    pub rampup_batch_size: String,
    pub precision: String,
    pub embed_layernorm: bool,
    pub position_embedding: String,
    pub computed_params: u64,
    pub computed_embedding_params: u64,
}

#[derive(Debug, Deserialize)]
struct FamilyFile {
    models: BTreeMap<String, FamilyConfig>,
}

/// Reads `bloom_family_configs.json`.
pub fn read_configs(path: &Path) -> Result<BTreeMap<String, FamilyConfig>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let f: FamilyFile = serde_json::from_str(&text)
        .with_context(|| format!("{}: malformed BLOOM family configs", path.display()))?;
    Ok(f.models)
}

/// Megatron's `--rampup-batch-size <start> <increment> <samples>` (Python `int()` accepts `_`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rampup {
    pub start: u64,
    pub increment: u64,
    pub samples: u64,
}

impl Rampup {
    pub fn parse(s: &str) -> Result<Self> {
        let nums: Vec<u64> = s
            .split_whitespace()
            .map(|t| t.replace('_', "").parse::<u64>())
            .collect::<std::result::Result<_, _>>()
            .with_context(|| format!("rampup_batch_size `{s}`: expected three integers"))?;
        let [start, increment, samples] = nums[..] else {
            bail!("rampup_batch_size `{s}`: expected three integers");
        };
        Ok(Rampup {
            start,
            increment,
            samples,
        })
    }

    /// Megatron-DeepSpeed's `RampupBatchsizeNumMicroBatches.update`: the global batch after
    /// `consumed` samples.
    pub fn batch_at(&self, consumed: u64, global: u64) -> u64 {
        if consumed > self.samples {
            return global;
        }
        let increments = (global - self.start) / self.increment;
        let per_increment = self.samples as f64 / increments as f64;
        let steps = (consumed as f64 / per_increment) as u64;
        self.start + steps * self.increment
    }
}

/// Megatron-DeepSpeed's `update_train_iters` for sample-based training with ramp-up: iterations
/// while ramping (until more than `samples` are consumed), then whole global batches; also the
/// samples consumed by the ramp-up and every distinct batch size it used.
pub fn train_iters(r: &Rampup, global: u64, train_samples: u64) -> Result<(u64, u64, Vec<u64>)> {
    if global < r.start || r.increment == 0 || !(global - r.start).is_multiple_of(r.increment) {
        bail!(
            "ramp-up {} + k·{} never reaches the global batch {global}",
            r.start,
            r.increment
        );
    }
    let (mut iters, mut consumed) = (0u64, 0u64);
    let mut sizes: Vec<u64> = Vec::new();
    while consumed <= r.samples {
        let b = r.batch_at(consumed, global);
        if sizes.last() != Some(&b) {
            sizes.push(b);
        }
        consumed += b;
        iters += 1;
    }
    let ramp_samples = consumed;
    iters += train_samples.saturating_sub(consumed) / global;
    Ok((iters, ramp_samples, sizes))
}

/// A figure compared with a reference (pinned file or paper).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: String,
    pub ours: String,
    pub theirs: String,
    pub source: String,
    pub ok: bool,
}

fn check(what: &str, ours: impl ToString, theirs: impl ToString, source: &str) -> Check {
    let (ours, theirs) = (ours.to_string(), theirs.to_string());
    Check {
        what: what.into(),
        ok: ours == theirs,
        ours,
        theirs,
        source: source.into(),
    }
}

/// One line of a plan: a figure, its value and where it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub figure: String,
    pub value: String,
    pub source: String,
}

/// The plan of one scale.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub scale: String,
    pub label: String,
    pub params: u64,
    pub tokens_planned: u64,
    pub tokens_trained: f64,
    pub train_iters: u64,
    pub data_parallel: Option<u64>,
    pub flops_per_token: f64,
    pub flops_trained: f64,
    pub gpu_hours: Option<f64>,
    pub lines: Vec<Line>,
    pub checks: Vec<Check>,
}

fn line(lines: &mut Vec<Line>, figure: &str, value: impl ToString, source: &str) {
    lines.push(Line {
        figure: figure.into(),
        value: value.to_string(),
        source: source.into(),
    });
}

fn fig(f: &Figure) -> String {
    f.source.clone()
}

/// Builds the plan of `scale` from its config and the recipe's paper figures.
pub fn plan(scale: &ScaleParams, c: &FamilyConfig, citation: &str) -> Result<Plan> {
    let cfg_src = format!("{CONFIG_SOURCE}: `{}`", scale.config);
    let paper = |f: &Figure| format!("{citation}, {}", fig(f));
    let mut model = ModelConfig::bloom(c.hidden_size, c.n_layer, c.n_head);
    model.vocab_size = c.padded_vocab;
    model.seq_len = c.seq_len;
    model.validate()?;
    let count = model.num_params();
    let mut lines = Vec::new();
    let mut checks = Vec::new();

    // Architecture.
    line(
        &mut lines,
        "layers × hidden × heads (head dim)",
        format!(
            "{} × {} × {} ({})",
            c.n_layer,
            c.hidden_size,
            c.n_head,
            model.head_dim()
        ),
        &cfg_src,
    );
    line(
        &mut lines,
        "vocabulary (padded / tokenizer)",
        format!(
            "{} / {}",
            fmt_grouped(c.padded_vocab as u64),
            fmt_grouped(c.tokenizer_vocab as u64)
        ),
        &cfg_src,
    );
    line(
        &mut lines,
        "position / precision",
        format!("{} / {}", c.position_embedding, c.precision),
        &cfg_src,
    );
    line(
        &mut lines,
        "parameters (tied embedding counted once)",
        fmt_grouped(count.total),
        "lmrepro-model BLOOM option: V·h + 2h + L·(12h² + 13h) + 2h",
    );
    line(
        &mut lines,
        "  of which token embedding",
        fmt_grouped(count.token_embedding),
        "lmrepro-model",
    );
    checks.push(check(
        "parameters",
        count.total,
        c.computed_params,
        &format!("{cfg_src} `computed_params`"),
    ));
    checks.push(check(
        "embedding parameters",
        count.token_embedding,
        c.computed_embedding_params,
        &format!("{cfg_src} `computed_embedding_params`"),
    ));
    checks.push(check(
        "parameters (millions, rounded)",
        (count.total as f64 / 1e6).round() as u64,
        scale.paper_params_millions.value as u64,
        &paper(&scale.paper_params_millions),
    ));
    checks.push(check("head dim", model.head_dim(), c.head_dim, &cfg_src));
    checks.push(check(
        "ffn hidden",
        model.ffn_hidden(),
        c.ffn_hidden,
        &cfg_src,
    ));
    checks.push(check(
        "ALiBi slopes",
        alibi_slopes(c.n_head).len(),
        c.n_head,
        "lmrepro-model alibi_slopes",
    ));
    if !c.embed_layernorm || c.position_embedding != "alibi" {
        bail!(
            "`{}` is not a BLOOM architecture (embed_layernorm {}, position {})",
            scale.config,
            c.embed_layernorm,
            c.position_embedding
        );
    }

    // Tokens.
    let tokens_planned = c.train_samples * c.seq_len as u64;
    line(
        &mut lines,
        "tokens planned (train_samples × seq_len)",
        format!(
            "{} × {} = {}",
            fmt_grouped(c.train_samples),
            c.seq_len,
            fmt_grouped(tokens_planned)
        ),
        &cfg_src,
    );
    line(
        &mut lines,
        "tokens trained",
        fmt_grouped(scale.tokens_trained.value as u64),
        &paper(&scale.tokens_trained),
    );
    line(
        &mut lines,
        "tokens trained / planned",
        format!(
            "{:.1} %",
            100.0 * scale.tokens_trained.value / tokens_planned as f64
        ),
        "computed",
    );

    // Batch and schedule.
    let rampup = Rampup::parse(&c.rampup_batch_size)?;
    let (iters, ramp_samples, sizes) = train_iters(&rampup, c.global_batch, c.train_samples)?;
    line(
        &mut lines,
        "global batch (micro batch)",
        format!(
            "{} sequences = {} tokens ({})",
            c.global_batch,
            fmt_grouped(c.global_batch * c.seq_len as u64),
            c.micro_batch
        ),
        &cfg_src,
    );
    line(
        &mut lines,
        "batch ramp-up",
        format!(
            "{} → {} by +{} over {} samples: {} batch sizes, {} iterations, {} samples",
            rampup.start,
            c.global_batch,
            rampup.increment,
            fmt_grouped(rampup.samples),
            sizes.len(),
            fmt_grouped(
                train_iters(&rampup, c.global_batch, 0)
                    .map(|t| t.0)
                    .unwrap_or(0)
            ),
            fmt_grouped(ramp_samples)
        ),
        &format!("{cfg_src}; Megatron-DeepSpeed RampupBatchsizeNumMicroBatches"),
    );
    line(
        &mut lines,
        "training iterations (planned samples)",
        fmt_grouped(iters),
        "Megatron-DeepSpeed update_train_iters (partial last batch dropped)",
    );
    line(
        &mut lines,
        "learning rate",
        format!(
            "{:e} → {:e}, {} decay over {} samples, warm-up {} samples",
            c.lr,
            c.min_lr,
            c.lr_decay_style,
            fmt_grouped(c.lr_decay_samples),
            fmt_grouped(c.lr_warmup_samples)
        ),
        &cfg_src,
    );

    // Layout.
    let mp = c.tp * c.pp;
    line(
        &mut lines,
        "tensor × pipeline parallel",
        format!("{} × {} = {} GPUs per replica", c.tp, c.pp, mp),
        &cfg_src,
    );
    let mut data_parallel = None;
    if let Some(g) = &scale.gpus {
        let gpus = g.value as u64;
        if !gpus.is_multiple_of(mp) {
            bail!(
                "scale `{}`: {gpus} GPUs are not a multiple of tp·pp = {mp}",
                scale.name
            );
        }
        let dp = gpus / mp;
        data_parallel = Some(dp);
        let nodes = scale
            .nodes
            .as_ref()
            .map(|n| format!(" on {} nodes", n.value))
            .unwrap_or_default();
        line(
            &mut lines,
            "GPUs",
            format!("{gpus}{nodes}"),
            &paper_or_plain(g, citation),
        );
        line(
            &mut lines,
            "data parallel (GPUs / (tp·pp))",
            dp,
            "computed from the two lines above",
        );
        let step = c.micro_batch * dp;
        checks.push(check(
            "global batch divisible by micro batch × data parallel",
            c.global_batch.is_multiple_of(step),
            true,
            "Megatron-DeepSpeed consistency check",
        ));
        checks.push(check(
            "every ramp-up batch divisible by micro batch × data parallel",
            sizes.iter().all(|b| b.is_multiple_of(step)),
            true,
            "Megatron-DeepSpeed consistency check",
        ));
    }

    // Compute.
    let flops_per_token = model.flops_per_token();
    let flops_planned = flops_per_token * tokens_planned as f64;
    let flops_trained = flops_per_token * scale.tokens_trained.value;
    line(
        &mut lines,
        "model FLOPs per token (6N + 12·L·h·s)",
        fmt_sig(flops_per_token, 4),
        "lmrepro-model flops_per_token (PaLM convention)",
    );
    line(
        &mut lines,
        "model FLOPs, planned tokens",
        fmt_sig(flops_planned, 4),
        "computed",
    );
    line(
        &mut lines,
        "model FLOPs, tokens trained",
        fmt_sig(flops_trained, 4),
        "computed",
    );
    let mut gpu_hours = None;
    if let Some(t) = &scale.throughput_tflops {
        line(
            &mut lines,
            "throughput per GPU (TFLOP/s)",
            t.value,
            &paper_or_plain(t, citation),
        );
        let hours = flops_trained / (t.value * 1e12) / 3600.0;
        gpu_hours = Some(hours);
        line(
            &mut lines,
            "GPU-hours at that throughput (model FLOPs)",
            fmt_grouped(hours.round() as u64),
            "computed: FLOPs / throughput",
        );
        if let Some(src) = &scale.activation_recompute {
            // Megatron-DeepSpeed's TFLOPs counter charges the recomputed forward pass too:
            // 4 passes (8N + 16·L·h·s) instead of 3.
            line(
                &mut lines,
                "GPU-hours counting the recomputed forward (×4/3)",
                fmt_grouped((hours * 4.0 / 3.0).round() as u64),
                src,
            );
        }
    }
    if let Some(r) = &scale.reported_gpu_hours {
        line(
            &mut lines,
            "GPU-hours reported",
            fmt_grouped(r.value as u64),
            &paper_or_plain(r, citation),
        );
    }

    Ok(Plan {
        scale: scale.name.clone(),
        label: scale.label.clone(),
        params: count.total,
        tokens_planned,
        tokens_trained: scale.tokens_trained.value,
        train_iters: iters,
        data_parallel,
        flops_per_token,
        flops_trained,
        gpu_hours,
        lines,
        checks,
    })
}

/// A recipe figure's source: the paper's citation unless the figure names a file.
fn paper_or_plain(f: &Figure, citation: &str) -> String {
    if f.source.starts_with("paper") {
        format!("{citation}, {}", f.source)
    } else {
        f.source.clone()
    }
}

impl Plan {
    /// The `--dry-run` text.
    pub fn to_text(&self) -> String {
        let mut out = format!("BLOOM plan — scale `{}` ({})\n\n", self.scale, self.label);
        let mut t = Table::new(["figure", "value", "source"]);
        for l in &self.lines {
            t.push([l.figure.clone(), l.value.clone(), l.source.clone()]);
        }
        out.push_str(&t.to_markdown());
        out.push('\n');
        out.push_str(&self.checks_table().to_markdown());
        out
    }

    pub fn checks_table(&self) -> Table {
        let mut t = Table::new(["check", "ours", "reference", "source", "ok"]);
        for c in &self.checks {
            t.push([
                c.what.clone(),
                c.ours.clone(),
                c.theirs.clone(),
                c.source.clone(),
                if c.ok { "yes" } else { "NO" }.to_string(),
            ]);
        }
        t
    }

    pub fn all_ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rampup_follows_megatron() {
        let r = Rampup::parse("192 16 9_765_625").unwrap();
        assert_eq!(
            r,
            Rampup {
                start: 192,
                increment: 16,
                samples: 9_765_625
            }
        );
        // (2048 - 192) / 16 = 116 increments of 9,765,625 / 116 samples each.
        assert_eq!(r.batch_at(0, 2048), 192);
        assert_eq!(r.batch_at(84_186, 2048), 192);
        assert_eq!(r.batch_at(84_187, 2048), 208);
        assert_eq!(r.batch_at(9_765_625, 2048), 2048);
        assert_eq!(r.batch_at(9_765_626, 2048), 2048);
        let (iters, ramp, sizes) = train_iters(&r, 2048, 220_000_000).unwrap();
        // The ramp phase ends as soon as more than 9,765,625 samples are consumed: its last batch
        // is 2032, the full 2048 starts with the constant phase.
        assert_eq!(sizes.first(), Some(&192));
        assert_eq!(sizes.last(), Some(&2032));
        assert_eq!(sizes.len(), 116);
        assert!(ramp > 9_765_625 && ramp <= 9_765_625 + 2048);
        assert_eq!(
            iters,
            train_iters(&r, 2048, 0).unwrap().0 + (220_000_000 - ramp) / 2048
        );
        assert!(Rampup::parse("192 16").is_err());
        assert!(Rampup::parse("192 x 5").is_err());
        assert!(train_iters(&Rampup::parse("192 10 100").unwrap(), 2048, 1).is_err());
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(fmt_grouped(0), "0");
        assert_eq!(fmt_grouped(999), "999");
        assert_eq!(fmt_grouped(1000), "1,000");
        assert_eq!(fmt_grouped(176_247_271_424), "176,247,271,424");
    }
}
