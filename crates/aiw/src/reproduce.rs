//! `cargo xtask reproduce aiw`: re-derives the AIW tables from the released responses.

use crate::plot::{box_strip_svg, BoxRow};
use crate::prompts::{prompt_type_of, PromptSet, PromptType};
use crate::records::read_responses;
use crate::score::{symbolic_variable, Comparison};
use crate::stats::{band, Band};
use crate::summary::{check_against_summary, read_summary, tally, RowCheck, SummaryRow, Tally};
use anyhow::{Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_report::{fmt_fixed, to_json_pretty, write_file, Table};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// `[params]` of recipe `aiw`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_samples")]
    pub band_samples: usize,
    #[serde(default)]
    pub comparison: Comparison,
}

fn default_seed() -> u64 {
    2024
}
fn default_samples() -> usize {
    1000
}

/// Raw response files: (summary `source` name, recipe input, required?).
pub const RAW_SOURCES: [(&str, &str, bool); 4] = [
    ("AIW_base_models.json", "aiw/AIW_base_models.json", true),
    ("o1-mini", "aiw/o1-mini_aiw_friends_responses.jsonl", true),
    ("AIW_param.json", "aiw/AIW_param.json", false),
    ("Reflection-70B", "aiw/Reflection-70B.json", false),
];

/// plot.py's model-name normalisation: lower-case, last path component, drop `-hf`, then
/// `MODEL_MAPPINGS`.
pub fn normalize_model(model: &str) -> String {
    let m = model.to_lowercase();
    let m = m.rsplit('/').next().unwrap_or(&m).replace("-hf", "");
    match m.as_str() {
        "mistral-large" | "mistral-large-latest" | "mistral-large-2402" => {
            "mistral-large-2402".into()
        }
        "gpt-4-turbo-preview" => "gpt-4-0125-preview".into(),
        "mistral-small-latest" => "mistral-small".into(),
        _ => m,
    }
}

/// "AIW+ VARIATION 3, ..." → `AIW+ 3`; `None` when the description names no variation.
pub fn variation_label(description: &str) -> Option<String> {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"(?i)^\s*(?:EXPERIMENTAL\s+)?([A-Za-z+_ -]*?)\s*VARIATION\s+(\d+[a-z]?)")
            .expect("static regex")
    });
    let c = re.captures(description)?;
    let family = c[1].trim().to_uppercase();
    let family = if family.is_empty() {
        "AIW".into()
    } else {
        family
    };
    Some(format!("{family} {}", &c[2]))
}

/// One counted group, from raw responses or (when the raw file is not available) the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub source: String,
    pub model: String,
    pub prompt_id: String,
    pub prompt_type: String,
    pub variation: String,
    pub n: u64,
    pub k: u64,
    /// `raw` (re-scored here) or `summary` (counts taken from aiw_results_summary.csv).
    pub from: String,
}

/// Everything `reproduce` computed (also written as `aiw.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub comparison: Comparison,
    pub seed: u64,
    pub band_samples: usize,
    pub raw_sources_used: Vec<String>,
    pub raw_sources_missing: Vec<String>,
    pub records_rescored: u64,
    pub parsed_equal: u64,
    pub summary_rows: usize,
    pub summary_rows_rederived: usize,
    pub summary_rows_matching: usize,
    pub rows_rescore_agrees: usize,
    pub checks: Vec<RowCheck>,
}

fn prompt_info(prompts: &PromptSet, pid: &str, desc_fallback: &str) -> (String, String) {
    let p = pid.parse::<i64>().ok().and_then(|id| prompts.get(id));
    let ptype = p
        .and_then(|p| p.text().map(prompt_type_of))
        .unwrap_or(PromptType::Other);
    let desc = p
        .and_then(|p| p.description.clone())
        .unwrap_or_else(|| desc_fallback.to_string());
    (
        ptype.name().to_string(),
        variation_label(&desc).unwrap_or_else(|| "-".into()),
    )
}

fn band_cells(b: &Band) -> Vec<String> {
    vec![
        b.n.to_string(),
        b.k.to_string(),
        fmt_fixed(b.rate, 4),
        fmt_fixed(b.stats.q1, 4),
        fmt_fixed(b.stats.median, 4),
        fmt_fixed(b.stats.q3, 4),
        fmt_fixed(b.stats.whisker_lo, 4),
        fmt_fixed(b.stats.whisker_hi, 4),
    ]
}

const BAND_HEADERS: [&str; 8] = [
    "n",
    "correct",
    "rate",
    "q1",
    "median",
    "q3",
    "whisker_lo",
    "whisker_hi",
];

