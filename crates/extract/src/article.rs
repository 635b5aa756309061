//! Quality mode (`--mode quality`): an article extractor over the same [`Dom`] as the faithful
//! resiliparse port, written for extraction quality (precision *and* recall of the main text)
//! rather than for byte-identity with another tool.
//!
//! Ideas taken from published extractors (no code copied; see `docs/extract.md`): readability's
//! paragraph scores propagated to ancestors and its sibling inclusion, trafilatura's and
//! jusText's link density per block and boilerplate class/id vocabulary, schema.org
//! `itemprop="articleBody"` hints, and a fallback to the whole-page extraction when the article
//! found is too short. Four passes, all linear in the number of nodes:
//!
//! 1. `Stats::compute`: one pre-order list of the body, then bottom-up per element: visible
//!    text characters, characters inside links, commas of the element's own text (text whose
//!    nearest block ancestor it is); elements that never carry main text (scripts, forms,
//!    hidden elements) are cut off here.
//! 2. `choose_roots`: score "paragraphs" (blocks with own text), add the score to the paragraph
//!    and its 4 nearest ancestors (÷1, ÷1, ÷2, ÷6, ÷9; a wrapper — an element whose one child
//!    holds all its text — shares its child's level), weight candidates by tag and class/id,
//!    scale by `1 - link density`; the best candidate (climbing to a parent that scores at least
//!    as high, `CLIMB_SHARE`; or the `articleBody` element when there is one with enough text) is the root, and its
//!    siblings join when they score alike; then paragraphs of the article region outside the
//!    roots that no boilerplate rule drops and that are not teaser cards of other pages join as
//!    roots of their own (`with_orphans`: split article bodies, lead paragraphs in a header
//!    block); subheadings, lists and quotes between two roots of one parent join too
//!    (`fill_gaps`).
//! 3. `Writer`: text of the roots in document order with one line per block; boilerplate
//!    blocks inside the roots (navigation, share bars, bylines, captions, comments, link lists)
//!    are left out.
//! 4. Repeated short lines are dropped (menus and share bars printed twice), and a result
//!    shorter than [`MIN_ARTICLE_CHARS`] falls back to the faithful `main_content` extraction
//!    (without comment sections) when that one is more than [`FALLBACK_RATIO`] times longer.
//!
//! Deterministic: no hashing of pointers, ties broken by document order.

use crate::dom::{Dom, Kind, Node, NodeId, Tag, NONE};
use crate::extract::{extract_from_dom, ExtractOptions};
use std::collections::HashSet;

/// A result with fewer visible characters than this is checked against the faithful extraction
/// (trafilatura does the same with its fallback extractors: a short article is more often a
/// wrong choice than a short page) ...
pub const MIN_ARTICLE_CHARS: usize = 2000;

/// ... which replaces it when it has more than this many times its visible characters (tuned on
/// the trafilatura set together with [`MIN_ARTICLE_CHARS`]: 500/any longer 0.8996, 1000/2× 0.9008,
/// 2000/3× 0.9025, 3000/3× 0.9019, 2000/2.5× 0.9009, 3000/4× 0.8996).
pub const FALLBACK_RATIO: usize = 3;

/// Extracts the main article text of a parsed page (see the module docs).
pub fn extract_article(dom: &Dom) -> String {
    let Some(body) = dom.body() else {
        return String::new();
    };
    let stats = Stats::compute(dom, body);
    let roots = choose_roots(dom, &stats, body);
    let mut w = Writer::new(dom, &stats);
    for &r in &roots {
        w.write(r);
    }
    let text = dedup_lines(&w.finish());
    let ours = visible_chars(&text);
    if ours < MIN_ARTICLE_CHARS {
        let faithful = extract_from_dom(dom, &fallback_options());
        let theirs = prose_chars(&faithful);
        if theirs > FALLBACK_RATIO * prose_chars(&text) {
            return faithful;
        }
    }
    text
}

/// The elements [`extract_article`] writes, for diagnosis (the `dev_sets` example's `--show`):
/// each as its path from the body, `tag.class#id` per level, with its visible characters.
pub fn describe_roots(dom: &Dom) -> Vec<String> {
    let Some(body) = dom.body() else {
        return Vec::new();
    };
    let stats = Stats::compute(dom, body);
    let label = |id: NodeId| {
        let n = dom.node(id);
        let tag = match &n.kind {
            Kind::Element { qual, .. } => qual.local.to_string(),
            _ => String::new(),
        };
        let (class, nid) = (n.attr("class"), n.attr("id"));
        let mut l = tag;
        if !class.is_empty() {
            l.push('.');
            l.push_str(&class.split_whitespace().collect::<Vec<_>>().join("."));
        }
        if !nid.is_empty() {
            l.push('#');
            l.push_str(nid);
        }
        l
    };
    choose_roots(dom, &stats, body)
        .into_iter()
        .map(|r| {
            let mut path = Vec::new();
            let mut a = r;
            while a != NONE && a != body {
                path.push(label(a));
                a = dom.node(a).parent;
            }
            path.reverse();
            format!("{} chars: {}", stats.chars[r as usize], path.join(" > "))
        })
        .collect()
}

/// The faithful extraction used as fallback: DCLM's call without comment sections
/// (resiliparse's own `comments=False`; `post_meta=False` as well made no difference on the
/// tuning set).
fn fallback_options() -> ExtractOptions {
    ExtractOptions {
        comments: false,
        ..ExtractOptions::dclm()
    }
}

const PROSE_MIN_WORDS: usize = 6;

fn prose_chars(s: &str) -> usize {
    s.lines()
        .filter(|l| {
            l.split_whitespace().count() >= PROSE_MIN_WORDS
                && l.trim_end()
                    .ends_with(['.', '!', '?', '"', '\u{201d}', '\u{2019}', ')'])
        })
        .map(visible_chars)
        .sum()
}

fn visible_chars(s: &str) -> usize {
    s.chars().filter(|c| !c.is_whitespace()).count()
}

/// ASCII white space as HTML defines it (plus vertical tab, as C `isspace`).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Elements whose content is never article text.
fn never_content(tag: Tag) -> bool {
    use Tag::*;
    matches!(
        tag,
        Script
            | Style
            | Noscript
            | Template
            | Svg
            | Select
            | Option
            | Button
            | Input
            | Textarea
            | Iframe
            | Frame
            | Object
            | Embed
            | Audio
            | Video
            | Label
    )
}

/// Blocks: a new line starts before and after them; text belongs to its nearest block.
fn is_block(tag: Tag) -> bool {
    tag.is_block() || matches!(tag, Tag::Td | Tag::Th | Tag::Body)
}

/// `hidden`, `aria-hidden="true"`, inline `display:none` / `visibility:hidden`; not React's
/// streamed-render segments (`<div hidden id="S:0">`), which hold the page's server-rendered
/// content until a script moves it into place (14 of the 791 WCXB development article pages,
/// 2025, have their whole article there).
fn is_hidden(dom: &Dom, id: NodeId) -> bool {
    let n = dom.node(id);
    if (n.has_attr("hidden") && !is_react_segment(n.attr("id")))
        || n.attr("aria-hidden").trim() == "true"
    {
        return true;
    }
    let style = n.attr("style");
    if style.is_empty() {
        return false;
    }
    let s: String = style
        .chars()
        .filter(|c| !is_space(*c))
        .flat_map(char::to_lowercase)
        .collect();
    s.contains("display:none") || s.contains("visibility:hidden")
}

