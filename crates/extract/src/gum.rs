//! html5gum's WHATWG tokenizer feeding html5ever's tree builder.
//!
//! Why: html5ever's own tokenizer walks the input one `char` at a time through a `BufferQueue` of
//! tendrils and was ~80 % of extraction time; html5gum scans data, attribute-value, RAWTEXT and
//! script-data runs in bulk (jetscii/memchr) over the byte slice. The tree construction stays
//! html5ever's, so the DOM is the one html5ever builds — provided the *tokens* are the ones
//! html5ever's tokenizer would give. This emitter makes them so:
//!
//! - character runs are buffered and handed over as one `CharacterTokens` per run (html5ever splits
//!   runs at `\n`, `&`, … but the tree builder is indifferent to how a run is chunked), with every
//!   U+0000 a `NullCharacterToken` of its own, as html5ever's `emit_char('\0')` does;
//! - duplicate attributes are dropped (first wins) and flagged, as html5ever's `finish_attribute`;
//! - the *last start tag* (for "appropriate end tag") is only set by start tags, as in html5ever
//!   (html5gum's own emitters clear it on end tags);
//! - end tags carry their attributes and self-closing flag, as html5ever's do;
//! - the tree builder's answer to each tag switches the tokenizer state (`RawData`, `Plaintext`;
//!   `Script` means back to data, scripting being off), and `EncodingIndicator` (a `<meta
//!   charset>`) is ignored, as html5ever's driver does for a `&str` input;
//! - CDATA sections are only recognised when the tree builder's adjusted current node is foreign,
//!   and are sent chunked as html5ever's tokenizer chunks them (see `send_cdata_section`).
//!
//! - only the attributes the DOM or the tree builder reads are passed on (`kept_attribute`);
//!   the `Sink` would drop the others;
//! - a character run that is a stretch of the input is a subtendril of it (no copy);
//! - parse errors are not collected (our `TreeSink` ignores them), with one exception:
//!   html5ever's tree builder forgets "skip the LF after `<pre>`" on a parse error, so one is
//!   sent exactly where html5ever's tokenizer would report one before such an LF
//!   (`lf_follows_with_error`).
//!
//! Tests: token streams (runs merged) and whole DOMs of both tokenizers compared on generated
//! hostile HTML (`tests`), and on real pages (`tests/real_data.rs`, `examples/dom_diff`).

use crate::dom::Sink;
#[cfg(doc)]
use crate::dom::READ_ATTRS;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    Doctype, Tag, TagKind, Token, TokenSink, TokenSinkResult, TokenizerOpts,
};
use html5ever::tree_builder::{TreeBuilder, TreeBuilderOpts};
use html5ever::{ns, Attribute, LocalName, QualName};
use html5gum::{Emitter, Error, State, Tokenizer};
use std::convert::Infallible;

/// The emitter: builds html5ever tokens from html5gum's callbacks and sends each to `sink` as soon
/// as html5ever's tokenizer would have.
struct TokenBridge<'a, S: TokenSink> {
    sink: &'a S,
    input: &'a str,
    /// `input` as one shared tendril: a character run that is a stretch of the input is sent as
    /// a subtendril of it (no copy, no UTF-8 check), as html5ever's tokenizer does.
    shared: StrTendril,
    /// The pending character run while it is still one stretch `start..end` of the input
    /// (`text` is empty then); `None` once it had to be copied into `text`.
    run: Option<(usize, usize)>,
    /// Byte offset in `input` of the next byte html5gum reads (it reports every move).
    pos: usize,
    /// Inside a CDATA section, html5gum's characters are dropped up to this offset (the end of
    /// `]]>`): the section was already sent, chunked as html5ever chunks it.
    skip_until: Option<usize>,
    /// Pending character run, when it is not a stretch of the input (character references,
    /// CR/LF, replaced NULs): bytes of valid UTF-8 once complete.
    text: Vec<u8>,
    tag_kind: TagKind,
    tag_name: Vec<u8>,
    self_closing: bool,
    attrs: Vec<Attribute>,
    had_duplicate_attributes: bool,
    /// The attribute being read: `in_attr` is false before the first `init_attribute` of a tag.
    in_attr: bool,
    /// Whether the current attribute is one that is kept ([`kept_attribute`]); decided when its
    /// value starts (its name is complete then), `None` before.
    attr_kept: Option<bool>,
    attr_name: Vec<u8>,
    attr_value: Vec<u8>,
    last_start_tag: Vec<u8>,
    /// Input offset just past the last start tag, while no other token was sent since.
    after_start_tag: Option<usize>,
    comment: Vec<u8>,
    doctype_name: Option<Vec<u8>>,
    doctype_public: Option<Vec<u8>>,
    doctype_system: Option<Vec<u8>>,
    force_quirks: bool,
}

