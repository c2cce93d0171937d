//! The lexer: query text to tokens with byte spans.
//!
//! Words (identifiers and keywords) are `[A-Za-z_$][A-Za-z0-9_$]*`; the parser decides which are
//! keywords. `[[...]]` quotes a member name (the text up to the first `]]`, which must not be
//! empty or end with `]`), so a nested array constant must be written with a space between its
//! opening brackets (`[ [1, 2] ]`). Numbers start with a digit: decimal with optional fraction
//! and exponent (`12`, `1.5`, `2E-3`) or hexadecimal (`0x1F`, at most 16 digits; values above
//! 2^53 are rounded to the nearest `f64`). Strings are quoted with `'` or `"` and take only
//! the escapes IoT Hub documents: `\'`, `\"`, `\\` and `\uXXXX` (UTF-16 surrogate pairs are
//! joined; a lone surrogate is refused). Whitespace is space, tab, carriage return and line
//! feed.

use super::QueryError;
use super::ast::Number;
use super::error::{Position, quote};

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token<'a> {
    /// An identifier or keyword, as written.
    Word(&'a str),
    /// The name inside `[[...]]`.
    Quoted(&'a str),
    /// A number literal (not negative).
    Number(Number),
    /// A string literal, unescaped.
    String(String),
    /// `*`
    Star,
    /// `,`
    Comma,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `.`
    Dot,
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// The end of the text.
    End,
}

impl Token<'_> {
    /// How an error message names the token.
    pub(crate) fn describe(&self, source: &str) -> String {
        match self {
            Self::End => "the end of the query".to_owned(),
            Self::String(_) => format!("the string {}", quote(source)),
            Self::Number(_) => format!("the number {}", quote(source)),
            _ => quote(source),
        }
    }
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned<'a> {
    /// The token.
    pub(crate) token: Token<'a>,
    /// Byte offset of its first character.
    pub(crate) start: usize,
    /// Byte offset just past it.
    pub(crate) end: usize,
}

/// Reads tokens from a query text, one at a time.
#[derive(Debug)]
pub(crate) struct Lexer<'a> {
    text: &'a str,
    at: usize,
}

/// Most hexadecimal digits a number may have (a `u64`).
const MAX_HEX_DIGITS: usize = 16;

