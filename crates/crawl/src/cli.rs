//! `lmrepro crawl filter`: DCLM heuristics over JSONL shards, in parallel, resumable.

use crate::assets::{Assets, CuratedDomains};
use crate::io;
use crate::pipeline::{Outcome, Pipeline};
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Apply a DCLM heuristic pipeline to JSONL documents (`text`, optional `url` or
    /// `metadata.WARC-Target-URI`); prints pages in/out per step like DCLM.
    Filter(FilterArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct FilterArgs {
    /// `dclm-baseline-refinedweb` (built in) or a pipeline yaml in DCLM's schema.
    #[arg(long, default_value = crate::pipeline::DCLM_BASELINE_REFINEDWEB)]
    pub pipeline: String,
    /// The yaml `source` to use when the yaml lists several.
    #[arg(long)]
    pub source: Option<String>,
    /// Write one line per input line, in order: {"kept", "dropped_by", "text"}.
    #[arg(long)]
    pub annotate: bool,
    /// Input JSONL files (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Output file (one input) or directory (several inputs: one shard per input, same name).
    /// `.zst` / `.gz` names are compressed.
    #[arg(long)]
    pub output: PathBuf,
    /// JSON stats file (default: `<output>.stats.json`).
    #[arg(long)]
    pub stats: Option<PathBuf>,
    /// Count and skip malformed lines instead of failing (not with --annotate, which needs one
    /// verdict per line).
    #[arg(long)]
    pub skip_malformed: bool,
    /// Redo shards that have a completion marker.
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// A DCLM checkout whose banlists / TLD list / lid.176.bin are used instead of pinned inputs.
    #[arg(long)]
    pub dclm_root: Option<PathBuf>,
    /// A fastText LID model to use instead of the pinned lid.176.ftz.
    #[arg(long)]
    pub lid_model: Option<PathBuf>,
    /// The curated domain banlist is not published: use an empty list or fail.
    #[arg(long, value_enum, default_value_t = CuratedDomains::Empty)]
    pub curated_domains: CuratedDomains,
    /// Do not print the per-step report.
    #[arg(long)]
    pub quiet: bool,
}

/// Pages in/out of one step.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StepStats {
    pub index: usize,
    pub func: String,
    pub id: String,
    pub pages_in: u64,
    pub pages_out: u64,
    pub removed: u64,
    pub errors: u64,
    /// Pages the step did not apply to (URL steps on pages without URL); they pass on.
    pub skipped: u64,
}

/// Counts of one shard (also stored in its completion marker).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ShardStats {
    pub input: String,
    pub input_bytes: u64,
    pub output: String,
    pub docs_in: u64,
    pub docs_kept: u64,
    pub malformed_skipped: u64,
    pub pages_without_url: u64,
    pub text_bytes_in: u64,
    pub steps: Vec<StepStats>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    pipeline: String,
    annotate: bool,
    stats: ShardStats,
}

/// The JSON stats report.
#[derive(Debug, Clone, Serialize)]
pub struct RunStats {
    pub pipeline: String,
    pub notes: Vec<String>,
    pub shards: Vec<ShardStats>,
    pub shards_resumed: Vec<String>,
    pub total: ShardStats,
    pub seconds: f64,
    pub threads: usize,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Filter(a) => filter(&a).map(|_| ()),
    }
}

/// One annotate line, keys in the contract's order.
pub fn annotate_line(out: &Outcome, pipeline: &Pipeline) -> String {
    match &out.stop {
        None => format!(
            "{{\"kept\": true, \"dropped_by\": null, \"text\": {}}}",
            serde_json::to_string(&out.page.text).expect("string serialises")
        ),
        Some(stop) => format!(
            "{{\"kept\": false, \"dropped_by\": {}, \"text\": null}}",
            serde_json::to_string(&pipeline.steps[stop.step].func).expect("string serialises")
        ),
    }
}

fn empty_steps(p: &Pipeline) -> Vec<StepStats> {
    p.steps
        .iter()
        .map(|s| StepStats {
            index: s.index,
            func: s.func.clone(),
            id: s.id.clone(),
            ..Default::default()
        })
        .collect()
}

