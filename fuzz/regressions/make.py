#!/usr/bin/env python3
"""Writes the committed regression inputs fuzz/regressions/<target>/<name> (issue 19).

Each input is the minimised trigger of a finding (named `crash-*`, `hang-*`, `oom-*` after what it
did before its fix) or a small hand-made edge case (`edge-*`). They are replayed by
`cargo test -p lmrepro-fuzz-bodies --test replay` and by `fuzz/run.sh replay`. Inputs the fuzzers
found are copied here as they were minimised (`cargo fuzz tmin`) and listed in README.md; this
script only makes the ones built from a description. Run: python3 fuzz/regressions/make.py
(CPython 3.11, standard library only); the output is deterministic.
"""
import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent


def ogg_fix_crc(data):
    """Recomputes the CRC of every Ogg page. The fuzz build skips the ogg crate's CRC check
    (`cfg(fuzzing)`), so an Ogg input the fuzzer found needs its CRCs fixed to reach the same code
    in the normal build; stops at the first byte that does not start a page."""
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    out = bytearray(data)
    pos = 0
    while out[pos:pos + 4] == b"OggS" and pos + 27 <= len(out):
        nseg = out[pos + 26]
        size = 27 + nseg + sum(out[pos + 27:pos + 27 + nseg])
        page = out[pos:pos + size]
        page[22:26] = b"\0\0\0\0"
        crc = 0
        for b in page:
            crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ b]
        out[pos + 22:pos + 26] = struct.pack("<I", crc)
        pos += size
    return bytes(out)


if len(sys.argv) == 3 and sys.argv[1] == "--fix-ogg-crc":
    p = pathlib.Path(sys.argv[2])
    p.write_bytes(ogg_fix_crc(p.read_bytes()))
    sys.exit(0)


