//! BigBIO track (Fries et al. 2022, bigscience-workshop/biomedical).
//!
//! - [`schema`]: the six harmonised schemas (kb, qa, te, pairs, t2t, text) as serde types, their
//!   field layouts as data, the task → schema map and the `<BB_NULL_STR>` convention.
//! - [`validate`], [`reader`]: checks beyond types (offsets, texts at offsets, unique ids,
//!   dangling references, QA answers among the choices) and a JSONL reader that reports every
//!   violation with line, record id and field.
//! - [`loaders`]: script-free PubMedQA (PQA-L → `qa`) and BIOSSES (TSV → `pairs`) loaders with the
//!   hub scripts' semantics.
//! - [`catalog`]: counts over the 144-dataset metadata file (`results/bigbio/catalog.json`).
//! - [`metrics`]: accuracy, macro-F1 (scikit-learn), Pearson / Spearman (SciPy), bootstrap CIs.
//! - [`zeroshot`]: promptsource-style templates scored through `TokenLm` (log-likelihood) or
//!   `TextGenerator` (e.g. the OpenAI-compatible HTTP client).
//! - [`reproduce()`] / [`BigbioReproducer`]: recipe kind `bigbio`; [`cli`]: `lmrepro bigbio ...`.

pub mod catalog;
pub mod cli;
pub mod loaders;
pub mod metrics;
pub mod reader;
pub mod reproduce;
pub mod schema;
pub mod validate;
pub mod zeroshot;

pub use reproduce::reproduce;

lmrepro_report::single_scale_reproducer! {
    /// Recipe kind `bigbio`: catalogue, schema and loader checks, PubMedQA reference rows,
    /// zero-shot PubMedQA / BIOSSES with the n-gram reference model.
    pub struct BigbioReproducer("bigbio") => reproduce
}
