//! Running a suite of ICL tasks with a model: per-task JSON (resumable), DCLM-shaped eval JSON,
//! markdown table. Missing task files are listed with the reason; CORE/EXTENDED are then reported
//! as partial, never as a mean over fewer tasks.

use crate::aggregate::{aggregate, Aggregate, AggregationSets, EvalMeta, Headline, CORE_SET};
use crate::data::load_task_file;
use crate::prompt::{build_prompts, PromptOptions};
use crate::score::{category_average, evaluate_partition, PartitionResult};
use crate::tasks::{Registry, TaskSpec};
use crate::tokenizer::Tok;
use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_lm::TokenLm;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const TOKENIZER_INPUT: &str = "tokenizer/gpt-neox-20b/tokenizer.json";
pub const META_V1_INPUT: &str = "dclm_assets/eval/eval_meta_data_v1.csv";
pub const META_V2_INPUT: &str = "dclm_assets/eval/eval_meta_data.csv";
pub const AGGREGATION_INPUT: &str = "dclm_assets/eval/additional_aggregation.json";

/// Everything a suite run reads: the task registry, metadata and how to find task files.
pub struct SuiteEnv {
    pub recipe: Recipe,
    pub resolver: Resolver,
    pub registry: Registry,
    pub meta_v1: EvalMeta,
    pub meta_v2: EvalMeta,
    pub sets: AggregationSets,
}

impl SuiteEnv {
    /// `config` is the eval yaml input (e.g. `dclm_assets/eval/heavy.yaml`).
    pub fn load(recipe: Recipe, resolver: Resolver, config: &str) -> Result<SuiteEnv> {
        let registry = Registry::load(&recipe.resolve(&resolver, config)?)?;
        let meta_v1 = EvalMeta::load(&recipe.resolve(&resolver, META_V1_INPUT)?)?;
        let meta_v2 = EvalMeta::load(&recipe.resolve(&resolver, META_V2_INPUT)?)?;
        let sets = AggregationSets::load(&recipe.resolve(&resolver, AGGREGATION_INPUT)?)?;
        Ok(SuiteEnv {
            recipe,
            resolver,
            registry,
            meta_v1,
            meta_v2,
            sets,
        })
    }

    pub fn tokenizer(&self) -> Result<Tok> {
        Tok::from_file(&self.recipe.resolve(&self.resolver, TOKENIZER_INPUT)?)
    }

    /// `core` (the 22 CORE tasks), `extended` (all 53 metadata tasks), `mmlu`, or a comma list.
    pub fn select(&self, suite: &str) -> Result<Vec<String>> {
        let labels: Vec<String> = match suite {
            "core" => self.sets.core().to_vec(),
            "extended" => self.meta_v2.names(),
            "mmlu" => vec!["mmlu_zeroshot".into(), "mmlu_fewshot".into()],
            list => list
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        };
        if labels.is_empty() {
            bail!("empty task selection `{suite}`");
        }
        for l in &labels {
            if self.registry.get(l).is_none() {
                let known: Vec<&str> = self
                    .registry
                    .tasks
                    .iter()
                    .map(|t| t.label.as_str())
                    .collect();
                bail!(
                    "unknown task `{l}` (not in the eval config); known: {}",
                    known.join(", ")
                );
            }
        }
        Ok(labels)
    }

    /// The task file, or why it is missing.
    pub fn task_file(
        &self,
        spec: &TaskSpec,
    ) -> Result<std::result::Result<(PathBuf, String), String>> {
        let Some(name) = spec.input_name() else {
            return Ok(Err(format!(
                "`{}` is built by DCLM from the password-protected GPQA zip, which is not redistributed",
                spec.dataset_uri
            )));
        };
        let input = self
            .recipe
            .input(&name)
            .with_context(|| format!("task `{}`", spec.label))?;
        match self.resolver.path(input) {
            // The pin identifies the task file for resume checks (sha256, or the git blob id of
            // the large llm-foundry files that are pinned that way).
            Ok(p) => Ok(Ok((
                p,
                if input.sha256.is_empty() {
                    input.pin()
                } else {
                    input.sha256.clone()
                },
            ))),
            Err(e) if input.optional => Ok(Err(e.to_string())),
            Err(e) => Err(anyhow::Error::new(e)),
        }
    }
}

