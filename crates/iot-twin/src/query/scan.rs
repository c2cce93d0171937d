//! [`Scanner`]: walks JSON text byte by byte, checking it and skipping values without building
//! them.
//!
//! Skipping checks what `serde_json` checks when it parses: structure, commas and colons,
//! string escapes (`\uXXXX` included, UTF-16 surrogates in pairs), no raw control characters in
//! strings, number forms and range (finite as an `f64`), the literals `true`, `false` and
//! `null`, and UTF-8 (checked inside strings that hold non-ASCII bytes; outside strings the
//! grammar admits ASCII only). Objects and arrays may nest [`MAX_NESTING`] deep, as in
//! `serde_json`.

use std::fmt;

/// Deepest nesting of objects and arrays accepted.
pub(crate) const MAX_NESTING: usize = 128;

/// Why JSON text was refused, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanError {
    /// Byte offset of the problem.
    pub(crate) offset: usize,
    /// What is wrong there.
    pub(crate) reason: &'static str,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

/// A position in JSON text.
#[derive(Debug)]
pub(crate) struct Scanner<'t> {
    text: &'t [u8],
    at: usize,
    depth: usize,
}

/// A string token: the bytes between its quotes, and whether they hold an escape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawString<'t> {
    /// The bytes between the quotes, escapes not decoded.
    pub(crate) inner: &'t [u8],
    /// Whether `inner` holds a backslash escape.
    pub(crate) escaped: bool,
}

impl<'t> Scanner<'t> {
    /// A scanner at the start of `text`.
    pub(crate) fn new(text: &'t [u8]) -> Self {
        Self {
            text,
            at: 0,
            depth: 0,
        }
    }

    /// The current byte offset.
    pub(crate) fn offset(&self) -> usize {
        self.at
    }

