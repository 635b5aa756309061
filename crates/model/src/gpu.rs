//! GPU device set-up shared by the trainer's `wgpu` path, the benchmark and the parity tests.
//!
//! burn-wgpu's default device panics deep inside cubecl when no adapter exists; callers that must
//! tell "no Vulkan here" from a real failure (the parity tests print `skip:`, the benchmark exits
//! with an error) go through [`wgpu_vulkan`] instead, which asks for a Vulkan adapter once per
//! process and turns the panic into an error.

#[cfg(feature = "wgpu")]
pub use wgpu_impl::*;

// cubecl's persistent autotune cache is on by default (`autotune.cache = "target"` in its config):
// `target/` beside the nearest `Cargo.toml` above the working directory, i.e. `crates/model/target/`
// for this crate's tests and `./target/` for `lmrepro` run from the repository root. Naming another
// folder needs a `cubecl.toml`; setting it from code would need a direct `cubecl` dependency, whose
// optional cpu / hip back ends would add ~60 crates to Cargo.lock (docs/gpu.md).

#[cfg(feature = "wgpu")]
mod wgpu_impl {
    use burn_wgpu::{graphics::Vulkan, init_setup, RuntimeOptions, WgpuDevice};
    use std::sync::OnceLock;

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
    /// there is none (no loader, no ICD such as `mesa-vulkan-drivers`, no adapter).
    pub fn wgpu_vulkan() -> Result<&'static VulkanDevice, String> {
        static DEV: OnceLock<Result<VulkanDevice, String>> = OnceLock::new();
        DEV.get_or_init(|| {
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
