//! A compact arena DOM built by html5ever (WHATWG tree construction, like lexbor which resiliparse
//! uses), with the few things text extraction needs: parent/sibling links, a tag id for the
//! elements the extractor treats specially, attributes, and merged text nodes.

use html5ever::interface::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::{Attribute, LocalName, QualName};
use std::borrow::Cow;
use std::cell::{Cell, Ref, RefCell};

/// Node index into [`Dom::nodes`].
pub type NodeId = u32;
/// "No node".
pub const NONE: NodeId = u32::MAX;

/// Elements the extractor distinguishes. Like lexbor's tag ids they are keyed by local name only
/// (an SVG `<a>` is an `A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    A,
    Address,
    Area,
    Article,
    Aside,
    Audio,
    Blockquote,
    Body,
    Br,
    Button,
    Center,
    Dd,
    Details,
    Div,
    Dl,
    Dt,
    Embed,
    Fieldset,
    Figcaption,
    Figure,
    Footer,
    Form,
    Frame,
    H1,
    H2,
    H3,
    H4,
    H5,
    H6,
    Header,
    Hgroup,
    Hr,
    Iframe,
    Img,
    Input,
    Label,
    Li,
    Main,
    Nav,
    Noscript,
    Object,
    Ol,
    Option,
    P,
    Pre,
    Script,
    Section,
    Select,
    Style,
    Svg,
    Table,
    Td,
    Template,
    Textarea,
    Th,
    Time,
    Tr,
    Ul,
    Video,
    Other,
}

impl Tag {
    fn from_name(name: &str) -> Tag {
        use Tag::*;
        match name {
            "a" => A,
            "address" => Address,
            "area" => Area,
            "article" => Article,
            "aside" => Aside,
            "audio" => Audio,
            "blockquote" => Blockquote,
            "body" => Body,
            "br" => Br,
            "button" => Button,
            "center" => Center,
            "dd" => Dd,
            "details" => Details,
            "div" => Div,
            "dl" => Dl,
            "dt" => Dt,
            "embed" => Embed,
            "fieldset" => Fieldset,
            "figcaption" => Figcaption,
            "figure" => Figure,
            "footer" => Footer,
            "form" => Form,
            "frame" => Frame,
            "h1" => H1,
            "h2" => H2,
            "h3" => H3,
            "h4" => H4,
            "h5" => H5,
            "h6" => H6,
            "header" => Header,
            "hgroup" => Hgroup,
            "hr" => Hr,
            "iframe" => Iframe,
            "img" => Img,
            "input" => Input,
            "label" => Label,
            "li" => Li,
            "main" => Main,
            "nav" => Nav,
            "noscript" => Noscript,
            "object" => Object,
            "ol" => Ol,
            "option" => Option,
            "p" => P,
            "pre" => Pre,
            "script" => Script,
            "section" => Section,
            "select" => Select,
            "style" => Style,
            "svg" => Svg,
            "table" => Table,
            "td" => Td,
            "template" => Template,
            "textarea" => Textarea,
            "th" => Th,
            "time" => Time,
            "tr" => Tr,
            "ul" => Ul,
            "video" => Video,
            _ => Other,
        }
    }

    /// resiliparse's `BLOCK_ELEMENTS` (parse/html.h).
    pub fn is_block(self) -> bool {
        use Tag::*;
        matches!(
            self,
            Address
                | Article
                | Aside
                | Blockquote
                | Br
                | Center
                | Details
                | Dd
                | Dt
                | Div
                | Dl
                | Fieldset
                | Figcaption
                | Figure
                | Footer
                | Form
                | H1
                | H2
                | H3
                | H4
                | H5
                | H6
                | Header
                | Hgroup
                | Hr
                | Li
                | Main
                | Nav
                | Ol
                | P
                | Pre
                | Section
                | Table
                | Tr
                | Ul
        )
    }
}

