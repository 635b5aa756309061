//! WARC → documents: the extraction step of DCLM as a library function.

use crate::extract::{extract_from_dom, ExtractOptions};
use crate::warc::{parse_http_response, WarcError, WarcReader, WarcRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How the HTTP payload bytes become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Decoding {
    /// DCLM: `body.decode("utf-8")` (strict); a record that is not valid UTF-8 is skipped.
    #[default]
    StrictUtf8,
    /// Deviation: BOM, then the HTTP `charset`, then `<meta charset>`, then a chardetng guess;
    /// decoded with encoding_rs (malformed bytes become U+FFFD). No record is skipped.
    Charset,
}

/// Which extractor turns the DOM into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// resiliparse 2.0.1 `extract_plain_text` with the `ExtractOptions` flags (DCLM's).
    #[default]
    Faithful,
    /// Deviation: the article extractor of [`crate::article`] (extraction quality; the
    /// `ExtractOptions` flags do not apply to it).
    Quality,
}

impl Mode {
    /// For `skip_serializing_if`: a faithful mode is left out of serialised options (stage keys).
    pub fn is_faithful(&self) -> bool {
        *self == Mode::Faithful
    }
}

/// Options of [`extract_warc`]; as command-line flags their defaults are [`Options::default`]
/// (DCLM's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    #[command(flatten)]
    pub extract: ExtractOptions,
    /// Payload decoding: `strict-utf8` (DCLM: skip non-UTF-8 pages) or `charset` (deviation:
    /// decode with the declared / detected charset).
    #[arg(long, value_enum, default_value_t = Decoding::StrictUtf8)]
    pub decoding: Decoding,
    /// Remove `Transfer-Encoding: chunked` framing (FastWARC does not; Common Crawl never stores
    /// chunked payloads, GNU wget does).
    #[arg(long = "raw-http-body", action = clap::ArgAction::SetFalse, help = "Keep chunked transfer-encoding framing in payloads (FastWARC's behaviour)")]
    pub decode_chunked: bool,
    /// Skip records whose HTTP payload is larger than this many bytes (`payload_too_large`);
    /// 0 = no limit.
    #[arg(long, default_value_t = 0)]
    pub max_payload_bytes: u64,
    /// Skip pages whose estimated tree-building work ([`nesting_work`]) exceeds this
    /// (`too_deeply_nested`); 0 = no limit. Deviation from DCLM, on by default: html5ever (like
    /// lexbor) walks the stack of open elements for most start tags, so parse time grows with
    /// the square of the nesting depth and one hostile page (a megabyte of unclosed `<div>`s) would
    /// stall a worker for an hour; stray end tags and tags with very many attributes are counted
    /// too. The default is ~94x the work of the deepest page in the pinned WARCs (2.7e6, a
    /// trafilatura test page) and bounds a page's parse time to about a second.
    #[arg(long, default_value_t = DEFAULT_MAX_NESTING_WORK)]
    #[serde(skip_serializing_if = "is_default_nesting_work")]
    pub max_nesting_work: u64,
    /// Extractor: `faithful` (resiliparse 2.0.1, DCLM) or `quality` (article extractor,
    /// deviation). Left out of the serialised options when faithful, so that existing stage keys
    /// stay the same.
    #[arg(long, value_enum, default_value_t = Mode::Faithful)]
    #[serde(skip_serializing_if = "Mode::is_faithful")]
    pub mode: Mode,
}

/// See [`Options::max_nesting_work`].
pub const DEFAULT_MAX_NESTING_WORK: u64 = 250_000_000;

// Left out of the serialised options at its default, so that stage keys (which hash the options)
// did not change when the limit was introduced.
fn is_default_nesting_work(v: &u64) -> bool {
    *v == DEFAULT_MAX_NESTING_WORK
}

/// Elements that never stay open (void) or that the next sibling closes (`p`, `li`, table parts,
/// ...): they do not deepen the stack of open elements in any page that is not already deep.
const FLAT_TAGS: [&str; 32] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "param", "keygen", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th",
    "tbody", "thead", "tfoot", "rb", "rt", "rp", "html", "body",
];

