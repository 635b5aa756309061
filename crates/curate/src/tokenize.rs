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
    expand_inputs, progress, read_docs, text, write_atomic, Claim, OnMalformed, ShardedStage,
};
use lmrepro_tokenizer::Tokenizer;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

fn write_u32s(tmp: &Path, path: &Path, ids: &[u32]) -> Result<()> {
    let mut buf = Vec::with_capacity(ids.len() * 4);
    for id in ids {
        buf.extend_from_slice(&id.to_le_bytes());
    }
    write_atomic(tmp, path, &buf)
}

/// Appends the `len` bytes at `offset` of `path` to `out` as little-endian `u32`s.
fn read_u32s_at(path: &Path, offset: u64, len: u64, out: &mut Vec<u32>) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    f.seek(SeekFrom::Start(offset))?;
    let mut bytes = vec![0u8; len as usize];
    f.read_exact(&mut bytes)
        .with_context(|| format!("reading {len} bytes at {offset} of {}", path.display()))?;
    tokens::decode_ids(&bytes, Dtype::U32, out);
    Ok(())
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
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
    pub struct FileStats {
        pub documents: u64,
        pub malformed: u64,
        pub tokens: u64,
        pub pad_tokens: u64,
        pub contexts: u64,
    }
}

/// What one stage-2 cell did, kept in its marker: the output shards it wrote (their manifest
/// lines, in order) and the contexts it read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CellStats {
    pub contexts_in: u64,
    pub chunks: Vec<ManifestEntry>,
    /// Contexts sent to each overflow cell of the next round, in the order they sit in this
    /// cell's leftover file (`_state/roundR+1/from_CCCCC.bin`).
    #[serde(default)]
    pub leftovers: Vec<u64>,
}

/// The rounds of stage 2 for `num_local_cells` cells: `(cells read, overflow cells written)` per
/// round; the last round writes no overflow (and emits partial chunks). 128 cells:
/// `[(128, 8), (8, 1), (1, 0)]`.
pub fn rounds(num_local_cells: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut sources, mut overflows) = (num_local_cells, num_local_cells / OVERFLOW_REDUCTION);
    loop {
        out.push((sources, overflows));
        if overflows == 0 {
            return out;
        }
        sources = overflows;
        overflows = if overflows == 1 {
            0
        } else {
            (overflows / OVERFLOW_REDUCTION).max(1)
        };
    }
}

/// One tokenize + shuffle run, split into shard steps that separate processes (a distributed
/// engine's tasks) can run, each writing only its own files:
///
/// 1. **per input file** ([`TokenizeJob::run_file`]): tokenize, cut into contexts, route each
///    context to a cell with the file's own stage-1 RNG `(seed, 1, file)` → one fragment per
///    cell, `_state/stage1/cell_CCCCC/FFFFFFFF.bin`, then the file's marker;
/// 2. **per cell of each round** ([`TokenizeJob::run_cell`], round `r` needs every shard of the
///    step before done): read the cell's fragments in index order (the order the one-process
///    merge appended them), shuffle with `(seed, 2 + r, cell)`, write the full chunks as
///    `shard_NNNNNNNN.bin` and route the leftovers to the next round's overflow cells (one file
///    per cell, `_state/roundR+1/from_CCCCC.bin`, overflow cell after overflow cell), then the
///    cell's marker with its manifest lines and how many contexts each overflow cell got; an
///    overflow cell reads its part of every such file in cell order. A cell's first shard
///    number is the number of chunks the cells before it emit, which is known before they run:
///    a cell of `n` contexts emits `n / chunk_size` full chunks (every chunk, the last one
///    partial, in the last round), and `n` is the size of its fragments (round 0) or the sum of
///    the counts recorded for it (later rounds);
/// 3. **finish** ([`TokenizeJob::finish`]): the manifest from the cells' markers in (round,
///    cell) order, `meta.json`, `stats.json`, and `_state/` removed.
///
/// Every RNG and every merge order is that of the one-process run, so the output is the same
/// bytes however the steps are scheduled (and [`tokenize_shuffle`] is these steps in one process).
pub struct TokenizeJob {
    pub out: PathBuf,
    pub files: Vec<PathBuf>,
    pub cfg: TokenizeConfig,
    tok: Arc<Tokenizer>,
    pad_id: u32,
    vocab_size: u32,
    dtype: Dtype,
    rounds: Vec<(usize, usize)>,
}

