//! Zero-shot prompting of PubMedQA and BIOSSES through the project's model interface.
//!
//! Templates live in `prompts.toml` (promptsource-style: a prompt with `{{field}}` placeholders
//! and an `answer_choices` string). Two ways to score:
//!
//! - [`TokenLm`] (the n-gram reference model, a trained checkpoint): each choice is a continuation
//!   of the prompt after `target_delimiter`, scored by its summed log-likelihood with
//!   lm-eval-harness' `_encode_pair` tokenisation (trailing spaces of the prompt move to the
//!   continuation; the continuation tokens are `encode(prompt + choice)[len(encode(prompt)):]`).
//!   PubMedQA predicts the first choice of highest log-likelihood (`acc` of lm-eval's
//!   `multiple_choice`). BIOSSES predicts the likelihood-weighted mean score: softmax over the
//!   five choices' summed log-likelihoods, times each choice's score (0-4).
//! - [`TextGenerator`] (e.g. the OpenAI-compatible HTTP client of the AIW track): the prompt is
//!   sent, and the reply parsed: PubMedQA takes the earliest answer choice (case-insensitive,
//!   whole word), BIOSSES the first number; an unparsable reply counts as the label
//!   [`UNPARSED`] (PubMedQA, always wrong) or the scale midpoint 2.0 (BIOSSES), and is counted.

use crate::metrics::{accuracy, bootstrap, macro_f1, median, pearson, spearman, Estimate};
use anyhow::{bail, Context, Result};
use lmrepro_lm::{GenerationParams, ScoreRequest, TextGenerator, TokenLm};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The committed templates.
pub const PROMPTS_TOML: &str = include_str!("../prompts.toml");

/// The prediction recorded for a generated reply that names no answer choice.
pub const UNPARSED: &str = "<unparsed>";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Pubmedqa,
    Biosses,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Pubmedqa => "pubmedqa",
            Task::Biosses => "biosses",
        }
    }
    /// The schema fields a template of this task may name.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Task::Pubmedqa => &["question", "context"],
            Task::Biosses => &["text_1", "text_2"],
        }
    }
}

fn default_delimiter() -> String {
    " ".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub task: Task,
    pub name: String,
    pub reference: String,
    pub prompt: String,
    pub answer_choices: String,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub scores: Vec<f64>,
    #[serde(default = "default_delimiter")]
    pub target_delimiter: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    template: Vec<Template>,
}

impl Template {
    /// The answer choices (`"a ||| b"` → `["a", "b"]`, as promptsource splits them).
    pub fn choices(&self) -> Vec<String> {
        self.answer_choices
            .split("|||")
            .map(|c| c.trim().to_string())
            .collect()
    }

