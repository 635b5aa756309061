//! BigScience's `evaluation/results/tr11/conversion/json_to_markdown.py` (bigscience-workshop/
//! bigscience @ 9e64ede), the script that wrote `mdtable.txt`, replicated step by step:
//!
//! 1. every `results` entry in file order, except `lambada` itself; language from the task name
//!    (`gsarti/flores_101_<lang>`, `lambada_mt_{de,en,es,it}` → deu/eng/esp/ita,
//!    `crows_pairs_french` → fra, `headqa` → esp, else eng; the last entry of a group wins);
//! 2. main metric: `acc`, else `byte_perplexity`, else `pass@100`, else `em`;
//! 3. the OPT-175B score of the same key and metric (first timestamp of OPT's entry);
//! 4. entries grouped by their `task_name` field (else the key); a group with more than one
//!    `prompt_name` becomes one row, `statistics.median` of its scores (BLOOM and OPT separately),
//!    named `<task> (Median of N prompts)` with N = the number of scores in the group (an entry
//!    without a prompt counts too);
//! 5. humaneval rows: best over the three temperatures per k, read from `bloom/` whatever model is
//!    converted (the script hard-codes the path; see [`HumanevalSource`]);
//! 6. cells printed as Python prints `round(x, 3)`.
//!
//! Where the script would crash (a task missing from OPT's file, a timestamp count other than 1) or
//! silently reuse the previous entry's metric name (an entry with none of the four metrics), this
//! is an error naming the file and entry.

use crate::humaneval::{best_per_k, HumanevalRow};
use crate::results::{number, text, ResultsFile};
use anyhow::{bail, Result};
use lmrepro_pycompat::float::{median, repr, round};

/// The main metrics in the script's order of preference, with the arrow it prints.
pub const MAIN_METRICS: [(&str, &str); 4] = [
    ("acc", "↑"),
    ("byte_perplexity", "↓"),
    ("pass@100", "↑"),
    ("em", "↑"),
];

/// Which model's humaneval numbers the humaneval rows hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HumanevalSource {
    /// The script's behaviour: always `bloom/humaneval_temp*.json` (BLOOM-176B).
    Upstream,
    /// The converted model's own humaneval results.
    OwnModel,
}

/// One row of `mdtable.txt` before formatting.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The Task cell, e.g. `axb (Median of 10 prompts)`.
    pub task: String,
    /// The task group (without the median suffix), e.g. `axb`.
    pub group: String,
    pub language: String,
    /// Metric without the arrow.
    pub metric: String,
    pub arrow: &'static str,
    pub value: f64,
    pub opt: f64,
    /// Number of scores behind the row (1 unless it is a median).
    pub prompts: usize,
}

impl Row {
    /// `value` as the script prints it: `repr(round(x, 3))`.
    pub fn value_cell(&self) -> String {
        repr(round(self.value, 3))
    }
    pub fn opt_cell(&self) -> String {
        repr(round(self.opt, 3))
    }
    /// The Metric cell with its arrow, e.g. `acc ↑`.
    pub fn metric_cell(&self) -> String {
        format!("{} {}", self.metric, self.arrow)
    }
}

fn language(task: &str) -> Option<String> {
    // The script's if/elif chain, in its order; `None` is its `continue` for plain `lambada`.
    Some(if task.contains("gsarti/flores_101_") {
        task.replace("gsarti/flores_101_", "").replace("+null", "")
    } else if task.contains("lambada_mt_de") {
        "deu".into()
    } else if task.contains("lambada_mt_en") {
        "eng".into()
    } else if task.contains("lambada_mt_es") {
        "esp".into()
    } else if task.contains("lambada_mt_it") {
        "ita".into()
    } else if task == "lambada" {
        return None;
    } else if task.contains("crows_pairs_french") {
        "fra".into()
    } else if task == "headqa" {
        "esp".into()
    } else {
        "eng".into()
    })
}

struct Group {
    name: String,
    lang: String,
    prompts: usize,
    /// (metric, arrow, score, opt score)
    scores: Vec<(&'static str, &'static str, f64, f64)>,
}

