//! Recipe TOML (`Recipe::load`, through a file as in production, so input-set references are
//! resolved against an empty `inputs/` folder) and the input-set list format.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lmrepro_data::{parse_input_set, Recipe};

// One folder per fuzzing process (see jsonl_docs.rs).
static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_input_set(text);
    let dir = DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("inputs")).unwrap();
        d
    });
    let path = dir.path().join("r.toml");
    std::fs::write(&path, data).unwrap();
    if let Ok(recipe) = Recipe::load(&path) {
        let _ = recipe.params::<toml::Value>();
    }
});
