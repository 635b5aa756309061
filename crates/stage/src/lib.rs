//! What every pipeline stage shares, so that no stage writes its own:
//!
//! - [`jsonl`]: (compressed) files in and out, input expansion, shard names, atomic writes;
//! - [`doc`]: the document type passed between stages (a JSON object with a string `text`, unknown
//!   fields preserved) and its reader with file:line errors or counted skips;
//! - [`folder`]: resumable stage folders: per-shard outputs with completion markers
//!   ([`ShardedStage`]) and whole folders built under `.partial` and renamed when done
//!   ([`build_folder`]);
//! - [`lock`]: exclusive per-folder locks, so concurrent processes never interleave writes;
//! - [`progress`]: indicatif bars on stderr, one style;
//! - [`tally`]: statistics structs that add up field by field ([`tally!`]);
//! - `testing` (feature `testing`): kill -9 / resume / compare helpers for crash-anywhere tests.
//!
//! Invariants: a completion marker is written only after the output it vouches for is in place
//! (write to a temporary name, fsync, rename); an output without its marker is never read; output
//! bytes are deterministic (sorted JSON keys, single-threaded zstd at a fixed level).

pub mod doc;
pub mod flat_json;
pub mod folder;
pub mod jsonl;
pub mod lock;
pub mod progress;
pub mod tally;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use doc::{parse_doc, read_docs, text, Doc, DocReader, OnMalformed};
pub use flat_json::{parse_doc_flat_first, parse_flat_doc};
pub use folder::{build_folder, build_folder_once, read_done, Claim, ShardedStage, DONE_FILE};
pub use jsonl::{
    create_writer, expand_inputs, open_reader, publish, read_lines, shard_name, shard_names,
    to_jsonl, write_atomic, FileWriter,
};
pub use tally::sum;
pub use tally::Tally;
