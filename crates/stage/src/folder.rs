//! Resumable stage folders, one convention for every stage:
//!
//! - a whole folder is built under `<dir>.partial` and renamed to `<dir>` after its completion
//!   marker `_DONE.json` (the stage's summary) is written ([`build_folder`], [`read_done`]);
//! - a sharded stage writes each shard's output under a temporary name, renames it, and then
//!   writes the shard's marker `_done/<shard>` holding that shard's stats ([`ShardedStage`]).
//!
//! A folder without `_DONE.json`, or a shard without its marker, is unfinished: it is never read
//! and is redone by the next run.
//!
//! Both hold an exclusive lock while they write ([`crate::lock`]): a sharded stage on
//! `<dir>/.lock` for as long as the [`ShardedStage`] lives, a whole folder on the hidden sibling
//! `.<name>.lock` while it is built. A second process on the same folder waits, then reuses what
//! the first finished, so two concurrent runs write what one run writes.

use crate::jsonl::{to_jsonl, write_atomic};
use crate::lock::{lock_file, FolderLock};
use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The completion marker of a whole stage folder.
pub const DONE_FILE: &str = "_DONE.json";

/// The summary in `dir/_DONE.json`, if the folder is finished and the summary parses as `T`
/// (`None` for an unfinished folder or a summary written by an incompatible build).
pub fn read_done<T: DeserializeOwned>(dir: &Path) -> Result<Option<T>> {
    let done = dir.join(DONE_FILE);
    if !done.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&done).with_context(|| format!("reading {}", done.display()))?;
    Ok(serde_json::from_str(&text).ok())
}

fn partial_of(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dir.with_file_name(name)
}

/// The lock of a whole folder: the hidden sibling `.<name>.lock` (beside, not inside, because the
/// folder itself is replaced).
fn lock_folder(dir: &Path) -> Result<FolderLock> {
    let mut name = std::ffi::OsString::from(".");
    name.push(dir.file_name().unwrap_or_default());
    name.push(".lock");
    let lock = dir.with_file_name(name);
    if let Some(parent) = lock.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    lock_file(&lock)
}

/// Builds `dir` from scratch: `build` fills `<dir>.partial` (a leftover from an interrupted run is
/// deleted first), then its summary goes to `_DONE.json` and the folder is renamed to `dir`,
/// replacing an older one. The folder's lock is held throughout, so a concurrent build of the same
/// folder waits instead of deleting this one's `.partial` under it.
pub fn build_folder<T: Serialize>(dir: &Path, build: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let _lock = lock_folder(dir)?;
    let partial = partial_of(dir);
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("removing {}", partial.display()))?;
    }
    std::fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let summary = build(&partial)?;
    write_atomic(
        &partial.join(".DONE.json.tmp"),
        &partial.join(DONE_FILE),
        (serde_json::to_string_pretty(&summary)? + "\n").as_bytes(),
    )?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("replacing {}", dir.display()))?;
    }
    crate::jsonl::publish(&partial, dir).with_context(|| format!("finishing {}", dir.display()))?;
    Ok(summary)
}

/// `dir`'s summary if it is finished (`cached = true`), else [`build_folder`]. The check is made
/// under the folder's lock, so of two processes asking for the same folder one builds it and the
/// other waits and reads the result, instead of building it again and replacing it while the
/// first may already be reading it.
pub fn build_folder_once<T: Serialize + DeserializeOwned>(
    dir: &Path,
    build: impl FnOnce(&Path) -> Result<T>,
) -> Result<(T, bool)> {
    let _lock = lock_folder(dir)?;
    if let Some(summary) = read_done(dir)? {
        return Ok((summary, true));
    }
    Ok((build_folder(dir, build)?, false))
}

/// What [`ShardedStage::claim`] found: the shard finished already (its recorded stats), or it is
/// this worker's to write while it holds the lock.
#[derive(Debug)]
pub enum Claim<T> {
    Done(T),
    Mine(FolderLock),
}