/// Result of one task, as written to `tasks/<label>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskResult {
    pub label: String,
    pub task_type: String,
    pub num_fewshot: usize,
    pub model: String,
    pub limit: Option<usize>,
    /// sha256 of the task file (resume key, with model and limit).
    pub data_sha256: String,
    /// DCLM's number: accuracy, or the mean over categories.
    pub accuracy: f64,
    pub items_scored: usize,
    pub items_total: usize,
    pub categories: BTreeMap<String, f64>,
    pub tokens_scored: u64,
    pub tokens_context: u64,
    pub seconds: f64,
}

/// The outcome of a suite run.
pub struct SuiteRun {
    pub results: BTreeMap<String, TaskResult>,
    /// (task, reason), in selection order.
    pub missing: Vec<(String, String)>,
    pub v1: Aggregate,
    pub v2: Aggregate,
}

pub struct RunOptions {
    pub limit: Option<usize>,
    pub batch_items: usize,
    pub out_dir: PathBuf,
    pub progress: bool,
}

fn task_path(out: &Path, label: &str) -> PathBuf {
    out.join("tasks").join(format!("{label}.json"))
}

fn load_done(path: &Path, model: &str, limit: Option<usize>, sha: &str) -> Option<TaskResult> {
    let text = std::fs::read_to_string(path).ok()?;
    let r: TaskResult = serde_json::from_str(&text).ok()?;
    (r.model == model && r.limit == limit && r.data_sha256 == sha).then_some(r)
}

