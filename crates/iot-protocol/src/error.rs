//! The crate's error types: [`ProtocolError`] for text that does not follow a wire format, and
//! [`SasError`] for tokens that parse but do not grant access.

use thiserror::Error;

/// Why text or JSON could not be read as one of the wire formats this crate knows.
///
/// Every variant names the input (`"connection string"`, `"SAS token"`, ...) and the field or rule
/// that was broken. No variant ever carries a key or a signature: at most a field *name* or an
/// identifier, which are not secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    // -- Identifiers the sender chose badly --------------------------------------------------
    /// A device id, module id or host name breaks its character or length rules.
    #[error("invalid {kind} {value:?}: {rule}")]
    InvalidIdentifier {
        /// What the value was meant to be (`"device id"`, `"module id"`, `"host name"`).
        kind: &'static str,
        /// The offending value (identifiers are not secret).
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },

    // -- Structured text (connection strings, tokens, usernames, topics, headers) -----------
    /// The overall shape is wrong: a missing prefix, separator or path segment.
    #[error("malformed {input}: {rule}")]
    Malformed {
        /// What was being parsed.
        input: &'static str,
        /// The rule the text breaks.
        rule: &'static str,
    },
    /// A required field is absent.
    #[error("{input} is missing {field}")]
    MissingField {
        /// What was being parsed.
        input: &'static str,
        /// The name of the missing field.
        field: &'static str,
    },
    /// A field the format does not define.
    #[error("{input} has an unknown field {field:?}")]
    UnknownField {
        /// What was being parsed.
        input: &'static str,
        /// The unknown field name as received.
        field: String,
    },
    /// A field that may appear only once appears again.
    #[error("{input} has {field} more than once")]
    DuplicateField {
        /// What was being parsed.
        input: &'static str,
        /// The repeated field name.
        field: String,
    },
    /// Two fields that exclude each other are both present.
    #[error("{input} may not have both {first} and {second}")]
    ConflictingFields {
        /// What was being parsed.
        input: &'static str,
        /// The first field.
        first: &'static str,
        /// The field that conflicts with it.
        second: &'static str,
    },
    /// A field is present but its value breaks the field's rule. The value itself is never
    /// included: it may be a secret.
    #[error("{input} has an invalid {field}: {rule}")]
    InvalidField {
        /// What was being parsed.
        input: &'static str,
        /// The field whose value is wrong.
        field: String,
        /// The rule the value breaks.
        rule: &'static str,
    },

    // -- Secrets ----------------------------------------------------------------------------
    /// A shared access key is not usable; the key itself is never included.
    #[error("invalid shared access key: {rule}")]
    InvalidKey {
        /// What is wrong with it.
        rule: &'static str,
    },

    // -- Error codes and JSON bodies --------------------------------------------------------
    /// An IoT Hub error code (number or name) this crate does not know.
    #[error("unknown IoT Hub error code {code:?}")]
    UnknownErrorCode {
        /// The code as received.
        code: String,
    },
    /// A JSON body does not have the expected shape.
    #[error("{input} is not valid: {detail}")]
    InvalidJson {
        /// What was being parsed.
        input: &'static str,
        /// The JSON parser's description (position and expectation, never the content).
        detail: String,
    },
}

/// Why a well-formed SAS token does not grant access. Returned by the verification functions;
/// parsing failures are [`ProtocolError`]s.
///
/// IoT Hub answers all of these with MQTT CONNACK 5 or HTTP 401 (`IotHubUnauthorizedAccess`);
/// the variants exist so that logs and tests can tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SasError {
    /// The signature matches none of the keys it was checked against.
    #[error("the token's signature does not match any key")]
    SignatureMismatch,
    /// The token's expiry (`se`) is at or before the time of the check.
    #[error("the token expired at {expiry} (unix seconds); it is now {now}")]
    Expired {
        /// The token's `se`, seconds since the Unix epoch.
        expiry: u64,
        /// The time of the check, seconds since the Unix epoch.
        now: i64,
    },
    /// The token's resource (`sr`) does not cover the resource being accessed.
    #[error("a token for {token_resource:?} does not grant access to {accessed:?}")]
    WrongScope {
        /// The decoded `sr` of the token.
        token_resource: String,
        /// The resource the caller tried to access.
        accessed: String,
    },
    /// The token names no shared access policy (`skn`), but one is required.
    #[error("the token names no shared access policy (skn)")]
    MissingPolicyName,
    /// The token names a shared access policy the hub does not have.
    #[error("no shared access policy named {name:?}")]
    UnknownPolicy {
        /// The decoded `skn` of the token.
        name: String,
    },
}