/// Adds one outcome to per-step counts.
pub fn count_outcome(steps: &mut [StepStats], out: &Outcome) {
    let end = out.stop.as_ref().map_or(steps.len(), |s| s.step + 1);
    for st in steps.iter_mut().take(end) {
        st.pages_in += 1;
        if out.skipped.contains(&st.index) {
            st.skipped += 1;
        }
    }
    match &out.stop {
        None => {}
        Some(s) if s.error.is_some() => steps[s.step].errors += 1,
        Some(s) => steps[s.step].removed += 1,
    }
    for st in steps.iter_mut().take(end) {
        st.pages_out = st.pages_in - st.removed - st.errors;
    }
}

fn shard_output(args: &FilterArgs, input: &Path) -> Result<PathBuf> {
    if args.input.len() == 1 && !args.output.is_dir() {
        return Ok(args.output.clone());
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let name = input.file_name().context("input has no file name")?;
    Ok(args.output.join(name))
}

fn marker_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".done");
    PathBuf::from(s)
}

/// Runs `crawl filter` with inputs resolved from the environment; returns the stats it wrote.
pub fn filter(args: &FilterArgs) -> Result<RunStats> {
    filter_with(args, lmrepro_data::Resolver::from_env())
}

/// [`filter`] with an explicit resolver for the pinned inputs.
pub fn filter_with(args: &FilterArgs, resolver: lmrepro_data::Resolver) -> Result<RunStats> {
    if args.annotate && args.skip_malformed {
        bail!("--skip-malformed cannot be combined with --annotate (annotate writes one verdict per input line)");
    }
    let mut assets = Assets::new(resolver);
    assets.dclm_root = args.dclm_root.clone();
    assets.lid_model_path = args.lid_model.clone();
    assets.curated_domains = args.curated_domains;
    let pipeline = Pipeline::load(&args.pipeline, args.source.as_deref(), &assets)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("starting worker threads")?;
    let threads = pool.current_num_threads();
    let start = Instant::now();
    let mut shards = Vec::new();
    let mut resumed = Vec::new();
    for input in &args.input {
        let out = shard_output(args, input)?;
        let marker = marker_path(&out);
        if !args.force && marker.is_file() && out.is_file() {
            let m: Option<Marker> = std::fs::read_to_string(&marker)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
            if let Some(m) = m {
                let size = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
                if m.pipeline == pipeline.name
                    && m.annotate == args.annotate
                    && m.stats.input == input.display().to_string()
                    && m.stats.input_bytes == size
                {
                    resumed.push(out.display().to_string());
                    shards.push(m.stats);
                    continue;
                }
            }
        }
        let stats = pool.install(|| filter_shard(args, &pipeline, input, &out))?;
        let m = Marker {
            pipeline: pipeline.name.clone(),
            annotate: args.annotate,
            stats: stats.clone(),
        };
        std::fs::write(&marker, serde_json::to_string_pretty(&m)? + "\n")
            .with_context(|| format!("writing completion marker {}", marker.display()))?;
        shards.push(stats);
    }
    let mut total = ShardStats {
        input: format!("{} file(s)", shards.len()),
        output: args.output.display().to_string(),
        steps: empty_steps(&pipeline),
        ..Default::default()
    };
    for s in &shards {
        total.input_bytes += s.input_bytes;
        total.docs_in += s.docs_in;
        total.docs_kept += s.docs_kept;
        total.malformed_skipped += s.malformed_skipped;
        total.pages_without_url += s.pages_without_url;
        total.text_bytes_in += s.text_bytes_in;
        for (t, x) in total.steps.iter_mut().zip(&s.steps) {
            t.pages_in += x.pages_in;
            t.pages_out += x.pages_out;
            t.removed += x.removed;
            t.errors += x.errors;
            t.skipped += x.skipped;
        }
    }
    let stats = RunStats {
        pipeline: pipeline.name.clone(),
        notes: pipeline.notes.clone(),
        shards,
        shards_resumed: resumed,
        total,
        seconds: start.elapsed().as_secs_f64(),
        threads,
    };
    let stats_path = args.stats.clone().unwrap_or_else(|| {
        let mut s = args.output.as_os_str().to_owned();
        s.push(".stats.json");
        PathBuf::from(s)
    });
    std::fs::write(&stats_path, serde_json::to_string_pretty(&stats)? + "\n")
        .with_context(|| format!("writing {}", stats_path.display()))?;
    if !args.quiet {
        eprint!("{}", report(&stats));
    }
    Ok(stats)
}