    /// The text from `start` to the current offset.
    pub(crate) fn since(&self, start: usize) -> &'t [u8] {
        self.text.get(start..self.at).unwrap_or_default()
    }

    /// An error at the current offset.
    pub(crate) fn error(&self, reason: &'static str) -> ScanError {
        ScanError {
            offset: self.at,
            reason,
        }
    }

    /// The byte at the current offset, after whitespace.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.at) {
            self.at += 1;
        }
        self.text.get(self.at).copied()
    }

    /// Moves past `byte` (after whitespace), or fails with `reason`.
    pub(crate) fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), ScanError> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(reason))
        }
    }

    /// Fails unless only whitespace is left.
    pub(crate) fn end(&mut self) -> Result<(), ScanError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters after the JSON value")),
        }
    }

    /// Enters an object or array, counting nesting.
    pub(crate) fn enter(&mut self) -> Result<(), ScanError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error("JSON nested too deeply"));
        }
        Ok(())
    }

    /// Leaves an object or array.
    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Skips one value (after whitespace), checking it.
    pub(crate) fn skip_value(&mut self) -> Result<(), ScanError> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => self.skip_container(b'}', true),
            Some(b'[') => self.skip_container(b']', false),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("expected a JSON value")),
        }
    }

    /// Skips an object (`members` set) or an array, from its opening bracket.
    fn skip_container(&mut self, close: u8, members: bool) -> Result<(), ScanError> {
        self.at += 1;
        self.enter()?;
        if self.peek() == Some(close) {
            self.at += 1;
            self.leave();
            return Ok(());
        }
        loop {
            if members {
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a member name"));
                }
                self.string()?;
                self.expect(b':', "expected `:` after a member name")?;
            }
            self.skip_value()?;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b) if b == close => {
                    self.at += 1;
                    self.leave();
                    return Ok(());
                }
                _ => return Err(self.error("expected `,` or a closing bracket")),
            }
        }
    }

    /// Reads a string from its opening quote.
    pub(crate) fn string(&mut self) -> Result<RawString<'t>, ScanError> {
        self.at += 1;
        let start = self.at;
        let mut escaped = false;
        let mut non_ascii = false;
        loop {
            let (run, high) = plain_run(self.text.get(self.at..).unwrap_or_default());
            self.at += run;
            non_ascii |= high;
            match self.text.get(self.at) {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("string is not closed")),
            }
        }
        let inner = self.text.get(start..self.at).unwrap_or_default();
        if non_ascii {
            if let Err(e) = std::str::from_utf8(inner) {
                return Err(ScanError {
                    offset: start + e.valid_up_to(),
                    reason: "invalid UTF-8",
                });
            }
        }
        self.at += 1;
        Ok(RawString { inner, escaped })
    }

    /// Checks the escape at a backslash and moves past it.
    fn escape(&mut self) -> Result<(), ScanError> {
        match self.text.get(self.at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.at += 2;
                Ok(())
            }
            Some(b'u') => {
                let start = self.at;
                let unit = self.utf16_unit()?;
                let paired = match unit {
                    0xD800..0xDC00 => {
                        self.text.get(self.at) == Some(&b'\\')
                            && (0xDC00..0xE000).contains(&self.utf16_unit()?)
                    }
                    0xDC00..0xE000 => false,
                    _ => true,
                };
                if paired {
                    Ok(())
                } else {
                    self.at = start;
                    Err(self.error("lone UTF-16 surrogate in a `\\u` escape"))
                }
            }
            _ => Err(self.error("invalid escape")),
        }
    }

    /// Reads `\uXXXX` at a backslash.
    fn utf16_unit(&mut self) -> Result<u32, ScanError> {
        let hex = self.text.get(self.at + 2..self.at + 6);
        let unit = hex
            .filter(|h| {
                self.text.get(self.at + 1) == Some(&b'u') && h.iter().all(u8::is_ascii_hexdigit)
            })
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.error("invalid `\\u` escape"))?;
        self.at += 6;
        Ok(unit)
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), ScanError> {
        if self.text.get(self.at..self.at + word.len()) == Some(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        self.at - start
    }

    /// Skips a number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, whose value
    /// must be a finite `f64` (checked only for numbers long enough or with an exponent).
    fn number(&mut self) -> Result<(), ScanError> {
        let start = self.at;
        self.number_form()?;
        let literal = self.since(start);
        let may_overflow = literal.len() > 300 || literal.iter().any(|b| matches!(b, b'e' | b'E'));
        let finite = || {
            std::str::from_utf8(literal)
                .ok()
                .and_then(|l| l.parse::<f64>().ok())
                .is_some_and(f64::is_finite)
        };
        if may_overflow && !finite() {
            self.at = start;
            return Err(self.error("number out of range"));
        }
        Ok(())
    }

    fn number_form(&mut self) -> Result<(), ScanError> {
        if self.text.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        let leading_zero = self.text.get(self.at) == Some(&b'0');
        let whole = self.digits();
        if whole == 0 || (leading_zero && whole > 1) {
            return Err(self.error("invalid number"));
        }
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.text.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.text.get(self.at) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(())
    }
}

