//! Streaming WARC reader: uncompressed, gzip (one member per record as Common Crawl writes it, or
//! one member for the whole file, or anything in between) and zstd.
//!
//! Why hand-written: the `warc` crate (0.4) decodes gzip with libflate, has no zstd, gives no record
//! offsets and stops at the first corrupt member. Common Crawl tooling needs all three: an error must
//! name the file and the byte offset of the record (the offset of its gzip member, as in CC's index),
//! and the run must continue with the next member.
//!
//! Offsets: for gzip the offset is that of the gzip member in which the record starts (the number a
//! CDX index stores); for uncompressed files it is the byte offset of the `WARC/` line; for zstd it is
//! the offset in the *decompressed* stream (zstd frames are not tracked).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// How a WARC file is compressed (detected from its first bytes, never from its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Detects the compression from the magic bytes at the start of a file.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
            // A skippable frame (e.g. the dictionary frame of the WARC-zstd proposal).
            || (head.len() >= 4 && (head[0] & 0xf0) == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18])
        {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// What went wrong with one record. Every variant carries the record's offset.
#[derive(Debug, thiserror::Error)]
pub enum WarcError {
    #[error("corrupt gzip member at offset {offset}: {message}")]
    CorruptGzip { offset: u64, message: String },
    #[error("corrupt zstd data near decompressed offset {offset}: {message}")]
    CorruptZstd { offset: u64, message: String },
    #[error("truncated record at offset {offset}: the block should have {expected} bytes but the file ends after {got}")]
    Truncated {
        offset: u64,
        expected: u64,
        got: u64,
    },
    #[error("record at offset {offset}: header block ends before the empty line")]
    TruncatedHeader { offset: u64 },
    #[error(
        "no WARC record at offset {offset}: expected a `WARC/<version>` line, found {found:?}"
    )]
    NotWarc { offset: u64, found: String },
    #[error("record at offset {offset}: malformed header line {line:?}")]
    BadHeader { offset: u64, line: String },
    #[error("record at offset {offset}: missing or invalid Content-Length ({value:?})")]
    BadContentLength { offset: u64, value: String },
    #[error("I/O error at offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
}

impl WarcError {
    pub fn offset(&self) -> u64 {
        match self {
            WarcError::CorruptGzip { offset, .. }
            | WarcError::CorruptZstd { offset, .. }
            | WarcError::Truncated { offset, .. }
            | WarcError::TruncatedHeader { offset }
            | WarcError::NotWarc { offset, .. }
            | WarcError::BadHeader { offset, .. }
            | WarcError::BadContentLength { offset, .. }
            | WarcError::Io { offset, .. } => *offset,
        }
    }

    /// Short machine-readable reason (the key used in stats reports).
    pub fn reason(&self) -> &'static str {
        match self {
            WarcError::CorruptGzip { .. } => "corrupt_gzip_member",
            WarcError::CorruptZstd { .. } => "corrupt_zstd",
            WarcError::Truncated { .. } | WarcError::TruncatedHeader { .. } => "truncated_record",
            WarcError::NotWarc { .. } => "not_a_warc_record",
            WarcError::BadHeader { .. } => "bad_warc_header",
            WarcError::BadContentLength { .. } => "bad_content_length",
            WarcError::Io { .. } => "io_error",
        }
    }
}

/// First header named `name`, compared case-insensitively (WARC and HTTP header names both are).
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One WARC record: its headers (in file order, names as written) and its content block.
#[derive(Debug, Clone)]
pub struct WarcRecord {
    /// See the module docs for what the offset counts.
    pub offset: u64,
    /// `WARC/1.0`, `WARC/1.1`, ...
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub block: Vec<u8>,
}

impl WarcRecord {
    /// First header named `name` (case-insensitive, as the WARC spec says).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub fn record_type(&self) -> Option<&str> {
        self.header("WARC-Type")
    }

    /// `WARC-Target-URI` without the `<...>` that WARC 1.0 writers such as GNU wget put around it.
    pub fn target_uri(&self) -> Option<&str> {
        self.header("WARC-Target-URI").map(strip_angle_brackets)
    }

    pub fn record_id(&self) -> Option<&str> {
        self.header("WARC-Record-ID")
    }

    pub fn date(&self) -> Option<&str> {
        self.header("WARC-Date")
    }
}

