//! The S3 client of [`Remote`] (feature `s3`).

use crate::parse_s3;
use anyhow::{bail, Context, Result};
use futures::TryStreamExt;
use lmrepro_stage::DONE_FILE;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::path::{Path, PathBuf};

/// An object-store location holding stage folders.
pub struct Remote {
    url: String,
    store: Box<dyn ObjectStore>,
    prefix: Vec<String>,
    rt: tokio::runtime::Runtime,
}

impl Remote {
    /// Connects to `s3://bucket/prefix` (no request is made yet).
    pub fn open(url: &str) -> Result<Remote> {
        let (bucket, prefix) = parse_s3(url)?;
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .build()
            .with_context(|| format!("{url}: configuring the S3 client"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the object-store runtime")?;
        Ok(Remote {
            url: url.trim_end_matches('/').to_string(),
            store: Box::new(store),
            prefix,
            rt,
        })
    }

    /// The object path of `rel` (a `/`-separated path) inside stage folder `name`.
    fn object(&self, name: &str, rel: &str) -> ObjectPath {
        let parts = self
            .prefix
            .iter()
            .map(String::as_str)
            .chain([name])
            .chain(rel.split('/').filter(|p| !p.is_empty()));
        ObjectPath::from_iter(parts)
    }

    /// Whether stage folder `name` is published completely (its marker is there).
    pub fn is_finished(&self, name: &str) -> Result<bool> {
        let marker = self.object(name, DONE_FILE);
        match self.rt.block_on(self.store.head(&marker)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e).with_context(|| format!("{}/{name}: reading its marker", self.url)),
        }
    }

    /// Marks stage folder `name` unfinished: deletes its marker only (what a writer about to
    /// replace it does first), so readers stop trusting it; its objects stay until the next put
    /// overwrites them — the state an upload cut off before its marker leaves.
    pub fn retract(&self, name: &str) -> Result<()> {
        let marker = self.object(name, DONE_FILE);
        self.rt
            .block_on(self.store.delete(&marker))
            .with_context(|| format!("{}/{name}: deleting its marker", self.url))
    }

    /// Uploads the finished local stage folder `local` as `name`: every file but hidden ones,
    /// in path order, the completion marker last. Returns the number of files.
    pub fn put_folder(&self, local: &Path, name: &str) -> Result<usize> {
        if !local.join(DONE_FILE).is_file() {
            bail!(
                "{}: not a finished stage folder (no {DONE_FILE}); only finished stages are published",
                local.display()
            );
        }
        let mut files = Vec::new();
        walk(local, local, &mut files)?;
        files.sort();
        files.retain(|rel| rel != DONE_FILE);
        files.push(DONE_FILE.to_string());
        for rel in &files {
            let path = local.join(rel);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            self.rt
                .block_on(
                    self.store
                        .put(&self.object(name, rel), PutPayload::from(bytes)),
                )
                .with_context(|| {
                    format!("uploading {} to {}/{name}/{rel}", path.display(), self.url)
                })?;
        }
        Ok(files.len())
    }

    /// Downloads the published stage folder `name` to `local` (through `<local>.partial`, then a
    /// rename); an error when it is not finished. Returns the number of files.
    pub fn get_folder(&self, name: &str, local: &Path) -> Result<usize> {
        if !self.is_finished(name)? {
            bail!(
                "{}/{name}: not a finished stage folder (no {DONE_FILE}; an upload interrupted, or never made)",
                self.url
            );
        }
        let root = self.object(name, "");
        let objects: Vec<object_store::ObjectMeta> = self
            .rt
            .block_on(self.store.list(Some(&root)).try_collect())
            .with_context(|| format!("listing {}/{name}", self.url))?;
        let partial = PathBuf::from(format!("{}.partial", local.display()));
        if partial.exists() {
            std::fs::remove_dir_all(&partial)
                .with_context(|| format!("removing {}", partial.display()))?;
        }
        for meta in &objects {
            let rel: Vec<String> = meta
                .location
                .prefix_match(&root)
                .with_context(|| format!("{}: outside {}/{name}", meta.location, self.url))?
                .map(|p| p.as_ref().to_string())
                .collect();
            let path = rel.iter().fold(partial.clone(), |p, seg| p.join(seg));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let bytes = self
                .rt
                .block_on(async { self.store.get(&meta.location).await?.bytes().await })
                .with_context(|| format!("downloading {}/{}", self.url, meta.location))?;
            std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        if local.exists() {
            std::fs::remove_dir_all(local)
                .with_context(|| format!("removing {}", local.display()))?;
        }
        std::fs::rename(&partial, local)
            .with_context(|| format!("moving {}", partial.display()))?;
        Ok(objects.len())
    }
}

/// Every non-hidden file under `dir`, as `/`-separated paths relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if p.is_dir() {
            walk(root, &p, out)?;
        } else {
            let rel = p.strip_prefix(root).expect("under root");
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}
