//! Exclusive locks on stage folders, so two `lmrepro` processes started on the same output folder
//! or stage cache never interleave their writes (issue 19, item 4).
//!
//! A lock is an advisory `flock` (std's [`File::lock`]) on a small lock file that is never
//! deleted (deleting a lock file lets a third process lock a new inode while the second still
//! holds the old one). The kernel drops the lock when its holder exits, `kill -9` included, so a
//! crashed run never leaves a stale lock behind. A process that finds the lock held says so on
//! stderr and waits: the second run then finds the first one's finished shards or folder and reuses
//! them, which makes two concurrent runs produce exactly what one run produces.
//!
//! Locks are per process and re-entrant: a process that already holds a folder's lock (say a stage
//! opened twice, or `build_folder` inside a cache lookup) shares it instead of deadlocking on its
//! own `flock`. Threads of one process are not excluded from each other; a process runs one
//! stage per folder at a time.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// A held lock; released when the last clone is dropped (or the process exits).
#[derive(Debug, Clone)]
pub struct FolderLock {
    _file: Arc<File>,
}

fn held() -> &'static Mutex<HashMap<PathBuf, Weak<File>>> {
    static HELD: OnceLock<Mutex<HashMap<PathBuf, Weak<File>>>> = OnceLock::new();
    HELD.get_or_init(Default::default)
}

/// Takes the exclusive lock on `path` (created if missing), waiting for another process that
/// holds it. The wait is announced on stderr, naming the lock file.
pub fn lock_file(path: &Path) -> Result<FolderLock> {
    let mut map = held().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(file) = map.get(path).and_then(Weak::upgrade) {
        return Ok(FolderLock { _file: file });
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            // Wait without holding the registry, so this process's other threads can still take
            // unrelated locks meanwhile.
            drop(map);
            eprintln!(
                "waiting for another lmrepro process working in the same folder (lock {})",
                path.display()
            );
            file.lock()
                .with_context(|| format!("locking {}", path.display()))?;
            map = held().lock().unwrap_or_else(|e| e.into_inner());
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    let file = Arc::new(file);
    map.retain(|_, w| w.strong_count() > 0);
    map.insert(path.to_path_buf(), Arc::downgrade(&file));
    Ok(FolderLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_shares_its_own_lock_and_releases_it_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(".lock");
        let a = lock_file(&path).unwrap();
        // Re-entrant: a second lock in the same process does not deadlock.
        let b = lock_file(&path).unwrap();
        drop(a);
        drop(b);
        // Released: another open file description can take it without waiting.
        let other = File::open(&path).unwrap();
        other.try_lock().unwrap();
    }

    #[test]
    fn a_held_lock_excludes_other_file_descriptions() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(".lock");
        let _held = lock_file(&path).unwrap();
        // flock conflicts between open file descriptions, the same as between processes.
        let other = File::open(&path).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
    }
}
