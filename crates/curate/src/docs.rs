//! Documents between stages: JSONL (optionally `.gz` / `.zst`), one JSON object per line with at
//! least `text` (string). Every other field (`id`, `url`, `metadata`, anything unknown) is kept as
//! is; objects are re-serialised with sorted keys (serde_json's default map), so output is stable.
//!
//! Stage output layout: `<stage>/<shard>.jsonl.zst`, then `<stage>/_done/<shard>` (written last, so
//! a shard without a marker is redone on resume), and `<stage>/stats.json`.

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// A parsed document: the whole JSON object (unknown fields preserved).
pub type Doc = Map<String, Value>;

/// What to do with a line that is not a JSON object with a string `text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "pipeline", derive(clap::ValueEnum))]
pub enum OnMalformed {
    /// Stop with an error naming file and line (default).
    #[default]
    Error,
    /// Skip the line and count it in the stats.
    Skip,
}

/// Opens a possibly compressed file for buffered reading (by extension: `.gz`, `.zst`/`.zstd`).
pub fn open_reader(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
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

/// Reads all lines of a (compressed) text file.
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let reader = open_reader(path)?;
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        out.push(line.with_context(|| format!("{}:{}: read error", path.display(), i + 1))?);
    }
    Ok(out)
}

/// Parses one JSONL line into a document; the error says why (the caller adds file:line).
pub fn parse_doc(line: &str) -> Result<Doc> {
    let value: Value = serde_json::from_str(line).context("invalid JSON")?;
    let Value::Object(map) = value else {
        bail!("not a JSON object");
    };
    match map.get("text") {
        Some(Value::String(_)) => Ok(map),
        Some(_) => bail!("field `text` is not a string"),
        None => bail!("missing field `text`"),
    }
}

/// The `text` of a parsed document.
pub fn text(doc: &Doc) -> &str {
    doc.get("text").and_then(Value::as_str).unwrap_or("")
}

/// Documents of a file with their 1-based line numbers. Blank lines are ignored; malformed lines
/// error (naming file and line) or are skipped and counted in the second return value.
pub fn read_docs(path: &Path, on_malformed: OnMalformed) -> Result<(Vec<(usize, Doc)>, u64)> {
    let mut docs = Vec::new();
    let mut malformed = 0;
    for (i, line) in read_lines(path)?.into_iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_doc(&line) {
            Ok(doc) => docs.push((i + 1, doc)),
            Err(e) => match on_malformed {
                OnMalformed::Error => {
                    return Err(e.context(format!("{}:{}", path.display(), i + 1)));
                }
                OnMalformed::Skip => malformed += 1,
            },
        }
    }
    Ok((docs, malformed))
}

/// Expands inputs: files as given, directories recursively to `*.jsonl`, `*.jsonl.gz`,
/// `*.jsonl.zst`, `*.jsonl.zstd`. Sorted and deduplicated so runs are reproducible.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                // Stage bookkeeping directories are not inputs.
                if path
                    .file_name()
                    .is_some_and(|n| n == "_done" || n == "_state")
                {
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
        bail!("no *.jsonl[.gz|.zst] input files found in {inputs:?}");
    }
    Ok(out)
}

fn is_jsonl(path: &Path) -> bool {
    let name = path.to_string_lossy();
    [".jsonl", ".jsonl.gz", ".jsonl.zst", ".jsonl.zstd"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// Shard name of an input file: its file name without the `.jsonl[.gz|.zst|.zstd]` suffix.
pub fn shard_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for suffix in [".jsonl.gz", ".jsonl.zstd", ".jsonl.zst", ".jsonl"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            return stem.to_string();
        }
    }
    name
}

/// Unique shard names for a list of inputs (a numeric prefix is added when stems collide).
pub fn shard_names(inputs: &[PathBuf]) -> Vec<String> {
    let names: Vec<String> = inputs.iter().map(|p| shard_name(p)).collect();
    let mut sorted = names.clone();
    sorted.sort();
    let collide = sorted.windows(2).any(|w| w[0] == w[1]);
    if collide {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i:05}_{n}"))
            .collect()
    } else {
        names
    }
}

/// Serialises documents to JSONL bytes (sorted keys, one object per line).
pub fn to_jsonl(docs: &[Doc]) -> Vec<u8> {
    let mut out = Vec::new();
    for doc in docs {
        serde_json::to_writer(&mut out, doc).expect("serialising a JSON map cannot fail");
        out.push(b'\n');
    }
    out
}

/// A stage output directory with per-shard completion markers.
#[derive(Debug, Clone)]
pub struct StageDir {
    pub dir: PathBuf,
}

