//! Bad recipe files (issue 19, bad-input catalogue): every one is an error naming the file and,
//! for syntax and type errors, the line.

use lmrepro_data::Recipe;
use std::path::Path;

const PIN: &str = r#"
[[inputs]]
name = "a"
url = "https://example.org/a.csv"
sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
size = 3
license = "CC0"
path = "x/a.csv"
"#;

fn load(dir: &Path, text: &str) -> String {
    let path = dir.join("r.toml");
    std::fs::write(&path, text).unwrap();
    match Recipe::load(&path) {
        Ok(_) => panic!("bad recipe loaded:\n{text}"),
        Err(e) => format!("{e:#}"),
    }
}

fn head() -> String {
    "name = \"r\"\nkind = \"k\"\ntitle = \"t\"\n".to_string()
}

#[test]
fn a_good_recipe_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.toml");
    std::fs::write(&path, head() + "[params]\nseed = 1\n" + PIN).unwrap();
    let r = Recipe::load(&path).unwrap();
    assert_eq!(r.inputs.len(), 1);
}

#[test]
fn syntax_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(dir.path(), &(head() + "[params]\nseed = = 1\n"));
    assert!(e.contains("r.toml") && e.contains("line 5"), "{e}");
    // Truncated mid-string and invalid UTF-8.
    let e = load(dir.path(), &(head() + "description = \"\"\"never closed"));
    assert!(e.contains("r.toml"), "{e}");
    std::fs::write(dir.path().join("u.toml"), b"name = \"\xff\"\n").unwrap();
    let e = format!(
        "{:#}",
        Recipe::load(&dir.path().join("u.toml")).unwrap_err()
    );
    assert!(e.contains("u.toml"), "{e}");
}

#[test]
fn empty_file_and_missing_field_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(dir.path(), "");
    assert!(
        e.contains("r.toml") && e.contains("missing field `name`"),
        "{e}"
    );
    let e = load(dir.path(), "name = \"r\"\nkind = \"k\"\n");
    assert!(e.contains("missing field `title`"), "{e}");
}

#[test]
fn wrong_types_and_unknown_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(dir.path(), "name = 3\nkind = \"k\"\ntitle = \"t\"\n");
    assert!(e.contains("r.toml") && e.contains("line 1"), "{e}");
    let e = load(dir.path(), &(head() + "titel = \"typo\"\n"));
    assert!(e.contains("unknown field `titel`"), "{e}");
    let e = load(
        dir.path(),
        &(head() + &PIN.replace("size = 3", "size = -3")),
    );
    assert!(e.contains("r.toml"), "{e}");
}

#[test]
fn duplicate_inputs_with_different_pins_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // The same pin twice is one input; two pins under one name are an error.
    let path = dir.path().join("ok.toml");
    std::fs::write(&path, head() + PIN + PIN).unwrap();
    assert_eq!(Recipe::load(&path).unwrap().inputs.len(), 1);
    let other = PIN.replace("size = 3", "size = 4");
    let e = load(dir.path(), &(head() + PIN + &other));
    assert!(e.contains("`a` is listed twice with different pins"), "{e}");
}

#[test]
fn unpinned_and_malformed_sha256_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", "abc", &"0".repeat(64), &"g".repeat(64)] {
        let text = head() + &PIN.replace(&"a".repeat(64), bad);
        let e = load(dir.path(), &text);
        assert!(e.contains("input `a` is not pinned"), "{bad:?}: {e}");
    }
}

#[test]
fn a_missing_input_set_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(dir.path(), &(head() + "input_sets = [\"nope\"]\n"));
    assert!(
        e.contains("input set `nope`") && e.contains("nope.toml"),
        "{e}"
    );
}