fn strip_angle_brackets(s: &str) -> &str {
    s.strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(s)
}

/// A decompressed byte stream that knows the raw offsets of its restart points.
trait Decoded: Send {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Raw offset to report for a record starting at decompressed position `pos`.
    fn raw_offset(&mut self, pos: u64) -> u64;
    /// After a read error: skip to the next point where decoding can restart (returns the
    /// decompressed position from which reading resumes), or `None` when nothing is left.
    fn recover(&mut self, decoded_pos: u64) -> Option<u64>;
    fn error(&self, pos: u64, e: io::Error) -> WarcError;
}

struct Plain<R>(R);

impl<R: Read + Send> Decoded for Plain<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
    fn raw_offset(&mut self, pos: u64) -> u64 {
        pos
    }
    fn recover(&mut self, _: u64) -> Option<u64> {
        None
    }
    fn error(&self, pos: u64, e: io::Error) -> WarcError {
        WarcError::Io {
            offset: pos,
            source: e,
        }
    }
}

struct Zstd<R: Read>(zstd::stream::read::Decoder<'static, BufReader<R>>);

impl<R: Read + Send> Decoded for Zstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
    fn raw_offset(&mut self, pos: u64) -> u64 {
        pos
    }
    fn recover(&mut self, _: u64) -> Option<u64> {
        // A zstd stream cannot be resynchronised without frame offsets; stop here.
        None
    }
    fn error(&self, pos: u64, e: io::Error) -> WarcError {
        WarcError::CorruptZstd {
            offset: pos,
            message: e.to_string(),
        }
    }
}

/// A `BufRead` that counts the bytes consumed from the underlying file. `pending` holds bytes that
/// were consumed already but must be read again (a gzip magic split across two buffer fills).
struct Counting<R> {
    inner: BufReader<R>,
    pos: u64,
    pending: Vec<u8>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(buf.len());
            buf[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if !self.pending.is_empty() {
            return Ok(&self.pending);
        }
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if !self.pending.is_empty() {
            self.pending.drain(..amt.min(self.pending.len()));
        } else {
            self.inner.consume(amt);
        }
        self.pos += amt as u64;
    }
}

enum GzState<R: Read> {
    Between(Counting<R>),
    // Boxed: zlib-rs's decoder state is large next to the other variants (clippy large_enum_variant);
    // one allocation per gzip member.
    InMember(Box<flate2::bufread::GzDecoder<Counting<R>>>),
    Done,
}

/// Multi-member gzip, one `GzDecoder` per member, so that each member's raw offset is known and a
/// corrupt member can be skipped (flate2's `MultiGzDecoder` hides both).
struct Gzip<R: Read> {
    state: GzState<R>,
    /// Decompressed bytes produced so far.
    out_pos: u64,
    /// (decompressed start, raw offset) of members whose start may still be asked for.
    members: VecDeque<(u64, u64)>,
    /// Raw offset of the member being decoded.
    current_member: u64,
}

impl<R: Read + Send> Gzip<R> {
    fn new(inner: BufReader<R>) -> Self {
        Gzip {
            state: GzState::Between(Counting {
                inner,
                pos: 0,
                pending: Vec::new(),
            }),
            out_pos: 0,
            members: VecDeque::new(),
            current_member: 0,
        }
    }
}

