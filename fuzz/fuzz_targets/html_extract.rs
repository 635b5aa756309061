//! HTML → main text (resiliparse-style extraction on html5ever), DCLM's options and all-text mode.
//! Pages over the pipeline's `--max-nesting-work` default are passed over as the pipeline skips
//! them (their parse time is quadratic in the nesting depth; see docs/reliability.md).
#![no_main]
use libfuzzer_sys::fuzz_target;
use lmrepro_extract::pipeline::DEFAULT_MAX_NESTING_WORK;
use lmrepro_extract::{extract_plain_text, nesting_work, ExtractOptions};

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    if nesting_work(&html) > DEFAULT_MAX_NESTING_WORK {
        return;
    }
    let mut opts = ExtractOptions::dclm();
    let _ = extract_plain_text(&html, &opts);
    opts.main_content = false;
    opts.links = true;
    opts.form_fields = true;
    let _ = extract_plain_text(&html, &opts);
});
