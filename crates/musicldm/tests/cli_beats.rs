//! `lmrepro music beats`: the JSON contract, and the streamed two-pass path equals the in-memory
//! one (what makes a 2-hour file fit in ~26 MB; see docs/musicldm.md).

use lmrepro_data::testing;
use lmrepro_musicldm::audio::load;
use lmrepro_musicldm::beat::{beat_track, BeatParams, FileSource};
use lmrepro_musicldm::cli::{run, AggregateArg, Command};

#[test]
fn beats_command_writes_the_contract_and_streaming_equals_in_memory() {
    let path = testing::input("musicldm", "musicldm/audio/Kevin_MacLeod_-_Vibe_Ace.ogg");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("beats.json");
    run(Command::Beats {
        input: path.clone(),
        output: out.clone(),
        aggregate: AggregateArg::Mean,
    })
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 2, "exactly tempo_bpm and beats_s");
    let tempo = v["tempo_bpm"].as_f64().unwrap();
    assert!((tempo - 129.1992).abs() < 1e-3);
    let beats: Vec<f64> = v["beats_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_f64().unwrap())
        .collect();
    assert_eq!(beats.len(), 129);
    assert!(beats.windows(2).all(|w| w[0] < w[1]));

    let p = BeatParams::default();
    let streamed = beat_track(&FileSource::open(&path).unwrap(), &p).unwrap();
    let in_memory = beat_track(&load(&path).unwrap(), &p).unwrap();
    assert_eq!(streamed.onset_envelope, in_memory.onset_envelope);
    assert_eq!(streamed.beat_times(), beats);

    // A missing input names the file.
    let e = run(Command::Beats {
        input: dir.path().join("nope.ogg"),
        output: out,
        aggregate: AggregateArg::Median,
    })
    .unwrap_err();
    assert!(format!("{e:#}").contains("nope.ogg"));
}
