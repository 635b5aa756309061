//! Parses every HTML response of the given WARCs with both tokenizers (html5gum through
//! `gum.rs`, html5ever's own) and counts the pages whose DOMs differ (`Dom::dump`); the
//! differing ones are listed. Pages are decoded as the pipeline decodes them (UTF-8, lossy for
//! this check, so that non-UTF-8 pages are compared too). Usage: dom_diff WARC...
use lmrepro_extract::dom::{Dom, HtmlTokenizer};
use lmrepro_extract::warc::{parse_http_response, WarcReader};

fn main() -> anyhow::Result<()> {
    let (mut pages, mut differ) = (0usize, 0usize);
    for path in std::env::args().skip(1) {
        for (i, rec) in WarcReader::open(path.as_ref())?.enumerate() {
            let rec = rec?;
            if rec.record_type() != Some("response") {
                continue;
            }
            let Ok(http) = parse_http_response(&rec.block, false) else {
                continue;
            };
            let html = String::from_utf8_lossy(&http.body);
            pages += 1;
            let a = Dom::parse_with(&html, HtmlTokenizer::Html5gum).dump();
            let b = Dom::parse_with(&html, HtmlTokenizer::Html5ever).dump();
            if a != b {
                differ += 1;
                println!("DIFFER {path} record {i}");
            }
        }
    }
    println!("{pages} pages, {differ} with different DOMs");
    Ok(())
}
