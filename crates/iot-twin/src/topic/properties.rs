//! [`TopicProperties`]: the `/?key=value&...` tail that IoT Hub's MQTT topics share, read and
//! written the same way for twin and direct-method topics.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Bytes percent-encoded in a property value: all but ASCII letters, digits and `-._~`.
const VALUE_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The properties of an IoT Hub topic: the `key=value` pairs joined by `&` after its `/?`, as
/// in `$iothub/twin/res/204/?$rid=1&$version=6` or `$iothub/methods/res/200/?$rid=7`.
///
/// Keys and values are percent-decoded when read (`%24rid` is `$rid`; `+` stays `+`, never a
/// space; a malformed escape such as `%zz` is kept literally, as Python's `unquote` does). A
/// pair without `=` has an empty value, and a key that does not decode to UTF-8 matches no
/// property. Values are percent-encoded when written: everything but ASCII letters, digits and
/// `-._~`, as the Python SDK encodes them. Both the twin topics of this crate and the
/// direct-method topics of `iot-methods` use this one codec.
///
/// ```
/// use iot_twin::TopicProperties;
///
/// let (path, properties) = TopicProperties::split("res/204/?%24rid=a+b&$version=6").unwrap();
/// let properties = properties.unwrap();
/// assert_eq!(path, "res/204");
/// assert_eq!(properties.get("$rid")?.as_deref(), Some("a+b"));
/// assert_eq!(properties.get("$version")?.as_deref(), Some("6"));
/// assert_eq!(properties.get("other")?, None);
/// assert_eq!(TopicProperties::encode("a+b").to_string(), "a%2Bb");
/// # Ok::<(), iot_twin::PropertyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicProperties<'t> {
    query: &'t str,
}

impl<'t> TopicProperties<'t> {
    /// The key of the request id property.
    pub const REQUEST_ID: &'static str = "$rid";

    /// Splits what follows a topic's fixed prefix into its path (without the final `/`) and its
    /// properties, `None` when there is no `?`.
    ///
    /// Returns `None` when the path does not end in `/` before the `?`: the Python SDK splits
    /// topics on `/`, so IoT Hub always writes `/?`, and parsers refuse what it never sends.
    pub fn split(rest: &'t str) -> Option<(&'t str, Option<Self>)> {
        match rest.split_once('?') {
            Some((path, query)) => path
                .strip_suffix('/')
                .map(|path| (path, Some(Self { query }))),
            None => Some((rest.strip_suffix('/').unwrap_or(rest), None)),
        }
    }

    /// The properties in `query`, the text after the `?`.
    pub const fn new(query: &'t str) -> Self {
        Self { query }
    }

    /// The percent-decoded value of the one property `key`, or `None` when there is none.
    ///
    /// # Errors
    /// [`PropertyError::DuplicateProperty`] when `key` appears twice,
    /// [`PropertyError::InvalidPercentEncoding`] when its value does not decode to UTF-8.
    pub fn get(&self, key: &str) -> Result<Option<Cow<'t, str>>, PropertyError> {
        let mut found = None;
        for pair in self.query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if Self::decode(name).is_ok_and(|name| name == key) {
                if found.is_some() {
                    return Err(PropertyError::DuplicateProperty);
                }
                found = Some(value);
            }
        }
        found.map(Self::decode).transpose()
    }

    /// Percent-decodes one part of a topic (a key, a value or a path segment) the way
    /// properties are read: `+` and malformed escapes stay as they are.
    ///
    /// # Errors
    /// [`PropertyError::InvalidPercentEncoding`] when the bytes do not form UTF-8.
    pub fn decode(text: &str) -> Result<Cow<'_, str>, PropertyError> {
        percent_decode_str(text)
            .decode_utf8()
            .map_err(|_| PropertyError::InvalidPercentEncoding)
    }

    /// `value` percent-encoded for a topic: everything but ASCII letters, digits and `-._~`.
    pub fn encode(value: &str) -> impl fmt::Display + '_ {
        utf8_percent_encode(value, VALUE_ENCODE)
    }
}

/// Why the properties of a topic could not be read.
///
/// The parsers of each topic turn it into their own error, adding the topic; it is exhaustive
/// so that they can map every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PropertyError {
    /// The property asked for appears more than once.
    #[error("the topic has the property more than once")]
    DuplicateProperty,
    /// Percent-encoded text does not decode to UTF-8.
    #[error("the topic holds percent-encoding that is not UTF-8")]
    InvalidPercentEncoding,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn properties(query: &str) -> TopicProperties<'_> {
        TopicProperties::new(query)
    }

    #[test]
    fn split_keeps_the_path_and_requires_the_slash() {
        assert_eq!(
            TopicProperties::split("res/200/?$rid=1"),
            Some(("res/200", Some(properties("$rid=1"))))
        );
        assert_eq!(TopicProperties::split("res/200/"), Some(("res/200", None)));
        assert_eq!(TopicProperties::split("res/200"), Some(("res/200", None)));
        assert_eq!(
            TopicProperties::split("GET/?"),
            Some(("GET", Some(properties(""))))
        );
        assert_eq!(TopicProperties::split("res/200?$rid=1"), None);
    }

    #[test]
    fn get_decodes_keys_and_values() {
        let query = properties("x=1&%24rid=a%20b+c&y&%ff=2&&$version=%39");
        assert_eq!(query.get("$rid").unwrap().as_deref(), Some("a b+c"));
        assert_eq!(query.get("y").unwrap().as_deref(), Some(""));
        assert_eq!(query.get("$version").unwrap().as_deref(), Some("9"));
        assert_eq!(query.get("z").unwrap(), None);
        assert_eq!(
            properties("$rid=50%zz%").get("$rid").unwrap().as_deref(),
            Some("50%zz%")
        );
    }

    #[test]
    fn get_refuses_duplicates_and_bad_utf8() {
        assert_eq!(
            properties("$rid=1&%24rid=1").get("$rid"),
            Err(PropertyError::DuplicateProperty)
        );
        assert_eq!(
            properties("$rid=%ff").get("$rid"),
            Err(PropertyError::InvalidPercentEncoding)
        );
        assert_eq!(properties("$rid=%ff").get("other"), Ok(None));
    }

    #[test]
    fn encode_keeps_only_unreserved_bytes() {
        assert_eq!(
            TopicProperties::encode("a b+c/d?e&f=g%h~i.j-k_lé").to_string(),
            "a%20b%2Bc%2Fd%3Fe%26f%3Dg%25h~i.j-k_l%C3%A9"
        );
    }

    proptest! {
        #[test]
        fn encoded_values_read_back(value in "\\PC{0,40}", other in "[a-j]{0,5}") {
            let query = format!("{other}=1&k={}", TopicProperties::encode(&value));
            let read = properties(&query).get("k").unwrap();
            prop_assert_eq!(read.as_deref(), Some(value.as_str()));
        }
    }
}
