//! Tokenize + two-stage shuffle, after DCLM's `rust_processing/tokshuf-rs`.
//!
//! Faithful to tokshuf-rs:
//! * every document's `text` is encoded with the HF tokenizer (`encode(text, add_special_tokens =
//!   false)`), then EOT (id 0) is appended;
//! * tokens are concatenated **per input file** and cut into contexts of `seqlen` (2049);
//! * the remainder of each file is padded with PAD = base vocab + 2 (50254 + 2 = 50256 for
//!   GPT-NeoX, which is also the id of a whitespace-run token — tokshuf's quirk, kept). When a file's
//!   tokens divide evenly, tokshuf still emits one all-PAD context (its `while len < seqlen` loop
//!   runs on an empty buffer); we do the same unless `drop_all_pad_context` is set;
//! * stage 1 sends each context to a random one of `num_local_cells` cells; stage 2 shuffles each
//!   cell, emits full chunks of `chunk_size` contexts, and sends leftovers to `cells / 16` overflow
//!   cells for another round (the last round emits partial chunks).
//!
//! Deviations (see README): upstream seeds its RNGs from `DefaultHasher(path, seed, idx)` but runs
//! threads that append to shared cells, so its output order is not reproducible. Here every RNG is a
//! ChaCha20 stream seeded from `(seed, stage, index)` and every merge happens in index order, so the
//! output is byte-identical for a given seed whatever the thread count. Output shards are raw
//! little-endian `u16`/`u32` files plus `manifest.jsonl` (see [`crate::tokens`]) instead of tars of
//! gzipped JSON.

use crate::tokens::{self, Dtype, ManifestEntry, TokenMeta};
use anyhow::{bail, Context, Result};
use lmrepro_stage::{
    expand_inputs, progress, read_docs, text, write_atomic, OnMalformed, ShardedStage,
};
use lmrepro_tokenizer::Tokenizer;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A processed cell: full chunks (flattened contexts) and leftovers per overflow cell.
type CellOutput = (Vec<Vec<u32>>, Vec<Vec<u32>>);

/// Upstream's divisor between rounds of overflow cells.
const OVERFLOW_REDUCTION: usize = 16;

/// Parameters of a tokenize + shuffle run (defaults = tokshuf-rs defaults). Also the `tokenize`
/// flags: the clap defaults equal [`Default`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct TokenizeConfig {
    #[arg(long, default_value_t = 2049)]
    pub seqlen: usize,
    /// Contexts per output shard (tokshuf's wds_chunk_size).
    #[arg(long, default_value_t = 8192)]
    pub chunk_size: usize,
    #[arg(long, default_value_t = 128)]
    pub num_local_cells: usize,
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    #[arg(skip)]
    pub eot_id: u32,
    /// `None`: base vocabulary size + 2 (tokshuf's PAD).
    #[arg(skip)]
    pub pad_id: Option<u32>,
    /// Skip tokshuf's all-PAD context for files whose tokens divide evenly into contexts.
    #[arg(long)]
    pub drop_all_pad_context: bool,
    #[arg(long, value_enum, default_value_t = OnMalformed::Error)]
    pub on_malformed: OnMalformed,
    /// Tokenize only the first `n` files, then fail (simulates an interrupted run in tests).
    #[serde(skip)]
    #[arg(skip)]
    pub stop_after_stage1_files: Option<usize>,
}

impl Default for TokenizeConfig {
    fn default() -> Self {
        TokenizeConfig {
            seqlen: 2049,
            chunk_size: 8192,
            num_local_cells: 128,
            seed: 1234,
            eot_id: 0,
            pad_id: None,
            drop_all_pad_context: false,
            on_malformed: OnMalformed::Error,
            stop_after_stage1_files: None,
        }
    }
}

/// Totals of a run (also written to `stats.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenizeStats {
    pub files: u64,
    pub documents: u64,
    pub malformed_lines: u64,
    /// Document tokens incl. EOT.
    pub tokens: u64,
    pub pad_tokens: u64,
    pub contexts: u64,
    pub shards: u64,
}

/// Splits one file's token stream into contexts the way tokshuf-rs does.
pub fn contexts_of_stream(
    tokens: &[u32],
    seqlen: usize,
    pad_id: u32,
    drop_all_pad: bool,
) -> (Vec<Vec<u32>>, u64) {
    let mut out: Vec<Vec<u32>> = tokens.chunks(seqlen).map(|c| c.to_vec()).collect();
    let mut pads = 0u64;
    match out.last_mut() {
        Some(last) if last.len() < seqlen => {
            pads = (seqlen - last.len()) as u64;
            last.resize(seqlen, pad_id);
        }
        _ if !drop_all_pad => {
            // Buffer empty after the loop: tokshuf's padding loop fills a whole context.
            out.push(vec![pad_id; seqlen]);
            pads = seqlen as u64;
        }
        _ => {}
    }
    (out, pads)
}

