//! Hand-made cases for the drop side of rules the real data never triggers (README quirk 8:
//! word_removal_ratio, word_length, symbol_ratio and bullet_count never drop on agreement data),
//! plus the quirks listed in ../shared/conformance/README.md.

mod common;

use lmrepro_crawl::steps::Verdict;
use lmrepro_crawl::{Field, Page};

fn step(i: usize, t: &str) -> (Verdict, String) {
    let mut page = Page::from_text(t);
    let v = common::pipeline().steps[i].kind.apply(&mut page);
    (v, page.text)
}

#[test]
fn word_length_filter_drops_short_and_long_words() {
    assert_eq!(step(10, "a b c d e f").0, Verdict::Drop); // mean 1 < 3
    assert_eq!(
        step(10, "supercalifragilistic antidisestablishment").0,
        Verdict::Drop
    ); // mean > 10
    assert_eq!(step(10, "").0, Verdict::Drop); // no words
    assert_eq!(step(10, "three four").0, Verdict::Keep);
}

#[test]
fn symbol_ratio_filter_drops_hashes_and_ellipses() {
    assert_eq!(
        step(11, "#tag #tag words here and more words").0,
        Verdict::Drop
    ); // 2/7 > 0.1
    assert_eq!(step(11, "wait... what\u{2026} ok").0, Verdict::Drop);
    assert_eq!(step(11, "plain words only here").0, Verdict::Keep);
}

#[test]
fn bullet_count_filter_drops_bullet_pages() {
    assert_eq!(
        step(12, "• one\n• two\n- three\n* four\n● five").0,
        Verdict::Drop
    );
    // 9 of 10 lines: 9 > 0.9 * 10 is false, kept.
    let t = (0..9)
        .map(|_| "- x")
        .chain(["plain"])
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(step(12, &t).0, Verdict::Keep);
}

#[test]
fn word_removal_ratio_filter_drops_after_heavy_line_removal() {
    let mut page = Page::from_text("x");
    page.fields
        .insert("previous_word_count".into(), Field::Count(100));
    page.text = "only a few words remain here".into();
    assert_eq!(
        common::pipeline().steps[25].kind.apply(&mut page),
        Verdict::Drop
    );
    // prev == 0 drops (DCLM returns [])
    page.fields
        .insert("previous_word_count".into(), Field::Count(0));
    assert_eq!(
        common::pipeline().steps[25].kind.apply(&mut page),
        Verdict::Drop
    );
    // exactly 5% removed is kept (strict >)
    page.fields
        .insert("previous_word_count".into(), Field::Count(20));
    page.text = ["w"; 19].join(" ");
    assert_eq!(
        common::pipeline().steps[25].kind.apply(&mut page),
        Verdict::Keep
    );
    // missing key: DCLM asserts -> error (dropped, counted as error)
    let mut p2 = Page::from_text("text");
    assert!(matches!(
        common::pipeline().steps[25].kind.apply(&mut p2),
        Verdict::Error(_)
    ));
}

#[test]
fn url_removal_gate_is_anchored_at_the_start() {
    // The text does not begin with a TLD string ("9" starts no TLD): URLs stay.
    let (_, t) = step(5, "9 visit www.example.com today");
    assert_eq!(t, "9 visit www.example.com today");
    // Begins with "com..." (a TLD, case-insensitively): URLs and e-mails go, with up to 10
    // preceding whitespace characters, newlines included.
    let (_, t) = step(5, "Come visit www.example.com today\nxtc@brrc.org");
    assert_eq!(t, "Come visit today");
    // The IPv4 regex always applies.
    let (_, t) = step(5, "9 host 10.0.0.1 up");
    assert_eq!(t, "9 host up");
    // Removal is case-sensitive: upper-case TLDs survive.
    let (_, t) = step(5, "Come to EXAMPLE.COM now");
    assert_eq!(t, "Come to EXAMPLE.COM now");
}

#[test]
fn lid_deletes_newlines_and_threshold_is_strict() {
    let mut page = Page::from_text(
        "This is an English sentence about the weather.\nAnd another one follows here.",
    );
    assert_eq!(
        common::pipeline().steps[7].kind.apply(&mut page),
        Verdict::Keep
    );
    let Some(Field::Lang(m)) = page.fields.get("language_id_whole_page_fasttext") else {
        panic!()
    };
    let en = m["en"];
    // language_filter keeps iff prob > threshold (strict).
    let mut p = page.clone();
    p.fields.insert(
        "language_id_whole_page_fasttext".into(),
        Field::Lang([("en".to_string(), 0.65)].into()),
    );
    assert_eq!(
        common::pipeline().steps[8].kind.apply(&mut p),
        Verdict::Drop
    );
    assert!(en > 0.65);
    // Only spaces/ASCII punctuation: empty dict, language_filter drops.
    let mut p = Page::from_text(" ... !!! ");
    common::pipeline().steps[7].kind.apply(&mut p);
    assert_eq!(
        p.fields["language_id_whole_page_fasttext"],
        Field::Lang(Default::default())
    );
    assert_eq!(
        common::pipeline().steps[8].kind.apply(&mut p),
        Verdict::Drop
    );
}

