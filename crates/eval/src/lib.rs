//! llm-foundry ICL evaluation.
pub mod aggregate;
pub mod data;
pub mod fewshot;
pub mod ngram;
pub mod prompt;
pub mod reproduce;
pub mod score;
pub mod tasks;
pub mod tokenizer;
pub use reproduce::{reproduce, EvalAggregationReproducer};
pub mod cli;
pub mod models;
pub mod suite;
