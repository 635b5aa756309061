//! The six comparisons: for each, the inputs (prepared from pinned mirror data through the data
//! layer, never committed), our command, the peer's command, and what is compared so that a
//! fast but wrong run is reported as such.
//!
//! | bench | ours | peer | compared |
//! |---|---|---|---|
//! | heuristics | `lmrepro crawl filter` | DCLM's mappers (`run_peer.py heuristics`) | kept docs, digest of kept texts |
//! | tokenize | `lmrepro crawl tokenize` | `tokenizers` `encode_batch` | tokens (ours = peer's + one EOS per doc) |
//! | bff | `lmrepro crawl dedup bff` | DCLM's `bff` | docs out, removed text bytes (tolerance: DCLM is unseeded) |
//! | minhash | `lmrepro crawl dedup minhash` | datatrove 0.10.1 (all four steps) | duplicate pairs (set), removed docs, docs and text bytes written |
//! | fasttext | `lmrepro crawl quality predict` | fasttext-wheel `predict` | every score, max abs difference ≤ 1e-6 |
//! | extract | `lmrepro crawl extract` | resiliparse 2.0.1 + FastWARC | docs, digest of texts |

use super::peers::Peers;
use anyhow::{bail, Context, Result};
use lmrepro_data::{resolve_in_set, Resolver};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

pub const ALL: [&str; 6] = [
    "heuristics",
    "tokenize",
    "bff",
    "minhash",
    "fasttext",
    "extract",
];

/// Everything a benchmark needs to build its commands.
pub struct Ctx<'a> {
    pub root: PathBuf,
    /// Prepared inputs and run outputs (`<target>/bench/full` or `<target>/bench/smoke`).
    pub work: PathBuf,
    pub smoke: bool,
    /// `--size quick`: about a quarter of the full inputs (a first look on a loaded machine).
    pub quick: bool,
    pub lmrepro: PathBuf,
    pub bin_note: Option<String>,
    pub peers: &'a Peers,
    pub resolver: Resolver,
}

/// A prepared input: its files, and the docs / bytes recorded with each measurement.
pub struct Input {
    pub files: Vec<PathBuf>,
    pub docs: u64,
    pub bytes: u64,
    /// bff: the n-gram count both sides size their filter with; fasttext: the model.
    pub ngrams: Option<u64>,
    pub model: Option<PathBuf>,
}

/// One side's command.
pub struct Cmd {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub envs: Vec<(String, String)>,
    pub label: String,
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn pinned(ctx: &Ctx, set: &str, name: &str) -> Result<PathBuf> {
    resolve_in_set(&ctx.resolver, set, name)
}

fn dclm_texts(ctx: &Ctx) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for name in [
        "dclm/data/agreement_data.jsonl",
        "dclm/data/majority_data.jsonl",
    ] {
        let path = pinned(ctx, "dclm_heuristics", name)?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        lines.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from),
        );
    }
    Ok(lines)
}

/// Writes `lines` (JSONL records) to `path` unless it is already there with the same bytes.
fn write_lines(path: &Path, lines: &[String]) -> Result<()> {
    let mut body = lines.join("\n");
    body.push('\n');
    if std::fs::read(path).ok().as_deref() != Some(body.as_bytes()) {
        std::fs::write(path, body).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Docs and UTF-8 bytes of `text` over JSONL files (any compression `lmrepro-stage` reads).
pub fn count_docs(files: &[PathBuf]) -> Result<(u64, u64)> {
    let (mut docs, mut bytes) = (0, 0);
    for f in files {
        for_each_text(f, |t| {
            docs += 1;
            bytes += t.len() as u64;
        })?;
    }
    Ok((docs, bytes))
}

/// Calls `each` with the `text` of every record of a JSONL file; errors name file and line.
fn for_each_text(path: &Path, mut each: impl FnMut(&str)) -> Result<()> {
    let reader = lmrepro_stage::open_reader(path)?;
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{}: line {}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}: line {}: not JSON", path.display(), i + 1))?;
        let t = v["text"]
            .as_str()
            .with_context(|| format!("{}: line {}: no string `text`", path.display(), i + 1))?;
        each(t);
    }
    Ok(())
}

