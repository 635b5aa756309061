//! Results output shared by every reproducer.
//!
//! Invariants: everything written here is byte-deterministic for the same inputs (no timestamps, no
//! hash-map iteration order, fixed float formatting chosen by the caller), so `results/<recipe>/`
//! can be committed and snapshot-tested.

pub mod contract;
mod plot;
mod provenance;
pub mod reproducer;
mod table;

pub use plot::{Axis, LinePlot, Series, SeriesStyle};
pub use provenance::{git_commit, Provenance, ProvenanceInput};
pub use reproducer::{
    __private, list_files, publish, reproduce_into, Reproduced, Reproducer, RunOptions,
};
pub use table::{fmt_fixed, fmt_grouped, fmt_sig, Table};

use anyhow::{Context, Result};
use std::path::Path;

/// Writes `contents` to `dir/name`, creating `dir` if needed.
pub fn write_file(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
}

/// Serialises `value` as pretty JSON with a trailing newline.
pub fn to_json_pretty<T: serde::Serialize>(value: &T) -> Result<String> {
    let mut s = serde_json::to_string_pretty(value)?;
    s.push('\n');
    Ok(s)
}
