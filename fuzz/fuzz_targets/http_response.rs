//! The HTTP header parser and the chunked-transfer decoder of response records.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lmrepro_extract::warc::{dechunk, parse_http_response};

fuzz_target!(|data: &[u8]| {
    if let Ok(resp) = parse_http_response(data, true) {
        let _ = resp.charset();
        assert!(
            resp.body.len() <= data.len(),
            "de-chunking never grows the payload"
        );
    }
    if let Ok(body) = dechunk(data) {
        assert!(body.len() <= data.len());
    }
});
