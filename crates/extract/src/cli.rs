//! `crawl extract`: WARC files → one jsonl(.zst) of documents, plus a JSON stats report.
//!
//! Files are processed in parallel (rayon), each into its own zstd (or plain) part that is
//! appended to the output in input order, so the output is the same for any thread count. A bad
//! record is reported on stderr with file and offset, counted in the stats, and the run goes on.

use crate::extract::ExtractOptions;
use crate::pipeline::{extract_warc, Decoding, DocError, Options};
use crate::warc::Compression;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Extract main-content text from WARC files into jsonl(.zst) documents
    /// `{"id","text","url","metadata"}`.
    Extract(ExtractArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExtractArgs {
    /// WARC files (uncompressed, gzip or zstd; detected from content).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Output file; `.zst` → zstd-compressed jsonl, otherwise plain jsonl.
    #[arg(long)]
    pub output: PathBuf,
    /// Stats report (default: `<output>.stats.json`).
    #[arg(long)]
    pub stats: Option<PathBuf>,
    /// Payload decoding: `strict-utf8` (DCLM: skip non-UTF-8 pages) or `charset` (deviation:
    /// decode with the declared / detected charset).
    #[arg(long, value_enum, default_value = "strict-utf8")]
    pub decoding: DecodingArg,
    /// Extract all text, not only the main content (resiliparse `main_content=False`).
    #[arg(long)]
    pub all_text: bool,
    /// Keep chunked transfer-encoding framing in payloads (FastWARC's behaviour).
    #[arg(long)]
    pub raw_http_body: bool,
    /// Skip records whose HTTP payload is larger than this many bytes (0 = no limit).
    #[arg(long, default_value_t = 0)]
    pub max_payload_bytes: u64,
    /// zstd level of the output.
    #[arg(long, default_value_t = 3)]
    pub zstd_level: i32,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DecodingArg {
    StrictUtf8,
    Charset,
}

impl ExtractArgs {
    pub fn options(&self) -> Options {
        Options {
            extract: ExtractOptions {
                main_content: !self.all_text,
                ..ExtractOptions::dclm()
            },
            decoding: match self.decoding {
                DecodingArg::StrictUtf8 => Decoding::StrictUtf8,
                DecodingArg::Charset => Decoding::Charset,
            },
            decode_chunked: !self.raw_http_body,
            max_payload_bytes: self.max_payload_bytes,
        }
    }
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Extract(args) => {
            let stats = run_extract(&args)?;
            eprintln!(
                "extracted {} documents from {} records in {} files ({} skipped)",
                stats.totals.documents,
                stats.totals.records_read,
                stats.files.len(),
                stats.totals.skipped_total
            );
            Ok(())
        }
    }
}

/// An error kept in the stats (the first [`MAX_ERRORS_KEPT`] per file).
#[derive(Debug, Clone, Serialize)]
pub struct RecordError {
    pub offset: u64,
    pub reason: String,
    pub message: String,
}

pub const MAX_ERRORS_KEPT: usize = 100;

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

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.records_read += o.records_read;
        self.non_response += o.non_response;
        self.documents += o.documents;
        self.skipped_total += o.skipped_total;
        self.text_bytes += o.text_bytes;
        for (k, v) in &o.skipped {
            *self.skipped.entry(k.clone()).or_insert(0) += v;
        }
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

/// Writes one file's documents to `part` (zstd when `zstd_level` is `Some`).
fn extract_one(
    path: &Path,
    opts: &Options,
    part: &Path,
    zstd_level: Option<i32>,
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
            std::fs::write(part, b"")?;
            return Ok(fs);
        }
    };
    let file = std::fs::File::create(part).with_context(|| part.display().to_string())?;
    let mut w: Box<dyn Write> = match zstd_level {
        Some(l) => Box::new(zstd::Encoder::new(file, l)?.auto_finish()),
        None => Box::new(std::io::BufWriter::new(file)),
    };
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
        progress.set_message(format!("{d} docs"));
    }
    w.flush()?;
    drop(w);
    fs.counts.records_read = it.records_read;
    fs.counts.non_response = it.non_response;
    fs.compression = Some(it.compression());
    progress.inc(1);
    Ok(fs)
}

/// Runs `crawl extract` and writes the stats report; returns the stats.
pub fn run_extract(args: &ExtractArgs) -> Result<Stats> {
    let start = std::time::Instant::now();
    let opts = args.options();
    let zstd_level = args
        .output
        .extension()
        .is_some_and(|e| e == "zst")
        .then_some(args.zstd_level);
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
    let progress = ProgressBar::new(args.input.len() as u64);
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files, {msg}",
        )
        .expect("valid template"),
    );
    let docs_done = AtomicU64::new(0);
    let files: Vec<FileStats> = args
        .input
        .par_iter()
        .enumerate()
        .map(|(i, path)| {
            let part = tmp.path().join(format!("{i:06}.part"));
            extract_one(path, &opts, &part, zstd_level, &progress, &docs_done)
        })
        .collect::<Result<_>>()?;
    progress.finish_and_clear();

    // Concatenate the parts in input order (zstd frames concatenate into a valid stream).
    let out_tmp = tmp.path().join("output");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&out_tmp)?);
        for i in 0..args.input.len() {
            let part = tmp.path().join(format!("{i:06}.part"));
            let mut f = std::fs::File::open(&part)?;
            std::io::copy(&mut f, &mut out)?;
        }
        out.flush()?;
    }
    std::fs::rename(&out_tmp, &args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;

    let mut totals = Counts::default();
    for f in &files {
        totals.add(&f.counts);
    }
    let stats = Stats {
        output: args.output.display().to_string(),
        options: opts,
        files,
        totals,
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
