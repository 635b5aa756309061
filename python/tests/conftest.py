"""Shared paths of the binding tests: the pinned-data mirror, the conformance goldens and the
`lmrepro` CLI the bindings are compared with (`cargo xtask test` passes all three)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIRROR = Path(os.environ.get("LMREPRO_DATA_MIRROR") or ROOT.parent / "shared" / "data")
CONFORMANCE = Path(os.environ.get("LMREPRO_CONFORMANCE") or ROOT.parent / "shared" / "conformance")

def mirror(rel: str) -> Path:
    p = MIRROR / rel
    if not p.is_file():
        pytest.fail(f"pinned input {p} missing: set LMREPRO_DATA_MIRROR (see README 'Data')")
    return p


def golden(rel: str) -> Path:
    p = CONFORMANCE / rel
    if not p.is_file():
        pytest.fail(f"conformance golden {p} missing: set LMREPRO_CONFORMANCE")
    return p


@pytest.fixture(scope="session")
def cli() -> str:
    """The `lmrepro` binary (`LMREPRO_CLI`, else the workspace's debug or release build)."""
    cands = [os.environ.get("LMREPRO_CLI")]
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    cands += [str(target / "debug" / "lmrepro"), str(target / "release" / "lmrepro")]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    pytest.fail("the lmrepro CLI is not built: `cargo build -p lmrepro-cli` or set LMREPRO_CLI")