#[derive(Debug)]
pub enum Kind {
    Document,
    /// Template contents and other fragments that are not part of the tree.
    Fragment,
    Doctype,
    Comment,
    Pi,
    /// Adjacent text merged. A tendril: the tokenizer hands out runs that share the input
    /// buffer, so a text node that is never merged is never copied.
    Text(StrTendril),
    Element {
        tag: Tag,
        /// Namespace + local name, kept whole so that `elem_name` can lend it without cloning.
        qual: QualName,
        attrs: Vec<(LocalName, StrTendril)>,
    },
}

#[derive(Debug)]
pub struct Node {
    pub parent: NodeId,
    pub first_child: NodeId,
    pub last_child: NodeId,
    pub prev: NodeId,
    pub next: NodeId,
    pub kind: Kind,
}

impl Node {
    fn new(kind: Kind) -> Node {
        Node {
            parent: NONE,
            first_child: NONE,
            last_child: NONE,
            prev: NONE,
            next: NONE,
            kind,
        }
    }

    pub fn tag(&self) -> Option<Tag> {
        match &self.kind {
            Kind::Element { tag, .. } => Some(*tag),
            _ => None,
        }
    }

    pub fn is_element(&self) -> bool {
        matches!(self.kind, Kind::Element { .. })
    }

    pub fn is_text(&self) -> bool {
        matches!(self.kind, Kind::Text(_))
    }

    /// Attribute value ("" when absent, like lexbor's getter).
    pub fn attr(&self, name: &str) -> &str {
        self.attr_opt(name).unwrap_or("")
    }

    pub fn attr_opt(&self, name: &str) -> Option<&str> {
        match &self.kind {
            Kind::Element { attrs, .. } => attrs
                .iter()
                .find(|(k, _)| &**k == name)
                .map(|(_, v)| v.as_ref()),
            _ => None,
        }
    }

    pub fn has_attr(&self, name: &str) -> bool {
        self.attr_opt(name).is_some()
    }
}

/// Which HTML tokenizer feeds html5ever's tree builder. Both give the same DOM (differential
/// test in `gum.rs`, 1187/1187 pages in `tests/real_data.rs`); html5gum's is the faster one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HtmlTokenizer {
    /// html5gum's tokenizer (bulk scanning of text runs) through [`crate::gum`]'s token bridge.
    #[default]
    Html5gum,
    /// html5ever's own tokenizer (`html5ever::parse_document`): the fallback.
    Html5ever,
}

/// A parsed document.
#[derive(Debug)]
pub struct Dom {
    pub nodes: Vec<Node>,
    pub quirks: bool,
}

pub const DOCUMENT: NodeId = 0;

impl Dom {
    /// Parses a whole document with the default tokenizer ([`HtmlTokenizer::Html5gum`]).
    /// Scripting is off, as in lexbor's default, so `<noscript>` content is parsed as markup.
    pub fn parse(html: &str) -> Dom {
        Dom::parse_with(html, HtmlTokenizer::default())
    }

    /// Parses a whole document with the given tokenizer; the tree builder is html5ever's either
    /// way, and both tokenizers give it the same tokens (see [`crate::gum`]).
    pub fn parse_with(html: &str, tokenizer: HtmlTokenizer) -> Dom {
        let sink = Sink::new();
        let mut opts = html5ever::ParseOpts::default();
        opts.tree_builder.scripting_enabled = false;
        match tokenizer {
            HtmlTokenizer::Html5gum => {
                crate::gum::parse_document(html, sink, opts.tree_builder).finish()
            }
            HtmlTokenizer::Html5ever => {
                // lexbor keeps a leading U+FEFF as text (which then opens the body early).
                opts.tokenizer = crate::gum::html5ever_tokenizer_opts();
                html5ever::parse_document(sink, opts).one(StrTendril::from(html))
            }
        }
    }

