//! Token shards: the on-disk format written by `tokenize` and read by the trainer.
//!
//! This module is deliberately small and only depends on `std`, `serde`, `serde_json`, `sha2` and
//! `hex`, so a consumer can use it with `default-features = false` (no tokenizer, no fastText).
//!
//! A token directory holds:
//!
//! * `meta.json` — [`TokenMeta`]: element type (`"u16"` or `"u32"`), `seqlen` (2049), EOT and PAD
//!   ids, vocabulary size, totals.
//! * `shard_00000000.bin`, … — each a concatenation of contexts; a context is exactly `seqlen`
//!   token ids stored little-endian as `u16` (when every id fits, i.e. vocab < 65536) or `u32`.
//!   No header, no padding between contexts: `file size = contexts × seqlen × width`.
//! * `manifest.jsonl` — one line per shard in shard order:
//!   `{"shard": "shard_00000000", "contexts": 8192, "sha256": "<hex of the .bin file>"}`.
//!
//! Contexts are already globally shuffled by the writer; a trainer reads them in manifest order.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Element type of a shard file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    U16,
    U32,
}

impl Dtype {
    /// Bytes per token id.
    pub fn width(self) -> usize {
        match self {
            Dtype::U16 => 2,
            Dtype::U32 => 4,
        }
    }

    /// The narrowest type able to hold every id `< id_bound` (`u16` when `id_bound <= 65536`).
    pub fn for_id_bound(id_bound: u64) -> Dtype {
        if id_bound <= 1 << 16 {
            Dtype::U16
        } else {
            Dtype::U32
        }
    }
}

/// `meta.json` of a token directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenMeta {
    /// Format version (1).
    pub format: u32,
    pub dtype: Dtype,
    /// Tokens per context (2049 = 2048 + 1 for next-token targets).
    pub seqlen: usize,
    /// End-of-text id appended after every document.
    pub eot_id: u32,
    /// Padding id used to fill the last context of each input file.
    pub pad_id: u32,
    /// Size of the tokenizer vocabulary including added tokens.
    pub vocab_size: u32,
    pub total_contexts: u64,
    /// Tokens including EOT and padding (= total_contexts × seqlen).
    pub total_tokens: u64,
    /// PAD tokens among `total_tokens`.
    pub pad_tokens: u64,
    /// Documents tokenized.
    pub documents: u64,
    /// sha256 of the tokenizer file used.
    pub tokenizer_sha256: String,
    /// Shuffle seed.
    pub seed: u64,
}

/// One `manifest.jsonl` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub shard: String,
    pub contexts: u64,
    pub sha256: String,
}

/// Errors reading a token directory; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error(
        "{path}: size {size} bytes is not {contexts} contexts × {seqlen} tokens × {width} bytes"
    )]
    Size {
        path: PathBuf,
        size: u64,
        contexts: u64,
        seqlen: usize,
        width: usize,
    },
    #[error("{path}: sha256 {actual} does not match manifest {expected}")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("context index {index} out of range (dataset has {total})")]
    OutOfRange { index: u64, total: u64 },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TokenError + '_ {
    move |source| TokenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Decodes little-endian ids of `dtype` from `bytes` into `out` (appending).
pub fn decode_ids(bytes: &[u8], dtype: Dtype, out: &mut Vec<u32>) {
    match dtype {
        Dtype::U16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as u32),
        ),
        Dtype::U32 => out.extend(
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        ),
    }
}

