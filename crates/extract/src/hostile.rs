//! Pathological pages (issue 18 §4): each is generated here, run through the pipeline's
//! `record_to_doc`, and must either be extracted or be refused as a counted, named skip — never
//! hang, never panic, never use memory out of proportion to the page. Time is not asserted (the
//! machine is shared); each case runs in well under a second in release and a few seconds in the
//! test profile. Peak RSS on the 10 MB page is measured in `benchmarks/extract/README.md`.

use crate::pipeline::{record_to_doc, Decoding, DocError, Options};
use crate::warc::WarcRecord;
use std::path::Path;
use std::time::Instant;

const FILE: &str = "hostile.warc.gz";

fn record(content_type: &str, body: &[u8]) -> WarcRecord {
    let mut block = format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n\r\n").into_bytes();
    block.extend_from_slice(body);
    WarcRecord {
        offset: 4242,
        version: "WARC/1.0".into(),
        headers: vec![("WARC-Type".into(), "response".into())],
        block,
    }
}

fn run(body: &[u8], opts: &Options) -> Result<String, DocError> {
    let t = Instant::now();
    let r = record_to_doc(
        Path::new(FILE),
        &record("text/html; charset=utf-8", body),
        opts,
    );
    eprintln!("{} bytes: {:.2}s", body.len(), t.elapsed().as_secs_f64());
    r.map(|d| d.text)
}

fn assert_refused(r: Result<String, DocError>) {
    match r {
        Err(e @ DocError::Skipped { .. }) => {
            assert_eq!(e.kind(), "too_deeply_nested");
            let msg = e.to_string();
            assert!(msg.contains(FILE) && msg.contains("offset 4242"), "{msg}");
        }
        Err(e) => panic!("refused for the wrong reason: {e}"),
        Ok(t) => panic!("not refused ({} chars extracted)", t.len()),
    }
}

/// A 10 MB page on one line (minified markup, no newline anywhere) and a 10 MB text run with no
/// markup at all: extracted whole, the output no larger than the input.
#[test]
fn ten_megabyte_single_line_pages_are_extracted() {
    let para = "<p class=\"c\">lorem ipsum <b>dolor</b> sit amet, consectetur.</p>";
    let n = (10 << 20) / para.len();
    let page = format!(
        "<html><body><div id=\"main\">{}</div></body></html>",
        para.repeat(n)
    );
    assert!(page.len() >= 10 << 20 && !page.contains('\n'));
    let text = run(page.as_bytes(), &Options::default()).unwrap();
    assert_eq!(text.matches("lorem ipsum dolor sit amet").count(), n);
    assert!(text.len() < page.len());

    let words = "word ".repeat((10 << 20) / 5);
    let text = run(words.as_bytes(), &Options::default()).unwrap();
    assert_eq!(text, words.trim_end());
}

/// 100,000 nested `<div>`s (quadratic in html5ever's scope checks, and in lexbor's: minutes) and
/// a moderate nest followed by 200,000 stray `</p>` (each walks the whole stack) are refused by
/// the linear pre-scan; 1,000 nested `<div>`s are still extracted.
#[test]
fn deep_nesting_and_stray_end_tags_are_refused_in_linear_time() {
    let opts = Options::default();
    let deep = format!("{}x{}", "<div>".repeat(100_000), "</div>".repeat(100_000));
    assert_refused(run(deep.as_bytes(), &opts));
    let stray = format!("{}x{}", "<div>".repeat(15_000), "</p>".repeat(200_000));
    assert_refused(run(stray.as_bytes(), &opts));
    let fine = format!("{}x{}", "<div>".repeat(1_000), "</div>".repeat(1_000));
    assert_eq!(run(fine.as_bytes(), &opts).unwrap(), "x");
}

/// One tag with a million distinct attributes (html5ever compares each new name with all earlier
/// ones: 5·10¹¹ compares) is refused; 2,000 attributes parse, and only the attributes the
/// extractor reads are kept in the tree.
#[test]
fn a_million_attributes_are_refused() {
    let opts = Options::default();
    let mut many = String::from("<div");
    for k in 0..1_000_000 {
        many.push_str(&format!(" a{k}"));
    }
    many.push_str(">text</div>");
    assert_refused(run(many.as_bytes(), &opts));

    let mut some = String::from("<p");
    for k in 0..2_000 {
        some.push_str(&format!(" data-a{k}=\"{k}\""));
    }
    some.push_str(" class=\"x\">text</p>");
    assert_eq!(run(some.as_bytes(), &opts).unwrap(), "text");
    let dom = crate::dom::Dom::parse(&some);
    let p = dom.children(dom.body().unwrap()).next().unwrap();
    match &dom.node(p).kind {
        crate::dom::Kind::Element { attrs, .. } => assert_eq!(attrs.len(), 1),
        other => panic!("{other:?}"),
    }
}