    /// Fills `{{field}}` placeholders; an unknown or unclosed placeholder is an error.
    pub fn render(&self, field: &dyn Fn(&str) -> Option<String>) -> Result<String> {
        let mut out = String::new();
        let mut rest = self.prompt.as_str();
        while let Some(i) = rest.find("{{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(j) = after.find("}}") else {
                bail!("template `{}`: unclosed `{{{{`", self.name);
            };
            let key = after[..j].trim();
            let v = field(key).with_context(|| {
                format!(
                    "template `{}`: unknown field `{key}` (known: {})",
                    self.name,
                    self.task.fields().join(", ")
                )
            })?;
            out.push_str(&v);
            rest = &after[j + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Parses and checks a template file: unique names, known fields, one label (PubMedQA) or score
/// (BIOSSES) per choice.
pub fn parse_templates(text: &str, source: &str) -> Result<Vec<Template>> {
    let file: TemplateFile = toml::from_str(text).with_context(|| format!("parsing {source}"))?;
    let mut names = BTreeSet::new();
    for t in &file.template {
        let ctx = || format!("{source}: template `{}`", t.name);
        if !names.insert((t.task, t.name.clone())) {
            bail!("{}: name used twice", ctx());
        }
        let n = t.choices().len();
        if n < 2 || t.choices().iter().any(String::is_empty) {
            bail!("{}: needs at least two non-empty answer choices", ctx());
        }
        match t.task {
            Task::Pubmedqa => {
                if t.labels.len() != n
                    || t.labels
                        .iter()
                        .any(|l| !["yes", "no", "maybe"].contains(&l.as_str()))
                {
                    bail!(
                        "{}: `labels` must give yes/no/maybe for each of the {n} choices",
                        ctx()
                    );
                }
            }
            Task::Biosses => {
                if t.scores.len() != n {
                    bail!("{}: `scores` must give one score per choice ({n})", ctx());
                }
            }
        }
        let known = t.task.fields();
        t.render(&|k| known.contains(&k).then(String::new))
            .with_context(ctx)?;
    }
    Ok(file.template)
}

/// One multiple-choice request: a prompt and its continuations (delimiter included).
#[derive(Debug, Clone)]
pub struct McItem {
    pub prompt: String,
    pub continuations: Vec<String>,
}

/// lm-eval-harness `_encode_pair`: trailing spaces of the context belong to the continuation.
pub fn encode_pair(
    encode: &dyn Fn(&str) -> Result<Vec<u32>>,
    context: &str,
    continuation: &str,
) -> Result<(Vec<u32>, Vec<u32>)> {
    let trimmed = context.trim_end_matches(' ');
    let ctx = encode(trimmed)?;
    let cont = continuation_tokens(encode, context, &ctx, continuation)?;
    Ok((ctx, cont))
}

/// The continuation half of [`encode_pair`], given `ctx = encode(context.trim_end())` (computed
/// once per prompt, not once per choice).
fn continuation_tokens(
    encode: &dyn Fn(&str) -> Result<Vec<u32>>,
    context: &str,
    ctx: &[u32],
    continuation: &str,
) -> Result<Vec<u32>> {
    let trimmed = context.trim_end_matches(' ');
    let continuation = format!("{}{continuation}", &context[trimmed.len()..]);
    let whole = encode(&format!("{trimmed}{continuation}"))?;
    let cont = whole.get(ctx.len()..).unwrap_or(&[]).to_vec();
    if cont.is_empty() {
        bail!("continuation {continuation:?} encodes to no tokens after its context");
    }
    Ok(cont)
}

/// Summed log-likelihood of every continuation of every item (`[item][choice]`). Contexts longer
/// than the model's window are cut from the left, as lm-eval does.
pub fn loglikelihoods(
    lm: &mut dyn TokenLm,
    encode: &dyn Fn(&str) -> Result<Vec<u32>>,
    items: &[McItem],
) -> Result<Vec<Vec<f64>>> {
    let window = lm.max_context();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut batch = Vec::with_capacity(item.continuations.len());
        let prompt_ids = encode(item.prompt.trim_end_matches(' '))?;
        for c in &item.continuations {
            let cont = continuation_tokens(encode, &item.prompt, &prompt_ids, c)?;
            let mut ctx = prompt_ids.clone();
            if ctx.len() + cont.len() > window {
                let keep = window.saturating_sub(cont.len());
                ctx.drain(..ctx.len() - keep);
            }
            batch.push(ScoreRequest {
                context: ctx,
                continuation: cont,
            });
        }
        let scored = lm.score(&batch)?;
        if scored.len() != batch.len() {
            bail!(
                "model {} returned {} results for {} requests",
                lm.name(),
                scored.len(),
                batch.len()
            );
        }
        let lls: Vec<f64> = scored
            .iter()
            .map(|r| r.logprobs.iter().sum::<f64>())
            .collect();
        if lls.iter().any(|x| x.is_nan()) {
            bail!("model {} returned a NaN log-likelihood", lm.name());
        }
        out.push(lls);
    }
    Ok(out)
}

/// Index of the first maximum (`numpy.argmax`).
pub fn argmax(xs: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best
}

/// `Σ softmax(lls)_k · scores_k`.
pub fn expected_score(lls: &[f64], scores: &[f64]) -> f64 {
    let m = lls.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = lls.iter().map(|l| (l - m).exp()).collect();
    let z: f64 = w.iter().sum();
    w.iter().zip(scores).map(|(a, s)| a / z * s).sum()
}