/// The digest `run_peer.py` computes: sha256 over each text's UTF-8 bytes and a NUL, in order.
pub fn digest<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = Sha256::new();
    for t in texts {
        h.update(t.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// The stage's document files (`*.jsonl*`, sorted: shard order is input order).
fn jsonl_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.to_string_lossy().contains(".jsonl"))
        .collect();
    v.sort();
    Ok(v)
}

pub fn prepare(name: &str, ctx: &Ctx) -> Result<Input> {
    let dir = ctx.work.join("inputs");
    std::fs::create_dir_all(&dir)?;
    let mut model = None;
    let mut ngrams = None;
    let files: Vec<PathBuf> = match name {
        // DCLM's 780 human-labelled CC texts (×3 = 2,340 docs; no URLs, so both sides skip the
        // URL steps 00–04 as the conformance goldens do).
        "heuristics" => {
            let lines = dclm_texts(ctx)?;
            let lines: Vec<String> = if ctx.smoke {
                lines[..10].to_vec()
            } else if ctx.quick {
                lines
            } else {
                (0..3).flat_map(|_| lines.iter().cloned()).collect()
            };
            let p = dir.join("heuristics.jsonl");
            write_lines(&p, &lines)?;
            vec![p]
        }
        // 71 Gutenberg books (5.8 M tokens), the input.
        "tokenize" => {
            if ctx.smoke {
                let p = dir.join("tokenize.jsonl");
                write_lines(&p, &dclm_texts(ctx)?[..10])?;
                vec![p]
            } else if ctx.quick {
                // The first 18 of those books (about a quarter of the tokens).
                let src = pinned(ctx, "corpus", "corpus/gutenberg_top100_03.jsonl.zst")?;
                let lines: Vec<String> = lmrepro_stage::open_reader(&src)?
                    .lines()
                    .take(18)
                    .collect::<std::io::Result<_>>()
                    .with_context(|| format!("reading {}", src.display()))?;
                let p = dir.join("tokenize.jsonl");
                write_lines(&p, &lines)?;
                vec![p]
            } else {
                vec![pinned(
                    ctx,
                    "corpus",
                    "corpus/gutenberg_top100_03.jsonl.zst",
                )?]
            }
        }
        // 800 Gutenberg books (the four mirrored shards, one file each), the input;
        // smoke: 20 texts twice, so something is removed.
        "bff" | "minhash" => {
            let sub = dir.join(name);
            std::fs::create_dir_all(&sub)?;
            if ctx.smoke {
                let texts = dclm_texts(ctx)?;
                let lines: Vec<String> = texts[..20].iter().chain(&texts[..20]).cloned().collect();
                let p = sub.join("dup.jsonl");
                write_lines(&p, &lines)?;
                vec![p]
            } else {
                let mut v = Vec::new();
                // quick: one shard (bff: the 200 books of shard 00; minhash: the 71 of shard 03).
                let shards = if !ctx.quick {
                    0..4
                } else if name == "bff" {
                    0..1
                } else {
                    3..4
                };
                for i in shards {
                    let name = format!("corpus/gutenberg_top100_{i:02}.jsonl.zst");
                    let src = pinned(ctx, "corpus", &name)?;
                    let link = sub.join(src.file_name().unwrap());
                    if !link.exists() {
                        std::os::unix::fs::symlink(&src, &link)?;
                    }
                    v.push(link);
                }
                v
            }
        }
        // Full: DCLM's 780 labelled texts ×10 (7,800 docs) scored by a DCLM-settings classifier
        // that our CLI trains once from the pinned quality data (an 855 MB model, like DCLM's);
        // smoke: 10 texts scored by lid.176.ftz (top-1 probability, same code path).
        "fasttext" => {
            let lines = dclm_texts(ctx)?;
            let p = dir.join("fasttext.jsonl");
            if ctx.smoke {
                write_lines(&p, &lines[..10])?;
                model = Some(pinned(ctx, "dclm_heuristics", "langid/lid.176.ftz")?);
            } else {
                let copies = if ctx.quick { 2 } else { 10 };
                let all: Vec<String> = (0..copies).flat_map(|_| lines.iter().cloned()).collect();
                write_lines(&p, &all)?;
                model = Some(train_classifier(ctx)?);
            }
            vec![p]
        }
        "extract" => {
            let names: &[&str] = if ctx.smoke {
                &["crawl/cc_real/dolma-sample-0000.warc.gz"]
            } else if ctx.quick {
                &["crawl/scrapinghub-aeb.warc.gz"]
            } else {
                &[
                    "crawl/scrapinghub-aeb.warc.gz",
                    "crawl/trafilatura-testpages.warc.gz",
                ]
            };
            let mut v = Vec::new();
            for n in names {
                v.push(pinned(ctx, "crawl_pages", n)?);
            }
            v
        }
        other => bail!("unknown benchmark `{other}` (known: {})", ALL.join(", ")),
    };
    let (docs, bytes) = if name == "extract" {
        // WARC records are counted by the run; the input size is the compressed WARC bytes.
        let mut b = 0;
        for f in &files {
            b += std::fs::metadata(f)?.len();
        }
        (0, b)
    } else {
        count_docs(&files)?
    };
    if name == "bff" {
        ngrams = Some(bff_ngram_count(ctx, &files)?);
    }
    Ok(Input {
        files,
        docs,
        bytes,
        ngrams,
        model,
    })
}

