//! The loader, the scale derivation and `lmrepro dclm runs` on the pinned database, and clear
//! errors on hand-broken copies.

use clap::Parser;
use lmrepro_data::testing;
use lmrepro_dclm_runs::cli::{self, Command};
use lmrepro_dclm_runs::query::{self, Format, Query, SortKey};
use lmrepro_dclm_runs::results::runs_of;
use lmrepro_dclm_runs::{RunDb, ScaleDef, Scales};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn database() -> PathBuf {
    testing::input("dclm-results", cli::DATABASE_INPUT)
}

fn db() -> &'static RunDb {
    static DB: OnceLock<RunDb> = OnceLock::new();
    DB.get_or_init(|| RunDb::load(&database(), &Scales::load().unwrap()).unwrap())
}

#[test]
fn loads_every_run_with_its_scale() {
    let db = db();
    assert_eq!(db.runs.height(), 416);
    assert_eq!(db.raw.width(), 143);
    let runs = runs_of(&db.runs).unwrap();
    // Every run has one of DCLM's sizes; the competition scales have their DCLM budgets.
    assert!(
        runs.iter().all(|r| r.scale.is_some()),
        "a run without a DCLM size"
    );
    let count = |s: &str| {
        runs.iter()
            .filter(|r| r.scale.as_deref() == Some(s))
            .count()
    };
    assert_eq!(count("400m-1x"), 11);
    assert_eq!(count("1b-1x"), 296);
    assert_eq!(count("7b-1x"), 63);
    assert_eq!(count("7b-2x"), 19);
    assert_eq!(count("7b-1.5x"), 10);
    assert_eq!(
        count("7b-2.18x"),
        1,
        "300B tokens is not a whole multiple of 7B's budget"
    );
    // Core is empty in 88 rows (they predate CORE); those are nulls, not errors.
    assert_eq!(runs.iter().filter(|r| r.core.is_none()).count(), 88);
    // `mmlu_and_lowvar` rows store Extended = Core: read as no EXTENDED.
    let core_only: Vec<_> = runs
        .iter()
        .filter(|r| r.suite == "mmlu_and_lowvar")
        .collect();
    assert_eq!(core_only.len(), 12);
    assert!(core_only.iter().all(|r| r.extended.is_none()));
    let first = &runs[0];
    assert_eq!(first.row, 1);
    assert_eq!(first.dataset, "rpj_rw_as_CC");
    assert_eq!(first.compute, 6.0 * 1439795200.0 * 28795904000.0);
}

#[test]
fn scales_come_from_the_dclm_baseline_recipe() {
    let s = Scales::load().unwrap();
    let ids: Vec<_> = s.defs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["400m-1x", "1b-1x", "7b-1x", "7b-2x"]);
    // The sizes the budgets imply are the database's parameter counts.
    let params: Vec<_> = s.defs.iter().map(|d| d.params).collect();
    assert_eq!(params, [411616256, 1439795200, 6889410560, 6889410560]);
}

#[test]
fn selects_sorts_and_renders() {
    let db = db();
    let q = Query {
        scale: Some("7b-2x".into()),
        datasets: vec![
            "rw_v2_cc_v3_f0.15_resiliparse_fasttext_openhermes_reddit_eli5_*_0.1".into(),
        ],
        sort: SortKey::Core,
        limit: Some(3),
    };
    let df = query::select(db, &q).unwrap();
    let runs = runs_of(&df).unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.windows(2).all(|w| w[0].core >= w[1].core));
    assert!((runs[0].core.unwrap() - 0.4885441487).abs() < 1e-12);
    let cols: Vec<String> = ["row", "core", "scale", "arc_easy"]
        .map(String::from)
        .to_vec();
    let md = query::render(db, &df, &cols, Format::Md).unwrap();
    let head: Vec<&str> = md
        .lines()
        .next()
        .unwrap()
        .split('|')
        .map(str::trim)
        .collect();
    assert_eq!(head, ["", "row", "core", "scale", "arc_easy", ""], "{md}");
    assert!(md.contains("0.4885 | 7b-2x"), "{md}");
    let csv = query::render(db, &df, &cols, Format::Csv).unwrap();
    assert!(
        csv.lines().nth(1).unwrap().contains(",0.4885441487,7b-2x,"),
        "{csv}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&query::render(db, &df, &cols, Format::Json).unwrap()).unwrap();
    assert_eq!(json[0]["core"], 0.4885441487);
    assert!(
        json[0]["arc_easy"].is_string(),
        "CSV columns print as written"
    );
    // Missing scores sort last.
    let all = query::select(
        db,
        &Query {
            sort: SortKey::Core,
            ..Query::default()
        },
    )
    .unwrap();
    let all = runs_of(&all).unwrap();
    assert!(
        all[..328].iter().all(|r| r.core.is_some()) && all[328..].iter().all(|r| r.core.is_none())
    );
    let err = query::render(db, &df, &["nope".to_string()], Format::Md).unwrap_err();
    assert!(err.to_string().contains("no column `nope`"), "{err}");
}

/// The clap command as `lmrepro dclm ...` parses it.
#[derive(Parser)]
struct Dclm {
    #[command(subcommand)]
    cmd: Command,
}