impl<R: Read + Send> Decoded for Gzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match std::mem::replace(&mut self.state, GzState::Done) {
                GzState::Done => return Ok(0),
                GzState::Between(mut raw) => {
                    if raw.fill_buf()?.is_empty() {
                        return Ok(0);
                    }
                    self.current_member = raw.pos;
                    self.members.push_back((self.out_pos, raw.pos));
                    self.state = GzState::InMember(Box::new(flate2::bufread::GzDecoder::new(raw)));
                }
                GzState::InMember(mut dec) => match dec.read(buf) {
                    Ok(0) if !buf.is_empty() => {
                        self.state = GzState::Between(dec.into_inner());
                    }
                    Ok(n) => {
                        self.out_pos += n as u64;
                        self.state = GzState::InMember(dec);
                        return Ok(n);
                    }
                    Err(e) => {
                        self.state = GzState::InMember(dec);
                        return Err(e);
                    }
                },
            }
        }
    }

    fn raw_offset(&mut self, pos: u64) -> u64 {
        // Drop members that end before `pos` (their successor starts at or before it).
        while self.members.len() >= 2 && self.members[1].0 <= pos {
            self.members.pop_front();
        }
        match self.members.front() {
            Some(&(start, raw)) if start <= pos => raw,
            _ => self.current_member,
        }
    }

    fn recover(&mut self, _decoded_pos: u64) -> Option<u64> {
        let mut raw = match std::mem::replace(&mut self.state, GzState::Done) {
            GzState::InMember(dec) => (*dec).into_inner(),
            GzState::Between(raw) => raw,
            GzState::Done => return None,
        };
        // Resume at the next gzip member header (1f 8b 08) after the point where decoding failed.
        // Scanning from the current raw position is what a stream allows, and is exact for
        // one-record-per-member files (a false magic inside deflate data only costs another
        // silent resync, see `WarcReader::resync`).
        const MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];
        let mut matched = 0usize;
        loop {
            let chunk = match raw.fill_buf() {
                Ok(c) if !c.is_empty() => c,
                _ => return None,
            };
            let mut found = None;
            for (i, &b) in chunk.iter().enumerate() {
                if matched == 2 && b == MAGIC[2] {
                    found = Some(i);
                    break;
                }
                matched = if b == MAGIC[0] {
                    1
                } else if matched == 1 && b == MAGIC[1] {
                    2
                } else {
                    0
                };
            }
            match found {
                Some(i) if i >= 2 => {
                    raw.consume(i - 2);
                    break;
                }
                Some(i) => {
                    // The first 2 - i magic bytes were in the previous buffer fill: re-queue them.
                    let carried = 2 - i;
                    raw.pending = MAGIC[..carried].to_vec();
                    raw.pos -= carried as u64;
                    break;
                }
                None => {
                    let n = chunk.len();
                    raw.consume(n);
                }
            }
        }
        self.members.clear();
        self.state = GzState::Between(raw);
        Some(self.out_pos)
    }

    fn error(&self, _pos: u64, e: io::Error) -> WarcError {
        WarcError::CorruptGzip {
            offset: self.current_member,
            message: e.to_string(),
        }
    }
}

/// Streaming reader of WARC records. Iterating yields records and per-record errors; after an error
/// it continues with the next record when the format allows (gzip: next member; bad headers: next
/// `WARC/` line) and ends otherwise (truncation at the end of the file, zstd corruption).
pub struct WarcReader {
    src: Box<dyn Decoded>,
    compression: Compression,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Decompressed position of `buf[start]`.
    pos: u64,
    eof: bool,
    /// Set after an error: skip bytes up to the next line starting with `WARC/`.
    resync: bool,
    finished: bool,
}

const BUF_SIZE: usize = 1 << 16;

impl WarcReader {
    /// Opens a WARC file, detecting its compression from its first bytes.
    pub fn open(path: &Path) -> io::Result<WarcReader> {
        let file = File::open(path)?;
        WarcReader::new(file)
    }