/// The classifier of the full fastText benchmark, trained once by our CLI (untimed).
fn train_classifier(ctx: &Ctx) -> Result<PathBuf> {
    // Shared by the full and quick sizes: one 855 MB file, trained once.
    let model = ctx
        .work
        .parent()
        .unwrap_or(&ctx.work)
        .join("quality-classifier.bin");
    if model.is_file() {
        return Ok(model);
    }
    eprintln!("xtask bench: training the fastText classifier once (DCLM settings, untimed)");
    // Trained under another name and renamed, so an interrupted run never leaves a model behind.
    let partial = model.with_extension("partial.bin");
    let p = |n| pinned(ctx, "corpus", n);
    let status = std::process::Command::new(&ctx.lmrepro)
        .args(["crawl", "quality", "train", "--positives"])
        .arg(p("quality/positives_alpaca_eval_10models.jsonl.zst")?)
        .arg(p("quality/positives_gsm8k_train.jsonl")?)
        .arg("--negatives")
        .arg(p("quality/negatives_cc_2019-30_dolma_sample.jsonl.gz")?)
        .args(["--max-positives", "697", "--output"])
        .arg(&partial)
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        bail!("training the benchmark classifier failed ({status})");
    }
    std::fs::rename(&partial, &model)?;
    Ok(model)
}

/// Both sides size their Bloom filter from the same n-gram count: our counting pass's, run once
/// untimed and cached (DCLM's `bff` cannot count; it must be told).
fn bff_ngram_count(ctx: &Ctx, files: &[PathBuf]) -> Result<u64> {
    let cache = ctx.work.join("inputs/bff-ngram-count");
    if let Ok(t) = std::fs::read_to_string(&cache) {
        if let Ok(n) = t.trim().parse() {
            return Ok(n);
        }
    }
    let out = ctx.work.join("runs/bff-count");
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = std::process::Command::new(&ctx.lmrepro);
    cmd.args(["crawl", "dedup", "bff", "--inputs"])
        .arg(files[0].parent().unwrap())
        .arg("--output")
        .arg(&out)
        .args(BFF_PARAMS)
        .stdout(std::process::Stdio::null());
    let status = cmd.status()?;
    if !status.success() {
        bail!("bff n-gram counting run failed ({status})");
    }
    let stats = read_json(&out.join("stats.json"))?;
    let n = stats["bff"]["shards"][0]["plan"]["expected_ngram_count"]
        .as_u64()
        .context(
            "stats.json of the bff counting run: no bff.shards[0].plan.expected_ngram_count",
        )?;
    std::fs::write(&cache, n.to_string())?;
    let _ = std::fs::remove_dir_all(&out);
    Ok(n)
}

/// DCLM-Baseline's bff settings as the figures used them (13-grams on books).
const BFF_PARAMS: [&str; 10] = [
    "--min-ngram-size",
    "13",
    "--max-ngram-size",
    "13",
    "--fp-rate",
    "0.01",
    "--filtering-threshold",
    "0.8",
    "--remove-type",
    "old-both",
];

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))
}

