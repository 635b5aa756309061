//! The JSONL document reader: the bytes as a plain, `.gz` and `.zst` file, read with both
//! malformed-line policies. Errors must name the file and line; nothing may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lmrepro_stage::{read_docs, OnMalformed};

// One folder per fuzzing process, files overwritten by each input (a fresh temporary folder per
// input cost 20x in rate).
static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    for name in ["a.jsonl", "a.jsonl.gz", "a.jsonl.zst"] {
        let path = dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        match read_docs(&path, OnMalformed::Error) {
            Ok((docs, skipped)) => {
                assert_eq!(skipped, 0);
                for (line, doc) in &docs {
                    assert!(*line >= 1);
                    let _ = lmrepro_stage::text(doc);
                }
            }
            Err(e) => {
                let msg = format!("{e:#}");
                assert!(
                    msg.contains("a.jsonl"),
                    "error without the file name: {msg}"
                );
            }
        }
        let _ = read_docs(&path, OnMalformed::Skip);
    }
});
