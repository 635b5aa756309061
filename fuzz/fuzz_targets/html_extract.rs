//! HTML → main text (resiliparse-style extraction on html5ever), DCLM's options and all-text mode.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lmrepro_extract::{extract_plain_text, ExtractOptions};

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let mut opts = ExtractOptions::dclm();
    let _ = extract_plain_text(&html, &opts);
    opts.main_content = false;
    opts.links = true;
    opts.form_fields = true;
    let _ = extract_plain_text(&html, &opts);
});
