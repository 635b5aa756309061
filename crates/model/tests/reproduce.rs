//! Long runs, ignored by default (`cargo test -p lmrepro-model --test reproduce -- --ignored`):
//! regenerate a recipe's results and time training steps. They are how the figures in
//! `benchmarks/train/README.md` were produced.

use lmrepro_data::testing;
use lmrepro_model::recipe::{load_recipe, TrainParams};
use lmrepro_model::{bench, recipe_data, reproduce, DeviceKind};
use std::path::PathBuf;

fn out_dir(name: &str) -> PathBuf {
    match std::env::var_os("LMREPRO_MODEL_OUT") {
        Some(d) => PathBuf::from(d).join(name),
        None => std::env::temp_dir().join(format!("lmrepro-model-{name}")),
    }
}

/// `LMREPRO_MODEL_RECIPE` (default train-tiny) through `reproduce`.
#[test]
#[ignore = "minutes of CPU training"]
fn reproduce_recipe() {
    let name = std::env::var("LMREPRO_MODEL_RECIPE").unwrap_or_else(|_| "train-tiny".into());
    let r = load_recipe(&name).unwrap();
    let out = out_dir(&name);
    std::fs::create_dir_all(&out).unwrap();
    let tables = reproduce(&r, &testing::resolver(), &out).unwrap();
    for t in &tables {
        eprintln!("== {t}\n{}", std::fs::read_to_string(out.join(t)).unwrap());
    }
}

/// tokens/s of `LMREPRO_MODEL_RECIPE` (default train-tiny): 2 warm-up + 8 timed steps.
#[test]
#[ignore = "timing, run alone"]
fn bench_recipe() {
    let name = std::env::var("LMREPRO_MODEL_RECIPE").unwrap_or_else(|_| "train-tiny".into());
    let r = load_recipe(&name).unwrap();
    let p: TrainParams = r.params().unwrap();
    let cfg = p.run_config().unwrap();
    let (train, held) = recipe_data(&r, &testing::resolver(), &p).unwrap();
    let b = bench(DeviceKind::Cpu, &cfg, &train, &held, 2, 8).unwrap();
    println!("{}", serde_json::to_string(&b).unwrap());
}
