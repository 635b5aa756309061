//! Building models from `--model` specs.
//!
//! `ngram:order=3,wiki=2000,gutenberg=0`: the reference n-gram LM trained on the first `wiki`
//! Wikipedia vital-article summaries (title order) and the first `gutenberg` books of the
//! Gutenberg sample, tokenized with GPT-NeoX (each document one token stream).

use crate::ngram::NgramLm;
use crate::tokenizer::Tok;
use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_lm::TokenLm;
use lmrepro_stage::{DocReader, OnMalformed};

pub const WIKI_INPUT: &str = "corpus/wikipedia_vital_summaries_en-us.json";
pub const GUTENBERG_INPUT: &str = "corpus/gutenberg_sample.jsonl.zst";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NgramSpec {
    pub order: usize,
    pub wiki: usize,
    pub gutenberg: usize,
}

impl NgramSpec {
    /// Parses the part after `ngram:` (`key=value` pairs; defaults order=3, wiki=10033, gutenberg=0).
    pub fn parse(s: &str) -> Result<NgramSpec> {
        let mut spec = NgramSpec {
            order: 3,
            wiki: 10_033,
            gutenberg: 0,
        };
        for kv in s.split(',').filter(|x| !x.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("n-gram option `{kv}` is not key=value"))?;
            let v: usize = v
                .parse()
                .with_context(|| format!("n-gram option `{k}`: `{v}` is not a number"))?;
            match k {
                "order" => spec.order = v,
                "wiki" => spec.wiki = v,
                "gutenberg" => spec.gutenberg = v,
                _ => bail!("unknown n-gram option `{k}` (known: order, wiki, gutenberg)"),
            }
        }
        Ok(spec)
    }

    pub fn name(&self) -> String {
        format!(
            "ngram:order={},wiki={},gutenberg={}",
            self.order, self.wiki, self.gutenberg
        )
    }
}

/// The training documents of an n-gram spec, as text.
pub fn corpus_docs(spec: &NgramSpec, recipe: &Recipe, resolver: &Resolver) -> Result<Vec<String>> {
    let mut docs = Vec::new();
    if spec.wiki > 0 {
        let path = recipe.resolve(resolver, WIKI_INPUT)?;
        let text = std::fs::read_to_string(&path)?;
        let v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        // Title order, whatever map type serde_json was built with.
        let mut titles: Vec<(&String, &serde_json::Value)> = v.iter().collect();
        titles.sort_by(|a, b| a.0.cmp(b.0));
        for (title, art) in titles.into_iter().take(spec.wiki) {
            let extract = art
                .get("extract")
                .and_then(|e| e.as_str())
                .with_context(|| format!("{}: article `{title}` has no extract", path.display()))?;
            docs.push(extract.to_string());
        }
    }
    if spec.gutenberg > 0 {
        let path = recipe.resolve(resolver, GUTENBERG_INPUT)?;
        for doc in DocReader::open(&path, OnMalformed::Error)?.take(spec.gutenberg) {
            docs.push(lmrepro_stage::text(&doc?.1).to_string());
        }
    }
    if docs.is_empty() {
        bail!("n-gram spec {} selects no training documents", spec.name());
    }
    Ok(docs)
}

/// Trains the reference n-gram model.
pub fn train_ngram(
    spec: &NgramSpec,
    tok: &Tok,
    recipe: &Recipe,
    resolver: &Resolver,
) -> Result<NgramLm> {
    let docs = corpus_docs(spec, recipe, resolver)?;
    let ids: Vec<Vec<u32>> = docs.iter().map(|d| tok.encode(d)).collect::<Result<_>>()?;
    NgramLm::train(spec.name(), spec.order, tok.vocab_size(), &ids)
}

/// Builds a model from a `--model` argument.
pub fn build_model(
    arg: &str,
    tok: &Tok,
    recipe: &Recipe,
    resolver: &Resolver,
) -> Result<Box<dyn TokenLm>> {
    if let Some(rest) = arg
        .strip_prefix("ngram:")
        .or_else(|| (arg == "ngram").then_some(""))
    {
        let spec = NgramSpec::parse(rest)?;
        return Ok(Box::new(train_ngram(&spec, tok, recipe, resolver)?));
    }
    bail!(
        "unsupported model `{arg}`: give a checkpoint directory (of `lmrepro train` or the \
         dclm-baseline recipe) that exists, or `ngram:order=N,wiki=N,gutenberg=N`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parsing() {
        let s = NgramSpec::parse("order=2,wiki=10").unwrap();
        assert_eq!(
            s,
            NgramSpec {
                order: 2,
                wiki: 10,
                gutenberg: 0
            }
        );
        assert_eq!(s.name(), "ngram:order=2,wiki=10,gutenberg=0");
        assert!(NgramSpec::parse("size=3").is_err());
        assert!(NgramSpec::parse("order=x").is_err());
    }
}