impl StageDir {
    pub fn create(dir: &Path) -> Result<StageDir> {
        std::fs::create_dir_all(dir.join("_done"))
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(StageDir {
            dir: dir.to_path_buf(),
        })
    }

    pub fn shard_path(&self, shard: &str) -> PathBuf {
        self.dir.join(format!("{shard}.jsonl.zst"))
    }

    fn marker(&self, shard: &str) -> PathBuf {
        self.dir.join("_done").join(shard)
    }

    /// Whether `shard` was completed by an earlier run.
    pub fn is_done(&self, shard: &str) -> bool {
        self.marker(shard).is_file()
    }

    /// The stats recorded in `shard`'s marker.
    pub fn done_stats(&self, shard: &str) -> Result<Value> {
        let path = self.marker(shard);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Writes `shard`'s documents (zstd level 3, single-threaded so bytes are deterministic) via a
    /// temporary file and rename, then the marker with `stats`.
    pub fn write_shard(&self, shard: &str, docs: &[Doc], stats: &Value) -> Result<()> {
        let path = self.shard_path(shard);
        let tmp = self.dir.join(format!(".{shard}.jsonl.zst.tmp"));
        let bytes = to_jsonl(docs);
        let compressed = zstd::bulk::compress(&bytes, 3).context("zstd compression")?;
        write_atomic(&tmp, &path, &compressed)?;
        self.write_shard_marker(shard, stats)
    }

    /// Writes `shard`'s completion marker (after its output is in place).
    pub fn write_shard_marker(&self, shard: &str, stats: &Value) -> Result<()> {
        let marker = self.marker(shard);
        let mtmp = self.dir.join("_done").join(format!(".{shard}.tmp"));
        write_atomic(
            &mtmp,
            &marker,
            (serde_json::to_string_pretty(stats)? + "\n").as_bytes(),
        )?;
        Ok(())
    }

    /// Removes `shard`'s marker (used when a shard must be redone).
    pub fn clear(&self, shard: &str) -> Result<()> {
        let marker = self.marker(shard);
        if marker.exists() {
            std::fs::remove_file(&marker)
                .with_context(|| format!("removing {}", marker.display()))?;
        }
        Ok(())
    }

    /// Writes `stats.json`.
    pub fn write_stats(&self, stats: &Value) -> Result<()> {
        let path = self.dir.join("stats.json");
        let tmp = self.dir.join(".stats.json.tmp");
        write_atomic(
            &tmp,
            &path,
            (serde_json::to_string_pretty(stats)? + "\n").as_bytes(),
        )
    }
}

/// Writes `bytes` to `tmp`, syncs, renames to `path`.
pub fn write_atomic(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f =
        std::fs::File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.sync_all().ok();
    std::fs::rename(tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {wide_bar} {pos}/{len} [{elapsed_precise}<{eta_precise}]",
        )
        .expect("valid template"),
    );
    pb.set_message(what.to_string());
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(
            &path,
            "{\"text\": \"ok\", \"extra\": {\"k\": 1}}\n\n{\"text\": 3}\nnot json\n{\"id\": \"x\"}\n[1]\n",
        )
        .unwrap();
        let err = read_docs(&path, OnMalformed::Error).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("a.jsonl:3"), "{msg}");
        assert!(msg.contains("`text` is not a string"), "{msg}");
        let (docs, bad) = read_docs(&path, OnMalformed::Skip).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].0, 1);
        assert_eq!(bad, 4);
        // Unknown fields survive a round trip.
        let out = String::from_utf8(to_jsonl(&[docs[0].1.clone()])).unwrap();
        assert_eq!(out, "{\"extra\":{\"k\":1},\"text\":\"ok\"}\n");
    }

    #[test]
    fn shard_names_strip_suffixes_and_disambiguate() {
        assert_eq!(shard_name(Path::new("/x/a_01.jsonl.zst")), "a_01");
        assert_eq!(shard_name(Path::new("b.jsonl")), "b");
        let names = shard_names(&[PathBuf::from("x/a.jsonl"), PathBuf::from("y/a.jsonl.gz")]);
        assert_eq!(names, vec!["00000_a", "00001_a"]);
    }

    #[test]
    fn compressed_inputs_read() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"{\"text\":\"a\"}\n{\"text\":\"b\"}\n";
        let zst = dir.path().join("x.jsonl.zst");
        std::fs::write(&zst, zstd::bulk::compress(body, 3).unwrap()).unwrap();
        let gz = dir.path().join("y.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(body).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        for p in [&zst, &gz] {
            let (docs, _) = read_docs(p, OnMalformed::Error).unwrap();
            assert_eq!(docs.len(), 2);
            assert_eq!(text(&docs[1].1), "b");
        }
        let files = expand_inputs(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(files.len(), 2);
    }
}
