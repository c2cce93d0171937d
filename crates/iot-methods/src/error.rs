//! The crate's error type.

use thiserror::Error as ThisError;

/// Everything that can go wrong in this crate.
///
/// Variants are grouped by who is at fault: a value handed to us (by the caller or read off the
/// wire) that breaks a rule, a topic or payload that a peer got wrong, or a call-table operation
/// that the state of the call does not allow. Messages name the rule that was broken and the
/// offending value; nothing in this crate handles secrets.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum Error {
    // ----- A method name breaks a rule (caller or peer) -----
    /// The method name is empty.
    #[error("invalid method name: it is empty")]
    EmptyMethodName,
    /// The method name is longer than [`MethodName::MAX_LEN`](crate::MethodName::MAX_LEN) bytes.
    #[error("invalid method name: it is {len} bytes long, the limit is {max} bytes")]
    MethodNameTooLong {
        /// Length of the rejected name in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The method name contains a character that cannot appear in one MQTT topic segment.
    #[error("invalid method name {name:?}: character {character:?} is not allowed")]
    MethodNameForbiddenChar {
        /// The rejected name.
        name: String,
        /// The first forbidden character in it.
        character: char,
    },

    // ----- A method invocation breaks a rule (the back end's request) -----
    /// `responseTimeoutInSeconds` is outside the documented range.
    #[error("responseTimeoutInSeconds is {seconds}, it must be between {min} and {max}")]
    ResponseTimeoutOutOfRange {
        /// The rejected value in seconds.
        seconds: i64,
        /// The smallest allowed value in seconds.
        min: u64,
        /// The largest allowed value in seconds.
        max: u64,
    },
    /// `connectTimeoutInSeconds` is outside the documented range.
    #[error("connectTimeoutInSeconds is {seconds}, it must be between {min} and {max}")]
    ConnectTimeoutOutOfRange {
        /// The rejected value in seconds.
        seconds: i64,
        /// The smallest allowed value in seconds.
        min: u64,
        /// The largest allowed value in seconds.
        max: u64,
    },

    // ----- A payload breaks a rule (caller or peer) -----
    /// A request or response payload is larger than the documented limit.
    #[error("method payload is {size} bytes, the limit is {limit} bytes")]
    PayloadTooLarge {
        /// Size of the encoded payload in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A payload received from the wire is not valid JSON.
    #[error("method payload is not valid JSON: {reason}")]
    PayloadNotJson {
        /// What the JSON parser objected to, with line and column.
        reason: String,
    },
}