/// Our command; `out` is an empty directory for its output.
pub fn ours(name: &str, ctx: &Ctx, input: &Input, threads: usize, out: &Path) -> Result<Cmd> {
    let files: Vec<String> = input.files.iter().map(|p| s(p)).collect();
    let mut args: Vec<String> = vec!["crawl".into()];
    let mut push = |v: &[&str]| args.extend(v.iter().map(|x| x.to_string()));
    match name {
        "heuristics" => {
            push(&[
                "filter",
                "--quiet",
                "--threads",
                &threads.to_string(),
                "--input",
            ]);
            push(&[&files[0], "--output", &s(&out.join("kept.jsonl"))]);
        }
        "tokenize" => {
            push(&["tokenize", "--inputs"]);
            push(&files.iter().map(String::as_str).collect::<Vec<_>>());
            let tok = pinned(ctx, "corpus", "tokenizer/gpt-neox-20b/tokenizer.json")?;
            push(&["--output", &s(out), "--tokenizer", &s(&tok)]);
        }
        "bff" => {
            let dir = s(input.files[0].parent().unwrap());
            push(&["dedup", "bff", "--inputs", &dir, "--output", &s(out)]);
            push(&BFF_PARAMS);
            let n = input.ngrams.unwrap().to_string();
            push(&["--seed", "0", "--expected-ngram-count", &n]);
        }
        "minhash" => {
            push(&["dedup", "minhash", "--inputs"]);
            push(&files.iter().map(String::as_str).collect::<Vec<_>>());
            push(&["--output", &s(out)]);
        }
        "fasttext" => {
            let model = s(input.model.as_ref().unwrap());
            push(&["quality", "predict", "--inputs", &files[0]]);
            push(&["--model", &model, "--output", &s(out)]);
        }
        "extract" => {
            // FastWARC hands DCLM the HTTP body with its chunked transfer-encoding framing;
            // ours decodes it by default (a documented deviation): the DCLM-exact mode here.
            push(&["extract", "--raw-http-body", "--input"]);
            push(&files.iter().map(String::as_str).collect::<Vec<_>>());
            push(&["--output", &s(&out.join("docs.jsonl"))]);
        }
        other => bail!("unknown benchmark `{other}`"),
    }
    let mut envs = vec![("RAYON_NUM_THREADS".into(), threads.to_string())];
    if name == "fasttext" {
        // Our prediction loop timed in-process, as the peer times its `predict` calls.
        let times = work_times_file(out);
        let _ = std::fs::remove_file(&times);
        envs.push(("LMREPRO_WORK_TIMES".into(), s(&times)));
    }
    Ok(Cmd {
        program: ctx.lmrepro.clone(),
        args,
        envs,
        // Which build ran matters for the figures (a debug build is only good for --smoke).
        label: match (
            &ctx.bin_note,
            ctx.lmrepro.parent().and_then(|d| d.file_name()),
        ) {
            (Some(note), _) => format!("lmrepro ({note})"),
            (None, Some(d)) if d == "release" => "lmrepro (release)".into(),
            (None, Some(d)) if d == "debug" => "lmrepro (debug build)".into(),
            _ => format!("lmrepro ({})", ctx.lmrepro.display()),
        },
    })
}

