//! Stage cache: each stage's output lives in `<root>/<stage>-<key>/`, where the key hashes the
//! stage's configuration, its upstream keys and the sha256 of its inputs (the material, also
//! written to the stage's `_KEY.json`). The folder is built with [`lmrepro_stage::build_folder_once`]:
//! under `.partial` until its summary is in `_DONE.json`, then renamed; a `.partial` folder is
//! never read and the next run redoes it. So rerunning after changing only the training seed
//! reuses every data stage, and a crash never leaves a half-written stage that looks finished.

use anyhow::{Context, Result};
use lmrepro_stage::build_folder_once;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Bump when a stage's semantics change in a way its key does not capture.
pub const STAGE_FORMAT: u32 = 1;

/// A stage's key material, beside its output (what the key covers, for a reader).
pub const KEY_FILE: &str = "_KEY.json";

/// Where stages are kept: `$LMREPRO_STAGE_CACHE`, else `<workspace>/target/lmrepro-stages`.
pub fn default_root() -> PathBuf {
    match std::env::var_os("LMREPRO_STAGE_CACHE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => lmrepro_data::workspace_root()
            .join("target")
            .join("lmrepro-stages"),
    }
}

/// One stage run (or cache hit), for the runtime table.
#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    pub stage: String,
    pub key: String,
    pub seconds: f64,
    pub cached: bool,
}

pub struct StageCache {
    pub root: PathBuf,
    pub timings: Vec<StageTiming>,
    /// Print one line per stage on stderr.
    pub verbose: bool,
}

/// A finished stage: its directory and key.
#[derive(Debug, Clone)]
pub struct Stage {
    pub dir: PathBuf,
    pub key: String,
}

/// 16 hex digits of sha256 over the canonical JSON of `material`.
pub fn key_of(material: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(STAGE_FORMAT.to_le_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(serde_json::to_vec(material).expect("JSON values serialise"));
    hex::encode(&h.finalize()[..8])
}

impl StageCache {
    pub fn new(root: PathBuf) -> StageCache {
        StageCache {
            root,
            timings: Vec::new(),
            verbose: true,
        }
    }

    /// Runs `build` into a fresh directory unless a finished stage with the same key exists;
    /// returns the stage and the summary `build` returned (read back from `_DONE.json` on a hit).
    pub fn run<T: Serialize + DeserializeOwned>(
        &mut self,
        name: &str,
        material: &serde_json::Value,
        build: impl FnOnce(&Path) -> Result<T>,
    ) -> Result<(Stage, T)> {
        let key = key_of(material);
        let dir = self.stage_dir(name, &key);
        let started = Instant::now();
        // A summary this build cannot read is stale: it reads as `None` and the stage is redone.
        // Looked up under the folder's lock: a second process asking for the same stage waits for
        // the first one's build and reuses it (issue 19, item 4).
        let (summary, cached) = build_folder_once(&dir, |partial| {
            std::fs::write(
                partial.join(KEY_FILE),
                serde_json::to_string_pretty(material)? + "\n",
            )?;
            build(partial).with_context(|| format!("stage `{name}`"))
        })?;
        self.record(name, &key, started, cached);
        Ok((Stage { dir, key }, summary))
    }

    /// Where stage `name` with `key` lives: `<root>/<name>-<key>` (also for callers that look a
    /// stage up without building it, e.g. a shard task).
    pub fn stage_dir(&self, name: &str, key: &str) -> PathBuf {
        self.root.join(format!("{name}-{key}"))
    }

    /// A cache on the same root with no timings yet (for a worker thread).
    pub fn clone_empty(&self) -> StageCache {
        StageCache {
            root: self.root.clone(),
            timings: Vec::new(),
            verbose: self.verbose,
        }
    }

    fn record(&mut self, name: &str, key: &str, started: Instant, cached: bool) {
        let seconds = started.elapsed().as_secs_f64();
        if self.verbose {
            eprintln!(
                "  {:<34} {:>8.1} s{}",
                name,
                seconds,
                if cached { "  (cached)" } else { "" }
            );
        }
        self.timings.push(StageTiming {
            stage: name.to_string(),
            key: key.to_string(),
            seconds,
            cached,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_run_is_a_cache_hit_and_key_changes_rerun() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = StageCache::new(tmp.path().to_path_buf());
        c.verbose = false;
        let m = serde_json::json!({"a": 1});
        let mut calls = 0;
        let (s1, v1): (Stage, u32) = c
            .run("s", &m, |d| {
                calls += 1;
                std::fs::write(d.join("x"), "1")?;
                Ok(7)
            })
            .unwrap();
        assert_eq!(v1, 7);
        assert!(s1.dir.join("x").is_file());
        let (_, v2): (Stage, u32) = c.run("s", &m, |_| panic!("must be cached")).unwrap();
        assert_eq!(v2, 7);
        let (s3, _): (Stage, u32) = c
            .run("s", &serde_json::json!({"a": 2}), |_| {
                calls += 1;
                Ok(8)
            })
            .unwrap();
        assert_ne!(s1.key, s3.key);
        assert_eq!(calls, 2);
        assert_eq!(c.timings.iter().filter(|t| t.cached).count(), 1);
    }

    #[test]
    fn failed_stage_leaves_no_finished_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = StageCache::new(tmp.path().to_path_buf());
        c.verbose = false;
        let m = serde_json::json!({"b": 1});
        let r: Result<(Stage, u32)> = c.run("s", &m, |_| anyhow::bail!("boom"));
        assert!(format!("{:#}", r.unwrap_err()).contains("boom"));
        let (_, v): (Stage, u32) = c.run("s", &m, |_| Ok(3)).unwrap();
        assert_eq!(v, 3);
    }
}
