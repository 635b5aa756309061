//! Runs AIW prompts against a [`TextGenerator`] and appends scored responses to a resumable JSONL
//! file keyed by (model, prompt id, trial).

use crate::prompts::PromptSet;
use crate::records::{read_responses, ResponseRecord};
use crate::score::{score, Comparison};
use anyhow::{bail, Context, Result};
use lmrepro_lm::{GenerationParams, TextGenerator};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub prompt_ids: Vec<i64>,
    pub trials: u64,
    /// Trial `t` uses seed `params.seed + t`, so sampled trials differ but are reproducible.
    pub params: GenerationParams,
    pub out: PathBuf,
    pub comparison: Comparison,
    pub progress: bool,
}

/// Outcome of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// Trials already in the output file (skipped).
    pub skipped: u64,
    /// Trials generated now.
    pub generated: u64,
    /// Of those, scored correct.
    pub correct: u64,
}

/// Parses `55,56,60-63` into ids.
pub fn parse_id_list(s: &str) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once('-') {
            let (a, b): (i64, i64) = (
                a.trim()
                    .parse()
                    .with_context(|| format!("bad id range `{part}`"))?,
                b.trim()
                    .parse()
                    .with_context(|| format!("bad id range `{part}`"))?,
            );
            if a > b {
                bail!("empty id range `{part}`");
            }
            out.extend(a..=b);
        } else {
            out.push(
                part.parse()
                    .with_context(|| format!("bad prompt id `{part}`"))?,
            );
        }
    }
    if out.is_empty() {
        bail!("no prompt ids given");
    }
    Ok(out)
}

/// Runs every (prompt id, trial) not yet in `cfg.out` and appends one JSON line per response.
pub fn run(
    gen: &mut dyn TextGenerator,
    prompts: &PromptSet,
    cfg: &RunConfig,
) -> Result<RunSummary> {
    let model = gen.name();
    let mut done: BTreeSet<(String, i64, i64)> = BTreeSet::new();
    if cfg.out.exists() {
        for r in read_responses(&cfg.out)? {
            if let Some(id) = r.prompt_id {
                done.insert((r.model, id, r.trial));
            }
        }
    }
    // Check every id first, so a typo fails before any request is paid for.
    let mut jobs = Vec::new();
    for &id in &cfg.prompt_ids {
        let p = prompts
            .get(id)
            .with_context(|| format!("prompt id {id} is not in prompts.json"))?;
        let text = p.text().with_context(|| {
            format!(
                "prompt id {id} is a multi-turn conversation; `aiw run` sends single-turn prompts"
            )
        })?;
        for trial in 0..cfg.trials as i64 {
            if !done.contains(&(model.clone(), id, trial)) {
                jobs.push((id, trial, text.to_string(), p.right_answer.clone()));
            }
        }
    }
    let skipped = cfg.prompt_ids.len() as u64 * cfg.trials - jobs.len() as u64;
    if let Some(parent) = cfg.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&cfg.out)
        .with_context(|| format!("opening {}", cfg.out.display()))?;
    let bar = lmrepro_stage::progress::bar_if(cfg.progress, jobs.len() as u64, "responses");
    let mut summary = RunSummary {
        skipped,
        generated: 0,
        correct: 0,
    };
    for (id, trial, text, right) in jobs {
        let params = GenerationParams {
            seed: cfg.params.seed.wrapping_add(trial as u64),
            ..cfg.params.clone()
        };
        let out = gen
            .generate(std::slice::from_ref(&text), &params)
            .with_context(|| format!("{model}: prompt {id}, trial {trial}"))?;
        let response = out
            .into_iter()
            .next()
            .with_context(|| format!("{model} returned no completion for prompt {id}"))?;
        let v = score(Some(id), &response, &right, cfg.comparison);
        let rec = ResponseRecord {
            model: model.clone(),
            prompt: serde_json::Value::String(text),
            model_response: Some(response),
            parsed_answer: v.parsed_answer,
            correct: v.correct,
            trial,
            total_trials: Some(cfg.trials as i64),
            right_answer: right,
            session: Some(0),
            n_sessions: Some(1),
            prompt_id: Some(id),
            source_file: None,
        };
        // One line per response, flushed at once: an interrupted run resumes where it stopped.
        writeln!(file, "{}", serde_json::to_string(&rec)?)?;
        file.flush()?;
        summary.generated += 1;
        summary.correct += v.correct as u64;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists() {
        assert_eq!(
            parse_id_list("55, 56,60-62").unwrap(),
            vec![55, 56, 60, 61, 62]
        );
        assert!(parse_id_list("5-3").is_err());
        assert!(parse_id_list("x").is_err());
    }
}
