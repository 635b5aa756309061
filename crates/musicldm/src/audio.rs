//! Audio input: Ogg Vorbis (lewton) and WAV (hound) decoded as a stream of mono `f32` chunks,
//! a synchronous FFT resampler (rubato) and a WAV writer for the mixtures.
//!
//! Conventions follow `librosa.load(sr=None, mono=True)` (libsndfile underneath): integer PCM is
//! scaled by `1 / 2^(bits-1)`, channels are averaged (`librosa.to_mono`), and an Ogg Vorbis
//! stream ends at its last granule position (the decoder's final packet is trimmed to it).

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// A decoded clip held in memory (mono, native sample rate).
#[derive(Debug, Clone)]
pub struct Clip {
    pub sample_rate: u32,
    pub samples: Vec<f32>,
}

impl Clip {
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}

/// Container of an input file, recognised by its magic bytes (never by its extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OggVorbis,
    Wav,
}

fn sniff(path: &Path) -> Result<Format> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < 4 {
        let k = f
            .read(&mut head[n..])
            .with_context(|| format!("reading {}", path.display()))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    if n == 0 {
        bail!("{}: empty file (0 bytes), not audio", path.display());
    }
    match &head[..n] {
        b"OggS" => Ok(Format::OggVorbis),
        b"RIFF" | b"RIFX" => Ok(Format::Wav),
        _ => bail!(
            "{}: unsupported format at byte 0 (magic {:02x?}); expected Ogg Vorbis (`OggS`) or WAV (`RIFF`)",
            path.display(),
            &head[..n]
        ),
    }
}

/// lewton 0.10 sizes buffers from the length fields of the Vorbis comment header (the second
/// packet) before it reads them: a fuzzed file whose comment count said 4 billion asked for
/// 206 GB and aborted (issue 19, fuzz `audio_decode`). This walks the header first and refuses a
/// length that runs past the packet, which lewton would refuse too once its read ran out, so no
/// file lewton decodes is refused here. Anything else wrong is left to lewton to report.
fn check_vorbis_headers(path: &Path) -> Result<()> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut packets = ogg::PacketReader::new(BufReader::new(file));
    let mut headers = vec![];
    for _ in 0..3 {
        match packets.read_packet() {
            Ok(Some(p)) => headers.push(p.data),
            _ => break,
        }
    }
    if let Some(d) = headers.get(1) {
        check_vorbis_comment_header(path, d)?;
    }
    if let Some(d) = headers.get(2) {
        check_vorbis_setup_codebooks(path, d)?;
    }
    Ok(())
}

fn check_vorbis_comment_header(path: &Path, d: &[u8]) -> Result<()> {
    if d.len() < 7 || d[0] != 3 || &d[1..7] != b"vorbis" {
        return Ok(());
    }
    let mut pos = 7;
    // A u32 length at `pos`, checked against the bytes after it; byte strings are skipped.
    let mut length = |what: &str, per_item: usize, skip: bool| -> Result<usize> {
        let Some(b) = d.get(pos..pos + 4) else {
            bail!(
                "{}: Vorbis comment header ends inside {what}",
                path.display()
            );
        };
        let n = u32::from_le_bytes(b.try_into().unwrap()) as usize;
        pos += 4;
        let left = d.len() - pos;
        if n.saturating_mul(per_item) > left {
            bail!(
                "{}: Vorbis comment header declares {what} {n} but only {left} bytes follow",
                path.display()
            );
        }
        if skip {
            pos += n;
        }
        Ok(n)
    };
    length("the vendor length", 1, true)?;
    let count = length("the comment count", 4, false)?;
    for _ in 0..count {
        length("a comment length", 1, true)?;
    }
    Ok(())
}

/// Vorbis bit-packing: LSB first within each byte (Vorbis I spec §2.1.4).
struct Bits<'a> {
    data: &'a [u8],
    pos: u64,
}

impl Bits<'_> {
    fn left(&self) -> u64 {
        (self.data.len() as u64 * 8).saturating_sub(self.pos)
    }
    /// `n` ≤ 32 bits, or `None` past the end.
    fn read(&mut self, n: u32) -> Option<u32> {
        if u64::from(n) > self.left() {
            return None;
        }
        let mut v = 0u64;
        for i in 0..u64::from(n) {
            let bit = self.pos + i;
            v |= u64::from((self.data[(bit / 8) as usize] >> (bit % 8)) & 1) << i;
        }
        self.pos += u64::from(n);
        Some(v as u32)
    }
}

/// Bits needed for `v` (Vorbis `ilog`).
fn ilog(v: u64) -> u32 {
    64 - v.leading_zeros()
}

