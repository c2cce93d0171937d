//! The crate's error type.

use std::fmt;

use crate::SectionKind;
use crate::path::{Path, prefixed};

/// Everything that can go wrong in this crate.
///
/// Variants that point into a document carry a `path` rendered as described in the crate docs
/// (`a.b`, `a["odd.key"]`, `a[2]`; empty for the document itself). Paths from [`crate::Patch`]
/// and [`crate::Section`] are relative to the patch or section content; paths from
/// [`crate::Twin`], [`crate::ServiceWrite`] and [`crate::TwinState`] start at the twin document
/// (`tags.a`, `properties.desired.a`, `properties.reported.a`, `desired.a`). Messages name keys
/// and rules, never property values.
///
/// [`TwinError::class`] tells which answer IoT Hub gives for the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TwinError {
    // The input is not a well-formed document (IoT Hub: 400, 400006 IotHubFormatError).
    /// The bytes are not valid JSON.
    #[error("invalid JSON: {reason}")]
    InvalidJson {
        /// What the JSON parser reported, with line and column.
        reason: String,
    },
    /// A value has the wrong JSON type, such as a patch that is not an object.
    #[error("{} must be {expected}, found {found}", At(.path))]
    WrongType {
        /// Where the value is.
        path: String,
        /// The type that was required.
        expected: &'static str,
        /// The type that was found.
        found: &'static str,
    },
    /// A required member is missing, such as `$version` in a desired-properties notification.
    #[error("{} is missing", At(.path))]
    MissingMember {
        /// The path of the missing member.
        path: String,
    },
    /// A `$version` is not an integer from 1 to 2^64-1.
    #[error("{} is not a valid $version (an integer from 1)", At(.path))]
    InvalidVersion {
        /// Where the version is.
        path: String,
    },
    /// A `$metadata` tree does not match its section or holds invalid values.
    #[error("invalid $metadata at {}: {reason}", At(.path))]
    InvalidMetadata {
        /// The path inside the `$metadata` tree.
        path: String,
        /// What is wrong there.
        reason: &'static str,
    },
    /// A top-level twin field (such as `status` or `lastActivityTime`) holds an invalid value.
    #[error("invalid twin field {field}: {reason}")]
    InvalidField {
        /// The field's wire name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    // The content breaks a twin rule (IoT Hub: 400, 400004 ArgumentInvalid).
    /// A key contains a character IoT Hub does not allow.
    #[error("invalid key at {}: {rule}", At(.path))]
    InvalidKey {
        /// The path of the member whose key is invalid.
        path: String,
        /// The rule the key breaks.
        rule: KeyRule,
    },
    /// A key is longer than [`crate::Limits::max_key_bytes`].
    #[error("key at {} is {length} bytes long, more than the {limit} allowed", At(.path))]
    KeyTooLong {
        /// The path of the member (the key is shortened in it).
        path: String,
        /// The key's length in UTF-8 bytes.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// Objects or arrays nest deeper than [`crate::Limits::max_depth`].
    #[error("{} is nested {depth} levels deep, more than the {limit} allowed", At(.path))]
    TooDeep {
        /// The path of the first object or array past the limit.
        path: String,
        /// Its depth (members of the section are at depth 1).
        depth: usize,
        /// The limit.
        limit: usize,
    },
    /// A string value is longer than [`crate::Limits::max_string_bytes`].
    #[error("string at {} is {length} bytes long, more than the {limit} allowed", At(.path))]
    StringTooLong {
        /// Where the string is.
        path: String,
        /// Its length in UTF-8 bytes.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// A leaf property (a string, number, boolean or array) is larger than
    /// [`crate::Limits::max_property_bytes`], measured the way IoT Hub sizes twins.
    #[error("property at {} has size {size}, more than the {limit} allowed", At(.path))]
    PropertyTooLarge {
        /// Where the property is.
        path: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An integer lies outside [`crate::Limits::integer_range`].
    #[error("integer at {} is outside {min}..={max}", At(.path))]
    IntegerOutOfRange {
        /// Where the integer is.
        path: String,
        /// The smallest integer allowed.
        min: i64,
        /// The largest integer allowed.
        max: i64,
    },
    /// An array holds `null`, which IoT Hub rejects.
    #[error("array element {} is null; arrays cannot hold null", At(.path))]
    NullInArray {
        /// The path of the null element.
        path: String,
    },
    /// A service write tried to change reported properties, which only the device may write.
    #[error("properties.reported can only be written by the device")]
    ReportedWriteByService,
    /// A configuration's content names a path outside `properties.desired`, a path with an
    /// empty key, or two paths of which one holds the other.
    #[error("invalid configuration content at {}: {rule}", At(.path))]
    InvalidContent {
        /// The content key (`properties.desired.a`), or the path of the broken rule.
        path: String,
        /// The rule it breaks.
        rule: &'static str,
    },

    // A size quota or counter is exhausted (IoT Hub: 403, 403100 for sizes).
    /// The section would grow past [`crate::Limits::max_section_bytes`].
    #[error("{section} would have size {size}, more than the {limit} allowed")]
    SectionTooLarge {
        /// The section.
        section: SectionKind,
        /// Its size after the write, measured the way IoT Hub sizes twins.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A `$version` or etag counter reached `u64::MAX`; the twin takes no more writes.
    #[error("the {counter} counter is exhausted")]
    CounterExhausted {
        /// Which counter: `etag`, or the section name for a `$version`.
        counter: &'static str,
    },
}

/// A rule about the characters of a key, broken by a [`TwinError::InvalidKey`].
///
/// IoT Hub allows any UTF-8 key except those containing control characters, `.`, `$` or a space
/// (keys starting with `$` are reserved for `$version`, `$metadata` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyRule {
    /// The key contains a control character (U+0000-U+001F, U+007F-U+009F).
    ControlCharacter,
    /// The key contains `.`.
    Dot,
    /// The key contains `$`.
    Dollar,
    /// The key contains a space (U+0020).
    Space,
}

impl fmt::Display for KeyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ControlCharacter => "keys cannot contain control characters",
            Self::Dot => "keys cannot contain '.'",
            Self::Dollar => "keys cannot contain '$'",
            Self::Space => "keys cannot contain spaces",
        })
    }
}

