//! Corrupt and hostile model files (issue 19): every one is an error naming what is wrong, never
//! a panic, an out-of-bounds read or an allocation the file cannot back. The inputs are a tiny
//! model written here in fastText 0.9.2's layout (the same builder as `fuzz/seeds.sh`), with one
//! field changed at a time; some were found by the `fasttext_model` fuzz target.

use lmrepro_fasttext::FastText;

struct Spec {
    dim: i32,
    loss: i32,
    bucket: i32,
    minn: i32,
    maxn: i32,
    word_ngrams: i32,
    labels: Vec<&'static str>,
    input_rows: i64,
    input_cols: i64,
    output_rows: i64,
    label_count: i64,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            dim: 2,
            loss: 3,
            bucket: 10,
            minn: 2,
            maxn: 3,
            word_ngrams: 2,
            labels: vec!["__label__a", "__label__b"],
            input_rows: 12,
            input_cols: 2,
            output_rows: 2,
            label_count: 1,
        }
    }
}

fn model(s: &Spec) -> Vec<u8> {
    let mut out = Vec::new();
    let i32s = |out: &mut Vec<u8>, v: &[i32]| v.iter().for_each(|x| out.extend(x.to_le_bytes()));
    // magic, version, dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn,
    // lrUpdateRate, t
    i32s(
        &mut out,
        &[793712314, 12, s.dim, 5, 1, 1, 5, s.word_ngrams, s.loss, 3],
    );
    i32s(&mut out, &[s.bucket, s.minn, s.maxn, 100]);
    out.extend(1e-4f64.to_le_bytes());
    let words = [("hello", 3i64), ("</s>", 2)];
    let nlabels = s.labels.len() as i32;
    i32s(&mut out, &[2 + nlabels, 2, nlabels]);
    out.extend(10i64.to_le_bytes());
    out.extend((-1i64).to_le_bytes());
    for (w, c) in words {
        out.extend(w.as_bytes());
        out.extend([0]);
        out.extend(c.to_le_bytes());
        out.push(0);
    }
    for l in &s.labels {
        out.extend(l.as_bytes());
        out.extend([0]);
        out.extend(s.label_count.to_le_bytes());
        out.push(1);
    }
    for (rows, cols) in [(s.input_rows, s.input_cols), (s.output_rows, s.input_cols)] {
        out.push(0);
        out.extend(rows.to_le_bytes());
        out.extend(cols.to_le_bytes());
        for i in 0..rows.saturating_mul(cols).clamp(0, 1 << 16) {
            out.extend((0.1f32 * i as f32).to_le_bytes());
        }
    }
    out
}

fn err(bytes: &[u8]) -> String {
    match FastText::from_bytes(bytes) {
        Ok(_) => panic!("a corrupt model loaded"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn the_tiny_model_loads_and_predicts() {
    for loss in [1, 2, 3, 4] {
        let m = FastText::from_bytes(&model(&Spec {
            loss,
            ..Spec::default()
        }))
        .unwrap();
        assert_eq!(m.nlabels(), 2);
        let p = m.predict("hello world", 2);
        assert_eq!(p.len(), 2, "loss {loss}");
        assert!(p.iter().all(|p| p.prob.is_finite()));
    }
}

#[test]
fn every_truncation_is_an_error() {
    let full = model(&Spec::default());
    for n in 0..full.len() {
        let e = err(&full[..n]);
        assert!(e.contains("offset") || e.contains("magic"), "{n}: {e}");
    }
}

/// Fuzz finding: `bucket = 0` with character n-grams divided by zero while loading.
#[test]
fn bucket_zero_with_ngrams_is_an_error() {
    let e = err(&model(&Spec {
        bucket: 0,
        ..Spec::default()
    }));
    assert!(e.contains("bucket 0"), "{e}");
    // Without n-grams bucket 0 is a valid model (rows = the words only).
    FastText::from_bytes(&model(&Spec {
        bucket: 0,
        maxn: 0,
        word_ngrams: 1,
        input_rows: 2,
        ..Spec::default()
    }))
    .unwrap();
}

/// A size field larger than the file is reported before anything is allocated (it used to
/// reserve rows x cols floats first: a memory blow-up or an allocation abort).
#[test]
fn huge_matrix_sizes_are_errors_not_allocations() {
    let e = err(&model(&Spec {
        input_rows: 1 << 40,
        ..Spec::default()
    }));
    assert!(e.contains("needs") && e.contains("left"), "{e}");
    let e = err(&model(&Spec {
        input_rows: i64::MAX,
        input_cols: 4,
        ..Spec::default()
    }));
    assert!(e.contains("too large"), "{e}");
}

/// Shapes predict relies on: fewer input rows than words + buckets, or columns other than dim,
/// used to index out of bounds at prediction time.
#[test]
fn inconsistent_shapes_are_errors() {
    let e = err(&model(&Spec {
        input_rows: 5,
        ..Spec::default()
    }));
    assert!(e.contains("rows"), "{e}");
    let e = err(&model(&Spec {
        dim: 3,
        ..Spec::default()
    }));
    assert!(e.contains("columns for dim 3"), "{e}");
    let e = err(&model(&Spec {
        dim: 0,
        input_cols: 0,
        ..Spec::default()
    }));
    assert!(e.contains("dim 0"), "{e}");
}

/// Hierarchical softmax over no labels underflowed `2 * nlabels - 2`.
#[test]
fn a_model_without_labels_is_an_error() {
    let e = err(&model(&Spec {
        loss: 1,
        labels: vec![],
        output_rows: 0,
        ..Spec::default()
    }));
    assert!(e.contains("without labels"), "{e}");
}

#[test]
fn trailing_bytes_are_an_error() {
    let mut m = model(&Spec::default());
    m.push(0);
    assert!(err(&m).contains("trailing"));
}

/// Fuzz finding (`fasttext_model`, crash-6924a053…): NaN weights made every score NaN and the
/// top-k heap unwrapped a missing minimum. NaN/inf weights now load and predict without a panic
/// (fastText itself accepts such a model; its probabilities are NaN).
#[test]
fn nan_and_infinite_weights_do_not_panic() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for loss in [1, 2, 3, 4] {
            let mut m = model(&Spec {
                loss,
                ..Spec::default()
            });
            let n = m.len();
            // The output matrix (2 x 2 floats) ends the file.
            for c in m[n - 16..].chunks_exact_mut(4) {
                c.copy_from_slice(&bad.to_le_bytes());
            }
            let ft = FastText::from_bytes(&m).unwrap();
            for k in [1, 2, 5] {
                let p = ft.predict("hello world", k);
                assert!(p.len() <= 2, "{bad} loss {loss} k {k}");
            }
        }
    }
}

/// Fuzz finding (`fasttext_model`, a hang): a label count above fastText's 1e15 sentinel built a
/// cyclic Huffman tree and hierarchical-softmax `predict` looped forever. Now a load error.
#[test]
fn label_counts_that_break_the_huffman_tree_are_an_error() {
    let e = err(&model(&Spec {
        loss: 1,
        label_count: 0x2b00_0000_0000_0002,
        ..Spec::default()
    }));
    assert!(e.contains("Huffman tree"), "{e}");
    // Softmax does not build a tree: the same counts load and predict.
    let m = FastText::from_bytes(&model(&Spec {
        loss: 3,
        label_count: 0x2b00_0000_0000_0002,
        ..Spec::default()
    }))
    .unwrap();
    assert_eq!(m.predict("hello", 2).len(), 2);
}
