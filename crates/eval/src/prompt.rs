//! Prompt construction exactly as llm-foundry v0.9.0
//! (`llmfoundry/eval/datasets/in_context_learning_evaluation.py`):
//!
//! - few-shot examples: `get_fewshot_sample_idxs` with one `random.Random(seed)` per dataset
//!   partition, consumed in item order ([`crate::fewshot`]);
//! - `construct_context`: `prelimiter + context`, preceded by `example_delimiter` when any text
//!   precedes it, followed by `continuation_delimiter`, plus the answer for few-shot examples
//!   (no prefix space in context; MC answer = `choices[gold]`; generation answer =
//!   `chain_of_thought + cot_delimiter + answer` when the dataset has a `chain_of_thought` column);
//! - the test context is `rstrip`ped (MC, LM, generation); schema contexts are built by
//!   `_construct_multiple_contexts` (`prelimiter + example_delimiter + option +
//!   continuation_delimiter.rstrip()` after few-shot text, `prelimiter + option` otherwise: the
//!   delimiter is dropped at 0-shot, an upstream quirk kept here);
//! - continuations get a leading space when the tokenizer "needs a prefix space" (GPT-NeoX does:
//!   `' a'` is one token) and do not already start with one.

use crate::data::{Item, Partition};
use crate::fewshot::fewshot_sample_idxs;
use crate::tasks::{TaskSpec, TaskType};
use lmrepro_pycompat::unicode::rstrip;
use lmrepro_pycompat::PyRandom;

/// What the model is asked about one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// Index of the item in its partition.
    pub index: usize,
    /// Few-shot example indices in prompt order.
    pub fewshot: Vec<usize>,
    /// `prompt_string` + few-shot examples (tokenized separately from the contexts).
    pub preamble: String,
    pub body: PromptBody,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PromptBody {
    /// One (context, continuation) pair per option; the lowest mean loss wins (MC and schema).
    Choices {
        pairs: Vec<(String, String)>,
        gold: usize,
    },
    /// Greedy decoding must reproduce `continuation` token for token.
    Lm {
        context: String,
        continuation: String,
    },
    /// Free generation compared against `aliases`.
    Generate {
        context: String,
        aliases: Vec<String>,
    },
}

/// Settings that do not come from the task spec.
#[derive(Debug, Clone, Copy)]
pub struct PromptOptions {
    /// `tokenizer_needs_prefix_space(tokenizer)`.
    pub prefix_space: bool,
}

fn with_prefix_space(s: &str, prefix_space: bool) -> String {
    if prefix_space && !s.starts_with(' ') {
        format!(" {s}")
    } else {
        s.to_string()
    }
}

/// The answer text of a few-shot example (`get_answer_from_example(in_context=True)`).
fn fewshot_answer(item: &Item, cot_delimiter: &str, has_cot: bool) -> String {
    match item {
        Item::MultipleChoice { choices, gold, .. } => choices[*gold].clone(),
        Item::Schema { .. } => unreachable!("schema few-shot examples are built separately"),
        Item::LanguageModeling { continuation, .. } => continuation.clone(),
        Item::Generation {
            answer,
            chain_of_thought,
            ..
        } => {
            if has_cot {
                format!("{chain_of_thought}{cot_delimiter}{answer}")
            } else {
                answer.clone()
            }
        }
    }
}

fn item_context(item: &Item) -> &str {
    match item {
        Item::MultipleChoice { query, .. } => query,
        Item::LanguageModeling { context, .. } | Item::Generation { context, .. } => context,
        Item::Schema { .. } => unreachable!(),
    }
}

/// `construct_context(example, preceding_text, add_answer)` of the base / schema datasets.
fn construct_context(
    spec: &TaskSpec,
    part: &Partition,
    item: &Item,
    preceding: &str,
    add_answer: bool,
) -> String {
    if let Item::Schema {
        context_options,
        continuation,
        gold,
    } = item
    {
        let mut context = context_options[*gold].clone();
        if !preceding.is_empty() {
            context = format!("{}{context}", spec.example_delimiter);
        }
        return format!(
            "{}{context}{}{continuation}",
            spec.question_prelimiter, spec.continuation_delimiter
        );
    }
    let mut ctxt = format!("{}{}", spec.question_prelimiter, item_context(item));
    if !preceding.is_empty() {
        ctxt = format!("{}{ctxt}", spec.example_delimiter);
    }
    ctxt.push_str(&spec.continuation_delimiter);
    if add_answer {
        ctxt.push_str(&fewshot_answer(item, &spec.cot_delimiter, part.has_cot));
    }
    ctxt
}

