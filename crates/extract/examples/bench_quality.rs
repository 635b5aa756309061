//! Our side of `benchmarks/extract/quality.sh`: the faithful and the quality mode on the
//! response payloads of WARC files (preloaded; strict UTF-8 decode + parse + extraction), one
//! thread, best of `--repeat` runs in process CPU seconds. With `--predictions DIR` the texts of
//! the last run are written to `DIR/<mode>.<file>.jsonl` (`{"key", "text"}`, key = the file
//! name of the record's `X-Source-Path`) for `extract_eval score`.
//! Usage: bench_quality [--repeat N] [--predictions DIR] [--modes faithful,quality] WARC...
use lmrepro_extract::article::extract_article;
use lmrepro_extract::dom::Dom;
use lmrepro_extract::pipeline::{decode_body, Decoding};
use lmrepro_extract::warc::{parse_http_response, WarcReader};
use lmrepro_extract::{extract_plain_text, ExtractOptions};
use std::io::Write;

/// CPU time of this process in seconds (utime + stime of /proc/self/stat, 1/100 s ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

/// One page in quality mode (not inlined: callgrind's `--toggle-collect` names it).
#[inline(never)]
fn quality_page(html: &str) -> String {
    extract_article(&Dom::parse(html))
}

#[inline(never)]
fn faithful_page(html: &str, eo: &ExtractOptions) -> String {
    extract_plain_text(html, eo)
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let (mut repeat, mut pred_dir, mut modes) = (3usize, None, "faithful,quality".to_string());
    while args.first().is_some_and(|a| a.starts_with("--")) {
        let v = args.get(1).cloned().unwrap_or_default();
        match args[0].as_str() {
            "--repeat" => repeat = v.parse()?,
            "--predictions" => pred_dir = Some(std::path::PathBuf::from(v)),
            "--modes" => modes = v,
            other => anyhow::bail!("unknown flag {other}"),
        }
        args.drain(..2);
    }
    let eo = ExtractOptions::dclm();
    for path in &args {
        let mut pages: Vec<(String, Vec<u8>)> = Vec::new();
        for r in WarcReader::open(path.as_ref())? {
            let r = r?;
            if r.record_type() != Some("response") {
                continue;
            }
            let key = r
                .header("X-Source-Path")
                .and_then(|s| s.rsplit('/').next())
                .unwrap_or("")
                .to_string();
            pages.push((key, parse_http_response(&r.block, false)?.body));
        }
        let file = std::path::Path::new(path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        for mode in modes.split(',') {
            let mut best = f64::INFINITY;
            let mut out: Vec<(&str, String)> = Vec::new();
            let mut nbytes = 0usize;
            for _ in 0..repeat {
                out.clear();
                nbytes = 0;
                let t = cpu_seconds();
                for (key, b) in &pages {
                    let Ok(s) = decode_body(b, None, Decoding::StrictUtf8) else {
                        continue;
                    };
                    let text = if mode == "quality" {
                        quality_page(&s)
                    } else {
                        faithful_page(&s, &eo)
                    };
                    out.push((key, text));
                    nbytes += b.len();
                }
                best = best.min(cpu_seconds() - t);
            }
            if let Some(dir) = &pred_dir {
                let mut f = std::io::BufWriter::new(std::fs::File::create(
                    dir.join(format!("{mode}.{file}.jsonl")),
                )?);
                for (key, text) in &out {
                    writeln!(f, "{}", serde_json::json!({"key": key, "text": text}))?;
                }
            }
            println!(
                "{}",
                serde_json::json!({"impl": format!("lmrepro-extract {mode}"), "file": file,
                    "docs": out.len(), "payload_bytes": nbytes,
                    "seconds": (best * 1e4).round() / 1e4})
            );
        }
    }
    Ok(())
}
