//! Every templated prompt id regenerates exactly; coverage is reported and pinned.

use lmrepro_aiw::generator::{coverage, Catalog, Coverage, Instance, Value};
use lmrepro_aiw::prompts::PromptSet;

#[test]
fn regenerates_templated_prompts_exactly() {
    let prompts =
        PromptSet::load(&lmrepro_data::testing::input("aiw", "aiw/prompts.json")).unwrap();
    assert_eq!(prompts.prompts.len(), 826);
    let cat = Catalog::builtin();
    let cov = coverage(cat, &prompts);
    let mut exact = 0;
    let mut symbolic = Vec::new();
    let mut mismatch = Vec::new();
    let mut multi = Vec::new();
    let mut none = Vec::new();
    for (id, c) in &cov {
        match c {
            Coverage::Exact { instance, .. } => {
                // Exact equality of the regenerated text (match_text already requires it; checked
                // again here through the public rendering API).
                let text = cat.render(instance).unwrap();
                assert_eq!(Some(text.as_str()), prompts.get(*id).unwrap().text());
                exact += 1;
            }
            Coverage::Symbolic {
                verified, answer, ..
            } => symbolic.push((*id, *verified, answer.to_string())),
            Coverage::AnswerMismatch { answer, stored, .. } => {
                mismatch.push((*id, answer.to_string(), stored.clone()))
            }
            Coverage::MultiTurn => multi.push(*id),
            Coverage::NoFamily => none.push(*id),
        }
    }
    let covered = exact + symbolic.len();
    eprintln!(
        "coverage: {covered}/826 regenerated with answer ({exact} numeric, {} symbolic)",
        symbolic.len()
    );
    eprintln!("symbolic: {symbolic:?}");
    eprintln!("answer mismatches (text regenerated, stored answer disagrees): {mismatch:?}");
    eprintln!("multi-turn: {multi:?}");
    eprintln!("no family: {none:?}");
    // The symbolic prompts scored by plot.py's rule must get exactly that rule's answer.
    for (id, verified, answer) in &symbolic {
        if (100..=108).contains(id) {
            assert!(verified, "id {id}: symbolic answer {answer}");
        }
    }
    // Pinned figures (see README "Generator").
    assert_eq!(multi, vec![110, 111, 112, 113]);
    assert_eq!(covered, 789, "coverage changed");
    assert_eq!(mismatch.iter().map(|m| m.0).collect::<Vec<_>>(), vec![772]);
    assert_eq!(none.len(), 32);
}

#[test]
fn new_instances_for_any_n_m() {
    let cat = Catalog::builtin();
    // Family of prompt 55 ("Alice has N brothers and she also has M sisters ...", STANDARD).
    let prompts =
        PromptSet::load(&lmrepro_data::testing::input("aiw", "aiw/prompts.json")).unwrap();
    let base = cat
        .match_text(prompts.get(55).unwrap().text().unwrap())
        .unwrap();
    for (n, m) in [(0, 0), (1, 1), (5, 12), (37, 2)] {
        let inst = Instance {
            values: vec![Value::Int(n), Value::Int(m)],
            ..base.clone()
        };
        let text = cat.render(&inst).unwrap();
        assert_eq!(cat.answer(&inst).unwrap().to_string(), (m + 1).to_string());
        assert!(
            text.starts_with(&format!("Alice has {n} brother")),
            "{text}"
        );
        // A rendered instance is recognised again with the same values.
        assert_eq!(cat.match_text(&text).unwrap().values, inst.values);
    }
}

mod roundtrip {
    use super::*;
    use proptest::prelude::*;

    /// Families of prompts 55 (AIW), 63 (AIW var. 3), 91 (AIW+), 347 (friends), 277 (siblings).
    fn base_instances() -> Vec<Instance> {
        let prompts =
            PromptSet::load(&lmrepro_data::testing::input("aiw", "aiw/prompts.json")).unwrap();
        [55, 63, 91, 347, 277]
            .iter()
            .map(|id| {
                Catalog::builtin()
                    .match_text(prompts.get(*id).unwrap().text().unwrap())
                    .unwrap()
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn rendered_instances_match_back(which in 0usize..5, vals in proptest::collection::vec(0i64..40, 10)) {
            let cat = Catalog::builtin();
            let base = base_instances().swap_remove(which);
            let n = base.values.len();
            let inst = Instance { values: vals[..n].iter().map(|&v| Value::Int(v)).collect(), ..base };
            let text = cat.render(&inst).unwrap();
            let back = cat.match_text(&text).expect("rendered text is recognised");
            prop_assert_eq!(cat.render(&back).unwrap(), text);
            prop_assert_eq!(cat.answer(&back).unwrap(), cat.answer(&inst).unwrap());
        }
    }
}
