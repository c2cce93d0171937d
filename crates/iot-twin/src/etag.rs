//! The twin `etag`: base64 of an eight-byte big-endian write counter.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::TwinError;

/// Length of the text form: 8 bytes are 12 base64 characters with one `=` of padding.
const TEXT_LEN: usize = 12;
/// The standard base64 alphabet (RFC 4648 section 4).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The etag of a twin, e.g. `AAAAAAAAAAE=`: standard base64 (with padding) of a counter as eight
/// big-endian bytes.
///
/// IoT Hub documents etags as opaque; every twin etag it has been seen to return has this form,
/// with the counter going up by one per service write. This type parses that form strictly
/// (canonical base64, exactly eight bytes) so the counter can be relied on, and compares etags
/// by counter.
///
/// ```
/// use iot_twin::Etag;
///
/// let etag = Etag::from_counter(1);
/// assert_eq!(etag.as_str(), "AAAAAAAAAAE=");
/// assert_eq!("AAAAAAAAAAQ=".parse::<Etag>().unwrap().counter(), 4);
/// assert!("not-an-etag".parse::<Etag>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Etag {
    counter: u64,
    /// The text form; always ASCII from [`ALPHABET`] and `=`.
    text: [u8; TEXT_LEN],
}

impl Etag {
    /// The etag of a twin that was never written by a service: counter 1.
    pub const INITIAL: Self = Self::from_counter(1);

    /// The etag for the given counter value.
    pub const fn from_counter(counter: u64) -> Self {
        Self {
            counter,
            text: encode(counter.to_be_bytes()),
        }
    }

    /// The counter this etag encodes.
    pub const fn counter(&self) -> u64 {
        self.counter
    }

    /// The etag after one more write, or `None` once the counter reaches `u64::MAX`.
    pub const fn next(&self) -> Option<Self> {
        match self.counter.checked_add(1) {
            Some(counter) => Some(Self::from_counter(counter)),
            None => None,
        }
    }

    /// The text form, as it appears in the twin's `etag` field (without quotes).
    pub fn as_str(&self) -> &str {
        // The text is built from ASCII only, so the conversion always succeeds.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }
}

/// Encodes eight bytes as twelve base64 characters ending in one `=`.
const fn encode(bytes: [u8; 8]) -> [u8; TEXT_LEN] {
    let mut out = [b'='; TEXT_LEN];
    let mut group = 0;
    while group < 3 {
        let at = group * 3;
        let b0 = bytes[at];
        let b1 = bytes[at + 1];
        let b2 = if at + 2 < 8 { bytes[at + 2] } else { 0 };
        let word = ((b0 as u32) << 16) | ((b1 as u32) << 8) | b2 as u32;
        let chars = if group < 2 { 4 } else { 3 };
        let mut i = 0;
        while i < chars {
            let index = (word >> (18 - 6 * i)) & 0x3f;
            out[group * 4 + i] = ALPHABET[index as usize];
            i += 1;
        }
        group += 1;
    }
    out
}

/// The 6-bit value of a base64 character, if it is one.
fn sextet(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Decodes the canonical twelve-character form back into the counter.
fn decode(text: &[u8]) -> Result<u64, &'static str> {
    let [body @ .., last] = text else {
        return Err("an etag is twelve base64 characters");
    };
    if text.len() != TEXT_LEN || *last != b'=' {
        return Err("an etag is twelve base64 characters ending in '='");
    }
    let mut bits: u128 = 0;
    for &c in body {
        let value = sextet(c).ok_or("an etag contains only base64 characters")?;
        bits = (bits << 6) | u128::from(value);
    }
    // 11 characters carry 66 bits: 64 bits of counter followed by 2 bits that must be zero.
    if bits & 0b11 != 0 {
        return Err("the etag's padding bits are not zero");
    }
    u64::try_from(bits >> 2).map_err(|_| "an etag encodes eight bytes")
}

impl FromStr for Etag {
    type Err = TwinError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let counter =
            decode(text.as_bytes()).map_err(|reason| TwinError::InvalidEtag { reason })?;
        Ok(Self::from_counter(counter))
    }
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Etag({} = {})", self.as_str(), self.counter)
    }
}

impl Serialize for Etag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Etag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_the_values_seen_on_the_hub() {
        assert_eq!(Etag::from_counter(1).as_str(), "AAAAAAAAAAE=");
        assert_eq!(Etag::from_counter(4).as_str(), "AAAAAAAAAAQ=");
        assert_eq!(Etag::INITIAL, Etag::from_counter(1));
        assert_eq!(Etag::from_counter(0).as_str(), "AAAAAAAAAAA=");
        assert_eq!(Etag::from_counter(u64::MAX).as_str(), "//////////8=");
        assert_eq!(
            Etag::from_counter(0x0102_0304_0506_0708).as_str(),
            "AQIDBAUGBwg="
        );
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "AAAAAAAAAAE",
            "AAAAAAAAAAE==",
            "AAAAAAAAAA==",
            "AAAAAAAAAAF=",
            "AAAAAAAA*AE=",
            "\"AAAAAAAAAAE=\"",
            "NjU4ODE3NDIy",
        ] {
            assert!(
                matches!(bad.parse::<Etag>(), Err(TwinError::InvalidEtag { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn counts_and_stops_at_the_end() {
        assert_eq!(Etag::INITIAL.next(), Some(Etag::from_counter(2)));
        assert_eq!(Etag::from_counter(u64::MAX).next(), None);
    }

    #[test]
    fn serde_is_the_text_form() {
        let etag = Etag::from_counter(5);
        assert_eq!(serde_json::to_string(&etag).unwrap(), "\"AAAAAAAAAAU=\"");
        let back: Etag = serde_json::from_str("\"AAAAAAAAAAU=\"").unwrap();
        assert_eq!(back, etag);
        assert!(serde_json::from_str::<Etag>("5").is_err());
    }

    proptest! {
        #[test]
        fn text_round_trip(counter in any::<u64>()) {
            let etag = Etag::from_counter(counter);
            let parsed: Etag = etag.as_str().parse().unwrap();
            prop_assert_eq!(parsed.counter(), counter);
            prop_assert_eq!(parsed, etag);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,16}") {
            let _ = text.parse::<Etag>();
        }

        #[test]
        fn order_follows_the_counter(a in any::<u64>(), b in any::<u64>()) {
            prop_assert_eq!(Etag::from_counter(a).cmp(&Etag::from_counter(b)), a.cmp(&b));
        }
    }
}
