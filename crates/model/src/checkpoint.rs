//! Checkpoints: `model.safetensors` (open_lm-style names), `optimizer.safetensors`
//! (`exp_avg.<path>`, `exp_avg_sq.<path>`), `state.json` (step, data-order position, configs and
//! the sha256 of both tensor files). Loading checks the hashes, the config and every tensor name
//! and shape, and says which file and which tensor is wrong.

use crate::config::ModelConfig;
use crate::data::DataOrder;
use crate::optim::ParamMap;
use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use burn::tensor::{DType, TensorData};
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "lmrepro-model-checkpoint-v1";

/// Everything besides tensors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckpointState {
    pub format: String,
    /// Optimizer steps done.
    pub step: u64,
    /// AdamW's step counter (equals `step` unless the schedule skipped updates).
    pub adam_step: u64,
    /// The data-order RNG state: seed and position.
    pub data_order: DataOrder,
    pub model: ModelConfig,
    /// The training parameters this run was started with (JSON), checked on resume.
    pub train: serde_json::Value,
    pub model_sha256: String,
    pub optimizer_sha256: String,
}

fn to_view_bytes(data: &TensorData) -> Result<(Dtype, Vec<u8>)> {
    let dt = match data.dtype {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        other => bail!("cannot checkpoint tensors of dtype {other:?}"),
    };
    Ok((dt, data.as_bytes().to_vec()))
}

fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, TensorData>,
    meta: HashMap<String, String>,
) -> Result<String> {
    let mut owned = Vec::with_capacity(tensors.len());
    for (name, data) in tensors {
        let (dt, bytes) = to_view_bytes(data)?;
        owned.push((name.clone(), dt, data.shape.as_slice().to_vec(), bytes));
    }
    let views: Vec<(String, TensorView)> = owned
        .iter()
        .map(|(n, dt, shape, bytes)| Ok((n.clone(), TensorView::new(*dt, shape.clone(), bytes)?)))
        .collect::<Result<_, safetensors::SafeTensorError>>()?;
    let bytes = safetensors::serialize(views, &Some(meta))
        .with_context(|| format!("serialising {}", path.display()))?;
    let bytes =
        canonical_header(bytes).with_context(|| format!("serialising {}", path.display()))?;
    write_synced(path, &bytes)?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// The same safetensors file with its JSON header's keys sorted. `safetensors::serialize` writes
/// the `__metadata__` map in the iteration order of a `std::collections::HashMap`, which is
/// seeded per process, so two runs wrote checkpoints whose bytes (and recorded sha256) differed
/// in the header half of the time: `format` before or after `config` (found by the kill -9
/// harness, `lmrepro-cli tests/kill_anywhere.rs`, comparing a resumed run with an uninterrupted
/// one). Sorting changes neither the header's length nor any offset, so the tensor bytes stay.
fn canonical_header(bytes: Vec<u8>) -> Result<Vec<u8>> {
    let n = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
        .filter(|&n| 8 + n <= bytes.len())
        .context("no safetensors header")?;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n])?;
    // serde_json's maps are sorted (no `preserve_order`), so this is the sorted header.
    let mut sorted = serde_json::to_vec(&header)?;
    if sorted.len() > n {
        bail!("sorted safetensors header is longer than the original");
    }
    // Same length, padded with spaces as safetensors pads to 8-byte alignment.
    sorted.resize(n, b' ');
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..8]);
    out.extend_from_slice(&sorted);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

fn read_safetensors(path: &Path, want_sha: &str) -> Result<BTreeMap<String, TensorData>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let sha = hex::encode(Sha256::digest(&bytes));
    if sha != want_sha {
        bail!(
            "corrupt checkpoint: {} has sha256 {sha}, state.json records {want_sha}",
            path.display()
        );
    }
    let st = safetensors::SafeTensors::deserialize(&bytes).with_context(|| {
        format!(
            "corrupt checkpoint: {} is not valid safetensors",
            path.display()
        )
    })?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F64 => DType::F64,
            other => bail!(
                "{}: tensor `{name}` has unsupported dtype {other:?}",
                path.display()
            ),
        };
        out.insert(
            name.clone(),
            TensorData::from_bytes_vec(view.data().to_vec(), view.shape().to_vec(), dtype),
        );
    }
    Ok(out)
}