/// The peer's command, or why it cannot run here.
pub fn peer(
    name: &str,
    ctx: &Ctx,
    input: &Input,
    threads: usize,
    out: &Path,
) -> Result<std::result::Result<Cmd, String>> {
    let p = ctx.peers;
    let script = s(&ctx.root.join("benchmarks/peers/run_peer.py"));
    let files: Vec<String> = input.files.iter().map(|f| s(f)).collect();
    let missing = |what: &str| {
        Ok(Err(format!(
            "{what} not installed (`cargo xtask bench --setup`)"
        )))
    };
    let py = |label: &str, args: Vec<String>| -> Result<std::result::Result<Cmd, String>> {
        let Some(python) = &p.python else {
            return missing(".venv-bench/peers");
        };
        Ok(Ok(Cmd {
            program: python.clone(),
            args,
            envs: vec![
                ("TOKENIZERS_PARALLELISM".into(), (threads > 1).to_string()),
                ("RAYON_RS_NUM_CPUS".into(), threads.to_string()),
                ("OMP_NUM_THREADS".into(), "1".into()),
            ],
            label: label.into(),
        }))
    };
    match name {
        "heuristics" => {
            let (Some(python), Some(src)) = (&p.dclm_python, &p.dclm_src) else {
                return missing(".venv-bench/dclm or the DCLM source");
            };
            let lid = pinned(ctx, "dclm_heuristics", "langid/lid.176.ftz")?;
            Ok(Ok(Cmd {
                program: python.clone(),
                args: vec![
                    script,
                    "heuristics".into(),
                    s(src),
                    files[0].clone(),
                    s(&lid),
                ],
                envs: vec![],
                label: format!("DCLM mappers @{}", &super::peers::DCLM_COMMIT[..7]),
            }))
        }
        "tokenize" => {
            let tok = pinned(ctx, "corpus", "tokenizer/gpt-neox-20b/tokenizer.json")?;
            py(
                "tokenizers encode_batch",
                vec![script, "tokenize".into(), s(&tok), files[0].clone()],
            )
        }
        "bff" => {
            let Some(bff) = &p.bff else {
                return missing("DCLM bff");
            };
            let mut args: Vec<String> = vec!["bff".into(), "--inputs".into()];
            args.push(s(input.files[0].parent().unwrap()));
            args.extend(["--output-directory".into(), s(out)]);
            args.extend([
                "--expected-ngram-count".into(),
                input.ngrams.unwrap().to_string(),
            ]);
            args.extend(BFF_PARAMS.iter().map(|x| x.to_string()));
            args.extend([
                "--no-progress-bar".into(),
                "--threads".into(),
                threads.to_string(),
            ]);
            Ok(Ok(Cmd {
                program: bff.clone(),
                args,
                envs: vec![],
                label: format!("DCLM bff @{}", &super::peers::DCLM_COMMIT[..7]),
            }))
        }
        "minhash" => {
            // The datatrove driver of the conformance work (punkt-free word tokenizer, see
            // benchmarks/curate/README.md), 5-grams, 14 × 8, 64-bit hashes, workers=1; the copy
            // in benchmarks/peers/ also accepts a run without duplicates. `--filter` adds
            // datatrove's fourth step (reader → `MinhashDedupFilter` → zstd-3 `JsonlWriter`),
            // so that both sides do the same job: ours writes the deduplicated shards too.
            let dt = s(&ctx
                .root
                .join("benchmarks/curate/scripts/datatrove_minhash.py"));
            let mut args = vec![
                dt,
                "--filter".into(),
                s(out),
                "5".into(),
                "14".into(),
                "8".into(),
            ];
            args.extend(files);
            py("datatrove 0.10.1", args)
        }
        "fasttext" => {
            let model = s(input.model.as_ref().unwrap());
            let scores = s(&out.join("scores.txt"));
            py(
                "fasttext-wheel 0.9.2",
                vec![script, "fasttext".into(), model, files[0].clone(), scores],
            )
        }
        "extract" => {
            let mut args = vec![script, "extract".into()];
            args.extend(files);
            py("resiliparse 2.0.1", args)
        }
        other => bail!("unknown benchmark `{other}`"),
    }
}

/// The side file where `lmrepro` writes the CPU seconds of its work loop (`LMREPRO_WORK_TIMES`,
/// see `lmrepro_curate::work_timer`): beside the output folder, never inside the stage.
pub fn work_times_file(out: &Path) -> PathBuf {
    out.with_extension("work.jsonl")
}

/// The CPU seconds of `step` summed over the side file's lines (`None`: no such line).
pub fn read_work_cpu(file: &Path, step: &str) -> Result<Option<f64>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut total = None;
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(l)
            .with_context(|| format!("{}: line {}: not JSON", file.display(), i + 1))?;
        if v["step"] != json!(step) {
            continue;
        }
        let c = v["cpu_s"]
            .as_f64()
            .filter(|c| c.is_finite() && *c >= 0.0)
            .with_context(|| format!("{}: line {}: no cpu_s ≥ 0", file.display(), i + 1))?;
        total = Some(total.unwrap_or(0.0) + c);
    }
    Ok(total)
}

