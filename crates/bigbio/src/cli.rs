//! `lmrepro bigbio ...`: validate BigBIO JSONL files; run the zero-shot templates against a model
//! (the n-gram reference model, or any OpenAI-compatible endpoint through the AIW track's client).

use crate::reader::read_jsonl;
use crate::reproduce::{biosses_items, BIOSSES_TSV, PQAL, PQAL_TRUTH, TOKENIZER};
use crate::schema::Schema;
use crate::zeroshot::{
    pair_rows, parse_templates, predict_pairs_gen, predict_pairs_lm, predict_qa_gen, predict_qa_lm,
    qa_rows, PairItem, QaItem, Row, Task, PROMPTS_TOML,
};
use anyhow::{bail, Result};
use lmrepro_aiw::client::{ClientConfig, OpenAiClient};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_eval::cli::ExternalModel;
use lmrepro_lm::{GenerationParams, TokenLm};
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check BigBIO-schema JSONL files; prints every violation (line, record id, field) and fails
    /// if there is one.
    Validate {
        /// kb, qa, te, pairs, t2t or text.
        #[arg(long)]
        schema: String,
        files: Vec<PathBuf>,
    },
    /// Export a mirrored dataset in its BigBIO schema with the script-free loader (JSONL, one
    /// example per line, validated before it is written).
    Load {
        /// pubmedqa (PQA-L → qa; splits: test = the official 500, all = the 1,000 items) or
        /// biosses (TSV → pairs; splits: train, validation, test, all).
        dataset: String,
        #[arg(long, default_value = "test")]
        split: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Zero-shot PubMedQA / BIOSSES with the committed templates; prints per-template and median
    /// scores with bootstrap intervals.
    Zeroshot {
        /// `ngram:order=3,wiki=2000`, a checkpoint directory (of `lmrepro train` or the
        /// dclm-baseline recipe; GPT-NeoX ids), or `openai:MODEL` (endpoint from AIW_API_BASE /
        /// OPENAI_BASE_URL, key from AIW_API_KEY / OPENAI_API_KEY).
        #[arg(long)]
        model: String,
        /// pubmedqa or biosses.
        #[arg(long)]
        task: String,
        /// Score N items evenly spaced over the split (0 = all); not the first N, because the
        /// PubMedQA test file is grouped by label (276 yes, then 169 no, then 55 maybe).
        #[arg(long, default_value_t = 0)]
        limit: usize,
        /// BIOSSES split: train, validation, test or all.
        #[arg(long, default_value = "test")]
        split: String,
        #[arg(long, default_value_t = 1000)]
        resamples: usize,
        #[arg(long, default_value_t = 1234)]
        seed: u64,
        /// Max new tokens of a generated reply (HTTP models).
        #[arg(long, default_value_t = 16)]
        max_tokens: usize,
    },
}

/// Runs a subcommand; token-level models are the n-gram (`ngram:...`) or whatever `external`
/// builds (the binary passes trained checkpoints, as `lmrepro eval` does).
pub fn run(cmd: Command) -> Result<()> {
    run_with(cmd, &|_| None)
}

pub fn run_with(cmd: Command, external: ExternalModel) -> Result<()> {
    match cmd {
        Command::Validate { schema, files } => {
            let Some(schema) = Schema::parse(&schema) else {
                bail!("unknown schema `{schema}` (kb, qa, te, pairs, t2t, text)");
            };
            let mut bad = 0;
            for f in &files {
                let loaded = read_jsonl(f, schema)?;
                for v in &loaded.violations {
                    println!("{}:{v}", f.display());
                }
                println!(
                    "{}: {} records, {} violations",
                    f.display(),
                    loaded.records.len(),
                    loaded.violations.len()
                );
                bad += loaded.violations.len();
            }
            if bad > 0 {
                bail!("{bad} violation(s)");
            }
            Ok(())
        }
        Command::Load {
            dataset,
            split,
            out,
        } => {
            let recipe = Recipe::load_named("bigbio")?;
            let examples = load(&recipe, &Resolver::from_env(), &dataset, &split)?;
            crate::reader::write_jsonl(&out, &examples)?;
            println!(
                "{}: {} `{dataset}` examples ({split})",
                out.display(),
                examples.len()
            );
            Ok(())
        }
        Command::Zeroshot {
            model,
            task,
            limit,
            split,
            resamples,
            seed,
            max_tokens,
        } => {
            let task = match task.as_str() {
                "pubmedqa" => Task::Pubmedqa,
                "biosses" => Task::Biosses,
                _ => bail!("unknown task `{task}` (pubmedqa, biosses)"),
            };
            let rows = zeroshot(
                &model, task, limit, &split, resamples, seed, max_tokens, external,
            )?;
            for r in rows {
                let m: Vec<String> = r
                    .metrics
                    .iter()
                    .map(|(k, e)| format!("{k} {:.3} [{:.3}, {:.3}]", e.value, e.lo, e.hi))
                    .collect();
                println!(
                    "{}\t{}\tn={}\t{}",
                    r.task.name(),
                    r.template,
                    r.n,
                    m.join("\t")
                );
            }
            Ok(())
        }
    }
}

