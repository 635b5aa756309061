//! The AIW answer parser and the scorer's normalisation on arbitrary model responses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lmrepro_aiw::score::{normalize_response, parse_answer};

fuzz_target!(|data: &[u8]| {
    let response = String::from_utf8_lossy(data);
    let _ = normalize_response(&response);
    let _ = parse_answer(&response);
});