/// The number of bytes at the start of `bytes` that a string holds as they are (not `"`, `\\`
/// or a control character), and whether any of them is not ASCII.
///
/// Looks at eight bytes at a time: a byte-wise "has zero byte" test on the word XORed with
/// `"` and with `\\`, and a "below 0x20" test. Those tests can flag bytes above a flagged byte
/// too (a borrow runs upwards), never below one, so in the little-endian word the lowest
/// flagged byte is the first special byte.
fn plain_run(bytes: &[u8]) -> (usize, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    /// The high bit of each byte of `x` that is zero (and maybe of bytes above one).
    fn zero_byte(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }
    let mut done = 0;
    let mut high = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let special = zero_byte(x ^ (ONES * u64::from(b'"')))
            | zero_byte(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if special != 0 {
            let first = special.trailing_zeros() / 8;
            let below = (1u64 << (first * 8)) - 1;
            return (done + first as usize, high != 0 || x & HIGH & below != 0);
        }
        high |= x & HIGH;
        done += 8;
    }
    let rest = bytes.get(done..).unwrap_or_default();
    let tail = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(rest.len());
    let tail_high = rest
        .get(..tail)
        .is_some_and(|t| t.iter().any(|b| *b >= 0x80));
    (done + tail, high != 0 || tail_high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(text: &str) -> Result<(), ScanError> {
        let mut scanner = Scanner::new(text.as_bytes());
        scanner.skip_value()?;
        scanner.end()
    }

    #[test]
    fn plain_runs_stop_at_special_bytes() {
        assert_eq!(plain_run(b""), (0, false));
        assert_eq!(plain_run(b"abc"), (3, false));
        assert_eq!(plain_run(b"abcdefghijklmnop\"x"), (16, false));
        assert_eq!(plain_run(b"abcdefghij\\klmnop"), (10, false));
        assert_eq!(plain_run(b"abcdefghijklmno\x01"), (15, false));
        assert_eq!(plain_run("\u{e9}\u{1F600}\u{7f}\"".as_bytes()), (7, true));
        assert_eq!(plain_run("abcdefgh\u{e9}".as_bytes()), (10, true));
        assert_eq!(plain_run("abcdefgh\"\u{e9}".as_bytes()), (8, false));
        for i in 0..20 {
            for special in [b'"', b'\\', 0x00, 0x01, 0x1f] {
                let mut text = vec![b'a'; 20];
                text[i] = special;
                // A byte that a borrow could wrongly flag right after the special one.
                if let Some(next) = text.get_mut(i + 1) {
                    *next = 0x01;
                }
                assert_eq!(plain_run(&text), (i, false), "{special} at {i}");
                if i > 0 {
                    text[0] = 0xc3;
                    assert_eq!(plain_run(&text), (i, true), "{special} at {i} after 0xc3");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn plain_runs_match_a_byte_loop(bytes in prop::collection::vec(prop::sample::select(vec![b'a', b'"', b'\\', 0x00, 0x01, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xc3, 0xff]), 0..40)) {
            let end = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).unwrap_or(bytes.len());
            let high = bytes[..end].iter().any(|&b| b >= 0x80);
            prop_assert_eq!(plain_run(&bytes), (end, high));
        }
    }

    #[test]
    fn accepts_json() {
        for good in [
            "0",
            "-0.5e+3",
            "12",
            "true",
            "null",
            r#""a\"\\\/\b\f\n\r\t\u00e9""#,
            "[]",
            "{}",
            r#" {"a": [1, {"b": null}], "c": "d"} "#,
            "[[[[]]]]",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn refuses_what_json_refuses() {
        for bad in [
            "",
            "01",
            "1.",
            "-",
            "1e",
            ".5",
            "+1",
            "tru",
            "nul",
            "[1,]",
            "[1 2]",
            "{\"a\" 1}",
            "{\"a\":}",
            "{a:1}",
            "{\"a\":1,}",
            "\"\\x\"",
            "\"\\u12g4\"",
            "\"a\nb\"",
            "\"open",
            "[1]]",
            "{} {}",
            "[",
            "{\"a\":1",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(MAX_NESTING + 1) + &"]".repeat(MAX_NESTING + 1);
        assert_eq!(
            check(&deep).map_err(|e| e.reason),
            Err("JSON nested too deeply")
        );
        let fine = "[".repeat(MAX_NESTING) + &"]".repeat(MAX_NESTING);
        assert_eq!(check(&fine), Ok(()));
        let invalid_utf8 = [
            (&b"\"\xff\""[..], 1),
            (b"\"abcdefghij\xc3\"", 11),
            (b"[\xc3\xa9]", 1),
        ];
        for (bad, offset) in invalid_utf8 {
            let mut scanner = Scanner::new(bad);
            let error = scanner.skip_value().and_then(|()| scanner.end());
            assert_eq!(error.map_err(|e| e.offset), Err(offset), "{bad:?}");
        }
        let mut scanner = Scanner::new("\"abcdefghé\"".as_bytes());
        assert_eq!(scanner.skip_value(), Ok(()));
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json_on_validity(text in "[\\[\\]{}\",:0-9a-fnrtuE\\\\. +-]{0,24}") {
            let ours = check(&text).is_ok();
            let theirs = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            prop_assert_eq!(ours, theirs, "{:?}", text);
        }

        #[test]
        fn agrees_with_serde_json_on_bytes(
            text in prop::collection::vec(prop::sample::select(b"\"[]{},:1a \\\xc3\xa9\xff\xe2\x82\xac".to_vec()), 0..24),
        ) {
            let mut scanner = Scanner::new(&text);
            let ours = scanner.skip_value().and_then(|()| scanner.end()).is_ok();
            let theirs = serde_json::from_slice::<serde_json::Value>(&text).is_ok();
            prop_assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(&text));
        }
    }
}
