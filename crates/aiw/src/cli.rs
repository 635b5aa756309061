//! `lmrepro aiw ...` subcommands.

use crate::client::{ClientConfig, OpenAiClient};
use crate::generator::{coverage, Catalog, Coverage, Instance, NumberStyle, Value};
use crate::prompts::PromptSet;
use crate::records::read_responses;
use crate::runner::{parse_id_list, run as run_prompts, RunConfig};
use crate::score::Comparison;
use crate::stats::band;
use crate::summary::tally;
use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_lm::{GenerationParams, TextGenerator};
use lmrepro_report::{fmt_fixed, Table};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run AIW prompts against a model and append scored responses to a resumable JSONL file.
    Run {
        /// `openai:MODEL` (OpenAI-compatible endpoint from AIW_API_BASE/OPENAI_BASE_URL, key from
        /// AIW_API_KEY/OPENAI_API_KEY).
        #[arg(long)]
        model: String,
        /// Prompt ids, e.g. `55,56,63,69` or `53-58`.
        #[arg(long, default_value = "55,56,63,69")]
        prompt_ids: String,
        #[arg(long, default_value_t = 30)]
        trials: u64,
        /// 0 = greedy.
        #[arg(long, default_value_t = 1.0)]
        temperature: f64,
        /// Trial t is sampled with seed + t.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 2048)]
        max_tokens: usize,
        #[arg(long)]
        out: PathBuf,
        /// Max requests per minute (0 = unlimited).
        #[arg(long, default_value_t = 0.0)]
        rpm: f64,
        /// Per-request timeout in seconds.
        #[arg(long, default_value_t = 120)]
        timeout_s: u64,
        /// Retries on 429/5xx/transport errors (exponential backoff).
        #[arg(long, default_value_t = 5)]
        retries: u32,
        #[arg(long, value_enum, default_value_t = Comparison::Numeric)]
        comparison: Comparison,
    },
    /// Re-score response files (JSON list or JSONL) and print rates with bands per model and prompt.
    Score {
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Comparison::Numeric)]
        comparison: Comparison,
        #[arg(long, default_value_t = 2024)]
        seed: u64,
    },
    /// Render a problem of a template family for any counts (`--n`, `--m` set s0, s1).
    Generate {
        /// Family name (`f001`...), or a prompt id whose family and framing to reuse.
        #[arg(long, default_value = "55")]
        family: String,
        #[arg(long)]
        n: Option<i64>,
        #[arg(long)]
        m: Option<i64>,
        /// All slot values in order, e.g. `3,6` or `N,M` (symbols) — overrides --n/--m.
        #[arg(long)]
        values: Option<String>,
        /// Instruction suffix name (STANDARD, THINKING_V1, THINKING_V2, RESTRICTED, ...; `none`).
        #[arg(long)]
        suffix: Option<String>,
        #[arg(long, value_enum)]
        style: Option<NumberStyle>,
        /// List families, prefixes and suffixes instead.
        #[arg(long)]
        list: bool,
    },
    /// Report which prompt ids the template families regenerate.
    Coverage,
}

/// The environment's resolver; without `LMREPRO_DATA_MIRROR` it falls back to the checkout's
/// `../shared/data` mirror when one exists (the layout the project is developed in).
pub fn default_resolver() -> Resolver {
    let mut r = Resolver::from_env();
    if r.mirror_dir.is_none() {
        let d = lmrepro_data::workspace_root().join("../shared/data");
        if d.is_dir() {
            r.mirror_dir = Some(d);
        }
    }
    r
}

fn load_prompts() -> Result<PromptSet> {
    let recipe = Recipe::load_named("aiw")?;
    PromptSet::load(&recipe.resolve(&default_resolver(), "aiw/prompts.json")?)
}

