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
- `wcxb-dev`, `wcxb-test`: Murrough-Foley/web-content-extraction-benchmark (WCXB v1.0, 2025 pages;
  CC-BY-4.0 by its metadata.json), `{dev,test}/html/<id>.html.gz` with
  `ground-truth/<id>.json` `ground_truth.main_content`, only pages whose `page_type` is `article`
  (AEB's kind). Its labels are AI-generated with a review pass, so they are noisier than AEB's
  hand labels; the whole text is the label (`label_kind = "text"`: precision, recall and F1). Rules
  are tuned on `wcxb-dev`; `wcxb-test` is looked at only to check that a change carries over.
- `l3s-dev`, `l3s-test`: the L3S-GN1 news set (Kohlschütter et al., WSDM 2010; 621 news articles of 2008 from
  408 sites, each assessed by hand; research-use licence), as converted into one HTML file per
  page in the geodrome/page-signal snapshot (`L3S-GN1-20100130203947-00001/{original,annotated}`).
  The label is the text of the `x-nc-sel2` ("full text") spans of the assessed page in document
  order, one line per span: headline (`sel1`), supplemental text such as captions (`sel3`),
  related content and comments are not article body, as in AEB's `articleBody`
  (`label_kind = "text"`). Original pages that are not UTF-8 are read as Windows-1252. Pages
  whose id (a UUID) starts with a hex digit of even value are `l3s-dev` (tuning), the others
  `l3s-test` (checking that a change carries over).
- `dragnet-dev`, `dragnet-test` (fifth session): the Dragnet set (Peters & Lecocq, WWW 2013:
  1,381 news and blog pages of 2012 with hand-marked content; seomoz/dragnet_data, whose own
  files are Git LFS pointers), as mirrored in j-szulc/html-cleaning-dataset-merged
  (`dragnet_data/{input/<id>.html,GoldStandard/<id>.txt}`). The label is the gold text before
  its comments marker (`!@#$%^&*()  COMMENTS`, typed by hand in several variants; comments are
  not content). Unlike AEB's `articleBody`, it
  keeps the headline, dates, bylines and captions, so rules about those are not judged on it.
  Files that are not UTF-8 are read as Windows-1252. Pages whose name's MD5 starts with an even
  hex digit are `dragnet-dev`, the others `dragnet-test`.

Any page whose URL is one of the AEB test set's (ground-truth `url` fields only; never its texts),
compared as host without `www.` + path without a trailing slash, is excluded; the counts go to
stderr. Readability's pages name their URL in `<link rel=canonical>` or `og:url` (some have none);
goose's in the JSON `url` field.

Usage: dev_sets.py --readability GITDIR --goose GITDIR [--wcxb GITDIR] [--l3s GITDIR]
                   [--dragnet GITDIR] --aeb-truth JSON --out PAGES.jsonl
Output lines: {"set", "name", "url", "html", "label", "label_kind": "html" | "text_prefix" | "text"}.
"""
import argparse, gzip, hashlib, json, re, subprocess, sys
from html.parser import HTMLParser
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


class _Spans(HTMLParser):
    """Texts of the outermost `<span class="x-nc-sel2">` elements, in document order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0  # open spans inside (and including) the current sel2 span
        self.texts, self.cur = [], []

    def handle_starttag(self, tag, attrs):
        if tag != "span":
            return
        if self.depth:
            self.depth += 1
        elif "x-nc-sel2" in (dict(attrs).get("class") or "").split():
            self.depth, self.cur = 1, []

    def handle_endtag(self, tag):
        if tag == "span" and self.depth:
            self.depth -= 1
            if not self.depth:
                self.texts.append(" ".join("".join(self.cur).split()))

    def handle_data(self, data):
        if self.depth:
            self.cur.append(data)


def full_text_spans(html):
    p = _Spans()
    p.feed(html)
    return [t for t in p.texts if t]


def text_of(raw):
    """UTF-8, else Windows-1252 (the 2008–2012 pages of L3S-GN1 and Dragnet)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--readability", required=True)
    ap.add_argument("--goose", required=True)
    ap.add_argument("--wcxb")
    ap.add_argument("--l3s")
    ap.add_argument("--dragnet")
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

    if a.wcxb:
        for split in ["dev", "test"]:
            for f in git_ls(a.wcxb, f"{split}/ground-truth"):
                meta = json.loads(git_show(a.wcxb, f"{split}/ground-truth/{f}"))
                if meta.get("_internal", {}).get("page_type", {}).get("primary") != "article":
                    continue
                label = (meta.get("ground_truth") or {}).get("main_content")
                if not label:
                    continue
                raw = gzip.decompress(git_show(a.wcxb, f"{split}/html/{f[:-5]}.html.gz"))
                html = raw.decode("utf-8", errors="replace")
                add(f"wcxb-{split}", f[:-5], meta.get("url"), html, label, "text")

    if a.l3s:
        root = "L3S-GN1-20100130203947-00001"
        urls = {}
        for line in git_show(a.l3s, f"{root}/url-mapping.txt").decode().splitlines():
            if "\t" in line:
                uuid, url = line.split("\t", 1)
                urls[uuid.strip("<>").removeprefix("urn:uuid:")] = url.strip()
        for f in git_ls(a.l3s, f"{root}/annotated"):
            label = "\n".join(full_text_spans(git_show(a.l3s, f"{root}/annotated/{f}").decode(
                "utf-8", errors="replace")))
            html = text_of(git_show(a.l3s, f"{root}/original/{f}"))
            if label.strip():
                half = "dev" if int(f[0], 16) % 2 == 0 else "test"
                add(f"l3s-{half}", f[:-5], urls.get(f[:-5]), html, label, "text")

    if a.dragnet:
        for f in git_ls(a.dragnet, "dragnet_data/input"):
            if not f.endswith(".html"):
                continue
            name = f[:-5]
            gold = text_of(git_show(a.dragnet, f"dragnet_data/GoldStandard/{name}.txt"))
            # The marker is typed by hand, with variants ("!@ $%^&*()  COMMENTS",
            # "!@#$%^&*   COMMENTS", "!@#$%^&*()  CORRECTED", a bare "!@#$%^&*()"): a line of
            # that punctuation around "$%^&", then perhaps one upper-case word (not "***", a
            # section break of the article).
            label = re.split(r"(?m)^[!@#$%^&*() \t]*\$%\^&[!@#$%^&*() \t]*[A-Z]*[ \t\r]*$", gold,
                             maxsplit=1)[0].strip()
            if not label:
                continue
            html = text_of(git_show(a.dragnet, f"dragnet_data/input/{f}"))
            half = "dev" if int(hashlib.md5(name.encode()).hexdigest()[0], 16) % 2 == 0 else "test"
            add(f"dragnet-{half}", name, page_url(html), html, label, "text")

    with open(a.out, "w") as out:
        for p in pages:
            out.write(json.dumps(p, ensure_ascii=False) + "\n")
    print(json.dumps(stats, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
