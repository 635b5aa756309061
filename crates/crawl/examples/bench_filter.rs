//! Single-thread throughput of the dclm-baseline-refinedweb pipeline (used by
//! benchmarks/crawl-filter/run.sh): `bench_filter IN.jsonl [repeats]` prints one JSON line.

use lmrepro_crawl::{Assets, Page, Pipeline};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let input = args.next().expect("usage: bench_filter IN.jsonl [repeats]");
    let repeats: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5);
    let mut assets = Assets::new(lmrepro_data::testing::resolver());
    assets.curated_domains = lmrepro_crawl::assets::CuratedDomains::Empty;
    let pipeline = Pipeline::load(lmrepro_crawl::DCLM_BASELINE_REFINEDWEB, None, &assets)?;
    let (docs, _) = lmrepro_stage::read_docs(input.as_ref(), lmrepro_stage::OnMalformed::Error)?;
    let pages: Vec<Page> = docs
        .iter()
        .map(|(_, d)| Page::from_doc(d))
        .collect::<anyhow::Result<_>>()?;
    let bytes: usize = pages.iter().map(|p| p.text.len()).sum();
    let mut best = f64::INFINITY;
    let mut best_cpu = f64::INFINITY;
    let mut kept = 0;
    for _ in 0..repeats {
        let t = Instant::now();
        let c = cpu_seconds();
        kept = 0;
        for p in &pages {
            kept += pipeline.run(p.clone()).kept() as usize;
        }
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_seconds() - c);
    }
    if std::env::var_os("BENCH_STEPS").is_some() {
        // Time per step (each page through the pipeline, stopping where it is dropped).
        let mut per = vec![0f64; pipeline.steps.len()];
        for p in &pages {
            let mut page = p.clone();
            for (i, s) in pipeline.steps.iter().enumerate() {
                let t = Instant::now();
                let v = s.kind.apply(&mut page);
                per[i] += t.elapsed().as_secs_f64();
                if matches!(
                    v,
                    lmrepro_crawl::steps::Verdict::Drop | lmrepro_crawl::steps::Verdict::Error(_)
                ) {
                    break;
                }
            }
        }
        for (s, t) in pipeline.steps.iter().zip(per) {
            eprintln!("{:<40} {:>8.4}s", s.id, t);
        }
    }
    println!(
        "{{\"impl\": \"lmrepro\", \"input\": {:?}, \"docs\": {}, \"kept\": {}, \"text_mb\": {:.3}, \"best_seconds\": {:.4}, \"docs_per_s\": {:.1}, \"mb_per_s\": {:.2}, \"cpu_seconds\": {:.4}, \"docs_per_cpu_s\": {:.1}}}",
        input,
        pages.len(),
        kept,
        bytes as f64 / 1e6,
        best,
        pages.len() as f64 / best,
        bytes as f64 / 1e6 / best,
        best_cpu,
        pages.len() as f64 / best_cpu
    );
    Ok(())
}

/// CPU time of this (single) thread in seconds, from /proc/thread-self/schedstat (Linux; the
/// benchmark box is shared, so CPU time is the fair per-core measure). NaN elsewhere.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |ns| ns / 1e9)
}