/// An estimate of html5ever's parse work for `html` beyond the linear part, from a plain tag
/// scanner (comments and `<script>`/`<style>` bodies skipped, quoted attribute values skipped):
/// - the sum, over start *and* end tags, of the number of elements open at that point (what the
///   tree builder's "has an element in scope" checks walk; an end tag closes one level of a
///   non-flat element). End tags count because a stray `</p>` (or `</li>`, `</h1>`, ...) walks
///   the whole stack too: 20,000 open `<div>`s followed by a million `</p>` cost 2·10¹⁰ steps;
/// - per tag, n·(n−1)/2 for n attributes: html5ever's tokenizer checks each new attribute name
///   against all earlier ones of the tag, so one tag with a million attributes costs 5·10¹¹
///   compares.
///
/// Linear time; used to refuse pathological pages before parsing them. Measured: 25,000 nested
/// `<div><span>` (work ≈ 1.25e9) took ≈ 5 s to parse.
pub fn nesting_work(html: &str) -> u64 {
    let b = html.as_bytes();
    let (mut i, mut depth, mut work) = (0usize, 0u64, 0u64);
    while let Some(p) = memchr::memchr(b'<', &b[i..]) {
        i += p + 1;
        if b[i..].starts_with(b"!--") {
            i = memchr::memmem::find(&b[i..], b"-->").map_or(b.len(), |q| i + q + 3);
            continue;
        }
        let end = b.get(i) == Some(&b'/');
        let start = i + end as usize;
        let len = b[start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if len == 0 {
            continue;
        }
        // Tag names are ASCII alphanumeric here: compared without building a lowercase copy.
        let name = &b[start..start + len];
        let flat = FLAT_TAGS
            .iter()
            .any(|t| t.as_bytes().eq_ignore_ascii_case(name));
        let attrs;
        (i, attrs) = skip_attributes(b, start + len);
        work = work.saturating_add(attrs.saturating_mul(attrs.saturating_sub(1)) / 2);
        work = work.saturating_add(depth);
        if end {
            if !flat {
                depth = depth.saturating_sub(1);
            }
            continue;
        }
        if !flat {
            depth += 1;
        }
        if name.eq_ignore_ascii_case(b"script") || name.eq_ignore_ascii_case(b"style") {
            i = find_end_tag(b, i, name).unwrap_or(b.len());
        }
    }
    work
}

/// Skips the attributes of a tag whose name ends at `i`, as the HTML tokenizer reads them
/// (names up to white space, `/`, `>` or `=`; values quoted or up to white space or `>`).
/// Returns the position after the tag's `>` (or the end of input) and the attribute count.
fn skip_attributes(b: &[u8], mut i: usize) -> (usize, u64) {
    let mut n = 0u64;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        match b.get(i) {
            None => return (i, n),
            Some(b'>') => return (i + 1, n),
            _ => {}
        }
        // A name (a leading `=` belongs to it, as in the tokenizer).
        let name_start = i;
        i += 1;
        while i < b.len() && !matches!(b[i], b'\t' | b'\n' | 0x0c | b' ' | b'/' | b'>' | b'=') {
            i += 1;
        }
        n += u64::from(i > name_start);
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                i = memchr::memchr(q, &b[i + 1..]).map_or(b.len(), |e| i + 1 + e + 1);
            }
            _ => {
                while i < b.len() && !(b[i].is_ascii_whitespace() || b[i] == b'>') {
                    i += 1;
                }
            }
        }
    }
}

/// Position of the first `</name` (ASCII case-insensitive) at or after `from`. Searching in place:
/// lowercasing a copy of the rest of the page for each `<script>` made this scan quadratic in
/// the number of scripts (a quarter of the end-to-end CPU time on the benchmark WARCs).
fn find_end_tag(b: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut i = from;
    while let Some(q) = memchr::memmem::find(&b[i..], b"</") {
        let at = i + q;
        let rest = &b[at + 2..];
        if rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name) {
            return Some(at);
        }
        i = at + 2;
    }
    None
}

impl Default for Options {
    fn default() -> Self {
        Options {
            extract: ExtractOptions::dclm(),
            decoding: Decoding::StrictUtf8,
            decode_chunked: true,
            max_payload_bytes: 0,
            max_nesting_work: DEFAULT_MAX_NESTING_WORK,
            mode: Mode::Faithful,
        }
    }
}