fn map_data<B: Backend>(m: &ParamMap<B>, prefix: &str) -> BTreeMap<String, TensorData> {
    m.tensors
        .iter()
        .map(|(k, (shape, t))| {
            let d = t.to_data();
            let d = TensorData::from_bytes_vec(d.as_bytes().to_vec(), shape.clone(), d.dtype);
            (format!("{prefix}{k}"), d)
        })
        .collect()
}

/// Tensors of a loaded checkpoint.
pub struct LoadedCheckpoint {
    pub dir: PathBuf,
    pub state: CheckpointState,
    pub weights: BTreeMap<String, TensorData>,
    pub exp_avg: BTreeMap<String, TensorData>,
    pub exp_avg_sq: BTreeMap<String, TensorData>,
}

/// Writes a checkpoint into `dir`, replacing one that is there. The files are written and synced
/// in `<dir>.partial` (which [`resolve_dir`] never picks: not a `step_<N>` name), then the folder
/// is renamed to `dir`, so a process killed at any moment leaves either no checkpoint, the old
/// one, or the complete new one — never a `step_<N>` with a truncated `state.json` (which
/// `resolve_dir` would pick and a resume fail on; seen while reading the save path for the kill -9
/// harness, `lmrepro-cli tests/kill_anywhere.rs`). `weights` are the parameters by path.
pub fn save<B: Backend>(
    dir: &Path,
    weights: &ParamMap<B>,
    exp_avg: &ParamMap<B>,
    exp_avg_sq: &ParamMap<B>,
    state: CheckpointState,
) -> Result<()> {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    let partial = dir.with_file_name(name);
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("removing {}", partial.display()))?;
    }
    save_files(&partial, weights, exp_avg, exp_avg_sq, state)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("replacing {}", dir.display()))?;
    }
    lmrepro_stage::publish(&partial, dir).with_context(|| format!("finishing {}", dir.display()))
}

fn save_files<B: Backend>(
    dir: &Path,
    weights: &ParamMap<B>,
    exp_avg: &ParamMap<B>,
    exp_avg_sq: &ParamMap<B>,
    mut state: CheckpointState,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let meta = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("config".to_string(), serde_json::to_string(&state.model)?),
    ]);
    state.model_sha256 = write_safetensors(
        &dir.join("model.safetensors"),
        &map_data(weights, ""),
        meta.clone(),
    )?;
    let mut opt = map_data(exp_avg, "exp_avg.");
    opt.extend(map_data(exp_avg_sq, "exp_avg_sq."));
    state.optimizer_sha256 = write_safetensors(&dir.join("optimizer.safetensors"), &opt, meta)?;
    state.format = FORMAT.to_string();
    let json = serde_json::to_string_pretty(&state)?;
    // state.json last: a directory without it is an incomplete checkpoint.
    write_synced(&dir.join("state.json"), (json + "\n").as_bytes())
}

/// Writes and syncs a file of a checkpoint being built: the rename that publishes the folder must
/// not reach the disk before its contents (a failed sync, e.g. a full disk, is an error;
/// filesystems that cannot sync, `EINVAL`, are not).
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| match f.sync_all() {
            Err(e) if e.raw_os_error() == Some(22) => Ok(()),
            r => r,
        })
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads and verifies a checkpoint directory.
pub fn load(dir: &Path) -> Result<LoadedCheckpoint> {
    let state_path = dir.join("state.json");
    let text = std::fs::read_to_string(&state_path).with_context(|| {
        format!(
            "{} is not a checkpoint (no readable state.json; an interrupted save leaves none)",
            dir.display()
        )
    })?;
    let state: CheckpointState = serde_json::from_str(&text)
        .with_context(|| format!("corrupt checkpoint: {} is not valid", state_path.display()))?;
    if state.format != FORMAT {
        bail!(
            "{}: checkpoint format `{}`, expected `{FORMAT}`",
            state_path.display(),
            state.format
        );
    }
    let weights = read_safetensors(&dir.join("model.safetensors"), &state.model_sha256)?;
    let opt = read_safetensors(&dir.join("optimizer.safetensors"), &state.optimizer_sha256)?;
    let mut exp_avg = BTreeMap::new();
    let mut exp_avg_sq = BTreeMap::new();
    for (k, v) in opt {
        if let Some(p) = k.strip_prefix("exp_avg_sq.") {
            exp_avg_sq.insert(p.to_string(), v);
        } else if let Some(p) = k.strip_prefix("exp_avg.") {
            exp_avg.insert(p.to_string(), v);
        } else {
            bail!(
                "{}/optimizer.safetensors: unexpected tensor `{k}`",
                dir.display()
            );
        }
    }
    Ok(LoadedCheckpoint {
        dir: dir.to_path_buf(),
        state,
        weights,
        exp_avg,
        exp_avg_sq,
    })
}

