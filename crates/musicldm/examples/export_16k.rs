//! Writes the 16 kHz mono waveform of each mirrored clip (decoded and resampled exactly as the
//! crate does) as float32 WAV, the input of `tools/make_fixtures.py`.
//!
//! `cargo run --release -p lmrepro-musicldm --example export_16k -- OUT_DIR`

use lmrepro_data::testing;
use lmrepro_musicldm::audio::{load, resample, write_wav};
use lmrepro_musicldm::CLIPS;

fn main() -> anyhow::Result<()> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: export_16k OUT_DIR"));
    std::fs::create_dir_all(&out)?;
    for name in CLIPS {
        let path = testing::input("musicldm", &format!("musicldm/audio/{name}"));
        let clip = load(&path)?;
        let y = resample(&clip.samples, clip.sample_rate, 16000)?;
        let stem = name.trim_end_matches(".ogg");
        write_wav(&out.join(format!("{stem}.wav")), 16000, &y)?;
        println!("{stem}: {} -> {} samples", clip.samples.len(), y.len());
    }
    Ok(())
}
