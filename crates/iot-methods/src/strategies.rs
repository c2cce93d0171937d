//! Proptest strategies shared by the unit tests.

use proptest::prelude::*;

use crate::MethodName;

/// Arbitrary valid method names, including non-ASCII ones.
pub(crate) fn method_name() -> impl Strategy<Value = String> {
    "[^/?#+\\p{Cc}]{1,40}".prop_filter("fits the byte limit", |s| s.len() <= MethodName::MAX_LEN)
}

/// Arbitrary valid request ids, including every character the topic must percent-encode.
pub(crate) fn request_id() -> impl Strategy<Value = String> {
    "[ -~]{1,128}"
}