/// Evaluates one task (all partitions).
pub fn run_task(
    env: &SuiteEnv,
    model: &mut dyn TokenLm,
    tok: &Tok,
    spec: &TaskSpec,
    path: &Path,
    sha: &str,
    opts: &RunOptions,
) -> Result<TaskResult> {
    let start = Instant::now();
    let parts = load_task_file(path, spec.task_type, spec.has_categories)
        .with_context(|| format!("task `{}`", spec.label))?;
    let popts = PromptOptions {
        prefix_space: tok.needs_prefix_space(),
    };
    let prompts: Vec<_> = parts
        .iter()
        .map(|p| build_prompts(spec, p, popts, opts.limit))
        .collect();
    let n: usize = prompts.iter().map(|p| p.len()).sum();
    let bar = lmrepro_stage::progress::bar_if(opts.progress, n as u64, &spec.label);
    let mut results: Vec<PartitionResult> = Vec::new();
    for (part, ps) in parts.iter().zip(&prompts) {
        let r = evaluate_partition(model, tok, spec, part, ps, opts.batch_items, &mut || {
            bar.inc(1)
        })?;
        results.push(r);
    }
    bar.finish_and_clear();
    let _ = env;
    let accuracy = if spec.has_categories {
        category_average(&results)
    } else {
        results[0].accuracy
    };
    Ok(TaskResult {
        label: spec.label.clone(),
        task_type: spec.task_type.as_str().to_string(),
        num_fewshot: spec.num_fewshot,
        model: model.name(),
        limit: opts.limit,
        data_sha256: sha.to_string(),
        accuracy,
        items_scored: results.iter().map(|r| r.items_scored).sum(),
        items_total: results.iter().map(|r| r.items_total).sum(),
        categories: results
            .iter()
            .filter_map(|r| r.category.clone().map(|c| (c, r.accuracy)))
            .collect(),
        tokens_scored: results.iter().map(|r| r.tokens_scored).sum(),
        tokens_context: results.iter().map(|r| r.tokens_context).sum(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Runs the selected tasks, resuming from `out_dir/tasks/*.json`, and writes `eval.json` and
/// `results.md`.
pub fn run_suite(
    env: &SuiteEnv,
    model: &mut dyn TokenLm,
    labels: &[String],
    opts: &RunOptions,
) -> Result<SuiteRun> {
    let tok = match model.tokenizer_file() {
        Some(path) => Tok::from_file(&path)?,
        None => env.tokenizer()?,
    };
    std::fs::create_dir_all(opts.out_dir.join("tasks"))
        .with_context(|| format!("creating {}", opts.out_dir.display()))?;
    let mut results = BTreeMap::new();
    let mut missing = Vec::new();
    let model_name = model.name();
    for label in labels {
        let spec = env.registry.get(label).expect("selection is validated");
        let (path, sha) = match env.task_file(spec)? {
            Ok(x) => x,
            Err(reason) => {
                missing.push((label.clone(), reason));
                continue;
            }
        };
        let out = task_path(&opts.out_dir, label);
        if let Some(done) = load_done(&out, &model_name, opts.limit, &sha) {
            results.insert(label.clone(), done);
            continue;
        }
        let r = run_task(env, model, &tok, spec, &path, &sha, opts)?;
        // Write, sync, rename so an interrupted run never leaves a truncated result behind.
        let tmp = out.with_extension("json.partial");
        lmrepro_stage::write_atomic(
            &tmp,
            &out,
            (serde_json::to_string_pretty(&r)? + "\n").as_bytes(),
        )?;
        results.insert(label.clone(), r);
    }
    let icl: BTreeMap<String, f64> = results
        .iter()
        .map(|(k, v)| (k.clone(), v.accuracy))
        .collect();
    let v1 = aggregate(&icl, &env.meta_v1, &env.sets);
    let v2 = aggregate(&icl, &env.meta_v2, &env.sets);
    let run = SuiteRun {
        results,
        missing,
        v1,
        v2,
    };
    // Atomically too: a reader (or a run killed mid-write) never sees half a summary.
    lmrepro_stage::write_atomic(
        &opts.out_dir.join(".eval.json.tmp"),
        &opts.out_dir.join("eval.json"),
        (serde_json::to_string_pretty(&dclm_json(&run, &model_name, opts.limit))? + "\n")
            .as_bytes(),
    )?;
    lmrepro_stage::write_atomic(
        &opts.out_dir.join(".results.md.tmp"),
        &opts.out_dir.join("results.md"),
        markdown(env, &run, &model_name, opts.limit)?.as_bytes(),
    )?;
    Ok(run)
}

/// Python `str(list_of_str)`.
fn py_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn num_or_null(x: f64) -> serde_json::Value {
    if x.is_finite() {
        serde_json::json!(x)
    } else {
        serde_json::Value::Null
    }
}

fn headline_json(h: &Headline) -> serde_json::Value {
    match h {
        Headline::Value(v) => serde_json::json!(v),
        Headline::Partial { missing, .. } => {
            serde_json::json!(format!("N/A due to missing tasks: {}", py_list(missing)))
        }
    }
}

/// The eval JSON in DCLM's shape (`eval_metrics.icl` + what `aggregated_metrics.py` adds), so
/// DCLM's own aggregation script accepts it.
pub fn dclm_json(run: &SuiteRun, model: &str, limit: Option<usize>) -> serde_json::Value {
    let icl: serde_json::Map<String, serde_json::Value> = run
        .results
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::json!(v.accuracy)))
        .collect();
    let mut out = serde_json::Map::new();
    out.insert("name".into(), serde_json::json!("lmrepro-eval"));
    out.insert("model".into(), serde_json::json!(model));
    out.insert("limit".into(), serde_json::json!(limit));
    out.insert("eval_metrics".into(), serde_json::json!({ "icl": icl }));
    let cats: serde_json::Map<String, serde_json::Value> = run
        .v2
        .categories_centered
        .iter()
        .map(|(k, v)| (k.clone(), num_or_null(*v)))
        .collect();
    out.insert("aggregated_task_categories_centered".into(), cats.into());
    out.insert(
        "aggregated_centered_results".into(),
        num_or_null(crate::aggregate::pandas_mean(
            &run.v2.per_task.iter().map(|p| p.2).collect::<Vec<_>>(),
        )),
    );
    out.insert("aggregated_results".into(), num_or_null(run.v2.raw_mean));
    for (k, (raw, cen)) in &run.v2.sets {
        out.insert(k.clone(), num_or_null(*raw));
        out.insert(format!("{k}_centered"), num_or_null(*cen));
    }
    out.insert(
        "missing tasks".into(),
        serde_json::json!(py_list(&run.v2.missing)),
    );
    out.insert("Core_v1".into(), headline_json(&run.v1.core));
    out.insert("Extended_v1".into(), headline_json(&run.v1.extended));
    out.insert("Core_v2".into(), headline_json(&run.v2.core));
    out.insert("Extended_v2".into(), headline_json(&run.v2.extended));
    out.insert("Core".into(), headline_json(&run.v2.core));
    out.insert("Extended".into(), headline_json(&run.v2.extended));
    out.insert("eval_version".into(), serde_json::json!("v2"));
    serde_json::Value::Object(out)
}

/// `results.md`: per-task table, headline numbers, missing tasks, throughput.
pub fn markdown(
    env: &SuiteEnv,
    run: &SuiteRun,
    model: &str,
    limit: Option<usize>,
) -> Result<String> {
    let mut md = String::new();
    writeln!(md, "# ICL evaluation: {model}\n")?;
    match limit {
        Some(l) => writeln!(
            md,
            "Quick run: at most {l} items per task (per category for category tasks).\n"
        )?,
        None => writeln!(md, "Full run (all items).\n")?,
    }
    writeln!(
        md,
        "| task | type | shots | items | accuracy | centered (v2) | CORE |"
    )?;
    writeln!(md, "|---|---|---:|---:|---:|---:|:---:|")?;
    let core = env.sets.sets[CORE_SET].clone();
    for (label, r) in &run.results {
        let cen = env
            .meta_v2
            .get(label)
            .map(|m| {
                format!(
                    "{:.4}",
                    crate::aggregate::centered(r.accuracy, m.random_baseline)
                )
            })
            .unwrap_or_else(|| "-".into());
        writeln!(
            md,
            "| {label} | {} | {} | {}/{} | {:.4} | {cen} | {} |",
            r.task_type,
            r.num_fewshot,
            r.items_scored,
            r.items_total,
            r.accuracy,
            if core.contains(label) { "yes" } else { "" }
        )?;
    }
    writeln!(md, "\n| aggregate | v1 | v2 |")?;
    writeln!(md, "|---|---|---|")?;
    writeln!(
        md,
        "| CORE (22) | {} | {} |",
        run.v1.core.render(4),
        run.v2.core.render(4)
    )?;
    writeln!(
        md,
        "| EXTENDED (53) | {} | {} |",
        run.v1.extended.render(4),
        run.v2.extended.render(4)
    )?;
    if !run.missing.is_empty() {
        writeln!(md, "\nMissing task files ({}):\n", run.missing.len())?;
        for (t, why) in &run.missing {
            writeln!(md, "- {t}: {}", why.lines().next().unwrap_or(""))?;
        }
    }
    let toks: u64 = run
        .results
        .values()
        .map(|r| r.tokens_scored + r.tokens_context)
        .sum();
    let secs: f64 = run.results.values().map(|r| r.seconds).sum();
    writeln!(
        md,
        "\nTokens through the model: {toks} in {secs:.1} s of task time{}.",
        if secs > 0.0 {
            format!(" ({:.0} tokens/s)", toks as f64 / secs)
        } else {
            String::new()
        }
    )?;
    Ok(md)
}