/// A PubMedQA item: question, context, gold label.
#[derive(Debug, Clone)]
pub struct QaItem {
    pub question: String,
    pub context: String,
    pub label: String,
}

/// A BIOSSES item: the two sentences and the gold (mean annotator) score.
#[derive(Debug, Clone)]
pub struct PairItem {
    pub text_1: String,
    pub text_2: String,
    pub gold: f64,
}

pub fn render_qa(t: &Template, it: &QaItem) -> Result<String> {
    t.render(&|k| match k {
        "question" => Some(it.question.clone()),
        "context" => Some(it.context.clone()),
        _ => None,
    })
}

pub fn render_pair(t: &Template, it: &PairItem) -> Result<String> {
    t.render(&|k| match k {
        "text_1" => Some(it.text_1.clone()),
        "text_2" => Some(it.text_2.clone()),
        _ => None,
    })
}

fn mc_items(t: &Template, prompts: Vec<String>) -> Vec<McItem> {
    let conts: Vec<String> = t
        .choices()
        .iter()
        .map(|c| format!("{}{c}", t.target_delimiter))
        .collect();
    prompts
        .into_iter()
        .map(|prompt| McItem {
            prompt,
            continuations: conts.clone(),
        })
        .collect()
}

/// PubMedQA predictions (labels) of one template by log-likelihood.
pub fn predict_qa_lm(
    lm: &mut dyn TokenLm,
    encode: &dyn Fn(&str) -> Result<Vec<u32>>,
    t: &Template,
    items: &[QaItem],
) -> Result<Vec<String>> {
    let prompts = items
        .iter()
        .map(|it| render_qa(t, it))
        .collect::<Result<Vec<_>>>()?;
    let lls = loglikelihoods(lm, encode, &mc_items(t, prompts))?;
    Ok(lls.iter().map(|l| t.labels[argmax(l)].clone()).collect())
}

/// BIOSSES predictions (expected scores) of one template by log-likelihood.
pub fn predict_pairs_lm(
    lm: &mut dyn TokenLm,
    encode: &dyn Fn(&str) -> Result<Vec<u32>>,
    t: &Template,
    items: &[PairItem],
) -> Result<Vec<f64>> {
    let prompts = items
        .iter()
        .map(|it| render_pair(t, it))
        .collect::<Result<Vec<_>>>()?;
    let lls = loglikelihoods(lm, encode, &mc_items(t, prompts))?;
    Ok(lls.iter().map(|l| expected_score(l, &t.scores)).collect())
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The label of the earliest answer choice in `reply` (case-insensitive, whole word).
pub fn parse_choice(reply: &str, t: &Template) -> Option<String> {
    let lower = reply.to_lowercase();
    let mut best: Option<(usize, usize)> = None;
    for (i, c) in t.choices().iter().enumerate() {
        let c = c.to_lowercase();
        let mut from = 0;
        while let Some(p) = lower[from..].find(&c) {
            let s = from + p;
            let e = s + c.len();
            let before = lower[..s]
                .chars()
                .next_back()
                .is_none_or(|x| !is_word_char(x));
            let after = lower[e..].chars().next().is_none_or(|x| !is_word_char(x));
            if before && after {
                if best.is_none_or(|b| s < b.0) {
                    best = Some((s, i));
                }
                break;
            }
            from = s + c.len().max(1);
        }
    }
    best.map(|(_, i)| t.labels[i].clone())
}

/// The first number in `reply` if it lies on the 0-4 scale.
pub fn parse_score(reply: &str) -> Option<f64> {
    let bytes = reply.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let mut j = i;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
                j += 1;
            }
            let num = reply[i..j].trim_end_matches('.');
            return num.parse::<f64>().ok().filter(|x| (0.0..=4.0).contains(x));
        }
        i += 1;
    }
    None
}

/// Replies of a [`TextGenerator`] and what was parsed from them.
#[derive(Debug, Clone, Serialize)]
pub struct Generated<T> {
    pub replies: Vec<String>,
    pub predictions: Vec<T>,
    pub unparsed: usize,
}

