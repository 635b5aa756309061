//! The fast paths of the heuristics agree with the straightforward code on the real texts
//! (DCLM's 780 human-labelled CC texts, the heuristics benchmark's input); random inputs are in
//! the unit tests' proptests.

mod common;

use common::*;
use lmrepro_crawl::words::{for_each_uniseg_word, uniseg_words};

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
