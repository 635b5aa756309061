//! Files in and out: plain, `.gz` or `.zst`/`.zstd` by extension; input expansion and shard names.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The suffixes of document files, longest first.
const JSONL_SUFFIXES: [&str; 4] = [".jsonl.gz", ".jsonl.zstd", ".jsonl.zst", ".jsonl"];

/// Opens a possibly compressed file for buffered reading (`.gz`: every gzip member; `.zst`/`.zstd`).
pub fn open_reader(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let name = path.to_string_lossy();
    let inner: Box<dyn Read + Send> = if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else if name.ends_with(".zst") || name.ends_with(".zstd") {
        Box::new(
            zstd::stream::read::Decoder::new(file)
                .with_context(|| format!("zstd header of {}", path.display()))?,
        )
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, inner)))
}

/// A buffered file writer, compressed by the file's extension. [`FileWriter::finish`] must be
/// called: it writes the last compressed frame and flushes, and reports what fails there (a full
/// disk, say) instead of losing it in a destructor. A writer dropped without `finish` leaves a
/// truncated file that readers reject, never one that looks complete.
pub struct FileWriter {
    path: PathBuf,
    inner: Inner,
}

enum Inner {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

impl FileWriter {
    /// Finishes the compressed stream and flushes everything to the file.
    pub fn finish(self) -> Result<()> {
        let path = self.path;
        let buffered = match self.inner {
            Inner::Plain(w) => w,
            Inner::Gzip(w) => w
                .finish()
                .with_context(|| format!("finishing gzip {}", path.display()))?,
            Inner::Zstd(w) => w
                .finish()
                .with_context(|| format!("finishing zstd {}", path.display()))?,
        };
        buffered
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .with_context(|| format!("writing {}", path.display()))
    }
}

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(w) => w.write(buf),
            Inner::Gzip(w) => w.write(buf),
            Inner::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.inner {
            Inner::Plain(w) => w.flush(),
            Inner::Gzip(w) => w.flush(),
            Inner::Zstd(w) => w.flush(),
        }
    }
}

/// Creates a [`FileWriter`]: zstd level 3 when the name ends in `.zst`/`.zstd`, gzip for `.gz`,
/// plain otherwise. A trailing `.tmp` (the temporary name of a shard being written) is ignored
/// when choosing.
pub fn create_writer(path: &Path) -> Result<FileWriter> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let buffered = BufWriter::with_capacity(1 << 20, file);
    let name = path.to_string_lossy();
    let name = name.trim_end_matches(".tmp");
    let inner = if name.ends_with(".zst") || name.ends_with(".zstd") {
        Inner::Zstd(zstd::stream::write::Encoder::new(buffered, 3)?)
    } else if name.ends_with(".gz") {
        Inner::Gzip(flate2::write::GzEncoder::new(
            buffered,
            flate2::Compression::default(),
        ))
    } else {
        Inner::Plain(buffered)
    };
    Ok(FileWriter {
        path: path.to_path_buf(),
        inner,
    })
}

/// All lines of a (compressed) text file; a read error names the file and line.
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, line) in open_reader(path)?.lines().enumerate() {
        out.push(line.with_context(|| format!("{}:{}: read error", path.display(), i + 1))?);
    }
    Ok(out)
}

/// Whether a path names a document file (`*.jsonl`, `*.jsonl.gz`, `*.jsonl.zst`, `*.jsonl.zstd`).
fn is_jsonl(path: &Path) -> bool {
    let name = path.to_string_lossy();
    JSONL_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Expands inputs: files as given, directories recursively to their document files (skipping the
/// bookkeeping folders `_done`, `_state` and hidden entries). Sorted and deduplicated so that runs
/// are reproducible; no input at all is an error.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                if name == "_done" || name == "_state" {
                    continue;
                }
                walk(&path, out)?;
            } else if is_jsonl(&path) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            walk(input, &mut out)?;
        } else if input.is_file() {
            out.push(input.clone());
        } else {
            bail!("input {} does not exist", input.display());
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        bail!("no input files found in {inputs:?}");
    }
    Ok(out)
}

/// Shard name of an input file: its file name without the given suffixes (the first that
/// matches), e.g. `a_01.jsonl.zst` → `a_01`.
pub fn shard_name_without(path: &Path, suffixes: &[&str]) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for suffix in suffixes {
        if let Some(stem) = name.strip_suffix(suffix) {
            return stem.to_string();
        }
    }
    name
}

/// Shard name of a document file: its name without the `.jsonl[.gz|.zst|.zstd]` suffix.
pub fn shard_name(path: &Path) -> String {
    shard_name_without(path, &JSONL_SUFFIXES)
}

