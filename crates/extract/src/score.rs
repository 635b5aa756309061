//! Extraction quality scores.
//!
//! - [`aeb_metrics`]: the scorer of scrapinghub/article-extraction-benchmark (`evaluate.py` @
//!   4a3bc979): `\w+` tokens, 4-token shingles, per-document TP/FP/FN normalised to sum 1,
//!   precision averaged over documents with TP+FP > 0, recall over documents with TP+FN > 0, F1 of
//!   the two averages; accuracy = share of documents whose token lists are identical.
//! - [`token_f1`]: bag-of-tokens F1 between two texts (similarity to resiliparse goldens).
//!
//! Python's `\w` is `str.isalnum() or '_'`, i.e. letters (L*), numbers (N*) and `_`; the regex
//! below is that class. (Rust's `\w` would also take combining marks, which Python's does not.)

use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

static TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\p{L}\p{N}_]+").expect("valid token regex"));

/// `re.findall(r'\w+', text)`.
pub fn tokenize(text: &str) -> Vec<&str> {
    TOKEN.find_iter(text).map(|m| m.as_str()).collect()
}

/// Shingle multiset of `_ngrams(text, n)`: a text with fewer than `n` (but some) tokens is one
/// shingle of all its tokens; no tokens, no shingles.
fn shingles<'a>(tokens: &'a [&'a str], n: usize) -> HashMap<&'a [&'a str], usize>
where
{
    let mut out = HashMap::new();
    if tokens.is_empty() {
        return out;
    }
    let count = tokens.len().saturating_sub(n).saturating_add(1).max(1);
    for i in 0..count {
        let end = (i + n).min(tokens.len());
        *out.entry(&tokens[i..end]).or_insert(0) += 1;
    }
    out
}

/// `string_shingle_matching(true, pred)`: (tp, fp, fn) normalised to sum 1 (all 0 if both empty).
pub fn tp_fp_fn(truth: &str, pred: &str) -> (f64, f64, f64) {
    let tt = tokenize(truth);
    let pt = tokenize(pred);
    let ts = shingles(&tt, 4);
    let ps = shingles(&pt, 4);
    let (mut tp, mut fp, mut fnn) = (0u64, 0u64, 0u64);
    for (k, &tc) in &ts {
        let pc = ps.get(k).copied().unwrap_or(0);
        tp += tc.min(pc) as u64;
        fnn += tc.saturating_sub(pc) as u64;
    }
    for (k, &pc) in &ps {
        let tc = ts.get(k).copied().unwrap_or(0);
        fp += pc.saturating_sub(tc) as u64;
    }
    let s = (tp + fp + fnn) as f64;
    if s > 0.0 {
        (tp as f64 / s, fp as f64 / s, fnn as f64 / s)
    } else {
        (0.0, 0.0, 0.0)
    }
}

fn precision_score(tp: f64, fp: f64, fnn: f64) -> f64 {
    if fp == 0.0 && fnn == 0.0 {
        1.0
    } else if tp == 0.0 && fp == 0.0 {
        0.0
    } else {
        tp / (tp + fp)
    }
}

fn recall_score(tp: f64, fp: f64, fnn: f64) -> f64 {
    if fp == 0.0 && fnn == 0.0 {
        1.0
    } else if tp == 0.0 && fnn == 0.0 {
        0.0
    } else {
        tp / (tp + fnn)
    }
}

/// One page's precision and recall as `evaluate()` counts them: `None` where the benchmark leaves
/// the page out of that mean (no predicted shingle for precision, no true one for recall).
pub fn page_scores(truth: &str, pred: &str) -> (Option<f64>, Option<f64>) {
    let (tp, fp, fnn) = tp_fp_fn(truth, pred);
    (
        (tp + fp > 0.0).then(|| precision_score(tp, fp, fnn)),
        (tp + fnn > 0.0).then(|| recall_score(tp, fp, fnn)),
    )
}

/// Scores of the article-extraction benchmark.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AebMetrics {
    pub f1: f64,
    pub precision: f64,
    pub recall: f64,
    pub accuracy: f64,
    pub documents: usize,
}

/// `evaluate()` of the benchmark (without the bootstrap), over `(truth, prediction)` pairs.
pub fn aeb_metrics<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> AebMetrics {
    let mut precisions = Vec::new();
    let mut recalls = Vec::new();
    let mut exact = 0usize;
    let mut n = 0usize;
    for (truth, pred) in pairs {
        n += 1;
        let (precision, recall) = page_scores(truth, pred);
        precisions.extend(precision);
        recalls.extend(recall);
        if tokenize(truth) == tokenize(pred) {
            exact += 1;
        }
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let precision = mean(&precisions);
    let recall = mean(&recalls);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    AebMetrics {
        f1,
        precision,
        recall,
        accuracy: if n == 0 { 0.0 } else { exact as f64 / n as f64 },
        documents: n,
    }
}

/// Bag-of-tokens F1 of `pred` against `reference` (1.0 when both have no tokens).
pub fn token_f1(reference: &str, pred: &str) -> f64 {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    let rt = tokenize(reference);
    let pt = tokenize(pred);
    if rt.is_empty() && pt.is_empty() {
        return 1.0;
    }
    if rt.is_empty() || pt.is_empty() {
        return 0.0;
    }
    for t in &rt {
        *counts.entry(t).or_insert(0) += 1;
    }
    let mut overlap = 0i64;
    for t in &pt {
        if let Some(c) = counts.get_mut(t) {
            if *c > 0 {
                *c -= 1;
                overlap += 1;
            }
        }
    }
    if overlap == 0 {
        return 0.0;
    }
    let p = overlap as f64 / pt.len() as f64;
    let r = overlap as f64 / rt.len() as f64;
    2.0 * p * r / (p + r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_is_python_w() {
        assert_eq!(
            tokenize("Hello, wörld_1 ½ 東京!"),
            vec!["Hello", "wörld_1", "½", "東京"]
        );
        // Combining marks split words in Python's \w; so they do here.
        assert_eq!(tokenize("e\u{301}t"), vec!["e", "t"]);
    }

    #[test]
    fn shingle_matching_by_hand() {
        // 5 tokens -> 2 shingles each; one shared.
        let (tp, fp, fnn) = tp_fp_fn("a b c d e", "a b c d x");
        assert_eq!((tp, fp, fnn), (1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0));
        // Short texts are a single shingle.
        assert_eq!(tp_fp_fn("a b", "a b"), (1.0, 0.0, 0.0));
        assert_eq!(tp_fp_fn("", ""), (0.0, 0.0, 0.0));
        assert_eq!(tp_fp_fn("a b c d", ""), (0.0, 0.0, 1.0));
    }

    #[test]
    fn metrics_average_over_documents() {
        let m = aeb_metrics([("a b c d e", "a b c d e"), ("a b c d", "")]);
        // doc 2 has tp+fp = 0: left out of precision; recall 0.
        assert_eq!(m.precision, 1.0);
        assert_eq!(m.recall, 0.5);
        assert!((m.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.accuracy, 0.5);
        assert_eq!(m.documents, 2);
    }

    #[test]
    fn token_f1_cases() {
        assert_eq!(token_f1("a b", "a b"), 1.0);
        assert_eq!(token_f1("", ""), 1.0);
        assert_eq!(token_f1("a", ""), 0.0);
        assert!((token_f1("a b c d", "a b") - 2.0 / 3.0).abs() < 1e-12);
    }

    proptest::proptest! {
        #[test]
        fn identical_texts_score_one(s in "[a-z ]{0,80}") {
            let m = aeb_metrics([(s.as_str(), s.as_str())]);
            if !tokenize(&s).is_empty() {
                proptest::prop_assert_eq!(m.f1, 1.0);
            }
            proptest::prop_assert_eq!(token_f1(&s, &s), 1.0);
        }

        #[test]
        fn scores_are_bounded(a in "[a-c ]{0,40}", b in "[a-c ]{0,40}") {
            let (tp, fp, fnn) = tp_fp_fn(&a, &b);
            proptest::prop_assert!((0.0..=1.0).contains(&tp) && fp >= 0.0 && fnn >= 0.0);
            let f = token_f1(&a, &b);
            proptest::prop_assert!((0.0..=1.0).contains(&f));
            proptest::prop_assert!((f - token_f1(&b, &a)).abs() < 1e-12);
        }
    }
}