impl<'a> Lexer<'a> {
    /// A lexer at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, at: 0 }
    }

    /// The whole text.
    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// The next token, or [`Token::End`] (again and again) at the end.
    pub(crate) fn next_token(&mut self) -> Result<Spanned<'a>, QueryError> {
        self.skip_whitespace();
        let start = self.at;
        let token = self.token()?;
        Ok(Spanned {
            token,
            start,
            end: self.at,
        })
    }

    /// An [`QueryError::Unexpected`] for `token`.
    pub(crate) fn unexpected(&self, token: &Spanned<'_>, expected: &'static str) -> QueryError {
        let source = self.text.get(token.start..token.end).unwrap_or_default();
        QueryError::Unexpected {
            position: Position::locate(self.text, token.start),
            expected,
            found: token.token.describe(source),
        }
    }

    /// An [`QueryError::InvalidToken`] at byte `at`.
    fn invalid(&self, at: usize, reason: impl Into<String>) -> QueryError {
        QueryError::InvalidToken {
            position: Position::locate(self.text, at),
            reason: reason.into(),
        }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.at..).unwrap_or_default()
    }

    fn peek_byte(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.at + ahead).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek_byte(0), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    fn token(&mut self) -> Result<Token<'a>, QueryError> {
        let Some(first) = self.peek_byte(0) else {
            return Ok(Token::End);
        };
        if first.is_ascii_alphabetic() || first == b'_' || first == b'$' {
            return Ok(Token::Word(self.take_while(|b| {
                b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
            })));
        }
        if first.is_ascii_digit() {
            return self.number().map(Token::Number);
        }
        match first {
            b'\'' | b'"' => self.string(first).map(Token::String),
            b'[' if self.peek_byte(1) == Some(b'[') => self.quoted_name().map(Token::Quoted),
            _ => self.punctuation(first),
        }
    }

    fn punctuation(&mut self, first: u8) -> Result<Token<'a>, QueryError> {
        let second = self.peek_byte(1);
        let (token, width) = match (first, second) {
            (b'!', Some(b'=')) | (b'<', Some(b'>')) => (Token::Ne, 2),
            (b'<', Some(b'=')) => (Token::Le, 2),
            (b'>', Some(b'=')) => (Token::Ge, 2),
            (b'<', _) => (Token::Lt, 1),
            (b'>', _) => (Token::Gt, 1),
            (b'=', _) => (Token::Eq, 1),
            (b'*', _) => (Token::Star, 1),
            (b',', _) => (Token::Comma, 1),
            (b'(', _) => (Token::LParen, 1),
            (b')', _) => (Token::RParen, 1),
            (b'[', _) => (Token::LBracket, 1),
            (b']', _) => (Token::RBracket, 1),
            (b'.', _) => (Token::Dot, 1),
            (b'+', _) => (Token::Plus, 1),
            (b'-', _) => (Token::Minus, 1),
            (b'/', _) => (Token::Slash, 1),
            (b'%', _) => (Token::Percent, 1),
            _ => {
                let shown = self.rest().chars().next().unwrap_or_default();
                let shown = quote(shown.encode_utf8(&mut [0; 4]));
                return Err(self.invalid(self.at, format!("unexpected character {shown}")));
            }
        };
        self.at += width;
        Ok(token)
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.at;
        while self.peek_byte(0).is_some_and(&keep) {
            self.at += 1;
        }
        self.text.get(start..self.at).unwrap_or_default()
    }

    fn number(&mut self) -> Result<Number, QueryError> {
        let start = self.at;
        let hex = self.peek_byte(0) == Some(b'0') && matches!(self.peek_byte(1), Some(b'x' | b'X'));
        let value = if hex {
            self.at += 2;
            self.hex_digits(start)?
        } else {
            self.decimal(start)?
        };
        if self
            .peek_byte(0)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        {
            return Err(self.invalid(start, "a number must not run into a name"));
        }
        Number::new(value).ok_or_else(|| self.invalid(start, "number out of range"))
    }

    fn hex_digits(&mut self, start: usize) -> Result<f64, QueryError> {
        let digits = self.take_while(|b| b.is_ascii_hexdigit());
        let significant = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Err(self.invalid(start, "`0x` must be followed by hexadecimal digits"));
        }
        if significant.len() > MAX_HEX_DIGITS {
            return Err(self.invalid(start, "hexadecimal number larger than 64 bits"));
        }
        let value = u64::from_str_radix(
            if significant.is_empty() {
                "0"
            } else {
                significant
            },
            16,
        )
        .map_err(|_| self.invalid(start, "invalid hexadecimal number"))?;
        // Rounds to the nearest f64 above 2^53, as documented.
        #[allow(clippy::cast_precision_loss)]
        Ok(value as f64)
    }

    fn decimal(&mut self, start: usize) -> Result<f64, QueryError> {
        self.take_while(|b| b.is_ascii_digit());
        if self.peek_byte(0) == Some(b'.') && self.peek_byte(1).is_some_and(|b| b.is_ascii_digit())
        {
            self.at += 1;
            self.take_while(|b| b.is_ascii_digit());
        }
        if matches!(self.peek_byte(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek_byte(1), Some(b'+' | b'-')));
            if self.peek_byte(1 + sign).is_some_and(|b| b.is_ascii_digit()) {
                self.at += 1 + sign;
                self.take_while(|b| b.is_ascii_digit());
            } else {
                return Err(self.invalid(start, "an exponent needs digits"));
            }
        }
        let literal = self.text.get(start..self.at).unwrap_or_default();
        literal
            .parse::<f64>()
            .map_err(|_| self.invalid(start, "invalid number"))
    }

    fn quoted_name(&mut self) -> Result<&'a str, QueryError> {
        let start = self.at;
        self.at += 2;
        let Some(length) = self.rest().find("]]") else {
            return Err(self.invalid(start, "`[[` is not closed by `]]`"));
        };
        let name = self.text.get(self.at..self.at + length).unwrap_or_default();
        self.at += length + 2;
        if name.is_empty() {
            return Err(self.invalid(start, "`[[]]` names nothing"));
        }
        if self.peek_byte(0) == Some(b']') {
            return Err(self.invalid(start, "a quoted name cannot end with `]`"));
        }
        Ok(name)
    }

    fn string(&mut self, quote_byte: u8) -> Result<String, QueryError> {
        let start = self.at;
        self.at += 1;
        let mut out = String::new();
        loop {
            let rest = self.rest();
            let stop = rest.find([char::from(quote_byte), '\\']);
            let Some(stop) = stop else {
                return Err(self.invalid(start, "string literal is not closed"));
            };
            out.push_str(rest.get(..stop).unwrap_or_default());
            self.at += stop + 1;
            if self.text.as_bytes().get(self.at - 1) == Some(&quote_byte) {
                return Ok(out);
            }
            self.escape(&mut out)?;
        }
    }

    /// Reads the escape after a `\` (already consumed) into `out`.
    fn escape(&mut self, out: &mut String) -> Result<(), QueryError> {
        let at = self.at - 1;
        match self.peek_byte(0) {
            Some(b @ (b'\'' | b'"' | b'\\')) => {
                out.push(char::from(b));
                self.at += 1;
                Ok(())
            }
            Some(b'u') => {
                let unit = self.utf16_unit(at)?;
                let c = if (0xD800..0xDC00).contains(&unit) {
                    let low = self.low_surrogate(at)?;
                    char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                } else {
                    char::from_u32(unit)
                };
                out.push(
                    c.ok_or_else(|| self.invalid(at, "lone UTF-16 surrogate in `\\u` escape"))?,
                );
                Ok(())
            }
            _ => Err(self.invalid(
                at,
                "unknown escape in string literal (allowed: \\' \\\" \\\\ \\uXXXX)",
            )),
        }
    }

    /// Reads `uXXXX` after a backslash.
    fn utf16_unit(&mut self, at: usize) -> Result<u32, QueryError> {
        let digits = self.text.get(self.at + 1..self.at + 5);
        let unit = digits
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.invalid(at, "`\\u` must be followed by four hexadecimal digits"))?;
        self.at += 5;
        Ok(unit)
    }

    /// Reads the `\uXXXX` low surrogate that must follow a high one.
    fn low_surrogate(&mut self, at: usize) -> Result<u32, QueryError> {
        if self.rest().starts_with("\\u") {
            self.at += 1;
            let low = self.utf16_unit(at)?;
            if (0xDC00..0xE000).contains(&low) {
                return Ok(low);
            }
        }
        Err(self.invalid(at, "lone UTF-16 surrogate in `\\u` escape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(value: f64) -> Token<'static> {
        Token::Number(Number::new(value).unwrap())
    }

    fn tokens(text: &str) -> Vec<Token<'_>> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let t = lexer.next_token().unwrap();
            if t.token == Token::End {
                return out;
            }
            out.push(t.token);
        }
    }

    fn error(text: &str) -> QueryError {
        let mut lexer = Lexer::new(text);
        loop {
            match lexer.next_token() {
                Ok(t) if t.token == Token::End => panic!("no error in {text:?}"),
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    }

    #[test]
    fn reads_words_names_and_punctuation() {
        assert_eq!(
            tokens("a.$version.[[x-y]]<><=>=!=%"),
            vec![
                Token::Word("a"),
                Token::Dot,
                Token::Word("$version"),
                Token::Dot,
                Token::Quoted("x-y"),
                Token::Ne,
                Token::Le,
                Token::Ge,
                Token::Ne,
                Token::Percent,
            ]
        );
        assert_eq!(
            tokens("[ [1]]"),
            vec![
                Token::LBracket,
                Token::LBracket,
                n(1.0),
                Token::RBracket,
                Token::RBracket
            ]
        );
    }

    #[test]
    fn reads_numbers() {
        assert_eq!(
            tokens("12 1.5 2E-3 0x1F 0X0 1e+2"),
            vec![n(12.0), n(1.5), n(0.002), n(31.0), n(0.0), n(100.0),]
        );
        // A dot not followed by a digit ends the number.
        assert_eq!(tokens("1.a"), vec![n(1.0), Token::Dot, Token::Word("a")]);
        for bad in ["1e", "0x", "1e999", "12ab", "0x1FFFFFFFFFFFFFFFF"] {
            assert!(
                matches!(error(bad), QueryError::InvalidToken { .. }),
                "{bad}"
            );
        }
        assert_eq!(tokens("0x00000000000000001"), vec![n(1.0)]);
    }

    #[test]
    fn reads_strings_with_documented_escapes() {
        let text = r#"'it\'s' "say \"hi\"" 'a\\b' '\u00e9\ud83d\ude00' 'x"y'"#;
        assert_eq!(
            tokens(text),
            vec![
                Token::String("it's".into()),
                Token::String("say \"hi\"".into()),
                Token::String("a\\b".into()),
                Token::String("é😀".into()),
                Token::String("x\"y".into()),
            ]
        );
        for bad in [r"'\n'", r"'\u12'", r"'\ud83d'", r"'\ude00'", "'open", r"'\"] {
            assert!(
                matches!(error(bad), QueryError::InvalidToken { .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_point_at_the_token() {
        let e = error("a = #");
        assert_eq!(e.position().map(|p| p.column), Some(5));
        assert!(e.to_string().contains("unexpected character `#`"), "{e}");
        for bad in ["[[]]", "[[a", "[[a]]]"] {
            assert!(
                matches!(error(bad), QueryError::InvalidToken { .. }),
                "{bad}"
            );
        }
    }
}
