//! Scoring a task partition with a [`TokenLm`], with llm-foundry v0.9.0's metrics
//! (`llmfoundry/eval/metrics/nlp.py`) and tokenization rules
//! (`llmfoundry/eval/datasets/{in_context_learning_evaluation,utils}.py`):
//!
//! - preamble (prompt + few-shot text) and the item's context are tokenized **separately** and
//!   concatenated; the continuation is tokenized on its own;
//! - `trim_context`: the context is cut from the left so context + continuation fit
//!   `max_seq_len` (generation: `max_seq_len - max_answer_length`);
//! - multiple choice / schema (`InContextLearningMultipleChoiceAccuracy`): the option with the
//!   lowest mean per-token cross-entropy of its continuation wins, ties to the first option;
//! - language modelling (`InContextLearningLMAccuracy`): correct iff the argmax at every
//!   continuation position is the continuation token;
//! - generation (`InContextLearningGenerationExactMatchAccuracy`): greedy decoding for
//!   `max(max_answer_length, 1)` new tokens (stopping at EOS), cut at the first stop string,
//!   keep the text after the last `cot_delimiter`, normalise (lower-case, `_` and punctuation →
//!   space, drop `a|an|the`, squeeze whitespace) and accept when the output starts with any
//!   normalised alias;
//! - accuracy = `correct / total` in float32 (torchmetrics state), reported as f64.

use crate::data::Partition;
use crate::prompt::{Prompt, PromptBody};
use crate::tasks::{TaskSpec, TaskType};
use crate::tokenizer::Tok;
use anyhow::{bail, Context, Result};
use lmrepro_lm::{ScoreRequest, ScoreResult, TokenLm};
use lmrepro_pycompat::unicode::{split_whitespace, strip};

/// llm-foundry `_MAX_ANSWER_BUFFER_LENGTH`: extra generation budget for chain-of-thought tasks.
pub const MAX_ANSWER_BUFFER_LENGTH: usize = 10;

/// `trim_context`: left-truncate so `context + continuation <= max_len`. Keeps Python's
/// `ctx[-0:]` quirk (a budget of exactly zero keeps the whole context).
pub fn trim_context(ctx: Vec<u32>, cont_len: usize, max_len: usize) -> Result<Vec<u32>> {
    if ctx.len() + cont_len > max_len {
        if cont_len > max_len {
            bail!("continuation of {cont_len} tokens is longer than max_seq_len {max_len}");
        }
        let keep = max_len - cont_len;
        if keep == 0 {
            return Ok(ctx);
        }
        return Ok(ctx[ctx.len() - keep..].to_vec());
    }
    Ok(ctx)
}

/// Token sequences of one prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoded {
    Choices {
        reqs: Vec<ScoreRequest>,
        gold: usize,
    },
    Lm(ScoreRequest),
    Generate {
        context: Vec<u32>,
        aliases: Vec<String>,
    },
}

/// `_fix_eos_on_preamble`: drop a trailing EOS the tokenizer may add (never for GPT-NeoX).
fn fix_eos(mut ids: Vec<u32>, eos: u32) -> Vec<u32> {
    if ids.len() > 1 && ids.last() == Some(&eos) {
        ids.pop();
    }
    ids
}

