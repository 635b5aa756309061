//! Plans of the competition scales (`--scale 400m-1x --dry-run`): the model, token budget, batch
//! and schedule from the recipe, checked against DCLM's pinned files (the 400M-1x training JSON,
//! the experiment database's `params` / `tokens`), with compute 6·N·D and DCLM's README figures.

use crate::params::DclmParams;
use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_report::{fmt_grouped, fmt_sig, Table};
use serde::Serialize;
use std::fmt::Write as _;

/// One check of a recipe figure against a pinned file.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: String,
    pub ours: String,
    pub theirs: String,
    pub source: String,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub scale: String,
    pub dclm_name: Option<String>,
    pub runnable_here: bool,
    pub model: String,
    /// DCLM-convention parameter count (`params` of its configs).
    pub params: u64,
    pub tokens: u64,
    pub global_batch: usize,
    pub seq_len: usize,
    pub steps: u64,
    pub flops: f64,
    pub readme_h100_hours: Option<f64>,
    pub readme_pool_size: Option<String>,
    pub pool_shards: Option<(String, usize)>,
    pub config_file: Option<String>,
    pub optim: lmrepro_model::train::OptimConfig,
    pub checks: Vec<Check>,
}

fn check(what: &str, ours: impl ToString, theirs: impl ToString, source: &str) -> Check {
    let (o, t) = (ours.to_string(), theirs.to_string());
    Check {
        what: what.into(),
        ok: o == t,
        ours: o,
        theirs: t,
        source: source.into(),
    }
}

/// Plans of every scale, in recipe order (BTreeMap: by name).
pub fn plans(recipe: &Recipe, resolver: &Resolver, p: &DclmParams) -> Result<Vec<Plan>> {
    let cells = crate::published::load(recipe, resolver, &p.published)?;
    let mut out = Vec::new();
    for (name, s) in &p.scales {
        let cfg = s.run_config()?;
        let full = s.model.config()?;
        // What is trained: the compact vocabulary when the scale has one.
        let params = cfg.model.num_params().dclm_reported();
        let tokens = s.tokens.unwrap_or(cfg.steps * cfg.tokens_per_step());
        let mut checks = Vec::new();
        let mut pool_shards = None;
        if let Some(d) = &s.dclm {
            if let Some(tj) = &d.training_json {
                let path = recipe.resolve(resolver, tj)?;
                let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)
                    .with_context(|| format!("{}: malformed JSON", path.display()))?;
                let h = &v["hyperparameters"];
                let src = format!("{tj} (hyperparameters)");
                let num = |k: &str| {
                    h.get(k)
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "missing".into())
                };
                checks.push(check("params", params, num("params"), &src));
                checks.push(check("tokens", tokens, num("tokens"), &src));
                checks.push(check(
                    "global batch",
                    s.global_batch,
                    num("global_bs"),
                    &src,
                ));
                checks.push(check("warmup", s.optim.warmup, num("warmup"), &src));
                let f = |k: &str| {
                    h.get(k)
                        .and_then(serde_json::Value::as_f64)
                        .unwrap_or(f64::NAN)
                };
                checks.push(check("lr", s.optim.lr, f("lr"), &src));
                checks.push(check("weight decay", s.optim.weight_decay, f("wd"), &src));
                checks.push(check("final lr", s.optim.final_lr, f("cd"), &src));
                checks.push(check("z-loss", s.optim.z_loss, f("z_loss"), &src));
                checks.push(check("seed", 124, num("seed"), &src));
            }
            for c in cells.iter().filter(|c| c.scale == *name) {
                let src = format!("DCLM_model_database.csv line {}", c.line);
                checks.push(check("params", params, c.params, &src));
                checks.push(check("tokens", tokens, c.tokens, &src));
            }
            if let Some(list) = &d.pool_list {
                let path = recipe.resolve(resolver, list)?;
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                pool_shards = Some((
                    list.clone(),
                    text.lines().filter(|l| !l.trim().is_empty()).count(),
                ));
            }
        }
        out.push(Plan {
            scale: name.clone(),
            dclm_name: s.dclm.as_ref().map(|d| d.name.clone()),
            runnable_here: s.runnable_here,
            model: format!(
                "{} d={} l={} h={} vocab {}{}",
                s.model.arch,
                full.d_model,
                full.n_layers,
                full.n_heads,
                cfg.model.vocab_size,
                if cfg.model.vocab_size != full.vocab_size {
                    format!(" (compact; full {})", full.vocab_size)
                } else {
                    String::new()
                }
            ),
            params,
            tokens,
            global_batch: s.global_batch,
            seq_len: cfg.model.seq_len,
            steps: cfg.steps,
            flops: 6.0 * params as f64 * tokens as f64,
            readme_h100_hours: s.dclm.as_ref().map(|d| d.readme_h100_hours),
            readme_pool_size: s.dclm.as_ref().map(|d| d.readme_pool_size.clone()),
            pool_shards,
            config_file: s.dclm.as_ref().map(|d| d.config_file.clone()),
            optim: s.optim,
            checks,
        });
    }
    for pl in &out {
        if let Some(c) = pl.checks.iter().find(|c| !c.ok) {
            bail!(
                "scale `{}`: recipe {} = {} but {} says {}",
                pl.scale,
                c.what,
                c.ours,
                c.source,
                c.theirs
            );
        }
    }
    Ok(out)
}