/// Unique shard names for a list of inputs, from `name_of`; when two collide, every name gets its
/// input's index as a prefix (`00001_a`) so outputs never overwrite each other.
pub fn unique_names(inputs: &[PathBuf], name_of: impl Fn(&Path) -> String) -> Vec<String> {
    let names: Vec<String> = inputs.iter().map(|p| name_of(p)).collect();
    let mut sorted = names.clone();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i:05}_{n}"))
            .collect()
    } else {
        names
    }
}

/// Unique shard names of document files ([`shard_name`], disambiguated by [`unique_names`]).
pub fn shard_names(inputs: &[PathBuf]) -> Vec<String> {
    unique_names(inputs, shard_name)
}

/// Serialises JSON objects to JSONL bytes (keys sorted, as serde_json's map; one per line).
pub fn to_jsonl<T: serde::Serialize>(docs: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for doc in docs {
        serde_json::to_writer(&mut out, doc).expect("serialising a JSON value cannot fail");
        out.push(b'\n');
    }
    out
}

/// Writes `bytes` to `tmp`, syncs, then renames it to `path`: `path` is either absent, old, or
/// complete, never half-written.
pub fn write_atomic(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
    // A full disk (or a failing device) can surface at the write or only at the flush: either way
    // the temporary file is removed and never renamed into place, so no truncated file is ever
    // published (issue 19, disk-full). Filesystems that cannot sync (EINVAL) are not an error.
    let written = f.write_all(bytes).and_then(|()| match f.sync_all() {
        Err(e) if e.raw_os_error() == Some(22) => Ok(()),
        r => r,
    });
    if let Err(e) = written {
        drop(f);
        std::fs::remove_file(tmp).ok();
        return Err(e).with_context(|| format!("writing {}", tmp.display()));
    }
    drop(f);
    publish(tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// Renames a finished temporary file or folder `from` to its final name `to` (`std::fs::rename`).
/// Every stage publishes its outputs through this one function, so that the crash-anywhere tests
/// can widen the publish window: built with feature `testing` and with
/// `LMREPRO_TEST_PUBLISH_PAUSE_MS` set, it pauses before and after the rename and appends what it
/// is doing to `LMREPRO_TEST_PUBLISH_TRACE` ([`crate::testing::publish_window`]). Without the
/// feature it is exactly `std::fs::rename`.
pub fn publish(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(feature = "testing")]
    crate::testing::publish_window(to, "before rename");
    std::fs::rename(from, to)?;
    #[cfg(feature = "testing")]
    crate::testing::publish_window(to, "after rename");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_strip_suffixes_and_disambiguate() {
        assert_eq!(shard_name(Path::new("/x/a_01.jsonl.zst")), "a_01");
        assert_eq!(shard_name(Path::new("b.jsonl")), "b");
        assert_eq!(shard_name(Path::new("c.txt")), "c.txt");
        let names = shard_names(&[PathBuf::from("x/a.jsonl"), PathBuf::from("y/a.jsonl.gz")]);
        assert_eq!(names, vec!["00000_a", "00001_a"]);
        let names = shard_names(&[PathBuf::from("x/a.jsonl"), PathBuf::from("y/b.jsonl.gz")]);
        assert_eq!(names, vec!["a", "b"]);
    }

    #[test]
    fn writers_and_readers_round_trip_every_compression() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["p.jsonl", "g.jsonl.gz", "z.jsonl.zst", "t.jsonl.zst.tmp"] {
            let path = dir.path().join(name);
            let mut w = create_writer(&path).unwrap();
            w.write_all(b"{\"text\":\"a\"}\n{\"text\":\"b\"}\n")
                .unwrap();
            w.finish().unwrap();
            let read_as = if name.ends_with(".tmp") {
                let p = dir.path().join("t.jsonl.zst");
                std::fs::rename(&path, &p).unwrap();
                p
            } else {
                path
            };
            assert_eq!(read_lines(&read_as).unwrap().len(), 2, "{name}");
        }
        let files = expand_inputs(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(files.len(), 4);
        assert!(expand_inputs(&[dir.path().join("nope")]).is_err());
    }

    #[test]
    fn an_unfinished_zstd_writer_leaves_a_file_readers_reject() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.jsonl.zst");
        let mut w = create_writer(&path).unwrap();
        for i in 0..50_000 {
            writeln!(w, "{{\"text\":\"document {i}\"}}").unwrap();
        }
        drop(w);
        assert!(
            read_lines(&path).is_err(),
            "a truncated frame must not read as complete"
        );
    }

    #[test]
    fn expansion_skips_bookkeeping_and_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("_done")).unwrap();
        std::fs::write(dir.path().join("_done/x.jsonl"), "").unwrap();
        std::fs::write(dir.path().join(".a.jsonl.zst.tmp"), "").unwrap();
        std::fs::write(dir.path().join(".hidden.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("b.jsonl"), "").unwrap();
        let files = expand_inputs(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(files, vec![dir.path().join("b.jsonl")]);
    }
}
