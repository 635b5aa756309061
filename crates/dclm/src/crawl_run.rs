//! `lmrepro crawl run`: WARC → main-content text → DCLM heuristics → filtered JSONL in one
//! streaming pass (no intermediate extracted files), parallel within each file. Each WARC is one
//! shard of a [`ShardedStage`] (`<shard>.jsonl.zst`, then its marker `_done/<shard>` with the
//! file's counts), so an interrupted run redoes only the files it had not finished.

use anyhow::{Context, Result};
use lmrepro_crawl::runner::{run_batch, Counts};
use lmrepro_crawl::{Page, Pipeline, PipelineArgs};
use lmrepro_stage::jsonl::{create_writer, shard_name_without, unique_names};
use lmrepro_stage::{ShardedStage, Tally};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct CrawlRunArgs {
    /// WARC files (uncompressed, gzip or zstd).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Output directory: `<warc name>.jsonl.zst` per input, `_done/` markers, `stats.json`.
    #[arg(long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Records per parallel batch.
    #[arg(long, default_value_t = 512)]
    pub batch: usize,
    /// Redo files that have a completion marker.
    #[arg(long)]
    pub force: bool,
}

lmrepro_stage::tally! {
    /// Counters of one WARC file (and, summed, of the run).
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
    pub struct FileStats {
        /// Records read (any type).
        pub records: u64,
        /// `response` records that gave a document.
        pub extracted: u64,
        /// Records that gave no document, by reason (DCLM skips non-UTF-8 pages).
        pub skipped: BTreeMap<String, u64>,
        pub kept: u64,
        /// Pages dropped per step id.
        pub dropped_by: BTreeMap<String, u64>,
        /// Pages dropped because a step raised (DCLM `_safe` mode).
        pub errors: u64,
    }
}

/// Suffixes a WARC's shard name drops.
const WARC_SUFFIXES: [&str; 6] = [
    ".warc.gz",
    ".warc.zst",
    ".warc.zstd",
    ".warc",
    ".gz",
    ".zst",
];

fn shard_name(path: &Path) -> String {
    shard_name_without(path, &WARC_SUFFIXES)
}

/// Runs one WARC through extraction and the pipeline into its shard of `stage` (zstd JSONL).
pub fn run_file(
    warc: &Path,
    pipeline: &Pipeline,
    stage: &ShardedStage,
    shard: &str,
    batch: usize,
) -> Result<FileStats> {
    let opts = lmrepro_extract::Options::default();
    let mut it = lmrepro_extract::extract_warc(warc, &opts)
        .with_context(|| format!("opening {}", warc.display()))?;
    let tmp = stage.temp_path(shard, ".jsonl.zst");
    let mut w = create_writer(&tmp)?;
    let mut st = FileStats::default();
    let mut counts = Counts::new(pipeline);
    loop {
        let docs = it.next_batch_par(batch.max(1));
        if docs.is_empty() {
            break;
        }
        let mut pages = Vec::with_capacity(docs.len());
        for r in docs {
            match r {
                Err(e) => *st.skipped.entry(e.kind().to_string()).or_default() += 1,
                Ok(mut d) => {
                    // The text moves into the page; a kept page's final text is put back below.
                    let page = Page::with_url(std::mem::take(&mut d.text), d.url.clone());
                    pages.push((d, page));
                }
            }
        }
        for (mut d, o) in run_batch(pipeline, pages, &mut counts) {
            if o.kept() {
                d.text = o.page.text;
                serde_json::to_writer(&mut w, &d)?;
                w.write_all(b"\n")?;
            }
        }
    }
    w.finish()?;
    let out = stage.shard_path(shard);
    lmrepro_stage::publish(&tmp, &out).with_context(|| format!("finishing {}", out.display()))?;
    st.records = it.records_read;
    st.extracted = counts.docs_in;
    st.kept = counts.docs_kept;
    st.errors = counts.errors();
    st.dropped_by = counts.dropped_by();
    Ok(st)
}

