//! The files DCLM's steps read (banlists, the IANA TLD list, lid.176), resolved as pinned inputs
//! of `recipes/inputs/dclm_heuristics.toml` (verified sha256), or from a DCLM checkout.

use crate::fasttext::FastText;
use anyhow::{bail, Context, Result};
use lmrepro_data::{Input, Resolver};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// The input set, embedded so the CLI works outside the checkout.
pub const INPUT_SET_TOML: &str = include_str!("../../../recipes/inputs/dclm_heuristics.toml");

/// DCLM's curated domain banlist (step 01). It lives on Hugging Face and is not in any pinned
/// source; see [`CuratedDomains`].
pub const CURATED_DOMAINS: &str =
    "baselines/mappers/banlists/refinedweb_banned_domains_curated.txt";

/// What to do when a yaml names the unavailable curated domain list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum CuratedDomains {
    /// Use an empty list, as the conformance goldens did (step 01 then never drops).
    #[default]
    Empty,
    /// Fail, as DCLM does when the file is missing.
    Error,
}

/// Parses the embedded input set.
pub fn pinned_inputs() -> Vec<Input> {
    lmrepro_data::parse_input_set(INPUT_SET_TOML).expect("embedded dclm_heuristics.toml parses")
}

/// Resolves DCLM-relative paths and the LID model.
pub struct Assets {
    resolver: Resolver,
    inputs: Vec<Input>,
    /// A DCLM checkout: its files win over pinned inputs (like running DCLM from its root).
    pub dclm_root: Option<PathBuf>,
    pub curated_domains: CuratedDomains,
    /// A fastText model to use instead of the pinned lid.176.ftz (e.g. lid.176.bin).
    pub lid_model_path: Option<PathBuf>,
    lid: OnceLock<Arc<FastText>>,
    notes: Mutex<Vec<String>>,
}

impl Assets {
    pub fn new(resolver: Resolver) -> Assets {
        Assets {
            resolver,
            inputs: pinned_inputs(),
            dclm_root: None,
            curated_domains: CuratedDomains::Empty,
            lid_model_path: None,
            lid: OnceLock::new(),
            notes: Mutex::new(Vec::new()),
        }
    }

    /// The resolver tests use (mirror at `../shared/data` by default).
    pub fn for_tests() -> Assets {
        Assets::new(lmrepro_data::testing::resolver())
    }

    /// Notes for reports (substitutions made while building steps).
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap().clone()
    }

    fn note(&self, s: String) {
        let mut n = self.notes.lock().unwrap();
        if !n.contains(&s) {
            n.push(s);
        }
    }

    /// A pinned input by name, resolved and verified.
    pub fn input_path(&self, name: &str) -> Result<PathBuf> {
        let input = self
            .inputs
            .iter()
            .find(|i| i.name == name)
            .with_context(|| {
                format!("no pinned input `{name}` in recipes/inputs/dclm_heuristics.toml")
            })?;
        Ok(self.resolver.path(input)?)
    }

    /// Reads a file the yaml names relative to the DCLM repository root.
    pub fn read_dclm_text(&self, dclm_path: &str) -> Result<String> {
        let rel = dclm_path.trim_start_matches("./");
        if let Some(root) = &self.dclm_root {
            let p = root.join(rel);
            if p.is_file() {
                return std::fs::read_to_string(&p)
                    .with_context(|| format!("reading {}", p.display()));
            }
        }
        let mirror_path = format!("dclm_assets/{rel}");
        if let Some(input) = self.inputs.iter().find(|i| i.path == mirror_path) {
            let p = self.resolver.path(input)?;
            return std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()));
        }
        if rel == CURATED_DOMAINS {
            match self.curated_domains {
                CuratedDomains::Empty => {
                    self.note(format!(
                        "{rel} is not published with DCLM (it lives on Hugging Face); an empty list stands in \
                         (--curated-domains empty), as in the conformance goldens"
                    ));
                    return Ok(String::new());
                }
                CuratedDomains::Error => bail!(
                    "{rel} is not available: DCLM keeps it on Hugging Face; pass --dclm-root with a checkout that has it, \
                     or --curated-domains empty"
                ),
            }
        }
        bail!(
            "the pipeline reads `{dclm_path}`, which is neither under --dclm-root nor a pinned input \
             (pinned: iana_tlds.txt and banlists/*.txt of mlfoundations/dclm@361714b)"
        )
    }

    /// lid.176 (loaded once, shared by all steps and threads).
    pub fn lid_model(&self) -> Result<Arc<FastText>> {
        if let Some(m) = self.lid.get() {
            return Ok(m.clone());
        }
        let path = match &self.lid_model_path {
            Some(p) => p.clone(),
            None => {
                if let Some(root) = &self.dclm_root {
                    let bin = root.join(
                        "baselines/mappers/enrichers/language_id_enrichment_models/lid.176.bin",
                    );
                    if bin.is_file() {
                        bin
                    } else {
                        self.pinned_lid()?
                    }
                } else {
                    self.pinned_lid()?
                }
            }
        };
        let m = Arc::new(FastText::load(&path)?);
        let _ = self.lid.set(m.clone());
        Ok(self.lid.get().cloned().unwrap_or(m))
    }

    fn pinned_lid(&self) -> Result<PathBuf> {
        self.note(
            "language ID uses lid.176.ftz (quantized) where DCLM names lid.176.bin; the conformance goldens were made with the .ftz too"
                .to_string(),
        );
        self.input_path("langid/lid.176.ftz")
    }
}