    /// Wraps any reader (compression detected from its first bytes).
    pub fn new<R: Read + Send + 'static>(reader: R) -> io::Result<WarcReader> {
        let mut inner = BufReader::with_capacity(BUF_SIZE, reader);
        let compression = Compression::detect(inner.fill_buf()?);
        let src: Box<dyn Decoded> = match compression {
            Compression::None => Box::new(Plain(inner)),
            Compression::Gzip => Box::new(Gzip::new(inner)),
            Compression::Zstd => Box::new(Zstd(zstd::stream::read::Decoder::with_buffer(inner)?)),
        };
        Ok(WarcReader {
            src,
            compression,
            buf: vec![0; BUF_SIZE],
            start: 0,
            end: 0,
            pos: 0,
            eof: false,
            resync: false,
            finished: false,
        })
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Makes sure at least `n` unread bytes are buffered (fewer only at EOF).
    fn fill(&mut self, n: usize) -> io::Result<()> {
        while self.end - self.start < n && !self.eof {
            if self.start > 0
                && (self.buf.len() - self.end < BUF_SIZE / 4 || self.start == self.end)
            {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < BUF_SIZE / 4 {
                let new_len = (self.buf.len() * 2).max(self.end + n);
                self.buf.resize(new_len, 0);
            }
            let end = self.end;
            let got = self.src.read(&mut self.buf[end..])?;
            if got == 0 {
                self.eof = true;
            }
            self.end += got;
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.pos += n as u64;
    }

    /// Reads one line (through `\n`) into a new string-ish byte vector, without the line ending.
    /// Returns `None` at EOF with nothing read.
    fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        loop {
            if self.start == self.end {
                self.fill(1)?;
                if self.start == self.end {
                    return Ok(if line.is_empty() { None } else { Some(line) });
                }
            }
            let avail = &self.buf[self.start..self.end];
            if let Some(i) = memchr::memchr(b'\n', avail) {
                line.extend_from_slice(&avail[..i]);
                self.consume(i + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            line.extend_from_slice(avail);
            let n = avail.len();
            self.consume(n);
        }
    }

    fn read_exact_vec(&mut self, len: u64) -> io::Result<Vec<u8>> {
        // Do not trust a huge Content-Length for the allocation; grow as data arrives.
        let mut out = Vec::with_capacity(len.min(64 << 20) as usize);
        let mut left = len;
        while left > 0 {
            if self.start == self.end {
                self.fill(1)?;
                if self.start == self.end {
                    break;
                }
            }
            let take = ((self.end - self.start) as u64).min(left) as usize;
            out.extend_from_slice(&self.buf[self.start..self.start + take]);
            self.consume(take);
            left -= take as u64;
        }
        Ok(out)
    }

    /// Handles a read error of the decompressor: builds the error and tries to resume.
    fn stream_error(&mut self, e: io::Error, record_pos: u64) -> WarcError {
        let err = self.src.error(record_pos, e);
        // Decompressed data already buffered belongs to the broken region: drop it.
        self.start = 0;
        self.end = 0;
        match self.src.recover(self.pos) {
            Some(p) => {
                self.pos = p;
                self.eof = false;
                self.resync = true;
            }
            None => self.finished = true,
        }
        err
    }

    fn next_record(&mut self) -> Option<Result<WarcRecord, WarcError>> {
        loop {
            if self.finished {
                return None;
            }
            // Skip blank lines between records (the spec's two CRLFs, and sloppy writers' extras).
            let line_pos = self.pos;
            let line = match self.read_line() {
                Ok(Some(l)) => l,
                Ok(None) => return None,
                Err(e) => {
                    let was_resyncing = self.resync;
                    let err = self.stream_error(e, line_pos);
                    if was_resyncing {
                        // Still inside the broken region (e.g. a false gzip magic in deflate
                        // data): the error was reported when the region began.
                        continue;
                    }
                    return Some(Err(err));
                }
            };
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let record_offset = self.src.raw_offset(line_pos);
            if !line.starts_with(b"WARC/") {
                if self.resync {
                    continue;
                }
                self.resync = true;
                let found = String::from_utf8_lossy(&line[..line.len().min(60)]).into_owned();
                return Some(Err(WarcError::NotWarc {
                    offset: record_offset,
                    found,
                }));
            }
            self.resync = false;
            return Some(self.read_record_after_version(line, record_offset, line_pos));
        }
    }

    fn read_record_after_version(
        &mut self,
        version_line: Vec<u8>,
        offset: u64,
        line_pos: u64,
    ) -> Result<WarcRecord, WarcError> {
        let version = String::from_utf8_lossy(&version_line).trim().to_string();
        let mut headers: Vec<(String, String)> = Vec::new();
        loop {
            let line = match self.read_line() {
                Ok(Some(l)) => l,
                Ok(None) => return Err(WarcError::TruncatedHeader { offset }),
                Err(e) => return Err(self.stream_error(e, line_pos)),
            };
            if line.is_empty() {
                break;
            }
            // Header continuation line (obsolete folding): append to the previous value.
            if matches!(line[0], b' ' | b'\t') {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(String::from_utf8_lossy(&line).trim());
                    continue;
                }
            }
            let text = String::from_utf8_lossy(&line);
            match text.split_once(':') {
                Some((k, v)) if !k.trim().is_empty() => {
                    headers.push((k.trim().to_string(), v.trim().to_string()))
                }
                _ => {
                    self.resync = true;
                    return Err(WarcError::BadHeader {
                        offset,
                        line: text.chars().take(80).collect(),
                    });
                }
            }
        }
        let cl = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Content-Length"))
            .map(|(_, v)| v.clone());
        let len = match cl.as_deref().map(str::parse::<u64>) {
            Some(Ok(n)) => n,
            _ => {
                self.resync = true;
                return Err(WarcError::BadContentLength {
                    offset,
                    value: cl.unwrap_or_default(),
                });
            }
        };
        let block = match self.read_exact_vec(len) {
            Ok(b) => b,
            Err(e) => return Err(self.stream_error(e, line_pos)),
        };
        if (block.len() as u64) < len {
            self.finished = true;
            return Err(WarcError::Truncated {
                offset,
                expected: len,
                got: block.len() as u64,
            });
        }
        Ok(WarcRecord {
            offset,
            version,
            headers,
            block,
        })
    }
}

impl Iterator for WarcReader {
    type Item = Result<WarcRecord, WarcError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}

/// The HTTP message inside a `response` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// `charset=` parameter of the Content-Type header, if any.
    pub fn charset(&self) -> Option<&str> {
        let ct = self.header("Content-Type")?;
        ct.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| v.trim().trim_matches(|c| c == '"' || c == '\''))
        })
    }
}

