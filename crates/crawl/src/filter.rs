//! `crawl filter`: DCLM heuristics over JSONL shards, in parallel, resumable.
//!
//! Each input is one shard of a [`ShardedStage`]: its output is written under a temporary name and
//! renamed, then its marker `_done/<shard>` records the stats, so a rerun skips finished shards.

use crate::page::{kept_json, Page};
use crate::pipeline::{Outcome, Pipeline, PipelineArgs};
use crate::runner::{self, Counts};
use anyhow::{bail, Context, Result};
use lmrepro_stage::jsonl::{create_writer, open_reader, unique_names};
use lmrepro_stage::{parse_doc, Doc, ShardedStage, Tally};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct FilterArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
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
    /// Do not print the per-step report.
    #[arg(long)]
    pub quiet: bool,
}

lmrepro_stage::tally! {
    /// Counts of one shard; the run's totals are their sum.
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
    pub struct FilterCounts {
        pub input_bytes: u64,
        pub malformed_skipped: u64,
        /// Bytes of the (well-formed) input lines.
        pub text_bytes_in: u64,
        #[serde(flatten)]
        pub pipeline: Counts,
    }
}

/// One shard: where from, where to, and its counts (also stored in its completion marker).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ShardStats {
    pub input: String,
    pub output: String,
    #[serde(flatten)]
    pub counts: FilterCounts,
}

/// What a shard's marker vouches for: a shard is resumed only under the same pipeline (name and
/// steps), mode and input (path and size).
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
    pub total: FilterCounts,
    pub seconds: f64,
    pub threads: usize,
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

/// The stage folder and the shard name (= output file name) of each input: one input and an
/// output that is not a directory → that file, in its folder; otherwise the output directory with
/// one output per input, named like the input (prefixed with its index if two names collide).
fn layout(args: &FilterArgs) -> Result<(ShardedStage, Vec<String>)> {
    let file_name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if args.input.len() == 1 && !args.output.is_dir() {
        let dir = args
            .output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = file_name(&args.output);
        if name.is_empty() {
            bail!("--output {} has no file name", args.output.display());
        }
        return Ok((ShardedStage::create(dir)?, vec![name]));
    }
    Ok((
        ShardedStage::create(&args.output)?,
        unique_names(&args.input, file_name),
    ))
}