/// What our run produced, in the terms of [`compare`].
pub fn summarize_ours(name: &str, out: &Path) -> Result<Value> {
    Ok(match name {
        "heuristics" | "extract" => {
            let file = out.join(if name == "extract" {
                "docs.jsonl"
            } else {
                "kept.jsonl"
            });
            let mut texts = Vec::new();
            for_each_text(&file, |t| texts.push(t.to_string()))?;
            let key = if name == "extract" { "docs" } else { "kept" };
            json!({key: texts.len(), "digest": digest(texts.iter().map(String::as_str))})
        }
        "tokenize" => {
            let st = read_json(&out.join("stats.json"))?;
            json!({"docs": st["documents"], "tokens": st["tokens"]})
        }
        "bff" => {
            let (docs, bytes) = count_docs(&jsonl_files(out)?)?;
            json!({"docs_out": docs, "text_bytes_out": bytes})
        }
        "minhash" => {
            let st = read_json(&out.join("stats.json"))?;
            let pairs = read_pairs(&out.join("_state/dups"))?;
            let (docs, bytes) = count_docs(&jsonl_files(out)?)?;
            json!({"docs_removed": st["minhash"]["docs_removed"], "pairs": pairs.len(),
                   "pairs_digest": pairs_digest(&pairs), "docs_out": docs, "text_bytes_out": bytes})
        }
        "fasttext" => {
            let mut scores = Vec::new();
            for f in jsonl_files(out)? {
                let reader = lmrepro_stage::open_reader(&f)?;
                for (i, line) in reader.lines().enumerate() {
                    let v: Value = serde_json::from_str(&line?)
                        .with_context(|| format!("{}: line {}", f.display(), i + 1))?;
                    scores.push(v["fasttext_hq_prob"].as_f64().with_context(|| {
                        format!("{}: line {}: no fasttext_hq_prob", f.display(), i + 1)
                    })?);
                }
            }
            let mut v = json!({"docs": scores.len(), "scores": scores});
            let times = work_times_file(out);
            // Absent only with a `--bin` older than the timer: the table then shows "–".
            if times.exists() {
                let work = read_work_cpu(&times, "fasttext predict")?
                    .with_context(|| format!("{}: no `fasttext predict` line", times.display()))?;
                v["work_cpu_s"] = json!(work);
            }
            v
        }
        other => bail!("unknown benchmark `{other}`"),
    })
}

/// What the peer's run produced (`stdout`: its last JSON line).
pub fn summarize_peer(name: &str, out: &Path, stdout: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(stdout)?;
    let last = text.lines().rev().find(|l| l.trim_start().starts_with('{'));
    let reported: Value = match last {
        Some(l) => serde_json::from_str(l)
            .with_context(|| format!("{}: last JSON line", stdout.display()))?,
        None => json!({}),
    };
    Ok(match name {
        "heuristics" | "extract" | "tokenize" => reported,
        "bff" => {
            let (docs, bytes) = count_docs(&jsonl_files(out)?)?;
            json!({"docs_out": docs, "text_bytes_out": bytes})
        }
        "minhash" => {
            let res = read_json(&out.join("result.json"))?;
            let mut pairs = BTreeSet::new();
            for p in res["pairs"].as_array().context("result.json: no pairs")? {
                let q: Vec<u32> = serde_json::from_value(p.clone())?;
                pairs.insert(norm_pair([q[0], q[1], q[2], q[3]]));
            }
            let removed = res["removed"].as_array().map_or(0, Vec::len);
            // The filter step's output (its writer leaves out a file that keeps nothing).
            let deduped = out.join("deduped");
            let files = if deduped.is_dir() {
                jsonl_files(&deduped)?
            } else {
                vec![]
            };
            let (docs, bytes) = count_docs(&files)?;
            json!({"docs_removed": removed, "pairs": pairs.len(), "pairs_digest": pairs_digest(&pairs),
                   "docs_out": docs, "text_bytes_out": bytes})
        }
        "fasttext" => {
            let file = out.join("scores.txt");
            let text = std::fs::read_to_string(&file)?;
            let mut scores = Vec::new();
            for (i, l) in text.lines().enumerate() {
                scores.push(
                    l.trim()
                        .parse::<f64>()
                        .with_context(|| format!("{}: line {}", file.display(), i + 1))?,
                );
            }
            let mut v = json!({"docs": scores.len(), "scores": scores});
            v["work_cpu_s"] = reported["work_cpu_s"].clone();
            v
        }
        other => bail!("unknown benchmark `{other}`"),
    })
}

type Pair = ((u32, u32), (u32, u32));

/// A duplicate pair `(file, doc, file, doc)` as an unordered pair.
fn norm_pair(p: [u32; 4]) -> Pair {
    let (a, b) = ((p[0], p[1]), (p[2], p[3]));
    (a.min(b), a.max(b))
}

fn pairs_digest(pairs: &BTreeSet<Pair>) -> String {
    let mut h = Sha256::new();
    for ((a, b), (c, d)) in pairs {
        for x in [a, b, c, d] {
            h.update(x.to_le_bytes());
        }
    }
    hex::encode(h.finalize())
}