/// The attributes that reach the tree builder: the ones the DOM keeps ([`READ_ATTRS`]), the
/// ones html5ever's tree builder reads (`type` of `<input>`, `<meta>`'s `charset`/`http-equiv`/
/// `content`, `<font>`'s `color`/`face`/`size` in foreign content, `encoding` of
/// `<annotation-xml>`, `form`, `shadowrootmode`), and every prefixed name (`xlink:href` becomes
/// an `href` in foreign content). The others would be dropped by the `Sink` anyway; not making
/// them saves interning their names and copying their values. Duplicates are dropped among the
/// kept ones only, which keeps the same first value of each kept name.
fn kept_attribute(name: &[u8]) -> bool {
    matches!(
        name,
        b"class"
            | b"id"
            | b"style"
            | b"hidden"
            | b"rel"
            | b"itemprop"
            | b"aria-hidden"
            | b"aria-expanded"
            | b"role"
            | b"data-ad"
            | b"data-advertisement"
            | b"data-text-ad"
            | b"href"
            | b"alt"
            | b"type"
            | b"value"
            | b"placeholder"
            | b"charset"
            | b"http-equiv"
            | b"content"
            | b"color"
            | b"face"
            | b"size"
            | b"encoding"
            | b"form"
            | b"shadowrootmode"
    ) || memchr::memchr(b':', name).is_some()
}

/// Whether html5ever's tokenizer reports a parse error between a start tag and a character run
/// that starts with LF, `rest` being the input after the tag. It matters because html5ever's
/// tree builder forgets "ignore the LF right after `<pre>`/`<listing>`/`<textarea>`" on any
/// token, parse errors included, so `<pre></>\n` and `<pre>&#10` keep their LF there. No error:
/// the LF is the next input character (CR or LF: CR LF and CR are read as LF) or a character
/// reference to it with its `;` (`&#10;`, `&#x0a;`, `&NewLine;`); anything else that can come
/// first yields no token but an error (`</>`, a reference without `;`).
fn lf_follows_with_error(rest: &str) -> bool {
    let b = rest.as_bytes();
    match b.first() {
        Some(b'\n' | b'\r') => false,
        Some(b'&') => {
            if rest.starts_with("&NewLine;") {
                return false;
            }
            let (digits, hex) = match b.get(1..3) {
                Some([b'#', b'x' | b'X']) => (&b[3..], true),
                Some([b'#', _]) => (&b[2..], false),
                _ => return true,
            };
            let n = digits
                .iter()
                .take_while(|c| {
                    if hex {
                        c.is_ascii_hexdigit()
                    } else {
                        c.is_ascii_digit()
                    }
                })
                .count();
            digits.get(n) != Some(&b';')
        }
        _ => true,
    }
}

/// UTF-8 bytes → tendril. html5gum hands out byte slices; they are whole UTF-8 sequences once a
/// token is complete (the input is a `&str`, and html5gum only splits it at ASCII bytes), so the
/// lossy branch is never taken on our input; it exists so a bug cannot become UB.
fn tendril(bytes: &[u8]) -> StrTendril {
    match std::str::from_utf8(bytes) {
        Ok(s) => StrTendril::from_slice(s),
        Err(_) => StrTendril::from_slice(&String::from_utf8_lossy(bytes)),
    }
}

fn local_name(bytes: &[u8]) -> LocalName {
    match std::str::from_utf8(bytes) {
        Ok(s) => LocalName::from(s),
        Err(_) => LocalName::from(&*String::from_utf8_lossy(bytes)),
    }
}

