//! Safetensors shards, memory-mapped: `model.safetensors` or `model.safetensors.index.json`
//! (its `weight_map` names the shard of every tensor). Tensors are read one at a time and widened
//! to f32 (f32 / bf16 / f16 / f64 on disk); every error names the file and the tensor.

use anyhow::{bail, Context, Result};
use memmap2::Mmap;
use safetensors::tensor::Dtype;
use safetensors::SafeTensors;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// One tensor as f32, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct F32Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// The shards of a checkpoint and where each tensor lives.
pub struct Shards {
    /// Shard file → its map (kept open for the life of the loader).
    maps: BTreeMap<PathBuf, Mmap>,
    /// Tensor name → shard file.
    index: BTreeMap<String, PathBuf>,
}

fn map_file(path: &Path) -> Result<Mmap> {
    let f = File::open(path).with_context(|| format!("opening shard {}", path.display()))?;
    // SAFETY: the file is only read; a concurrent writer truncating it is the usual mmap caveat,
    // the same as transformers' safe_open.
    unsafe { Mmap::map(&f) }.with_context(|| format!("memory-mapping {}", path.display()))
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a valid safetensors file (truncated or corrupt header?): {e:?}",
            path.display()
        )
    })
}

impl Shards {
    /// Opens the weights of a model folder.
    pub fn open(dir: &Path) -> Result<Shards> {
        let single = dir.join("model.safetensors");
        let index_path = dir.join("model.safetensors.index.json");
        let mut maps = BTreeMap::new();
        let mut index = BTreeMap::new();
        if index_path.exists() {
            let text = std::fs::read_to_string(&index_path)
                .with_context(|| format!("reading {}", index_path.display()))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", index_path.display()))?;
            let wm = v
                .get("weight_map")
                .and_then(|w| w.as_object())
                .with_context(|| format!("{}: no `weight_map` object", index_path.display()))?;
            for (name, file) in wm {
                let file = file.as_str().with_context(|| {
                    format!(
                        "{}: shard of `{name}` is not a string",
                        index_path.display()
                    )
                })?;
                let path = dir.join(file);
                if !maps.contains_key(&path) {
                    if !path.exists() {
                        bail!(
                            "{}: shard {file} (holding tensor `{name}`) is missing",
                            index_path.display()
                        );
                    }
                    maps.insert(path.clone(), map_file(&path)?);
                }
                index.insert(name.clone(), path);
            }
            // Every listed tensor must be in its shard.
            for (name, path) in &index {
                let st = parse(path, &maps[path])?;
                if st.tensor(name).is_err() {
                    bail!(
                        "{}: tensor `{name}` is listed in {} but not in the shard",
                        path.display(),
                        index_path.display()
                    );
                }
            }
        } else if single.exists() {
            let m = map_file(&single)?;
            for name in parse(&single, &m)?.names() {
                index.insert(name.clone(), single.clone());
            }
            maps.insert(single, m);
        } else {
            bail!(
                "{}: neither model.safetensors nor model.safetensors.index.json",
                dir.display()
            );
        }
        Ok(Shards { maps, index })
    }

    /// Tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Reads `name` as f32.
    pub fn get(&self, name: &str) -> Result<F32Tensor> {
        let path = self
            .index
            .get(name)
            .with_context(|| format!("checkpoint has no tensor `{name}`"))?;
        let st = parse(path, &self.maps[path])?;
        let view = st
            .tensor(name)
            .map_err(|e| anyhow::anyhow!("{}: tensor `{name}`: {e:?}", path.display()))?;
        let bytes = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::BF16 => bytes
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::F64 => bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            other => bail!(
                "{}: tensor `{name}` has dtype {other:?}; weights must be F32, BF16, F16 or F64",
                path.display()
            ),
        };
        Ok(F32Tensor {
            shape: view.shape().to_vec(),
            data,
        })
    }

    /// The file holding `name` (for error messages).
    pub fn file_of(&self, name: &str) -> String {
        self.index
            .get(name)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<no file>".into())
    }
}