/// The largest `r` with `r^dims <= entries` (Vorbis `lookup1_values`); `None` for 0 dimensions,
/// where every `r` fits.
fn lookup1_values(entries: u32, dims: u16) -> Option<u64> {
    if dims == 0 {
        return None;
    }
    if dims >= 32 {
        return Some(u64::from(entries > 0));
    }
    let fits = |r: u64| {
        r.checked_pow(u32::from(dims))
            .is_some_and(|p| p <= u64::from(entries))
    };
    let mut r = (f64::from(entries))
        .powf(1.0 / f64::from(dims.max(1)))
        .floor() as u64;
    while r > 0 && !fits(r) {
        r -= 1;
    }
    while fits(r + 1) {
        r += 1;
    }
    Some(r)
}

/// lewton 0.10 also sizes each codebook's tables from the setup header before reading them: a
/// fuzzed codebook asked for 48 GB (issue 19, fuzz `audio_decode`). This walks the codebooks
/// (Vorbis I spec §3.2.1) and refuses what libvorbis refuses (`ilog(dimensions) +
/// ilog(entries) > 24`, `vorbis_staticbook_unpack`), a lookup table longer than the bits left in
/// the packet, and more than 2^26 lookup entries in all (256 MB of `f32`; real files hold a few
/// thousand). Where the walk cannot follow the header, it stops and leaves the rest to lewton.
fn check_vorbis_setup_codebooks(path: &Path, d: &[u8]) -> Result<()> {
    if d.len() < 7 || d[0] != 5 || &d[1..7] != b"vorbis" {
        return Ok(());
    }
    let bad = |what: String| anyhow::anyhow!("{}: Vorbis setup header: {what}", path.display());
    let mut b = Bits {
        data: &d[7..],
        pos: 0,
    };
    let Some(count) = b.read(8) else {
        return Ok(());
    };
    let mut total: u64 = 0;
    for book in 0..=count {
        let (Some(0x564342), Some(dims), Some(entries), Some(ordered)) =
            (b.read(24), b.read(16), b.read(24), b.read(1))
        else {
            return Ok(());
        };
        if ilog(u64::from(dims)) + ilog(u64::from(entries)) > 24 {
            return Err(bad(format!(
                "codebook {book} has {dims} dimensions x {entries} entries (libvorbis refuses > 2^24)"
            )));
        }
        if ordered == 0 {
            let Some(sparse) = b.read(1) else {
                return Ok(());
            };
            for _ in 0..entries {
                let used = if sparse == 1 { b.read(1) } else { Some(1) };
                match used {
                    Some(1) => {
                        if b.read(5).is_none() {
                            return Ok(());
                        }
                    }
                    Some(_) => {}
                    None => return Ok(()),
                }
            }
        } else {
            if b.read(5).is_none() {
                return Ok(());
            }
            let mut current = 0u32;
            while current < entries {
                let Some(n) = b.read(ilog(u64::from(entries - current))) else {
                    return Ok(());
                };
                current = current.saturating_add(n);
            }
        }
        let Some(lookup) = b.read(4) else {
            return Ok(());
        };
        if lookup == 1 || lookup == 2 {
            let (Some(_), Some(_), Some(bits), Some(_)) =
                (b.read(32), b.read(32), b.read(4), b.read(1))
            else {
                return Ok(());
            };
            let values = if lookup == 1 {
                // Every base fits 0 dimensions: the spec's value is undefined, and lewton's
                // binary search answered 17 GB (fuzz `audio_decode`, found in this check).
                let Some(v) = lookup1_values(entries, dims as u16) else {
                    return Err(bad(format!(
                        "codebook {book} has lookup type 1 with 0 dimensions"
                    )));
                };
                v
            } else {
                u64::from(entries) * u64::from(dims)
            };
            let need = values * u64::from(bits + 1);
            if need > b.left() {
                return Err(bad(format!(
                    "codebook {book} declares {values} lookup values ({need} bits) but {} bits are left",
                    b.left()
                )));
            }
            total += u64::from(entries) * u64::from(dims);
            if total > 1 << 26 {
                return Err(bad(format!(
                    "codebook lookup tables of {total} entries in all (more than 2^26)"
                )));
            }
            b.pos += need;
        } else if lookup != 0 {
            return Ok(());
        }
    }
    Ok(())
}

/// A stream of mono chunks from one file; memory is one decoder packet, whatever the file length.
pub struct MonoReader {
    path: PathBuf,
    sample_rate: u32,
    channels: usize,
    inner: Inner,
    /// Samples (per channel) handed out so far.
    emitted: u64,
}

