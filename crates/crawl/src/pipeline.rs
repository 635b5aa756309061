//! A pipeline: DCLM's yaml schema (`- source: cc\n  steps: [- func: ..., params...]`) or the
//! built-in `dclm-baseline-refinedweb`, run page by page like DCLM's
//! `apply_partial_func_sequential`.

use crate::assets::{Assets, CuratedDomains};
use crate::page::Page;
use crate::steps::{StepKind, Verdict};
use anyhow::{bail, Context, Result};
use serde_yaml::{Mapping, Value};
use std::path::PathBuf;

/// Name of the built-in pipeline.
pub const DCLM_BASELINE_REFINEDWEB: &str = "dclm-baseline-refinedweb";

/// The steps of `baselines/baselines_configs/dclm_baseline_refinedweb.yaml` (mlfoundations/dclm
/// @361714b), as (func, parameters in yaml flow syntax). A test checks this equals the pinned
/// yaml step for step.
pub const DCLM_BASELINE_REFINEDWEB_STEPS: [(&str, &str); 26] = [
    ("move_url_modifier", "{}"),
    (
        "url_substring_filter",
        "{banlist_from_fname: baselines/mappers/banlists/refinedweb_banned_domains_curated.txt, exact_domain_match: true, ignore_chars: [www]}",
    ),
    (
        "url_substring_filter",
        "{banlist_from_fname: baselines/mappers/banlists/refinedweb_banned_words_strict_reverse_engineered.txt, ignore_chars: ['-', '.']}",
    ),
    (
        "url_substring_filter",
        "{banlist_from_fname: baselines/mappers/banlists/refinedweb_banned_words_hard_reverse_engineered.txt, match_substrings: false}",
    ),
    (
        "url_substring_filter",
        "{banlist_from_fname: baselines/mappers/banlists/refinedweb_banned_words_soft_reverse_engineered.txt, num_banned_substrs: 2, match_substrings: false}",
    ),
    ("url_removal_modifier", "{}"),
    ("newline_removal_modifier", "{max_consecutive: 2}"),
    ("detect_lang_whole_page_enricher", "{model: fasttext, key_prefix: language_id_whole_page}"),
    ("language_filter", "{key: language_id_whole_page_fasttext, keep_languages: [en], threshold: 0.65}"),
    ("page_length_filter", "{length_type: word, min_length: 50, max_length: 100000, ignore_punctuation: true}"),
    ("word_length_filter", "{min_length: 3, max_length: 10}"),
    ("symbol_ratio_filter", "{max_symbol_to_word_ratio: 0.1}"),
    ("bullet_count_filter", "{max_bullet_start_ratio: 0.9}"),
    ("ellipsis_count_filter", "{max_ellipsis_end_ratio: 0.3}"),
    ("alphabetic_word_ratio_filter", "{max_ratio: 0.2}"),
    ("stop_word_filter", "{count_unique: false, min_stop_word: 2}"),
    ("massive_web_repetition_filters", "{}"),
    ("word_counter_enricher", "{key: previous_word_count}"),
    ("uppercase_ratio_line_modifier", "{max_ratio: 0.5}"),
    ("numeric_ratio_line_modifier", "{max_ratio: 0.999999}"),
    ("counter_line_modifier", "{}"),
    ("line_length_modifier", "{min_length: 2}"),
    ("substring_line_modifier", "{max_length: 10, banlist: items in cart, remove_substring_only: true}"),
    (
        "substring_line_modifier",
        "{max_length: 10, banlist: Read more..., location: suffix, remove_substring_only: true}",
    ),
    (
        "substring_line_modifier",
        "{max_length: 10, banlist: Sign-in, location: prefix, remove_substring_only: true}",
    ),
    (
        "word_removal_ratio_filter",
        "{prev_word_count_key: previous_word_count, max_removed_ratio: 0.05}",
    ),
];

