//! Regenerates a `train` recipe's loss-curve tables (`recipes/train/<name>.toml`) into a folder:
//! how the figures in `benchmarks/train/README.md` were produced. Minutes of CPU training.
//!
//! `cargo run --release -p lmrepro-model --example train_recipe -- train-tiny benchmarks/train`
//! (timing: `lmrepro bench --recipe train-tiny --warmup 2 --steps 8`).

use anyhow::{Context, Result};
use lmrepro_model::recipe::load_recipe;
use std::path::PathBuf;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "train-tiny".into());
    let root: PathBuf = args.next().map_or_else(std::env::temp_dir, PathBuf::from);
    let out = root.join(&name);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let recipe = load_recipe(&name)?;
    let tables = lmrepro_model::reproduce(&recipe, &lmrepro_data::Resolver::from_env(), &out)?;
    for t in &tables {
        println!("== {t}\n{}", std::fs::read_to_string(out.join(t))?);
    }
    Ok(())
}