    /// Every node, one a line, with its links, kind, tag, name, kept attributes and text: for
    /// comparing two parses (tendrils' `Debug` also shows whether they are shared).
    pub fn dump(&self) -> String {
        use std::fmt::Write;
        let mut out = format!("quirks {}\n", self.quirks);
        for n in &self.nodes {
            let links = (n.parent, n.first_child, n.last_child, n.prev, n.next);
            let kind = match &n.kind {
                Kind::Text(t) => format!("text {:?}", &**t),
                Kind::Element { tag, qual, attrs } => {
                    let attrs: Vec<(&str, &str)> =
                        attrs.iter().map(|(k, v)| (&**k, &**v)).collect();
                    format!("{tag:?} {qual:?} {attrs:?}")
                }
                other => format!("{other:?}"),
            };
            let _ = writeln!(out, "{links:?} {kind}");
        }
        out
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The `<body>` element (child of `<html>`), as `document.body` (a `<frameset>` is not a body
    /// for text extraction).
    pub fn body(&self) -> Option<NodeId> {
        let html = self
            .children(DOCUMENT)
            .find(|&c| self.node(c).is_element())?;
        self.children(html)
            .find(|&c| self.node(c).tag() == Some(Tag::Body))
    }

    pub fn children(&self, id: NodeId) -> Children<'_> {
        Children {
            dom: self,
            next: self.node(id).first_child,
        }
    }

    /// Concatenated text of all descendant text nodes (DOM `textContent`).
    pub fn text_content(&self, id: NodeId) -> String {
        let mut out = String::new();
        if let Kind::Text(t) = &self.node(id).kind {
            return t.to_string();
        }
        let mut n = self.node(id).first_child;
        // Iterative pre-order walk of the subtree.
        while n != NONE {
            let node = self.node(n);
            if let Kind::Text(t) = &node.kind {
                out.push_str(t);
            }
            if node.first_child != NONE {
                n = node.first_child;
                continue;
            }
            let mut m = n;
            loop {
                if m == id {
                    return out;
                }
                let mn = self.node(m);
                if mn.next != NONE {
                    n = mn.next;
                    break;
                }
                m = mn.parent;
                if m == NONE || m == id {
                    return out;
                }
            }
        }
        out
    }
}

pub struct Children<'a> {
    dom: &'a Dom,
    next: NodeId,
}

impl Iterator for Children<'_> {
    type Item = NodeId;
    fn next(&mut self) -> Option<NodeId> {
        if self.next == NONE {
            return None;
        }
        let id = self.next;
        self.next = self.dom.node(id).next;
        Some(id)
    }
}

/// The attributes that extraction reads ([`Node::attr`] callers in `extract`); the others are
/// dropped while building the tree: they would only cost memory and drop time (a page with a
/// million attributes keeps none of them). Reading another attribute in the extractor means
/// adding it here (the test `read_attrs_cover_the_extractor` checks this list against the
/// attribute names `extract.rs` asks for).
pub const READ_ATTRS: [&str; 17] = [
    "class",
    "id",
    "style",
    "hidden",
    "rel",
    "itemprop",
    "aria-hidden",
    "aria-expanded",
    "role",
    "data-ad",
    "data-advertisement",
    "data-text-ad",
    "href",
    "alt",
    "type",
    "value",
    "placeholder",
];

fn is_read_attr(name: &LocalName) -> bool {
    READ_ATTRS.contains(&&**name)
}

pub(crate) struct Sink {
    nodes: RefCell<Vec<Node>>,
    quirks: Cell<bool>,
    /// (template element, its contents fragment)
    template_contents: RefCell<Vec<(NodeId, NodeId)>>,
}

impl Sink {
    /// An empty document.
    pub(crate) fn new() -> Sink {
        Sink {
            nodes: RefCell::new(vec![Node::new(Kind::Document)]),
            quirks: Cell::new(false),
            template_contents: RefCell::new(Vec::new()),
        }
    }

