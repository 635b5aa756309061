//! `lmrepro crawl run`: WARC → main-content text → DCLM heuristics → filtered JSONL in one
//! streaming pass (no intermediate extracted files), parallel within each file, one output shard
//! per WARC with a completion marker so an interrupted run resumes at the first unfinished file.

use anyhow::{Context, Result};
use lmrepro_crawl::{Page, Pipeline};
use rayon::prelude::*;
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
    /// `dclm-baseline-refinedweb` (built in) or a pipeline yaml in DCLM's schema.
    #[arg(long, default_value = lmrepro_crawl::DCLM_BASELINE_REFINEDWEB)]
    pub pipeline: String,
    /// The yaml `source` to use when the yaml lists several.
    #[arg(long)]
    pub source: Option<String>,
    /// Records per parallel batch.
    #[arg(long, default_value_t = 512)]
    pub batch: usize,
    /// Redo files that have a completion marker.
    #[arg(long)]
    pub force: bool,
}

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

impl FileStats {
    fn add(&mut self, o: &FileStats) {
        self.records += o.records;
        self.extracted += o.extracted;
        self.kept += o.kept;
        self.errors += o.errors;
        for (k, v) in &o.skipped {
            *self.skipped.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.dropped_by {
            *self.dropped_by.entry(k.clone()).or_default() += v;
        }
    }
}

fn shard_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "input".into());
    name.trim_end_matches(".gz")
        .trim_end_matches(".zst")
        .trim_end_matches(".warc")
        .to_string()
}

/// Runs one WARC through extraction and the pipeline into `out` (zstd JSONL).
pub fn run_file(warc: &Path, pipeline: &Pipeline, out: &Path, batch: usize) -> Result<FileStats> {
    let opts = lmrepro_extract::Options::default();
    let mut it = lmrepro_extract::extract_warc(warc, &opts)
        .with_context(|| format!("opening {}", warc.display()))?;
    let tmp = out.with_extension("partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = zstd::Encoder::new(std::io::BufWriter::new(file), 3)?;
    let mut st = FileStats::default();
    loop {
        let docs = it.next_batch_par(batch.max(1));
        if docs.is_empty() {
            break;
        }
        let outcomes: Vec<_> = docs
            .into_par_iter()
            .map(|r| {
                r.map(|mut d| {
                    // The text moves into the page; a kept page's final text is put back below.
                    let page = Page {
                        text: std::mem::take(&mut d.text),
                        url: d.url.clone(),
                        warc_target_uri: d.url.clone(),
                        ..Default::default()
                    };
                    let o = pipeline.run(page);
                    (d, o)
                })
            })
            .collect();
        for r in outcomes {
            match r {
                Err(e) => *st.skipped.entry(e.kind().to_string()).or_default() += 1,
                Ok((mut d, o)) => {
                    st.extracted += 1;
                    match o.stop {
                        Some(stop) => {
                            st.errors += stop.error.is_some() as u64;
                            *st.dropped_by
                                .entry(pipeline.steps[stop.step].id.clone())
                                .or_default() += 1;
                        }
                        None => {
                            st.kept += 1;
                            d.text = o.page.text;
                            serde_json::to_writer(&mut w, &d)?;
                            w.write_all(b"\n")?;
                        }
                    }
                }
            }
        }
    }
    st.records = it.records_read;
    w.finish()?.flush()?;
    std::fs::rename(&tmp, out).with_context(|| format!("finishing {}", out.display()))?;
    Ok(st)
}

pub fn run(args: &CrawlRunArgs, resolver: lmrepro_data::Resolver) -> Result<FileStats> {
    let assets = lmrepro_crawl::Assets::new(resolver);
    let pipeline = Pipeline::load(&args.pipeline, args.source.as_deref(), &assets)?;
    let done_dir = args.output.join("_done");
    std::fs::create_dir_all(&done_dir)
        .with_context(|| format!("creating {}", done_dir.display()))?;
    let bar = indicatif::ProgressBar::new(args.input.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} WARCs {msg}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let mut total = FileStats::default();
    let mut names = std::collections::BTreeSet::new();
    for warc in &args.input {
        let name = shard_name(warc);
        if !names.insert(name.clone()) {
            anyhow::bail!("two inputs map to the output shard `{name}`: rename one");
        }
        let marker = done_dir.join(format!("{name}.json"));
        let out = args.output.join(format!("{name}.jsonl.zst"));
        let st = match std::fs::read_to_string(&marker) {
            Ok(t) if !args.force => serde_json::from_str(&t)
                .with_context(|| format!("{}: corrupt marker; remove it", marker.display()))?,
            _ => {
                let st = run_file(warc, &pipeline, &out, args.batch)?;
                std::fs::write(&marker, serde_json::to_string_pretty(&st)? + "\n")?;
                st
            }
        };
        total.add(&st);
        bar.set_message(format!("{} kept of {} pages", total.kept, total.extracted));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let stats =
        serde_json::json!({"pipeline": pipeline.name, "notes": pipeline.notes, "totals": total});
    std::fs::write(
        args.output.join("stats.json"),
        serde_json::to_string_pretty(&stats)? + "\n",
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
            pipeline: lmrepro_crawl::DCLM_BASELINE_REFINEDWEB.into(),
            source: None,
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
                let o = p.run(Page {
                    text: d.text,
                    url: d.url.clone(),
                    warc_target_uri: d.url,
                    ..Default::default()
                });
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
        // A finished file is not redone: its marker holds the stats.
        std::fs::write(&out, b"sentinel").unwrap();
        let again = run(&args, resolver).unwrap();
        assert_eq!(again, st);
        assert_eq!(std::fs::read(&out).unwrap(), b"sentinel");
    }
}