/// The stats of a shard finished by an earlier run, if its marker matches this run.
fn resumable(
    stage: &ShardedStage,
    shard: &str,
    input: &Path,
    pipeline: &Pipeline,
    annotate: bool,
) -> Option<ShardStats> {
    if !stage.is_done(shard) || !stage.output_path(shard, "").is_file() {
        return None;
    }
    // A marker of an older build that does not parse is not trusted: the shard is redone.
    let m: Marker = stage.done_stats(shard).ok()?;
    let size = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
    let same_steps = m
        .stats
        .counts
        .pipeline
        .steps
        .iter()
        .map(|s| &s.id)
        .eq(pipeline.steps.iter().map(|s| &s.id));
    (m.pipeline == pipeline.name
        && same_steps
        && m.annotate == annotate
        && m.stats.input == input.display().to_string()
        && m.stats.counts.input_bytes == size)
        .then_some(m.stats)
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
    let pipeline = args.pipeline.load(resolver)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("starting worker threads")?;
    let threads = pool.current_num_threads();
    let start = Instant::now();
    let (stage, names) = layout(args)?;
    let mut shards = Vec::new();
    let mut resumed = Vec::new();
    for (input, shard) in args.input.iter().zip(&names) {
        if !args.force {
            if let Some(stats) = resumable(&stage, shard, input, &pipeline, args.annotate) {
                resumed.push(stats.output.clone());
                shards.push(stats);
                continue;
            }
        }
        // A forced or changed shard loses its marker first, so that an interrupted rerun never
        // leaves an old marker vouching for a new output.
        stage.clear(shard)?;
        let stats = pool.install(|| filter_shard(args, &pipeline, input, &stage, shard))?;
        let marker = Marker {
            pipeline: pipeline.name.clone(),
            annotate: args.annotate,
            stats: stats.clone(),
        };
        stage.mark_done(shard, &marker)?;
        shards.push(stats);
    }
    let mut total = FilterCounts {
        pipeline: Counts::new(&pipeline),
        ..FilterCounts::default()
    };
    for s in &shards {
        total.tally(&s.counts);
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
    let p = &t.pipeline;
    let mut s = format!(
        "pipeline {}: {} docs in, {} kept ({} malformed skipped) in {:.2}s on {} threads\n",
        stats.pipeline, p.docs_in, p.docs_kept, t.malformed_skipped, stats.seconds, stats.threads
    );
    if p.pages_without_url > 0 {
        s += &format!(
            "{} page(s) have no url / metadata.WARC-Target-URI: the URL steps (move_url_modifier, url_substring_filter) were skipped for them\n",
            p.pages_without_url
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
    for st in p.steps.iter() {
        let c = &st.count;
        s += &format!(
            "{:<40} {:>10} {:>10} {:>9} {:>7} {:>8}\n",
            st.id, c.pages_in, c.pages_out, c.removed, c.errors, c.skipped
        );
    }
    s
}

/// Lines read and parsed per parallel batch.
const CHUNK: usize = 4096;

/// A line as a document and its page, or why it is malformed.
fn parse_line(line: &std::result::Result<String, String>) -> Result<(Doc, Page), String> {
    let line = line.as_ref().map_err(Clone::clone)?;
    let doc = parse_doc(line).map_err(|e| format!("{e:#}"))?;
    let page = Page::from_doc(&doc).map_err(|e| format!("{e:#}"))?;
    Ok((doc, page))
}

fn filter_shard(
    args: &FilterArgs,
    pipeline: &Pipeline,
    input: &Path,
    stage: &ShardedStage,
    shard: &str,
) -> Result<ShardStats> {
    let out = stage.output_path(shard, "");
    let tmp = stage.temp_path(shard, "");
    // Lines are read here rather than with `DocReader`: the annotate contract is one verdict per
    // input line, so blank and non-UTF-8 lines are malformed documents, not skipped or fatal.
    let mut reader = open_reader(input)?;
    let mut w = create_writer(&tmp)?;
    let mut stats = ShardStats {
        input: input.display().to_string(),
        output: out.display().to_string(),
        counts: FilterCounts {
            input_bytes: std::fs::metadata(input).map(|m| m.len()).unwrap_or(0),
            pipeline: Counts::new(pipeline),
            ..FilterCounts::default()
        },
    };
    let counts = &mut stats.counts;
    let pb = lmrepro_stage::progress::spinner(&input.display().to_string());
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
        let parsed: Vec<_> = chunk.par_iter().map(|(_, l)| parse_line(l)).collect();
        let mut batch = Vec::with_capacity(chunk.len());
        for ((no, line), r) in chunk.iter().zip(parsed) {
            match r {
                Err(_) if args.skip_malformed => counts.malformed_skipped += 1,
                Err(e) => bail!("{}:{no}: malformed document: {e}", input.display()),
                Ok(doc_page) => {
                    counts.text_bytes_in += line.as_ref().map_or(0, |l| l.len() as u64);
                    batch.push(doc_page);
                }
            }
        }
        for (doc, outcome) in runner::run_batch(pipeline, batch, &mut counts.pipeline) {
            if args.annotate {
                writeln!(w, "{}", annotate_line(&outcome, pipeline))?;
            } else if outcome.kept() {
                serde_json::to_writer(&mut w, &kept_json(doc, &outcome.page))?;
                w.write_all(b"\n")?;
            }
        }
        pb.inc(chunk.len() as u64);
    }
    w.finish()?;
    pb.finish_and_clear();
    std::fs::rename(&tmp, &out)
        .with_context(|| format!("moving {} to {}", tmp.display(), out.display()))?;
    Ok(stats)
}
