//! Pinned inputs and recipes.
//!
//! Every file lmrepro reads from the outside world is an [`Input`]: its original URL, its sha256 and
//! size, its license, and the relative `path` it has inside a data mirror (the layout of
//! `../shared/data`). A [`Resolver`] finds the bytes in this order:
//!
//! 1. the cache directory (`LMREPRO_CACHE`, default `~/.cache/lmrepro`), at `<cache>/<path>`;
//! 2. the mirror directory (`LMREPRO_DATA_MIRROR`), at `<mirror>/<path>`, used in place;
//! 3. a download of `url` into the cache (unless `LMREPRO_OFFLINE=1`).
//!
//! Whatever the source, the sha256 is checked before a path is handed out; a mismatch or a missing
//! file is an error that names the input, the expected hash and how to obtain it.

pub mod fetch;
mod input;
mod recipe;
pub mod testing;

pub use input::{sha256_file, DataError, Input, MissingInput, Resolver, Source};
pub use recipe::{input_set, parse_input_set, resolve_in_set, workspace_root, Recipe};
