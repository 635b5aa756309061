#!/usr/bin/env python3
"""Development sets for quality-mode tuning (issue 18 §2, third session): exports public labelled
article pages from two git snapshots into one JSONL file, outside the repository, for
`cargo run --release -p lmrepro-extract --example dev_sets` (scores) and
`bench_quality_peers.py --pages` (trafilatura 2.0.0 on the same pages). Standard library only.

Sets (the files are read with `git --git-dir=<repo> show HEAD:<path>` and never committed):
- `readability`: mozilla/readability `test/test-pages/<name>/{source.html,expected.html}`
  (Apache-2.0). The label is Readability.js's reviewed expected article HTML, turned into text by
  the Rust side. Pages whose `source.html` is under 5,000 bytes are left out: they are synthetic
  fixtures of one Readability feature (`rtl-1`, `replace-brs`, ...), not article pages.
- `goose`: goose3/goose3 `tests/data/content/test_*.{html,json}` (Apache-2.0) with an
  `expected.cleaned_text`. That text is a *prefix* of goose's article text (goose's test asserts
  `result[:len(expected)] == expected`), so it is scored for recall only.

Any page whose URL is one of the AEB test set's (ground-truth `url` fields only; never its texts),
compared as host without `www.` + path without a trailing slash, is excluded; the counts go to
stderr. Readability's pages name their URL in `<link rel=canonical>` or `og:url` (some have none);
goose's in the JSON `url` field.

Usage: dev_sets.py --readability GITDIR --goose GITDIR --aeb-truth JSON --out PAGES.jsonl
Output lines: {"set", "name", "url", "html", "label", "label_kind": "html" | "text_prefix"}.
"""
import argparse, json, re, subprocess, sys
from urllib.parse import urlsplit


def git_show(gitdir, path):
    return subprocess.run(["git", f"--git-dir={gitdir}", "show", f"HEAD:{path}"],
                          check=True, capture_output=True).stdout


def git_ls(gitdir, path):
    out = subprocess.run(["git", f"--git-dir={gitdir}", "ls-tree", "--name-only", f"HEAD:{path}"],
                         check=True, capture_output=True, text=True).stdout
    return sorted(out.split())


def url_key(url):
    """host (lower case, without `www.`) + path (without trailing slash); scheme, query dropped."""
    if not url:
        return None
    u = urlsplit(url if "//" in url else "//" + url)
    host = (u.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    return host + u.path.rstrip("/")


CANONICAL = [
    re.compile(r'<link[^>]*rel=["\']?canonical["\']?[^>]*href=["\']([^"\']+)', re.I),
    re.compile(r'<link[^>]*href=["\']([^"\']+)["\'][^>]*rel=["\']?canonical', re.I),
    re.compile(r'<meta[^>]*property=["\']og:url["\'][^>]*content=["\']([^"\']+)', re.I),
    re.compile(r'<meta[^>]*content=["\']([^"\']+)["\'][^>]*property=["\']og:url', re.I),
]


def page_url(html):
    for r in CANONICAL:
        m = r.search(html)
        if m:
            return m.group(1)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--readability", required=True)
    ap.add_argument("--goose", required=True)
    ap.add_argument("--aeb-truth", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    aeb = [v["url"] for v in json.load(open(a.aeb_truth)).values()]
    aeb_urls, aeb_keys = set(aeb), {url_key(u) for u in aeb}
    pages, stats = [], {}

    def add(set_name, name, url, html, label, kind):
        s = stats.setdefault(set_name, {"kept": 0, "excluded_aeb": [], "no_url": 0})
        if url and (url in aeb_urls or url_key(url) in aeb_keys):
            s["excluded_aeb"].append(name)
            return
        s["no_url"] += url is None
        s["kept"] += 1
        pages.append({"set": set_name, "name": name, "url": url, "html": html, "label": label,
                      "label_kind": kind})

    rd = a.readability
    small = 0
    for name in git_ls(rd, "test/test-pages"):
        src = git_show(rd, f"test/test-pages/{name}/source.html")
        if len(src) < 5000:
            small += 1
            continue
        html = src.decode("utf-8")
        label = git_show(rd, f"test/test-pages/{name}/expected.html").decode("utf-8")
        add("readability", name, page_url(html), html, label, "html")
    stats["readability"]["synthetic_left_out"] = small

    gd = a.goose
    no_label = 0
    for f in git_ls(gd, "tests/data/content"):
        if not f.endswith(".json"):
            continue
        meta = json.loads(git_show(gd, f"tests/data/content/{f}"))
        label = (meta.get("expected") or {}).get("cleaned_text")
        if not label:
            no_label += 1
            continue
        html = git_show(gd, f"tests/data/content/{f[:-5]}.html").decode("utf-8")
        add("goose", f[:-5], meta.get("url"), html, label, "text_prefix")
    stats["goose"]["no_cleaned_text"] = no_label

    with open(a.out, "w") as out:
        for p in pages:
            out.write(json.dumps(p, ensure_ascii=False) + "\n")
    print(json.dumps(stats, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