fn write_table(
    out_dir: &Path,
    stem: &str,
    title: &str,
    note: &str,
    t: &Table,
    files: &mut Vec<String>,
) -> Result<()> {
    let md = format!("# {title}\n\n{note}\n\n{}", t.to_markdown());
    write_file(out_dir, &format!("{stem}.md"), md)?;
    write_file(out_dir, &format!("{stem}.csv"), t.to_csv())?;
    files.push(format!("{stem}.md"));
    files.push(format!("{stem}.csv"));
    Ok(())
}

/// Pools groups by `key` and writes a table of rates + bands.
fn pooled_table(
    groups: &[&Group],
    key_headers: &[&str],
    key: impl Fn(&Group) -> Vec<String>,
    params: &Params,
    band_prefix: &str,
    bands_out: &mut BTreeMap<String, Vec<(String, Band)>>,
) -> Table {
    let mut pooled: BTreeMap<Vec<String>, (u64, u64)> = BTreeMap::new();
    for g in groups {
        let e = pooled.entry(key(g)).or_insert((0, 0));
        e.0 += g.n;
        e.1 += g.k;
    }
    let mut t = Table::new(key_headers.iter().copied().chain(BAND_HEADERS));
    for (k, (n, c)) in pooled {
        let band_key = format!("{band_prefix}|{}", k.join("|"));
        let b = band(c, n, params.band_samples, params.seed, &band_key);
        let mut row = k.clone();
        row.extend(band_cells(&b));
        t.push(row);
        bands_out
            .entry(k[0].clone())
            .or_default()
            .push((format!("{band_prefix}: {}", k[1..].join(" ")), b));
    }
    t
}

