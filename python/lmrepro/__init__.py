"""lmrepro's Rust data stages for Python.

Everything here calls the same Rust functions as the ``lmrepro`` CLI (the native module
``lmrepro._lmrepro``); the GIL is released while Rust works, and the ``*_batch`` functions run in
parallel. Adapters: :mod:`lmrepro.datatrove` (datatrove pipeline steps) and :mod:`lmrepro.dclm`
(DCLM mapper functions).

- :func:`extract_plain_text` / :func:`extract_plain_text_batch`: resiliparse's signature;
- :class:`Pipeline`: DCLM's RefinedWeb heuristics (built in or a DCLM yaml), ``run`` /
  ``run_batch`` / ``__call__`` (DCLM's mapper contract);
- :class:`FastText`, :class:`QualityClassifier`: fastText prediction, DCLM's hq score;
- :func:`bff_files`, :func:`bff_dedup`, :func:`minhash_files`, :func:`minhash_signatures`;
- :class:`Tokenizer` (``Tokenizer.gpt_neox()``), :func:`iter_warc`, :func:`extract_warc`,
  :func:`read_jsonl`.

Errors from Rust raise :class:`LmreproError` (a ``ValueError``) or ``OSError`` (missing files).
"""

import json
import os
import tempfile
from typing import Iterable, List, Optional

from ._lmrepro import (  # noqa: F401
    FastText,
    LmreproError,
    Pipeline,
    QualityClassifier,
    Tokenizer,
    WarcIterator,
    __version__,
    bff_files,
    extract_plain_text,
    extract_plain_text_batch,
    extract_warc,
    iter_warc,
    minhash_files,
    minhash_signatures,
    read_jsonl,
)


def bff_dedup(texts: Iterable[str], **config) -> List[Optional[str]]:
    """BFF over an iterable of texts: the text each document keeps, ``None`` where BFF drops it.

    Plumbing only: the texts go through a temporary JSONL shard and :func:`bff_files` (``dedup
    bff``), so the result is the CLI's by construction. ``config``: :func:`bff_files`'s keywords.
    """
    texts = list(texts)
    with tempfile.TemporaryDirectory(prefix="lmrepro-bff-") as tmp:
        src = os.path.join(tmp, "docs.jsonl")
        with open(src, "w", encoding="utf-8") as f:
            for i, t in enumerate(texts):
                f.write(json.dumps({"text": t, "lmrepro_index": i}) + "\n")
        out = os.path.join(tmp, "out")
        bff_files([src], out, **config)
        kept: List[Optional[str]] = [None] * len(texts)
        for name in sorted(os.listdir(out)):
            if name.endswith(".jsonl.zst"):
                for d in read_jsonl(os.path.join(out, name)):
                    kept[d["lmrepro_index"]] = d["text"]
        return kept
