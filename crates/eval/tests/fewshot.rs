//! Few-shot index order against CPython (fixture `fewshot_idxs.json`, see fixtures/README.md).
use lmrepro_eval::fewshot::fewshot_sample_idxs;
use lmrepro_pycompat::PyRandom;
use serde_json::Value;

#[test]
fn fewshot_indices_match_cpython_in_order() {
    let text = include_str!("fixtures/fewshot_idxs.json");
    let v: Value = serde_json::from_str(text).unwrap();
    let mut checked = 0;
    for case in v["cases"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap() as usize;
        let k = case["k"].as_u64().unwrap() as usize;
        let mut rng = PyRandom::new(1234);
        for (idx, want) in case["orders"].as_array().unwrap().iter().enumerate() {
            let want: Vec<usize> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            let got = if k > 0 {
                fewshot_sample_idxs(n, k, idx, &mut rng)
            } else {
                Vec::new()
            };
            assert_eq!(got, want, "n={n} k={k} item {idx}");
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} cases");
}