impl<'a, S: TokenSink> TokenBridge<'a, S> {
    fn new(sink: &'a S, input: &'a str) -> Self {
        TokenBridge {
            sink,
            input,
            shared: StrTendril::from_slice(input),
            run: None,
            pos: 0,
            skip_until: None,
            text: Vec::new(),
            tag_kind: TagKind::StartTag,
            tag_name: Vec::new(),
            self_closing: false,
            attrs: Vec::new(),
            had_duplicate_attributes: false,
            in_attr: false,
            attr_kept: None,
            attr_name: Vec::new(),
            attr_value: Vec::new(),
            last_start_tag: Vec::new(),
            after_start_tag: None,
            comment: Vec::new(),
            doctype_name: None,
            doctype_public: None,
            doctype_system: None,
            force_quirks: false,
        }
    }

    fn send(&self, token: Token) -> TokenSinkResult<S::Handle> {
        self.sink.process_token(token, 1)
    }

    /// Sends a token that is not a tag: the tree builder answers those with `Continue`, as
    /// html5ever's tokenizer assumes (it ignores the answer too).
    fn send_other(&mut self, token: Token) {
        if !matches!(token, Token::ParseError(_)) {
            self.after_start_tag = None;
        }
        let _continue = self.sink.process_token(token, 1);
    }

    /// Sends the pending character run: U+0000 as `NullCharacterToken`s, the rest as
    /// `CharacterTokens` (the tree builder's answer to characters is always `Continue`).
    fn flush_text(&mut self) {
        if let Some(tag_end) = self.after_start_tag.take() {
            let first = match self.run {
                Some((start, _)) => self.input.as_bytes().get(start),
                None => self.text.first(),
            };
            if first == Some(&b'\n') && lf_follows_with_error(&self.input[tag_end..]) {
                self.send_other(Token::ParseError(
                    "error before the LF after a start tag".into(),
                ));
            }
        }
        if let Some((start, end)) = self.run.take() {
            let mut at = start;
            let input = self.input;
            while let Some(i) = memchr::memchr(0, &input.as_bytes()[at..end]) {
                if i > 0 {
                    let t = self.shared.subtendril(at as u32, i as u32);
                    self.send_other(Token::CharacterTokens(t));
                }
                self.send_other(Token::NullCharacterToken);
                at += i + 1;
            }
            if at < end {
                let t = self.shared.subtendril(at as u32, (end - at) as u32);
                self.send_other(Token::CharacterTokens(t));
            }
            return;
        }
        if self.text.is_empty() {
            return;
        }
        // Taken out (and put back, to keep its allocation) so that sending can borrow `self`.
        let mut text = std::mem::take(&mut self.text);
        let mut rest = &text[..];
        while let Some(i) = memchr::memchr(0, rest) {
            if i > 0 {
                self.send_other(Token::CharacterTokens(tendril(&rest[..i])));
            }
            self.send_other(Token::NullCharacterToken);
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            self.send_other(Token::CharacterTokens(tendril(rest)));
        }
        text.clear();
        self.text = text;
    }

    /// Where `c` lies in the input, if it is a slice of it starting and ending on character
    /// boundaries (html5gum hands out input slices for runs it scanned, and other buffers for
    /// what it produced).
    #[inline]
    fn input_range(&self, c: &[u8]) -> Option<(usize, usize)> {
        let start = (c.as_ptr() as usize).wrapping_sub(self.input.as_ptr() as usize);
        let end = start.checked_add(c.len())?;
        // Tendril offsets are u32: a larger input is copied run by run instead.
        (end <= self.input.len()
            && self.input.len() <= u32::MAX as usize
            && self.input.is_char_boundary(start)
            && self.input.is_char_boundary(end))
        .then_some((start, end))
    }

