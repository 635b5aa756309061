//! The beat tracker on the five mirrored clips against librosa 0.11.0's own output
//! (`librosa_beat_track_reference.json`) and madmom's beats (reported, not required).

use lmrepro_data::testing;
use lmrepro_musicldm::audio::load;
use lmrepro_musicldm::beat::{beat_track, BeatParams};
use lmrepro_musicldm::beat_eval::f_measure;
use serde_json::Value;

fn reference() -> Value {
    let p = testing::input("musicldm", "musicldm/librosa_beat_track_reference.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn five_clips_match_librosa() {
    let refs = reference();
    let files = refs["files"].as_object().unwrap();
    assert_eq!(files.len(), 5);
    for (name, r) in files {
        let path = testing::input("musicldm", &format!("musicldm/audio/{name}"));
        let clip = load(&path).unwrap();
        assert_eq!(clip.sample_rate as u64, r["sr"].as_u64().unwrap(), "{name}");
        assert_eq!(
            clip.samples.len() as u64,
            r["n_samples"].as_u64().unwrap(),
            "{name}: sample count"
        );
        let b = beat_track(&clip, &BeatParams::default()).unwrap();
        let env_len = r["onset_env_len"].as_u64().unwrap() as usize;
        assert_eq!(b.onset_envelope.len(), env_len, "{name}");
        let mean = b.onset_envelope.iter().sum::<f64>() / env_len as f64;
        let max = b.onset_envelope.iter().cloned().fold(0.0, f64::max);
        let rmean = r["onset_env_mean"].as_f64().unwrap();
        let rmax = r["onset_env_max"].as_f64().unwrap();
        assert!(
            (mean - rmean).abs() / rmean < 1e-4,
            "{name}: envelope mean {mean} vs {rmean}"
        );
        assert!(
            (max - rmax).abs() / rmax < 1e-4,
            "{name}: envelope max {max} vs {rmax}"
        );
        let rt = r["tempo_bpm"].as_f64().unwrap();
        assert!(
            (b.tempo_bpm - rt).abs() / rt < 0.01,
            "{name}: tempo {} vs {rt}",
            b.tempo_bpm
        );
        let ref_times: Vec<f64> = r["beat_times_s"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let f = f_measure(&ref_times, &b.beat_times(), 0.07);
        assert!(f >= 0.95, "{name}: F = {f}");
        let ref_frames: Vec<usize> = r["beat_frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        // A faithful port reproduces librosa's beat frames exactly, not just within 70 ms.
        assert_eq!(
            b.beat_frames, ref_frames,
            "{name}: beat frames differ from librosa's"
        );
    }
}
