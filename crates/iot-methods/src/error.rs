//! The crate's error type.

use thiserror::Error as ThisError;

use crate::{CallEvent, CallId, CallState, MethodName};

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

    // ----- A request id breaks a rule (caller or peer) -----
    /// The request id is empty.
    #[error("invalid request id: it is empty")]
    EmptyRequestId,
    /// The request id is longer than [`RequestId::MAX_LEN`](crate::RequestId::MAX_LEN) bytes.
    #[error("invalid request id: it is {len} bytes long, the limit is {max} bytes")]
    RequestIdTooLong {
        /// Length of the rejected id in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The request id contains a character outside printable ASCII.
    #[error("invalid request id {rid:?}: character {character:?} is not printable ASCII")]
    RequestIdNotPrintable {
        /// The rejected id.
        rid: String,
        /// The first offending character.
        character: char,
    },

    // ----- A topic breaks the direct-method topic shape (peer) -----
    /// The topic does not start with the prefix this parser reads.
    #[error("topic {topic:?} does not start with {expected:?}")]
    NotAMethodTopic {
        /// The rejected topic.
        topic: String,
        /// The prefix that was expected.
        expected: &'static str,
    },
    /// The topic has no `/` right before its `?` (IoT Hub and the SDKs always write `/?`).
    #[error("topic {topic:?} lacks the '/' before '?'")]
    MissingSlashBeforeQuery {
        /// The rejected topic.
        topic: String,
    },
    /// The topic carries no `$rid` property.
    #[error("topic {topic:?} has no $rid property")]
    MissingRequestId {
        /// The rejected topic.
        topic: String,
    },
    /// The topic carries `$rid` more than once.
    #[error("topic {topic:?} has more than one $rid property")]
    DuplicateRequestId {
        /// The rejected topic.
        topic: String,
    },
    /// The status segment of a response topic is not a 32-bit integer.
    #[error("topic {topic:?}: status {status:?} is not a 32-bit integer")]
    InvalidStatus {
        /// The rejected topic.
        topic: String,
        /// The status segment, percent-decoded.
        status: String,
    },
    /// A percent-encoded part of the topic does not decode to UTF-8.
    #[error("topic {topic:?}: percent-encoded text is not UTF-8")]
    InvalidPercentEncoding {
        /// The rejected topic.
        topic: String,
    },

    // ----- A method invocation breaks a rule (the back end's request) -----
    /// The invocation body is not a JSON object with a string `methodName` and integer (or
    /// `null`) timeouts.
    #[error("invalid method invocation: {reason}")]
    MalformedInvocation {
        /// What the JSON parser objected to, with line and column.
        reason: String,
    },
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

    // ----- A router is configured wrongly (caller) -----
    /// Two handlers were registered for the same method name.
    #[error("more than one handler is registered for method {name:?}")]
    DuplicateHandler {
        /// The method name registered twice.
        name: MethodName,
    },

    // ----- The pending-call table was asked for something the call's state forbids (caller) -----
    /// The table does not know the call: it never existed or ended long enough ago to be
    /// forgotten.
    #[error("{call} is not known to this table")]
    UnknownCall {
        /// The call asked about.
        call: CallId,
    },
    /// The call's lifecycle does not allow the event in its current state.
    #[error("a call that is {state} cannot take event {event}")]
    InvalidTransition {
        /// The state the call was in.
        state: CallState,
        /// The event that is not allowed there.
        event: CallEvent,
    },
}
