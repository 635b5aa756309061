//! The fast encoder against HF `tokenizers` (the reference it replaces) on the pinned GPT-NeoX-20B
//! `tokenizer.json`: random Unicode strings built to hit every branch of the pre-token regex,
//! NFC and the added tokens, plus real documents from the mirror.

use lmrepro_tokenizer::Tokenizer;
use proptest::prelude::*;
use std::sync::OnceLock;

fn neox_path() -> std::path::PathBuf {
    lmrepro_data::testing::input("dclm-eval", "tokenizer/gpt-neox-20b/tokenizer.json")
}

fn neox() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| Tokenizer::from_file(&neox_path()).unwrap())
}

fn same_as_hf(text: &str) {
    let tok = neox();
    assert_eq!(
        tok.encode(text).unwrap(),
        tok.encode_hf(text).unwrap(),
        "text {text:?}"
    );
}

/// Fragments that exercise the regex alternatives (contractions, ` ?` prefixes, whitespace runs
/// before words and at the end), NFC (decomposed accents, the Ångström sign, Hangul jamo),
/// the added tokens (specials, NeoX's 2-24-space tokens) and multi-byte classes.
const FRAGMENTS: &[&str] = &[
    " ",
    "  ",
    "   ",
    "    ",
    "                         ",
    "\t",
    "\n",
    "\n\n",
    "\r\n",
    "\u{a0}",
    "\u{3000}",
    "\u{85}",
    "\u{2028}",
    "'",
    "'s",
    "'t",
    "'re",
    "'ve",
    "'m",
    "'ll",
    "'d",
    "'S",
    "a",
    "Z",
    "hello",
    "World",
    "don",
    "0",
    "7",
    "1234",
    "٣",
    "²",
    "Ⅻ",
    "\u{301}",
    "e\u{301}",
    "\u{212b}",
    "\u{1100}\u{1161}",
    "<|endoftext|>",
    "<|padding|>",
    "<|endo",
    "!",
    "?!",
    ".",
    ",",
    "-",
    "_",
    "$",
    "🙂",
    "中文",
    "ß",
    "İ",
    "ﬁ",
    "\u{200d}",
    "\u{feff}",
    "\0",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(FRAGMENTS).prop_map(String::from),
            1 => any::<char>().prop_map(String::from),
        ],
        0..48,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn fast_encoder_matches_hf(t in text()) {
        let tok = neox();
        prop_assert_eq!(tok.encode(&t).unwrap(), tok.encode_hf(&t).unwrap(), "text {:?}", t);
    }

    #[test]
    fn fast_encoder_matches_hf_on_any_string(t in "\\PC{0,64}") {
        let tok = neox();
        prop_assert_eq!(tok.encode(&t).unwrap(), tok.encode_hf(&t).unwrap(), "text {:?}", t);
    }
}

#[test]
fn neox_uses_the_fast_encoder() {
    assert_eq!(neox().backend(), "fast");
}

#[test]
fn edge_cases_match_hf() {
    for t in [
        "",
        " ",
        "Hello world",
        "a  b   c    d\n\n\te",
        "trailing   ",
        "<|endoftext|><|endoftext|>x<|padding|>",
        "café cafe\u{301} \u{212b}ngström",
        "it's 'twas we'll they're I've I'm he'd 'S",
        &"x".repeat(5000),
        &"ab ".repeat(2000),
        &" ".repeat(100),
    ] {
        same_as_hf(t);
    }
}

/// Real text: DCLM's 281 labelled CC pages (many languages, odd whitespace). The 12,310-document
/// parity set runs in `crates/curate/tests/parity.rs` (ignored: slow, needs Python's ids).
#[test]
fn mirror_documents_match_hf() {
    let p = lmrepro_data::testing::input("dclm-baseline", "dclm_assets/data/agreement_data.jsonl");
    let mut n = 0;
    for line in std::fs::read_to_string(&p).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        same_as_hf(v["text"].as_str().unwrap());
        n += 1;
    }
    assert_eq!(n, 281);
}

/// A configuration the fast encoder does not implement falls back to HF, and says why.
#[test]
fn unsupported_configuration_falls_back_to_hf() {
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(neox_path()).unwrap()).unwrap();
    json["normalizer"] = serde_json::json!({"type": "NFKC"});
    let dir = std::env::temp_dir().join(format!("lmrepro-tok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let tok = Tokenizer::from_file(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        tok.backend()
            .starts_with("hf (normalizer \"NFKC\" is not supported"),
        "{}",
        tok.backend()
    );
    // NFKC folds the ligature; the HF path applies it.
    assert_eq!(tok.encode("ﬁ").unwrap(), tok.encode_hf("fi").unwrap());
}
