//! Dev tool: compares our extraction with the resiliparse goldens and prints the scores.
//! `cargo run --release -p lmrepro-extract --example golden_diff [-- <record-id>...]`
use lmrepro_extract::inputs::load_golden;
use lmrepro_extract::pipeline::Options;
use lmrepro_extract::quality::{aeb_score, compare_goldens, load_aeb_truth};

fn main() -> anyhow::Result<()> {
    let resolver = lmrepro_data::testing::resolver();
    let opts = Options::default();
    let t = std::time::Instant::now();
    let res = compare_goldens(&resolver, &opts)?;
    eprintln!("extraction took {:.1}s", t.elapsed().as_secs_f64());
    let show: Vec<String> = std::env::args().skip(1).collect();
    for (cmp, docs) in &res {
        println!(
            "{}: records {} both {} exact {} ({:.4}) tokenF1 {:.4} skipped both {} golden-only {} ours-only {}",
            cmp.warc, cmp.records, cmp.both_extracted, cmp.exact, cmp.exact_rate(), cmp.token_f1,
            cmp.both_skipped, cmp.only_golden_skipped, cmp.only_ours_skipped
        );
        let golden = load_golden(if cmp.warc.contains("scrapinghub") {
            "scrapinghub-aeb.resiliparse.jsonl.zst"
        } else {
            "trafilatura-testpages.resiliparse.jsonl.zst"
        })?;
        let dir = std::path::Path::new("/tmp/golden_diff");
        std::fs::create_dir_all(dir)?;
        for (g, d) in golden.iter().zip(docs) {
            if let (Some(gt), Ok(doc)) = (&g.text, d) {
                if gt != &doc.text {
                    let name = g
                        .warc_record_id
                        .trim_matches(|c| c == '<' || c == '>')
                        .replace(':', "_");
                    std::fs::write(dir.join(format!("{name}.golden")), gt)?;
                    std::fs::write(dir.join(format!("{name}.ours")), &doc.text)?;
                    if show.iter().any(|s| g.warc_record_id.contains(s.as_str())) {
                        println!("--- {}", g.warc_record_id);
                    }
                }
            }
        }
        if cmp.warc.contains("scrapinghub") {
            let truth = load_aeb_truth(&resolver)?;
            let m = aeb_score(&truth, docs)?;
            println!(
                "AEB: f1 {:.4} precision {:.4} recall {:.4} accuracy {:.4} n {}",
                m.f1, m.precision, m.recall, m.accuracy, m.documents
            );
            // The same scorer on resiliparse's golden texts.
            let gdocs: Vec<_> = golden
                .iter()
                .zip(docs)
                .filter_map(|(g, d)| {
                    let mut doc = d.as_ref().ok()?.clone();
                    doc.text = g.text.clone()?;
                    Some(Ok(doc))
                })
                .collect();
            let m = aeb_score(&truth, &gdocs)?;
            println!(
                "AEB (resiliparse golden texts): f1 {:.4} precision {:.4} recall {:.4}",
                m.f1, m.precision, m.recall
            );
        }
    }
    Ok(())
}