/// PubMedQA through a text generator.
pub fn predict_qa_gen(
    gen: &mut dyn TextGenerator,
    params: &GenerationParams,
    t: &Template,
    items: &[QaItem],
) -> Result<Generated<String>> {
    let prompts = items
        .iter()
        .map(|it| render_qa(t, it))
        .collect::<Result<Vec<_>>>()?;
    let replies = gen.generate(&prompts, params)?;
    if replies.len() != prompts.len() {
        bail!("{} replies for {} prompts", replies.len(), prompts.len());
    }
    let parsed: Vec<Option<String>> = replies.iter().map(|r| parse_choice(r, t)).collect();
    Ok(Generated {
        unparsed: parsed.iter().filter(|p| p.is_none()).count(),
        predictions: parsed
            .into_iter()
            .map(|p| p.unwrap_or_else(|| UNPARSED.to_string()))
            .collect(),
        replies,
    })
}

/// BIOSSES through a text generator.
pub fn predict_pairs_gen(
    gen: &mut dyn TextGenerator,
    params: &GenerationParams,
    t: &Template,
    items: &[PairItem],
) -> Result<Generated<f64>> {
    let prompts = items
        .iter()
        .map(|it| render_pair(t, it))
        .collect::<Result<Vec<_>>>()?;
    let replies = gen.generate(&prompts, params)?;
    if replies.len() != prompts.len() {
        bail!("{} replies for {} prompts", replies.len(), prompts.len());
    }
    let parsed: Vec<Option<f64>> = replies.iter().map(|r| parse_score(r)).collect();
    Ok(Generated {
        unparsed: parsed.iter().filter(|p| p.is_none()).count(),
        predictions: parsed.into_iter().map(|p| p.unwrap_or(2.0)).collect(),
        replies,
    })
}

/// One row of the zero-shot table: a template (or the median over templates) and its metrics.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub task: Task,
    /// Template name, or `median` for the median over the task's templates.
    pub template: String,
    pub n: usize,
    /// Distinct predictions of the template (`None` for the median row): 1 means the model gave
    /// every item the same answer (an n-gram model does whenever the prompt ends in fixed text).
    pub distinct: Option<usize>,
    /// (metric name, estimate with CI).
    pub metrics: Vec<(String, Estimate)>,
}

fn subset<T: Clone>(xs: &[T], idx: &[usize]) -> Vec<T> {
    idx.iter().map(|&i| xs[i].clone()).collect()
}

/// Accuracy and macro-F1 per template and their medians over templates, each with a bootstrap
/// interval (the same item resamples for every template and for the median).
pub fn qa_rows(
    truth: &[String],
    preds: &[(String, Vec<String>)],
    samples: &[Vec<usize>],
    level: f64,
) -> Vec<Row> {
    rows(
        Task::Pubmedqa,
        truth,
        preds,
        samples,
        level,
        &[("accuracy", accuracy), ("macro_f1", macro_f1)],
    )
}

/// Pearson and Spearman per template and their medians over templates.
pub fn pair_rows(
    gold: &[f64],
    preds: &[(String, Vec<f64>)],
    samples: &[Vec<usize>],
    level: f64,
) -> Vec<Row> {
    rows(
        Task::Biosses,
        gold,
        preds,
        samples,
        level,
        &[("pearson", pearson), ("spearman", spearman)],
    )
}

/// Counting distinct predictions (labels, or scores by their exact bits).
pub trait Distinct: Sized {
    fn distinct(xs: &[Self]) -> usize;
}

impl Distinct for String {
    fn distinct(xs: &[Self]) -> usize {
        xs.iter().collect::<BTreeSet<_>>().len()
    }
}