/// Tokenizes a prompt the way llm-foundry's `tokenize_example` does.
pub fn encode_prompt(
    tok: &Tok,
    spec: &TaskSpec,
    prompt: &Prompt,
    gen_padding_size: usize,
) -> Result<Encoded> {
    let preamble = fix_eos(tok.encode(&prompt.preamble)?, tok.eos_id);
    let join = |ctx: &str| -> Result<Vec<u32>> {
        let mut ids = preamble.clone();
        ids.extend(tok.encode(ctx)?);
        Ok(ids)
    };
    Ok(match &prompt.body {
        PromptBody::Choices { pairs, gold } => {
            let mut reqs = Vec::with_capacity(pairs.len());
            // MC options share one context: tokenize it once.
            let mut cached: Option<(&str, Vec<u32>)> = None;
            for (ctx, cont) in pairs {
                let cont = tok.encode(cont)?;
                let full = match &cached {
                    Some((c, ids)) if *c == ctx.as_str() => ids.clone(),
                    _ => {
                        let ids = join(ctx)?;
                        cached = Some((ctx.as_str(), ids.clone()));
                        ids
                    }
                };
                let context = trim_context(full, cont.len(), spec.max_seq_len)?;
                reqs.push(ScoreRequest {
                    context,
                    continuation: cont,
                });
            }
            Encoded::Choices { reqs, gold: *gold }
        }
        PromptBody::Lm {
            context,
            continuation,
        } => {
            let cont = tok.encode(continuation)?;
            let context = trim_context(join(context)?, cont.len(), spec.max_seq_len)?;
            Encoded::Lm(ScoreRequest {
                context,
                continuation: cont,
            })
        }
        PromptBody::Generate { context, aliases } => Encoded::Generate {
            context: trim_context(join(context)?, 0, gen_padding_size)?,
            aliases: aliases.clone(),
        },
    })
}

/// `_get_max_answer_length` over a whole partition (unstripped answers, as upstream).
pub fn max_answer_length(tok: &Tok, spec: &TaskSpec, part: &Partition) -> Result<usize> {
    let mut max = 0usize;
    for (answer, aliases, cot) in &part.raw_answers {
        for a in std::iter::once(answer).chain(aliases.iter()) {
            let response = if part.has_cot {
                format!("{cot}{}{a}", spec.cot_delimiter)
            } else {
                a.clone()
            };
            max = max.max(tok.encode(&response)?.len());
        }
    }
    Ok(max
        + if spec.cot_delimiter.is_empty() {
            0
        } else {
            MAX_ANSWER_BUFFER_LENGTH
        })
}