/// Regenerates `results/aiw/` into `out_dir`. Returns the table files to pin.
pub fn reproduce(recipe: &Recipe, resolver: &Resolver, out_dir: &Path) -> Result<Vec<String>> {
    let params: Params = recipe.params()?;
    let prompts = PromptSet::load(&recipe.resolve(resolver, "aiw/prompts.json")?)?;
    let summary = read_summary(&recipe.resolve(resolver, "aiw/aiw_results_summary.csv")?)?;

    // 1. Raw response files → tallies, re-scored.
    let mut tallies: Vec<Tally> = Vec::new();
    let mut used = Vec::new();
    let mut missing = Vec::new();
    let mut records_rescored = 0;
    for (source, input, required) in RAW_SOURCES {
        let path = match recipe.resolve(resolver, input) {
            Ok(p) => p,
            Err(_) if !required && recipe.input(input).is_ok_and(|i| i.optional) => {
                // Only the name: the resolver's message holds machine-specific paths, and the
                // tables must be byte-identical everywhere.
                missing.push(input.to_string());
                continue;
            }
            Err(e) => return Err(e),
        };
        let records = read_responses(&path)?;
        records_rescored += records.len() as u64;
        tallies.extend(tally(source, &records, &prompts, params.comparison));
        used.push(input.to_string());
    }
    let checks = check_against_summary(&tallies, &summary);
    let parsed_equal = tallies.iter().map(|t| t.n_parsed_equal).sum();

    // 2. All groups: raw tallies, plus summary rows of sources we have no raw file for.
    let raw_sources: std::collections::BTreeSet<&str> =
        tallies.iter().map(|t| t.source.as_str()).collect();
    let mut groups: Vec<Group> = Vec::new();
    for t in &tallies {
        let (ptype, variation) = prompt_info(&prompts, &t.prompt_id, "");
        let k = match (
            t.prompt_id.parse::<i64>().ok().and_then(symbolic_variable),
            t.n_correct_param_regex,
        ) {
            (Some(_), Some(k)) => k,
            // Upstream's plots use the stored verdicts; for the mirror's files re-scoring gives the
            // same counts (summary_check), for files whose verdicts were corrected upstream after
            // collection (Reflection-70B) the stored ones are the published numbers.
            _ => t.n_correct_stored,
        };
        groups.push(Group {
            source: t.source.clone(),
            model: t.model.clone(),
            prompt_id: t.prompt_id.clone(),
            prompt_type: ptype,
            variation,
            n: t.n_trials,
            k,
            from: "raw".into(),
        });
    }
    for r in summary
        .iter()
        .filter(|r| !raw_sources.contains(r.source.as_str()))
    {
        let (ptype, variation) = prompt_info(&prompts, &r.prompt_id, &r.prompt_description);
        groups.push(Group {
            source: r.source.clone(),
            model: r.model.clone(),
            prompt_id: r.prompt_id.clone(),
            prompt_type: ptype,
            variation,
            n: r.n_trials,
            k: r.k(),
            from: "summary".into(),
        });
    }

    let mut files = Vec::new();
    let mut bands: BTreeMap<String, Vec<(String, Band)>> = BTreeMap::new();

    // Table: re-derived summary rows.
    let mut t = Table::new([
        "source",
        "model",
        "prompt_id",
        "n_trials",
        "n_correct",
        "correct_rate",
        "n_correct_rescored",
        "n_correct_param_regex",
        "summary_n_trials",
        "summary_n_correct",
        "summary_rate",
        "match",
        "rescored_equals_stored",
    ]);
    for c in &checks {
        let s = c.summary.as_ref();
        t.push([
            c.tally.source.clone(),
            c.tally.model.clone(),
            c.tally.prompt_id.clone(),
            c.tally.n_trials.to_string(),
            c.tally.n_correct_stored.to_string(),
            crate::summary::python_round4(
                c.tally.n_correct_stored as f64 / c.tally.n_trials.max(1) as f64,
            ),
            c.tally.n_correct_rescored.to_string(),
            c.tally
                .n_correct_param_regex
                .map_or("".into(), |k| k.to_string()),
            s.map_or("".into(), |s| s.n_trials.to_string()),
            s.map_or("".into(), |s| s.n_correct.to_string()),
            s.map_or("".into(), |s| s.correct_rate.clone()),
            if c.matches {
                "yes".into()
            } else {
                format!("NO: {}", c.note)
            },
            if c.rescore_agrees {
                "yes".into()
            } else {
                "no".into()
            },
        ]);
    }
    let n_match = checks.iter().filter(|c| c.matches).count();
    let n_rescore = checks.iter().filter(|c| c.rescore_agrees).count();
    write_table(
        out_dir,
        "summary_check",
        "Summary rows re-derived from raw responses",
        &format!(
            "{n_match}/{} rows re-derived from the raw files match aiw_results_summary.csv \
             ({} summary rows in total; the others come from response files that are not available: {}). \
             Re-parsing reproduced {parsed_equal}/{records_rescored} stored parsed answers; \
             re-scoring reproduced the stored verdict counts in {n_rescore}/{} rows.",
            checks.len(),
            summary.len(),
            if missing.is_empty() { "none".to_string() } else { missing.join(", ") },
            checks.len()
        ),
        &t,
        &mut files,
    )?;

    // Per prompt id (every group).
    let mut t = Table::new(
        [
            "source",
            "model",
            "prompt_id",
            "prompt_type",
            "variation",
            "from",
        ]
        .into_iter()
        .chain(BAND_HEADERS),
    );
    for g in &groups {
        let key = format!("prompt|{}|{}|{}", g.source, g.model, g.prompt_id);
        let b = band(g.k, g.n, params.band_samples, params.seed, &key);
        let mut row = vec![
            g.source.clone(),
            g.model.clone(),
            g.prompt_id.clone(),
            g.prompt_type.clone(),
            g.variation.clone(),
            g.from.clone(),
        ];
        row.extend(band_cells(&b));
        t.push(row);
    }
    write_table(
        out_dir,
        "by_prompt",
        "Correct-response rate per model and prompt id",
        "Band: box statistics of 1000 draws from the repo's Beta fit (mean p, variance p(1-p)/n), seeded. \
         `correct` uses the symbolic rule (response contains M+1 / X+1 / Y+1) for ids 100-108.",
        &t,
        &mut files,
    )?;

    let all: Vec<&Group> = groups.iter().collect();
    let nm = |g: &Group| normalize_model(&g.model);

    // Base models (completion format, ids 87-90).
    let base: Vec<&Group> = all
        .iter()
        .copied()
        .filter(|g| g.source == "AIW_base_models.json")
        .collect();
    let t = pooled_table(
        &base,
        &["model", "prompt_id"],
        |g| vec![nm(g), g.prompt_id.clone()],
        &params,
        "base",
        &mut bands,
    );
    write_table(
        out_dir,
        "base_models",
        "Base models, AIW variations 1-4 (prompts 87-90, completion format)",
        "Re-scored from AIW_base_models.json.",
        &t,
        &mut files,
    )?;

    // Reasoning-model follow-ups (AIW Friends / Reflection / R1 distills).
    let reasoning_sources =
        |s: &str| s == "o1-mini" || s == "Reflection-70B" || s.starts_with("DeepSeek-R1");
    let reas: Vec<&Group> = all
        .iter()
        .copied()
        .filter(|g| reasoning_sources(&g.source))
        .collect();
    let t = pooled_table(
        &reas,
        &["model", "prompt_id", "from"],
        |g| vec![nm(g), g.prompt_id.clone(), g.from.clone()],
        &params,
        "reasoning",
        &mut bands,
    );
    write_table(out_dir, "reasoning_followups", "Reasoning-model follow-ups", "o1-mini re-scored from raw responses; Reflection-70B and DeepSeek-R1 distills from the summary counts unless their raw files are available.", &t, &mut files)?;

    // Symbolic M/N experiment: per model and prompt type, pooled over ids 100-108.
    let sym: Vec<&Group> = all
        .iter()
        .copied()
        .filter(|g| {
            g.prompt_id
                .parse::<i64>()
                .ok()
                .and_then(symbolic_variable)
                .is_some()
        })
        .collect();
    let t = pooled_table(
        &sym,
        &["model", "prompt_type"],
        |g| vec![nm(g), g.prompt_type.clone()],
        &params,
        "symbolic",
        &mut bands,
    );
    write_table(
        out_dir,
        "symbolic",
        "Symbolic AIW (ids 100-108) per model and prompt type",
        "Correct = response contains M+1 / X+1 / Y+1 (plot.py PARAMS_PROMPTS regex).",
        &t,
        &mut files,
    )?;

    // Per model x prompt type and per model x variation, over all groups with a numeric id.
    let typed: Vec<&Group> = all
        .iter()
        .copied()
        .filter(|g| g.prompt_id.parse::<i64>().is_ok())
        .collect();
    let t = pooled_table(
        &typed,
        &["model", "prompt_type"],
        |g| vec![nm(g), g.prompt_type.clone()],
        &params,
        "type",
        &mut bands,
    );
    write_table(out_dir, "by_prompt_type", "Correct-response rate per model and prompt type (pooled over prompt ids)", "Models normalised as plot.py does (lower case, last path component, no -hf, MODEL_MAPPINGS).", &t, &mut files)?;
    let var: Vec<&Group> = typed
        .iter()
        .copied()
        .filter(|g| g.variation != "-")
        .collect();
    let t = pooled_table(
        &var,
        &["model", "variation"],
        |g| vec![nm(g), g.variation.clone()],
        &params,
        "variation",
        &mut bands,
    );
    write_table(
        out_dir,
        "by_variation",
        "Correct-response rate per model and problem variation (pooled over prompt types)",
        "Variation from the prompt description in prompts.json (e.g. `AIW+ 3`).",
        &t,
        &mut files,
    )?;

    // JSON with everything.
    let report = Report {
        comparison: params.comparison,
        seed: params.seed,
        band_samples: params.band_samples,
        raw_sources_used: used,
        raw_sources_missing: missing,
        records_rescored,
        parsed_equal,
        summary_rows: summary.len(),
        summary_rows_rederived: checks.len(),
        summary_rows_matching: n_match,
        rows_rescore_agrees: checks.iter().filter(|c| c.rescore_agrees).count(),
        checks,
    };
    write_file(
        out_dir,
        "aiw.json",
        to_json_pretty(&serde_json::json!({
            "report": report,
            "groups": groups,
        }))?,
    )?;
    files.push("aiw.json".into());

    // One box/strip plot per model (prompt-type and variation bands).
    let plot_dir = out_dir.join("plots");
    for (model, rows) in &bands {
        let rows: Vec<BoxRow> = rows
            .iter()
            .filter(|(label, _)| {
                label.starts_with("type")
                    || label.starts_with("variation")
                    || label.starts_with("base")
                    || label.starts_with("symbolic")
                    || label.starts_with("reasoning")
            })
            .map(|(label, b)| BoxRow {
                label: label.clone(),
                band: b.clone(),
            })
            .collect();
        let svg = box_strip_svg(&format!("AIW correct response rate: {model}"), &rows)
            .with_context(|| format!("plotting {model}"))?;
        write_file(&plot_dir, &format!("{}.svg", file_stem(model)), svg)?;
    }
    Ok(files)
}

/// A file-name-safe, unique-enough stem for a model name.
pub fn file_stem(model: &str) -> String {
    model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Summary rows grouped by source (for reports).
pub fn summary_sources(rows: &[SummaryRow]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.source.clone()).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_normalisation_as_plot_py() {
        assert_eq!(normalize_model("meta-llama/Llama-2-70b-hf"), "llama-2-70b");
        assert_eq!(
            normalize_model("mistral-large-latest"),
            "mistral-large-2402"
        );
        assert_eq!(normalize_model("openai/o1-mini"), "o1-mini");
    }

    #[test]
    fn variation_labels() {
        assert_eq!(
            variation_label("AIW+ VARIATION 3, EXPERIMENTAL, STANDARD").as_deref(),
            Some("AIW+ 3")
        );
        assert_eq!(
            variation_label("AIW Variation 4, Haret version").as_deref(),
            Some("AIW 4")
        );
        assert_eq!(
            variation_label("AIW ext variation 1, Alice").as_deref(),
            Some("AIW EXT 1")
        );
        assert_eq!(variation_label("original prompt"), None);
    }
}
