#!/usr/bin/env python3
"""Reference fixtures for lmrepro-musicldm's conformance tests (tests/fixtures/*.json).

Run from the repository root, in a throwaway venv outside the repo:

    python3 -m venv /work/venv-musicldm
    /work/venv-musicldm/bin/pip install numpy==2.4.6 scipy==1.17.1 librosa==0.11.0 soundfile mir_eval==0.8.2
    cargo run --release -p lmrepro-musicldm --example export_16k -- /tmp/musicldm16k
    /work/venv-musicldm/bin/python crates/musicldm/tools/make_fixtures.py /tmp/musicldm16k

Outputs (small, committed):

* ``mel_reference.json`` - MusicLDM's mel front end on the *Rust-resampled* 16 kHz waveform of
  each clip (written by the ``export_16k`` example as float32 WAV), so resampler differences
  stay out of the comparison. The front end is a float64 numpy port of
  ``TacotronSTFT.mel_spectrogram`` (RetroCirce/MusicLDM interface/src/utilities/audio/stft.py)
  and AudioLDM's ``wav_to_fbank`` (haoheliu/AudioLDM audioldm/audio/tools.py): the upstream
  code needs torch (and librosa < 0.10 for its positional ``librosa_mel_fn`` call); the port
  keeps its conventions exactly (reflect pad of n_fft/2, periodic Hann, |DFT| via the windowed
  Fourier basis, slaney mel from ``librosa.filters.mel`` 0.11.0, ``log(clamp(x, 1e-5))``,
  normalize_wav / pad_wav / second peak normalisation / clip / _pad_spec). Stored per clip:
  checksums of the input waveform, the per-band means, every 8th per-frame mean, global
  stats and eight full frames.
* ``metrics_reference.json`` - Frechet distance (``scipy.linalg.sqrtm`` as pytorch-fid /
  audioldm_eval), KL (audioldm_eval's softmax and sigmoid forms, in numpy), mean pair cosine and
  the novelty rate on small seeded random fixtures.
* ``onset_trumpet.json`` - librosa 0.11.0's onset envelope, tempo and beats of the 5 s trumpet
  clip (decoded by libsndfile), for a frame-by-frame envelope check.
"""

import json
import sys
from pathlib import Path

import librosa
import numpy as np
import scipy
import scipy.linalg
import soundfile as sf

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "tests" / "fixtures"
MIRROR = Path("/work/shared/data/musicldm")

CLIPS = [
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
    "Karissa_Hobbs_-_Lets_Go_Fishin.ogg",
    "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg",
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "sorohanro_-_solo-trumpet-06.ogg",
]

SR, N_FFT, HOP, WIN, N_MELS, FMIN, FMAX, TARGET = 16000, 1024, 160, 1024, 64, 0.0, 8000.0, 1024
FRAMES_KEPT = [0, 1, 100, 255, 511, 700, 1000, 1023]


def tacotron_log_mel(y):
    """TacotronSTFT.mel_spectrogram(y)[0] in float64: (n_mels, n_frames)."""
    window = scipy.signal.get_window("hann", WIN, fftbins=True)
    window = librosa.util.pad_center(window, size=N_FFT)
    basis = np.fft.fft(np.eye(N_FFT))
    cutoff = N_FFT // 2 + 1
    real_b = np.real(basis[:cutoff, :]) * window
    imag_b = np.imag(basis[:cutoff, :]) * window
    padded = np.pad(y.astype(np.float64), (N_FFT // 2, N_FFT // 2), mode="reflect")
    frames = librosa.util.frame(padded, frame_length=N_FFT, hop_length=HOP)  # (N_FFT, T)
    real = real_b @ frames
    imag = imag_b @ frames
    mag = np.sqrt(real**2 + imag**2)
    mel_basis = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX)
    mel = mel_basis.astype(np.float64) @ mag
    return np.log(np.clip(mel, 1e-5, None))


def normalize_wav(w):
    w = w - np.mean(w)
    w = w / (np.max(np.abs(w)) + 1e-8)
    return w * 0.5


def fbank(wav16k):
    w = normalize_wav(wav16k.astype(np.float64))
    seg = TARGET * HOP
    w = w[:seg] if len(w) >= seg else np.concatenate([w, np.zeros(seg - len(w))])
    w = w / np.max(np.abs(w)) * 0.5
    y = np.clip(w.astype(np.float32), -1, 1)
    m = tacotron_log_mel(y).T  # (T, n_mels)
    if m.shape[0] < TARGET:
        m = np.concatenate([m, np.zeros((TARGET - m.shape[0], N_MELS))])
    return m[:TARGET]


def r(x, digits=10):
    return [float(f"{v:.{digits}g}") for v in np.asarray(x).ravel()]


def mel_fixture(wav_dir):
    out = {"note": "see tools/make_fixtures.py", "versions": versions(), "clips": {}}
    for name in CLIPS:
        wav, sr = sf.read(wav_dir / (Path(name).stem + ".wav"), dtype="float32")
        assert sr == SR, (name, sr)
        m = fbank(wav)
        w64 = wav.astype(np.float64)
        out["clips"][name] = {
            "n_samples_16k": int(len(wav)),
            "wav_sum": float(w64.sum()),
            "wav_sum_sq": float((w64**2).sum()),
            "wav_head": r(wav[:8]),
            "shape": list(m.shape),
            "mean": float(m.mean()),
            "std": float(m.std()),
            "min": float(m.min()),
            "max": float(m.max()),
            "band_mean": r(m.mean(axis=0)),
            "frame_mean_stride": 8,
            "frame_mean": r(m.mean(axis=1)[::8]),
            "frames_kept": FRAMES_KEPT,
            "frames": [r(m[t]) for t in FRAMES_KEPT],
        }
    return out


def frechet(x, y):
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def kl(gen, ref, kind):
    if kind == "softmax":
        q, p = softmax(gen), softmax(ref)
    else:
        q, p = 1 / (1 + np.exp(-gen)), 1 / (1 + np.exp(-ref))
    terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - np.log(q + 1e-6)), 0.0)
    return float(terms.sum() / len(gen))