enum Inner {
    Ogg {
        reader: Box<lewton::inside_ogg::OggStreamReader<BufReader<File>>>,
        /// One packet held back so the last one can be trimmed to the final granule position.
        held: Option<Vec<f32>>,
        done: bool,
    },
    Wav {
        reader: hound::WavReader<BufReader<File>>,
        scale: f32,
        float: bool,
        left: u64,
    },
}

impl std::fmt::Debug for MonoReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonoReader")
            .field("path", &self.path)
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .finish()
    }
}

/// Frames (per channel) read per WAV chunk.
const WAV_CHUNK: usize = 1 << 15;

/// Sample rates a header may declare (issue 19). libsndfile accepts any rate, but the FFT
/// resampler's buffers grow with `rate / gcd(rate, 16 kHz)`: a fuzzed WAV declaring 4 GHz asked
/// for 32 GB (an allocation abort), 1 Hz for a 8M-point FFT per two samples. 1 kHz – 768 kHz
/// covers every rate audio hardware and containers use (8 kHz telephony to 768 kHz DXD).
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;

impl MonoReader {
    pub fn open(path: &Path) -> Result<Self> {
        let fmt = sniff(path)?;
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let (sample_rate, channels, inner) = match fmt {
            Format::OggVorbis => {
                check_vorbis_headers(path)?;
                let reader = lewton::inside_ogg::OggStreamReader::new(BufReader::new(file))
                    .map_err(|e| {
                        anyhow::anyhow!("{}: not a readable Ogg Vorbis stream: {e}", path.display())
                    })?;
                let sr = reader.ident_hdr.audio_sample_rate;
                let ch = reader.ident_hdr.audio_channels as usize;
                (
                    sr,
                    ch,
                    Inner::Ogg {
                        reader: Box::new(reader),
                        held: None,
                        done: false,
                    },
                )
            }
            Format::Wav => {
                let reader = hound::WavReader::new(BufReader::new(file)).map_err(|e| {
                    anyhow::anyhow!("{}: not a readable WAV file: {e}", path.display())
                })?;
                let spec = reader.spec();
                let float = spec.sample_format == hound::SampleFormat::Float;
                let scale = if float {
                    1.0
                } else {
                    1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32
                };
                let left = reader.duration() as u64;
                (
                    spec.sample_rate,
                    spec.channels as usize,
                    Inner::Wav {
                        reader,
                        scale,
                        float,
                        left,
                    },
                )
            }
        };
        if !SAMPLE_RATES.contains(&sample_rate) || channels == 0 {
            bail!(
                "{}: header declares {sample_rate} Hz, {channels} channels (supported: {} to {} Hz, \
                 at least one channel)",
                path.display(),
                SAMPLE_RATES.start(),
                SAMPLE_RATES.end()
            );
        }
        Ok(MonoReader {
            path: path.to_path_buf(),
            sample_rate,
            channels,
            inner,
            emitted: 0,
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The next chunk of mono samples; `None` at the end of the stream.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<f32>>> {
        let ch = self.channels;
        let path = &self.path;
        let out = match &mut self.inner {
            Inner::Ogg { reader, held, done } => loop {
                if *done {
                    break held.take();
                }
                let pkt = reader
                    .read_dec_packet_generic::<lewton::samples::InterleavedSamples<f32>>()
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "{}: Ogg Vorbis decode error after {} samples (truncated or corrupt file?): {e}",
                            path.display(),
                            self.emitted
                        )
                    })?;
                match pkt {
                    Some(p) => {
                        if p.samples.is_empty() {
                            continue;
                        }
                        let mono = mix_down(&p.samples, ch);
                        if let Some(prev) = held.replace(mono) {
                            break Some(prev);
                        }
                    }
                    None => {
                        *done = true;
                        // Trim the last packet to the stream's final granule position, as
                        // libvorbis / libsndfile do.
                        if let (Some(last), Some(gp)) = (held.as_mut(), reader.get_last_absgp()) {
                            let keep = gp.saturating_sub(self.emitted);
                            if (keep as usize) < last.len() {
                                last.truncate(keep as usize);
                            }
                        }
                    }
                }
            },
            Inner::Wav {
                reader,
                scale,
                float,
                left,
            } => {
                if *left == 0 {
                    None
                } else {
                    let frames = (*left).min(WAV_CHUNK as u64) as usize;
                    // Reserve at most one chunk of a stereo file up front: a header declaring
                    // 65,535 channels made this an 8.6 GB reservation for a 100-byte file
                    // (issue 19); the vector still grows to what the file really holds.
                    let mut inter = Vec::with_capacity((frames * ch).min(2 * WAV_CHUNK));
                    let pos = self.emitted;
                    let err = |e: hound::Error| {
                        anyhow::anyhow!(
                            "{}: WAV read error at sample frame {pos} (truncated file?): {e}",
                            path.display()
                        )
                    };
                    if *float {
                        for s in reader.samples::<f32>().take(frames * ch) {
                            inter.push(s.map_err(err)?);
                        }
                    } else {
                        for s in reader.samples::<i32>().take(frames * ch) {
                            inter.push(s.map_err(err)? as f32 * *scale);
                        }
                    }
                    if inter.len() < frames * ch {
                        bail!(
                            "{}: WAV data ends at sample frame {} but the header declares {} more",
                            path.display(),
                            pos + (inter.len() / ch) as u64,
                            *left
                        );
                    }
                    *left -= frames as u64;
                    Some(mix_down(&inter, ch))
                }
            }
        };
        if let Some(c) = &out {
            // librosa refuses non-finite audio in everything this crate reproduces (`stft`,
            // `resample`, `beat_track` call `util.valid_audio`); a float WAV holding NaN / inf
            // made rubato's FFT panic (issue 19, fuzz `audio_decode`).
            if let Some(i) = c.iter().position(|x| !x.is_finite()) {
                bail!(
                    "{}: sample {} is {}: audio buffer is not finite everywhere (librosa rejects it too)",
                    path.display(),
                    self.emitted + i as u64,
                    c[i]
                );
            }
            self.emitted += c.len() as u64;
        }
        Ok(out)
    }