def put(target, name, data):
    d = HERE / target
    d.mkdir(exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# --- fastText: the builder of crates/fasttext/tests/corrupt.rs (fastText 0.9.2 layout) -------
def ft(dim=2, loss=3, bucket=10, minn=2, maxn=3, word_ngrams=2,
       labels=("__label__a", "__label__b"), input_rows=12, input_cols=2, output_rows=2,
       label_count=1, output_fill=None):
    out = bytearray(struct.pack("<10i", 793712314, 12, dim, 5, 1, 1, 5, word_ngrams, loss, 3))
    out += struct.pack("<4id", bucket, minn, maxn, 100, 1e-4)
    out += struct.pack("<3iqq", 2 + len(labels), 2, len(labels), 10, -1)
    for w, c in ((b"hello", 3), (b"</s>", 2)):
        out += w + b"\0" + struct.pack("<qb", c, 0)
    for lab in labels:
        out += lab.encode() + b"\0" + struct.pack("<qb", label_count, 1)
    for rows, cols, fill in ((input_rows, input_cols, None), (output_rows, input_cols, output_fill)):
        out += b"\0" + struct.pack("<qq", rows, cols)
        # Sizes beyond what the file holds are errors before any read: 64 floats stand for "some".
        n = max(0, rows * cols if rows * cols <= 1 << 16 else 64)
        out += b"".join(struct.pack("<f", 0.1 * i if fill is None else fill) for i in range(n))
    return bytes(out)


put("fasttext_model", "crash-nan-weights-topk-heap", ft(output_fill=float("nan")))
put("fasttext_model", "crash-nan-weights-hs", ft(loss=1, output_fill=float("nan")))
put("fasttext_model", "hang-huffman-label-count", ft(loss=1, label_count=0x2B00000000000002))
put("fasttext_model", "crash-bucket-zero-div", ft(bucket=0))
put("fasttext_model", "oom-huge-rows", ft(input_rows=1 << 40))
put("fasttext_model", "crash-rows-times-cols-overflow", ft(input_rows=(1 << 63) - 1, input_cols=4))
put("fasttext_model", "crash-too-few-input-rows", ft(input_rows=5))
put("fasttext_model", "crash-hs-without-labels", ft(loss=1, labels=(), output_rows=0))
put("fasttext_model", "crash-dim-zero", ft(dim=0, input_cols=0))
put("fasttext_model", "edge-valid-ova", ft(loss=4, minn=0, maxn=0))

# --- HTML: nesting (the quadratic tree-builder finding) ------------------------------------------
put("html_extract", "edge-nested-2000-div-span", "<div><span>" * 2000 + "x" + "</span></div>" * 2000)
put("html_extract", "edge-stray-end-tags", "<p>a" + "</p>" * 5000)
put("html_extract", "edge-many-attributes", "<div " + " ".join(f"a{i}=x" for i in range(3000)) + ">t</div>")

# --- WARC / HTTP: the hand-made seeds of fuzz/seeds.sh -----------------------------------------
put("warc_reader", "edge-chunked",
    b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 92\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n5\r\n<p>hi\r\n0\r\n\r\n\r\n\r\n")
put("warc_reader", "edge-truncated",
    b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 99999\r\n\r\nHTTP/1.1 200")
put("http_response", "edge-chunked-ext-trailer",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n")
put("http_response", "edge-huge-chunk-size",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx\r\n")

# --- JSONL documents, recipes, ICL, AIW ------------------------------------------------------------
put("jsonl_docs", "edge-malformed-lines", '{"text": "a", "id": 1}\n\n{"text": 3}\nnot json\n{"id": "x"}\n[1]\n')
put("jsonl_docs", "edge-invalid-utf8", b'{"text": "\xff\xfe"}\n')
put("recipe_toml", "edge-missing-input-set", 'name = "x"\ninputs = ["nope"]\n')
put("recipe_toml", "edge-deep-arrays", "a = " + "[" * 200 + "]" * 200 + "\n")
put("icl_task", "edge-mc-missing-gold", b"\x00" + b'{"query": "q", "choices": ["a", "b"]}\n')
put("icl_task", "edge-yaml-registry", b"\x08" + b"icl_tasks:\n  - label: x\n    icl_task_type: nope\n")
put("aiw_answer", "edge-boxed-and-answer", "so the answer is \\boxed{3}. ### Answer: 4")
put("aiw_answer", "edge-long-digit-run", "Answer: " + "9" * 5000)


# --- checkpoint tensor files (safetensors: u64 header length, JSON header, data) -------------------
def st(header, data=b""):
    h = header.encode()
    return struct.pack("<Q", len(h)) + h + data


put("checkpoint_safetensors", "edge-valid-f32",
    st('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', struct.pack("<2f", 1.0, 2.0)))
put("checkpoint_safetensors", "edge-shape-product-overflow",
    st('{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}'))
put("checkpoint_safetensors", "edge-header-length-huge", struct.pack("<Q", 1 << 62) + b"{}")
put("checkpoint_safetensors", "edge-bf16-dtype",
    st('{"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}', b"\0\0"))
put("checkpoint_load", "edge-state-truncated", b"\x00" + b'{"format": "lmrepro-model-checkpoint-v1", "step": 1')
put("checkpoint_load", "edge-state-unknown-field", b"\x00" + b'{"format": "x", "bogus": 1}')
put("checkpoint_load", "edge-unexpected-optimizer-tensor", b"\x01" +
    st('{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}', struct.pack("<d", 0.5)))


# --- audio: RIFF/WAVE with a `fmt ` chunk and a `data` chunk --------------------------------------
def wav(rate=8000, channels=1, bits=16, fmt_tag=1, frames=100, data=None, declared=None):
    block = channels * ((bits + 7) // 8)
    if data is None:
        data = bytes((i * 7) & 0xFF for i in range(frames * block))
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block & 0xFFFFFFFF, block & 0xFFFF, bits)
    size = len(data) if declared is None else declared
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


put("audio_decode", "edge-valid-pcm16-8k", wav())
put("audio_decode", "edge-valid-float-stereo-44k", wav(rate=44100, channels=2, bits=32, fmt_tag=3, frames=64))
put("audio_decode", "edge-truncated-data", wav(frames=10, declared=1 << 20))
put("audio_decode", "edge-empty", b"")
put("audio_decode", "edge-ogg-magic-only", b"OggS")

# --- BigBIO: a selector byte (0-5 schema, 6 BIOSSES TSV, 7 PubMedQA JSON) then the file ---------
put("bigbio_reader", "edge-qa-missing-fields", b"\x01" + b'{"id": "1", "question": "q"}\nnot json\n')
put("bigbio_reader", "edge-kb-offsets-out-of-range", b"\x00" + (
    '{"id":"1","document_id":"d","passages":[{"id":"p","type":"t","text":["abc"],"offsets":[[0,3]]}],'
    '"entities":[{"id":"e","type":"t","text":["x"],"offsets":[[5,2]],"normalized":[]}],'
    '"events":[],"coreferences":[],"relations":[]}\n').encode())
put("bigbio_reader", "edge-biosses-short-row", b"\x06" + b"sentence1\tsentence2\ta1\n")
put("bigbio_reader", "edge-pqal-wrong-type", b"\x07" + b'{"1": {"QUESTION": 3}}')

# Hostile headers for the decoder + resampler (found by reading audio.rs while writing the target).
put("audio_decode", "crash-sample-rate-4e9-resampler-alloc", wav(rate=4_000_000_007, bits=8, frames=50))
put("audio_decode", "oom-65535-channels", wav(channels=65535, bits=8, frames=0, data=b"\0" * 65535, declared=65535 * 32768))
put("audio_decode", "hang-sample-rate-1-resampler-fft", wav(rate=1, frames=50))
put("audio_decode", "edge-bits-0", wav(bits=0, frames=10, data=b"\0" * 16))
put("audio_decode", "edge-bits-64", wav(bits=64, frames=2, data=b"\0" * 16))
