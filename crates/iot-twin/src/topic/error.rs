//! [`TopicError`]: why a twin topic, subscription filter or request id was refused.

/// A twin topic, subscription filter or request id that breaks the topic rules.
///
/// Everything here is the fault of whoever wrote the topic: the peer, when parsing what arrived,
/// or the caller, when building a request id. Messages quote the topic so a log line shows what
/// arrived; twin topics carry no secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    // The topic has the wrong shape.
    /// The topic is not one of those this parser reads.
    #[error("topic {topic:?} is not {expected}")]
    UnexpectedTopic {
        /// The topic as it arrived.
        topic: String,
        /// What the parser reads, such as "a twin topic published by the hub".
        expected: &'static str,
    },
    /// The path is not followed by `/` before the `?` of its properties, as every twin topic
    /// must be (`.../res/200/?$rid=1`, never `.../res/200?$rid=1`).
    #[error("topic {topic:?} lacks the '/' before '?'")]
    MissingSlashBeforeQuery {
        /// The topic as it arrived.
        topic: String,
    },

    // A property of the topic is missing or wrong.
    /// A required property (`$rid` or `$version`) is missing.
    #[error("topic {topic:?} has no {property} property")]
    MissingProperty {
        /// The topic as it arrived.
        topic: String,
        /// The missing property.
        property: &'static str,
    },
    /// A property the parser reads appears twice.
    #[error("topic {topic:?} has more than one {property} property")]
    DuplicateProperty {
        /// The topic as it arrived.
        topic: String,
        /// The repeated property.
        property: &'static str,
    },
    /// A percent-encoded property or path segment does not decode to UTF-8.
    #[error("topic {topic:?} holds percent-encoding that is not UTF-8")]
    InvalidPercentEncoding {
        /// The topic as it arrived.
        topic: String,
    },
    /// The status of a response is not a decimal number from 0 to 65535.
    #[error("topic {topic:?} has status {status:?}, not a decimal number up to 65535")]
    InvalidStatus {
        /// The topic as it arrived.
        topic: String,
        /// The status segment, percent-decoded.
        status: String,
    },
    /// A `$version` is not a decimal number from 1 to 2^64-1.
    #[error("topic {topic:?} has $version {version:?}, not a decimal number from 1")]
    InvalidVersion {
        /// The topic as it arrived.
        topic: String,
        /// The value, percent-decoded.
        version: String,
    },

    // A request id breaks the rules of [`crate::RequestId`].
    /// The request id is empty.
    #[error("invalid request id: it is empty")]
    EmptyRequestId,
    /// The request id (or a request-id prefix) is too long.
    #[error("invalid request id: it is {len} bytes long, the limit is {max} bytes")]
    RequestIdTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The request id (or a request-id prefix) holds a control character.
    #[error("invalid request id: it holds the control character {character:?}")]
    RequestIdControlCharacter {
        /// The first control character.
        character: char,
    },
}