/// The loader's BigBIO view of a mirrored dataset split, validated (ids unique, answers among
/// the choices) before it is handed out.
pub fn load(
    recipe: &Recipe,
    resolver: &Resolver,
    dataset: &str,
    split: &str,
) -> Result<Vec<crate::schema::Example>> {
    use crate::schema::Example;
    let (schema, examples): (Schema, Vec<Example>) = match dataset {
        "pubmedqa" => {
            let ori = crate::loaders::read_pqal(&recipe.resolve(resolver, PQAL)?)?;
            let items: Vec<(&str, &crate::loaders::PqalItem)> = match split {
                "all" => ori.iter().map(|(k, v)| (k.as_str(), v)).collect(),
                "test" => {
                    let truth =
                        crate::loaders::read_ground_truth(&recipe.resolve(resolver, PQAL_TRUTH)?)?;
                    crate::loaders::pqal_test_split(&ori, &truth)?
                }
                _ => bail!(
                    "pubmedqa split must be test or all (the 10 train/dev folds are not mirrored)"
                ),
            };
            let ex = items
                .iter()
                .map(|(id, it)| Example::Qa(crate::loaders::pqal_to_qa(id, it)))
                .collect();
            (Schema::Qa, ex)
        }
        "biosses" => {
            if split != "all" && !crate::loaders::BIOSSES_SPLITS.iter().any(|s| s.0 == split) {
                bail!("biosses split must be train, validation, test or all");
            }
            let rows = crate::loaders::read_biosses_tsv(&recipe.resolve(resolver, BIOSSES_TSV)?)?;
            let ex = crate::loaders::biosses_pairs(&rows)
                .into_iter()
                .filter(|(s, _)| split == "all" || *s == split)
                .map(|(_, p)| Example::Pairs(p))
                .collect();
            (Schema::Pairs, ex)
        }
        _ => bail!("unknown dataset `{dataset}` (pubmedqa, biosses)"),
    };
    let values = examples
        .iter()
        .enumerate()
        .map(|(i, e)| (i + 1, Ok(e.to_value())))
        .collect();
    crate::reader::validate_values(schema, values)
        .into_examples(&format!("{dataset} ({split})"))
        .map(|v| v.into_iter().map(|(e, _)| e).collect())
}