/// `S:` followed by digits: the id React 18's streaming server renderer gives the hidden
/// container of a finished segment.
fn is_react_segment(id: &str) -> bool {
    id.strip_prefix("S:")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Word prefixes of class/id values that mark boilerplate (page furniture, social, comments,
/// bylines, captions, teasers) — the vocabulary readability's "unlikely candidates" and
/// trafilatura's discard lists share, in our own selection. Fifth session: `more`/`readmore`
/// out (a "read more" expander holds the rest of the article, `show-more` a hidden part of it;
/// the "Read more" links themselves go by link density; readability set +0.0080, WCXB
/// +0.0003), `widget` only as the first word of a token ([`BOILER_TOKEN_STARTS`]: page builders
/// such as Elementor wrap every block of the article in `elementor-widget-container`; WCXB
/// +0.0019 / +0.0013), `gallery` in (an embedded picture gallery's captions, no longer
/// caught by its `dnd-widget-wrapper`) and `recent` in (`recent-updates`, `recentArticles`:
/// lists of other posts under a blog post; Dragnet +0.0004 / +0.0002, others unchanged).
const BOILER_PREFIXES: [&str; 52] = [
    "gallery",
    "recent",
    "comment",
    "disqus",
    "respond",
    "reply",
    "share",
    "sharing",
    "social",
    "sociable",
    "related",
    "recommend",
    "teaser",
    "promo",
    "sponsor",
    "advert",
    "ads",
    "adsense",
    "banner",
    "sidebar",
    "newsletter",
    "subscribe",
    "subscription",
    "signup",
    "login",
    "register",
    "breadcrumb",
    "crumbs",
    "pagination",
    "pager",
    "navigation",
    "nav",
    "navbar",
    "menu",
    "footer",
    "masthead",
    "header",
    "byline",
    "author",
    "timestamp",
    "date",
    "caption",
    "credit",
    "tags",
    "tagcloud",
    "categories",
    "rating",
    "popup",
    "modal",
    "cookie",
    "consent",
    "gdpr",
];

/// Exact words (too short or too common to match as prefixes). Not `hidden`/`hide`: on the
/// tuning set they are mostly responsive-layout classes (`hidden-xs`) around visible text.
const BOILER_WORDS: [&str; 7] = ["ad", "meta", "info", "tag", "cat", "top", "bio"];

/// Words that mark the main text; they veto a boilerplate match of the same element (a
/// `post-content` wrapper of a `post-meta` is content).
const CONTENT_PREFIXES: [&str; 10] = [
    "article", "content", "entry", "post", "story", "body", "text", "main", "blog", "hentry",
];

/// Word prefixes that are never boilerplate although a boiler prefix matches them: a news
/// dateline ("KOBE, Japan —", class `dateline`, matched by `date`) opens the article's first
/// paragraph and is part of its text (third session: 0.9045 → 0.9047 on the trafilatura set,
/// neutral on the other two).
const NOT_BOILER_PREFIXES: [&str; 1] = ["dateline"];

/// See [`class_sign`].
const BOILER_TOKEN_STARTS: [&str; 10] = [
    "related",
    "sidebar",
    "widget",
    "footer",
    "share",
    "social",
    "newsletter",
    "promo",
    "sponsor",
    "breadcrumb",
];

/// Class/id evidence of one element: -1 boilerplate, +1 content, 0 neither (or both). The words
/// of `class` and `id` (split at anything not alphanumeric, lower-cased) match the vocabularies
/// above as whole words *or* word prefixes (`comments`, `sharebar`); a boilerplate word is vetoed
/// by a content word of the same element (a `post-content` wrapper of a `post-meta` is content).
/// A class or id token that *begins* with "comment" names a comment block, whatever content words
/// follow or stand beside it (`comment-body`, `comment-content entry-content`), and one that
/// begins with "widget" a sidebar widget (WordPress: `widget widget_text` with id `text-5`;
/// fifth session, when `widget` stopped counting anywhere in a token: Dragnet +0.0012 /
/// +0.0019); one that begins with another boilerplate word (`related-content`, `sidebar-content`) does too, unless another
/// token of the element is a content token (`entry-content sharing-enabled`). One pass over the
/// two attributes.
fn class_sign(dom: &Dom, id: NodeId) -> i32 {
    let n = dom.node(id);
    let (mut any_word, mut boiler, mut content) = (false, false, false);
    // `always`: a comment or widget token, boilerplate whatever the other tokens say.
    let (mut always, mut lead) = (false, false);
    let leads = |t: &str| BOILER_TOKEN_STARTS.iter().any(|p| starts_ci(t, p));
    for t in class_id_tokens(n) {
        always |= starts_ci(t, "comment") || starts_ci(t, "widget");
        lead |= leads(t);
        for w in t.split(|c: char| !c.is_alphanumeric()) {
            if w.is_empty() {
                continue;
            }
            // ASCII words are compared in place; others lower-cased first (Unicode rules).
            let lower;
            let w = if w.is_ascii() {
                w
            } else {
                lower = w.to_lowercase();
                lower.as_str()
            };
            if NOT_BOILER_PREFIXES.iter().any(|p| starts_ci(w, p)) {
                continue;
            }
            any_word = true;
            boiler |= BOILER_PREFIXES.iter().any(|p| starts_ci(w, p))
                || BOILER_WORDS.iter().any(|e| w.eq_ignore_ascii_case(e));
            content |= CONTENT_PREFIXES.iter().any(|p| starts_ci(w, p));
        }
    }
    if !any_word {
        return 0;
    }
    if always || (lead && !class_id_tokens(n).any(|t| !leads(t) && names_content(t))) {
        return -1;
    }
    match (boiler, content) {
        (true, false) => -1,
        (false, true) => 1,
        _ => 0,
    }
}

/// See [`is_furniture_class`].
const FURNITURE_TOKEN_STARTS: [&str; 4] = ["sidebar", "widget", "footer", "comment"];

/// Page furniture named by class or id, like `<aside>` or `<footer>` by tag: a token that begins
/// with a word of [`FURNITURE_TOKEN_STARTS`] (`sidebar`, `widget`, `footer-widgets`,
/// `comments`), unless a token names content (`sidebar-content`, `entry-content`, also
/// `widget_text`: then only [`class_sign`] drops it inside the roots) or a page
/// layout (`sidebar-layout` wraps the whole page). Fifth session: readability drops such
/// "unlikely candidates" before scoring; without this, the profile box or text widget of a
/// blog's sidebar outscored a short post (Dragnet dev/test +0.010 / +0.011, trafilatura set
/// +0.0013, WCXB-test −0.0003, others unchanged; with `related` as well no further change, with
/// all of [`BOILER_TOKEN_STARTS`] WCXB −0.0013 / −0.0021).
fn is_furniture_class(dom: &Dom, id: NodeId) -> bool {
    let n = dom.node(id);
    class_id_tokens(n).any(|t| {
        FURNITURE_TOKEN_STARTS.iter().any(|w| starts_ci(t, w)) && !contains_ci(t, "layout")
    }) && !class_id_tokens(n).any(names_content)
}

/// The white-space separated tokens of an element's `class` and `id`.
fn class_id_tokens(n: &Node) -> impl Iterator<Item = &str> {
    [n.attr("class"), n.attr("id")]
        .into_iter()
        .flat_map(str::split_ascii_whitespace)
}

/// Does a class/id token hold a content word anywhere (`entry-content`, `post_body`)?
fn names_content(t: &str) -> bool {
    CONTENT_PREFIXES.iter().any(|c| contains_ci(t, c))
}

/// Does `t` begin with the lower-case ASCII `p`, ignoring ASCII case?
fn starts_ci(t: &str, p: &str) -> bool {
    t.len() >= p.len() && t.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
}

/// Does `t` contain the lower-case ASCII `p`, ignoring ASCII case?
fn contains_ci(t: &str, p: &str) -> bool {
    t.as_bytes()
        .windows(p.len())
        .any(|w| w.eq_ignore_ascii_case(p.as_bytes()))
}

/// Per-node facts, indexed by node id.
pub(crate) struct Stats {
    /// Visible text characters (non-white-space chars) in the subtree, cut-off parts excluded.
    chars: Vec<u32>,
    /// ... of which inside `<a>`.
    link_chars: Vec<u32>,
    /// Characters / commas of the element's own text (text nodes whose nearest block it is).
    own_chars: Vec<u32>,
    own_link_chars: Vec<u32>,
    own_commas: Vec<u32>,
    /// Subtree cut off (never content, hidden).
    cut: Vec<bool>,
    /// The subtree holds a heading (`h1`–`h6`) with text that is more than half link text:
    /// the headline of a teaser card.
    link_heading: Vec<bool>,
    /// Inside page furniture: `<nav>`, `<aside>`, `<footer>` (or their ARIA roles), or an element
    /// that [`is_furniture_class`]. Paragraphs there never score: readability removes such
    /// "unlikely candidates" before scoring.
    furniture: Vec<bool>,
    /// A wrapper: an element whose only non-cut element child holds all of its text.
    wrapper: Vec<bool>,
    /// The page's first `<h1>` ([`NONE`] if none) and the words of its `<title>`: what
    /// [`is_headline`] compares an `<h1>` with.
    first_h1: NodeId,
    title_words: Vec<String>,
    /// Elements of the body in pre-order (cut subtrees left out, their root included).
    order: Vec<NodeId>,
}

impl Stats {
    pub(crate) fn compute(dom: &Dom, body: NodeId) -> Stats {
        let n = dom.nodes.len();
        let mut s = Stats {
            chars: vec![0; n],
            link_chars: vec![0; n],
            own_chars: vec![0; n],
            own_link_chars: vec![0; n],
            own_commas: vec![0; n],
            cut: vec![false; n],
            link_heading: vec![false; n],
            furniture: vec![false; n],
            wrapper: vec![false; n],
            first_h1: NONE,
            title_words: Vec::new(),
            order: Vec::new(),
        };
        // The headline's evidence, in one pass over all nodes (`<title>` is in the head).
        let mut title = NONE;
        for (i, node) in dom.nodes.iter().enumerate() {
            if let Kind::Element { tag, qual, .. } = &node.kind {
                if *tag == Tag::H1 && s.first_h1 == NONE {
                    s.first_h1 = i as NodeId;
                } else if title == NONE && &*qual.local == "title" {
                    title = i as NodeId;
                }
            }
        }
        if title != NONE {
            s.title_words = words_of(&dom.text_content(title));
        }
        // Pre-order, iterative; `block` and `in_link` are carried down the walk.
        let mut stack: Vec<(NodeId, NodeId, bool)> = vec![(body, body, false)];
        while let Some((id, block, in_link)) = stack.pop() {
            let node = dom.node(id);
            match &node.kind {
                Kind::Text(t) => {
                    let c = t.chars().filter(|c| !c.is_whitespace()).count() as u32;
                    let commas = t
                        .chars()
                        .filter(|&c| matches!(c, ',' | '，' | '、'))
                        .count();
                    s.chars[id as usize] = c;
                    s.own_chars[block as usize] += c;
                    s.own_commas[block as usize] += commas as u32;
                    if in_link {
                        s.link_chars[id as usize] = c;
                        s.own_link_chars[block as usize] += c;
                    }
                }
                Kind::Element { tag, .. } => {
                    s.order.push(id);
                    // Pre-order: the parent's furniture flag is already set.
                    let parent = node.parent;
                    s.furniture[id as usize] = (parent != NONE && s.furniture[parent as usize])
                        || matches!(tag, Tag::Nav | Tag::Aside | Tag::Footer)
                        || matches!(
                            node.attr("role").trim(),
                            "navigation" | "complementary" | "contentinfo"
                        )
                        || is_furniture_class(dom, id);
                    if id != body && (never_content(*tag) || is_hidden(dom, id)) {
                        s.cut[id as usize] = true;
                        continue;
                    }
                    let block = if is_block(*tag) { id } else { block };
                    let in_link = in_link || *tag == Tag::A;
                    // Children pushed in reverse so that they pop in document order.
                    let first = stack.len();
                    for c in dom.children(id) {
                        stack.push((c, block, in_link));
                    }
                    stack[first..].reverse();
                }
                _ => {}
            }
        }
        // Bottom-up sums: reverse pre-order visits children before parents.
        for &id in s.order.iter().rev() {
            if s.cut[id as usize] {
                continue;
            }
            let (mut c, mut l, mut lh) = (0, 0, false);
            let (mut elems, mut only) = (0u32, NONE);
            for ch in dom.children(id) {
                if s.cut[ch as usize] {
                    continue;
                }
                if dom.node(ch).is_element() {
                    elems += 1;
                    only = ch;
                }
                c += s.chars[ch as usize];
                l += s.link_chars[ch as usize];
                lh |= s.link_heading[ch as usize];
            }
            s.chars[id as usize] = c;
            s.wrapper[id as usize] = elems == 1 && s.chars[only as usize] == c;
            s.link_chars[id as usize] = l;
            s.link_heading[id as usize] = lh || (is_heading(dom, id) && c > 0 && l * 2 > c);
        }
        s
    }

    fn link_density(&self, id: NodeId) -> f64 {
        let c = self.chars[id as usize];
        if c == 0 {
            0.0
        } else {
            self.link_chars[id as usize] as f64 / c as f64
        }
    }
}

/// The top candidate gives way to its parent when the parent's final score is at least this
/// share of its own. Before the orphan pass 0.75 was best (0.5–0.9 within 0.001 F1 of each
/// other, no climbing 0.004 lower); with it, climbing only to a parent that scores at least as
/// high is better (0.5 0.9007, 0.75 0.9026, 0.9 0.9036, 1.0 0.9045, 1.2 0.9041, never 0.9043):
/// the orphan pass recovers the article parts a wider root used to bring, without its furniture.
const CLIMB_SHARE: f64 = 1.0;

/// A paragraph needs this many own characters to score (readability uses 25).
const MIN_PARAGRAPH_CHARS: u32 = 25;

fn tag_weight(tag: Tag) -> f64 {
    use Tag::*;
    match tag {
        Article | Main => 10.0,
        Div | Section => 5.0,
        Pre | Td | Blockquote => 3.0,
        Address | Ol | Ul | Dl | Dd | Dt | Li | Form => -3.0,
        H1 | H2 | H3 | H4 | H5 | H6 | Th => -5.0,
        Nav | Aside | Footer | Header => -25.0,
        _ => 0.0,
    }
}

/// Candidate weight from class/id (readability's ±25) and schema.org hints.
fn attr_weight(dom: &Dom, id: NodeId) -> f64 {
    let n = dom.node(id);
    let itemprop = n.attr("itemprop");
    if itemprop
        .split_ascii_whitespace()
        .any(|p| p == "articleBody" || p == "text")
    {
        return 50.0;
    }
    match class_sign(dom, id) {
        1 => 25.0,
        -1 => -25.0,
        _ => 0.0,
    }
}

/// A paragraph's score reaches at most this many ancestors, wrappers included (the 4 scored
/// levels of readability, plus wrappers; 8 to 14 give the same scores on the development sets
/// within 0.0004, 4 — no wrapper skipped past the fourth ancestor — loses 0.004 on WCXB; the
/// cap also bounds the work per paragraph on pathologically nested pages).
const MAX_SCORED_ANCESTORS: usize = 10;

/// Picks the element(s) holding the article, in document order.
pub(crate) fn choose_roots(dom: &Dom, s: &Stats, body: NodeId) -> Vec<NodeId> {
    let n = dom.nodes.len();
    let mut score = vec![0.0f64; n];
    let mut seen = vec![false; n];
    let mut candidates: Vec<NodeId> = Vec::new();
    // Paragraphs: elements with enough own text, at most half of it in links.
    let scores = |p: NodeId| {
        let own = s.own_chars[p as usize];
        !s.cut[p as usize]
            && own >= MIN_PARAGRAPH_CHARS
            && dom.node(p).tag().is_some()
            && s.own_link_chars[p as usize] * 2 <= own
    };
    let paragraphs: Vec<NodeId> = s.order.iter().copied().filter(|&p| scores(p)).collect();
    // Paragraphs in page furniture don't score, unless there are no others (an unclosed
    // `<aside>` banner holds the whole page).
    let skip_furniture = paragraphs.iter().any(|&p| !s.furniture[p as usize]);
    let mut targets: Vec<(NodeId, usize)> = Vec::new();
    for &p in &paragraphs {
        if skip_furniture && s.furniture[p as usize] {
            continue;
        }
        let own = s.own_chars[p as usize];
        let content = 1.0 + s.own_commas[p as usize] as f64 + (own as f64 / 100.0).floor().min(3.0);
        // The paragraph itself (a `<div>` with text is a paragraph too) and 4 ancestors.
        // Wrappers (an element whose one child holds all its text) share their child's level:
        // the CSS-framework nesting of today's pages (`row > col > div > section`) would
        // otherwise keep the score from reaching the element that holds all the sections.
        let mut a = dom.node(p).parent;
        let mut level = 0usize;
        targets.clear();
        targets.push((p, 0));
        let mut steps = 0usize;
        while a != NONE && steps < MAX_SCORED_ANCESTORS {
            if !s.wrapper[a as usize] {
                level += 1;
            }
            if level > 4 {
                break;
            }
            targets.push((a, level));
            if a == body {
                break;
            }
            a = dom.node(a).parent;
            steps += 1;
        }
        for &(t, lvl) in &targets {
            if dom.node(t).tag().is_none() {
                break;
            }
            if !seen[t as usize] {
                seen[t as usize] = true;
                let tag = dom.node(t).tag().unwrap_or(Tag::Other);
                score[t as usize] = tag_weight(tag) + attr_weight(dom, t);
                candidates.push(t);
            }
            let div = match lvl {
                0 | 1 => 1.0,
                2 => 2.0,
                l => (l as f64 - 1.0) * 3.0,
            };
            score[t as usize] += content / div;
        }
    }
    // Final scores: scaled by the share of text outside links.
    let fin = |id: NodeId| score[id as usize] * (1.0 - s.link_density(id));
    let mut top = NONE;
    let mut best = f64::NEG_INFINITY;
    for &c in &candidates {
        let f = fin(c);
        if f > best {
            best = f;
            top = c;
        }
    }
    // schema.org: the largest `itemprop="articleBody"` element wins when it holds text.
    let mut hinted = NONE;
    for &id in &s.order {
        if s.cut[id as usize] {
            continue;
        }
        let ip = dom.node(id).attr("itemprop");
        if ip.split_ascii_whitespace().any(|p| p == "articleBody")
            && (hinted == NONE || s.chars[id as usize] > s.chars[hinted as usize])
        {
            hinted = id;
        }
    }
    if hinted != NONE && s.chars[hinted as usize] >= 200 {
        return vec![hinted];
    }
    if top == NONE {
        return vec![body];
    }
    // A candidate that is its parent's only element child stands for the parent.
    while top != body {
        let parent = dom.node(top).parent;
        if parent == NONE || dom.node(parent).tag().is_none() {
            break;
        }
        let elems = dom
            .children(parent)
            .filter(|&c| dom.node(c).is_element() && !s.cut[c as usize])
            .count();
        if elems != 1 {
            break;
        }
        top = parent;
    }
    // An ancestor that scores close to the top candidate holds more of the article.
    loop {
        let parent = dom.node(top).parent;
        if top == body || parent == NONE || !seen[parent as usize] {
            break;
        }
        if fin(parent) >= CLIMB_SHARE * fin(top) {
            top = parent;
        } else {
            break;
        }
    }
    if top == body {
        return vec![body];
    }
    // Siblings that score like the top candidate (or are plain paragraphs) join it.
    let top_score = fin(top).max(0.0);
    let threshold = (top_score * 0.2).max(10.0);
    let top_class = dom.node(top).attr("class");
    let parent = dom.node(top).parent;
    let mut roots = Vec::new();
    for sib in dom.children(parent) {
        if sib == top {
            roots.push(sib);
            continue;
        }
        let node = dom.node(sib);
        let Some(tag) = node.tag() else { continue };
        if s.cut[sib as usize] || s.chars[sib as usize] == 0 {
            continue;
        }
        let mut bonus = 0.0;
        if !top_class.is_empty() && node.attr("class") == top_class {
            bonus += top_score * 0.2;
        }
        let joined = if seen[sib as usize] && fin(sib) + bonus >= threshold {
            true
        } else if tag == Tag::P {
            let c = s.chars[sib as usize];
            let ld = s.link_density(sib);
            (c > 80 && ld < 0.25) || (ld == 0.0 && ends_sentence(dom, sib))
        } else {
            false
        };
        if joined && class_sign(dom, sib) >= 0 {
            roots.push(sib);
        }
    }
    let roots = with_orphans(dom, s, body, top, roots);
    fill_gaps(dom, s, roots)
}

/// Is this `<h1>`–`<h6>`?
fn is_heading(dom: &Dom, id: NodeId) -> bool {
    matches!(
        dom.node(id).tag(),
        Some(Tag::H1 | Tag::H2 | Tag::H3 | Tag::H4 | Tag::H5 | Tag::H6)
    )
}

/// Elements between two roots of the same parent that join them when no rule of [`dropped`]
/// removes them: subheadings, lists, quotes, code, tables and short paragraphs that neither
/// scored nor count as orphans (third session: the section titles of an article whose roots
/// are its paragraphs; 0.9047 → 0.9050 on the trafilatura set, neutral on the other two; only
/// subheadings 0.9047, everything but text nodes 0.9049). A list or block that holds a teaser
/// card's linked headline stays out, as in the orphan walk (fifth session: neutral on every
/// development set; since wrappers stopped counting as levels, a one-paragraph continuation
/// can join as a sibling, and a teaser list in between would follow it).
fn fill_gaps(dom: &Dom, s: &Stats, roots: Vec<NodeId>) -> Vec<NodeId> {
    let mut out = Vec::with_capacity(roots.len());
    for (i, &r) in roots.iter().enumerate() {
        out.push(r);
        let Some(&next) = roots.get(i + 1) else {
            break;
        };
        let parent = dom.node(r).parent;
        if parent == NONE || dom.node(next).parent != parent {
            continue;
        }
        let mut sib = dom.node(r).next;
        while sib != NONE && sib != next {
            let joins = s.chars[sib as usize] > 0
                && (is_heading(dom, sib)
                    || matches!(
                        dom.node(sib).tag(),
                        Some(
                            Tag::Ul
                                | Tag::Ol
                                | Tag::Dl
                                | Tag::Blockquote
                                | Tag::Pre
                                | Tag::Table
                                | Tag::P
                        )
                    ))
                && !dropped(dom, s, sib, parent)
                && (is_heading(dom, sib) || !s.link_heading[sib as usize]);
            if joins {
                out.push(sib);
            }
            sib = dom.node(sib).next;
        }
    }
    out
}

/// The orphan region: this many ancestors up from the top candidate, its parent being the first
/// (tuned on the trafilatura set: 1 0.8873, 2 0.8924, 3 0.8960, 4 0.8970, 5 0.8994, 6 0.8950,
/// 10 0.8864; the body itself is never the region: 10 with the body allowed 0.8993 at lower
/// precision).
const ORPHAN_LEVELS: usize = 5;

/// An orphan paragraph has at least this many own characters (40–150 within 0.001) ...
const ORPHAN_MIN_CHARS: u32 = 80;

/// ... less than this share of them in links (0.1–0.5 within 0.001) and ends like a sentence
/// (without that test 0.0003 lower).
const ORPHAN_MAX_LINK_SHARE: f64 = 0.1;

/// Article paragraphs outside the chosen roots but near them, not inside boilerplate: split
/// article bodies, lead paragraphs in a header block, the article's continuation after an ad
/// slot. The region is the [`ORPHAN_LEVELS`]-th ancestor of the top candidate (never the body);
/// below it, every subtree is walked that [`dropped`] keeps (the path to the top candidate is
/// always kept), and every `<p>`, `<div>` or `<blockquote>` with enough own, link-poor,
/// sentence-like text becomes a root of its own. Returned with the roots in document order.
/// This is our reading of trafilatura's comparison with its fallback extractors (keep what the
/// wider baseline finds inside the article region), done on the DOM instead of on texts.
fn with_orphans(
    dom: &Dom,
    s: &Stats,
    body: NodeId,
    top: NodeId,
    roots: Vec<NodeId>,
) -> Vec<NodeId> {
    let mut region = dom.node(top).parent;
    for _ in 1..ORPHAN_LEVELS {
        if region == body {
            break;
        }
        let p = dom.node(region).parent;
        if p == NONE || dom.node(p).tag().is_none() {
            break;
        }
        region = p;
    }
    if region == body {
        return roots;
    }
    let mut on_path = Vec::new();
    let mut a = top;
    while a != region && a != NONE {
        on_path.push(a);
        a = dom.node(a).parent;
    }
    let mut out = Vec::with_capacity(roots.len());
    let mut stack = vec![region];
    while let Some(id) = stack.pop() {
        if roots.contains(&id) {
            out.push(id);
            continue;
        }
        let node = dom.node(id);
        let Some(tag) = node.tag() else { continue };
        if !on_path.contains(&id)
            && (dropped(dom, s, id, region) || (id != region && is_teaser_card(dom, s, id)))
        {
            continue;
        }
        let own = s.own_chars[id as usize];
        if !on_path.contains(&id)
            && id != region
            && matches!(tag, Tag::P | Tag::Div | Tag::Blockquote)
            && own >= ORPHAN_MIN_CHARS
            && (s.own_link_chars[id as usize] as f64) < ORPHAN_MAX_LINK_SHARE * own as f64
            && ends_sentence(dom, id)
        {
            out.push(id);
            continue;
        }
        let first = stack.len();
        for c in dom.children(id) {
            if dom.node(c).is_element() {
                stack.push(c);
            }
        }
        stack[first..].reverse();
    }
    if out.len() < roots.len() {
        return roots;
    }
    out
}

/// A teaser of another page: a list item that holds a linked headline, or an `<article>`,
/// `<div>` or `<section>` with a linked headline as a child — a headline and its summary
/// paragraph, whose paragraph would otherwise pass as an orphan (third session: on the
/// readability set 0.9386 → 0.9449 for list items, streams of teasers on news front and
/// article pages; with the other containers the trafilatura set 0.9050 → 0.9057; `<article>`s
/// *containing* a linked heading anywhere lost article text).
fn is_teaser_card(dom: &Dom, s: &Stats, id: NodeId) -> bool {
    match dom.node(id).tag() {
        Some(Tag::Li) => s.link_heading[id as usize],
        Some(Tag::Article | Tag::Div | Tag::Section) => dom.children(id).any(|c| {
            is_heading(dom, c) && !s.cut[c as usize] && {
                let (ch, l) = (s.chars[c as usize], s.link_chars[c as usize]);
                ch > 0 && l * 2 > ch
            }
        }),
        _ => false,
    }
}

/// Lower-case alphanumeric words of a text.
fn words_of(t: &str) -> Vec<String> {
    t.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// An `<h1>` that is the page's headline: the first `<h1>` of the page, or one whose words are
/// at least [`HEADLINE_TITLE_SHARE`] words of the `<title>`. Other `<h1>`s are section titles
/// (pages that use `<h1>` for every section) and stay.
fn is_headline(dom: &Dom, s: &Stats, id: NodeId) -> bool {
    id == s.first_h1 || title_words_share(dom, s, id, 0)
}

/// A heading of at least 3 words, [`HEADLINE_TITLE_SHARE`] of them `<title>` words: the headline
/// when it opens the text (`Writer::write`), whatever its level.
fn title_like(dom: &Dom, s: &Stats, id: NodeId) -> bool {
    title_words_share(dom, s, id, 3)
}

/// Has the element at least `min_words` words, [`HEADLINE_TITLE_SHARE`] of them in the `<title>`?
fn title_words_share(dom: &Dom, s: &Stats, id: NodeId, min_words: usize) -> bool {
    let h = words_of(&dom.text_content(id));
    let hits = h.iter().filter(|w| s.title_words.contains(w)).count();
    h.len() >= min_words && hits as f64 >= HEADLINE_TITLE_SHARE * h.len() as f64
}

/// See [`is_headline`].
const HEADLINE_TITLE_SHARE: f64 = 0.8;

fn ends_sentence(dom: &Dom, id: NodeId) -> bool {
    let t = dom.text_content(id);
    let t = t.trim_end();
    t.ends_with('.') || t.ends_with('!') || t.ends_with('?') || t.contains(". ")
}

/// Is this element (below `root`) left out as boilerplate? The rules of step 4 in the module
/// docs; `root` itself is never dropped unless cut.
fn dropped(dom: &Dom, s: &Stats, id: NodeId, root: NodeId) -> bool {
    if s.cut[id as usize] {
        return true;
    }
    if id == root {
        return false;
    }
    let node = dom.node(id);
    let Some(tag) = node.tag() else { return false };
    match tag {
        Tag::Nav | Tag::Aside | Tag::Footer | Tag::Figcaption | Tag::Form => return true,
        Tag::Time => return true,
        // The headline: schema.org `articleBody` (AEB's field) excludes it; on the tuning set
        // dropping it is neutral (0.9025 → 0.9026). Third session: only the headline
        // ([`is_headline`]; every `<h1>`: readability set 0.9450, title-like ones only 0.9453,
        // the first or title-like 0.9454; trafilatura set +0.0001).
        Tag::H1 if is_headline(dom, s, id) => return true,
        _ => {}
    }
    if matches!(
        node.attr("itemprop").trim(),
        "author" | "datePublished" | "dateModified" | "publisher"
    ) || matches!(node.attr("rel").trim(), "author" | "tag")
        || node.attr("role").trim() == "navigation"
    {
        return true;
    }
    if class_sign(dom, id) < 0 {
        return true;
    }
    // Link lists and link blocks: most of the text is link text.
    let c = s.chars[id as usize];
    if is_block(tag) && c > 0 {
        let ld = s.link_density(id);
        let limit = if matches!(tag, Tag::Ul | Tag::Ol | Tag::Dl | Tag::Table | Tag::Div) {
            0.5
        } else {
            0.7
        };
        if ld > limit {
            return true;
        }
    }
    false
}

/// Writes the text of the chosen roots, one line per block.
struct Writer<'a> {
    dom: &'a Dom,
    s: &'a Stats,
    out: String,
    /// Space pending between inline runs (collapsed white space).
    space: bool,
}

impl<'a> Writer<'a> {
    fn new(dom: &'a Dom, s: &'a Stats) -> Self {
        Writer {
            dom,
            s,
            out: String::new(),
            space: false,
        }
    }

    fn newline(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.space = false;
    }

    /// Appends text with white space collapsed; Unicode spaces (U+00A0 and the like) count as
    /// white space here, unlike in the faithful mode: trafilatura's labels write them as spaces.
    fn text(&mut self, t: &str) {
        for (i, word) in t.split(char::is_whitespace).enumerate() {
            if i > 0 {
                self.space = true;
            }
            if word.is_empty() {
                continue;
            }
            if self.space && !self.out.is_empty() && !self.out.ends_with('\n') {
                self.out.push(' ');
            }
            self.space = false;
            self.out.push_str(word);
        }
    }

    fn write(&mut self, root: NodeId) {
        self.newline();
        // Pre-order with exit events: (node, entering).
        let mut stack: Vec<(NodeId, bool)> = vec![(root, true)];
        while let Some((id, enter)) = stack.pop() {
            let node = self.dom.node(id);
            match &node.kind {
                Kind::Text(t) => self.text(t),
                Kind::Element { tag, .. } => {
                    let tag = *tag;
                    if !enter {
                        if is_block(tag) {
                            self.newline();
                        }
                        continue;
                    }
                    if dropped(self.dom, self.s, id, root) {
                        continue;
                    }
                    // A headline that opens the text (not only an `<h1>`).
                    if self.out.is_empty()
                        && is_heading(self.dom, id)
                        && title_like(self.dom, self.s, id)
                    {
                        continue;
                    }
                    if tag == Tag::Br {
                        self.newline();
                        continue;
                    }
                    if tag == Tag::Img {
                        continue;
                    }
                    if is_block(tag) {
                        self.newline();
                    }
                    stack.push((id, false));
                    let first = stack.len();
                    for c in self.dom.children(id) {
                        stack.push((c, true));
                    }
                    stack[first..].reverse();
                }
                _ => {}
            }
        }
        self.newline();
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Lines shorter than this that repeat an earlier line are dropped (menus, share bars and
/// "read more" links printed twice); long repeated lines are kept (quoted text, refrains).
const MAX_DEDUP_LINE_CHARS: usize = 100;

/// A line of page furniture that no element rule caught: a copyright notice, a publication-date
/// line, a byline, a date alone or a furniture label (the rules below). All of them look only at
/// lines shorter than [`MAX_NOTICE_CHARS`], which are lower-cased and split into words once here.
fn is_notice(line: &str) -> bool {
    let chars = line.chars().count();
    if chars >= MAX_NOTICE_CHARS {
        return false;
    }
    let lower = line.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let l = NoticeLine {
        line,
        chars,
        lower: &lower,
        words: &words,
    };
    is_copyright_line(&l)
        || is_dateline_notice(&l)
        || is_byline(&l)
        || is_date_only(&l)
        || is_ui_phrase(&l)
}

/// One output line as the notice rules read it.
struct NoticeLine<'a> {
    line: &'a str,
    /// Characters of `line`.
    chars: usize,
    /// `line` lower-cased, and its alphanumeric words.
    lower: &'a str,
    words: &'a [&'a str],
}

/// Four ASCII digits from 1900 to 2099.
fn is_year(d: &str) -> bool {
    d.len() == 4
        && d.bytes().all(|b| b.is_ascii_digit())
        && (d.starts_with("19") || d.starts_with("20"))
}

/// A copyright notice ("© 2008 AFP", "Copyright 2008 The Associated Press. All rights
/// reserved."): a line shorter than [`MAX_NOTICE_CHARS`] that opens with `©` or `(c)`, or with
/// "copyright" and holds a year or `©` in at most [`MAX_NOTICE_WORDS`] words, or says "all rights reserved" (not "Copyright law
/// changed ...").
fn is_copyright_line(n: &NoticeLine) -> bool {
    let l = n.lower.trim_start();
    let l = l.strip_prefix(['(', '[']).unwrap_or(l);
    let year = l.split(|c: char| !c.is_ascii_digit()).any(is_year);
    l.starts_with('©')
        || l.starts_with("c)")
        || (l.starts_with("copyright")
            && (year || l.contains('©') || l.contains("(c)"))
            && l.split_whitespace().count() <= MAX_NOTICE_WORDS)
        || l.contains("all rights reserved")
}

const MAX_NOTICE_CHARS: usize = 200;

/// ... and a "copyright ..." line without "all rights reserved" has at most this many words.
const MAX_NOTICE_WORDS: usize = 10;

/// A publication-date line ("Last updated: April 21, 2025", "Posted by X on Tuesday, August 29,
/// 2023", "POSTED: 7:54 am EST January 23, 2008"): shorter than [`MAX_DATE_LINE_CHARS`], opens
/// with updated / published / posted / modified / created (after "last" or "first"), and holds a
/// year, a clock time or "ago" / "today" / "yesterday".
fn is_dateline_notice(n: &NoticeLine) -> bool {
    if n.chars >= MAX_DATE_LINE_CHARS {
        return false;
    }
    let words = n.words;
    let first = match words.first() {
        Some(&("last" | "first")) => words.get(1).copied().unwrap_or(""),
        Some(w) => w,
        None => return false,
    };
    if !matches!(
        first,
        "updated" | "update" | "published" | "posted" | "modified" | "created"
    ) {
        return false;
    }
    if words.len() > MAX_DATE_LINE_WORDS {
        return false;
    }
    let clock = n
        .lower
        .as_bytes()
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit());
    words.iter().any(|w| is_year(w))
        || clock
        || words
            .iter()
            .any(|w| matches!(*w, "ago" | "today" | "yesterday"))
}

const MAX_DATE_LINE_CHARS: usize = 120;

/// ... and at most this many words ("Published in 2008, the book sold well ..." is text).
const MAX_DATE_LINE_WORDS: usize = 12;

/// A byline ("By JEFF KAROUB", "by: Murray Brewster, THE CANADIAN PRESS"): shorter than
/// [`MAX_BYLINE_CHARS`], "by" and then 2–8 words of which the first is capitalised (a name, not
/// "By changed lines" or "By Audience").
fn is_byline(n: &NoticeLine) -> bool {
    if n.chars >= MAX_BYLINE_CHARS {
        return false;
    }
    let l = n.line.trim_start_matches(|c: char| !c.is_alphanumeric());
    let Some(rest) = l
        .strip_prefix("By")
        .or_else(|| l.strip_prefix("by"))
        .or_else(|| l.strip_prefix("BY"))
    else {
        return false;
    };
    if !rest.starts_with([' ', ':']) {
        return false;
    }
    let words: Vec<&str> = rest
        .trim_start_matches([' ', ':'])
        .split_whitespace()
        .collect();
    (2..=8).contains(&words.len()) && words[0].starts_with(|c: char| c.is_uppercase())
}

const MAX_BYLINE_CHARS: usize = 70;

/// A line that is only a control or section label of page furniture ("Share this article",
/// "E-mail this to a friend", "Related Posts:", "Back to top"): its words, lower-cased and
/// joined by single spaces, are one of [`UI_PHRASES`].
fn is_ui_phrase(n: &NoticeLine) -> bool {
    if n.line.len() > 40 {
        return false;
    }
    !n.words.is_empty() && UI_PHRASES.contains(&n.words.join(" ").as_str())
}

const UI_PHRASES: [&str; 48] = [
    "share",
    "share this",
    "share this article",
    "share this story",
    "share this page",
    "share this post",
    "share on facebook",
    "share on twitter",
    "email",
    "e mail",
    "email this",
    "e mail this",
    "email this article",
    "email this story",
    "email to a friend",
    "e mail to a friend",
    "email this to a friend",
    "e mail this to a friend",
    "print",
    "print this",
    "print this article",
    "print this story",
    "print this page",
    "sponsored links",
    "sponsored link",
    "advertisement",
    "related",
    "related stories",
    "related articles",
    "related links",
    "related content",
    "related posts",
    "related news",
    "related to this story",
    "comments",
    "post a comment",
    "leave a comment",
    "leave a reply",
    "add your comment",
    "font size",
    "text size",
    "previous story",
    "next story",
    "read more",
    "more stories",
    "skip navigation",
    "back to top",
    "tags",
];

const MONTHS: [&str; 24] = [
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "sept",
];

/// A line that is only a date ("Monday, 07 Jan 2008 22:36", "04:52 PM PST on Friday, January
/// 18, 2008"): every word a month or weekday name, a number (with an ordinal, `am` or `pm`
/// suffix), `am`/`pm`, a time zone, "on" or "at"; with a month, a year and a day. Not a month
/// and year alone ("April 2014" heads an archive list) and not a number-only date (table cells).
fn is_date_only(n: &NoticeLine) -> bool {
    if n.chars >= MAX_DATE_LINE_CHARS {
        return false;
    }
    let (mut month, mut year, mut day) = (false, false, false);
    for &w in n.words {
        let digits = w.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            let (num, suffix) = w.split_at(digits);
            if !matches!(suffix, "" | "st" | "nd" | "rd" | "th" | "am" | "pm") {
                return false;
            }
            match num.len() {
                4 if is_year(num) => year = true,
                1 | 2 => day = true,
                _ => return false,
            }
        } else if MONTHS.contains(&w) {
            month = true;
        } else if !matches!(
            w,
            "mon"
                | "tue"
                | "wed"
                | "thu"
                | "fri"
                | "sat"
                | "sun"
                | "monday"
                | "tuesday"
                | "wednesday"
                | "thursday"
                | "friday"
                | "saturday"
                | "sunday"
                | "am"
                | "pm"
                | "a"
                | "p"
                | "m"
                | "gmt"
                | "utc"
                | "est"
                | "edt"
                | "pst"
                | "pdt"
                | "cst"
                | "cdt"
                | "mst"
                | "mdt"
                | "cet"
                | "cest"
                | "bst"
                | "ist"
                | "aest"
                | "aedt"
                | "et"
                | "pt"
                | "ct"
                | "on"
                | "at"
        ) {
            return false;
        }
    }
    month && year && day
}

fn dedup_lines(text: &str) -> String {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim_matches(is_space);
        if line.is_empty() {
            continue;
        }
        if !seen.insert(line) && line.chars().count() < MAX_DEDUP_LINE_CHARS {
            continue;
        }
        if is_notice(line) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(html: &str) -> String {
        extract_article(&Dom::parse(html))
    }

    const LONG: &str = "This is a long sentence of article text, with commas, clauses, and enough \
        characters to count as a paragraph of the main content of the page; it goes on for a \
        while, so that two of these paragraphs are more than the five hundred visible \
        characters below which the faithful text is consulted.";

    /// `inner` five `<div>`s deep in the body: deep enough for the orphan region (5 levels)
    /// to stay below the body.
    fn deep_body(inner: &str) -> String {
        format!(
            "<body>{}{inner}{}</body>",
            "<div>".repeat(5),
            "</div>".repeat(5)
        )
    }

    /// `f` of the body's first element in `html`.
    fn of_first<T>(html: &str, f: impl Fn(&Dom, NodeId) -> T) -> T {
        let d = Dom::parse(html);
        let first = d.children(d.body().unwrap()).next().unwrap();
        f(&d, first)
    }

    fn sign(html: &str) -> i32 {
        of_first(html, class_sign)
    }

    fn furniture(html: &str) -> bool {
        of_first(html, is_furniture_class)
    }

    fn page(article: &str, furniture: &str) -> String {
        format!(
            "<html><body><nav><a href=/>Home</a> <a href=/a>About</a></nav>{furniture}\
             <div class=wrap>{article}</div><footer>Copyright footer text</footer></body></html>"
        )
    }

    #[test]
    fn article_paragraphs_without_navigation_or_footer() {
        let art = format!("<p>{LONG}</p><p>{LONG} Second.</p><p>{LONG} Third.</p>");
        let t = q(&page(&art, ""));
        assert!(t.contains("Second."), "{t}");
        assert!(t.contains("Third."), "{t}");
        assert!(!t.contains("Home"), "{t}");
        assert!(!t.contains("Copyright"), "{t}");
        assert_eq!(t.lines().count(), 3, "{t}");
    }

    #[test]
    fn boilerplate_classes_inside_the_article_are_dropped() {
        let art = format!(
            "<p>{LONG}</p><div class='share-buttons'>Share on Facebook</div>\
             <p class=byline>By Someone</p><p>{LONG}</p><p>{LONG} End.</p>\
             <div id=comments><p>{LONG} Comment.</p></div>"
        );
        let t = q(&page(&art, ""));
        assert!(t.contains("End."), "{t}");
        assert!(!t.contains("Share on"), "{t}");
        assert!(!t.contains("By Someone"), "{t}");
        assert!(!t.contains("Comment."), "{t}");
    }

    #[test]
    fn a_class_that_begins_with_a_boilerplate_word_is_boilerplate() {
        assert_eq!(
            sign("<body><div class='comment-body entry-content'>x</div></body>"),
            -1
        );
        assert_eq!(
            sign("<body><div class='related-content'>x</div></body>"),
            -1
        );
        assert_eq!(sign("<body><div id='sidebar-content'>x</div></body>"), -1);
        // ... unless another token is a content token.
        assert_eq!(
            sign("<body><div class='entry-content sharing-on'>x</div></body>"),
            0
        );
        assert_eq!(
            sign("<body><div class='post-content share'>x</div></body>"),
            0
        );
    }

    #[test]
    fn builder_widgets_and_expanders_are_not_boilerplate_but_galleries_are() {
        // Page builders wrap every block in a "widget": only a token that *begins* with
        // `widget` names a sidebar widget.
        assert_eq!(
            sign("<body><div class='elementor-widget-container'>x</div></body>"),
            0
        );
        assert_eq!(
            sign("<body><div class='widget widget_text'>x</div></body>"),
            -1
        );
        assert_eq!(sign("<body><div class='widget-area'>x</div></body>"), -1);
        // "Read more" expanders hold the rest of the article.
        assert_eq!(sign("<body><div id='read-more'>x</div></body>"), 0);
        assert_eq!(sign("<body><div class='readmore'>x</div></body>"), 0);
        assert_eq!(sign("<body><div class='recent-updates'>x</div></body>"), -1);
        // An embedded gallery's captions are not article text.
        assert_eq!(
            sign("<body><div class='dnd-widget-wrapper type-gallery'>x</div></body>"),
            -1
        );
    }

    #[test]
    fn the_rest_of_the_article_behind_read_more_is_kept() {
        let html = deep_body(&format!(
            "<div class=story><p>First {LONG}</p><p>Second {LONG}</p><p>Third {LONG}</p>\
             <p>Fourth {LONG}</p><p>Fifth {LONG}</p><p>Sixth {LONG}</p><p>Seventh {LONG}</p>\
             <div id=read-more><div id=read-more-link><a href=#>Read more</a></div>\
             <div id=read-more-content><p>Eighth {LONG}</p><p>Ninth {LONG}</p></div></div></div>"
        ));
        let t = q(&html);
        for w in ["First", "Seventh", "Ninth"] {
            assert!(t.contains(w), "{w} missing: {t}");
        }
        assert!(!t.contains("Read more"), "{t}");
    }

    #[test]
    fn wrappers_do_not_count_as_levels() {
        // Four sections, each five wrappers deep below their common container, which is a
        // child of the body (no orphan region): the container must collect their scores.
        let section = |i: usize| {
            let ps: String = (0..10)
                .map(|j| format!("<p>Part{i}x{j} {LONG}</p>"))
                .collect();
            format!(
                "<div class=row><div class=col><div><div><div class=inner><h2>Part {i}</h2>{ps}\
                 </div></div></div></div></div>"
            )
        };
        let sections: String = (0..4).map(section).collect();
        let t = q(&format!(
            "<body><div class=container>{sections}</div></body>"
        ));
        for i in 0..4 {
            assert!(t.contains(&format!("Part{i}x9")), "section {i} missing");
        }
    }

    #[test]
    fn sidebar_widgets_and_comment_sections_are_furniture() {
        assert!(furniture("<body><div id=sidebar>x</div></body>"));
        assert!(furniture(
            "<body><div class='widget popular'>x</div></body>"
        ));
        // Any token that names content vetoes, `widget_text` too (then only the class rule of
        // the writer drops it).
        assert!(!furniture(
            "<body><div class='widget widget_text'>x</div></body>"
        ));
        assert!(furniture(
            "<body><section class=footer-widgets>x</section></body>"
        ));
        assert!(furniture("<body><ol class=comments>x</ol></body>"));
        assert!(!furniture(
            "<body><div class=sidebar-content>x</div></body>"
        ));
        assert!(!furniture(
            "<body><div class='sidebar-layout'>x</div></body>"
        ));
        assert!(!furniture("<body><div class='main share'>x</div></body>"));
        // A WordPress text widget is boilerplate although its id holds "text".
        assert_eq!(
            sign("<body><div class='widget widget_text' id=text-5>x</div></body>"),
            -1
        );
    }

    #[test]
    fn a_sidebar_profile_does_not_outscore_a_short_post() {
        let bio = "I have written about advertising for nineteen years, for agencies, magazines, \
            newspapers and now this blog, which I started in a small flat in the city, long ago.";
        let sidebar: String = (0..6).map(|i| format!("<p>{bio} Part {i}.</p>")).collect();
        let html = format!(
            "<body><div id=page><div class=main><div class=inner><div class=entry>\
             <p>Post one, a short note of a blog, with a clause, ending here.</p>\
             <p>Post two. {LONG}</p></div><div class=meta>Posted in Notes</div></div>\
             <div class=nav><a href=/p>Previous</a></div></div><div id=sidebar>\
             <div class='widget widget_text'><div class=textwidget>{sidebar}</div></div></div>\
             </div></body>"
        );
        let t = q(&html);
        assert!(t.contains("Post one") && t.contains("Post two"), "{t}");
        // The post itself is the root, not the page around it and the sidebar.
        let roots = describe_roots(&Dom::parse(&html));
        assert!(
            roots.len() == 1 && roots[0].ends_with("> div.entry"),
            "{roots:?}"
        );
        assert!(!t.contains("advertising"), "{t}");
    }

    #[test]
    fn content_words_veto_boilerplate_words() {
        assert_eq!(
            sign("<body><div class='post-content share'>x</div></body>"),
            0
        );
        assert_eq!(sign("<body><div class='share-bar'>x</div></body>"), -1);
        assert_eq!(sign("<body><div id='entry-1'>x</div></body>"), 1);
    }

    #[test]
    fn link_lists_are_dropped() {
        let links: String = (0..10)
            .map(|i| format!("<li><a href=/{i}>Other story number {i}</a></li>"))
            .collect();
        let art = format!("<p>{LONG}</p><ul>{links}</ul><p>{LONG} End.</p>");
        let t = q(&page(&art, ""));
        assert!(t.contains("End."), "{t}");
        assert!(!t.contains("Other story"), "{t}");
    }

    #[test]
    fn article_body_hint_wins() {
        let other: String = (0..6).map(|_| format!("<p>{LONG}</p>")).collect();
        let html = format!(
            "<body><div>{other}</div><div itemprop=articleBody><p>{LONG} Hinted body text.</p>\
             <p>{LONG}</p><p>{LONG}</p></div></body>"
        );
        let t = q(&html);
        assert!(t.contains("Hinted body"), "{t}");
        assert_eq!(t.lines().count(), 3, "{t}");
    }

    #[test]
    fn hidden_scripts_and_forms_are_cut() {
        let art = format!(
            "<p>{LONG}</p><script>var x = 1;</script><style>p{{}}</style>\
             <div style='display: none'>Hidden text</div><p hidden>Also hidden</p>\
             <form><input value=Search><button>Go</button></form><p>{LONG} End.</p>"
        );
        let t = q(&page(&art, ""));
        for bad in ["var x", "Hidden", "Also hidden", "Search", "Go"] {
            assert!(!t.contains(bad), "{bad}: {t}");
        }
    }

    #[test]
    fn paragraphs_in_page_furniture_do_not_score() {
        // A long disclaimer in the footer outweighs a short article by paragraph score; it
        // must not be chosen (the footer is not even a candidate).
        let disclaimer: String = (0..8).map(|_| format!("<p>{LONG}</p>")).collect();
        let html = format!(
            "<html><body><main><div class=story><p>{LONG} Short article.</p></div></main>\
             <footer><div class=legal>{disclaimer}</div><div class=contact><a href=/c>Contact\
             </a></div></footer></body></html>"
        );
        let t = q(&html);
        assert!(t.contains("Short article."), "{t}");
        assert_eq!(t.lines().count(), 1, "{t}");
        // ... unless nothing outside furniture scores (an unclosed `<aside>` banner holds the
        // page).
        let html = format!(
            "<html><body><aside class=banner>Notice<div class=page><article><p>{LONG}</p>\
             <p>{LONG} Inside.</p></article><div class=x><a href=/>Home</a></div></div></body></html>"
        );
        assert!(q(&html).contains("Inside."), "{}", q(&html));
    }

    #[test]
    fn short_articles_keep_their_text_when_the_page_adds_no_prose() {
        // A news brief in a page of link menus: the fallback's extra text is not prose.
        let menus: String = (0..60)
            .map(|i| {
                format!("<div class=m{i}><span>Section {i}</span> <span>Index {i}</span></div>")
            })
            .collect();
        let html = format!(
            "<html><body>{menus}<div class=story><p>{LONG} Brief.</p></div>{menus}</body></html>"
        );
        let t = q(&html);
        assert!(t.contains("Brief.") && !t.contains("Section 3"), "{t}");
        // A wrong short pick in a page of prose still falls back.
        let prose: String = (0..6).map(|i| format!("<p>{LONG} Para {i}.</p>")).collect();
        let html = format!(
            "<html><body><div class=sidebar-x><p>{LONG} Pick.</p></div><table><tr><td>{prose}</td></tr></table></body></html>"
        );
        let t = q(&html);
        assert!(t.contains("Para 5."), "{t}");
    }

    #[test]
    fn notice_lines_are_dropped() {
        for line in [
            "Copyright 2008 The Associated Press. All rights reserved.",
            "(© 2008 The Associated Press. All Rights Reserved.)",
            "© 2008 AFP",
            "Last updated: April 21, 2025",
            "POSTED: 7:54 am EST January 23, 2008",
            "Posted by IndustrySelect on Tuesday, August 29, 2023",
            "By JEFF KAROUB",
            "by: Murray Brewster, THE CANADIAN PRESS",
            "Monday, 07 Jan 2008 22:36",
            "04:52 PM PST on Friday, January 18, 2008",
            "Share this article",
            "E-mail this to a friend",
            "Related Posts:",
        ] {
            assert!(is_notice(line), "{line}");
        }
        for line in [
            "Copyright law has changed since 1998, and the court said so in a long ruling today.",
            "By establishing a clear process, the team cut costs.",
            "By changed lines",
            "By Audience",
            "April 2014",
            "1/1/2013",
            "Posted to the wrong address, the letter came back.",
            "Related parties were named in the filing.",
            "Published in 2008, the book sold well across the whole of Europe and much of Asia and it was reprinted often.",
        ] {
            assert!(!is_notice(line), "{line}");
        }
        let art = format!(
            "<p>By Jane Doe</p><p>Monday, 07 Jan 2008 22:36</p><p>{LONG}</p><p>{LONG} End.</p>\
             <p>Copyright 2008 Reuters. All rights reserved.</p>"
        );
        let t = q(&page(&art, ""));
        assert!(
            t.contains("End.") && !t.contains("Jane") && !t.contains("2008"),
            "{t}"
        );
    }

    #[test]
    fn a_title_like_heading_that_opens_the_text_is_the_headline() {
        let html = format!(
            "<html><head><title>Storm hits the northern coast - News</title></head><body>\
             <div class=story><h2>Storm hits the northern coast</h2><p>{LONG}</p>\
             <h2>Storm damage on the coast</h2><p>{LONG} End.</p></div></body></html>"
        );
        let t = q(&html);
        assert!(!t.contains("Storm hits"), "{t}");
        assert!(t.contains("Storm damage on the coast"), "{t}");
    }

    #[test]
    fn react_streamed_segments_are_not_hidden() {
        // React 18 streaming SSR: the visible shell holds a placeholder, the rendered article
        // arrives in `<div hidden id="S:0">` for a script to move in.
        let art = format!("<p>{LONG} Streamed.</p><p>{LONG} Second.</p><p>{LONG}</p>");
        let html = format!(
            "<html><body><nav><a href=/>Home</a></nav><main><template id='B:0'></template>\
             Loading</main><div hidden id='S:0'><article>{art}</article></div>\
             <div hidden id='S:x'><p>{LONG} Not a segment.</p></div></body></html>"
        );
        let t = q(&html);
        assert!(t.contains("Streamed.") && t.contains("Second."), "{t}");
        assert!(!t.contains("Not a segment"), "{t}");
        assert!(is_react_segment("S:12") && !is_react_segment("S:") && !is_react_segment("S:1a"));
    }

    #[test]
    fn inline_markup_joins_and_breaks_split() {
        let art = format!("<p>{LONG} A<b>b</b>c <i>d</i><br>next line</p><p>{LONG}</p>");
        let t = q(&page(&art, ""));
        assert!(t.contains("Abc d\nnext line"), "{t}");
    }

    #[test]
    fn siblings_with_paragraphs_join_the_top_candidate() {
        let html = format!(
            "<body><div><div class=a><p>{LONG}</p><p>{LONG}</p><p>{LONG}</p></div>\
             <p>{LONG} Sibling paragraph.</p><div class=x>menu</div></div></body>"
        );
        let t = q(&html);
        assert!(t.contains("Sibling paragraph."), "{t}");
    }

    /// An article split by an ad slot into two wrappers of different depth: the second part is
    /// too far from the top candidate for sibling inclusion, the orphan pass brings it back;
    /// link-heavy and boilerplate blocks of the same region stay out.
    #[test]
    fn orphan_paragraphs_near_the_article_are_recovered() {
        let part1: String = (0..4).map(|_| format!("<p>{LONG}</p>")).collect();
        let inner = format!(
            "<div><div class=a>{part1}</div></div><div class=ad>Advertisement</div>\
             <div><div><p>{LONG} Continued after the ad.</p></div></div>\
             <div><div><p>Short link-free text ending.</p>\
             <p><a href=/x>{LONG} A linked teaser.</a></p></div></div>\
             <div class=related><p>{LONG} Related story.</p></div>"
        );
        let t = q(&deep_body(&inner));
        assert!(t.contains("Continued after the ad."), "{t}");
        for bad in [
            "Advertisement",
            "Short link-free",
            "A linked teaser",
            "Related story",
        ] {
            assert!(!t.contains(bad), "{bad}: {t}");
        }
        // The orphan keeps its place in document order.
        assert!(t.ends_with("Continued after the ad."), "{t}");
        // Without the wrappers the region would be the body: no orphans are taken there.
        let d = Dom::parse(&format!("<body>{inner}</body>"));
        let body = d.body().unwrap();
        let s = Stats::compute(&d, body);
        let top = d.children(body).next().unwrap();
        assert_eq!(with_orphans(&d, &s, body, top, vec![top]), vec![top]);
    }

    #[test]
    fn the_headline_is_not_article_body() {
        let art =
            format!("<h1>The Headline</h1><p>{LONG}</p><p>{LONG}</p><h2>Sub</h2><p>{LONG}</p>");
        let t = q(&page(&art, ""));
        assert!(!t.contains("The Headline"), "{t}");
        assert!(t.contains("Sub"), "{t}");
    }

    /// Only the headline `<h1>` (the page's first, or one that repeats the `<title>`) is left
    /// out; pages that title every section with an `<h1>` keep those.
    #[test]
    fn only_the_headline_h1_is_left_out() {
        let art = format!(
            "<h1>Section One</h1><p>{LONG}</p><h1>Another Section</h1><p>{LONG}</p><p>{LONG}</p>"
        );
        let html = format!(
            "<html><head><title>The Big Story - Site</title></head><body>\
             <header><h1>Site name</h1></header><div>{art}<h1>The big story</h1></div></body></html>"
        );
        let t = q(&html);
        assert!(
            t.contains("Section One") && t.contains("Another Section"),
            "{t}"
        );
        assert!(!t.contains("The big story"), "{t}");
        assert!(!t.contains("Site name"), "{t}");
    }

    /// A stream of teasers (a linked headline and a summary paragraph per card) next to the
    /// article: the summaries are link-free sentences, but not orphans of the article.
    #[test]
    fn teaser_cards_are_not_orphans() {
        const SUMMARY: &str = "A summary of another story on the same site, long enough to count as a paragraph of its own, with a clause.";
        let part1: String = (0..4).map(|_| format!("<p>{LONG}</p>")).collect();
        let cards: String = (0..3)
            .map(|i| {
                format!(
                    "<li><h3><a href=/s{i}>Other story {i}</a></h3><p>{SUMMARY} Teaser {i}.</p></li>"
                )
            })
            .collect();
        let divs: String = (0..2)
            .map(|i| {
                format!("<div><h2><a href=/d{i}>Card {i}</a></h2><p>{SUMMARY} Card {i}.</p></div>")
            })
            .collect();
        let inner = format!(
            "<div><div class=a>{part1}</div></div><ul>{cards}</ul><div>{divs}</div>\
             <div><div><p>{LONG} Continued.</p></div></div>"
        );
        let t = q(&deep_body(&inner));
        assert!(t.contains("Continued."), "{t}");
        assert!(!t.contains("Teaser"), "{t}");
        assert!(!t.contains("Card"), "{t}");
    }

    #[test]
    fn a_dateline_is_article_text() {
        let art = format!(
            "<p><span class=dateline>KOBE, Japan —</span> {LONG}</p><p>{LONG}</p>\
             <p><span class=date>May 1</span> {LONG}</p>"
        );
        let t = q(&page(&art, ""));
        assert!(t.starts_with("KOBE, Japan —"), "{t}");
        assert!(!t.contains("May 1"), "{t}");
    }

    /// Roots that are sibling paragraphs take the subheadings, lists and quotes between them,
    /// but not what a rule drops (a share bar, a link list) nor what lies outside them.
    #[test]
    fn elements_between_sibling_roots_join() {
        let links: String = (0..5)
            .map(|i| format!("<li><a href=/{i}>Link {i}</a></li>"))
            .collect();
        let d = Dom::parse(&format!(
            "<body><div><h2>Before</h2><p id=a>{LONG}</p><h2>Subheading</h2>\
             <div class=share>Share this</div><ul>{links}</ul><blockquote>A quote.</blockquote>\
             <p id=b>{LONG}</p><h2>After</h2></div></body>"
        ));
        let body = d.body().unwrap();
        let s = Stats::compute(&d, body);
        let by_id = |v: &str| {
            (0..d.nodes.len() as NodeId)
                .find(|&i| d.node(i).attr("id") == v)
                .unwrap()
        };
        let roots = fill_gaps(&d, &s, vec![by_id("a"), by_id("b")]);
        let mut w = Writer::new(&d, &s);
        for &r in &roots {
            w.write(r);
        }
        let t = w.finish();
        assert!(t.contains("Subheading\nA quote."), "{t}");
        for bad in ["Before", "After", "Share this", "Link 1"] {
            assert!(!t.contains(bad), "{bad}: {t}");
        }
    }

    #[test]
    fn much_longer_faithful_text_replaces_a_short_article() {
        // A short "article" of one paragraph beside a long text the scorer splits into
        // paragraph-less line runs (`<br>`): the faithful text has > 3× the prose and wins.
        let lines: String = (0..12)
            .map(|i| {
                format!(
                    "Line {i} of the long page text without any paragraph markup at all here.<br>"
                )
            })
            .collect();
        let html =
            format!("<body><div class=content><p>{LONG}</p></div><span>{lines}</span></body>");
        let t = q(&html);
        assert!(t.contains("Line 11 of"), "{t}");
        // ... but not when it is less than 3× longer.
        let html = format!("<body><div class=content><p>{LONG}</p><p>{LONG}</p></div><span>Line a<br>Line b</span></body>");
        let t = q(&html);
        assert!(!t.contains("Line a"), "{t}");
    }

    #[test]
    fn repeated_short_lines_are_dropped() {
        assert_eq!(dedup_lines("a\nb\na\n\n c \nb"), "a\nb\nc");
        let long = "x".repeat(150);
        assert_eq!(dedup_lines(&format!("{long}\n{long}")).lines().count(), 2);
    }

    #[test]
    fn short_result_falls_back_to_faithful() {
        // A page with only a short text has no article: the faithful text is kept.
        let t = q("<body><div><span>Just a few words here.</span></div></body>");
        assert_eq!(t, "Just a few words here.");
        assert_eq!(q("<html><head></head></html>"), "");
    }

    #[test]
    fn deep_and_long_pages_are_walked_without_recursion() {
        // Every walk is iterative: a deep tree cannot overflow the stack.
        let deep = format!("{}{LONG}{LONG}{LONG}", "<div>".repeat(5_000));
        assert!(q(&deep).contains("faithful text"));
        let long = format!("<p>{}</p>", "word ".repeat(200_000));
        assert_eq!(q(&long).len(), "word ".len() * 200_000 - 1);
    }

    #[test]
    fn mode_is_serialised_only_when_not_faithful() {
        use crate::pipeline::{Mode, Options};
        let json = serde_json::to_string(&Options::default()).unwrap();
        assert!(!json.contains("mode"), "{json}");
        let q = Options {
            mode: Mode::Quality,
            ..Options::default()
        };
        let json = serde_json::to_string(&q).unwrap();
        assert!(json.contains(r#""mode":"quality""#), "{json}");
        let back: Options = serde_json::from_str(&json).unwrap();
        assert_eq!(back, q);
    }

    proptest::proptest! {
        /// Any tag soup: no panic, same output twice.
        #[test]
        fn never_panics_and_is_deterministic(parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("<div class=content>".to_string()),
                proptest::strategy::Just("<div class=share>".to_string()),
                proptest::strategy::Just("</div>".to_string()),
                proptest::strategy::Just("<p>".to_string()),
                proptest::strategy::Just("<a href=x>".to_string()),
                proptest::strategy::Just("</a>".to_string()),
                proptest::strategy::Just("<ul><li>".to_string()),
                proptest::strategy::Just("<br>".to_string()),
                proptest::strategy::Just("<script>x".to_string()),
                proptest::strategy::Just("<article itemprop=articleBody>".to_string()),
                "[a-zA-Z ,.]{0,120}",
            ], 0..40)) {
            let html = parts.concat();
            let a = q(&html);
            let b = q(&html);
            proptest::prop_assert_eq!(&a, &b);
        }
    }
}