/// Which pipeline to build and from which files: the options of every command that runs the
/// heuristics (`crawl filter`, `crawl run`).
#[derive(clap::Args, Debug, Clone)]
pub struct PipelineArgs {
    /// `dclm-baseline-refinedweb` (built in) or a pipeline yaml in DCLM's schema.
    #[arg(long, default_value = DCLM_BASELINE_REFINEDWEB)]
    pub pipeline: String,
    /// The yaml `source` to use when the yaml lists several.
    #[arg(long)]
    pub source: Option<String>,
    /// A DCLM checkout whose banlists / TLD list / lid.176.bin are used instead of pinned inputs.
    #[arg(long)]
    pub dclm_root: Option<PathBuf>,
    /// A fastText LID model to use instead of the pinned lid.176.ftz.
    #[arg(long)]
    pub lid_model: Option<PathBuf>,
    /// The curated domain banlist is not published: use an empty list or fail.
    #[arg(long, value_enum, default_value_t = CuratedDomains::Empty)]
    pub curated_domains: CuratedDomains,
}

impl Default for PipelineArgs {
    /// The built-in pipeline on the pinned inputs (what the options default to).
    fn default() -> Self {
        PipelineArgs {
            pipeline: DCLM_BASELINE_REFINEDWEB.into(),
            source: None,
            dclm_root: None,
            lid_model: None,
            curated_domains: CuratedDomains::Empty,
        }
    }
}

impl PipelineArgs {
    /// Builds the pipeline, its files resolved by `resolver` unless `--dclm-root` names them.
    pub fn load(&self, resolver: lmrepro_data::Resolver) -> Result<Pipeline> {
        let mut assets = Assets::new(resolver);
        assets.dclm_root = self.dclm_root.clone();
        assets.lid_model_path = self.lid_model.clone();
        assets.curated_domains = self.curated_domains;
        Pipeline::load(&self.pipeline, self.source.as_deref(), &assets)
    }
}

/// One step of a pipeline.
pub struct Step {
    /// 0-based position in the yaml's `steps`.
    pub index: usize,
    /// The yaml's `func` (what `dropped_by` reports).
    pub func: String,
    /// `"%02d_<func>"`, as in the conformance goldens.
    pub id: String,
    /// The yaml mapping of the step (for reports).
    pub params: Mapping,
    pub kind: StepKind,
}

/// A built pipeline.
pub struct Pipeline {
    pub name: String,
    pub steps: Vec<Step>,
    /// Substitutions made while building (e.g. the empty curated-domain list).
    pub notes: Vec<String>,
}

/// Why a page stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    pub step: usize,
    /// Set when the function raised (DCLM `_safe` mode drops such pages and counts an error).
    pub error: Option<String>,
}

/// The result of running a page through a pipeline.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub page: Page,
    pub stop: Option<Stop>,
    /// Steps skipped because the page has no URL.
    pub skipped: Vec<usize>,
}

impl Outcome {
    pub fn kept(&self) -> bool {
        self.stop.is_none()
    }
}

/// Parses DCLM's yaml schema into `(source, [step mappings])`.
pub fn parse_yaml(yaml: &str) -> Result<Vec<(String, Vec<Mapping>)>> {
    let doc: Value = serde_yaml::from_str(yaml).context("parsing pipeline yaml")?;
    let Value::Sequence(sources) = doc else {
        bail!("pipeline yaml must be a list of `- source: ...\\n  steps: [...]` entries (DCLM's schema)");
    };
    let mut out = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let m = s
            .as_mapping()
            .with_context(|| format!("yaml entry {i} is not a mapping"))?;
        let source = m
            .get("source")
            .and_then(Value::as_str)
            .with_context(|| format!("yaml entry {i} has no `source`"))?
            .to_string();
        let steps = m
            .get("steps")
            .and_then(Value::as_sequence)
            .with_context(|| format!("yaml source `{source}` has no `steps` list"))?;
        let mut maps = Vec::new();
        for (j, st) in steps.iter().enumerate() {
            let sm = st
                .as_mapping()
                .with_context(|| format!("source `{source}` step {j} is not a mapping"))?;
            if sm.get("func").and_then(Value::as_str).is_none() {
                bail!("source `{source}` step {j} has no `func`");
            }
            maps.push(sm.clone());
        }
        out.push((source, maps));
    }
    Ok(out)
}

