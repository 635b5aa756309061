#!/usr/bin/env python3
"""Re-runs BigScience's own table conversion on a released results directory.

Generates `crates/bloom/tests/fixtures/bloom1b3_mdtable.txt`, the conformance fixture for the
BLOOM-1b7 rows of `results/bloom/zero_shot.csv` (BigScience committed no mdtable.txt for
`bloom1b3`). The upstream script is run itself, not re-implemented: its source is read from the
bigscience repository at the pinned commit and executed with two textual substitutions:

1. the hard-coded input `bloom2b5/bslmeval.json` becomes `<model>/bslmeval.json`;
2. `ONE_LINE = "| {} | {} | {} | {} |"` (four cells: the pinned revision drops the OPT column its
   `format` call still passes) becomes five cells, so the OPT-175B medians are written too.

As a check of the method, the same run is made for `bloom` and `bloom2b5` and must reproduce their
committed mdtable.txt files cell for cell (bloom's golden has the OPT column; bloom2b5's has not, so
only its first four cells are compared). Standard library only; no network.

Usage (CPython 3.11.7 in a throwaway venv, run from anywhere):

    python3 -m venv /work/venv-bloom
    /work/venv-bloom/bin/python crates/bloom/tools/gen_conversion_fixture.py \
        --bigscience-git /work/.mirror/bigscience-workshop+bigscience/repo \
        --data /work/shared/data/bloom \
        --out crates/bloom/tests/fixtures/bloom1b3_mdtable.txt

`--bigscience-git` is a git directory (bare or not) of github.com/bigscience-workshop/bigscience that
contains commit 9e64edec2ad1fb9263bf39ba616a84ff64b4d947; the humaneval_temp*.json files of
`bloom/` and `opt/` (which the script reads) come from it, the bslmeval.json files from `--data`
(the pinned mirror, sha256-checked here).
"""

import argparse
import hashlib
import os
import runpy
import shutil
import subprocess
import sys
import tempfile

COMMIT = "9e64edec2ad1fb9263bf39ba616a84ff64b4d947"
SCRIPT = "evaluation/results/tr11/conversion/json_to_markdown.py"
SHA256 = {
    "bloom": "07aeef2955339cfec351367dee14679c3fc12b2b7f9ec7891f10478fd55f4760",
    "bloom1b3": "d849c543d6d88892b5645bd6d2246523d894c6dd378e14140ec0f32744ab6273",
    "bloom2b5": "5a0887e159613f0889aef88dcee79d46bba5bb49ddfaca90ca82356002b1bbb5",
    "opt": "b601c56741b179a2c6dbde93476d68bb5b51570058a7578cf66b371ff4cc34c0",
}


def git_show(git_dir, path):
    return subprocess.run(
        ["git", "--git-dir", git_dir, "show", f"{COMMIT}:{path}"],
        check=True,
        capture_output=True,
    ).stdout


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_conversion(source, model, workdir):
    """Runs the upstream script on `<model>/bslmeval.json` inside `workdir`; returns mdtable rows."""
    old_input = '"bloom2b5/bslmeval.json"'
    old_line = 'ONE_LINE = "| {} | {} | {} | {} |"'
    assert source.count(old_input) == 1 and source.count(old_line) == 1, "script changed"
    patched = source.replace(old_input, f'"{model}/bslmeval.json"').replace(
        old_line, 'ONE_LINE = "| {} | {} | {} | {} | {} |"'
    )
    script = os.path.join(workdir, "conversion.py")
    with open(script, "w") as f:
        f.write(patched)
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        runpy.run_path(script, run_name="__main__")
        with open("mdtable.txt") as f:
            table = f.read()
    finally:
        os.chdir(cwd)
    return table.split("\n")


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bigscience-git", required=True)
    ap.add_argument("--data", required=True, help="the pinned mirror folder data/bloom")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    source = git_show(args.bigscience_git, SCRIPT).decode()
    work = tempfile.mkdtemp(prefix="bloom-conversion-")
    try:
        for model, digest in SHA256.items():
            src = os.path.join(args.data, "tr11_eval", model, "bslmeval.json")
            if sha256(src) != digest:
                sys.exit(f"{src}: sha256 differs from the pin {digest}")
            os.makedirs(os.path.join(work, model))
            shutil.copy(src, os.path.join(work, model, "bslmeval.json"))
        for model in ("bloom", "opt"):
            for temp in ("02", "06", "08"):
                name = f"humaneval_temp{temp}.json"
                data = git_show(args.bigscience_git, f"evaluation/results/tr11/{model}/{name}")
                with open(os.path.join(work, model, name), "wb") as f:
                    f.write(data)

        # The method check: the committed goldens come out of the same run.
        for model, width in (("bloom", 5), ("bloom2b5", 4)):
            ours = run_conversion(source, model, work)[2:]
            with open(os.path.join(args.data, "tr11_eval", model, "mdtable.txt")) as f:
                golden = f.read().split("\n")[2:]
            golden = [g for g in golden if g.strip()]
            assert len(ours) == len(golden), (model, len(ours), len(golden))
            for a, b in zip(ours, golden):
                assert cells(a)[:width] == cells(b), (model, a, b)
            print(f"{model}: {len(ours)} rows equal the committed mdtable.txt")

        # The Rust side reads humaneval from the mirror's merged CSV (6 decimals): it must hold
        # the JSON values rounded to 6 places, and rounding those to 3 must not differ from
        # rounding the full values (no double-rounding change).
        import csv
        import json

        with open(os.path.join(args.data, "tr11_eval", "humaneval_pass_at_k.csv")) as f:
            merged = list(csv.DictReader(f))
        checked = 0
        for row in merged:
            temp = {"0.2": "02", "0.6": "06", "0.8": "08"}[row["temperature"]]
            path = f"evaluation/results/tr11/{row['repo_dir']}/humaneval_temp{temp}.json"
            full = json.loads(git_show(args.bigscience_git, path))
            for k, v in full.items():
                assert abs(float(row[k]) - round(v, 6)) < 1e-12, (path, k)
                assert round(v, 3) == round(float(row[k]), 3), (path, k)
                checked += 1
        print(f"humaneval: {checked} CSV values = JSON rounded to 6 places, same 3-place rounding")

        rows = run_conversion(source, "bloom1b3", work)
        with open(args.out, "w") as f:
            f.write("\n".join(rows) + "\n")
        print(f"bloom1b3: {len(rows) - 2} rows -> {args.out}")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