impl Distinct for f64 {
    fn distinct(xs: &[Self]) -> usize {
        xs.iter()
            .map(|x| x.to_bits())
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// A metric over (truth, predictions); an error (e.g. a constant input) scores NaN, as SciPy does.
type Metric<T> = fn(&[T], &[T]) -> Result<f64>;

fn rows<T: Clone + Distinct>(
    task: Task,
    truth: &[T],
    preds: &[(String, Vec<T>)],
    samples: &[Vec<usize>],
    level: f64,
    metrics: &[(&str, Metric<T>)],
) -> Vec<Row> {
    let n = truth.len();
    let mut out: Vec<Row> = preds
        .iter()
        .map(|(name, p)| Row {
            task,
            template: name.clone(),
            n,
            distinct: Some(T::distinct(p)),
            metrics: metrics
                .iter()
                .map(|(m, f)| {
                    let e = bootstrap(samples, n, level, |idx| {
                        f(&subset(truth, idx), &subset(p, idx)).unwrap_or(f64::NAN)
                    });
                    (m.to_string(), e)
                })
                .collect(),
        })
        .collect();
    out.push(Row {
        task,
        template: "median".into(),
        n,
        distinct: None,
        metrics: metrics
            .iter()
            .map(|(m, f)| {
                let e = bootstrap(samples, n, level, |idx| {
                    let t = subset(truth, idx);
                    let per: Vec<f64> = preds
                        .iter()
                        .map(|(_, p)| f(&t, &subset(p, idx)).unwrap_or(f64::NAN))
                        .collect();
                    if per.iter().any(|x| x.is_nan()) {
                        f64::NAN
                    } else {
                        median(&per)
                    }
                });
                (m.to_string(), e)
            })
            .collect(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> Vec<Template> {
        parse_templates(PROMPTS_TOML, "prompts.toml").unwrap()
    }

    #[test]
    fn committed_templates_parse_and_cover_both_tasks() {
        let t = templates();
        let n = |task| t.iter().filter(|x| x.task == task).count();
        assert!(n(Task::Pubmedqa) >= 3 && n(Task::Biosses) >= 3);
    }

    #[test]
    fn bad_templates_are_rejected() {
        let unknown = "[[template]]\ntask='pubmedqa'\nname='x'\nreference=''\nprompt='{{abstract}}'\nanswer_choices='yes ||| no'\nlabels=['yes','no']\n";
        let e = format!("{:#}", parse_templates(unknown, "p.toml").unwrap_err());
        assert!(e.contains("unknown field `abstract`"), "{e}");
        let labels = "[[template]]\ntask='pubmedqa'\nname='x'\nreference=''\nprompt='{{question}}'\nanswer_choices='yes ||| no'\nlabels=['yes']\n";
        assert!(parse_templates(labels, "p.toml").is_err());
        let scores = "[[template]]\ntask='biosses'\nname='x'\nreference=''\nprompt='{{text_1}}'\nanswer_choices='0 ||| 1'\nscores=[0.0]\n";
        assert!(parse_templates(scores, "p.toml").is_err());
    }

    #[test]
    fn encode_pair_moves_trailing_spaces() {
        // A toy byte-level encoder: one token per byte.
        let enc = |s: &str| -> Result<Vec<u32>> { Ok(s.bytes().map(u32::from).collect()) };
        let (c, k) = encode_pair(&enc, "Answer: ", "yes").unwrap();
        assert_eq!(c, b"Answer:".iter().map(|&b| b as u32).collect::<Vec<_>>());
        assert_eq!(k, b" yes".iter().map(|&b| b as u32).collect::<Vec<_>>());
    }

    #[test]
    fn replies_are_parsed() {
        let t = &templates()[0];
        assert_eq!(parse_choice("Maybe, but yes", t).as_deref(), Some("maybe"));
        assert_eq!(parse_choice("The answer: NO.", t).as_deref(), Some("no"));
        assert_eq!(parse_choice("yesterday nobody knew", t), None);
        assert_eq!(parse_score("Score: 3.5 out of 4"), Some(3.5));
        assert_eq!(parse_score("I'd say 3."), Some(3.0));
        assert_eq!(parse_score("7"), None);
        assert_eq!(parse_score("none"), None);
    }

    #[test]
    fn expected_score_weights_by_likelihood() {
        let s = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert!((expected_score(&[0.0; 5], &s) - 2.0).abs() < 1e-12);
        assert!((expected_score(&[-1e9, -1e9, -1e9, -1e9, 0.0], &s) - 4.0).abs() < 1e-9);
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
    }
}