fn make_model(spec: &str, cfg: impl FnOnce(&mut ClientConfig)) -> Result<Box<dyn TextGenerator>> {
    match spec.split_once(':') {
        Some(("openai", model)) if !model.is_empty() => {
            let mut c = ClientConfig::from_env(model);
            cfg(&mut c);
            Ok(Box::new(OpenAiClient::new(c)))
        }
        _ => bail!("unknown model `{spec}`: use `openai:MODEL` (any OpenAI-compatible endpoint)"),
    }
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Run {
            model,
            prompt_ids,
            trials,
            temperature,
            seed,
            max_tokens,
            out,
            rpm,
            timeout_s,
            retries,
            comparison,
        } => {
            let prompts = load_prompts()?;
            let mut gen = make_model(&model, |c| {
                c.timeout = Duration::from_secs(timeout_s);
                c.max_retries = retries;
                if rpm > 0.0 {
                    c.min_interval = Duration::from_secs_f64(60.0 / rpm);
                }
            })?;
            let cfg = RunConfig {
                prompt_ids: parse_id_list(&prompt_ids)?,
                trials,
                params: GenerationParams {
                    max_new_tokens: max_tokens,
                    temperature,
                    seed,
                    stop: Vec::new(),
                },
                out: out.clone(),
                comparison,
                progress: true,
            };
            let s = run_prompts(gen.as_mut(), &prompts, &cfg)?;
            eprintln!(
                "{}: {} generated ({} correct), {} already in {}",
                gen.name(),
                s.generated,
                s.correct,
                s.skipped,
                out.display()
            );
            Ok(())
        }
        Command::Score {
            files,
            comparison,
            seed,
        } => {
            if files.is_empty() {
                bail!("give at least one response file");
            }
            let prompts = load_prompts()?;
            let mut t = Table::new([
                "file",
                "model",
                "prompt_id",
                "n",
                "correct",
                "rate",
                "q1",
                "median",
                "q3",
                "parsed_equal",
            ]);
            for f in &files {
                let records = read_responses(f)?;
                let name = f.file_name().map_or_else(
                    || f.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                for tl in tally(&name, &records, &prompts, comparison) {
                    let k = tl.n_correct_param_regex.unwrap_or(tl.n_correct_rescored);
                    let b = band(
                        k,
                        tl.n_trials,
                        1000,
                        seed,
                        &format!("{}|{}|{}", name, tl.model, tl.prompt_id),
                    );
                    t.push([
                        name.clone(),
                        tl.model.clone(),
                        tl.prompt_id.clone(),
                        tl.n_trials.to_string(),
                        k.to_string(),
                        fmt_fixed(b.rate, 4),
                        fmt_fixed(b.stats.q1, 4),
                        fmt_fixed(b.stats.median, 4),
                        fmt_fixed(b.stats.q3, 4),
                        tl.n_parsed_equal.to_string(),
                    ]);
                }
            }
            print!("{}", t.to_markdown());
            Ok(())
        }
        Command::Generate {
            family,
            n,
            m,
            values,
            suffix,
            style,
            list,
        } => {
            let cat = Catalog::builtin();
            if list {
                for p in &cat.prefixes {
                    println!("prefix {}: {:?}", p.name, p.text);
                }
                for s in &cat.suffixes {
                    println!("suffix {}: {:?}", s.name, s.text);
                }
                for f in &cat.families {
                    println!(
                        "{} [{}] {}  => {}",
                        f.name, f.example, f.template, f.answer_formula
                    );
                }
                return Ok(());
            }
            let mut inst = if let Ok(id) = family.parse::<i64>() {
                let prompts = load_prompts()?;
                let p = prompts
                    .get(id)
                    .with_context(|| format!("no prompt id {id}"))?;
                let text = p
                    .text()
                    .with_context(|| format!("prompt {id} is multi-turn"))?;
                cat.match_text(text).with_context(|| {
                    format!("prompt {id} is not an instance of any template family")
                })?
            } else {
                let f = cat.family(&family)?;
                Instance {
                    family: f.name.clone(),
                    values: (0..f.n_slots).map(|_| Value::Int(1)).collect(),
                    styles: Vec::new(),
                    prefix: None,
                    suffix: Some("STANDARD".into()),
                }
            };
            if let Some(v) = values {
                inst.values = v
                    .split(',')
                    .map(|t| {
                        let t = t.trim();
                        t.parse::<i64>()
                            .map(Value::Int)
                            .unwrap_or_else(|_| Value::Symbol(t.to_string()))
                    })
                    .collect();
            } else {
                if let Some(n) = n {
                    *inst.values.get_mut(0).context("family has no slot s0")? = Value::Int(n);
                }
                if let Some(m) = m {
                    *inst.values.get_mut(1).context("family has no slot s1")? = Value::Int(m);
                }
            }
            if let Some(s) = suffix {
                inst.suffix = if s == "none" { None } else { Some(s) };
            }
            if let Some(st) = style {
                inst.styles = vec![st; inst.values.len()];
            }
            let text = cat.render(&inst)?;
            let answer = cat.answer(&inst)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "family": inst.family,
                    "values": inst.values,
                    "prompt": text,
                    "right_answer": answer.to_string(),
                }))?
            );
            Ok(())
        }
        Command::Coverage => {
            let prompts = load_prompts()?;
            let cov = coverage(Catalog::builtin(), &prompts);
            let mut counts = std::collections::BTreeMap::new();
            for (id, c) in &cov {
                let kind = match c {
                    Coverage::Exact { .. } => "exact",
                    Coverage::Symbolic { .. } => "symbolic",
                    Coverage::AnswerMismatch { .. } => "answer-mismatch",
                    Coverage::MultiTurn => "multi-turn",
                    Coverage::NoFamily => "no-family",
                };
                counts.entry(kind).or_insert_with(Vec::new).push(*id);
            }
            for (k, ids) in counts {
                println!("{k}: {} ids {:?}", ids.len(), ids);
            }
            Ok(())
        }
    }
}
