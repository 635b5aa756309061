//! The fast paths of the heuristics agree with the straightforward code on the real texts
//! (DCLM's 780 human-labelled CC texts, the heuristics benchmark's input); random inputs are in
//! the unit tests' proptests.

mod common;

use common::*;
use lmrepro_crawl::steps::StepKind;
use lmrepro_crawl::words::{for_each_uniseg_word, uniseg_words};
use lmrepro_crawl::Page;
use proptest::prelude::*;

/// The pipeline's `url_removal_modifier` step.
fn url_removal() -> &'static StepKind {
    let step = &pipeline().steps[5];
    assert_eq!(step.func, "url_removal_modifier");
    &step.kind
}

/// (fast, exact) results of the URL removal.
fn remove_both(text: &str) -> (String, String) {
    let (mut fast, mut exact) = (
        Page::from_text(text.to_string()),
        Page::from_text(text.to_string()),
    );
    url_removal().remove_urls(&mut fast, true);
    url_removal().remove_urls(&mut exact, false);
    (fast.text, exact.text)
}

/// Pieces of URLs, IPs and words, with ASCII and non-ASCII spaces, non-word and word characters
/// on both sides of the places where `\b` is tested.
const PIECES: &[&str] = &[
    "http://",
    "https://",
    "ftp://",
    "www.",
    "example",
    "a",
    "x1",
    ".com",
    ".co",
    ".uk",
    ".org",
    ".museum",
    "/path?q=1&r=2",
    "(",
    ")",
    "-",
    "_",
    "192.168.",
    "1.1",
    "0.",
    "9",
    " ",
    "  ",
    "\n",
    "\t",
    ".",
    ",",
    "\u{a0}",
    "\u{3000}",
    "\u{2028}",
    "\u{85}",
    "\u{2019}",
    "\u{2014}",
    "\u{201c}",
    "\u{a9}",
    "\u{1f600}",
    "\u{e9}",
    "\u{301}",
    "\u{4e2d}",
    "\u{661}",
    "\u{200d}",
    "com",
    "Co",
    "UK",
    ".com\u{e9}",
    ".uk\u{4e2d}",
    ".co\u{301}",
    ".org\u{661}",
    ".net\u{2019}",
    // A TLD in another script after `.`, and a character that starts one elsewhere.
    ".\u{4e2d}\u{56fd}",
    "\u{4e2d}\u{56fd}",
    ".\u{201d}",
];

/// First pieces: DCLM removes URLs only from pages that start with a TLD (`tld_gate`).
const FIRST: &[&str] = &["com", "Co", "uk", "net ", "a", " "];

/// The 780 labelled texts (`agreement_data.jsonl` + `majority_data.jsonl`).
fn labelled_texts() -> Vec<String> {
    let mut texts = Vec::new();
    for name in [
        "dclm/data/agreement_data.jsonl",
        "dclm/data/majority_data.jsonl",
    ] {
        let p = assets().input_path(name).unwrap();
        texts.extend(
            read_jsonl(&p)
                .into_iter()
                .map(|v| v["text"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(texts.len(), 780);
    texts
}

#[test]
fn line_wise_ascii_segmentation_equals_unicode_segmentation_on_real_texts() {
    let (mut words, mut ascii_lines) = (0usize, 0usize);
    for (i, t) in labelled_texts().iter().enumerate() {
        let mut fast = Vec::new();
        for_each_uniseg_word(t, |w| fast.push(w));
        let slow: Vec<&str> = uniseg_words(t).collect();
        assert_eq!(fast, slow, "text {i}");
        words += slow.len();
        ascii_lines += t.split_inclusive('\n').filter(|l| l.is_ascii()).count();
    }
    // The fast path must actually run: these texts have 10,440 ASCII lines.
    assert!(
        words > 300_000 && ascii_lines > 10_000,
        "{words} words, {ascii_lines} ASCII lines"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    /// The URL and IPv4 patterns with ASCII `\b`, where chosen, remove exactly what the
    /// Unicode-`\b` patterns remove.
    #[test]
    fn ascii_word_boundary_url_removal_is_exact(
        first in prop::sample::select(FIRST),
        pieces in prop::collection::vec(prop::sample::select(PIECES), 0..30)
    ) {
        let text = format!("{first}{}", pieces.concat());
        let (fast, exact) = remove_both(&text);
        prop_assert_eq!(fast, exact);
    }
}

#[test]
fn ascii_word_boundary_url_removal_is_exact_on_real_texts() {
    let mut changed = 0;
    for (i, t) in labelled_texts().iter().enumerate() {
        let (fast, exact) = remove_both(t);
        assert_eq!(fast, exact, "text {i}");
        changed += usize::from(&exact != t);
    }
    // These texts have URLs in their bodies: the comparison covers removals, not only no-ops.
    assert!(changed > 10, "{changed} texts changed");
}

/// lid.176.ftz with its input matrix expanded at load gives the same top-3 labels and
/// probability bits as the matrix kept quantized, on every text and every line of the texts.
#[test]
fn expanded_lid_matrix_predicts_the_same_bits_on_real_texts() {
    use lmrepro_crawl::fasttext::FastText;
    let path = assets().input_path("langid/lid.176.ftz").unwrap();
    let (fast, stored) = (
        FastText::load(&path).unwrap(),
        FastText::load_as_stored(&path).unwrap(),
    );
    let mut n = 0;
    for t in labelled_texts() {
        let flat = t.replace('\n', "");
        for text in std::iter::once(flat.as_str()).chain(t.lines()) {
            let (a, b) = (fast.predict(text, 3), stored.predict(text, 3));
            let bits = |p: &[lmrepro_crawl::fasttext::Prediction]| -> Vec<(String, u32)> {
                p.iter()
                    .map(|x| (x.label.clone(), x.prob.to_bits()))
                    .collect()
            };
            assert_eq!(bits(&a), bits(&b), "{text:?}");
            n += 1;
        }
    }
    assert!(n > 14_000, "{n} predictions");
}
