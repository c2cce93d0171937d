//! Method payloads on the wire: JSON only, `null` when absent, at most 128 KB each way.
//!
//! A request body sent to a device is always valid JSON: the Node device SDK parses every body it
//! receives and crashes on an empty one, so an absent payload travels as the literal `null`. A
//! response body from a device may be empty (some devices send nothing); it reads as `null`.

use std::fmt::{self, Write as _};

use serde_json::Value;

use crate::Error;

/// The documented payload limit of a direct method, each way: 128 KB, taken as 128 × 1024
/// bytes of encoded JSON.
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024;

/// Encodes a payload as compact JSON for the wire.
///
/// ```
/// use iot_methods::payload;
/// use serde_json::{json, Value};
///
/// assert_eq!(payload::to_bytes(&Value::Null).unwrap(), b"null");
/// assert_eq!(payload::to_bytes(&json!({"a": 1})).unwrap(), br#"{"a":1}"#);
/// ```
///
/// # Errors
/// [`Error::PayloadTooLarge`] when the encoding exceeds [`MAX_PAYLOAD_BYTES`].
pub fn to_bytes(payload: &Value) -> Result<Vec<u8>, Error> {
    let bytes = payload.to_string().into_bytes();
    check_size(bytes.len())?;
    Ok(bytes)
}

/// Decodes a payload read off the wire. An empty body (or one of only whitespace) is `null`.
///
/// ```
/// use iot_methods::payload;
/// use serde_json::{json, Value};
///
/// assert_eq!(payload::from_bytes(b"").unwrap(), Value::Null);
/// assert_eq!(payload::from_bytes(b"null").unwrap(), Value::Null);
/// assert_eq!(payload::from_bytes(br#"{"a":1}"#).unwrap(), json!({"a": 1}));
/// assert!(payload::from_bytes(b"{").is_err());
/// ```
///
/// # Errors
/// [`Error::PayloadTooLarge`] when the body exceeds [`MAX_PAYLOAD_BYTES`];
/// [`Error::PayloadNotJson`] when it is not one JSON value.
pub fn from_bytes(bytes: &[u8]) -> Result<Value, Error> {
    check_size(bytes.len())?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|err| Error::PayloadNotJson {
        reason: err.to_string(),
    })
}

/// The length in bytes of the compact JSON encoding of `payload`, computed without allocating.
pub fn encoded_len(payload: &Value) -> usize {
    let mut counter = ByteCounter(0);
    // Writing to a counter cannot fail; a failure would mean "unmeasurable", which we treat as
    // too large.
    write!(counter, "{payload}").map_or(usize::MAX, |()| counter.0)
}

/// Checks that `payload` encodes within [`MAX_PAYLOAD_BYTES`].
///
/// # Errors
/// [`Error::PayloadTooLarge`] naming the size and the limit.
pub fn check(payload: &Value) -> Result<(), Error> {
    check_size(encoded_len(payload))
}

fn check_size(size: usize) -> Result<(), Error> {
    if size > MAX_PAYLOAD_BYTES {
        return Err(Error::PayloadTooLarge {
            size,
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(())
}

/// A `fmt::Write` sink that only counts bytes.
struct ByteCounter(usize);

impl fmt::Write for ByteCounter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// A JSON string whose encoding (with its two quotes) is exactly `len` bytes.
    fn string_of_encoded_len(len: usize) -> Value {
        Value::String("x".repeat(len - 2))
    }

    #[test]
    fn absent_payload_is_null_on_the_wire() {
        assert_eq!(to_bytes(&Value::Null).unwrap(), b"null");
    }

    #[test]
    fn empty_or_blank_body_reads_as_null() {
        assert_eq!(from_bytes(b"").unwrap(), Value::Null);
        assert_eq!(from_bytes(b" ").unwrap(), Value::Null);
        assert_eq!(from_bytes(b"\r\n\t ").unwrap(), Value::Null);
        assert_eq!(from_bytes(b"null").unwrap(), Value::Null);
    }

    #[test]
    fn reads_any_json_value() {
        assert_eq!(
            from_bytes(b"\"Reboot started\"").unwrap(),
            json!("Reboot started")
        );
        assert_eq!(from_bytes(b"42").unwrap(), json!(42));
        assert_eq!(from_bytes(b" [1, 2] ").unwrap(), json!([1, 2]));
    }

    #[test]
    fn rejects_what_is_not_json() {
        for bad in [&b"{"[..], b"reboot", b"{} {}", b"\xff"] {
            let err = from_bytes(bad).unwrap_err();
            assert!(
                matches!(&err, Error::PayloadNotJson { reason } if reason.contains("line 1")),
                "{err:?}"
            );
        }
    }

    #[test]
    fn limit_is_inclusive_and_named_in_the_error() {
        let at_limit = string_of_encoded_len(MAX_PAYLOAD_BYTES);
        assert_eq!(to_bytes(&at_limit).unwrap().len(), MAX_PAYLOAD_BYTES);
        assert!(check(&at_limit).is_ok());

        let over = string_of_encoded_len(MAX_PAYLOAD_BYTES + 1);
        let err = to_bytes(&over).unwrap_err();
        assert_eq!(
            err,
            Error::PayloadTooLarge {
                size: 131_073,
                limit: 131_072
            }
        );
        assert_eq!(
            err.to_string(),
            "method payload is 131073 bytes, the limit is 131072 bytes"
        );
        assert_eq!(check(&over), Err(err));
    }

    #[test]
    fn oversized_body_is_rejected_before_parsing() {
        let body = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        assert_eq!(
            from_bytes(&body),
            Err(Error::PayloadTooLarge {
                size: MAX_PAYLOAD_BYTES + 1,
                limit: MAX_PAYLOAD_BYTES
            })
        );
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "\\PC{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("\\PC{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn bytes_round_trip(value in any_json()) {
            let bytes = to_bytes(&value).unwrap();
            prop_assert_eq!(bytes.len(), encoded_len(&value));
            prop_assert_eq!(from_bytes(&bytes).unwrap(), value);
        }

        #[test]
        fn from_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = from_bytes(&bytes);
        }
    }
}