fn rng_for(seed: u64, stage: u64, index: u64) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(stage.to_le_bytes());
    h.update(index.to_le_bytes());
    let digest: [u8; 32] = h.finalize().into();
    ChaCha20Rng::from_seed(digest)
}

/// Fisher–Yates with our RNG (same algorithm as rand's `shuffle`, spelled out so the stream is
/// pinned by this crate, not by rand's implementation details).
fn shuffle<T>(v: &mut [T], rng: &mut ChaCha20Rng) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

fn write_u32s(path: &Path, ids: impl Iterator<Item = u32>) -> Result<()> {
    let mut buf = Vec::new();
    for id in ids {
        buf.extend_from_slice(&id.to_le_bytes());
    }
    let tmp = path.with_extension("tmp");
    write_atomic(&tmp, path, &buf)
}

fn read_u32s(path: &Path) -> Result<Vec<u32>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::with_capacity(bytes.len() / 4);
    tokens::decode_ids(&bytes, Dtype::U32, &mut out);
    Ok(out)
}

lmrepro_stage::tally! {
    /// Counts of one input file, kept in its stage-1 marker (the field names are that marker's
    /// format).
    #[derive(Serialize, Deserialize, Default)]
    struct FileStats {
        documents: u64,
        malformed: u64,
        tokens: u64,
        pad_tokens: u64,
        contexts: u64,
    }
}