/// How IoT Hub answers a request that fails with a given [`TwinError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The request body is not a well-formed twin document: 400 with error code 400006
    /// (`IotHubFormatError`).
    Malformed,
    /// The document breaks a rule about keys, values or depth, or writes what the caller may
    /// not write: 400 with error code 400004 (`ArgumentInvalid`).
    Invalid,
    /// A section would grow past its size quota, or a counter is exhausted: 403 with error code
    /// 403100, as IoT Hub answers twin size overflows.
    QuotaExceeded,
}

impl TwinError {
    /// Which kind of answer IoT Hub gives for this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidJson { .. }
            | Self::WrongType { .. }
            | Self::MissingMember { .. }
            | Self::InvalidVersion { .. }
            | Self::InvalidMetadata { .. }
            | Self::InvalidField { .. } => ErrorClass::Malformed,
            Self::InvalidKey { .. }
            | Self::KeyTooLong { .. }
            | Self::TooDeep { .. }
            | Self::StringTooLong { .. }
            | Self::PropertyTooLarge { .. }
            | Self::IntegerOutOfRange { .. }
            | Self::NullInArray { .. }
            | Self::InvalidContent { .. }
            | Self::ReportedWriteByService => ErrorClass::Invalid,
            Self::SectionTooLarge { .. } | Self::CounterExhausted { .. } => {
                ErrorClass::QuotaExceeded
            }
        }
    }

    /// The path inside the document the error points at, if it points at one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::WrongType { path, .. }
            | Self::MissingMember { path }
            | Self::InvalidVersion { path }
            | Self::InvalidMetadata { path, .. }
            | Self::InvalidKey { path, .. }
            | Self::KeyTooLong { path, .. }
            | Self::TooDeep { path, .. }
            | Self::StringTooLong { path, .. }
            | Self::PropertyTooLarge { path, .. }
            | Self::IntegerOutOfRange { path, .. }
            | Self::InvalidContent { path, .. }
            | Self::NullInArray { path } => Some(path),
            _ => None,
        }
    }

    /// The same error with `prefix` (a rendered path) put in front of its path.
    pub(crate) fn within(mut self, prefix: &str) -> Self {
        match &mut self {
            Self::WrongType { path, .. }
            | Self::MissingMember { path }
            | Self::InvalidVersion { path }
            | Self::InvalidMetadata { path, .. }
            | Self::InvalidKey { path, .. }
            | Self::KeyTooLong { path, .. }
            | Self::TooDeep { path, .. }
            | Self::StringTooLong { path, .. }
            | Self::PropertyTooLarge { path, .. }
            | Self::IntegerOutOfRange { path, .. }
            | Self::InvalidContent { path, .. }
            | Self::NullInArray { path } => *path = prefixed(prefix, path),
            _ => {}
        }
        self
    }

    /// A [`TwinError::InvalidJson`] from a parser error.
    pub(crate) fn json(error: &serde_json::Error) -> Self {
        Self::InvalidJson {
            reason: error.to_string(),
        }
    }
}

/// The JSON type name of a value, for [`TwinError::WrongType`].
pub(crate) fn type_name(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The members of `value` if it is an object; otherwise a [`TwinError::WrongType`] at `path`.
pub(crate) fn expect_object(
    value: serde_json::Value,
    path: &Path<'_>,
) -> Result<serde_json::Map<String, serde_json::Value>, TwinError> {
    match value {
        serde_json::Value::Object(map) => Ok(map),
        other => Err(TwinError::WrongType {
            path: path.render(),
            expected: "an object",
            found: type_name(&other),
        }),
    }
}

/// Displays a rendered path, or "the document" for the root.
struct At<'a>(&'a str);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("the document")
        } else {
            write!(f, "`{}`", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_path_and_rule() {
        let e = TwinError::InvalidKey {
            path: "a.b".into(),
            rule: KeyRule::Dollar,
        };
        assert_eq!(
            e.to_string(),
            "invalid key at `a.b`: keys cannot contain '$'"
        );
        let e = e.within("properties.reported");
        assert_eq!(e.path(), Some("properties.reported.a.b"));
        assert_eq!(e.class(), ErrorClass::Invalid);
        let root = TwinError::WrongType {
            path: String::new(),
            expected: "an object",
            found: "an array",
        };
        assert_eq!(
            root.to_string(),
            "the document must be an object, found an array"
        );
        assert_eq!(root.class(), ErrorClass::Malformed);
    }

    #[test]
    fn size_overflow_is_a_quota_error() {
        let e = TwinError::SectionTooLarge {
            section: SectionKind::Reported,
            size: 40_000,
            limit: 32_768,
        };
        assert_eq!(
            e.to_string(),
            "properties.reported would have size 40000, more than the 32768 allowed"
        );
        assert_eq!(e.class(), ErrorClass::QuotaExceeded);
        assert_eq!(e.path(), None);
        assert_eq!(e.clone().within("x"), e);
    }
}