/// One extracted page, the line format of `crawl extract` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    /// `WARC-Record-ID` (or `<file>@<offset>` when the record has none).
    pub id: String,
    pub text: String,
    /// `WARC-Target-URI` (`<...>` removed).
    pub url: Option<String>,
    /// WARC headers: `WARC-Record-ID`, `WARC-Target-URI`, `WARC-Date`, and `warc_file`,
    /// `warc_offset` (where the record is).
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// Why a record produced no document.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("{file}: {source}")]
    Warc {
        file: PathBuf,
        #[source]
        source: WarcError,
    },
    #[error("{file}: record at offset {offset}: {reason}")]
    Skipped {
        file: PathBuf,
        offset: u64,
        /// Stats key: `non_utf8`, `bad_http`, `payload_too_large`.
        kind: &'static str,
        reason: String,
    },
}

impl DocError {
    pub fn kind(&self) -> &'static str {
        match self {
            DocError::Warc { source, .. } => source.reason(),
            DocError::Skipped { kind, .. } => kind,
        }
    }
}

/// Iterator of [`extract_warc`].
pub struct ExtractWarc {
    file: PathBuf,
    reader: WarcReader,
    opts: Options,
    /// Records read (any type), including broken ones.
    pub records_read: u64,
    /// Records skipped because their type is not `response`.
    pub non_response: u64,
}

/// Streams `response` records of a WARC file as documents (other record types are passed over and
/// counted in [`ExtractWarc::non_response`]). A broken record yields an `Err` naming the file and
/// offset and iteration continues with the next record.
pub fn extract_warc(path: &Path, opts: &Options) -> std::io::Result<ExtractWarc> {
    let reader = WarcReader::open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(ExtractWarc {
        file: path.to_path_buf(),
        reader,
        opts: opts.clone(),
        records_read: 0,
        non_response: 0,
    })
}

impl Iterator for ExtractWarc {
    type Item = Result<Doc, DocError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rec = self.reader.next()?;
            self.records_read += 1;
            let rec = match rec {
                Ok(r) => r,
                Err(source) => {
                    return Some(Err(DocError::Warc {
                        file: self.file.clone(),
                        source,
                    }))
                }
            };
            if !rec
                .record_type()
                .is_some_and(|t| t.eq_ignore_ascii_case("response"))
            {
                self.non_response += 1;
                continue;
            }
            return Some(record_to_doc(&self.file, &rec, &self.opts));
        }
    }
}

impl ExtractWarc {
    pub fn compression(&self) -> crate::warc::Compression {
        self.reader.compression()
    }

    /// Reads up to `n` records sequentially (non-`response` records are counted and dropped).
    pub fn next_records(&mut self, n: usize) -> Vec<Result<WarcRecord, DocError>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let Some(rec) = self.reader.next() else { break };
            self.records_read += 1;
            match rec {
                Ok(r)
                    if r.record_type()
                        .is_some_and(|t| t.eq_ignore_ascii_case("response")) =>
                {
                    out.push(Ok(r))
                }
                Ok(_) => self.non_response += 1,
                Err(source) => out.push(Err(DocError::Warc {
                    file: self.file.clone(),
                    source,
                })),
            }
        }
        out
    }

    /// Parallel extraction within the file: reads `batch` records, extracts them with rayon, and
    /// returns the documents in file order. An empty vector means the file is done.
    pub fn next_batch_par(&mut self, batch: usize) -> Vec<Result<Doc, DocError>> {
        use rayon::prelude::*;
        let recs = self.next_records(batch);
        let file = self.file.clone();
        let opts = self.opts.clone();
        recs.into_par_iter()
            .map(|r| r.and_then(|rec| record_to_doc(&file, &rec, &opts)))
            .collect()
    }

    /// Collects the whole file with [`ExtractWarc::next_batch_par`].
    pub fn collect_par(mut self) -> Vec<Result<Doc, DocError>> {
        let mut all = Vec::new();
        loop {
            let b = self.next_batch_par(64);
            if b.is_empty() {
                return all;
            }
            all.extend(b);
        }
    }
}

/// Decodes the payload as configured; `Err` carries the skip kind and reason.
pub fn decode_body(
    body: &[u8],
    http_charset: Option<&str>,
    decoding: Decoding,
) -> Result<String, (&'static str, String)> {
    match decoding {
        Decoding::StrictUtf8 => match std::str::from_utf8(body) {
            Ok(s) => Ok(s.to_string()),
            Err(e) => Err((
                "non_utf8",
                format!(
                    "payload is not valid UTF-8 (first bad byte at {}); DCLM skips such pages",
                    e.valid_up_to()
                ),
            )),
        },
        Decoding::Charset => Ok(decode_with_charset(body, http_charset)),
    }
}

