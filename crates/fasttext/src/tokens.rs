//! fastText's tokenizer (`Dictionary::readWord`), shared by inference and by DCLM's word counts.

/// fastText's end-of-sentence token, emitted for each newline.
pub const EOS: &str = "</s>";

/// `fasttext.FastText.tokenize(text)`: fastText's `Dictionary::readWord` loop. Splits on the bytes
/// ` \n\r\t\v\f\0` (so NBSP and other Unicode spaces do not split) and yields `</s>` for every
/// newline.
pub fn fasttext_tokens(text: &str) -> FastTextTokens<'_> {
    FastTextTokens {
        bytes: text.as_bytes(),
        text,
        pos: 0,
    }
}

/// Iterator of [`fasttext_tokens`].
pub struct FastTextTokens<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

#[inline]
fn is_ft_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0)
}

impl<'a> Iterator for FastTextTokens<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let b = self.bytes;
        // Skip separators; a newline met before any word is itself a token.
        while self.pos < b.len() && is_ft_space(b[self.pos]) {
            if b[self.pos] == b'\n' {
                self.pos += 1;
                return Some(EOS);
            }
            self.pos += 1;
        }
        if self.pos >= b.len() {
            return None;
        }
        let start = self.pos;
        while self.pos < b.len() && !is_ft_space(b[self.pos]) {
            self.pos += 1;
        }
        // Separators are ASCII, so slicing here stays on char boundaries. A newline that ends a
        // word is left in place (fastText's `sungetc`) and produces `</s>` on the next call.
        Some(&self.text[start..self.pos])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_matches_readword() {
        let t: Vec<_> = fasttext_tokens("a b\n\nc\u{a0}d\te\x0bf\x00g \n").collect();
        assert_eq!(t, ["a", "b", EOS, EOS, "c\u{a0}d", "e", "f", "g", EOS]);
        assert_eq!(fasttext_tokens("").count(), 0);
    }
}