/// The built-in step mappings of `dclm-baseline-refinedweb`.
pub fn builtin_steps() -> Vec<Mapping> {
    DCLM_BASELINE_REFINEDWEB_STEPS
        .iter()
        .map(|(func, params)| {
            let mut m = Mapping::new();
            m.insert("func".into(), Value::String(func.to_string()));
            let p: Mapping = serde_yaml::from_str(params).expect("built-in step params");
            for (k, v) in p {
                m.insert(k, v);
            }
            m
        })
        .collect()
}

impl Pipeline {
    /// Builds steps from yaml mappings. Every unsupported function is listed in one error.
    pub fn from_steps(name: &str, steps: &[Mapping], assets: &Assets) -> Result<Pipeline> {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (index, m) in steps.iter().enumerate() {
            let func = m
                .get("func")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            match StepKind::build(&func, m, assets) {
                Ok(kind) => out.push(Step {
                    index,
                    id: format!("{index:02}_{func}"),
                    func,
                    params: m.clone(),
                    kind,
                }),
                Err(e) => errors.push(format!("step {index} ({func}): {e:#}")),
            }
        }
        if !errors.is_empty() {
            bail!(
                "pipeline `{name}` cannot be built:\n  {}",
                errors.join("\n  ")
            );
        }
        Ok(Pipeline {
            name: name.to_string(),
            steps: out,
            notes: assets.notes(),
        })
    }

    /// Builds a pipeline from yaml text in DCLM's schema; `source` picks the entry (needed only
    /// when the yaml has several).
    pub fn from_yaml(
        name: &str,
        yaml: &str,
        source: Option<&str>,
        assets: &Assets,
    ) -> Result<Pipeline> {
        let sources = parse_yaml(yaml)?;
        let names: Vec<&str> = sources.iter().map(|s| s.0.as_str()).collect();
        let steps = match source {
            Some(s) => {
                &sources
                    .iter()
                    .find(|x| x.0 == s)
                    .with_context(|| format!("yaml has no source `{s}` (sources: {names:?})"))?
                    .1
            }
            None if sources.len() == 1 => &sources[0].1,
            None => bail!("yaml has several sources {names:?}; pick one with --source"),
        };
        Pipeline::from_steps(name, steps, assets)
    }

    /// `dclm-baseline-refinedweb` or a path to a yaml file.
    pub fn load(spec: &str, source: Option<&str>, assets: &Assets) -> Result<Pipeline> {
        if spec == DCLM_BASELINE_REFINEDWEB {
            return Pipeline::from_steps(spec, &builtin_steps(), assets);
        }
        let path = std::path::Path::new(spec);
        if !path.is_file() {
            bail!("--pipeline `{spec}` is neither `{DCLM_BASELINE_REFINEDWEB}` nor a yaml file");
        }
        let yaml =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Pipeline::from_yaml(spec, &yaml, source, assets)
            .with_context(|| format!("pipeline {}", path.display()))
    }

    /// Runs every step in order until one drops the page.
    pub fn run(&self, page: Page) -> Outcome {
        self.run_traced(page, |_, _| {})
    }

    /// Like [`Pipeline::run`], calling `trace(step_index, &page)` after each step the page passes.
    pub fn run_traced(&self, mut page: Page, mut trace: impl FnMut(usize, &Page)) -> Outcome {
        let mut skipped = Vec::new();
        for step in &self.steps {
            match step.kind.apply(&mut page) {
                Verdict::Keep => trace(step.index, &page),
                Verdict::Skip => skipped.push(step.index),
                Verdict::Drop => {
                    return Outcome {
                        page,
                        stop: Some(Stop {
                            step: step.index,
                            error: None,
                        }),
                        skipped,
                    }
                }
                Verdict::Error(e) => {
                    return Outcome {
                        page,
                        stop: Some(Stop {
                            step: step.index,
                            error: Some(e),
                        }),
                        skipped,
                    }
                }
            }
        }
        Outcome {
            page,
            stop: None,
            skipped,
        }
    }
}