/// Huge attribute values: a 10 MB `class` (every class regex scans it; all are linear), a 5 MB
/// `alt` text (extracted), and a 5 MB unterminated quoted value (the rest of the page is the
/// value, as in the HTML tokenizer).
#[test]
fn huge_attribute_values_are_bounded() {
    let opts = Options::default();
    let cls = "x ".repeat(5 << 20);
    let page = format!("<div class=\"{cls}\"><p>kept text</p></div>");
    assert_eq!(run(page.as_bytes(), &opts).unwrap(), "kept text");

    let alt = "a".repeat(5 << 20);
    let page = format!("<p>before <img alt=\"{alt}\"> after</p>");
    let text = run(page.as_bytes(), &opts).unwrap();
    assert_eq!(text.len(), "before  after".len() + alt.len());

    let page = format!("<p>seen</p><p title=\"{}", "y".repeat(5 << 20));
    assert_eq!(run(page.as_bytes(), &opts).unwrap(), "seen");
}

/// Encodings declared wrong: Latin-1 bytes declared UTF-8 (DCLM's strict decoding skips the page
/// with a named reason; `--decoding charset` decodes it with U+FFFD), UTF-8 declared as
/// ISO-8859-1 or as UTF-16 in the HTTP header, a UTF-16 BOM that contradicts the header, an
/// unknown label, and invalid bytes throughout a 2 MB page. Never a panic; output bounded by
/// the input.
#[test]
fn wrongly_declared_encodings_are_handled() {
    let latin1: Vec<u8> = b"<p>caf\xe9 cr\xe8me</p>".to_vec();
    let strict = Options::default();
    let charset = Options {
        decoding: Decoding::Charset,
        ..Options::default()
    };
    match record_to_doc(
        Path::new(FILE),
        &record("text/html; charset=utf-8", &latin1),
        &strict,
    ) {
        Err(e) => {
            assert_eq!(e.kind(), "non_utf8");
            assert!(e.to_string().contains("first bad byte at 6"), "{e}");
        }
        Ok(d) => panic!("strict UTF-8 took Latin-1: {:?}", d.text),
    }
    let doc = record_to_doc(
        Path::new(FILE),
        &record("text/html; charset=utf-8", &latin1),
        &charset,
    )
    .unwrap();
    assert_eq!(doc.text, "caf\u{fffd} cr\u{fffd}me");

    let utf8 = "<p>café crème</p>".as_bytes();
    let mut bom16 = vec![0xff, 0xfe];
    // Not "hé": its 3 UTF-8 bytes fall in resiliparse's "icon glyph" range and are dropped.
    for u in "<p>grüße</p>".encode_utf16() {
        bom16.extend_from_slice(&u.to_le_bytes());
    }
    let mut garbage = b"<p>".to_vec();
    garbage.extend((0..2 << 20).map(|k| [0xc3, 0x28, 0xff, b' '][k % 4]));
    let cases: [(&str, &[u8], Option<&str>); 5] = [
        ("text/html; charset=iso-8859-1", utf8, Some("cafÃ© crÃ¨me")),
        ("text/html; charset=utf-16", utf8, None),
        ("text/html; charset=utf-8", &bom16, Some("grüße")),
        (
            "text/html; charset=x-no-such-label",
            utf8,
            Some("café crème"),
        ),
        ("text/html; charset=utf-8", &garbage, None),
    ];
    for (ct, body, want) in cases {
        for opts in [&strict, &charset] {
            let r = record_to_doc(Path::new(FILE), &record(ct, body), opts);
            match r {
                Ok(d) => {
                    assert!(d.text.len() <= 3 * body.len(), "{ct}");
                    if let (Decoding::Charset, Some(w)) = (opts.decoding, want) {
                        assert_eq!(d.text, w, "{ct}");
                    }
                }
                Err(e) => {
                    assert_eq!(opts.decoding, Decoding::StrictUtf8, "{ct}: {e}");
                    assert_eq!(e.kind(), "non_utf8", "{ct}: {e}");
                }
            }
        }
    }
}
