//! GPU device set-up shared by the trainer's `wgpu` path, the benchmark and the parity tests.
//!
//! burn-wgpu's default device panics deep inside cubecl when no adapter exists; callers that must
//! tell "no Vulkan here" from a real failure (the parity tests print `skip:`, the benchmark exits
//! with an error) go through [`wgpu_vulkan`] instead, which asks for a Vulkan adapter once per
//! process and turns the panic into an error.

#[cfg(feature = "wgpu-device")]
pub use wgpu_impl::*;

// cubecl's persistent autotune cache (its winners per kernel key) would by default live in
// `target/` beside the nearest `Cargo.toml` above the working directory, and whatever an earlier run
// timed there would decide which kernel this run uses. One of those kernels is wrong on our shapes
// (docs/gpu.md, "The wrong kernel"), so [`wgpu_vulkan`] points cubecl at a folder of our choosing
// and seeds it with the winners this crate ships (`crates/model/autotune/`), before the first kernel.

#[cfg(feature = "wgpu-device")]
mod wgpu_impl {
    use burn_cubecl::cubecl::config::{cache::CacheConfig, CubeClRuntimeConfig, RuntimeConfig};
    use burn_wgpu::{graphics::Vulkan, init_setup, RuntimeOptions, WgpuDevice};
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    /// Environment variable naming a persistent autotune folder (kept across runs, seeded with the
    /// shipped winners each time). Unset: a fresh folder per process under the temp dir.
    pub const AUTOTUNE_DIR_ENV: &str = "LMREPRO_CUBECL_AUTOTUNE";

    /// cubecl's cache layout below the configured root: `autotune/<cubecl version>/<device id>/`.
    /// The device id is `device-<type>-<index>-<runtime>`: burn-wgpu's `DefaultDevice` on the WGSL
    /// path, whatever the adapter (cubecl does not key its cache by adapter).
    pub const AUTOTUNE_SUBDIR: &str = "autotune/0.10.0/device-4-0-wgpu_wgsl_";

    /// The autotune winners shipped for burn-wgpu's default device (cubecl 0.10's persistent-cache
    /// files, one JSON line per kernel key): every matmul and reduction key of the wgpu parity
    /// suite, timed on llvmpipe, with `matmul_double_unit_*` replaced by a correct kernel where
    /// llvmpipe's timing preferred it. Their keys are never timed again, so the kernels the suite
    /// checks are the kernels every run uses.
    pub const SHIPPED_AUTOTUNE: &[(&str, &str)] = &[
        (
            "burn_cubecl-kernel-matmul-tune-base.json.log",
            include_str!("../autotune/burn_cubecl-kernel-matmul-tune-base.json.log"),
        ),
        (
            "burn_cubecl-kernel-reduce-tune-reduce-dim.json.log",
            include_str!("../autotune/burn_cubecl-kernel-reduce-tune-reduce-dim.json.log"),
        ),
        (
            "burn_cubecl-kernel-reduce-tune-autotune-sum.json.log",
            include_str!("../autotune/burn_cubecl-kernel-reduce-tune-autotune-sum.json.log"),
        ),
    ];

    /// The `key` object of one cache line (what cubecl matches on), as canonical JSON text.
    fn line_key(line: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        Some(v.get("key")?.to_string())
    }

