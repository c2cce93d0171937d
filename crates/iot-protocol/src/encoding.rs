//! Percent-encoding and base64 helpers shared by the wire formats of this crate.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::ProtocolError;

/// Everything except `A-Z a-z 0-9 _ . - ~`: Python's `urllib.parse.quote(x, safe="")`, which the
/// Python device SDK uses for SAS tokens, usernames and property bags. Hex digits are upper case.
const QUOTE_ALL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// Percent-encodes `text` like Python's `quote(text, safe="")`.
pub(crate) fn quote(text: &str) -> impl std::fmt::Display + '_ {
    utf8_percent_encode(text, QUOTE_ALL)
}

/// Percent-decodes `text` (`+` stays `+`), requiring UTF-8 in the result.
pub(crate) fn unquote<'a>(
    text: &'a str,
    input: &'static str,
    field: &str,
) -> Result<Cow<'a, str>, ProtocolError> {
    percent_decode_str(text)
        .decode_utf8()
        .map_err(|_| ProtocolError::InvalidField {
            input,
            field: field.to_owned(),
            rule: "percent-decodes to bytes that are not UTF-8",
        })
}

/// Percent-decodes `text` (`+` stays `+`), replacing bytes that are not UTF-8.
pub(crate) fn unquote_lossy(text: &str) -> Cow<'_, str> {
    percent_decode_str(text).decode_utf8_lossy()
}

/// Canonical base64 (standard alphabet, padded).
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Strict base64: standard alphabet, canonical padding, no stray bits.
pub(crate) fn base64_decode_strict(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

/// Base64 with or without padding (some embedded SDKs omit it from signatures).
pub(crate) fn base64_decode_unpadded_ok(text: &str) -> Option<Vec<u8>> {
    STANDARD_PAD_INDIFFERENT.decode(text).ok()
}

/// Decodes base64 the way Node.js `Buffer.from(text, "base64")` does: both alphabets, characters
/// outside them skipped, decoding stops at the first `=`, and trailing bits that do not fill a
/// byte are dropped (so `"key"` decodes to the two bytes `91 ec`).
pub(crate) fn base64_decode_lenient(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for byte in text.bytes() {
        if byte == b'=' {
            break;
        }
        let Some(value) = sextet(byte) else { continue };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    out
}

/// The 6-bit value of a base64 character in either the standard or the URL-safe alphabet.
fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// Splits `text` on the first `=` into key and value; `None` when there is no `=`.
pub(crate) fn split_pair(text: &str) -> (&str, Option<&str>) {
    match text.split_once('=') {
        Some((key, value)) => (key, Some(value)),
        None => (text, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quote_matches_python_safe_empty() {
        assert_eq!(quote("a/b c+d=e").to_string(), "a%2Fb%20c%2Bd%3De");
        assert_eq!(quote("$.mid").to_string(), "%24.mid");
        assert_eq!(quote("encode('Me')").to_string(), "encode%28%27Me%27%29");
        assert_eq!(quote("A-z_0.9~").to_string(), "A-z_0.9~");
        assert_eq!(quote("é").to_string(), "%C3%A9");
    }

    #[test]
    fn unquote_keeps_plus_and_rejects_bad_utf8() {
        assert_eq!(unquote("a+b%2B%2f", "x", "f").unwrap(), "a+b+/");
        assert!(unquote("%ff", "x", "f").is_err());
        assert_eq!(unquote_lossy("%ff"), "\u{fffd}");
    }

    #[test]
    fn lenient_base64_follows_node() {
        assert_eq!(base64_decode_lenient("key"), [0x91, 0xec]);
        assert_eq!(
            base64_decode_lenient("fakeKey"),
            [0x7d, 0xa9, 0x1e, 0x29, 0xec]
        );
        assert_eq!(base64_decode_lenient("cGFzc3dvcmQ="), b"password");
        assert_eq!(base64_decode_lenient("cGFz c3dv\ncmQ"), b"password");
        assert_eq!(base64_decode_lenient("_-8="), [0xff, 0xef]);
        assert_eq!(base64_decode_lenient("a"), b"");
    }

    #[test]
    fn strict_base64_rejects_sloppy_input() {
        assert_eq!(base64_decode_strict("cGFzc3dvcmQ=").unwrap(), b"password");
        assert!(base64_decode_strict("cGFzc3dvcmQ").is_none());
        assert!(base64_decode_strict("key").is_none());
        assert!(base64_decode_strict("cGFz c3dvcmQ=").is_none());
        assert_eq!(
            base64_decode_unpadded_ok("cGFzc3dvcmQ").unwrap(),
            b"password"
        );
    }

    proptest! {
        #[test]
        fn quote_unquote_round_trip(text in "\\PC{0,40}") {
            let encoded = quote(&text).to_string();
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"%_.-~".contains(&b)));
            prop_assert_eq!(unquote(&encoded, "x", "f").unwrap(), text);
        }

        #[test]
        fn lenient_agrees_with_strict_on_canonical_input(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let text = base64_encode(&bytes);
            prop_assert_eq!(&base64_decode_lenient(&text), &bytes);
            prop_assert_eq!(base64_decode_strict(&text).unwrap(), bytes);
        }
    }
}
