#!/usr/bin/env python3
"""Peers on the development sets of `dev_sets.py` (issue 18 §2, third session): trafilatura 2.0.0
(`extract(html, include_comments=False)`, as in `bench_quality_peers.py`) and resiliparse 2.0.1
(DCLM's call) on every page of PAGES.jsonl; writes OUT_DIR/<peer>.jsonl, lines
{"key": "<set>/<name>", "text"}, scored by `cargo run --release -p lmrepro-extract --example
dev_sets -- PAGES.jsonl --pred OUT_DIR/<peer>.jsonl`. Runs in the peers venv
(`.venv-bench/peers`, benchmarks/requirements-peers.txt).

Usage: dev_sets_peers.py PAGES.jsonl OUT_DIR [--peers trafilatura,resiliparse]
"""
import argparse, json, os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pages")
    ap.add_argument("out_dir")
    ap.add_argument("--peers", default="trafilatura,resiliparse")
    a = ap.parse_args()
    from resiliparse.extract.html2text import extract_plain_text
    import trafilatura

    fns = {
        "resiliparse": lambda s: extract_plain_text(s, main_content=True),
        "trafilatura": lambda s: trafilatura.extract(s, include_comments=False),
    }
    pages = [json.loads(l) for l in open(a.pages)]
    os.makedirs(a.out_dir, exist_ok=True)
    for peer in a.peers.split(","):
        with open(os.path.join(a.out_dir, f"{peer}.jsonl"), "w") as f:
            for p in pages:
                text = fns[peer](p["html"])
                f.write(json.dumps({"key": f"{p['set']}/{p['name']}", "text": text}) + "\n")


if __name__ == "__main__":
    main()