pub fn run(args: &CrawlRunArgs, resolver: lmrepro_data::Resolver) -> Result<FileStats> {
    let pipeline = args.pipeline.load(resolver)?;
    let stage = ShardedStage::create(&args.output)?;
    let names = unique_names(&args.input, shard_name);
    let bar = lmrepro_stage::progress::bar(args.input.len() as u64, "WARCs");
    let mut total = FileStats::default();
    for (warc, name) in args.input.iter().zip(&names) {
        let st = if !args.force && stage.is_done(name) {
            stage
                .done_stats(name)
                .context("corrupt completion marker; remove it to redo the file")?
        } else {
            // A forced file loses its marker first, so that an interrupted rerun never leaves an
            // old marker vouching for a new output.
            stage.clear(name)?;
            let st = run_file(warc, &pipeline, &stage, name, args.batch)?;
            stage.mark_done(name, &st)?;
            st
        };
        total.tally(&st);
        bar.set_message(format!(
            "WARCs, {} kept of {} pages",
            total.kept, total.extracted
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    stage.write_stats(
        &serde_json::json!({"pipeline": pipeline.name, "notes": pipeline.notes, "totals": total}),
    )?;
    eprintln!(
        "crawl run: {} WARCs, {} records, {} pages extracted, {} kept; {} skipped; wrote {}",
        args.input.len(),
        total.records,
        total.extracted,
        total.kept,
        total.skipped.values().sum::<u64>(),
        args.output.display()
    );
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_drop_warc_suffixes() {
        assert_eq!(shard_name(Path::new("/a/b/x.warc.gz")), "x");
        assert_eq!(shard_name(Path::new("y.warc.zst")), "y");
        assert_eq!(shard_name(Path::new("z.warc")), "z");
        assert_eq!(shard_name(Path::new("w.gz")), "w");
    }

    #[test]
    fn one_pass_equals_extract_then_filter_and_resumes() {
        let resolver = lmrepro_data::testing::resolver();
        let recipe = lmrepro_data::testing::recipe("dclm-baseline");
        let warc = recipe
            .resolve(&resolver, "crawl/cc_real/dolma-sample-0000.warc.gz")
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let args = CrawlRunArgs {
            input: vec![warc.clone()],
            output: tmp.path().join("out"),
            pipeline: PipelineArgs::default(),
            batch: 4,
            force: false,
        };
        let st = run(&args, resolver.clone()).unwrap();
        assert_eq!(st.extracted + st.skipped.values().sum::<u64>(), 22);
        assert_eq!(st.kept + st.dropped_by.values().sum::<u64>(), st.extracted);
        // Same verdicts and texts as extracting first and filtering the documents after.
        let assets = lmrepro_crawl::Assets::new(resolver.clone());
        let p = Pipeline::load(lmrepro_crawl::DCLM_BASELINE_REFINEDWEB, None, &assets).unwrap();
        let expected: Vec<String> = lmrepro_extract::extract_warc(&warc, &Default::default())
            .unwrap()
            .collect_par()
            .into_iter()
            .filter_map(|r| r.ok())
            .filter_map(|d| {
                let o = p.run(Page::with_url(d.text, d.url));
                o.kept().then_some(o.page.text)
            })
            .collect();
        let out = tmp.path().join("out/dolma-sample-0000.jsonl.zst");
        let text = String::from_utf8(zstd::decode_all(std::fs::File::open(&out).unwrap()).unwrap())
            .unwrap();
        let got: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(got, expected);
        // A finished file is not redone: its marker `_done/<shard>` holds the stats.
        assert!(tmp.path().join("out/_done/dolma-sample-0000").is_file());
        std::fs::write(&out, b"sentinel").unwrap();
        let again = run(&args, resolver).unwrap();
        assert_eq!(again, st);
        assert_eq!(std::fs::read(&out).unwrap(), b"sentinel");
    }
}