/// Encodes ids as little-endian `dtype` (appending). Panics if an id does not fit `u16`.
pub fn encode_ids(ids: &[u32], dtype: Dtype, out: &mut Vec<u8>) {
    match dtype {
        Dtype::U16 => {
            for &id in ids {
                let v = u16::try_from(id).expect("token id does not fit u16");
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        Dtype::U32 => {
            for &id in ids {
                out.extend_from_slice(&id.to_le_bytes());
            }
        }
    }
}

/// A token directory opened for reading.
#[derive(Debug, Clone)]
pub struct TokenDataset {
    pub dir: PathBuf,
    pub meta: TokenMeta,
    pub manifest: Vec<ManifestEntry>,
    /// Cumulative context counts: `offsets[i]` = first global context index of shard `i`.
    offsets: Vec<u64>,
}

impl TokenDataset {
    /// Opens `dir` (reads `meta.json` and `manifest.jsonl`, checks each shard's file size).
    pub fn open(dir: impl AsRef<Path>) -> Result<TokenDataset, TokenError> {
        let dir = dir.as_ref().to_path_buf();
        let meta_path = dir.join("meta.json");
        let meta_text = std::fs::read_to_string(&meta_path).map_err(io_err(&meta_path))?;
        let meta: TokenMeta =
            serde_json::from_str(&meta_text).map_err(|source| TokenError::Json {
                path: meta_path.clone(),
                line: 1,
                source,
            })?;
        let manifest_path = dir.join("manifest.jsonl");
        let file = std::fs::File::open(&manifest_path).map_err(io_err(&manifest_path))?;
        let mut manifest = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(io_err(&manifest_path))?;
            if line.trim().is_empty() {
                continue;
            }
            let entry: ManifestEntry =
                serde_json::from_str(&line).map_err(|source| TokenError::Json {
                    path: manifest_path.clone(),
                    line: i + 1,
                    source,
                })?;
            manifest.push(entry);
        }
        let mut offsets = Vec::with_capacity(manifest.len() + 1);
        let mut acc = 0u64;
        for entry in &manifest {
            offsets.push(acc);
            acc += entry.contexts;
            let path = dir.join(format!("{}.bin", entry.shard));
            let size = std::fs::metadata(&path).map_err(io_err(&path))?.len();
            let expected = entry.contexts * meta.seqlen as u64 * meta.dtype.width() as u64;
            if size != expected {
                return Err(TokenError::Size {
                    path,
                    size,
                    contexts: entry.contexts,
                    seqlen: meta.seqlen,
                    width: meta.dtype.width(),
                });
            }
        }
        offsets.push(acc);
        Ok(TokenDataset {
            dir,
            meta,
            manifest,
            offsets,
        })
    }

    /// Total number of contexts over all shards.
    pub fn num_contexts(&self) -> u64 {
        *self.offsets.last().unwrap_or(&0)
    }

    /// Path of shard `i`'s `.bin` file.
    pub fn shard_path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("{}.bin", self.manifest[i].shard))
    }

    /// Reads shard `i` whole (ids, `contexts × seqlen` of them).
    pub fn read_shard(&self, i: usize) -> Result<Vec<u32>, TokenError> {
        let path = self.shard_path(i);
        let bytes = std::fs::read(&path).map_err(io_err(&path))?;
        let mut out = Vec::with_capacity(bytes.len() / self.meta.dtype.width());
        decode_ids(&bytes, self.meta.dtype, &mut out);
        Ok(out)
    }

    /// Reads global context `index` (seeks inside its shard).
    pub fn context(&self, index: u64) -> Result<Vec<u32>, TokenError> {
        use std::io::{Seek, SeekFrom};
        if index >= self.num_contexts() {
            return Err(TokenError::OutOfRange {
                index,
                total: self.num_contexts(),
            });
        }
        // offsets is sorted; the shard is the last one starting at or before `index`.
        let shard = self.offsets.partition_point(|&o| o <= index) - 1;
        let local = index - self.offsets[shard];
        let path = self.shard_path(shard);
        let width = self.meta.dtype.width() as u64;
        let ctx_bytes = self.meta.seqlen as u64 * width;
        let mut f = std::fs::File::open(&path).map_err(io_err(&path))?;
        f.seek(SeekFrom::Start(local * ctx_bytes))
            .map_err(io_err(&path))?;
        let mut buf = vec![0u8; ctx_bytes as usize];
        f.read_exact(&mut buf).map_err(io_err(&path))?;
        let mut out = Vec::with_capacity(self.meta.seqlen);
        decode_ids(&buf, self.meta.dtype, &mut out);
        Ok(out)
    }

    /// Iterates over all contexts in manifest order, one shard in memory at a time.
    pub fn iter_contexts(&self) -> impl Iterator<Item = Result<Vec<u32>, TokenError>> + '_ {
        let seqlen = self.meta.seqlen;
        (0..self.manifest.len()).flat_map(move |i| {
            let items: Vec<Result<Vec<u32>, TokenError>> = match self.read_shard(i) {
                Ok(ids) => ids.chunks(seqlen).map(|c| Ok(c.to_vec())).collect(),
                Err(e) => vec![Err(e)],
            };
            items
        })
    }

    /// Recomputes every shard's sha256 and compares it with the manifest.
    pub fn verify(&self) -> Result<(), TokenError> {
        for (i, entry) in self.manifest.iter().enumerate() {
            let path = self.shard_path(i);
            let actual = sha256_path(&path)?;
            if actual != entry.sha256 {
                return Err(TokenError::Checksum {
                    path,
                    expected: entry.sha256.clone(),
                    actual,
                });
            }
        }
        Ok(())
    }
}