    fn push(&self, kind: Kind) -> NodeId {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node::new(kind));
        (nodes.len() - 1) as NodeId
    }

    fn detach(nodes: &mut [Node], id: NodeId) {
        let (parent, prev, next) = {
            let n = &nodes[id as usize];
            (n.parent, n.prev, n.next)
        };
        if parent == NONE {
            return;
        }
        if prev != NONE {
            nodes[prev as usize].next = next;
        } else {
            nodes[parent as usize].first_child = next;
        }
        if next != NONE {
            nodes[next as usize].prev = prev;
        } else {
            nodes[parent as usize].last_child = prev;
        }
        let n = &mut nodes[id as usize];
        n.parent = NONE;
        n.prev = NONE;
        n.next = NONE;
    }

    fn append_child(nodes: &mut [Node], parent: NodeId, child: NodeId) {
        Self::detach(nodes, child);
        let last = nodes[parent as usize].last_child;
        {
            let c = &mut nodes[child as usize];
            c.parent = parent;
            c.prev = last;
            c.next = NONE;
        }
        if last != NONE {
            nodes[last as usize].next = child;
        } else {
            nodes[parent as usize].first_child = child;
        }
        nodes[parent as usize].last_child = child;
    }

    fn insert_before(nodes: &mut [Node], sibling: NodeId, child: NodeId) {
        Self::detach(nodes, child);
        let (parent, prev) = {
            let s = &nodes[sibling as usize];
            (s.parent, s.prev)
        };
        {
            let c = &mut nodes[child as usize];
            c.parent = parent;
            c.prev = prev;
            c.next = sibling;
        }
        nodes[sibling as usize].prev = child;
        if prev != NONE {
            nodes[prev as usize].next = child;
        } else if parent != NONE {
            nodes[parent as usize].first_child = child;
        }
    }
}

impl TreeSink for Sink {
    type Handle = NodeId;
    type Output = Dom;
    type ElemName<'a> = Ref<'a, QualName>;

    fn finish(self) -> Dom {
        Dom {
            nodes: self.nodes.into_inner(),
            quirks: self.quirks.get(),
        }
    }

