//! The streaming WARC reader on arbitrary bytes (plain, gzip multi-member or zstd, detected from
//! the first bytes as in production), then the HTTP layer of every record it yields.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lmrepro_extract::warc::{parse_http_response, WarcReader};

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = WarcReader::new(std::io::Cursor::new(data.to_vec())) else {
        return;
    };
    // A reader must end: every item consumes input or finishes (a bound catches a livelock as a
    // crash rather than a timeout with no stack).
    for (n, item) in reader.enumerate() {
        assert!(n <= data.len() + 1, "more items than input bytes");
        match item {
            Ok(record) => {
                let _ = parse_http_response(&record.block, true);
            }
            Err(e) => {
                let _ = (e.offset(), e.reason(), e.to_string());
            }
        }
    }
});