impl TokenizeJob {
    /// The job over `inputs` (files or folders) into the token directory `out`; creates nothing.
    pub fn new(
        inputs: &[PathBuf],
        tokenizer: &Path,
        out: &Path,
        cfg: &TokenizeConfig,
    ) -> Result<TokenizeJob> {
        TokenizeJob::with_tokenizer(inputs, Arc::new(Tokenizer::from_file(tokenizer)?), out, cfg)
    }

    /// [`TokenizeJob::new`] with a loaded tokenizer (shared by the jobs of several document sets).
    pub fn with_tokenizer(
        inputs: &[PathBuf],
        tok: Arc<Tokenizer>,
        out: &Path,
        cfg: &TokenizeConfig,
    ) -> Result<TokenizeJob> {
        if cfg.seqlen == 0 || cfg.chunk_size == 0 || cfg.num_local_cells == 0 {
            bail!("seqlen, chunk_size and num_local_cells must be positive");
        }
        let files = expand_inputs(inputs)?;
        let pad_id = cfg.pad_id.unwrap_or(tok.base_vocab() as u32 + 2);
        let vocab_size = tok.full_vocab() as u32;
        let id_bound = vocab_size.max(pad_id + 1).max(cfg.eot_id + 1);
        Ok(TokenizeJob {
            out: out.to_path_buf(),
            files,
            cfg: cfg.clone(),
            tok,
            pad_id,
            vocab_size,
            dtype: Dtype::for_id_bound(id_bound as u64),
            rounds: rounds(cfg.num_local_cells),
        })
    }

    fn state(&self) -> PathBuf {
        self.out.join("_state")
    }

    /// Stage 1's markers (`_state/stage1/_done/<file index>`) and cell fragments.
    fn stage1(&self) -> ShardedStage {
        ShardedStage::shared(&self.state().join("stage1"))
    }

    /// Round `r`'s markers (`_state/roundR/_done/cCCCCC`); from round 1 on also the leftover
    /// files of the round before (`from_CCCCC.bin`).
    fn round(&self, r: usize) -> ShardedStage {
        ShardedStage::shared(&self.state().join(format!("round{r}")))
    }

    /// The folder of cell `c`'s stage-1 fragments (round 0's input).
    fn cell_dir(&self, c: usize) -> PathBuf {
        self.stage1().dir.join(format!("cell_{c:05}"))
    }

    /// The file holding the leftovers cell `c` of round `r - 1` sent to round `r`.
    fn leftover_file(&self, r: usize, c: usize) -> PathBuf {
        self.round(r).dir.join(format!("from_{c:05}.bin"))
    }

    /// `(cells read, overflow cells written)` per round ([`rounds`]).
    pub fn rounds(&self) -> &[(usize, usize)] {
        &self.rounds
    }

    /// The stage-1 shard names: each input file's index, `FFFFFFFF`.
    pub fn file_shards(&self) -> Vec<String> {
        (0..self.files.len()).map(|i| format!("{i:08}")).collect()
    }

    pub fn file_done(&self, fi: usize) -> bool {
        self.stage1().is_done(&format!("{fi:08}"))
    }

    pub fn cell_done(&self, r: usize, c: usize) -> bool {
        self.round(r).is_done(&format!("c{c:05}"))
    }

    /// Whether every shard of round `r` (`None`: stage 1) is done; else the first one missing.
    fn first_missing(&self, r: Option<usize>) -> Option<String> {
        match r {
            None => (0..self.files.len())
                .find(|&fi| !self.file_done(fi))
                .map(|fi| format!("file {fi:08} ({})", self.files[fi].display())),
            Some(r) => (0..self.rounds[r].0)
                .find(|&c| !self.cell_done(r, c))
                .map(|c| format!("round {r} cell {c:05}")),
        }
    }

