//! Oracle: re-parsing every stored response of the released files reproduces the stored
//! `parsed_answer` and `correct` (upstream's string comparison and our numeric one agree here,
//! since these files only hold integer string answers).

use lmrepro_aiw::records::read_responses;
use lmrepro_aiw::score::{is_correct, parse_answer, Comparison};

fn check(name: &str) -> (usize, usize, Vec<String>) {
    let path = lmrepro_data::testing::input("aiw", name);
    let records = read_responses(&path).unwrap();
    let mut ok = 0;
    let mut failures = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let resp = r.model_response.as_deref().unwrap_or("");
        let parsed = parse_answer(resp);
        let numeric = is_correct(parsed.as_deref(), &r.right_answer, Comparison::Numeric);
        let python = is_correct(
            parsed.as_deref(),
            &r.right_answer,
            Comparison::PythonEquality,
        );
        if parsed == r.parsed_answer && numeric == r.correct && python == r.correct {
            ok += 1;
        } else if failures.len() < 5 {
            failures.push(format!(
                "{name} record {}: stored {:?}/{} got {:?}/{numeric}/{python}",
                i + 1,
                r.parsed_answer,
                r.correct,
                parsed
            ));
        }
    }
    (ok, records.len(), failures)
}

#[test]
fn parser_oracle_1820() {
    let (a_ok, a_n, a_fail) = check("aiw/AIW_base_models.json");
    let (b_ok, b_n, b_fail) = check("aiw/o1-mini_aiw_friends_responses.jsonl");
    assert_eq!(a_n, 1320);
    assert_eq!(b_n, 500);
    eprintln!("parser oracle: {}/{}", a_ok + b_ok, a_n + b_n);
    assert_eq!(a_ok + b_ok, 1820, "{a_fail:?} {b_fail:?}");
}