    /// Sends a CDATA section starting at `self.pos` the way html5ever's tokenizer does: it keeps
    /// the section's characters apart and sends them when a U+0000, the `]]>` or EOF comes, even
    /// when there are none (an empty `CharacterTokens`, which can create an empty text node).
    /// html5gum streams them instead, so its characters are skipped up to the section's end.
    fn send_cdata_section(&mut self) {
        let start = self.pos.min(self.input.len());
        let rest = &self.input[start..];
        let (content, end) = match rest.find("]]>") {
            Some(i) => (&rest[..i], start + i + 3),
            None => (rest, self.input.len()),
        };
        // html5ever's input stream has CR LF and CR already turned into LF.
        let content = content.replace("\r\n", "\n").replace('\r', "\n");
        let mut segments = content.split('\0');
        if let Some(first) = segments.next() {
            self.send_other(Token::CharacterTokens(StrTendril::from_slice(first)));
        }
        for segment in segments {
            self.send_other(Token::NullCharacterToken);
            self.send_other(Token::CharacterTokens(StrTendril::from_slice(segment)));
        }
        self.skip_until = Some(end);
    }

    fn finish_attribute(&mut self) {
        if !self.in_attr {
            return;
        }
        self.in_attr = false;
        self.attr_kept = None;
        if self.attr_name.is_empty() {
            return;
        }
        if !kept_attribute(&self.attr_name) {
            self.attr_name.clear();
            self.attr_value.clear();
            return;
        }
        let name = local_name(&self.attr_name);
        self.attr_name.clear();
        if self.attrs.iter().any(|a| a.name.local == name) {
            self.had_duplicate_attributes = true;
        } else {
            self.attrs.push(Attribute {
                // The tree builder adjusts the namespace of foreign attributes itself.
                name: QualName::new(None, ns!(), name),
                value: tendril(&self.attr_value),
            });
        }
        self.attr_value.clear();
    }
}