/// Errors of the HTTP layer of a response record.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    #[error("HTTP header block has no terminating empty line")]
    NoHeaderEnd,
    #[error("malformed chunked transfer encoding: {0}")]
    BadChunked(String),
}

/// Splits an HTTP response block into status, headers and payload.
///
/// Like FastWARC (what DCLM uses) the payload is returned as stored: no content decoding. When
/// `decode_chunked` is set and the response says `Transfer-Encoding: chunked`, the chunk framing is
/// removed (Common Crawl never stores chunked payloads, GNU wget does).
pub fn parse_http_response(block: &[u8], decode_chunked: bool) -> Result<HttpResponse, HttpError> {
    let mut headers = Vec::new();
    let mut status = None;
    let mut i = 0;
    let mut first = true;
    loop {
        let Some(nl) = memchr::memchr(b'\n', &block[i..]) else {
            return Err(HttpError::NoHeaderEnd);
        };
        let mut line = &block[i..i + nl];
        i += nl + 1;
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if first {
            first = false;
            // "HTTP/1.1 200 OK"
            status = text
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u16>().ok());
            continue;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some((_, v)) = headers.last_mut() {
                let v: &mut String = v;
                v.push(' ');
                v.push_str(text.trim());
            }
            continue;
        }
        if let Some((k, v)) = text.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut resp = HttpResponse {
        status,
        headers,
        body: Vec::new(),
    };
    let payload = &block[i..];
    let chunked = resp
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    resp.body = if decode_chunked && chunked {
        dechunk(payload)?
    } else {
        payload.to_vec()
    };
    Ok(resp)
}

