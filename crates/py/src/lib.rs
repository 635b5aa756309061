//! lmrepro-py: the `lmrepro` Python package's native module (`lmrepro._lmrepro`), thin over the
//! Rust crates: every function here converts Python values, releases the GIL and calls the same
//! library function the CLI calls; nothing of the stages is re-implemented (python/lmrepro/ adds
//! only the datatrove / DCLM adapters, written in terms of this module).
//!
//! Build: the PyO3 glue is behind the `python` feature, which only maturin turns on
//! (`python/pyproject.toml`); the workspace's `cargo build / test / clippy` compile this crate
//! without it, so they never need a Python interpreter or link libpython. The option parsing below
//! is plain Rust so that those builds still check and test it.
//!
//! Invariants:
//! - every Rust error reaches Python as an exception carrying the error chain (`{:#}`), never as a
//!   crash (panics become `pyo3_runtime.PanicException`);
//! - batch functions run in parallel on rayon's pool with the GIL released, and return results
//!   in input order.

#[cfg(feature = "python")]
mod bindings;

use anyhow::{bail, Result};
use lmrepro_crawl::pipeline::PipelineArgs;
use lmrepro_curate::bff::RemoveType;
use lmrepro_extract::ExtractOptions;

/// resiliparse's `extract_plain_text` keyword arguments, in its order and with its defaults
/// (`main_content=False`); `skip_elements` is not supported (an error, not ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractKwargs {
    pub preserve_formatting: bool,
    pub main_content: bool,
    pub list_bullets: bool,
    pub alt_texts: bool,
    pub links: bool,
    pub form_fields: bool,
    pub noscript: bool,
    pub comments: bool,
    pub skip_elements: Option<Vec<String>>,
}

impl ExtractKwargs {
    /// The extractor's options; resiliparse 2.0.1 has no switch for `post_meta` /
    /// `hidden_elements`, so they keep its behaviour (the [`ExtractOptions`] defaults).
    pub fn options(&self) -> Result<ExtractOptions> {
        if let Some(s) = &self.skip_elements {
            if !s.is_empty() {
                bail!(
                    "extract_plain_text: skip_elements={s:?} is not supported by lmrepro's extractor (pass None)"
                );
            }
        }
        Ok(ExtractOptions {
            preserve_formatting: self.preserve_formatting,
            main_content: self.main_content,
            list_bullets: self.list_bullets,
            alt_texts: self.alt_texts,
            links: self.links,
            form_fields: self.form_fields,
            noscript: self.noscript,
            comments: self.comments,
            ..ExtractOptions::default()
        })
    }
}

/// BFF's `remove_type` by its CLI spelling (`old-both`, `paragraph`, `document`, `naive-both`;
/// underscores accepted as in upstream's Rust flags).
pub fn remove_type(name: &str) -> Result<RemoveType> {
    use clap::ValueEnum;
    RemoveType::from_str(&name.replace('_', "-"), true).map_err(|_| {
        let names: Vec<String> = RemoveType::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
            .collect();
        anyhow::anyhow!("remove_type `{name}` is not one of {names:?}")
    })
}

/// The pipeline options of `crawl filter`, from the Python keyword arguments.
pub fn pipeline_args(
    spec: &str,
    source: Option<String>,
    dclm_root: Option<String>,
    lid_model: Option<String>,
    curated_domains: &str,
) -> Result<PipelineArgs> {
    use clap::ValueEnum;
    let curated =
        lmrepro_crawl::assets::CuratedDomains::from_str(curated_domains, true).map_err(|_| {
            anyhow::anyhow!("curated_domains `{curated_domains}` is not `empty` or `error`")
        })?;
    Ok(PipelineArgs {
        pipeline: spec.to_string(),
        source,
        dclm_root: dclm_root.map(Into::into),
        lid_model: lid_model.map(Into::into),
        curated_domains: curated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dclm_kwargs() -> ExtractKwargs {
        ExtractKwargs {
            preserve_formatting: true,
            main_content: true,
            list_bullets: true,
            alt_texts: true,
            links: false,
            form_fields: false,
            noscript: false,
            comments: true,
            skip_elements: None,
        }
    }

    #[test]
    fn dclm_call_maps_to_dclm_options() {
        assert_eq!(dclm_kwargs().options().unwrap(), ExtractOptions::dclm());
        let mut k = dclm_kwargs();
        k.skip_elements = Some(vec![]);
        assert_eq!(k.options().unwrap(), ExtractOptions::dclm());
    }

    #[test]
    fn skip_elements_is_refused_by_name() {
        let mut k = dclm_kwargs();
        k.skip_elements = Some(vec!["nav".into()]);
        let e = k.options().unwrap_err().to_string();
        assert!(e.contains("skip_elements") && e.contains("nav"), "{e}");
    }

    #[test]
    fn remove_types_parse_both_spellings() {
        assert_eq!(remove_type("old_both").unwrap(), RemoveType::OldBoth);
        assert_eq!(remove_type("naive-both").unwrap(), RemoveType::NaiveBoth);
        let e = remove_type("both").unwrap_err().to_string();
        assert!(e.contains("`both`") && e.contains("old-both"), "{e}");
    }

    #[test]
    fn pipeline_args_check_curated_domains() {
        let a = pipeline_args("x.yaml", None, None, None, "error").unwrap();
        assert_eq!(a.pipeline, "x.yaml");
        let e = pipeline_args("x", None, None, None, "none")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`none`"), "{e}");
    }
}