impl<S: TokenSink> Emitter for TokenBridge<'_, S> {
    type Token = Infallible;

    fn set_last_start_tag(&mut self, last_start_tag: Option<&[u8]>) {
        self.last_start_tag.clear();
        self.last_start_tag
            .extend_from_slice(last_start_tag.unwrap_or_default());
    }

    fn emit_eof(&mut self) {
        self.flush_text();
        self.send_other(Token::EOFToken);
        self.sink.end();
    }

    fn emit_error(&mut self, _error: Error) {}

    #[inline]
    fn should_emit_errors(&mut self) -> bool {
        false
    }

    fn pop_token(&mut self) -> Option<Infallible> {
        None
    }

    #[inline]
    fn emit_string(&mut self, c: &[u8]) {
        if let Some(end) = self.skip_until {
            // html5gum reports a position past the characters it emits: inside the section
            // it is at most its end; text after `]]>` is read from further on.
            if self.pos <= end {
                return;
            }
            self.skip_until = None;
        }
        if self.text.is_empty() {
            match (self.run, self.input_range(c)) {
                (None, Some(r)) => {
                    self.run = Some(r);
                    return;
                }
                (Some((start, end)), Some((s, e))) if s == end => {
                    self.run = Some((start, e));
                    return;
                }
                (Some((start, end)), _) => {
                    self.text
                        .extend_from_slice(&self.input.as_bytes()[start..end]);
                    self.run = None;
                }
                (None, None) => {}
            }
        }
        self.text.extend_from_slice(c);
    }

    #[inline]
    fn move_position(&mut self, offset: isize) {
        self.pos = self.pos.wrapping_add_signed(offset);
    }

    fn init_start_tag(&mut self) {
        self.tag_kind = TagKind::StartTag;
        self.tag_name.clear();
        self.self_closing = false;
        self.attrs.clear();
        self.had_duplicate_attributes = false;
        self.in_attr = false;
        self.attr_kept = None;
        self.attr_name.clear();
        self.attr_value.clear();
    }

    fn init_end_tag(&mut self) {
        self.init_start_tag();
        self.tag_kind = TagKind::EndTag;
    }

    fn init_comment(&mut self) {
        self.comment.clear();
    }

    fn emit_current_tag(&mut self) -> Option<State> {
        self.finish_attribute();
        self.flush_text();
        let name = local_name(&self.tag_name);
        if self.tag_kind == TagKind::StartTag {
            std::mem::swap(&mut self.last_start_tag, &mut self.tag_name);
        }
        self.tag_name.clear();
        let tag = Tag {
            kind: self.tag_kind,
            name,
            self_closing: self.self_closing,
            attrs: std::mem::take(&mut self.attrs),
            had_duplicate_attributes: self.had_duplicate_attributes,
        };
        let start = tag.kind == TagKind::StartTag;
        let result = self.send(Token::TagToken(tag));
        self.after_start_tag = start.then_some(self.pos);
        match result {
            TokenSinkResult::Continue | TokenSinkResult::EncodingIndicator(_) => None,
            TokenSinkResult::Script(_) => Some(State::Data),
            TokenSinkResult::Plaintext => Some(State::PlainText),
            TokenSinkResult::RawData(RawKind::Rcdata) => Some(State::RcData),
            TokenSinkResult::RawData(RawKind::Rawtext) => Some(State::RawText),
            TokenSinkResult::RawData(RawKind::ScriptData) => Some(State::ScriptData),
            // The tree builder only ever asks for the three entry states above; the escaped
            // script states are entered by the tokenizer itself.
            TokenSinkResult::RawData(RawKind::ScriptDataEscaped(_)) => {
                unreachable!("tree builder asked for an escaped script state")
            }
        }
    }

    fn emit_current_comment(&mut self) {
        self.flush_text();
        self.send_other(Token::CommentToken(tendril(&self.comment)));
        self.comment.clear();
    }

    fn emit_current_doctype(&mut self) {
        self.flush_text();
        let doctype = Doctype {
            name: self.doctype_name.take().map(|v| tendril(&v)),
            public_id: self.doctype_public.take().map(|v| tendril(&v)),
            system_id: self.doctype_system.take().map(|v| tendril(&v)),
            force_quirks: self.force_quirks,
        };
        self.send_other(Token::DoctypeToken(doctype));
    }

    fn set_self_closing(&mut self) {
        self.self_closing = true;
    }

    fn set_force_quirks(&mut self) {
        self.force_quirks = true;
    }

    #[inline]
    fn push_tag_name(&mut self, s: &[u8]) {
        self.tag_name.extend_from_slice(s);
    }

    #[inline]
    fn push_comment(&mut self, s: &[u8]) {
        self.comment.extend_from_slice(s);
    }

    fn push_doctype_name(&mut self, s: &[u8]) {
        self.doctype_name
            .get_or_insert_with(Vec::new)
            .extend_from_slice(s);
    }

    fn init_doctype(&mut self) {
        self.doctype_name = None;
        self.doctype_public = None;
        self.doctype_system = None;
        self.force_quirks = false;
    }

    fn init_attribute(&mut self) {
        self.finish_attribute();
        self.in_attr = true;
    }

    #[inline]
    fn push_attribute_name(&mut self, s: &[u8]) {
        self.attr_name.extend_from_slice(s);
    }

    #[inline]
    fn push_attribute_value(&mut self, s: &[u8]) {
        let name = &self.attr_name;
        if *self.attr_kept.get_or_insert_with(|| kept_attribute(name)) {
            self.attr_value.extend_from_slice(s);
        }
    }

    fn set_doctype_public_identifier(&mut self, value: &[u8]) {
        self.doctype_public = Some(value.to_vec());
    }

    fn set_doctype_system_identifier(&mut self, value: &[u8]) {
        self.doctype_system = Some(value.to_vec());
    }

    fn push_doctype_public_identifier(&mut self, s: &[u8]) {
        self.doctype_public
            .get_or_insert_with(Vec::new)
            .extend_from_slice(s);
    }

    fn push_doctype_system_identifier(&mut self, s: &[u8]) {
        self.doctype_system
            .get_or_insert_with(Vec::new)
            .extend_from_slice(s);
    }

    fn current_is_appropriate_end_tag_token(&mut self) -> bool {
        self.tag_kind == TagKind::EndTag
            && !self.last_start_tag.is_empty()
            && self.last_start_tag == self.tag_name
    }

    /// Asked once `<![CDATA[` has been read, and only then.
    fn adjusted_current_node_present_but_not_in_html_namespace(&mut self) -> bool {
        let foreign = self
            .sink
            .adjusted_current_node_present_but_not_in_html_namespace();
        if foreign {
            self.flush_text();
            self.send_cdata_section();
        }
        foreign
    }
}