    /// Writes the shipped winners into `root` (cubecl's layout). Lines already there for other
    /// keys (a persistent folder's own earlier results) are kept after the shipped ones; lines for
    /// shipped keys are dropped, so the shipped choice wins.
    pub fn seed_autotune_dir(root: &Path) -> std::io::Result<()> {
        let dir = root.join(AUTOTUNE_SUBDIR);
        std::fs::create_dir_all(&dir)?;
        for (name, text) in SHIPPED_AUTOTUNE {
            let path = dir.join(name);
            let shipped: std::collections::HashSet<String> =
                text.lines().filter_map(line_key).collect();
            let mut out = String::from(*text);
            if let Ok(old) = std::fs::read_to_string(&path) {
                for line in old.lines() {
                    if line_key(line).is_some_and(|k| !shipped.contains(&k)) {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
            std::fs::write(&path, out)?;
        }
        Ok(())
    }

    /// The folder this process gives cubecl: `$LMREPRO_CUBECL_AUTOTUNE`, or a fresh
    /// `lmrepro-cubecl-autotune-<pid>` under the temp dir (earlier ones whose process is gone are
    /// removed, Linux only). Never relative to the working directory.
    fn autotune_root() -> PathBuf {
        if let Some(dir) = std::env::var_os(AUTOTUNE_DIR_ENV).filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let tmp = std::env::temp_dir();
        let prefix = "lmrepro-cubecl-autotune-";
        #[cfg(target_os = "linux")]
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix(prefix) {
                    if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let root = tmp.join(format!("{prefix}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        root
    }

    /// The autotune folder this process uses (set by [`wgpu_vulkan`]).
    pub fn autotune_dir() -> Option<&'static Path> {
        AUTOTUNE_ROOT.get().map(|p| p.as_path())
    }

    static AUTOTUNE_ROOT: OnceLock<PathBuf> = OnceLock::new();

    /// Points cubecl's persistent autotune cache at [`autotune_root`] seeded with the shipped
    /// winners. Must run before cubecl reads its configuration (the first kernel): cubecl panics
    /// on a second `set`, which is turned into an error here. The rest of the configuration is
    /// cubecl's own (`cubecl.toml` in the working directory, `CUBECL_*` variables).
    fn install_autotune_cache() -> Result<(), String> {
        let root = autotune_root();
        seed_autotune_dir(&root)
            .map_err(|e| format!("seeding the autotune folder {}: {e}", root.display()))?;
        let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
        config.autotune.cache = CacheConfig::File(root.clone());
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            CubeClRuntimeConfig::set(config)
        }))
        .map_err(|p| {
            format!(
                "cubecl was configured before lmrepro could name its autotune folder ({})",
                panic_text(p.as_ref())
            )
        })?;
        let _ = AUTOTUNE_ROOT.set(root);
        Ok(())
    }

    /// A Vulkan device initialised for burn-wgpu, and the adapter's description.
    #[derive(Debug, Clone)]
    pub struct VulkanDevice {
        pub device: WgpuDevice,
        /// `name (device type, driver driver_info)`, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Cpu, ...)`.
        pub adapter: String,
        /// True for a software rasteriser (Mesa's llvmpipe / lavapipe): tests and benchmarks use
        /// this to say which kind of device their figures come from.
        pub is_cpu: bool,
    }

    fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into())
    }

    /// The process's Vulkan device (burn-wgpu's `DefaultDevice`, bound to the Vulkan API), or why
    /// there is none (no loader, no ICD such as `mesa-vulkan-drivers`, no adapter). Before the
    /// device comes up, cubecl's autotune cache is pointed at this process's folder and seeded
    /// with the shipped winners ([`SHIPPED_AUTOTUNE`]).
    pub fn wgpu_vulkan() -> Result<&'static VulkanDevice, String> {
        static DEV: OnceLock<Result<VulkanDevice, String>> = OnceLock::new();
        DEV.get_or_init(|| {
            install_autotune_cache()?;
            let device = WgpuDevice::DefaultDevice;
            let setup = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                init_setup::<Vulkan>(&device, RuntimeOptions::default())
            }))
            .map_err(|p| {
                format!(
                    "no Vulkan adapter for burn-wgpu ({}); on Debian/Ubuntu install \
                     mesa-vulkan-drivers for the software device llvmpipe",
                    panic_text(p.as_ref()).lines().next().unwrap_or("")
                )
            })?;
            let info = setup.adapter.get_info();
            Ok(VulkanDevice {
                device,
                adapter: format!(
                    "{} ({:?}, {} {})",
                    info.name, info.device_type, info.driver, info.driver_info
                ),
                // wgpu itself is not re-exported by burn-wgpu; its Debug name is stable.
                is_cpu: format!("{:?}", info.device_type) == "Cpu",
            })
        })
        .as_ref()
        .map_err(Clone::clone)
    }
}