/// A stage folder with per-shard outputs and completion markers (`_done/<shard>`), so an
/// interrupted run redoes only the shards it had not finished.
#[derive(Debug, Clone)]
pub struct ShardedStage {
    pub dir: PathBuf,
    /// `<dir>/.lock`, held while this stage (or a clone) lives; `None` for a folder shared by
    /// concurrent shard workers ([`ShardedStage::shared`]).
    _lock: Option<FolderLock>,
}

impl ShardedStage {
    /// Creates `dir` and takes its lock, waiting while another process holds it.
    pub fn create(dir: &Path) -> Result<ShardedStage> {
        std::fs::create_dir_all(dir.join("_done"))
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(ShardedStage {
            dir: dir.to_path_buf(),
            _lock: Some(lock_file(&dir.join(".lock"))?),
        })
    }

    /// `dir` for workers that write different shards of it at the same time (a distributed
    /// engine's tasks, each its own process): no folder-wide lock, which would serialise them;
    /// each shard is written under its own [`ShardedStage::lock_shard`] instead. Creates nothing.
    pub fn shared(dir: &Path) -> ShardedStage {
        ShardedStage {
            dir: dir.to_path_buf(),
            _lock: None,
        }
    }

    /// Takes `shard`'s own lock (`<dir>/_done/.<shard>.lock`, creating the folders), so two
    /// workers given the same shard never write its temporary file at once: the second waits,
    /// then finds the shard done.
    pub fn lock_shard(&self, shard: &str) -> Result<FolderLock> {
        let done = self.dir.join("_done");
        std::fs::create_dir_all(&done).with_context(|| format!("creating {}", done.display()))?;
        lock_file(&done.join(format!(".{shard}.lock")))
    }

    /// The double-checked claim every shard worker makes before it writes: `Done(stats)` when
    /// `done()` already holds (the stats recorded in the marker), else `shard`'s lock, after
    /// which `done()` is asked again — a retried task whose first attempt still runs waits for
    /// the lock, then finds the shard done instead of writing it a second time. `done` is the
    /// caller's own test (the marker, plus whatever output the stage must also find).
    pub fn claim<T: DeserializeOwned>(
        &self,
        shard: &str,
        done: impl Fn() -> bool,
    ) -> Result<Claim<T>> {
        if done() {
            return Ok(Claim::Done(self.done_stats(shard)?));
        }
        let lock = self.lock_shard(shard)?;
        if done() {
            return Ok(Claim::Done(self.done_stats(shard)?));
        }
        Ok(Claim::Mine(lock))
    }

    /// Where `shard`'s documents go: `<dir>/<shard>.jsonl.zst`.
    pub fn shard_path(&self, shard: &str) -> PathBuf {
        self.output_path(shard, ".jsonl.zst")
    }

    /// `<dir>/<shard><suffix>`, for stages whose shards are not document files.
    pub fn output_path(&self, shard: &str, suffix: &str) -> PathBuf {
        self.dir.join(format!("{shard}{suffix}"))
    }

    /// The temporary name a shard's output is written under before the rename: hidden, so input
    /// expansion never picks it up.
    pub fn temp_path(&self, shard: &str, suffix: &str) -> PathBuf {
        self.dir.join(format!(".{shard}{suffix}.tmp"))
    }

    fn marker(&self, shard: &str) -> PathBuf {
        self.dir.join("_done").join(shard)
    }

    /// Whether `shard` was completed by an earlier run.
    pub fn is_done(&self, shard: &str) -> bool {
        self.marker(shard).is_file()
    }

