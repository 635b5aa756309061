//! libFuzzer wrapper of `lmrepro_fuzz_bodies::audio_decode`: the body, its documentation and its
//! stable replay test (`cargo test -p lmrepro-fuzz-bodies --test replay`) are in crates/fuzz-bodies.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lmrepro_fuzz_bodies::audio_decode(data));
