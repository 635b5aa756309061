#!/usr/bin/env bash
# Peak memory of `lmrepro music beats` on a 2-hour file (docs/musicldm.md quotes the figures).
#   crates/musicldm/tools/long_file_rss.sh [path/to/lmrepro]
# Writes a 2-hour 22,050 Hz mono 16-bit WAV (a 120 BPM drum loop tiled, ~318 MB) and, when
# libsndfile's Python binding is present, the same as Ogg Vorbis, under $TMPDIR, then runs the
# tracker under /usr/bin/time -v.
set -euo pipefail
BIN=${1:-target/release/lmrepro}
DIR=${TMPDIR:-/tmp}/musicldm-long
mkdir -p "$DIR"
PY=${PYTHON:-python3}
"$PY" - "$DIR" <<'PY'
import sys, wave, struct, math, random, os
d = sys.argv[1]
sr, bpm, secs = 22050, 120.0, 10.0
n = int(sr * secs)
y = [0.0] * n
rnd = random.Random(7)
period = 60.0 / bpm
k = 0
while k * period < secs - 0.2:
    s = int(k * period * sr)
    ph = 0.0
    for i in range(int(0.15 * sr)):
        if s + i >= n: break
        t = i / sr
        ph += 2 * math.pi * (50 + 100 * math.exp(-40 * t)) / sr
        y[s + i] += 0.6 * math.sin(ph) * math.exp(-25 * t) + 0.5 * (rnd.random() - 0.5) * math.exp(-400 * t)
    k += 1
loop = b"".join(struct.pack("<h", int(max(-1, min(1, v)) * 32767)) for v in y)
path = os.path.join(d, "two_hours.wav")
with wave.open(path, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr)
    for _ in range(720):
        w.writeframes(loop)
print(path, os.path.getsize(path))
try:
    import soundfile as sf
    import numpy as np
    block = np.frombuffer(loop, dtype="<i2").astype(np.float32) / 32768.0
    # Written loop by loop: libsndfile's Vorbis encoder crashes on one 2-hour write.
    with sf.SoundFile(os.path.join(d, "two_hours.ogg"), "w", sr, 1, format="OGG", subtype="VORBIS") as f:
        for _ in range(720):
            f.write(block)
    print(os.path.join(d, "two_hours.ogg"), os.path.getsize(os.path.join(d, "two_hours.ogg")))
except ImportError:
    pass
PY
for f in "$DIR"/two_hours.wav "$DIR"/two_hours.ogg; do
  [ -f "$f" ] || continue
  /usr/bin/time -v "$BIN" music beats --input "$f" --output "$DIR/beats.json" 2>&1 \
    | grep -E "BPM|Maximum resident|Elapsed" 
  python3 -c "import json; d=json.load(open('$DIR/beats.json')); print('tempo', d['tempo_bpm'], 'beats', len(d['beats_s']))"
done