/// sha256 (hex) of a file.
pub fn sha256_path(path: &Path) -> Result<String, TokenError> {
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ids_roundtrip(ids in proptest::collection::vec(0u32..65536, 0..200), wide in any::<bool>()) {
            let dtype = if wide { Dtype::U32 } else { Dtype::U16 };
            let mut bytes = Vec::new();
            encode_ids(&ids, dtype, &mut bytes);
            prop_assert_eq!(bytes.len(), ids.len() * dtype.width());
            let mut back = Vec::new();
            decode_ids(&bytes, dtype, &mut back);
            prop_assert_eq!(back, ids);
        }
    }

    #[test]
    fn dtype_bound() {
        assert_eq!(Dtype::for_id_bound(50277), Dtype::U16);
        assert_eq!(Dtype::for_id_bound(65536), Dtype::U16);
        assert_eq!(Dtype::for_id_bound(65537), Dtype::U32);
    }

    #[test]
    fn little_endian_layout() {
        let mut bytes = Vec::new();
        encode_ids(&[0x0102, 7], Dtype::U16, &mut bytes);
        assert_eq!(bytes, vec![0x02, 0x01, 7, 0]);
    }

    #[test]
    fn open_rejects_wrong_size_and_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let meta = TokenMeta {
            format: 1,
            dtype: Dtype::U16,
            seqlen: 3,
            eot_id: 0,
            pad_id: 9,
            vocab_size: 10,
            total_contexts: 2,
            total_tokens: 6,
            pad_tokens: 0,
            documents: 1,
            tokenizer_sha256: String::new(),
            seed: 0,
        };
        std::fs::write(
            dir.path().join("meta.json"),
            serde_json::to_string(&meta).unwrap(),
        )
        .unwrap();
        let mut bytes = Vec::new();
        encode_ids(&[1, 2, 3, 4, 5, 6], Dtype::U16, &mut bytes);
        std::fs::write(dir.path().join("shard_00000000.bin"), &bytes).unwrap();
        let good = ManifestEntry {
            shard: "shard_00000000".into(),
            contexts: 2,
            sha256: sha256_path(&dir.path().join("shard_00000000.bin")).unwrap(),
        };
        std::fs::write(
            dir.path().join("manifest.jsonl"),
            serde_json::to_string(&good).unwrap() + "\n",
        )
        .unwrap();
        let ds = TokenDataset::open(dir.path()).unwrap();
        ds.verify().unwrap();
        assert_eq!(ds.context(1).unwrap(), vec![4, 5, 6]);
        assert!(matches!(ds.context(2), Err(TokenError::OutOfRange { .. })));
        let all: Vec<Vec<u32>> = ds.iter_contexts().map(|c| c.unwrap()).collect();
        assert_eq!(all, vec![vec![1, 2, 3], vec![4, 5, 6]]);

        let bad = ManifestEntry {
            contexts: 3,
            ..good.clone()
        };
        std::fs::write(
            dir.path().join("manifest.jsonl"),
            serde_json::to_string(&bad).unwrap(),
        )
        .unwrap();
        let err = TokenDataset::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("shard_00000000.bin"), "{err}");

        let bad = ManifestEntry {
            sha256: "00".into(),
            ..good
        };
        std::fs::write(
            dir.path().join("manifest.jsonl"),
            serde_json::to_string(&bad).unwrap(),
        )
        .unwrap();
        let err = TokenDataset::open(dir.path())
            .unwrap()
            .verify()
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not match"), "{err}");
    }
}
