//! `cargo xtask gpu-test`: lmrepro-model's wgpu parity tests (`tests/wgpu_parity.rs`)
//! on a Vulkan device — Mesa's software llvmpipe where there is no GPU (`mesa-vulkan-drivers`).
//! Not yet part of `cargo xtask test`: their cold build and run (~15 min on 2 cores) do not fit the
//! CI budget beside the rest, and BLOOM / GPT-2 bias gradients are still outside tolerance (docs/gpu.md).
//!
//! They are a separate cargo invocation because `cargo test --workspace` builds lmrepro-model
//! without its `wgpu` feature; only the one test binary is built and run, so the feature adds a
//! single link and no second copy of the other test binaries. cubecl keeps its autotune results in
//! `crates/model/target/` (its default: `target/` beside the nearest `Cargo.toml`), so a second run
//! skips autotuning.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// `cargo test -p lmrepro-model --features wgpu --test wgpu_parity`.
pub fn wgpu_tests(root: &Path) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = std::time::Instant::now();
    let status = Command::new(&cargo)
        .current_dir(root)
        .args([
            "test",
            "-p",
            "lmrepro-model",
            "--features",
            "wgpu",
            "--test",
            "wgpu_parity",
        ])
        .status()
        .with_context(|| format!("running {cargo} test -p lmrepro-model --features wgpu"))?;
    if !status.success() {
        bail!("the wgpu parity tests failed ({status})");
    }
    eprintln!(
        "xtask: wgpu parity tests done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