#[allow(clippy::too_many_arguments)]
fn zeroshot(
    model: &str,
    task: Task,
    limit: usize,
    split: &str,
    resamples: usize,
    seed: u64,
    max_tokens: usize,
    external: ExternalModel,
) -> Result<Vec<Row>> {
    let recipe = Recipe::load_named("bigbio")?;
    let resolver = Resolver::from_env();
    let templates: Vec<_> = parse_templates(PROMPTS_TOML, "prompts.toml")?
        .into_iter()
        .filter(|t| t.task == task)
        .collect();
    // Indices i·n/N for i < N: evenly spaced, deterministic.
    let pick = |n: usize| -> Vec<usize> {
        if limit == 0 || limit >= n {
            (0..n).collect()
        } else {
            (0..limit).map(|i| i * n / limit).collect()
        }
    };
    let (qa, pairs): (Vec<QaItem>, Vec<PairItem>) = match task {
        Task::Pubmedqa => {
            let ori = crate::loaders::read_pqal(&recipe.resolve(&resolver, PQAL)?)?;
            let truth = crate::loaders::read_ground_truth(&recipe.resolve(&resolver, PQAL_TRUTH)?)?;
            let test = crate::loaders::pqal_test_split(&ori, &truth)?;
            let items = pick(test.len())
                .into_iter()
                .map(|i| test[i].1)
                .map(|it| QaItem {
                    question: it.QUESTION.clone(),
                    context: it.CONTEXTS.join(" "),
                    label: it.final_decision.clone(),
                })
                .collect();
            (items, Vec::new())
        }
        Task::Biosses => {
            let rows = crate::loaders::read_biosses_tsv(&recipe.resolve(&resolver, BIOSSES_TSV)?)?;
            let all = biosses_items(&rows, split)?;
            let items = pick(all.len())
                .into_iter()
                .map(|i| all[i].clone())
                .collect();
            (Vec::new(), items)
        }
    };
    let mut qa_preds = Vec::new();
    let mut pair_preds = Vec::new();
    let token_lm: Option<Result<Box<dyn TokenLm>>> = match model.strip_prefix("ngram:") {
        Some(_) => None,
        None => external(model),
    };
    if model.starts_with("ngram:") || token_lm.is_some() {
        let tok = lmrepro_eval::tokenizer::Tok::from_file(&recipe.resolve(&resolver, TOKENIZER)?)?;
        let mut lm: Box<dyn TokenLm> = match token_lm {
            Some(m) => m?,
            None => lmrepro_eval::models::build_model(model, &tok, &recipe, &resolver)?,
        };
        let lm = lm.as_mut();
        let encode = |s: &str| tok.encode(s);
        for t in &templates {
            match task {
                Task::Pubmedqa => {
                    qa_preds.push((t.name.clone(), predict_qa_lm(lm, &encode, t, &qa)?))
                }
                Task::Biosses => {
                    pair_preds.push((t.name.clone(), predict_pairs_lm(lm, &encode, t, &pairs)?))
                }
            }
        }
    } else if let Some(name) = model.strip_prefix("openai:").filter(|m| !m.is_empty()) {
        let mut client = OpenAiClient::new(ClientConfig::from_env(name));
        let params = GenerationParams {
            max_new_tokens: max_tokens,
            temperature: 0.0,
            ..Default::default()
        };
        for t in &templates {
            match task {
                Task::Pubmedqa => {
                    let g = predict_qa_gen(&mut client, &params, t, &qa)?;
                    eprintln!("{}: {} unparsed replies", t.name, g.unparsed);
                    qa_preds.push((t.name.clone(), g.predictions));
                }
                Task::Biosses => {
                    let g = predict_pairs_gen(&mut client, &params, t, &pairs)?;
                    eprintln!("{}: {} unparsed replies", t.name, g.unparsed);
                    pair_preds.push((t.name.clone(), g.predictions));
                }
            }
        }
    } else {
        bail!(
            "unknown model `{model}`: use `ngram:...`, `openai:MODEL` or a checkpoint directory \
             (of `lmrepro train` or the dclm-baseline recipe) that exists"
        );
    }
    let samples = |n| crate::metrics::bootstrap_indices(n, resamples, seed);
    Ok(match task {
        Task::Pubmedqa => {
            let gold: Vec<String> = qa.iter().map(|i| i.label.clone()).collect();
            qa_rows(&gold, &qa_preds, &samples(gold.len()), 0.95)
        }
        Task::Biosses => {
            let gold: Vec<f64> = pairs.iter().map(|i| i.gold).collect();
            pair_rows(&gold, &pair_preds, &samples(gold.len()), 0.95)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_fails_on_a_broken_file_and_passes_a_clean_one() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.jsonl");
        let bad = dir.path().join("bad.jsonl");
        let rec = r#"{"id":"1","premise":"p","hypothesis":"h","label":"entailment"}"#;
        std::fs::write(&good, format!("{rec}\n")).unwrap();
        std::fs::write(&bad, format!("{rec}\n{rec}\n")).unwrap();
        let run_on = |f: &std::path::Path, schema: &str| {
            run(Command::Validate {
                schema: schema.into(),
                files: vec![f.to_path_buf()],
            })
        };
        run_on(&good, "te").unwrap();
        assert!(run_on(&bad, "te")
            .unwrap_err()
            .to_string()
            .contains("1 violation"));
        assert!(run_on(&good, "tee").is_err());
    }

    #[test]
    fn load_exports_clean_bigbio_files() {
        let recipe = lmrepro_data::testing::recipe("bigbio");
        let resolver = lmrepro_data::testing::resolver();
        let test = load(&recipe, &resolver, "biosses", "test").unwrap();
        assert_eq!(test.len(), 20);
        let all = load(&recipe, &resolver, "pubmedqa", "all").unwrap();
        assert_eq!(all.len(), 1000);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("biosses.jsonl");
        crate::reader::write_jsonl(&out, &test).unwrap();
        let back = crate::reader::read_clean(&out, Schema::Pairs).unwrap();
        assert_eq!(back.into_iter().map(|x| x.0).collect::<Vec<_>>(), test);
        assert!(load(&recipe, &resolver, "pubmedqa", "train").is_err());
    }
}