    fn parse_error(&self, _msg: Cow<'static, str>) {}

    fn get_document(&self) -> NodeId {
        DOCUMENT
    }

    fn elem_name<'a>(&'a self, target: &'a NodeId) -> Ref<'a, QualName> {
        Ref::map(self.nodes.borrow(), |nodes| {
            match &nodes[*target as usize].kind {
                Kind::Element { qual, .. } => qual,
                _ => panic!("elem_name on a non-element"),
            }
        })
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> NodeId {
        // lexbor keys tag ids by local name only: an SVG <a> is an A there too.
        let tag = Tag::from_name(&name.local);
        let id = self.push(Kind::Element {
            tag,
            qual: name,
            attrs: attrs
                .into_iter()
                .filter(|a| is_read_attr(&a.name.local))
                .map(|a| (a.name.local, a.value))
                .collect(),
        });
        if flags.template {
            let frag = self.push(Kind::Fragment);
            self.template_contents.borrow_mut().push((id, frag));
        }
        id
    }

    fn create_comment(&self, _text: StrTendril) -> NodeId {
        self.push(Kind::Comment)
    }

    fn create_pi(&self, _target: StrTendril, _data: StrTendril) -> NodeId {
        self.push(Kind::Pi)
    }

    fn append(&self, parent: &NodeId, child: NodeOrText<NodeId>) {
        let mut nodes = self.nodes.borrow_mut();
        match child {
            NodeOrText::AppendNode(c) => Self::append_child(&mut nodes, *parent, c),
            NodeOrText::AppendText(t) => {
                let last = nodes[*parent as usize].last_child;
                if last != NONE {
                    if let Kind::Text(s) = &mut nodes[last as usize].kind {
                        s.push_tendril(&t);
                        return;
                    }
                }
                nodes.push(Node::new(Kind::Text(t)));
                let id = (nodes.len() - 1) as NodeId;
                Self::append_child(&mut nodes, *parent, id);
            }
        }
    }

    fn append_based_on_parent_node(
        &self,
        element: &NodeId,
        prev_element: &NodeId,
        child: NodeOrText<NodeId>,
    ) {
        let has_parent = self.nodes.borrow()[*element as usize].parent != NONE;
        if has_parent {
            self.append_before_sibling(element, child);
        } else {
            self.append(prev_element, child);
        }
    }

    fn append_doctype_to_document(&self, _n: StrTendril, _p: StrTendril, _s: StrTendril) {
        let id = self.push(Kind::Doctype);
        Self::append_child(&mut self.nodes.borrow_mut(), DOCUMENT, id);
    }

    fn get_template_contents(&self, target: &NodeId) -> NodeId {
        self.template_contents
            .borrow()
            .iter()
            .find(|(t, _)| t == target)
            .map(|(_, f)| *f)
            .expect("template element without contents")
    }

    fn same_node(&self, x: &NodeId, y: &NodeId) -> bool {
        x == y
    }

    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.quirks.set(mode == QuirksMode::Quirks);
    }

    fn append_before_sibling(&self, sibling: &NodeId, new_node: NodeOrText<NodeId>) {
        let mut nodes = self.nodes.borrow_mut();
        match new_node {
            NodeOrText::AppendNode(c) => Self::insert_before(&mut nodes, *sibling, c),
            NodeOrText::AppendText(t) => {
                let prev = nodes[*sibling as usize].prev;
                if prev != NONE {
                    if let Kind::Text(s) = &mut nodes[prev as usize].kind {
                        s.push_tendril(&t);
                        return;
                    }
                }
                nodes.push(Node::new(Kind::Text(t)));
                let id = (nodes.len() - 1) as NodeId;
                Self::insert_before(&mut nodes, *sibling, id);
            }
        }
    }

    fn add_attrs_if_missing(&self, target: &NodeId, new_attrs: Vec<Attribute>) {
        let mut nodes = self.nodes.borrow_mut();
        if let Kind::Element { attrs, .. } = &mut nodes[*target as usize].kind {
            for a in new_attrs {
                if is_read_attr(&a.name.local) && !attrs.iter().any(|(k, _)| *k == a.name.local) {
                    attrs.push((a.name.local, a.value));
                }
            }
        }
    }

    fn remove_from_parent(&self, target: &NodeId) {
        Self::detach(&mut self.nodes.borrow_mut(), *target);
    }

    fn reparent_children(&self, node: &NodeId, new_parent: &NodeId) {
        let mut nodes = self.nodes.borrow_mut();
        let mut c = nodes[*node as usize].first_child;
        while c != NONE {
            let next = nodes[c as usize].next;
            Self::append_child(&mut nodes, *new_parent, c);
            c = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_tree_with_implied_elements() {
        let dom = Dom::parse("<title>t</title><p>a<b>b</b>c<p>d");
        let body = dom.body().unwrap();
        let ps: Vec<_> = dom.children(body).collect();
        assert_eq!(ps.len(), 2);
        assert_eq!(dom.text_content(ps[0]), "abc");
        assert_eq!(dom.text_content(body), "abcd");
        assert!(dom.quirks);
        let dom = Dom::parse("<!DOCTYPE html><svg><a>x</a></svg><table><tr><td>1</table>");
        assert!(!dom.quirks);
        assert_eq!(dom.text_content(dom.body().unwrap()), "x1");
    }

    #[test]
    fn read_attrs_cover_the_extractor() {
        // Every attribute name the extractor looks up must survive tree building.
        let src = include_str!("extract.rs");
        let re = regex::Regex::new(r#"(?:attr|attr_opt|has_attr)\("([a-z-]+)"\)"#).unwrap();
        let mut asked: Vec<&str> = re
            .captures_iter(src)
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        asked.sort_unstable();
        asked.dedup();
        assert!(asked.len() >= 15, "{asked:?}");
        for name in asked {
            assert!(
                READ_ATTRS.contains(&name),
                "{name} is read by extract.rs but dropped"
            );
        }
        let dom = Dom::parse(r#"<div class="a" onclick="x" data-x="1" id="i">t</div>"#);
        let div = dom.children(dom.body().unwrap()).next().unwrap();
        match &dom.node(div).kind {
            Kind::Element { attrs, .. } => {
                let names: Vec<&str> = attrs.iter().map(|(k, _)| &**k).collect();
                assert_eq!(names, ["class", "id"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn adoption_agency_reparents() {
        let dom = Dom::parse("<b>1<p>2</b>3</p>");
        assert_eq!(dom.text_content(dom.body().unwrap()), "123");
    }
}