fn decode_with_charset(body: &[u8], http_charset: Option<&str>) -> String {
    let enc = encoding_rs::Encoding::for_bom(body)
        .map(|(e, _)| e)
        .or_else(|| http_charset.and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes())))
        .or_else(|| meta_charset(&body[..body.len().min(4096)]))
        .unwrap_or_else(|| {
            let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            det.feed(&body[..body.len().min(64 << 10)], body.len() <= 64 << 10);
            det.guess(None, chardetng::Utf8Detection::Allow)
        });
    let (text, _, _) = enc.decode(body);
    text.into_owned()
}

/// `<meta charset=...>` / `<meta http-equiv content="...; charset=...">` in the first bytes.
fn meta_charset(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut i = 0;
    while let Some(p) = memchr::memmem::find(&lower[i..], b"charset") {
        let mut j = i + p + 7;
        while j < lower.len() && matches!(lower[j], b' ' | b'\t' | b'\n' | b'\r') {
            j += 1;
        }
        if j < lower.len() && lower[j] == b'=' {
            j += 1;
            while j < lower.len() && matches!(lower[j], b' ' | b'"' | b'\'') {
                j += 1;
            }
            let start = j;
            while j < lower.len()
                && (lower[j].is_ascii_alphanumeric()
                    || matches!(lower[j], b'-' | b'_' | b':' | b'.'))
            {
                j += 1;
            }
            if let Some(e) = encoding_rs::Encoding::for_label(&lower[start..j]) {
                // As browsers do: a UTF-16 label in a byte-oriented meta means UTF-8.
                return Some(
                    if e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE {
                        encoding_rs::UTF_8
                    } else {
                        e
                    },
                );
            }
        }
        i += p + 7;
    }
    None
}

/// Turns one `response` record into a document (HTTP parsing, decoding, extraction).
pub fn record_to_doc(file: &Path, rec: &WarcRecord, opts: &Options) -> Result<Doc, DocError> {
    let skipped = |kind: &'static str, reason: String| DocError::Skipped {
        file: file.to_path_buf(),
        offset: rec.offset,
        kind,
        reason,
    };
    let http = parse_http_response(&rec.block, opts.decode_chunked)
        .map_err(|e| skipped("bad_http", e.to_string()))?;
    if opts.max_payload_bytes != 0 && http.body.len() as u64 > opts.max_payload_bytes {
        return Err(skipped(
            "payload_too_large",
            format!(
                "payload of {} bytes exceeds the limit of {}",
                http.body.len(),
                opts.max_payload_bytes
            ),
        ));
    }
    let html =
        decode_body(&http.body, http.charset(), opts.decoding).map_err(|(k, r)| skipped(k, r))?;
    if opts.max_nesting_work != 0 {
        let work = nesting_work(&html);
        if work > opts.max_nesting_work {
            return Err(skipped(
                "too_deeply_nested",
                format!(
                    "estimated tree-building work {work} exceeds the limit of {} \
                     (--max-nesting-work)",
                    opts.max_nesting_work
                ),
            ));
        }
    }
    let dom = crate::dom::Dom::parse(&html);
    let text = match opts.mode {
        Mode::Faithful => extract_from_dom(&dom, &opts.extract),
        Mode::Quality => crate::article::extract_article(&dom),
    };
    Ok(make_doc(file, rec, text))
}

/// WARC headers copied into `Doc::metadata` when present (`X-Source-Path` names the source file of
/// the repackaged benchmark pages).
pub const KEPT_HEADERS: [&str; 4] = [
    "WARC-Record-ID",
    "WARC-Target-URI",
    "WARC-Date",
    "X-Source-Path",
];