/// Tokenizes `html` with html5gum, sending html5ever tokens to `sink` (normally a tree builder).
pub fn tokenize_into<S: TokenSink>(html: &str, sink: &S) {
    let bridge = TokenBridge::new(sink, html);
    let Ok(()) = Tokenizer::new_with_emitter(html, bridge).finish();
}

/// Parses a document with html5gum's tokenizer and html5ever's tree builder into `sink`.
pub(crate) fn parse_document(html: &str, sink: Sink, opts: TreeBuilderOpts) -> Sink {
    let builder = TreeBuilder::new(sink, opts);
    tokenize_into(html, &builder);
    builder.sink
}

/// html5ever's tokenizer options that the default parser uses (for the fallback and the
/// differential test): a leading U+FEFF is kept as text, as lexbor does.
pub fn html5ever_tokenizer_opts() -> TokenizerOpts {
    TokenizerOpts {
        discard_bom: false,
        ..TokenizerOpts::default()
    }
}

#[cfg(test)]
mod tests {
    //! Differential test: the tokens html5gum (through [`TokenBridge`]) sends the tree builder are
    //! the tokens html5ever's own tokenizer sends it, on generated hostile HTML. Both sides drive a
    //! real tree builder, so the tree builder's state switches (`<script>`, `<textarea>`,
    //! `<plaintext>`, CDATA in `<svg>`) are part of what is compared.
    use super::*;
    use crate::dom::{Dom, HtmlTokenizer, Sink};
    use html5ever::interface::TreeSink;
    use html5ever::tokenizer::{BufferQueue, Tokenizer as Html5everTokenizer};
    use html5ever::TokenizerResult;
    use proptest::prelude::*;
    use std::cell::RefCell;

    /// Forwards every token to a tree builder and records it, character runs merged (chunking
    /// is allowed to differ), parse errors left out, and tags with their kept attributes only
    /// ([`kept_attribute`]; the DOMs are compared whole as well).
    struct Recorder {
        inner: TreeBuilder<crate::dom::NodeId, Sink>,
        tokens: RefCell<Vec<Token>>,
    }

    impl Recorder {
        fn new() -> Recorder {
            let sink = Sink::new();
            let opts = TreeBuilderOpts {
                scripting_enabled: false,
                ..TreeBuilderOpts::default()
            };
            Recorder {
                inner: TreeBuilder::new(sink, opts),
                tokens: RefCell::new(Vec::new()),
            }
        }
    }

    impl TokenSink for Recorder {
        type Handle = crate::dom::NodeId;

        fn process_token(&self, token: Token, line: u64) -> TokenSinkResult<Self::Handle> {
            let mut tokens = self.tokens.borrow_mut();
            match (&token, tokens.last_mut()) {
                (Token::ParseError(_), _) => {}
                (Token::CharacterTokens(t), Some(Token::CharacterTokens(last))) => {
                    last.push_tendril(t)
                }
                (Token::TagToken(tag), _) => {
                    let mut tag = tag.clone();
                    tag.attrs
                        .retain(|a| kept_attribute(a.name.local.as_bytes()));
                    tag.had_duplicate_attributes = false;
                    tokens.push(Token::TagToken(tag));
                }
                _ => tokens.push(copy(&token)),
            }
            drop(tokens);
            self.inner.process_token(token, line)
        }

        fn end(&self) {
            self.inner.end()
        }

        fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
            self.inner
                .adjusted_current_node_present_but_not_in_html_namespace()
        }
    }

    /// `Token` is not `Clone`.
    fn copy(token: &Token) -> Token {
        match token {
            Token::DoctypeToken(d) => Token::DoctypeToken(d.clone()),
            Token::TagToken(t) => Token::TagToken(t.clone()),
            Token::CommentToken(t) => Token::CommentToken(t.clone()),
            Token::CharacterTokens(t) => Token::CharacterTokens(t.clone()),
            Token::NullCharacterToken => Token::NullCharacterToken,
            Token::EOFToken => Token::EOFToken,
            Token::ParseError(e) => Token::ParseError(e.clone()),
        }
    }

    /// The tokens and the DOM (its `Debug` form: every node, tag, kept attribute and text).
    fn html5ever_tokens(html: &str) -> (Vec<Token>, String) {
        let tok = Html5everTokenizer::new(Recorder::new(), html5ever_tokenizer_opts());
        let input = BufferQueue::default();
        input.push_back(StrTendril::from_slice(html));
        while !matches!(tok.feed(&input), TokenizerResult::Done) {}
        tok.end();
        let rec = tok.sink;
        (rec.tokens.into_inner(), rec.inner.sink.finish().dump())
    }

    fn html5gum_tokens(html: &str) -> (Vec<Token>, String) {
        let rec = Recorder::new();
        tokenize_into(html, &rec);
        (rec.tokens.into_inner(), rec.inner.sink.finish().dump())
    }

    fn assert_same(html: &str) {
        let (ours, our_dom) = html5gum_tokens(html);
        let (theirs, their_dom) = html5ever_tokens(html);
        assert!(
            ours == theirs,
            "token streams differ on {html:?}\nhtml5gum:  {ours:?}\nhtml5ever: {theirs:?}"
        );
        assert_eq!(our_dom, their_dom, "DOMs differ on {html:?}");
    }

    #[test]
    fn kept_attributes_cover_the_dom() {
        for name in crate::dom::READ_ATTRS {
            assert!(kept_attribute(name.as_bytes()), "{name}");
        }
        assert!(kept_attribute(b"xlink:href"));
        assert!(!kept_attribute(b"onclick"));
        assert!(!kept_attribute(b"data-x"));
    }

    /// Pieces of hostile HTML: every tokenizer state's entry and exit, character references
    /// with and without `;` (in text and in attribute values, where the historical `=`/alnum
    /// rule applies), comments and their bogus forms, script escapes, NUL, CR, BOM, non-ASCII.
    const PIECES: &[&str] = &[
        "<div",
        "<p>",
        "</p>",
        "<P CLASS=a>",
        "<a href=x>",
        "</a>",
        "<b>",
        "</b>",
        "<i>",
        " ",
        "\t",
        "\n",
        "\r",
        "\r\n",
        "\x0C",
        "\0",
        "\u{FEFF}",
        "é",
        "日本",
        "x",
        "Y",
        "1",
        ">",
        "/>",
        "<",
        "</",
        "/",
        "=",
        "'",
        "\"",
        "&",
        "#",
        ";",
        "a=",
        "b='x'",
        "c=\"y&amp;z\"",
        "d=e&ampf",
        "e=&lt=",
        "f=&notin",
        "class=a",
        "class=b",
        "id=\0",
        "<script>",
        "</script>",
        "</scr",
        "</script ",
        "<!--<script>",
        "-->",
        "<!--",
        "--!>",
        "<!-",
        "<!---->",
        "--",
        "-",
        "<!DOCTYPE html>",
        "<!doctype",
        " PUBLIC \"-//W3C//DTD HTML 4.01//EN\"",
        " SYSTEM 'x'",
        "<!DOCTYPE",
        "&amp;",
        "&amp",
        "&AMP",
        "&notin;",
        "&notit;",
        "&not",
        "&#x41;",
        "&#65",
        "&#0;",
        "&#x80;",
        "&#128",
        "&#xD800;",
        "&#1114112;",
        "&#x;",
        "&#",
        "&#x",
        "&Aacute",
        "&zwnj;",
        "&unknown;",
        "<![CDATA[",
        "]]>",
        "]",
        "<svg>",
        "</svg>",
        "<math>",
        "<mi>",
        "<foreignObject>",
        "<textarea>",
        "</textarea>",
        "<title>",
        "</title>",
        "<style>",
        "</style>",
        "<plaintext>",
        "<xmp>",
        "</xmp>",
        "<iframe>",
        "</iframe>",
        "<noscript>",
        "<noframes>",
        "<noembed>",
        "<table>",
        "<tr>",
        "<td>",
        "</table>",
        "<template>",
        "</template>",
        "<select>",
        "<option>",
        "<pre>",
        "<listing>",
        "<?xml ?>",
        "</>",
        "</ div>",
        "<br/>",
        "</br>",
        "<meta charset=utf-8>",
        "<input type=hidden>",
        "<frameset>",
        "<body>",
        "<html lang=en>",
        "<head>",
        "</head>",
        "<font color=red>",
        "<image>",
        "<a xlink:href=u href=v>",
        "onclick=z",
        "data-x='1'",
        "CLASS=d",
        "<annotation-xml encoding=text/html>",
        "<form id=f>",
        "<input form=f type=text>",
        "<body class=b2>",
        "<html id=h2>",
        "&#10",
        "&#10;",
        "&#x0A",
        "&#xa;",
        "&NewLine;",
        "&NewLine",
        "</>",
    ];

    fn piece_doc() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|v| v.concat())
    }

    fn char_doc() -> impl Strategy<Value = String> {
        "[<>/!?&#;=\"' \t\r\n\0a-zA-Z0-9\\-\\[\\]é\u{FEFF}]{0,80}"
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

        #[test]
        fn same_tokens_as_html5ever(html in piece_doc()) {
            assert_same(&html);
        }

        #[test]
        fn same_tokens_as_html5ever_char_soup(html in char_doc()) {
            assert_same(&html);
        }
    }

    /// The LF right after `<pre>`, `<listing>` and `<textarea>` is dropped unless html5ever
    /// reported a parse error first (`lf_follows_with_error`).
    #[test]
    fn lf_after_pre_listing_textarea() {
        let between = [
            "",
            "</>",
            "</></>",
            "&#10",
            "&#10;",
            "&#010;",
            "&#x0A",
            "&#xa;",
            "&#XA;",
            "&NewLine;",
            "&NewLine",
            "\r",
            "\r\n",
            "\0",
            "x",
            "<!---->",
            "<b>",
        ];
        for tag in [
            "<pre>",
            "<PRE a=1 a=2>",
            "<pre/>",
            "<listing>",
            "<textarea>",
            "<div>",
            "<svg><pre>",
            "<table><pre>",
        ] {
            for b in between {
                for after in ["\n", "\nx", "\n\n", "\r\n", ""] {
                    assert_same(&format!("{tag}{b}{after}"));
                }
            }
        }
    }

    /// EOF in every state: every prefix of documents that walk through them.
    #[test]
    fn same_tokens_at_every_eof() {
        let docs = [
            "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\" 'http://x'><html><head><title>a&amp;b</title><style>p{}</style></head>",
            "<body><p class=\"a\" id='b' data-x=c hidden>t&notin;&#x41;&#65;&amp x</p><!-- c --><!--x--!><!-->",
            "<script><!--<script>x</script>y--></script><script>a</scr b</script  ><textarea>\r\n</textarea>",
            "<svg><![CDATA[x]]y]]></svg><math><mi>&lt</mi></math><pre>\n\nx</pre><plaintext>&amp;<b>",
            "<a href=\"x&ampy=1&amp;z\" title=&lt;>\0\r\r\n</a><?pi x><!DOCTYPE><!doctype x SYSTEM \"y\">",
        ];
        for doc in docs {
            for (i, _) in doc.char_indices().chain([(doc.len(), ' ')]) {
                assert_same(&doc[..i]);
            }
        }
    }

    /// The DOMs agree too (a direct check of `Dom::parse_with`, the API the extractor uses).
    #[test]
    fn same_dom_text() {
        let html = "<table><tr><td>a<b>b<p>c</b>d</table><svg><a>e</a></svg>\0f&notin;g";
        let a = Dom::parse_with(html, HtmlTokenizer::Html5gum);
        let b = Dom::parse_with(html, HtmlTokenizer::Html5ever);
        assert_eq!(a.nodes.len(), b.nodes.len());
        assert_eq!(a.quirks, b.quirks);
        assert_eq!(
            a.text_content(crate::dom::DOCUMENT),
            b.text_content(crate::dom::DOCUMENT)
        );
        assert_eq!(a.text_content(crate::dom::DOCUMENT), "abcdef\u{2209}g");
    }
}