/// Removes chunked transfer-encoding framing (RFC 9112 §7.1). Trailers are dropped.
pub fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::with_capacity(data.len());
    loop {
        let Some(nl) = memchr::memchr(b'\n', data) else {
            // Missing last-chunk: tolerate a payload cut right after a chunk.
            if data.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(out);
            }
            return Err(HttpError::BadChunked(
                "chunk size line without newline".into(),
            ));
        };
        let line = String::from_utf8_lossy(&data[..nl]);
        let size_str = line.trim().split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16)
            .map_err(|_| HttpError::BadChunked(format!("bad chunk size {size_str:?}")))?;
        data = &data[nl + 1..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size {
            return Err(HttpError::BadChunked(format!(
                "chunk of {size} bytes but only {} left",
                data.len()
            )));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size..];
        // CRLF after the chunk data.
        if data.starts_with(b"\r\n") {
            data = &data[2..];
        } else if data.starts_with(b"\n") {
            data = &data[1..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(typ: &str, uri: &str, block: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "WARC/1.0\r\nWARC-Type: {typ}\r\nWARC-Target-URI: {uri}\r\nWARC-Record-ID: <urn:uuid:{uri}>\r\nWARC-Date: 2020-01-01T00:00:00Z\r\nContent-Length: {}\r\n\r\n",
            block.len()
        )
        .into_bytes();
        r.extend_from_slice(block);
        r.extend_from_slice(b"\r\n\r\n");
        r
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut e, data).unwrap();
        e.finish().unwrap()
    }

    fn read_all(bytes: Vec<u8>) -> Vec<Result<WarcRecord, WarcError>> {
        WarcReader::new(std::io::Cursor::new(bytes))
            .unwrap()
            .collect()
    }

    #[test]
    fn plain_gzip_zstd_give_same_records() {
        let r1 = record("response", "http://a/", b"HTTP/1.1 200 OK\r\n\r\nhello");
        let r2 = record("request", "http://b/", b"GET / HTTP/1.1\r\n\r\n");
        let plain: Vec<u8> = [r1.clone(), r2.clone()].concat();
        let per_member: Vec<u8> = [gz(&r1), gz(&r2)].concat();
        let whole = gz(&plain);
        let zst = zstd::encode_all(&plain[..], 3).unwrap();
        for bytes in [plain.clone(), per_member.clone(), whole, zst] {
            let recs: Vec<_> = read_all(bytes).into_iter().map(|r| r.unwrap()).collect();
            assert_eq!(recs.len(), 2);
            assert_eq!(recs[0].record_type(), Some("response"));
            assert_eq!(recs[0].target_uri(), Some("http://a/"));
            assert_eq!(recs[1].block, b"GET / HTTP/1.1\r\n\r\n");
        }
        // Offsets: the byte offset in plain files, the member offset in per-record gzip.
        let recs: Vec<_> = read_all(plain).into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(recs[1].offset, r1.len() as u64);
        let recs: Vec<_> = read_all(per_member)
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs[0].offset, 0);
        assert_eq!(recs[1].offset, gz(&r1).len() as u64);
    }

    #[test]
    fn duplicate_record_ids_are_read_as_separate_records() {
        // Record ids are not keys (DCLM's pipeline does not use them either): a crawl that
        // repeats one is read record by record, in order, nothing merged or dropped.
        let a = record("response", "http://same/", b"first");
        let b = record("response", "http://same/", b"second");
        let recs: Vec<_> = read_all([a, b].concat())
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].record_id(), recs[1].record_id());
        assert_eq!(recs[0].block, b"first");
        assert_eq!(recs[1].block, b"second");
    }

    #[test]
    fn empty_input_has_no_records() {
        assert!(read_all(Vec::new()).is_empty());
        assert!(read_all(gz(b"")).is_empty());
        assert!(read_all(b"\r\n\r\n".to_vec()).is_empty());
    }

    #[test]
    fn corrupt_gzip_member_is_reported_and_skipped() {
        let recs: Vec<Vec<u8>> = (0..3)
            .map(|i| record("response", &format!("http://x/{i}"), &vec![b'a' + i; 3000]))
            .collect();
        let members: Vec<Vec<u8>> = recs.iter().map(|r| gz(r)).collect();
        let mut bad = members[1].clone();
        // Flip bytes in the middle of the deflate data of member 1.
        for b in &mut bad[20..40] {
            *b ^= 0x5a;
        }
        let bytes = [members[0].clone(), bad, members[2].clone()].concat();
        let out = read_all(bytes);
        let ok: Vec<_> = out.iter().filter_map(|r| r.as_ref().ok()).collect();
        let errs: Vec<_> = out.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(ok.len(), 2, "{out:?}");
        assert_eq!(ok[0].target_uri(), Some("http://x/0"));
        assert_eq!(ok[1].target_uri(), Some("http://x/2"));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].reason(), "corrupt_gzip_member");
        assert_eq!(errs[0].offset(), members[0].len() as u64);
        assert_eq!(ok[1].offset, (members[0].len() + members[1].len()) as u64);
    }

    /// A zstd WARC cut in the middle, or with a flipped byte, yields its intact records and then
    /// one error with a file offset (zstd frames cannot be resynchronised like gzip members).
    #[test]
    fn truncated_and_corrupt_zstd_are_reported() {
        let recs: Vec<u8> = (0..40)
            .flat_map(|i| {
                record(
                    "response",
                    &format!("http://{i}/"),
                    &[b'a' + (i % 26) as u8; 3000],
                )
            })
            .collect();
        let z = zstd::bulk::compress(&recs, 3).unwrap();
        for bytes in [z[..z.len() / 2].to_vec(), {
            let mut f = z.clone();
            let n = f.len();
            f[n / 2] ^= 0x5a;
            f
        }] {
            let out = read_all(bytes);
            let errors: Vec<_> = out.iter().filter_map(|r| r.as_ref().err()).collect();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(out.last().unwrap().is_err(), "the error ends the stream");
            assert!(out.len() < 41);
        }
    }

    #[test]
    fn truncated_record_is_reported() {
        let r1 = record("response", "http://a/", b"HTTP/1.1 200 OK\r\n\r\nhello");
        let r2 = record("response", "http://b/", &[b'z'; 500]);
        let mut plain = [r1.clone(), r2].concat();
        plain.truncate(r1.len() + 300);
        let out = read_all(plain.clone());
        assert_eq!(out.len(), 2);
        assert!(out[0].is_ok());
        let e = out[1].as_ref().unwrap_err();
        assert_eq!(e.reason(), "truncated_record");
        assert_eq!(e.offset(), r1.len() as u64);
        // Truncated gzip: the decoder hits EOF inside the member.
        let m2 = gz(&record(
            "response",
            "http://b/",
            &(0..2000u32)
                .map(|i| (i * 7 % 251) as u8)
                .collect::<Vec<_>>(),
        ));
        let mut g = [gz(&r1), m2.clone()].concat();
        let cut = g.len() - m2.len() / 2;
        g.truncate(cut);
        let out = read_all(g);
        assert!(out[0].is_ok());
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[1].is_err());
        assert_eq!(out[1].as_ref().unwrap_err().offset(), gz(&r1).len() as u64);
    }

    #[test]
    fn garbage_between_records_resyncs() {
        let r1 = record("response", "http://a/", b"x");
        let r2 = record("response", "http://b/", b"y");
        let bytes = [r1, b"garbage line\r\nmore\r\n".to_vec(), r2].concat();
        let out = read_all(bytes);
        assert_eq!(out.len(), 3);
        assert_eq!(out[1].as_ref().unwrap_err().reason(), "not_a_warc_record");
        assert_eq!(out[2].as_ref().unwrap().target_uri(), Some("http://b/"));
    }

    #[test]
    fn bad_content_length() {
        let bytes =
            b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: abc\r\n\r\nxyz\r\n\r\n".to_vec();
        let out = read_all(bytes);
        assert_eq!(out[0].as_ref().unwrap_err().reason(), "bad_content_length");
    }

    #[test]
    fn wget_uri_brackets_are_stripped() {
        let bytes = record("response", "<http://a/b>", b"");
        let r = read_all(bytes).remove(0).unwrap();
        assert_eq!(r.target_uri(), Some("http://a/b"));
    }

    #[test]
    fn http_parsing_and_chunked() {
        let block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=ISO-8859-1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        let r = parse_http_response(block, true).unwrap();
        assert_eq!(r.status, Some(200));
        assert_eq!(r.charset(), Some("ISO-8859-1"));
        assert_eq!(r.body, b"hello, world");
        let raw = parse_http_response(block, false).unwrap();
        assert!(raw.body.starts_with(b"5\r\nhello"));
        assert_eq!(
            parse_http_response(b"HTTP/1.1 200 OK\r\nX: y", true),
            Err(HttpError::NoHeaderEnd)
        );
        assert!(dechunk(b"zz\r\nabc").is_err());
        assert!(dechunk(b"10\r\nabc").is_err());
    }

    proptest::proptest! {
        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = read_all(bytes.clone());
            let mut g = gz(&bytes);
            let n = g.len();
            if n > 12 { g[n / 2] ^= 0xff; }
            let _ = read_all(g);
        }

        #[test]
        fn roundtrip_arbitrary_blocks(blocks in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), 0..5)) {
            let recs: Vec<Vec<u8>> = blocks.iter().enumerate().map(|(i, b)| record("resource", &format!("u{i}"), b)).collect();
            let per_member: Vec<u8> = recs.iter().flat_map(|r| gz(r)).collect();
            let out: Vec<_> = read_all(per_member).into_iter().map(|r| r.unwrap()).collect();
            proptest::prop_assert_eq!(out.len(), blocks.len());
            for (o, b) in out.iter().zip(&blocks) {
                proptest::prop_assert_eq!(&o.block, b);
            }
        }

        #[test]
        fn dechunk_roundtrip(chunks in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 1..100), 0..6)) {
            let mut enc = Vec::new();
            for c in &chunks {
                enc.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                enc.extend_from_slice(c);
                enc.extend_from_slice(b"\r\n");
            }
            enc.extend_from_slice(b"0\r\n\r\n");
            proptest::prop_assert_eq!(dechunk(&enc).unwrap(), chunks.concat());
        }
    }
}
