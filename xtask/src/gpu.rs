//! lmrepro-model's wgpu parity tests (`crates/model/tests/wgpu_parity.rs`) on a Vulkan device —
//! Mesa's software llvmpipe where there is no GPU (Debian package `mesa-vulkan-drivers`, which
//! `.ci/run` installs when missing).
//!
//! `cargo xtask test` runs them inside its one `cargo test --workspace` invocation, by adding
//! `--features lmrepro-model/wgpu-device` when a Vulkan driver is present ([`workspace_features`]):
//! one build with unified features, so burn, serde and the crates above them compile once. A
//! separate `cargo test -p lmrepro-model --features wgpu` would compile a second copy of them (254
//! extra units against 118; docs/gpu.md, "Cost"). `wgpu-device`, not `wgpu`: the suite
//! instantiates burn's autodiff over wgpu itself, and the trainer's wgpu path in the library (the
//! full `wgpu` feature) would add the build's costliest codegen unit twice, to the rlib and to its
//! unit-test binary, both on the critical path of every crate above lmrepro-model.
//! `cargo xtask gpu-test` runs the suite alone.
//!
//! The kernels the suite runs do not depend on earlier runs or on timing: lmrepro-model gives
//! cubecl a fresh autotune folder seeded with the winners it ships (`crates/model/autotune/`), and
//! the suite fails if cubecl had to time anything else.
//!
//! Without a Vulkan driver (no loader `libvulkan.so.1` or no ICD manifest) the suite is not even
//! built: a `skip:` line, an error under `LMREPRO_REQUIRE_ALL=1`. With a driver but no usable
//! adapter, the tests themselves print `skip:` (and fail under `LMREPRO_REQUIRE_ALL=1`).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the Vulkan loader looks for ICD manifests on Linux (besides `VK_ICD_FILENAMES` /
/// `VK_DRIVER_FILES`): `$XDG_DATA_DIRS/vulkan/icd.d`, `/etc/vulkan/icd.d` and the system data dirs.
fn icd_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var("XDG_DATA_DIRS")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join("vulkan/icd.d"))
        .collect();
    for d in [
        "/etc/vulkan/icd.d",
        "/usr/local/share/vulkan/icd.d",
        "/usr/share/vulkan/icd.d",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// Why there is no Vulkan driver here, or `None` when a loader and at least one ICD manifest exist.
/// (Whether an adapter actually comes up is for the tests to find out: they print `skip:` if not.)
pub fn missing_vulkan() -> Option<String> {
    let loader = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ]
    .iter()
    .any(|d| Path::new(d).join("libvulkan.so.1").exists());
    if !loader {
        return Some("no Vulkan loader (libvulkan.so.1)".into());
    }
    let named = ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    let manifest = icd_dirs().iter().any(|d| {
        std::fs::read_dir(d).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
    });
    (!named && !manifest).then(|| "no Vulkan driver (no ICD manifest in vulkan/icd.d)".into())
}

/// The `skip:` line for a machine without a Vulkan driver, or an error under
/// `LMREPRO_REQUIRE_ALL=1`.
fn skip_or_fail(why: &str) -> Result<()> {
    let line = format!(
        "skip: wgpu parity tests ({why}; on Debian/Ubuntu `apt-get install mesa-vulkan-drivers` \
         gives the software device llvmpipe, as .ci/run does)"
    );
    if std::env::var_os("LMREPRO_REQUIRE_ALL").is_some_and(|v| v == "1") {
        bail!("{line} (LMREPRO_REQUIRE_ALL=1)");
    }
    println!("{line}");
    Ok(())
}

/// What `cargo xtask test` adds to its `cargo test --workspace`: `--features lmrepro-model/wgpu-device`
/// (the parity suite, in the same build) when this machine has a Vulkan driver; nothing, after a
/// `skip:` line, when it has none (an error under `LMREPRO_REQUIRE_ALL=1`).
pub fn workspace_features() -> Result<Vec<String>> {
    match missing_vulkan() {
        Some(why) => skip_or_fail(&why).map(|()| Vec::new()),
        None => Ok(vec![
            "--features".into(),
            "lmrepro-model/wgpu-device".into(),
        ]),
    }
}

/// `cargo xtask gpu-test`: `cargo test -p lmrepro-model --features wgpu-device --test wgpu_parity`, or
/// the `skip:` line when this machine has no Vulkan driver.
pub fn wgpu_tests(root: &Path) -> Result<()> {
    if let Some(why) = missing_vulkan() {
        return skip_or_fail(&why);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = std::time::Instant::now();
    let status = Command::new(&cargo)
        .current_dir(root)
        .args([
            "test",
            "-p",
            "lmrepro-model",
            "--features",
            "wgpu-device",
            "--test",
            "wgpu_parity",
        ])
        .status()
        .with_context(|| format!("running {cargo} test -p lmrepro-model --features wgpu-device"))?;
    if !status.success() {
        bail!("the wgpu parity tests failed ({status})");
    }
    eprintln!(
        "xtask: wgpu parity tests (build + run) done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