    /// The stats recorded in `shard`'s marker.
    pub fn done_stats<T: DeserializeOwned>(&self, shard: &str) -> Result<T> {
        let path = self.marker(shard);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Writes `shard`'s documents (zstd level 3, single-threaded so the bytes are deterministic)
    /// under a temporary name, renames, then writes the marker with `stats`.
    pub fn write_shard<D: Serialize, S: Serialize>(
        &self,
        shard: &str,
        docs: &[D],
        stats: &S,
    ) -> Result<()> {
        let compressed = zstd::bulk::compress(&to_jsonl(docs), 3).context("zstd compression")?;
        write_atomic(
            &self.temp_path(shard, ".jsonl.zst"),
            &self.shard_path(shard),
            &compressed,
        )?;
        self.mark_done(shard, stats)
    }

    /// Writes `shard`'s completion marker; call it only once the shard's output is in place.
    pub fn mark_done<S: Serialize>(&self, shard: &str, stats: &S) -> Result<()> {
        write_atomic(
            &self.dir.join("_done").join(format!(".{shard}.tmp")),
            &self.marker(shard),
            (serde_json::to_string_pretty(stats)? + "\n").as_bytes(),
        )
    }

    /// Removes `shard`'s marker (the shard will be redone).
    pub fn clear(&self, shard: &str) -> Result<()> {
        let marker = self.marker(shard);
        if marker.exists() {
            std::fs::remove_file(&marker)
                .with_context(|| format!("removing {}", marker.display()))?;
        }
        Ok(())
    }

    /// Writes `<dir>/stats.json` (the run's totals).
    pub fn write_stats<S: Serialize>(&self, stats: &S) -> Result<()> {
        write_atomic(
            &self.dir.join(".stats.json.tmp"),
            &self.dir.join("stats.json"),
            (serde_json::to_string_pretty(stats)? + "\n").as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn folder_is_invisible_until_done_and_an_interrupted_build_is_redone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("stage-abc");
        let err = build_folder::<u32>(&dir, |p| {
            std::fs::write(p.join("half"), "x")?;
            anyhow::bail!("killed")
        });
        assert!(err.is_err());
        assert!(!dir.exists());
        assert_eq!(read_done::<u32>(&dir).unwrap(), None);
        let n = build_folder(&dir, |p| {
            assert!(!p.join("half").exists(), "leftover of the interrupted run");
            std::fs::write(p.join("out"), "y")?;
            Ok(7u32)
        })
        .unwrap();
        assert_eq!(n, 7);
        assert_eq!(read_done::<u32>(&dir).unwrap(), Some(7));
        assert_eq!(
            read_done::<String>(&dir).unwrap(),
            None,
            "incompatible summary"
        );
        assert!(!tmp.path().join("stage-abc.partial").exists());
    }

    #[test]
    fn a_shared_stage_locks_shards_not_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let stage = ShardedStage::shared(&tmp.path().join("work"));
        assert!(!stage.dir.exists(), "shared() creates nothing");
        let _a = stage.lock_shard("a").unwrap();
        let _b = stage.lock_shard("b").unwrap();
        assert!(stage.dir.join("_done/.a.lock").is_file());
        assert!(!stage.dir.join(".lock").exists(), "no folder-wide lock");
        stage.mark_done("a", &json!({"docs": 0})).unwrap();
        assert!(stage.is_done("a"));
        assert!(!stage.is_done("b"), "a lock is not a marker");
    }

    #[test]
    fn shards_are_done_only_after_their_marker() {
        let tmp = tempfile::tempdir().unwrap();
        let stage = ShardedStage::create(tmp.path()).unwrap();
        assert!(!stage.is_done("a"));
        stage
            .write_shard("a", &[json!({"text": "x"})], &json!({"docs": 1}))
            .unwrap();
        assert!(stage.is_done("a"));
        assert_eq!(stage.done_stats::<Value>("a").unwrap(), json!({"docs": 1}));
        let (docs, _) =
            crate::read_docs(&stage.shard_path("a"), crate::OnMalformed::Error).unwrap();
        assert_eq!(docs.len(), 1);
        stage.clear("a").unwrap();
        assert!(!stage.is_done("a"));
        // No temporary files are left behind.
        let hidden = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count();
        assert_eq!(hidden, 1, "only the stage's .lock");
    }
}