/// Tokenizes `inputs` into a shuffled token directory `out` (see [`crate::tokens`]). Stage-1 work is
/// kept under `out/_state` with per-file markers, so an interrupted run resumes where it stopped;
/// the output is byte-identical to an uninterrupted run.
pub fn tokenize_shuffle(
    inputs: &[PathBuf],
    tokenizer: &Path,
    out: &Path,
    cfg: &TokenizeConfig,
) -> Result<TokenizeStats> {
    if cfg.seqlen == 0 || cfg.chunk_size == 0 || cfg.num_local_cells == 0 {
        bail!("seqlen, chunk_size and num_local_cells must be positive");
    }
    let files = expand_inputs(inputs)?;
    let tok = Tokenizer::from_file(tokenizer)?;
    let pad_id = cfg.pad_id.unwrap_or(tok.base_vocab() as u32 + 2);
    let vocab_size = tok.full_vocab() as u32;
    let id_bound = vocab_size.max(pad_id + 1).max(cfg.eot_id + 1);
    let dtype = Dtype::for_id_bound(id_bound as u64);
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let state = out.join("_state");
    let s1 = state.join("stage1");
    // Markers `stage1/_done/<file index>` hold each finished file's FileStats.
    let stage1 = ShardedStage::create(&s1)?;
    // The state is only valid for the same inputs and parameters.
    let fingerprint = serde_json::json!({
        "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "tokenizer": tok.sha256(), "config": cfg,
    });
    let fp_path = state.join("config.json");
    let fp_text = serde_json::to_string_pretty(&fingerprint)?;
    if let Ok(old) = std::fs::read_to_string(&fp_path) {
        if old != fp_text {
            bail!(
                "{} holds an interrupted run with other inputs or parameters; remove {} to start over",
                out.display(),
                state.display()
            );
        }
    } else {
        // Atomically: a torn fingerprint would read as "other inputs" and stop every resume.
        write_atomic(
            &state.join(".config.json.tmp"),
            &fp_path,
            fp_text.as_bytes(),
        )?;
    }

    // Stage 1: tokenize each file, cut contexts, scatter them to local cells.
    let pb = progress::bar(files.len() as u64, "tokenize");
    let cells = cfg.num_local_cells;
    let limit = cfg.stop_after_stage1_files.unwrap_or(usize::MAX);
    let file_stats: Vec<FileStats> = files
        .par_iter()
        .enumerate()
        .take(limit)
        .map(|(fi, file)| -> Result<FileStats> {
            let shard = format!("{fi:08}");
            if stage1.is_done(&shard) {
                pb.inc(1);
                return stage1.done_stats(&shard);
            }
            let (docs_in, malformed) = read_docs(file, cfg.on_malformed)?;
            let encoded: Vec<Vec<u32>> = docs_in
                .par_iter()
                .map(|(line, d)| {
                    tok.encode(text(d))
                        .with_context(|| format!("{}:{line}", file.display()))
                })
                .collect::<Result<_>>()?;
            let mut stream = Vec::with_capacity(encoded.iter().map(|e| e.len() + 1).sum());
            for e in &encoded {
                stream.extend_from_slice(e);
                stream.push(cfg.eot_id);
            }
            let (contexts, pads) =
                contexts_of_stream(&stream, cfg.seqlen, pad_id, cfg.drop_all_pad_context);
            let mut rng = rng_for(cfg.seed, 1, fi as u64);
            let mut per_cell: Vec<Vec<u32>> = vec![Vec::new(); cells];
            for ctx in &contexts {
                let c = (rng.next_u64() % cells as u64) as usize;
                per_cell[c].extend_from_slice(ctx);
            }
            for (c, ids) in per_cell.iter().enumerate() {
                if ids.is_empty() {
                    continue;
                }
                let dir = s1.join(format!("cell_{c:05}"));
                std::fs::create_dir_all(&dir)?;
                write_u32s(&dir.join(format!("{fi:08}.bin")), ids.iter().copied())?;
            }
            let st = FileStats {
                documents: docs_in.len() as u64,
                malformed,
                tokens: stream.len() as u64,
                pad_tokens: pads,
                contexts: contexts.len() as u64,
            };
            stage1.mark_done(&shard, &st)?;
            pb.inc(1);
            Ok(st)
        })
        .collect::<Result<_>>()?;
    pb.finish_and_clear();
    if file_stats.len() < files.len() {
        bail!(
            "stopped after {} of {} files (stop_after_stage1_files)",
            file_stats.len(),
            files.len()
        );
    }

    // Stage 2: shuffle cells, emit chunks, push leftovers to overflow cells; repeat.
    for entry in std::fs::read_dir(out)? {
        let p = entry?.path();
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if (name.starts_with("shard_") && name.ends_with(".bin")) || name == "manifest.jsonl" {
            std::fs::remove_file(&p)?;
        }
    }
    let seqlen = cfg.seqlen;
    let read_cell = |c: usize| -> Result<Vec<u32>> {
        let dir = s1.join(format!("cell_{c:05}"));
        let mut ids = Vec::new();
        if dir.is_dir() {
            let mut parts: Vec<PathBuf> = std::fs::read_dir(&dir)?
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<_>>()?;
            // Only finished parts: never a temporary file a killed stage 1 left behind.
            parts.retain(|p| p.extension().is_some_and(|e| e == "bin"));
            parts.sort();
            for p in parts {
                ids.extend(read_u32s(&p)?);
            }
        }
        Ok(ids)
    };
    let mut sources: Vec<Vec<u32>> = Vec::new();
    let mut manifest: Vec<ManifestEntry> = Vec::new();
    let mut num_overflows = cells / OVERFLOW_REDUCTION;
    let mut round = 0u64;
    let mut n_sources = cells;
    let batch = rayon::current_num_threads().max(1);
    loop {
        let mut overflow: Vec<Vec<u32>> = vec![Vec::new(); num_overflows];
        let mut start = 0;
        while start < n_sources {
            let end = (start + batch).min(n_sources);
            let results: Vec<Result<CellOutput>> = (start..end)
                .into_par_iter()
                .map(|c| {
                    let ids = if round == 0 {
                        read_cell(c)?
                    } else {
                        sources[c].clone()
                    };
                    let mut ctxs: Vec<&[u32]> = ids.chunks(seqlen).collect();
                    let mut rng = rng_for(cfg.seed, 2 + round, c as u64);
                    shuffle(&mut ctxs, &mut rng);
                    let mut chunks = Vec::new();
                    let mut leftovers: Vec<Vec<u32>> = vec![Vec::new(); num_overflows];
                    for chunk in ctxs.chunks(cfg.chunk_size) {
                        if chunk.len() != cfg.chunk_size && num_overflows > 0 {
                            for ctx in chunk {
                                let o = (rng.next_u64() % num_overflows as u64) as usize;
                                leftovers[o].extend_from_slice(ctx);
                            }
                        } else {
                            chunks.push(chunk.concat());
                        }
                    }
                    Ok((chunks, leftovers))
                })
                .collect();
            for r in results {
                let (chunks, leftovers) = r?;
                for chunk in chunks {
                    let id = manifest.len();
                    let name = format!("shard_{id:08}");
                    let mut bytes = Vec::with_capacity(chunk.len() * dtype.width());
                    tokens::encode_ids(&chunk, dtype, &mut bytes);
                    let path = out.join(format!("{name}.bin"));
                    write_atomic(&out.join(format!(".{name}.tmp")), &path, &bytes)?;
                    manifest.push(ManifestEntry {
                        shard: name,
                        contexts: (chunk.len() / seqlen) as u64,
                        sha256: hex::encode(Sha256::digest(&bytes)),
                    });
                }
                for (o, ids) in leftovers.into_iter().enumerate() {
                    overflow[o].extend(ids);
                }
            }
            start = end;
        }
        if num_overflows == 0 {
            break;
        }
        sources = overflow;
        n_sources = sources.len();
        round += 1;
        num_overflows = if num_overflows == 1 {
            0
        } else {
            (num_overflows / OVERFLOW_REDUCTION).max(1)
        };
    }

    let fs: FileStats = lmrepro_stage::sum(&file_stats);
    let stats = TokenizeStats {
        files: files.len() as u64,
        documents: fs.documents,
        malformed_lines: fs.malformed,
        tokens: fs.tokens,
        pad_tokens: fs.pad_tokens,
        contexts: fs.contexts,
        shards: manifest.len() as u64,
    };
    let total_contexts: u64 = manifest.iter().map(|m| m.contexts).sum();
    if total_contexts != stats.contexts {
        bail!(
            "internal error: {total_contexts} contexts written, {} made",
            stats.contexts
        );
    }
    let mut mf = Vec::new();
    for m in &manifest {
        serde_json::to_writer(&mut mf, m)?;
        mf.push(b'\n');
    }
    write_atomic(&out.join(".manifest.tmp"), &out.join("manifest.jsonl"), &mf)?;
    let meta = TokenMeta {
        format: 1,
        dtype,
        seqlen,
        eot_id: cfg.eot_id,
        pad_id,
        vocab_size,
        total_contexts,
        total_tokens: total_contexts * seqlen as u64,
        pad_tokens: stats.pad_tokens,
        documents: stats.documents,
        tokenizer_sha256: tok.sha256().to_string(),
        seed: cfg.seed,
    };
    write_atomic(
        &out.join(".meta.json.tmp"),
        &out.join("meta.json"),
        (serde_json::to_string_pretty(&meta)? + "\n").as_bytes(),
    )?;
    write_atomic(
        &out.join(".stats.json.tmp"),
        &out.join("stats.json"),
        (serde_json::to_string_pretty(&stats)? + "\n").as_bytes(),
    )?;
    // Stage 1's markers go first: a run killed while the state is being removed then finds no
    // marker and redoes stage 1 (same bytes). Removed in one go, a kill could leave markers whose
    // cell files were already gone, and every resume failed "internal error: N contexts
    // written, M made" (found by the kill -9 harness, `lmrepro-cli tests/kill_anywhere.rs`).
    let markers = s1.join("_done");
    if markers.exists() {
        std::fs::remove_dir_all(&markers)
            .with_context(|| format!("removing {}", markers.display()))?;
    }
    std::fs::remove_dir_all(&state).with_context(|| format!("removing {}", state.display()))?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_pad_like_tokshuf() {
        let (c, pads) = contexts_of_stream(&[1, 2, 3, 4, 5], 2, 9, false);
        assert_eq!(c, vec![vec![1, 2], vec![3, 4], vec![5, 9]]);
        assert_eq!(pads, 1);
        // Exact multiple: tokshuf's padding loop emits one all-PAD context.
        let (c, pads) = contexts_of_stream(&[1, 2, 3, 4], 2, 9, false);
        assert_eq!(c, vec![vec![1, 2], vec![3, 4], vec![9, 9]]);
        assert_eq!(pads, 2);
        let (c, pads) = contexts_of_stream(&[1, 2, 3, 4], 2, 9, true);
        assert_eq!(c.len(), 2);
        assert_eq!(pads, 0);
        let (c, _) = contexts_of_stream(&[], 3, 9, false);
        assert_eq!(c, vec![vec![9, 9, 9]]);
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut a: Vec<u32> = (0..100).collect();
        let mut b = a.clone();
        shuffle(&mut a, &mut rng_for(7, 2, 0));
        shuffle(&mut b, &mut rng_for(7, 2, 0));
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(a, (0..100).collect::<Vec<_>>());
    }
}
