//! Python's behaviour, bit for bit, where the reference code's numbers depend on it.
//!
//! - [`unicode`]: CPython `str` character classes (`isalpha`, `isalnum`, `isdigit`, `isupper`,
//!   `isspace`), `split()`, `strip()`, `splitlines()`, tabulated from CPython 3.11.7 (Unicode 14),
//!   the interpreter that produced DCLM's goldens.
//! - [`random`]: `random.Random(int)` (`getrandbits`, `sample`, `choice`) and the iteration order of
//!   a `set` of small ints (`setobject.c`), which decide llm-foundry's few-shot prompts.
//! - [`numpy`]: numpy's legacy `RandomState(int)` (`init_genrand`) and its masked `randint` for
//!   `uint64`, which datatrove uses for MinHash permutations.
//! - [`float`]: `repr(float)`, `round(x, n)` and `statistics.median`, which decide the cells of
//!   BigScience's BLOOM evaluation tables.
//!
//! Every crate that needs Python's behaviour uses this one; approximations (e.g. Rust's
//! `char::is_whitespace` for `str.isspace`) are not allowed elsewhere.

pub mod float;
pub mod numpy;
pub mod random;
pub mod unicode;
mod unicode_tables;

pub use random::{PyRandom, PySet};