    /// Creates `out/_state` and checks that it belongs to the same inputs and parameters.
    fn prepare(&self) -> Result<()> {
        let state = self.state();
        std::fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
        let fingerprint = serde_json::json!({
            "files": self.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "tokenizer": self.tok.sha256(), "config": self.cfg,
        });
        let fp_path = state.join("config.json");
        let fp_text = serde_json::to_string_pretty(&fingerprint)?;
        match std::fs::read_to_string(&fp_path) {
            Ok(old) if old != fp_text => bail!(
                "{} holds an interrupted run with other inputs or parameters; remove {} to start over",
                self.out.display(),
                state.display()
            ),
            Ok(_) => Ok(()),
            // Concurrent tasks and threads may all write it (same text): each under its own
            // temporary name.
            Err(_) => write_atomic(
                &state.join(format!(
                    ".config.json.{}.{}.tmp",
                    std::process::id(),
                    TEMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                )),
                &fp_path,
                fp_text.as_bytes(),
            ),
        }
    }

    /// Stage 1 for input file `fi` (its recorded counts when it is done already): tokenize, cut
    /// into contexts, scatter them to the cells, then the file's marker.
    pub fn run_file(&self, fi: usize) -> Result<FileStats> {
        let Some(file) = self.files.get(fi) else {
            bail!(
                "no input file {fi} to tokenize ({} files under {})",
                self.files.len(),
                self.out.display()
            );
        };
        self.prepare()?;
        let stage1 = self.stage1();
        let shard = format!("{fi:08}");
        let _lock = match stage1.claim(&shard, || stage1.is_done(&shard))? {
            Claim::Done(st) => return Ok(st),
            Claim::Mine(lock) => lock,
        };
        let cfg = &self.cfg;
        let (docs_in, malformed) = read_docs(file, cfg.on_malformed)?;
        let encoded: Vec<Vec<u32>> = docs_in
            .par_iter()
            .map(|(line, d)| {
                self.tok
                    .encode(text(d))
                    .with_context(|| format!("{}:{line}", file.display()))
            })
            .collect::<Result<_>>()?;
        let mut stream = Vec::with_capacity(encoded.iter().map(|e| e.len() + 1).sum());
        for e in &encoded {
            stream.extend_from_slice(e);
            stream.push(cfg.eot_id);
        }
        let (contexts, pads) =
            contexts_of_stream(&stream, cfg.seqlen, self.pad_id, cfg.drop_all_pad_context);
        let mut rng = rng_for(cfg.seed, 1, fi as u64);
        let mut per_cell: Vec<Vec<u32>> = vec![Vec::new(); cfg.num_local_cells];
        for ctx in &contexts {
            let c = (rng.next_u64() % cfg.num_local_cells as u64) as usize;
            per_cell[c].extend_from_slice(ctx);
        }
        for (c, ids) in per_cell.iter().enumerate() {
            if !ids.is_empty() {
                write_fragment(&self.cell_dir(c), fi, ids)?;
            }
        }
        let st = FileStats {
            documents: docs_in.len() as u64,
            malformed,
            tokens: stream.len() as u64,
            pad_tokens: pads,
            contexts: contexts.len() as u64,
        };
        stage1.mark_done(&shard, &st)?;
        Ok(st)
    }

    /// Contexts in cell `c`'s input of round `r` (all written: the step before is done): the size
    /// of its stage-1 fragments in round 0, the leftovers recorded for it by the cells of the
    /// round before otherwise.
    fn cell_contexts(&self, r: usize, c: usize) -> Result<u64> {
        if r > 0 {
            return Ok(self.leftovers_for(r, c)?.iter().map(|(_, _, n)| n).sum());
        }
        let bytes: u64 = fragments(&self.cell_dir(c))?
            .iter()
            .map(|p| Ok(std::fs::metadata(p)?.len()))
            .sum::<Result<u64>>()?;
        let per_context = (self.cfg.seqlen * 4) as u64;
        if !bytes.is_multiple_of(per_context) {
            bail!(
                "{}: {bytes} bytes of fragments, not whole contexts of {} tokens",
                self.cell_dir(c).display(),
                self.cfg.seqlen
            );
        }
        Ok(bytes / per_context)
    }