/// `normalize_answer` of `InContextLearningGenerationExactMatchAccuracy`.
pub fn normalize_answer(answer: &str) -> String {
    const EXTRA: [char; 4] = ['\u{2018}', '\u{2019}', '\u{b4}', '`'];
    let s = answer.replace('_', " ").to_lowercase();
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_punctuation() || EXTRA.contains(&c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    // re.sub(r'\b(a|an|the)\b', ' ', s): a maximal run of word characters equal to an article.
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let flush = |word: &mut String, out: &mut String| {
        if matches!(word.as_str(), "a" | "an" | "the") {
            out.push(' ');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in s.chars() {
        if is_word(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    split_whitespace(&out).collect::<Vec<_>>().join(" ")
}

/// The metric's post-processing of one generation.
pub fn generation_correct(output: &str, aliases: &[String], spec: &TaskSpec) -> bool {
    let mut answer = output;
    // Upstream: re.split('|'.join(stops), answer)[0]; DCLM's stop strings have no regex
    // metacharacters, so the earliest literal match is the same cut.
    if let Some(cut) = spec
        .early_stopping_criteria
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| answer.find(s.as_str()))
        .min()
    {
        answer = &answer[..cut];
    }
    if !spec.cot_delimiter.is_empty() {
        answer = answer
            .rsplit(spec.cot_delimiter.as_str())
            .next()
            .unwrap_or(answer);
    }
    if spec.do_normalization {
        let a = normalize_answer(answer);
        aliases.iter().any(|l| a.starts_with(&normalize_answer(l)))
    } else {
        let a = strip(answer);
        aliases.iter().any(|l| a.starts_with(strip(l)))
    }
}

fn check_result(
    model: &str,
    req: &ScoreRequest,
    res: &ScoreResult,
    what: &dyn Fn() -> String,
) -> Result<()> {
    if res.logprobs.len() != req.continuation.len()
        || res.greedy_match.len() != req.continuation.len()
    {
        bail!(
            "model {model} returned {} log-probs / {} greedy flags for a {}-token continuation ({})",
            res.logprobs.len(),
            res.greedy_match.len(),
            req.continuation.len(),
            what()
        );
    }
    if let Some(i) = res.logprobs.iter().position(|x| !x.is_finite() || *x > 0.0) {
        bail!(
            "model {model} returned log-probability {} at continuation token {i} ({}): not a valid log-probability",
            res.logprobs[i],
            what()
        );
    }
    Ok(())
}

/// Greedy decoding as HF `generate` does it for llm-foundry: stop at EOS or after `max_new`
/// tokens; stop early once a stop string appears (the metric cuts there anyway).
pub fn greedy_generate(
    model: &mut dyn TokenLm,
    tok: &Tok,
    context: &[u32],
    max_new: usize,
    stops: &[String],
) -> Result<String> {
    let mut seq = context.to_vec();
    let mut out: Vec<u32> = Vec::new();
    for _ in 0..max_new {
        let next = model.greedy_next(std::slice::from_ref(&seq))?;
        let &[next] = next.as_slice() else {
            bail!(
                "model {} returned {} tokens for one context",
                model.name(),
                next.len()
            );
        };
        if next == tok.eos_id {
            break;
        }
        out.push(next);
        seq.push(next);
        if !stops.is_empty() {
            let text = tok.decode(&out)?;
            if stops
                .iter()
                .any(|s| !s.is_empty() && text.contains(s.as_str()))
            {
                break;
            }
        }
    }
    tok.decode(&out)
}

/// Outcome of one item.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ItemOutcome {
    pub index: usize,
    pub correct: bool,
    /// MC/schema: chosen option; LM: none; generation: the raw generation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
}

/// Result of one partition.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartitionResult {
    pub category: Option<String>,
    pub items_total: usize,
    pub items_scored: usize,
    pub correct: usize,
    /// `correct / total` as torchmetrics computes it (float32), widened to f64.
    pub accuracy: f64,
    /// Continuation tokens scored (+ tokens generated).
    pub tokens_scored: u64,
    /// Context tokens fed.
    pub tokens_context: u64,
    pub outcomes: Vec<ItemOutcome>,
}

/// float32 `correct / total`, as `InContextLearning*Accuracy.compute()`.
pub fn f32_accuracy(correct: usize, total: usize) -> f64 {
    (correct as f32 / total as f32) as f64
}

/// Scores the first `limit` items of a partition (all when `None`). `on_item` is called after
/// each item (progress bars).
pub fn evaluate_partition(
    model: &mut dyn TokenLm,
    tok: &Tok,
    spec: &TaskSpec,
    part: &Partition,
    prompts: &[Prompt],
    batch_items: usize,
    on_item: &mut dyn FnMut(),
) -> Result<PartitionResult> {
    let label = &spec.label;
    let cat = part.category.clone();
    let where_ = |idx: usize| -> String {
        match &cat {
            Some(c) => format!(
                "task {label}, category {c}, item {idx} (line {})",
                part.lines[idx]
            ),
            None => format!("task {label}, item {idx} (line {})", part.lines[idx]),
        }
    };
    let (max_new, padding) = if spec.task_type == TaskType::GenerationTaskWithAnswers {
        let mal = max_answer_length(tok, spec, part)?;
        let max_seq = spec.max_seq_len.max(mal);
        (mal.max(1), max_seq - mal)
    } else {
        (0, spec.max_seq_len)
    };
    let mut outcomes = Vec::with_capacity(prompts.len());
    let mut tokens_scored = 0u64;
    let mut tokens_context = 0u64;
    let model_name = model.name();
    for chunk in prompts.chunks(batch_items.max(1)) {
        let encoded: Vec<Encoded> = chunk
            .iter()
            .map(|p| encode_prompt(tok, spec, p, padding).with_context(|| where_(p.index)))
            .collect::<Result<_>>()?;
        // One batched `score` call for every scored sequence of the chunk.
        let mut batch: Vec<ScoreRequest> = Vec::new();
        for e in &encoded {
            match e {
                Encoded::Choices { reqs, .. } => batch.extend(reqs.iter().cloned()),
                Encoded::Lm(r) => batch.push(r.clone()),
                Encoded::Generate { .. } => {}
            }
        }
        let results = if batch.is_empty() {
            Vec::new()
        } else {
            model.score(&batch)?
        };
        if results.len() != batch.len() {
            bail!(
                "model {model_name} returned {} results for {} requests ({})",
                results.len(),
                batch.len(),
                where_(chunk[0].index)
            );
        }
        let mut r = 0;
        for (p, e) in chunk.iter().zip(encoded) {
            let outcome = match e {
                Encoded::Choices { reqs, gold } => {
                    let mut best: Option<(usize, f64)> = None;
                    for (i, req) in reqs.iter().enumerate() {
                        let res = &results[r];
                        r += 1;
                        check_result(&model_name, req, res, &|| {
                            format!("{}, option {i}", where_(p.index))
                        })?;
                        tokens_scored += req.continuation.len() as u64;
                        tokens_context += req.context.len() as u64;
                        let nll = res.mean_nll();
                        if nll.is_nan() {
                            bail!("{}: option {i} has an empty continuation", where_(p.index));
                        }
                        if best.is_none_or(|(_, b)| nll < b) {
                            best = Some((i, nll));
                        }
                    }
                    let chosen = best.map(|b| b.0).unwrap_or(0);
                    ItemOutcome {
                        index: p.index,
                        correct: chosen == gold,
                        chosen: Some(chosen),
                        generation: None,
                    }
                }
                Encoded::Lm(req) => {
                    let res = &results[r];
                    r += 1;
                    check_result(&model_name, &req, res, &|| where_(p.index))?;
                    tokens_scored += req.continuation.len() as u64;
                    tokens_context += req.context.len() as u64;
                    ItemOutcome {
                        index: p.index,
                        correct: res.all_greedy(),
                        chosen: None,
                        generation: None,
                    }
                }
                Encoded::Generate { context, aliases } => {
                    tokens_context += context.len() as u64;
                    let text = greedy_generate(
                        model,
                        tok,
                        &context,
                        max_new,
                        &spec.early_stopping_criteria,
                    )
                    .with_context(|| where_(p.index))?;
                    tokens_scored += tok.encode(&text)?.len() as u64;
                    ItemOutcome {
                        index: p.index,
                        correct: generation_correct(&text, &aliases, spec),
                        chosen: None,
                        generation: Some(text),
                    }
                }
            };
            outcomes.push(outcome);
            on_item();
        }
    }
    if outcomes.is_empty() {
        bail!("task {label}: no items to score");
    }
    let correct = outcomes.iter().filter(|o| o.correct).count();
    Ok(PartitionResult {
        category: part.category.clone(),
        items_total: part.items.len(),
        items_scored: outcomes.len(),
        correct,
        accuracy: f32_accuracy(correct, outcomes.len()),
        tokens_scored,
        tokens_context,
        outcomes,
    })
}

/// DCLM's per-task number for category tasks: `sum(category accuracies) / n` in Python floats,
/// categories in sorted order (`eval/eval_openlm_ckpt.py`).
pub fn category_average(parts: &[PartitionResult]) -> f64 {
    let mut s = 0.0f64;
    for p in parts {
        s += p.accuracy;
    }
    s / parts.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_matches_triviaqa_rules() {
        assert_eq!(normalize_answer("The  Beatles!"), "beatles");
        assert_eq!(normalize_answer("an_apple a day"), "apple day");
        assert_eq!(normalize_answer("Theatre"), "theatre");
        assert_eq!(normalize_answer("‘Quoted’ `x`"), "quoted x");
    }

    #[test]
    fn trim_keeps_the_right_end() {
        assert_eq!(trim_context(vec![1, 2, 3, 4], 2, 4).unwrap(), vec![3, 4]);
        assert_eq!(trim_context(vec![1, 2], 1, 4).unwrap(), vec![1, 2]);
        // Python ctx[-0:] keeps everything.
        assert_eq!(trim_context(vec![1, 2], 4, 4).unwrap(), vec![1, 2]);
        assert!(trim_context(vec![1], 5, 4).is_err());
    }

    #[test]
    fn accuracy_is_float32() {
        assert_eq!(f32_accuracy(1, 3), (1.0f32 / 3.0f32) as f64);
        assert_ne!(f32_accuracy(1, 3), 1.0 / 3.0);
    }
}