#[test]
fn lid_on_other_languages() {
    let m = common::assets().lid_model().unwrap();
    let de = m.predict(
        "Der schnelle braune Fuchs springt über den faulen Hund und läuft in den Wald.",
        1,
    );
    assert_eq!(de[0].label, "de");
    let fr = m.predict(
        "Le renard brun rapide saute par-dessus le chien paresseux et court dans la forêt.",
        1,
    );
    assert_eq!(fr[0].label, "fr");
    assert_eq!(m.nlabels(), 176);
}

#[test]
fn page_length_counts_fasttext_words() {
    // NBSP does not split for fastText: 60 words glued by NBSP count as 1.
    let glued = ["word"; 60].join("\u{a0}");
    assert_eq!(step(9, &glued).0, Verdict::Drop);
    let spaced = ["word"; 60].join(" ");
    assert_eq!(step(9, &spaced).0, Verdict::Keep);
    // Tokens starting with punctuation do not count.
    let punct = ["(word)"; 60].join(" ");
    assert_eq!(step(9, &punct).0, Verdict::Drop);
}

#[test]
fn repetition_filters_drop_repeated_lines_and_ngrams() {
    let t = ["the same line again"; 5].join("\n");
    assert_eq!(step(16, &t).0, Verdict::Drop);
    let t = "alpha beta ".repeat(30);
    assert_eq!(step(16, &t).0, Verdict::Drop);
    assert_eq!(step(16, "").0, Verdict::Drop);
    assert_eq!(step(16, "one single line of text").0, Verdict::Keep);
}

#[test]
fn ellipsis_alphabetic_stop_word_drops() {
    assert_eq!(step(13, "a...\nb...\nc").0, Verdict::Drop);
    assert_eq!(step(14, "123 456 789 abc").0, Verdict::Drop);
    assert_eq!(step(15, "the cat").0, Verdict::Drop);
    assert_eq!(step(15, "The cat and the dog").0, Verdict::Keep);
}

#[test]
fn substring_modifiers_remove_only_the_match() {
    assert_eq!(
        step(22, "3 Items In Cart\nbody text here").1,
        "3\nbody text here"
    );
    assert_eq!(
        step(23, "Great post Read more...\nx y").1,
        "Great post\nx y"
    );
    assert_eq!(step(24, "Sign-in now\nx y").1, "now\nx y");
    // Everything removed: DCLM returns [].
    assert_eq!(step(24, "Sign-in").0, Verdict::Drop);
}

#[test]
fn url_substring_filters_drop_banned_urls() {
    let run = |i: usize, u: &str| {
        let mut p = Page {
            url: Some(u.into()),
            ..Page::default()
        };
        common::pipeline().steps[i].kind.apply(&mut p)
    };
    assert_eq!(run(2, "https://ex.com/2-girls.1-cup"), Verdict::Drop);
    assert_eq!(run(3, "https://ex.com/arsehole/"), Verdict::Drop);
    assert_eq!(run(3, "https://ex.com/xarseholex/"), Verdict::Keep); // word boundary
    assert_eq!(run(4, "https://ex.com/anus"), Verdict::Keep); // one soft word is not enough
    assert_eq!(run(4, "https://ex.com/anus/ass"), Verdict::Drop);
    let mut no_url = Page::from_text("x");
    assert_eq!(
        common::pipeline().steps[0].kind.apply(&mut no_url),
        Verdict::Skip
    );
}

#[test]
fn retrie_pattern_equals_python() {
    let tlds = std::fs::read_to_string(common::assets().input_path("dclm/iana_tlds.txt").unwrap())
        .unwrap();
    let escaped: Vec<String> = lmrepro_pycompat::unicode::splitlines(&tlds)
        .iter()
        .map(|t| lmrepro_crawl::retrie::py_re_escape(t))
        .collect();
    let ours = lmrepro_crawl::retrie::trie_pattern_python(&escaped);
    let fixture = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/retrie_iana_tlds_pattern.txt"),
    )
    .unwrap();
    assert_eq!(ours, fixture);
}

/// fastText inference against the Python module on 1,699 texts (fixture; see tests/fixtures/README.md).
#[test]
fn lid_equals_python_fasttext_top2() {
    let m = common::assets().lid_model().unwrap();
    let docs: Vec<String> = common::read_jsonl(
        &common::assets()
            .input_path("dclm/data/majority_data.jsonl")
            .unwrap(),
    )
    .into_iter()
    .map(|v| v["text"].as_str().unwrap().to_string())
    .collect();
    let fx = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lid_majority_python.jsonl");
    let (mut n, mut labels_equal, mut max_diff) = (0, 0, 0f64);
    for g in common::read_jsonl(&fx) {
        let doc = &docs[g["doc"].as_u64().unwrap() as usize];
        let text = match g["line"].as_u64() {
            None => doc.replace('\n', ""),
            Some(j) => doc.split('\n').nth(j as usize).unwrap().to_string(),
        };
        let ours = m.predict(&text, 2);
        let gl: Vec<&str> = g["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let gp: Vec<f64> = g["probs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
        n += 1;
        if ours.iter().map(|p| p.label.as_str()).collect::<Vec<_>>() == gl {
            labels_equal += 1;
        }
        for (o, p) in ours.iter().zip(&gp) {
            max_diff = max_diff.max((o.prob as f64 - p).abs());
        }
    }
    eprintln!("LID vs Python fasttext: top-2 labels {labels_equal}/{n} equal, max |prob diff| {max_diff:.2e}");
    assert_eq!(labels_equal, n);
    assert!(max_diff < 1e-5, "{max_diff}");
}