    /// Where cell `o` of round `r` (r >= 1) finds its input: per cell of the round before, in
    /// cell order, `(leftover file, first context in it, contexts)`.
    fn leftovers_for(&self, r: usize, o: usize) -> Result<Vec<(PathBuf, u64, u64)>> {
        let before = self.round(r - 1);
        let mut out = Vec::new();
        for c in 0..self.rounds[r - 1].0 {
            let st: CellStats = before.done_stats(&format!("c{c:05}"))?;
            if st.leftovers.len() != self.rounds[r - 1].1 {
                bail!(
                    "{}: round {} cell {c:05} recorded {} overflow cells, expected {}",
                    self.out.display(),
                    r - 1,
                    st.leftovers.len(),
                    self.rounds[r - 1].1
                );
            }
            let first: u64 = st.leftovers[..o].iter().sum();
            if st.leftovers[o] > 0 {
                out.push((self.leftover_file(r, c), first, st.leftovers[o]));
            }
        }
        Ok(out)
    }

    /// The chunks a cell of `n` contexts emits in round `r`.
    fn chunks_emitted(&self, r: usize, n: u64) -> u64 {
        let size = self.cfg.chunk_size as u64;
        if self.rounds[r].1 > 0 {
            n / size
        } else {
            n.div_ceil(size)
        }
    }

    /// The number of the first shard cell `c` of round `r` writes: the chunks of every earlier
    /// round (from their markers) and of the cells before `c` in this round (from their inputs).
    fn first_shard(&self, r: usize, c: usize) -> Result<u64> {
        let mut n = 0u64;
        for earlier in 0..r {
            let round = self.round(earlier);
            for cell in 0..self.rounds[earlier].0 {
                n += round
                    .done_stats::<CellStats>(&format!("c{cell:05}"))?
                    .chunks
                    .len() as u64;
            }
        }
        for cell in 0..c {
            n += self.chunks_emitted(r, self.cell_contexts(r, cell)?);
        }
        Ok(n)
    }

