//! Benchmark of `benchmarks/extract/run.sh` (our side). One thread: numbers are per core.
//! Modes as in `bench_resiliparse.py`: "extract" (payloads preloaded; strict UTF-8 decode +
//! parse + main-content extraction) and "end_to_end" (gzip WARC reading + HTTP + the above).
//! Best of `--repeat` runs, in process CPU seconds. Usage: bench [--repeat N] WARC...
//! BENCH_PARSE_ONLY=1 adds a "parse_only" mode (`Dom::parse` alone), BENCH_MODES=m1,m2 picks modes.
use lmrepro_extract::dom::{Dom, HtmlTokenizer};
use lmrepro_extract::pipeline::{decode_body, extract_warc, Decoding, Options};
use lmrepro_extract::warc::{parse_http_response, WarcReader};
use lmrepro_extract::{extract_plain_text, ExtractOptions};

/// CPU time of this process in seconds (utime + stime of /proc/self/stat, clock ticks of 1/100 s):
/// on a shared machine it measures the work done, not the time spent waiting for a core.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the ")" that ends the command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut repeat = 3;
    if args.first().map(String::as_str) == Some("--repeat") {
        repeat = args[1].parse()?;
        args.drain(..2);
    }
    let eo = ExtractOptions::dclm();
    // `parse_only` mode with BENCH_TOKENIZER=html5ever times the fallback tokenizer.
    let tokenizer = match std::env::var("BENCH_TOKENIZER").as_deref() {
        Ok("html5ever") => HtmlTokenizer::Html5ever,
        _ => HtmlTokenizer::Html5gum,
    };
    let opts = Options::default();
    for path in &args {
        let bodies: Vec<Vec<u8>> = WarcReader::open(path.as_ref())?
            .filter_map(Result::ok)
            .filter(|r| r.record_type() == Some("response"))
            .map(|r| parse_http_response(&r.block, false).map(|h| h.body))
            .collect::<Result<_, _>>()?;
        let modes: Vec<String> = if let Ok(m) = std::env::var("BENCH_MODES") {
            // For profiling one mode at a time (callgrind).
            m.split(',').map(str::to_string).collect()
        } else if std::env::var_os("BENCH_PARSE_ONLY").is_some() {
            vec!["parse_only".into(), "extract".into()]
        } else {
            vec!["extract".into(), "end_to_end".into()]
        };
        for mode in modes.iter().map(String::as_str) {
            let mut best = f64::INFINITY;
            let (mut n, mut nbytes) = (0usize, 0usize);
            for _ in 0..repeat {
                let t = cpu_seconds();
                n = 0;
                nbytes = 0;
                if mode == "parse_only" {
                    for b in &bodies {
                        let Ok(s) = std::str::from_utf8(b) else {
                            continue;
                        };
                        std::hint::black_box(Dom::parse_with(s, tokenizer));
                        n += 1;
                        nbytes += b.len();
                    }
                } else if mode == "extract" {
                    for b in &bodies {
                        let Ok(s) = decode_body(b, None, Decoding::StrictUtf8) else {
                            continue;
                        };
                        std::hint::black_box(extract_plain_text(&s, &eo));
                        n += 1;
                        nbytes += b.len();
                    }
                } else {
                    for d in extract_warc(path.as_ref(), &opts)?.flatten() {
                        std::hint::black_box(&d);
                        n += 1;
                    }
                    nbytes = bodies
                        .iter()
                        .filter(|b| std::str::from_utf8(b).is_ok())
                        .map(Vec::len)
                        .sum();
                }
                best = best.min(cpu_seconds() - t);
            }
            let file = std::path::Path::new(path)
                .file_name()
                .unwrap()
                .to_string_lossy();
            println!(
                "{}",
                serde_json::json!({"impl": "lmrepro-extract", "file": file, "mode": mode,
                    "docs": n, "payload_bytes": nbytes, "seconds": (best * 1e4).round() / 1e4})
            );
        }
    }
    Ok(())
}