/// Few-shot indices (in prompt order) of the first `upto` items of a partition of `n` items:
/// one `random.Random(seed)` consumed item by item, as llm-foundry's `dataset.map` does.
pub fn fewshot_plan(spec: &TaskSpec, n: usize, upto: usize) -> Vec<Vec<usize>> {
    let mut rng = PyRandom::new(spec.fewshot_random_seed);
    (0..upto.min(n))
        .map(|idx| {
            if spec.num_fewshot > 0 {
                fewshot_sample_idxs(n, spec.num_fewshot, idx, &mut rng)
            } else {
                Vec::new()
            }
        })
        .collect()
}

/// Builds the prompts of the first `limit` items of a partition (all when `None`). The RNG is
/// advanced through the same items in the same order as llm-foundry, so item `i` gets the same
/// few-shot examples whatever the limit.
pub fn build_prompts(
    spec: &TaskSpec,
    part: &Partition,
    opts: PromptOptions,
    limit: Option<usize>,
) -> Vec<Prompt> {
    let n = part.items.len();
    let plan = fewshot_plan(spec, n, limit.map_or(n, |l| l.min(n)));
    plan.into_iter()
        .enumerate()
        .map(|(idx, fewshot)| build_prompt(spec, part, opts, idx, fewshot))
        .collect()
}

/// The prompt of item `idx` given its few-shot examples.
pub fn build_prompt(
    spec: &TaskSpec,
    part: &Partition,
    opts: PromptOptions,
    idx: usize,
    fewshot: Vec<usize>,
) -> Prompt {
    let item = &part.items[idx];
    let mut preamble = spec.prompt_string.clone();
    for &f in &fewshot {
        let c = construct_context(spec, part, &part.items[f], &preamble, true);
        preamble.push_str(&c);
    }
    let body = match (spec.task_type, item) {
        (TaskType::MultipleChoice, Item::MultipleChoice { choices, gold, .. }) => {
            let ctxt = construct_context(spec, part, item, &preamble, false);
            let ctxt = rstrip(&ctxt).to_string();
            PromptBody::Choices {
                pairs: choices
                    .iter()
                    .map(|c| (ctxt.clone(), with_prefix_space(c, opts.prefix_space)))
                    .collect(),
                gold: *gold,
            }
        }
        (
            TaskType::Schema,
            Item::Schema {
                context_options,
                continuation,
                gold,
            },
        ) => {
            let cont = with_prefix_space(continuation, opts.prefix_space);
            let contexts: Vec<String> = if !preamble.is_empty() {
                let cont_del = rstrip(&spec.continuation_delimiter);
                context_options
                    .iter()
                    .map(|c| {
                        format!(
                            "{}{}{c}{cont_del}",
                            spec.question_prelimiter, spec.example_delimiter
                        )
                    })
                    .collect()
            } else {
                context_options
                    .iter()
                    .map(|c| format!("{}{c}", spec.question_prelimiter))
                    .collect()
            };
            PromptBody::Choices {
                pairs: contexts.into_iter().map(|c| (c, cont.clone())).collect(),
                gold: *gold,
            }
        }
        (TaskType::LanguageModeling, Item::LanguageModeling { continuation, .. }) => {
            let ctxt = construct_context(spec, part, item, &preamble, false);
            PromptBody::Lm {
                context: rstrip(&ctxt).to_string(),
                continuation: with_prefix_space(continuation, opts.prefix_space),
            }
        }
        (TaskType::GenerationTaskWithAnswers, Item::Generation { aliases, .. }) => {
            let ctxt = construct_context(spec, part, item, &preamble, false);
            PromptBody::Generate {
                context: rstrip(&ctxt).to_string(),
                aliases: aliases.clone(),
            }
        }
        _ => unreachable!("items are parsed by task type"),
    };
    Prompt {
        index: idx,
        fewshot,
        preamble,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::Registry;

    fn spec(yaml_task: &str) -> TaskSpec {
        Registry::parse(&format!("icl_tasks:\n{yaml_task}"))
            .unwrap()
            .tasks
            .remove(0)
    }

    #[test]
    fn zero_shot_mc_prompt() {
        let s = spec("- label: t\n  dataset_uri: x\n  num_fewshot: [0]\n  icl_task_type: multiple_choice\n  continuation_delimiter: \"\\nAnswer: \"\n");
        let part = Partition {
            category: None,
            items: vec![Item::MultipleChoice {
                query: "Q?".into(),
                choices: vec!["yes".into(), " no".into()],
                gold: 1,
            }],
            lines: vec![1],
            has_cot: false,
            raw_answers: vec![Default::default()],
        };
        let p = build_prompts(&s, &part, PromptOptions { prefix_space: true }, None);
        assert_eq!(p[0].preamble, "");
        assert_eq!(
            p[0].body,
            PromptBody::Choices {
                pairs: vec![
                    ("Q?\nAnswer:".into(), " yes".into()),
                    ("Q?\nAnswer:".into(), " no".into())
                ],
                gold: 1
            }
        );
    }
}