    /// Stage 2 for cell `c` of round `r` (its recorded result when it is done already): needs
    /// every shard of the step before done; shuffles the cell, writes its full chunks (all of
    /// them in the last round) and its leftovers to the next round's cells, then its marker.
    pub fn run_cell(&self, r: usize, c: usize) -> Result<CellStats> {
        let Some(&(sources, num_overflows)) = self.rounds.get(r) else {
            bail!(
                "no round {r}: {} cells make {} rounds (0-{})",
                self.cfg.num_local_cells,
                self.rounds.len(),
                self.rounds.len() - 1
            );
        };
        if c >= sources {
            bail!("no cell {c} in round {r}: it has cells 0-{}", sources - 1);
        }
        let before = if r == 0 { None } else { Some(r - 1) };
        if let Some(missing) = self.first_missing(before) {
            bail!(
                "round {r} cell {c:05} of {} needs the step before finished: {missing} is not done",
                self.out.display()
            );
        }
        self.prepare()?;
        let round = self.round(r);
        let shard = format!("c{c:05}");
        let _lock = match round.claim(&shard, || round.is_done(&shard))? {
            Claim::Done(st) => return Ok(st),
            Claim::Mine(lock) => lock,
        };
        let first = self.first_shard(r, c)?;
        let seqlen = self.cfg.seqlen;
        let mut ids = Vec::new();
        if r == 0 {
            for p in fragments(&self.cell_dir(c))? {
                ids.extend(read_u32s(&p)?);
            }
        } else {
            for (path, at, n) in self.leftovers_for(r, c)? {
                let width = (seqlen * 4) as u64;
                read_u32s_at(&path, at * width, n * width, &mut ids)?;
            }
        }
        let mut ctxs: Vec<&[u32]> = ids.chunks(seqlen).collect();
        let mut rng = rng_for(self.cfg.seed, 2 + r as u64, c as u64);
        shuffle(&mut ctxs, &mut rng);
        let mut stats = CellStats {
            contexts_in: ctxs.len() as u64,
            chunks: Vec::new(),
            leftovers: Vec::new(),
        };
        let mut leftovers: Vec<Vec<u32>> = vec![Vec::new(); num_overflows];
        for chunk in ctxs.chunks(self.cfg.chunk_size) {
            if chunk.len() != self.cfg.chunk_size && num_overflows > 0 {
                for ctx in chunk {
                    let o = (rng.next_u64() % num_overflows as u64) as usize;
                    leftovers[o].extend_from_slice(ctx);
                }
                continue;
            }
            let name = format!("shard_{:08}", first + stats.chunks.len() as u64);
            let mut bytes = Vec::with_capacity(chunk.len() * seqlen * self.dtype.width());
            for ctx in chunk {
                tokens::encode_ids(ctx, self.dtype, &mut bytes);
            }
            let path = self.out.join(format!("{name}.bin"));
            write_atomic(&self.out.join(format!(".{name}.tmp")), &path, &bytes)?;
            stats.chunks.push(ManifestEntry {
                shard: name,
                contexts: chunk.len() as u64,
                sha256: hex::encode(Sha256::digest(&bytes)),
            });
        }
        // One file for all of this cell's leftovers (overflow cell after overflow cell; the
        // marker records how many contexts each got): one fsynced file per cell, not one per
        // (cell, overflow cell).
        stats.leftovers = leftovers
            .iter()
            .map(|ids| (ids.len() / seqlen) as u64)
            .collect();
        if leftovers.iter().any(|ids| !ids.is_empty()) {
            let next = self.round(r + 1).dir;
            std::fs::create_dir_all(&next)
                .with_context(|| format!("creating {}", next.display()))?;
            write_u32s(
                &next.join(format!(".from_{c:05}.bin.tmp")),
                &self.leftover_file(r + 1, c),
                &leftovers.concat(),
            )?;
        }
        round.mark_done(&shard, &stats)?;
        Ok(stats)
    }