pub fn scales_markdown(plans: &[Plan]) -> String {
    let mut t = Table::new([
        "scale",
        "model",
        "params",
        "tokens",
        "batch × context",
        "steps",
        "6·N·D FLOPs",
        "DCLM README H100 hours",
        "runs here",
        "checked against",
    ]);
    for p in plans {
        let mut sources: Vec<String> = Vec::new();
        let mut csv_lines: Vec<String> = Vec::new();
        for c in &p.checks {
            if let Some(line) = c.source.strip_prefix("DCLM_model_database.csv line ") {
                if !csv_lines.iter().any(|l| l == line) {
                    csv_lines.push(line.to_string());
                }
            } else {
                let label = match c.source.rsplit_once('/') {
                    Some((_, f)) => format!("training JSON `{f}`"),
                    None => c.source.clone(),
                };
                if !sources.contains(&label) {
                    sources.push(label);
                }
            }
        }
        if !csv_lines.is_empty() {
            sources.push(format!(
                "DCLM_model_database.csv lines {}",
                csv_lines.join(", ")
            ));
        }
        t.push([
            p.dclm_name.clone().unwrap_or_else(|| p.scale.clone()),
            p.model.clone(),
            fmt_grouped(p.params),
            fmt_grouped(p.tokens),
            format!("{} × {}", p.global_batch, p.seq_len),
            p.steps.to_string(),
            fmt_sig(p.flops, 3),
            p.readme_h100_hours.map_or("—".into(), |h| format!("{h}")),
            if p.runnable_here {
                "yes (CPU)"
            } else {
                "plan only (`--dry-run`)"
            }
            .to_string(),
            if sources.is_empty() {
                "—".to_string()
            } else {
                sources.join("; ")
            },
        ]);
    }
    let mut md = String::from(
        "# dclm-baseline scales\n\nParameters are DCLM's convention (qk-norm gains excluded), computed from the \
         model shape; every figure with a source was compared with that pinned file (a mismatch is an error). \
         H100 hours: DCLM's README scale table (mlfoundations/dclm@361714bd).\n\n",
    );
    md.push_str(&t.to_markdown());
    md
}

pub fn plan_text(recipe: &Recipe, p: &DclmParams, pl: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "dclm-baseline plan, scale `{}`{}",
        pl.scale,
        pl.dclm_name
            .as_ref()
            .map_or(String::new(), |n| format!(" (DCLM {n})"))
    );
    let _ = writeln!(s, "  model        {}", pl.model);
    let _ = writeln!(s, "  params       {}", fmt_grouped(pl.params));
    let _ = writeln!(s, "  tokens       {}", fmt_grouped(pl.tokens));
    let _ = writeln!(
        s,
        "  batch        {} x {} tokens",
        pl.global_batch, pl.seq_len
    );
    let _ = writeln!(
        s,
        "  steps        {} (token budget / tokens per step, rounded up)",
        pl.steps
    );
    let _ = writeln!(
        s,
        "  optimiser    AdamW lr {} warmup {} cosine to {}, wd {}, z-loss {}, clip {}",
        pl.optim.lr,
        pl.optim.warmup,
        pl.optim.final_lr,
        pl.optim.weight_decay,
        pl.optim.z_loss,
        pl.optim.grad_clip.map_or("none".into(), |c| c.to_string())
    );
    let _ = writeln!(s, "  compute      6·N·D = {} FLOPs", fmt_sig(pl.flops, 4));
    if let Some(h) = pl.readme_h100_hours {
        let _ = writeln!(
            s,
            "  DCLM README  {h} H100 hours, pool {} (implied {:.0} TFLOP/s per GPU)",
            pl.readme_pool_size.clone().unwrap_or_default(),
            pl.flops / (h * 3600.0) / 1e12
        );
    }
    if let Some(c) = &pl.config_file {
        let _ = writeln!(s, "  DCLM config  {c}");
    }
    if let Some((list, n)) = &pl.pool_shards {
        let _ = writeln!(s, "  pool         {n} shards listed in {list}");
    }
    let _ = writeln!(s, "  stages       extract (resiliparse) -> {} -> dedup -> fastText filter -> tokenize+shuffle -> train {} x {} seed(s) -> eval",
        p.heuristics.pipeline, p.variants.len(), p.seeds.len());
    let _ = writeln!(
        s,
        "  variants     {}",
        p.variants
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(s, "  checks       recipe figure = pinned file's figure");
    if pl.checks.is_empty() {
        let _ = writeln!(s, "    (no pinned DCLM file has figures for this scale)");
    }
    let mut last_source = "";
    for c in &pl.checks {
        if c.source != last_source {
            let _ = writeln!(s, "    {}", c.source);
            last_source = &c.source;
        }
        let _ = writeln!(
            s,
            "      {:<13} {:>16} = {:<16} {}",
            c.what,
            c.ours,
            c.theirs,
            if c.ok { "ok" } else { "MISMATCH" }
        );
    }
    let _ = writeln!(s, "  inputs (recipe `{}`)", recipe.name);
    let mut total = 0u64;
    for i in &recipe.inputs {
        total += i.size;
    }
    let _ = writeln!(
        s,
        "    {} pinned inputs, {} bytes (tiny scale); the real pool is the list above",
        recipe.inputs.len(),
        fmt_grouped(total)
    );
    if !pl.runnable_here {
        let _ = writeln!(
            s,
            "  status       plan only: not runnable on this machine (GPU cluster scale)"
        );
    }
    s
}
