//! Property tests for every rule on generated text: no panics, idempotence where DCLM's rule is
//! idempotent, filters never change the text, modifiers never add characters.

mod common;

use lmrepro_crawl::steps::Verdict;
use lmrepro_crawl::{rules, words, Page};
use proptest::prelude::*;

/// Text with the characters the rules care about: newlines, Python-only whitespace, bullets,
/// ellipses, digits, upper case, URLs, banlist phrases, non-ASCII letters and marks.
fn text() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "the",
        "and",
        "of",
        "Word",
        "HELLO",
        "12",
        "3.5K",
        "likes",
        "views",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\n\n\n",
        "\t",
        "\u{a0}",
        "\x1c",
        "\u{3000}",
        "...",
        ". . .",
        "\u{2026}",
        "#",
        "•",
        "* ",
        "- ",
        "Read more...",
        "read more!!",
        "items in cart",
        "Sign-in",
        "sign-in ",
        "example.com",
        "http://a.org/x?y=1",
        "192.168.0.1",
        "me@x.com",
        "é",
        "\u{301}",
        "日本語",
        "²",
        "İ",
        "Σ",
        ",",
        "!",
        "(",
        "</s>",
        "\r",
        "xn--p1ai",
        "www",
        "com",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

fn apply(step: usize, t: &str) -> (Verdict, String) {
    let mut page = Page::from_text(t.to_string());
    let v = common::pipeline().steps[step].kind.apply(&mut page);
    (v, page.text)
}

/// Indices of steps that only filter (never change the text).
const FILTERS: [usize; 10] = [8, 9, 10, 11, 12, 13, 14, 15, 16, 25];
/// Modifiers that are idempotent in DCLM: newline removal, counter lines (`\W*` absorbs the
/// whitespace the final strip removes), line length (no strip). The uppercase and numeric ratio
/// modifiers (18, 19) are *not*: their final `.strip()` can raise a kept line's ratio, so a
/// second pass may drop it (`"\r12 "` -> `"12"` -> dropped); see `ratio_modifiers_are_not_idempotent`.
const IDEMPOTENT_MODIFIERS: [usize; 3] = [6, 20, 21];

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn filters_never_change_text(t in text()) {
        let mut page = Page::from_text(t.clone());
        // Give the filters the fields they read.
        common::pipeline().steps[7].kind.apply(&mut page);
        common::pipeline().steps[17].kind.apply(&mut page);
        for &s in &FILTERS {
            let mut p = page.clone();
            let v = common::pipeline().steps[s].kind.apply(&mut p);
            prop_assert!(matches!(v, Verdict::Keep | Verdict::Drop), "step {s}: {v:?}");
            prop_assert_eq!(&p.text, &t);
        }
    }

    #[test]
    fn modifiers_are_idempotent_and_never_grow(t in text()) {
        for &s in &IDEMPOTENT_MODIFIERS {
            let (v1, t1) = apply(s, &t);
            prop_assert!(t1.chars().count() <= t.chars().count());
            if v1 == Verdict::Keep {
                let (v2, t2) = apply(s, &t1);
                prop_assert_eq!(v2, Verdict::Keep, "step {}", s);
                prop_assert_eq!(t2, t1, "step {} not idempotent", s);
            }
        }
    }

    #[test]
    fn ratio_modifiers_never_grow(t in text()) {
        for s in [18usize, 19] {
            let (_, t1) = apply(s, &t);
            prop_assert!(t1.chars().count() <= t.chars().count());
        }
    }

    #[test]
    fn url_and_substring_modifiers_never_panic_or_grow(t in text()) {
        for s in [5usize, 22, 23, 24] {
            let (v, t1) = apply(s, &t);
            prop_assert!(matches!(v, Verdict::Keep | Verdict::Drop));
            prop_assert!(t1.len() <= t.len());
            if v == Verdict::Drop { prop_assert!(t1.is_empty() || s != 5); }
        }
    }

    #[test]
    fn whole_pipeline_never_panics(t in text()) {
        let out = common::pipeline().run(Page::from_text(t));
        if let Some(stop) = &out.stop {
            prop_assert!(stop.error.is_none(), "{:?}", stop);
        }
    }

    #[test]
    fn url_filters_never_panic(u in "[a-zA-Z0-9:/._?=&%#\\[\\]-]{0,60}") {
        for s in 0..5 {
            let mut page = Page { warc_target_uri: Some(u.clone()), url: Some(u.clone()), ..Page::default() };
            let v = common::pipeline().steps[s].kind.apply(&mut page);
            prop_assert!(!matches!(v, Verdict::Skip));
        }
    }

    #[test]
    fn word_counts_agree_between_definitions_on_ascii_words(ws in prop::collection::vec("[a-z]{1,8}", 0..30)) {
        // On plain lower-case words separated by single spaces every definition agrees.
        let t = ws.join(" ");
        prop_assert_eq!(words::fasttext_word_count(&t, true), ws.len());
        prop_assert_eq!(words::uniseg_words(&t).count(), ws.len());
        prop_assert_eq!(lmrepro_pycompat::unicode::split_whitespace(&t).count(), ws.len());
    }

    #[test]
    fn newline_removal_leaves_no_long_runs(t in text()) {
        let out = rules::newline_removal_modifier(&t, 2);
        prop_assert!(!out.contains("\n\n\n"));
        prop_assert_eq!(out.replace('\n', ""), t.replace('\n', ""));
    }
}

/// DCLM quirk kept: the strip at the end of the ratio line modifiers makes them non-idempotent.
#[test]
fn ratio_modifiers_are_not_idempotent() {
    let (v1, t1) = apply(19, "\r12 ");
    assert_eq!((v1, t1.as_str()), (Verdict::Keep, "12"));
    assert_eq!(apply(19, &t1).0, Verdict::Drop);
    let (v1, t1) = apply(18, " \tAB");
    assert_eq!((v1, t1.as_str()), (Verdict::Keep, "AB"));
    assert_eq!(apply(18, &t1).0, Verdict::Drop);
}