    /// The last step (every cell of every round done): `manifest.jsonl`, `meta.json`,
    /// `stats.json`; removes `_state/` and any temporary file a killed task left.
    pub fn finish(&self) -> Result<TokenizeStats> {
        if let Some(missing) = (0..self.rounds.len())
            .map(Some)
            .chain([None])
            .find_map(|r| self.first_missing(r))
        {
            bail!(
                "cannot finish {}: {missing} is not done",
                self.out.display()
            );
        }
        let stage1 = self.stage1();
        let file_stats: Vec<FileStats> = self
            .file_shards()
            .iter()
            .map(|s| stage1.done_stats(s))
            .collect::<Result<_>>()?;
        let mut manifest: Vec<ManifestEntry> = Vec::new();
        for (r, &(sources, _)) in self.rounds.iter().enumerate() {
            let round = self.round(r);
            for c in 0..sources {
                let st: CellStats = round.done_stats(&format!("c{c:05}"))?;
                for m in st.chunks {
                    let want = format!("shard_{:08}", manifest.len());
                    if m.shard != want || !self.out.join(format!("{want}.bin")).is_file() {
                        bail!(
                            "{}: round {r} cell {c:05} recorded shard {} where {want}.bin belongs",
                            self.out.display(),
                            m.shard
                        );
                    }
                    manifest.push(m);
                }
            }
        }
        let fs: FileStats = lmrepro_stage::sum(&file_stats);
        let seqlen = self.cfg.seqlen;
        let stats = TokenizeStats {
            files: self.files.len() as u64,
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
        let out = &self.out;
        let mut mf = Vec::new();
        for m in &manifest {
            serde_json::to_writer(&mut mf, m)?;
            mf.push(b'\n');
        }
        write_atomic(&out.join(".manifest.tmp"), &out.join("manifest.jsonl"), &mf)?;
        let meta = TokenMeta {
            format: 1,
            dtype: self.dtype,
            seqlen,
            eot_id: self.cfg.eot_id,
            pad_id: self.pad_id,
            vocab_size: self.vocab_size,
            total_contexts,
            total_tokens: total_contexts * seqlen as u64,
            pad_tokens: stats.pad_tokens,
            documents: stats.documents,
            tokenizer_sha256: self.tok.sha256().to_string(),
            seed: self.cfg.seed,
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
        // Every marker goes before any data: a run killed while the state is being removed then
        // finds only markers whose fragments and leftovers still exist, and redoes the steps whose
        // markers are gone (same bytes). Removed in one go, a kill could leave markers whose files
        // were already gone, and every resume failed "internal error: N contexts written, M made"
        // (found by the kill -9 harness, `lmrepro-cli tests/kill_anywhere.rs`).
        let state = self.state();
        let mut marker_dirs = vec![self.stage1().dir.join("_done")];
        marker_dirs.extend((0..self.rounds.len()).map(|r| self.round(r).dir.join("_done")));
        for markers in marker_dirs.iter().filter(|d| d.exists()) {
            std::fs::remove_dir_all(markers)
                .with_context(|| format!("removing {}", markers.display()))?;
        }
        std::fs::remove_dir_all(&state).with_context(|| format!("removing {}", state.display()))?;
        for e in std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))? {
            let p = e?.path();
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                && p.is_file()
            {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
        Ok(stats)
    }

    /// Every step still missing, in one process (stage 1 over the files in parallel, then each
    /// round's cells in parallel), then [`TokenizeJob::finish`].
    pub fn run_all(&self) -> Result<TokenizeStats> {
        let pb = progress::bar(self.files.len() as u64, "tokenize");
        let limit = self.cfg.stop_after_stage1_files.unwrap_or(usize::MAX);
        let done: Vec<FileStats> = (0..self.files.len())
            .into_par_iter()
            .take(limit)
            .map(|fi| {
                let st = self.run_file(fi);
                pb.inc(1);
                st
            })
            .collect::<Result<_>>()?;
        pb.finish_and_clear();
        if done.len() < self.files.len() {
            bail!(
                "stopped after {} of {} files (stop_after_stage1_files)",
                done.len(),
                self.files.len()
            );
        }
        for (r, &(sources, _)) in self.rounds.iter().enumerate() {
            (0..sources)
                .into_par_iter()
                .map(|c| self.run_cell(r, c).map(drop))
                .collect::<Result<()>>()?;
        }
        self.finish()
    }
}

/// Numbers this process's temporary fingerprint files.
static TEMP_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The `*.bin` fragments of a cell folder, in name (= index) order; none when it does not exist.
fn fragments(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut parts = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let p = e?.path();
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        if !name.starts_with('.') && name.ends_with(".bin") {
            parts.push(p);
        }
    }
    parts.sort();
    Ok(parts)
}

/// Writes `ids` as the fragment `<dir>/<index>.bin` (hidden temporary name, renamed).
fn write_fragment(dir: &Path, index: usize, ids: &[u32]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_u32s(
        &dir.join(format!(".{index:08}.bin.tmp")),
        &dir.join(format!("{index:08}.bin")),
        ids,
    )
}

/// Tokenizes `inputs` into a shuffled token directory `out` (see [`crate::tokens`]): the steps of
/// [`TokenizeJob`] in one process. Their state is kept under `out/_state` with per-file and
/// per-cell markers, so an interrupted run resumes where it stopped; the output is byte-identical
/// to an uninterrupted run.
pub fn tokenize_shuffle(
    inputs: &[PathBuf],
    tokenizer: &Path,
    out: &Path,
    cfg: &TokenizeConfig,
) -> Result<TokenizeStats> {
    TokenizeJob::new(inputs, tokenizer, out, cfg)?.run_all()
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