    /// Samples handed out so far.
    pub fn position(&self) -> u64 {
        self.emitted
    }
}

/// `librosa.to_mono`: the mean over channels of interleaved samples.
pub fn mix_down(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels == 1 {
        return interleaved.to_vec();
    }
    interleaved
        .chunks_exact(channels)
        .map(|f| f.iter().sum::<f32>() / channels as f32)
        .collect()
}

/// Decodes a whole file to mono at its native rate. An empty stream is an error.
pub fn load(path: &Path) -> Result<Clip> {
    let mut r = MonoReader::open(path)?;
    let mut samples = Vec::new();
    while let Some(c) = r.next_chunk()? {
        samples.extend_from_slice(&c);
    }
    if samples.is_empty() {
        bail!("{}: the stream holds no audio samples", path.display());
    }
    Ok(Clip {
        sample_rate: r.sample_rate(),
        samples,
    })
}

/// Resamples `x` from `sr_in` to `sr_out` with rubato's synchronous FFT resampler, compensating
/// its delay, so the output has `ceil(len * sr_out / sr_in)` samples aligned with the input.
pub fn resample(x: &[f32], sr_in: u32, sr_out: u32) -> Result<Vec<f32>> {
    use rubato::{FftFixedIn, Resampler};
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        // librosa.resample's `util.valid_audio`; rubato's FFT panics on NaN / inf.
        bail!(
            "resampling: sample {i} is {}: audio buffer is not finite everywhere",
            x[i]
        );
    }
    if sr_in == sr_out {
        return Ok(x.to_vec());
    }
    let chunk = 1024;
    let mut rs = FftFixedIn::<f64>::new(sr_in as usize, sr_out as usize, chunk, 2, 1)
        .context("creating the resampler")?;
    let delay = rs.output_delay();
    let want = (x.len() as u64 * sr_out as u64).div_ceil(sr_in as u64) as usize;
    let mut out: Vec<f64> = Vec::with_capacity(want + delay + 2 * chunk);
    let mut pos = 0;
    while out.len() < want + delay {
        let need = rs.input_frames_next();
        let mut buf = vec![0f64; need];
        for (i, b) in buf.iter_mut().enumerate() {
            if pos + i < x.len() {
                *b = x[pos + i] as f64;
            }
        }
        pos += need;
        let y = rs.process(&[buf], None).context("resampling")?;
        out.extend_from_slice(&y[0]);
    }
    Ok(out[delay..delay + want].iter().map(|&v| v as f32).collect())
}

/// Writes mono `f32` samples as a 32-bit float WAV.
pub fn write_wav(path: &Path, sample_rate: u32, samples: &[f32]) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec)
        .with_context(|| format!("creating {}", path.display()))?;
    for &s in samples {
        w.write_sample(s)?;
    }
    w.finalize()
        .with_context(|| format!("finishing {}", path.display()))
}

/// Writes mono samples as 16-bit PCM WAV (what the results folder keeps: half the bytes).
pub fn write_wav_i16(path: &Path, sample_rate: u32, samples: &[f32]) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)
        .with_context(|| format!("creating {}", path.display()))?;
    for &s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        w.write_sample(v)?;
    }
    w.finalize()
        .with_context(|| format!("finishing {}", path.display()))
}
