//! The over-training scaling-law reproduction on the released data (mirror via the data layer).
//!
//! Reference values below were produced by running the released code itself
//! (`mlfoundations/scaling@a003c49`, `scaling/shared.py::fit_ds` with scipy 1.17.1 / numpy 2.4.6,
//! the notebook's defaults) outside this repository; the notebook prints the headline percentages.

use lmrepro_data::{testing, Recipe, Resolver};
use lmrepro_scaling::gadre::{self, Params};
use std::path::PathBuf;

fn recipe() -> Recipe {
    testing::recipe("scaling-overtraining")
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    ((a - b) / b).abs() <= rel
}

#[test]
fn fits_match_the_released_code() {
    let r = gadre::compute(&recipe(), &testing::resolver()).unwrap();
    assert_eq!(r.runs.len(), 104);
    assert_eq!(r.predictions.len(), 208);
    // (alpha_c, beta_c, b, E) from curve_fit_powlaw_ours; (k, gamma, epsilon) for avg_subset.
    let expected = [
        (
            "rpj",
            [
                166.2109784749555,
                366.68715907438246,
                -0.27285070026508734,
                1.8366483598543952,
            ],
            [2.2064900914623826, 0.7145905530490234, 0.8569919276135063],
        ),
        (
            "rw_original",
            [
                125.09569405778217,
                246.20668288328088,
                -0.25439484381625743,
                1.7344620819109433,
            ],
            [2.214814843606007, 0.7070485013065003, 0.865279537456563],
        ),
    ];
    for (dataset, loss, err) in expected {
        let f = r.fits.iter().find(|f| f.dataset == dataset).unwrap();
        let l = f.loss.law;
        for (ours, theirs) in [l.alpha, l.beta, l.b, l.e].iter().zip(loss) {
            assert!(
                close(*ours, theirs, 1e-5),
                "{dataset} loss law: {ours} vs {theirs}"
            );
        }
        let e = f.error["avg_subset"].unwrap();
        for (ours, theirs) in [e.k, e.gamma, e.epsilon].iter().zip(err) {
            assert!(
                close(*ours, theirs, 1e-5),
                "{dataset} error law: {ours} vs {theirs}"
            );
        }
    }
}

#[test]
fn headline_numbers_of_the_paper() {
    let r = gadre::compute(&recipe(), &testing::resolver()).unwrap();
    let t = r.headline_table().unwrap();
    // Released notebook: 0.7103 %, 3.6365 %, 0.7320 %, 0.0464 %; the paper rounds to 0.71/3.64/0.73/0.05.
    assert_eq!(t.rows[0][5], "0.71%");
    assert_eq!(t.rows[0][8], "3.64%");
    assert_eq!(t.rows[1][5], "0.73%");
    assert_eq!(t.rows[1][8], "0.05%");
    assert_eq!(t.rows[0][4], "2.5198");
    assert_eq!(t.rows[0][3], "2.5021");
}

fn params() -> Params {
    recipe().params().unwrap()
}

fn mirror_file(name: &str) -> PathBuf {
    testing::input("scaling-overtraining", name)
}

#[test]
fn corrupted_json_names_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let model = mirror_file("scaling/exp_data/models/rpj-open_lm_1b-32.0.json");
    let eval = mirror_file("scaling/exp_data/evals/evaluation_rpj-open_lm_1b-32.0_heavy.json");
    let text = std::fs::read_to_string(&model).unwrap();
    let broken = dir.path().join("rpj-open_lm_1b-32.0.json");
    std::fs::write(&broken, &text[..text.len() / 2]).unwrap();
    let err = format!(
        "{:#}",
        gadre::load_run(&broken, &eval, &params()).unwrap_err()
    );
    assert!(err.contains("rpj-open_lm_1b-32.0.json"), "{err}");
    assert!(
        err.contains("invalid JSON") && err.contains("line"),
        "{err}"
    );
}

#[test]
fn nan_loss_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = mirror_file("scaling/exp_data/models/rpj-open_lm_1b-32.0.json");
    let eval = mirror_file("scaling/exp_data/evals/evaluation_rpj-open_lm_1b-32.0_heavy.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    // Python's json module writes float('nan') as the bare token NaN.
    v["results"][1]["loss"] = serde_json::json!("__NAN__");
    let text = serde_json::to_string(&v)
        .unwrap()
        .replace("\"__NAN__\"", "NaN");
    let path = dir.path().join("nan.json");
    std::fs::write(&path, text).unwrap();
    let err = format!(
        "{:#}",
        gadre::load_run(&path, &eval, &params()).unwrap_err()
    );
    assert!(err.contains("nan.json") && err.contains("NaN"), "{err}");
    // A NaN reaching the fitter directly is refused too.
    let p = params();
    let err = gadre::fit_loss_law(
        &[1e7, 8e7, 1.5e8, 4e8],
        &[20.0; 4],
        &[4.0, f64::NAN, 3.5, 3.2],
        &p,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("non-finite loss"), "{err}");
}

#[test]
fn empty_fit_set_is_a_clear_error() {
    let r = gadre::compute(&recipe(), &testing::resolver()).unwrap();
    let only_big: Vec<_> = r.runs.iter().filter(|x| x.n > 1e9).cloned().collect();
    let err = gadre::fit_dataset(&only_big, "rpj", &params())
        .unwrap_err()
        .to_string();
    assert!(err.contains("found 0 of the 4 fit models"), "{err}");
    let err = gadre::fit_loss_law(&[], &[], &[], &params())
        .unwrap_err()
        .to_string();
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn sha256_mismatch_in_the_mirror_is_reported() {
    let recipe = recipe();
    let input = recipe
        .input("scaling/exp_data/models/rpj-open_lm_1b-32.0.json")
        .unwrap();
    let mirror = tempfile::tempdir().unwrap();
    // A private mirror holding every input, with one of them altered by a single bit.
    for i in &recipe.inputs {
        let dest = mirror.path().join(&i.path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(mirror_file(&i.name), &dest).unwrap();
    }
    let dest = mirror.path().join(&input.path);
    let mut bytes = std::fs::read(&dest).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&dest, bytes).unwrap();
    let resolver = Resolver {
        cache_dir: mirror.path().join("cache"),
        mirror_dir: Some(mirror.path().into()),
        allow_download: false,
    };
    let err = format!("{:#}", gadre::compute(&recipe, &resolver).unwrap_err());
    assert!(err.contains(&input.sha256), "{err}");
    assert!(err.contains("rpj-open_lm_1b-32.0.json"), "{err}");
}