/// The per-step report (pages in/out per step).
pub fn report(stats: &RunStats) -> String {
    let t = &stats.total;
    let mut s = format!(
        "pipeline {}: {} docs in, {} kept ({} malformed skipped) in {:.2}s on {} threads\n",
        stats.pipeline, t.docs_in, t.docs_kept, t.malformed_skipped, stats.seconds, stats.threads
    );
    if t.pages_without_url > 0 {
        s += &format!(
            "{} page(s) have no url / metadata.WARC-Target-URI: the URL steps (move_url_modifier, url_substring_filter) were skipped for them\n",
            t.pages_without_url
        );
    }
    for n in &stats.notes {
        s += &format!("note: {n}\n");
    }
    if !stats.shards_resumed.is_empty() {
        s += &format!(
            "resumed (completion marker found): {}\n",
            stats.shards_resumed.join(", ")
        );
    }
    s += &format!(
        "{:<40} {:>10} {:>10} {:>9} {:>7} {:>8}\n",
        "step", "in", "out", "removed", "errors", "skipped"
    );
    for st in &t.steps {
        s += &format!(
            "{:<40} {:>10} {:>10} {:>9} {:>7} {:>8}\n",
            st.id, st.pages_in, st.pages_out, st.removed, st.errors, st.skipped
        );
    }
    s
}

enum LineResult {
    Malformed(String),
    Done(Box<(serde_json::Map<String, serde_json::Value>, Outcome)>),
}

const CHUNK: usize = 4096;

fn filter_shard(
    args: &FilterArgs,
    pipeline: &Pipeline,
    input: &Path,
    out: &Path,
) -> Result<ShardStats> {
    let mut reader = io::open_lines(input)?;
    let tmp = {
        let mut s = out.as_os_str().to_owned();
        s.push(".tmp");
        PathBuf::from(s)
    };
    let mut w = io::create_writer(&tmp)?;
    let mut stats = ShardStats {
        input: input.display().to_string(),
        input_bytes: std::fs::metadata(input).map(|m| m.len()).unwrap_or(0),
        output: out.display().to_string(),
        steps: empty_steps(pipeline),
        ..Default::default()
    };
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} docs ({per_sec}) {elapsed}")
            .expect("progress template"),
    );
    pb.set_message(input.display().to_string());
    let mut line_no: u64 = 0;
    let mut buf = Vec::new();
    loop {
        let mut chunk: Vec<(u64, std::result::Result<String, String>)> = Vec::with_capacity(CHUNK);
        while chunk.len() < CHUNK {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .with_context(|| format!("{}: reading after line {line_no}", input.display()))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            let line = String::from_utf8(std::mem::take(&mut buf))
                .map_err(|e| format!("invalid UTF-8: {e}"));
            chunk.push((line_no, line));
        }
        if chunk.is_empty() {
            break;
        }
        let results: Vec<LineResult> = chunk
            .par_iter()
            .map(|(_, line)| match line {
                Err(e) => LineResult::Malformed(e.clone()),
                Ok(l) => match io::parse_doc(l) {
                    Err(e) => LineResult::Malformed(e),
                    Ok(doc) => LineResult::Done(Box::new((doc.json, pipeline.run(doc.page)))),
                },
            })
            .collect();
        for ((no, line), r) in chunk.iter().zip(results) {
            match r {
                LineResult::Malformed(e) => {
                    if args.skip_malformed {
                        stats.malformed_skipped += 1;
                        continue;
                    }
                    bail!("{}:{no}: malformed document: {e}", input.display());
                }
                LineResult::Done(b) => {
                    let (json, outcome) = *b;
                    stats.docs_in += 1;
                    stats.text_bytes_in += line.as_ref().map_or(0, |l| l.len() as u64);
                    if !outcome.skipped.is_empty() {
                        stats.pages_without_url += 1;
                    }
                    count_outcome(&mut stats.steps, &outcome);
                    if outcome.kept() {
                        stats.docs_kept += 1;
                    }
                    if args.annotate {
                        writeln!(w, "{}", annotate_line(&outcome, pipeline))?;
                    } else if outcome.kept() {
                        let v = io::kept_json(json, &outcome.page);
                        serde_json::to_writer(&mut w, &v)?;
                        w.write_all(b"\n")?;
                    }
                }
            }
        }
        pb.inc(chunk.len() as u64);
    }
    w.flush()?;
    drop(w);
    pb.finish_and_clear();
    std::fs::rename(&tmp, out)
        .with_context(|| format!("moving {} to {}", tmp.display(), out.display()))?;
    Ok(stats)
}
