//! Conformance with DCLM's own functions (goldens in ../shared/conformance/dclm_refinedweb/).

mod common;

use common::*;
use lmrepro_crawl::steps::Verdict;
use lmrepro_crawl::{Field, Page};
use serde_json::Value;

fn md5_hex(s: &str) -> String {
    format!("{:x}", md5::compute(s.as_bytes()))
}

fn lang_close(ours: &Field, golden: &Value) -> bool {
    let Field::Lang(m) = ours else { return false };
    let g = golden.as_object().unwrap();
    m.len() == g.len()
        && g.iter().all(|(k, v)| {
            m.get(k)
                .is_some_and(|p| (p - v.as_f64().unwrap()).abs() < 1e-5)
        })
}

#[test]
fn whole_pipeline_on_agreement_data() {
    let texts = agreement_texts();
    let golden = read_jsonl(&golden("agreement_golden.jsonl"));
    assert_eq!(texts.len(), 281);
    assert_eq!(golden.len(), 281);
    let p = pipeline();
    let (mut verdicts_equal, mut texts_equal, mut kept, mut lid_equal, mut wc_equal) =
        (0, 0, 0, 0, 0);
    let mut failures = Vec::new();
    for (i, (t, g)) in texts.iter().zip(&golden).enumerate() {
        let mut trace = Vec::new();
        let out = p.run_traced(Page::from_text(t.clone()), |idx, page| {
            trace.push((idx, md5_hex(&page.text)))
        });
        let g_drop = g["dropped_at_index"].as_u64().map(|x| x as usize);
        let ours_drop = out.stop.as_ref().map(|s| s.step);
        assert!(
            out.stop.as_ref().is_none_or(|s| s.error.is_none()),
            "doc {i}: error {:?}",
            out.stop
        );
        if g_drop == ours_drop && g["kept"].as_bool().unwrap() == out.kept() {
            verdicts_equal += 1;
        } else {
            failures.push(format!(
                "doc {i}: verdict golden drop {g_drop:?}, ours {ours_drop:?}"
            ));
        }
        if out.kept() {
            kept += 1;
            if g["text"].as_str() == Some(out.page.text.as_str()) {
                texts_equal += 1;
            } else {
                let gt: Vec<(usize, String)> = g["trace_md5"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| {
                        (
                            x[0].as_u64().unwrap() as usize,
                            x[1].as_str().unwrap().to_string(),
                        )
                    })
                    .collect();
                let first = gt
                    .iter()
                    .zip(&trace)
                    .find(|(a, b)| a != b)
                    .map(|(a, _)| a.0);
                failures.push(format!(
                    "doc {i}: text differs; first diverging step {first:?}"
                ));
            }
            let lid = &out.page.fields["language_id_whole_page_fasttext"];
            if lang_close(lid, &g["lang_id"]) {
                lid_equal += 1;
            } else {
                failures.push(format!(
                    "doc {i}: lang_id ours {lid:?} golden {}",
                    g["lang_id"]
                ));
            }
            if out.page.fields.get("previous_word_count")
                == Some(&Field::Count(g["previous_word_count"].as_u64().unwrap()))
            {
                wc_equal += 1;
            } else {
                failures.push(format!("doc {i}: previous_word_count differs"));
            }
        }
    }
    eprintln!(
        "whole pipeline: verdicts {verdicts_equal}/281, kept {kept} (golden 252), texts {texts_equal}/{kept}, lang_id {lid_equal}/{kept}, word counts {wc_equal}/{kept}"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(kept, 252);
}

/// The line modifiers 18..24 of the pipeline, in order (for the word_removal_ratio_filter input).
const LINE_MODIFIERS: std::ops::RangeInclusive<usize> = 18..=24;

#[test]
fn each_step_in_isolation() {
    let texts = agreement_texts();
    let golden = read_jsonl(&golden("agreement_per_step.jsonl"));
    assert_eq!(golden.len(), 281 * 26);
    let p = pipeline();
    let mut equal = 0;
    let mut failures = Vec::new();
    for g in &golden {
        let doc = g["doc"].as_u64().unwrap() as usize;
        let si = g["step_index"].as_u64().unwrap() as usize;
        let step = &p.steps[si];
        assert_eq!(step.id, g["step_id"].as_str().unwrap());
        let raw = &texts[doc];
        let mut page = Page::from_text(raw.clone());
        let mut ok = true;
        let verdict = match step.func.as_str() {
            "language_filter" => {
                assert_eq!(p.steps[7].kind.apply(&mut page), Verdict::Keep);
                ok &= lang_close(
                    &page.fields["language_id_whole_page_fasttext"],
                    &g["lang_id"],
                );
                step.kind.apply(&mut page)
            }
            "word_removal_ratio_filter" => {
                assert_eq!(p.steps[17].kind.apply(&mut page), Verdict::Keep);
                ok &= page.fields["previous_word_count"]
                    == Field::Count(g["prev_word_count"].as_u64().unwrap());
                let mut chain_kept = true;
                for i in LINE_MODIFIERS {
                    if p.steps[i].kind.apply(&mut page) != Verdict::Keep {
                        chain_kept = false;
                        break;
                    }
                }
                if !chain_kept {
                    Verdict::Skip
                } else {
                    ok &= g["text_in"].as_str() == Some(page.text.as_str());
                    step.kind.apply(&mut page)
                }
            }
            _ => step.kind.apply(&mut page),
        };
        let gk = g["kept"].as_bool();
        ok &= matches!(
            (&verdict, gk),
            (Verdict::Keep, Some(true)) | (Verdict::Drop, Some(false)) | (Verdict::Skip, None)
        );
        if let Some(gt) = g.get("text_out_if_modifier") {
            let ours = (verdict == Verdict::Keep).then_some(page.text.as_str());
            ok &= gt.as_str() == ours;
        }
        if let Some(l) = g
            .get("lang_id")
            .filter(|_| step.func == "detect_lang_whole_page_enricher")
        {
            ok &= lang_close(&page.fields["language_id_whole_page_fasttext"], l);
        }
        if let Some(c) = g.get("previous_word_count") {
            ok &= page.fields["previous_word_count"] == Field::Count(c.as_u64().unwrap());
        }
        if ok {
            equal += 1;
        } else {
            failures.push(format!(
                "doc {doc} step {}: ours {verdict:?}, golden kept {gk:?}",
                step.id
            ));
        }
    }
    eprintln!("per step: {equal}/{} equal", golden.len());
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn url_filters() {
    let golden = read_jsonl(&golden("url_filters_golden.jsonl"));
    let p = pipeline();
    let mut equal = 0;
    let mut failures = Vec::new();
    for g in &golden {
        let url = g["url"].as_str().unwrap();
        let mut page = Page {
            warc_target_uri: Some(url.to_string()),
            ..Page::default()
        };
        let mut ok = p.steps[0].kind.apply(&mut page) == Verdict::Keep;
        ok &= page.url.as_deref() == g["url_after_move"].as_str();
        let mut first_drop = None;
        for si in 1..=4 {
            let mut page = Page {
                url: g["url_after_move"].as_str().map(String::from),
                ..Page::default()
            };
            let v = p.steps[si].kind.apply(&mut page);
            let want = g["steps"][&p.steps[si].id].as_bool().unwrap();
            ok &= (v == Verdict::Keep) == want && matches!(v, Verdict::Keep | Verdict::Drop);
            if v == Verdict::Drop && first_drop.is_none() {
                first_drop = Some(p.steps[si].id.clone());
            }
        }
        ok &= first_drop.as_deref() == g["first_dropping_step"].as_str();
        if ok {
            equal += 1;
        } else {
            failures.push(format!("{url}: golden {}", g["steps"]));
        }
    }
    eprintln!("url filters: {equal}/{} equal", golden.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn step_counts_match_golden_counts() {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(golden("agreement_step_counts.json")).unwrap(),
    )
    .unwrap();
    let texts = agreement_texts();
    let p = pipeline();
    let mut counts = lmrepro_crawl::runner::Counts::new(p);
    for t in texts {
        counts.count(&p.run(Page::from_text(t)));
    }
    for (ours, g) in counts.steps.iter().zip(v["steps"].as_array().unwrap()) {
        let (id, ours) = (&ours.id, &ours.count);
        assert_eq!(id, g["step_id"].as_str().unwrap());
        assert_eq!(ours.pages_in, g["pages_in"].as_u64().unwrap(), "{id}");
        assert_eq!(ours.pages_out, g["pages_out"].as_u64().unwrap(), "{id}");
        assert_eq!(ours.removed, g["removed"].as_u64().unwrap(), "{id}");
        assert_eq!(ours.skipped > 0, g["skipped"].as_bool().unwrap(), "{id}");
    }
}