/// Our `_state/dups/*` files: little-endian `u32` quadruples, datatrove's `.dups` layout.
fn read_pairs(dir: &Path) -> Result<BTreeSet<Pair>> {
    let mut set = BTreeSet::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for f in files {
        let b = std::fs::read(&f)?;
        if b.len() % 16 != 0 {
            bail!("{}: {} bytes, not a multiple of 16", f.display(), b.len());
        }
        for c in b.chunks_exact(16) {
            let w = |i: usize| u32::from_le_bytes(c[i * 4..i * 4 + 4].try_into().unwrap());
            set.insert(norm_pair([w(0), w(1), w(2), w(3)]));
        }
    }
    Ok(set)
}

/// Whether the outputs agree, and how (one line for the report).
pub fn compare(name: &str, ours: &Value, peer: &Value, input_bytes: u64) -> (bool, String) {
    match name {
        "fasttext" => {
            let (a, b) = (ours["scores"].as_array(), peer["scores"].as_array());
            let (Some(a), Some(b)) = (a, b) else {
                return (false, "scores missing".into());
            };
            if a.len() != b.len() {
                return (false, format!("{} vs {} scores", a.len(), b.len()));
            }
            let max = a
                .iter()
                .zip(b)
                .map(|(x, y)| {
                    (x.as_f64().unwrap_or(f64::NAN) - y.as_f64().unwrap_or(f64::NAN)).abs()
                })
                .fold(
                    0.0f64,
                    |m, d| if d.is_nan() { f64::INFINITY } else { m.max(d) },
                );
            (
                max <= 1e-6,
                format!("{} scores, max abs Δp {max:.1e} (≤ 1e-6)", a.len()),
            )
        }
        "tokenize" => {
            let (ot, od) = (ours["tokens"].as_u64(), ours["docs"].as_u64());
            let pt = peer["tokens"].as_u64();
            match (ot, od, pt) {
                (Some(ot), Some(od), Some(pt)) => (
                    ot == pt + od,
                    format!("tokens {ot} = peer {pt} + {od} EOS: {}", ot == pt + od),
                ),
                _ => (false, "token counts missing".into()),
            }
        }
        "bff" => {
            // DCLM's bff seeds its hashes from the OS and shuffles its files, so its own runs
            // differ (370 docs, 0.03 points of removed bytes on the 800 books): compare within
            // that spread.
            let get = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0) as f64;
            let (od, pd) = (get(ours, "docs_out"), get(peer, "docs_out"));
            let (ob, pb) = (get(ours, "text_bytes_out"), get(peer, "text_bytes_out"));
            let total = input_bytes.max(1) as f64;
            let diff = (ob - pb).abs() / total;
            let ok = (od - pd).abs() <= 2.0 && diff <= 1e-3 && pd > 0.0;
            (
                ok,
                format!(
                    "docs out {od} vs {pd}, removed-bytes gap {:.4} pts (≤ 0.1 pts, ≤ 2 docs: DCLM is unseeded)",
                    diff * 100.0
                ),
            )
        }
        _ => {
            let keys: Vec<&String> = ours
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            let mut diffs = Vec::new();
            for k in &keys {
                if peer.get(k.as_str()) != ours.get(k.as_str()) {
                    diffs.push(format!("{k}: {} vs {}", ours[k.as_str()], peer[k.as_str()]));
                }
            }
            let shown: Vec<String> = keys
                .iter()
                .filter(|k| !k.ends_with("digest"))
                .map(|k| format!("{k} {}", ours[k.as_str()]))
                .collect();
            if diffs.is_empty() {
                (
                    true,
                    format!("identical ({}, digests equal)", shown.join(", ")),
                )
            } else {
                (false, format!("DIFFER: {}", diffs.join("; ")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_run_peer_py() {
        // python3 -c 'import hashlib;h=hashlib.sha256();[h.update(t.encode()+b"\0") for t in ["a","é"]];print(h.hexdigest())'
        assert_eq!(
            digest(["a", "é"]),
            "0e9c47b6877125305a26b20e97e5ff44af427f07be26c9f947101e4cfcd43983"
        );
    }

    #[test]
    fn compare_reports_differences() {
        let a = json!({"kept": 3, "digest": "x"});
        let b = json!({"kept": 3, "digest": "y", "work_cpu_s": 1.0});
        let (ok, why) = compare("heuristics", &a, &b, 0);
        assert!(!ok && why.contains("digest"), "{why}");
        assert!(compare("heuristics", &a, &a, 0).0);
        let t = |o: u64, d: u64, p: u64| {
            compare(
                "tokenize",
                &json!({"tokens": o, "docs": d}),
                &json!({"tokens": p}),
                0,
            )
            .0
        };
        assert!(t(110, 10, 100) && !t(110, 10, 101));
        let f = |x: f64| {
            compare(
                "fasttext",
                &json!({"scores": [0.5, 0.25]}),
                &json!({"scores": [0.5, x]}),
                0,
            )
            .0
        };
        assert!(f(0.25 + 5e-7) && !f(0.25 + 2e-6) && !f(f64::NAN));
        let bff = |od: u64, ob: u64| {
            let o = json!({"docs_out": od, "text_bytes_out": ob});
            let p = json!({"docs_out": 757, "text_bytes_out": 194_690_217u64});
            compare("bff", &o, &p, 206_400_000).0
        };
        assert!(bff(757, 194_691_754) && !bff(750, 194_691_754) && !bff(757, 194_000_000));
    }

    #[test]
    fn bad_jsonl_names_file_and_line() {
        let dir = std::env::temp_dir().join(format!("xtask-jsonl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("docs.jsonl");
        std::fs::write(&f, "{\"text\": \"a\"}\n\n{\"text\": \"bc\"}\n").unwrap();
        assert_eq!(count_docs(std::slice::from_ref(&f)).unwrap(), (2, 3));
        std::fs::write(&f, "{\"text\": \"a\"}\n{\"id\": 1}\n").unwrap();
        let e = format!("{:#}", count_docs(std::slice::from_ref(&f)).unwrap_err());
        assert!(e.contains("docs.jsonl: line 2: no string `text`"), "{e}");
        std::fs::write(&f, "{\"text\": \"a\"}\n{oops\n").unwrap();
        let e = format!("{:#}", count_docs(std::slice::from_ref(&f)).unwrap_err());
        assert!(e.contains("docs.jsonl: line 2: not JSON"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn work_times_sum_the_step_and_name_bad_lines() {
        let dir = std::env::temp_dir().join(format!("xtask-work-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("fasttext-ours");
        let f = work_times_file(&out);
        assert_eq!(f, dir.join("fasttext-ours.work.jsonl"));
        std::fs::write(
            &f,
            "{\"step\":\"fasttext predict\",\"cpu_s\":1.5,\"wall_s\":2}\n\n\
             {\"step\":\"other\",\"cpu_s\":9}\n\
             {\"step\":\"fasttext predict\",\"cpu_s\":0.25}\n",
        )
        .unwrap();
        assert_eq!(read_work_cpu(&f, "fasttext predict").unwrap(), Some(1.75));
        assert_eq!(read_work_cpu(&f, "missing").unwrap(), None);
        std::fs::write(&f, "{\"step\":\"fasttext predict\",\"cpu_s\":-1}\n").unwrap();
        let e = format!("{:#}", read_work_cpu(&f, "fasttext predict").unwrap_err());
        assert!(
            e.contains("fasttext-ours.work.jsonl: line 1: no cpu_s"),
            "{e}"
        );
        std::fs::write(&f, "{\"step\":\"fasttext predict\",\"cpu_s\":1}\n{oops\n").unwrap();
        let e = format!("{:#}", read_work_cpu(&f, "fasttext predict").unwrap_err());
        assert!(e.contains("line 2: not JSON"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pairs_are_unordered_and_files_must_be_whole_records() {
        assert_eq!(norm_pair([1, 5, 0, 7]), norm_pair([0, 7, 1, 5]));
        let dir = std::env::temp_dir().join(format!("xtask-pairs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rec: Vec<u8> = [0u32, 1, 0, 2]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        std::fs::write(dir.join("00.dups"), [rec.clone(), rec.clone()].concat()).unwrap();
        assert_eq!(read_pairs(&dir).unwrap().len(), 1);
        std::fs::write(dir.join("01.dups"), &rec[..10]).unwrap();
        let e = read_pairs(&dir).unwrap_err().to_string();
        assert!(e.contains("01.dups") && e.contains("16"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