fn make_doc(file: &Path, rec: &WarcRecord, text: String) -> Doc {
    let mut metadata = BTreeMap::new();
    for key in KEPT_HEADERS {
        if let Some(v) = rec.header(key) {
            let v = if key == "WARC-Target-URI" {
                rec.target_uri().unwrap_or(v)
            } else {
                v
            };
            metadata.insert(key.to_string(), serde_json::Value::from(v));
        }
    }
    let file_name = file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    metadata.insert(
        "warc_file".into(),
        serde_json::Value::from(file_name.clone()),
    );
    metadata.insert("warc_offset".into(), serde_json::Value::from(rec.offset));
    Doc {
        id: rec
            .record_id()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{file_name}@{}", rec.offset)),
        text,
        url: rec.target_uri().map(str::to_string),
        metadata,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        options: Options,
    }

    #[test]
    fn flags_default_to_dclm_and_each_turns_one_option() {
        assert_eq!(Cli::parse_from(["x"]).options, Options::default());
        let o = Cli::parse_from(["x", "--all-text", "--raw-http-body", "--links"]).options;
        assert!(!o.extract.main_content && !o.decode_chunked && o.extract.links);
        assert_eq!(
            Options {
                extract: ExtractOptions::dclm(),
                ..o.clone()
            },
            Options {
                decode_chunked: false,
                ..Options::default()
            }
        );
        let o = Cli::parse_from(["x", "--decoding", "charset", "--max-payload-bytes", "9"]).options;
        assert_eq!((o.decoding, o.max_payload_bytes), (Decoding::Charset, 9));
    }

    #[test]
    fn nesting_work_counts_scope_walks_and_attribute_checks() {
        // Start tags see 0, 1, 2 open elements, the end tags 3, 2, 1.
        assert_eq!(nesting_work("<div><div><div></div></div></div>"), 3 + 6);
        // Flat and void elements, comments and script bodies do not deepen the stack.
        assert_eq!(nesting_work("<p>a<p>b<br><img><li>c"), 0);
        assert_eq!(
            nesting_work("<div><!-- <div><div> --><script>'<div><div>'</script></div>"),
            1 + 2 + 1
        );
        assert_eq!(nesting_work("<DIV><Span>x</SPAN></div>"), 1 + 2 + 1);
        // Stray end tags walk the open elements too.
        assert_eq!(nesting_work("<div><div></p></p>"), 1 + 2 + 2);
        // Attributes: n(n-1)/2 name compares per tag; quoted values are skipped whole
        // (a `<div` inside one is not a tag), unquoted ones end at white space or `>`.
        assert_eq!(nesting_work("<p a b c d>"), 6);
        assert_eq!(nesting_work(r#"<p a="<div x y>" b='>' c=<div>x"#), 3);
        assert_eq!(nesting_work("<p a = 1 b=2/ c/>"), 3);
        assert_eq!(nesting_work("<p =a>"), 0);
        let deep = "<div>".repeat(1000);
        assert_eq!(nesting_work(&deep), 999 * 1000 / 2);
    }

    /// Test finding: 25,000 nested `<div><span>` took ~5 s to parse (quadratic); such a page is
    /// now a counted skip naming file and offset, and a normal page is untouched.
    #[test]
    fn pathologically_nested_pages_are_skipped_and_counted() {
        let page = |body: &str| {
            let block = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>{body}</body></html>");
            WarcRecord {
                offset: 77,
                version: "WARC/1.0".into(),
                headers: vec![("WARC-Type".into(), "response".into())],
                block: block.into_bytes(),
            }
        };
        let opts = Options::default();
        let file = Path::new("hostile.warc.gz");
        let deep = page(&format!("{}x", "<div><span>".repeat(16_000)));
        let t = std::time::Instant::now();
        match record_to_doc(file, &deep, &opts) {
            Err(e @ DocError::Skipped { .. }) => {
                assert_eq!(e.kind(), "too_deeply_nested");
                let msg = e.to_string();
                assert!(
                    msg.contains("hostile.warc.gz") && msg.contains("offset 77"),
                    "{msg}"
                );
            }
            other => panic!("not skipped: {other:?}"),
        }
        assert!(
            t.elapsed().as_secs_f64() < 1.0,
            "the estimate itself is linear"
        );
        let normal = page(&"<div><p>para <b>bold</b></p><ul><li>a<li>b</ul></div>".repeat(2_000));
        assert!(record_to_doc(file, &normal, &opts).is_ok());
        let off = Options {
            max_nesting_work: 0,
            ..Options::default()
        };
        let shallow = page(&format!("{}x", "<div>".repeat(300)));
        assert!(record_to_doc(file, &shallow, &off).is_ok());
        // The default leaves the serialised options (and so stage keys) as they were.
        let json = serde_json::to_string(&Options::default()).unwrap();
        assert!(!json.contains("max_nesting_work"), "{json}");
    }
}
