//! Finished stage folders in an object store: `s3://bucket/prefix` through the `object_store`
//! crate (its `aws` client, feature `s3`, off by default; credentials, region and endpoint from
//! the usual `AWS_*` variables, e.g. `AWS_ENDPOINT=http://127.0.0.1:PORT` and
//! `AWS_ALLOW_HTTP=true` for a local S3-compatible server).
//!
//! A stage folder `<name>` lives under `<prefix>/<name>/`, one object per file, at the same
//! relative paths. Object stores have no rename, so the completion marker plays the rename's
//! part: [`Remote::put_folder`] uploads every file and then `_DONE.json`, and a reader
//! ([`Remote::get_folder`], [`Remote::is_finished`]) trusts a folder only when its marker is
//! there. A put interrupted half-way leaves objects without a marker: not finished, and the next
//! put overwrites them. [`Remote::get_folder`] downloads into `<local>.partial` and renames, so
//! the local copy is never half there either. Hidden files (locks, temporary files) are never
//! uploaded.

use anyhow::{bail, Result};

/// `s3://bucket/a/b` → (`bucket`, [`a`, `b`]); other schemes are errors naming the URL.
pub fn parse_s3(url: &str) -> Result<(String, Vec<String>)> {
    let Some(rest) = url.strip_prefix("s3://") else {
        bail!("{url}: not an object-store URL (only `s3://bucket/prefix` is supported)");
    };
    let mut parts = rest.split('/').filter(|p| !p.is_empty());
    let bucket = match parts.next() {
        Some(b) => b.to_string(),
        None => bail!("{url}: no bucket name"),
    };
    let prefix: Vec<String> = parts.map(str::to_string).collect();
    if let Some(bad) = prefix.iter().find(|p| *p == "." || *p == "..") {
        bail!("{url}: `{bad}` is not a valid path segment");
    }
    Ok((bucket, prefix))
}

#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "s3")]
pub use s3::Remote;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_parse_and_others_are_named() {
        assert_eq!(
            parse_s3("s3://bucket/a/b/").unwrap(),
            ("bucket".to_string(), vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(parse_s3("s3://bucket").unwrap().1, Vec::<String>::new());
        let err = format!("{:#}", parse_s3("gs://bucket/x").unwrap_err());
        assert!(
            err.contains("gs://bucket/x") && err.contains("s3://"),
            "{err}"
        );
        let err = format!("{:#}", parse_s3("s3://").unwrap_err());
        assert!(err.contains("no bucket"), "{err}");
        let err = format!("{:#}", parse_s3("s3://b/x/../y").unwrap_err());
        assert!(err.contains("`..`"), "{err}");
    }
}