def cosine_rows(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def metrics_fixture():
    rng = np.random.RandomState(2308)
    cases = []
    for n1, n2, d in [(40, 50, 8), (60, 45, 16), (30, 30, 4)]:
        a = rng.randn(n1, d) @ rng.randn(d, d)
        b = rng.randn(n2, d) @ rng.randn(d, d) * 0.7 + 0.3
        cases.append({"x": a.tolist(), "y": b.tolist(), "fd": frechet(a, b)})
    g = rng.randn(12, 10) * 2
    t = rng.randn(12, 10) * 2
    text = rng.randn(9, 6)
    audio = text + 0.8 * rng.randn(9, 6)
    train = rng.randn(15, 6)
    gen = np.vstack([train[:4] + 0.05 * rng.randn(4, 6), rng.randn(6, 6)])
    sims = (gen / np.linalg.norm(gen, axis=1, keepdims=True)) @ (
        train / np.linalg.norm(train, axis=1, keepdims=True)
    ).T
    nearest = sims.max(axis=1)
    return {
        "note": "see tools/make_fixtures.py",
        "versions": versions(),
        "frechet": cases,
        "kl": {
            "gen_logits": g.tolist(),
            "ref_logits": t.tolist(),
            "softmax": kl(g, t, "softmax"),
            "sigmoid": kl(g, t, "sigmoid"),
        },
        "cosine": {
            "text": text.tolist(),
            "audio": audio.tolist(),
            "mean_pair_cosine": float(cosine_rows(text, audio).mean()),
        },
        "novelty": {
            "generated": gen.tolist(),
            "train": train.tolist(),
            "nearest": nearest.tolist(),
            "rate_0.90": float((nearest > 0.90).mean()),
            "rate_0.95": float((nearest > 0.95).mean()),
        },
    }


def onset_fixture():
    name = "sorohanro_-_solo-trumpet-06.ogg"
    y, sr = librosa.load(MIRROR / "audio" / name, sr=None)
    env = librosa.onset.onset_strength(y=y, sr=sr)
    tempo = librosa.feature.tempo(onset_envelope=env, sr=sr)
    _, beats = librosa.beat.beat_track(onset_envelope=env, sr=sr)
    return {
        "note": "see tools/make_fixtures.py",
        "versions": versions(),
        "file": name,
        "sr": int(sr),
        "onset_envelope": r(env, 8),
        "tempo_bpm": float(tempo[0]),
        "beat_frames": [int(b) for b in beats],
    }


def versions():
    return {
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "librosa": librosa.__version__,
        "soundfile": sf.__version__,
    }


def main():
    wav_dir = Path(sys.argv[1])
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for fname, data in [
        ("mel_reference.json", mel_fixture(wav_dir)),
        ("metrics_reference.json", metrics_fixture()),
        ("onset_trumpet.json", onset_fixture()),
    ]:
        (FIXTURES / fname).write_text(json.dumps(data, indent=1) + "\n")
        print(fname, (FIXTURES / fname).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
