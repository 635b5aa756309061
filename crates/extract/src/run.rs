//! `crawl extract`: WARC files → one jsonl(.zst) of documents, plus a JSON stats report.
//!
//! Files are processed in parallel (rayon), each into its own part (compressed like the output)
//! that is appended to the output in input order, so the output is the same for any thread count.
//! A bad record is reported on stderr with file and offset, counted in the stats, and the run goes
//! on.

use crate::pipeline::{extract_warc, DocError, Options};
use crate::warc::Compression;
use anyhow::{Context, Result};
use indicatif::ProgressBar;
use lmrepro_stage::jsonl::create_writer;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, clap::Args)]
pub struct ExtractArgs {
    /// WARC files (uncompressed, gzip or zstd; detected from content).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Output file; `.zst` → zstd-compressed jsonl, `.gz` → gzip, otherwise plain jsonl.
    #[arg(long)]
    pub output: PathBuf,
    /// Stats report (default: `<output>.stats.json`).
    #[arg(long)]
    pub stats: Option<PathBuf>,
    #[command(flatten)]
    pub options: Options,
}

/// An error kept in the stats (the first [`MAX_ERRORS_KEPT`] per file).
#[derive(Debug, Clone, Serialize)]
pub struct RecordError {
    pub offset: u64,
    pub reason: String,
    pub message: String,
}

pub const MAX_ERRORS_KEPT: usize = 100;

lmrepro_stage::tally! {
    /// Counts of one file; the run's totals are their sum.
    #[derive(Debug, Clone, Default, Serialize)]
    pub struct Counts {
        /// WARC records read, of any type, including broken ones.
        pub records_read: u64,
        /// Records of another type than `response` (request, metadata, warcinfo, ...).
        pub non_response: u64,
        /// Documents written.
        pub documents: u64,
        /// Response records (or broken records) that gave no document.
        pub skipped_total: u64,
        /// ... by reason (`non_utf8`, `corrupt_gzip_member`, `truncated_record`, ...).
        pub skipped: BTreeMap<String, u64>,
        /// Bytes of text written.
        pub text_bytes: u64,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FileStats {
    pub path: String,
    pub compression: Option<Compression>,
    pub bytes: u64,
    #[serde(flatten)]
    pub counts: Counts,
    /// Set when the file could not be opened at all.
    pub open_error: Option<String>,
    pub errors: Vec<RecordError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub output: String,
    pub options: Options,
    pub files: Vec<FileStats>,
    pub totals: Counts,
    pub elapsed_s: f64,
}

/// Writes one file's documents to `part` (compressed as its name says).
fn extract_one(
    path: &Path,
    opts: &Options,
    part: &Path,
    progress: &ProgressBar,
    docs_done: &AtomicU64,
) -> Result<FileStats> {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut fs = FileStats {
        path: path.display().to_string(),
        compression: None,
        bytes,
        counts: Counts::default(),
        open_error: None,
        errors: Vec::new(),
    };
    let mut it = match extract_warc(path, opts) {
        Ok(it) => it,
        Err(e) => {
            progress.println(format!("error: {e}"));
            fs.open_error = Some(e.to_string());
            // An empty part keeps the concatenation in input order simple.
            std::fs::write(part, b"")?;
            return Ok(fs);
        }
    };
    let mut w = create_writer(part)?;
    loop {
        // Within-file parallelism only when there are fewer files than threads.
        let batch = it.next_batch_par(32);
        if batch.is_empty() {
            break;
        }
        let mut added = 0;
        for r in batch {
            match r {
                Ok(doc) => {
                    fs.counts.documents += 1;
                    added += 1;
                    fs.counts.text_bytes += doc.text.len() as u64;
                    serde_json::to_writer(&mut w, &doc)?;
                    w.write_all(b"\n")?;
                }
                Err(e) => {
                    fs.counts.skipped_total += 1;
                    *fs.counts.skipped.entry(e.kind().to_string()).or_insert(0) += 1;
                    let offset = match &e {
                        DocError::Warc { source, .. } => source.offset(),
                        DocError::Skipped { offset, .. } => *offset,
                    };
                    // Non-UTF-8 pages are an expected, counted skip; real damage is printed.
                    if !matches!(e, DocError::Skipped { .. }) {
                        progress.println(format!("warning: {e} (skipped, run continues)"));
                    }
                    if fs.errors.len() < MAX_ERRORS_KEPT {
                        fs.errors.push(RecordError {
                            offset,
                            reason: e.kind().to_string(),
                            message: e.to_string(),
                        });
                    }
                }
            }
        }
        let d = docs_done.fetch_add(added, Ordering::Relaxed) + added;
        progress.set_message(format!("files, {d} docs"));
    }
    w.finish()?;
    fs.counts.records_read = it.records_read;
    fs.counts.non_response = it.non_response;
    fs.compression = Some(it.compression());
    progress.inc(1);
    Ok(fs)
}

/// Runs `crawl extract` and writes the stats report; returns the stats.
pub fn run_extract(args: &ExtractArgs) -> Result<Stats> {
    let start = std::time::Instant::now();
    let opts = &args.options;
    let out_dir = args
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(out_dir)?;
    let tmp = tempfile::Builder::new()
        .prefix(".crawl-extract-")
        .tempdir_in(out_dir)
        .context("creating a temporary folder next to the output")?;
    // Parts are named after the output so that they are compressed like it (zstd frames and gzip
    // members concatenate into a valid stream).
    let out_name = args
        .output
        .file_name()
        .with_context(|| format!("--output {} has no file name", args.output.display()))?
        .to_string_lossy()
        .into_owned();
    let part = |i: usize| tmp.path().join(format!("{i:06}-{out_name}"));
    let progress = lmrepro_stage::progress::bar(args.input.len() as u64, "files");
    let docs_done = AtomicU64::new(0);
    let files: Vec<FileStats> = args
        .input
        .par_iter()
        .enumerate()
        .map(|(i, path)| extract_one(path, opts, &part(i), &progress, &docs_done))
        .collect::<Result<_>>()?;
    progress.finish_and_clear();

    let out_tmp = tmp.path().join("output");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&out_tmp)?);
        for i in 0..args.input.len() {
            let mut f = std::fs::File::open(part(i))?;
            std::io::copy(&mut f, &mut out)?;
        }
        out.flush()?;
    }
    std::fs::rename(&out_tmp, &args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;

    let stats = Stats {
        output: args.output.display().to_string(),
        options: opts.clone(),
        totals: lmrepro_stage::sum(files.iter().map(|f| &f.counts)),
        files,
        elapsed_s: (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    };
    let stats_path = args.stats.clone().unwrap_or_else(|| {
        let mut s = args.output.clone().into_os_string();
        s.push(".stats.json");
        PathBuf::from(s)
    });
    std::fs::write(&stats_path, serde_json::to_string_pretty(&stats)? + "\n")
        .with_context(|| stats_path.display().to_string())?;
    Ok(stats)
}