#[test]
fn runs_command_parses_and_runs() {
    let db = database();
    let parsed = Dclm::try_parse_from(
        [
            "dclm",
            "runs",
            "--scale",
            "7b-1x",
            "--dataset",
            "dfn_*",
            "--dataset",
            "rw_original",
            "--sort",
            "core",
            "--columns",
            "row,dataset,model,core",
            "--format",
            "csv",
            "--database",
        ]
        .into_iter()
        .map(String::from)
        .chain([db.display().to_string()]),
    )
    .unwrap();
    let Command::Runs(args) = parsed.cmd;
    let out = cli::runs(&args, &testing::resolver()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "row,dataset,model,core");
    // 3 rw_original + 2 dfn runs at 7B-1x, best first.
    assert_eq!(lines.len(), 6, "{out}");
    assert!(lines[1].starts_with("339,dfn_diff_dpo_base"), "{out}");
    assert!(lines[5].contains(",rw_original,"), "{out}");
    // Defaults: every run, markdown, the pinned database.
    let Command::Runs(args) = Dclm::try_parse_from(["dclm", "runs", "--limit", "2"])
        .unwrap()
        .cmd;
    assert_eq!(args.format, Format::Md);
    let out = cli::runs(&args, &testing::resolver()).unwrap();
    assert!(out.contains("| row | dataset"), "{out}");
    assert!(out.contains("2 of 416 runs"), "{out}");
    let Command::Runs(args) = Dclm::try_parse_from(["dclm", "runs", "--scale", "3b-1x"])
        .unwrap()
        .cmd;
    let err = cli::runs(&args, &testing::resolver())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no run has scale `3b-1x`") && err.contains("7b-2x"),
        "{err}"
    );
    assert!(Dclm::try_parse_from(["dclm", "runs", "--sort", "vibes"]).is_err());
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const HEADER: &str = "Model JSON,Dataset,model,params,tokens,Core,Extended,name,mmlu_fewshot";

fn load(text: &str) -> anyhow::Result<RunDb> {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "db.csv", text);
    let scales = Scales::new(vec![ScaleDef::new("7b-1x", "7B-1x", 137788211200).unwrap()]).unwrap();
    RunDb::load(&p, &scales)
}

#[test]
fn a_missing_column_is_named() {
    let text = "Model JSON,Dataset,model,params,Core,Extended,name,mmlu_fewshot\na,b,c,1,0.5,0.2,heavy,0.3\n";
    let err = format!("{:#}", load(text).unwrap_err());
    assert!(err.contains("db.csv: no column `tokens`"), "{err}");
}

#[test]
fn a_non_numeric_score_names_column_and_row() {
    let text = format!(
        "{HEADER}\nrun_a.json,d,open_lm_7b,6889410560,137788211200,0.41,0.2,heavy,0.3\n\
         run_b.json,d,open_lm_7b,6889410560,137788211200,0.4x,0.2,heavy,0.3\n"
    );
    let err = format!("{:#}", load(&text).unwrap_err());
    assert!(
        err.contains(
            "db.csv: column `Core`, row 2 (`Model JSON` = run_b.json): `0.4x` is not a number"
        ),
        "{err}"
    );
    let text = format!("{HEADER}\nrun_a.json,d,m,6889410560,137788211200,0.41,NaN,heavy,0.3\n");
    let err = format!("{:#}", load(&text).unwrap_err());
    assert!(
        err.contains("column `Extended`, row 1") && err.contains("`NaN` is not a number"),
        "{err}"
    );
}

#[test]
fn bad_counts_are_errors() {
    let text = format!("{HEADER}\nrun_a.json,d,m,6889410560.5,137788211200,0.41,0.2,heavy,0.3\n");
    let err = format!("{:#}", load(&text).unwrap_err());
    assert!(
        err.contains("column `params`, row 1") && err.contains("not a positive whole number"),
        "{err}"
    );
    let text = format!("{HEADER}\nrun_a.json,d,m,6889410560,,0.41,0.2,heavy,0.3\n");
    let err = format!("{:#}", load(&text).unwrap_err());
    assert!(
        err.contains("column `tokens`, row 1") && err.contains("empty"),
        "{err}"
    );
    let err = format!("{:#}", load(&format!("{HEADER}\n")).unwrap_err());
    assert!(err.contains("no runs"), "{err}");
}

#[test]
fn a_small_good_file_loads() {
    let text = format!(
        "{HEADER}\nrun_a.json,d,open_lm_7b,6889410560,137788211200,,0.2,/x/eval/heavy,\n\
         run_b.json,e,open_lm_7b,6889410560,137788211200,0.41,0.41,/x/eval/mmlu_and_lowvar,0.3\n"
    );
    let db = load(&text).unwrap();
    let runs = runs_of(&db.runs).unwrap();
    assert_eq!(runs[0].core, None);
    assert_eq!(runs[0].mmlu, None);
    assert_eq!(runs[0].scale.as_deref(), Some("7b-1x"));
    assert_eq!(runs[1].extended, None);
    assert_eq!(runs[1].suite, "mmlu_and_lowvar");
}