/// `dir` itself if it holds a checkpoint, else its newest `step_*` subdirectory.
pub fn resolve_dir(dir: &Path) -> Result<PathBuf> {
    if dir.join("state.json").is_file() {
        return Ok(dir.to_path_buf());
    }
    let mut best: Option<(u64, PathBuf)> = None;
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for e in entries {
        let p = e?.path();
        let step = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("step_"))
            .and_then(|s| s.parse::<u64>().ok());
        if let Some(s) = step {
            if p.join("state.json").is_file() && best.as_ref().is_none_or(|(b, _)| s > *b) {
                best = Some((s, p));
            }
        }
    }
    best.map(|(_, p)| p).with_context(|| {
        format!(
            "{} holds no checkpoint (no state.json and no step_*/state.json)",
            dir.display()
        )
    })
}

/// Turns loaded tensors into a [`ParamMap`] on `device`, checking names and shapes against `like`.
pub fn to_param_map<B: Backend>(
    data: &BTreeMap<String, TensorData>,
    like: &ParamMap<B>,
    what: &str,
    device: &B::Device,
) -> Result<ParamMap<B>> {
    let mut out = ParamMap::default();
    for (k, d) in data {
        let Some((shape, t)) = like.tensors.get(k) else {
            bail!("{what}: unexpected tensor `{k}` (not a parameter of this model)");
        };
        if d.shape.as_slice() != shape.as_slice() {
            bail!(
                "{what}: tensor `{k}` has shape {:?}, the model expects {shape:?}",
                d.shape.as_slice()
            );
        }
        let n: usize = shape.iter().product();
        let flat = TensorData::from_bytes_vec(d.as_bytes().to_vec(), vec![n], d.dtype)
            .convert_dtype(t.dtype());
        out.tensors.insert(
            k.clone(),
            (shape.clone(), burn::tensor::Tensor::from_data(flat, device)),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever order the metadata map iterates in, the bytes written are the same (a fresh
    /// `HashMap` per try has a fresh seed, so 64 tries see both orders of two keys).
    #[test]
    fn safetensors_bytes_do_not_depend_on_hash_map_order() {
        let data = TensorData::new(vec![1.0f32, 2.0, 3.0], [3]);
        let tensors = BTreeMap::from([("w".to_string(), data)]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.safetensors");
        let mut seen = std::collections::BTreeSet::new();
        let mut raw_orders = std::collections::BTreeSet::new();
        for _ in 0..64 {
            let meta = HashMap::from([
                ("format".to_string(), FORMAT.to_string()),
                ("config".to_string(), "{}".to_string()),
            ]);
            raw_orders.insert(meta.keys().next().unwrap().clone());
            write_safetensors(&path, &tensors, meta).unwrap();
            seen.insert(std::fs::read(&path).unwrap());
        }
        assert_eq!(raw_orders.len(), 2, "both orders were tried");
        assert_eq!(seen.len(), 1, "one byte sequence whatever the order");
        let bytes = seen.into_iter().next().unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("w").unwrap().data().len(), 12);
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(meta.metadata().as_ref().unwrap()["format"], FORMAT);
    }
}