/// Converts one model's results as the script does.
pub fn convert(
    model: &ResultsFile,
    opt: &ResultsFile,
    humaneval: &[HumanevalRow],
    model_dir: &str,
    source: HumanevalSource,
) -> Result<Vec<Row>> {
    let src = &model.source;
    let mut groups: Vec<Group> = Vec::new();
    for entry in &model.entries {
        let key = entry.key.as_str();
        let metrics = entry.single_run(src)?;
        let Some(lang) = language(key) else {
            continue;
        };
        let Some(&(metric, arrow)) = MAIN_METRICS.iter().find(|(m, _)| metrics.get(m).is_some())
        else {
            bail!(
                "{src}: `{key}` has none of the main metrics acc, byte_perplexity, pass@100, em \
                 (the script would reuse the previous entry's metric name)"
            );
        };
        let Some(opt_entry) = opt.entry(key) else {
            bail!(
                "{}: no results entry `{key}` (needed for the OPT-175B column of {src})",
                opt.source
            );
        };
        let score_opt = number(opt_entry.first_run(&opt.source)?, metric, &opt.source, key)?;
        let score = number(metrics, metric, src, key)?;
        let name = text(metrics, "task_name", src, key)?.unwrap_or(key);
        let has_prompt = text(metrics, "prompt_name", src, key)?.is_some();
        let g = match groups.iter().position(|g| g.name == name) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(Group {
                    name: name.to_string(),
                    lang: String::new(),
                    prompts: 0,
                    scores: Vec::new(),
                });
                groups.last_mut().expect("just pushed")
            }
        };
        g.lang = lang;
        g.prompts += usize::from(has_prompt);
        g.scores.push((metric, arrow, score, score_opt));
    }

    let mut rows = Vec::new();
    for g in groups {
        if g.prompts > 1 {
            let n = g.scores.len();
            let (metric, arrow, _, _) = g.scores[0];
            let med = |pick: fn(&(&str, &str, f64, f64)) -> f64| {
                median(&g.scores.iter().map(pick).collect::<Vec<_>>())
                    .map_err(|e| anyhow::anyhow!("{src}: task `{}`: {e}", g.name))
            };
            rows.push(Row {
                task: format!("{} (Median of {n} prompts)", g.name),
                group: g.name.clone(),
                language: g.lang.clone(),
                metric: metric.into(),
                arrow,
                value: med(|s| s.2)?,
                opt: med(|s| s.3)?,
                prompts: n,
            });
        } else {
            for (metric, arrow, value, opt) in g.scores {
                rows.push(Row {
                    task: g.name.clone(),
                    group: g.name.clone(),
                    language: g.lang.clone(),
                    metric: metric.into(),
                    arrow,
                    value,
                    opt,
                    prompts: 1,
                });
            }
        }
    }

    let he_dir = match source {
        HumanevalSource::Upstream => "bloom",
        HumanevalSource::OwnModel => model_dir,
    };
    let ours = best_per_k(humaneval, he_dir)?;
    let theirs = best_per_k(humaneval, "opt")?;
    for ((k, value), (k_opt, opt)) in ours.into_iter().zip(theirs) {
        debug_assert_eq!(k, k_opt);
        rows.push(Row {
            task: "humaneval".into(),
            group: "humaneval".into(),
            language: "python".into(),
            metric: k,
            arrow: "↑",
            value,
            opt,
            prompts: 1,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::humaneval::parse_csv;

    const HE: &str = "model,repo_dir,temperature,pass@1,pass@10,pass@100\n\
        b,bloom,0.2,0.5,0.6,0.7\nb,bloom,0.6,0.4,0.8,0.9\n\
        s,small,0.2,0.1,0.2,0.3\no,opt,0.2,0.0,0.0,0.0\n";

    fn file(json: &str, name: &str) -> ResultsFile {
        ResultsFile::parse(json, name).unwrap()
    }

    const OPT: &str = r#"{"results": {
        "arc": {"t": {"acc": 0.41}},
        "axb+p1": {"t": {"acc": 0.1}}, "axb+p2": {"t": {"acc": 0.3}},
        "gsarti/flores_101_afr+null": {"t": {"byte_perplexity": 3.0}},
        "lambada": {"t": {"acc": 0.9}}, "mc_taco": {"t": {"em": 0.2}}}}"#;

    #[test]
    fn groups_medians_languages_and_humaneval() {
        let model = file(
            r#"{"results": {
            "arc": {"t": {"acc": 0.4112627986348123}},
            "axb+p1": {"t": {"acc": 0.2, "task_name": "axb", "prompt_name": "p1"}},
            "gsarti/flores_101_afr+null": {"t": {"byte_perplexity": 4.25, "bits_per_byte": 2.0,
                "task_name": "gsarti/flores_101_afr", "prompt_name": "null"}},
            "axb+p2": {"t": {"acc": 0.5, "task_name": "axb", "prompt_name": "p2"}},
            "lambada": {"t": {"acc": 0.7}},
            "mc_taco": {"t": {"em": 0.13, "f1": 0.4}}}}"#,
            "m.json",
        );
        let opt = file(OPT, "opt.json");
        let he = parse_csv(HE, "he.csv").unwrap();
        let rows = convert(&model, &opt, &he, "small", HumanevalSource::Upstream).unwrap();
        let cells: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{}|{}|{}|{}|{}",
                    r.task,
                    r.language,
                    r.metric_cell(),
                    r.value_cell(),
                    r.opt_cell()
                )
            })
            .collect();
        assert_eq!(
            cells,
            [
                "arc|eng|acc ↑|0.411|0.41",
                // Median of two = mean of the middle pair; the group sits where it first appeared.
                "axb (Median of 2 prompts)|eng|acc ↑|0.35|0.2",
                "gsarti/flores_101_afr|afr|byte_perplexity ↓|4.25|3.0",
                "mc_taco|eng|em ↑|0.13|0.2",
                // Upstream reads bloom/ humaneval whatever the model: best over temperatures.
                "humaneval|python|pass@1 ↑|0.5|0.0",
                "humaneval|python|pass@10 ↑|0.8|0.0",
                "humaneval|python|pass@100 ↑|0.9|0.0",
            ]
        );
        let own = convert(&model, &opt, &he, "small", HumanevalSource::OwnModel).unwrap();
        assert_eq!(own[4].value_cell(), "0.1");
        assert_eq!(own[6].value_cell(), "0.3");
    }

    #[test]
    fn missing_opt_task_and_metric_are_errors() {
        let he = parse_csv(HE, "he.csv").unwrap();
        let opt = file(OPT, "opt/bslmeval.json");
        let model = file(
            r#"{"results": {"webqs": {"t": {"acc": 0.1}}}}"#,
            "bloom/bslmeval.json",
        );
        let err = convert(&model, &opt, &he, "bloom", HumanevalSource::Upstream)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("opt/bslmeval.json: no results entry `webqs`")
                && err.contains("bloom/bslmeval.json"),
            "{err}"
        );
        let model = file(r#"{"results": {"arc": {"t": {"f1": 0.1}}}}"#, "m.json");
        let err = convert(&model, &opt, &he, "bloom", HumanevalSource::Upstream)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.json: `arc` has none of the main metrics"),
            "{err}"
        );
        // OPT has the task but not the metric.
        let model = file(r#"{"results": {"mc_taco": {"t": {"acc": 0.1}}}}"#, "m.json");
        let err = convert(&model, &opt, &he, "bloom", HumanevalSource::Upstream)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("opt/bslmeval.json: `mc_taco` has no metric `acc`"),
            "{err}"
        );
        let model = file(r#"{"results": {"arc": {"t": {"acc": "high"}}}}"#, "m.json");
        let err = convert(&model, &opt, &he, "bloom", HumanevalSource::Upstream)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.json: `arc` metric `acc` is not a number"),
            "{err}"
        );
    }

    #[test]
    fn language_chain_follows_the_script() {
        assert_eq!(language("lambada_mt_es").as_deref(), Some("esp"));
        assert_eq!(language("lambada"), None);
        assert_eq!(language("crows_pairs_french+x").as_deref(), Some("fra"));
        assert_eq!(language("headqa").as_deref(), Some("esp"));
        assert_eq!(language("headqa_en").as_deref(), Some("eng"));
        assert_eq!(
            language("gsarti/flores_101_zho_simpl+null").as_deref(),
            Some("zho_simpl")
        );
    }
}
