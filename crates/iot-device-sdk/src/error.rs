//! [`Error`], the crate's error type, [`ConfigError`] for invalid options, and [`Operation`],
//! which names the operation an error is about.

use std::fmt;
use std::time::Duration;

use iot_twin::TwinError;

use crate::DisconnectReason;

/// An option given to a builder is invalid. Returned by the `build()` methods, which check
/// everything once; it names the option and the rule it breaks, and never shows a secret.
///
/// ```
/// use std::time::Duration;
/// use iot_device_sdk::RetryPolicy;
///
/// let error = RetryPolicy::builder().max_delay(Duration::ZERO).build().unwrap_err();
/// assert_eq!(error.option(), "max_delay");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid option `{option}`: {reason}")]
pub struct ConfigError {
    option: &'static str,
    reason: String,
}

impl ConfigError {
    /// An error about `option`, which breaks the rule described by `reason`.
    pub(crate) fn new(option: &'static str, reason: impl Into<String>) -> Self {
        Self {
            option,
            reason: reason.into(),
        }
    }

    /// The option at fault, named as its builder method is.
    pub fn option(&self) -> &'static str {
        self.option
    }

    /// The rule the option breaks.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// The operation an [`Error`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Connecting to the hub ([`crate::DeviceClient::connect`]).
    Connect,
    /// Reading the twin ([`crate::DeviceClient::get_twin`]).
    GetTwin,
    /// Updating reported properties ([`crate::DeviceClient::update_reported`]).
    UpdateReported,
    /// Sending telemetry ([`crate::DeviceClient::send_telemetry`]).
    SendTelemetry,
    /// Waiting for the first copy of desired properties ([`crate::DeviceClient::desired`]).
    ReadDesired,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connecting",
            Self::GetTwin => "getting the twin",
            Self::UpdateReported => "updating reported properties",
            Self::SendTelemetry => "sending telemetry",
            Self::ReadDesired => "reading desired properties",
        })
    }
}

/// Everything that can go wrong with a [`crate::DeviceClient`], grouped by who is at fault.
///
/// Messages name what was wrong (the option, the limit, the status and error code the hub
/// sent) and never contain a key or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // Configuration: the options or the environment are wrong.
    /// An option is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The client was started outside a Tokio runtime, where it cannot spawn its driver task.
    #[error("no Tokio runtime is running: start the client from within a Tokio runtime")]
    NoRuntime,

    // The caller's input.
    /// A reported-properties patch breaks a rule or limit of the hub (key characters, depth,
    /// sizes, integer range); nothing was queued.
    #[error("the reported patch is invalid: {0}")]
    InvalidPatch(#[source] TwinError),
    /// With this update, the reported updates waiting to be sent would exceed the size of a
    /// reported section, so the hub could never take them; nothing was queued.
    #[error(
        "the reported updates waiting to be sent would take {size} bytes, more than the {limit} \
         a reported section holds; the update was not queued"
    )]
    ReportedBacklogFull {
        /// The size the waiting updates would have.
        size: usize,
        /// The reported section's size limit.
        limit: usize,
    },
    /// A telemetry message breaks a rule (see [`crate::MessageBuilder::build`]).
    #[error("invalid message: {reason}")]
    InvalidMessage {
        /// The rule broken.
        reason: String,
    },
    /// A method name breaks the rules of method names.
    #[error("invalid method name {name:?}: {reason}")]
    InvalidMethodName {
        /// The name given.
        name: String,
        /// The rule broken.
        reason: String,
    },
    /// A value could not be converted to or from JSON with serde, such as desired properties
    /// that do not fit the requested type.
    #[error("{reason}")]
    Serde {
        /// What serde reported.
        reason: String,
    },

    // The hub said no.
    /// The hub answered an operation with an error status.
    #[error(
        "the hub rejected {operation} with status {status}{}: {message}",
        error_code.map(|code| format!(" (error code {code})")).unwrap_or_default()
    )]
    Rejected {
        /// The operation refused.
        operation: Operation,
        /// The status of the answer, as in HTTP (400, 429, 500, ...).
        status: u16,
        /// IoT Hub's six-digit error code, when the answer carried one.
        error_code: Option<u32>,
        /// The hub's description, or the body it sent when it was not the usual error object.
        message: String,
    },
    /// The hub refused the connection (a CONNACK with an error code).
    #[error("the hub refused the connection: {reason}")]
    ConnectionRefused {
        /// Why, as the connection state reports it.
        reason: DisconnectReason,
    },

    // Time.
    /// The operation did not complete within its timeout. The request may still take effect:
    /// a reported update that timed out stays queued and is applied once the device is back
    /// online.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// The operation that timed out.
        operation: Operation,
        /// The timeout that expired.
        after: Duration,
    },

    // The client's life.
    /// The SAS token given in the options has expired. The client cannot renew it, so it
    /// stopped connecting; start a new client with a new token.
    #[error("the SAS token has expired and cannot be renewed; start a client with a new token")]
    TokenExpired,
    /// The client was closed, or dropped, before the operation completed.
    #[error("the device client is closed")]
    Closed,

    // Transport.
    /// The connection could not be established: the network or TLS failed.
    #[error("the connection failed: {reason}")]
    Transport {
        /// What failed.
        reason: DisconnectReason,
    },

    // Protocol.
    /// The hub sent something the protocol does not allow, such as an unreadable answer.
    #[error("the hub broke the protocol: {reason}")]
    Protocol {
        /// What was wrong.
        reason: String,
    },
}

impl Error {
    /// The error for a first connection attempt that ended for `reason`.
    pub(crate) fn from_disconnect(reason: DisconnectReason) -> Self {
        match reason {
            DisconnectReason::NotAuthorized
            | DisconnectReason::DeviceDisabled
            | DisconnectReason::Refused { .. } => Self::ConnectionRefused { reason },
            DisconnectReason::TokenExpired => Self::TokenExpired,
            DisconnectReason::Protocol { message } => Self::Protocol { reason: message },
            other => Self::Transport { reason: other },
        }
    }

    /// The error for a serde failure, saying what was being converted.
    pub(crate) fn serde(what: &str, error: &serde_json::Error) -> Self {
        Self::Serde {
            reason: format!("{what}: {error}"),
        }
    }

    /// Whether retrying the same operation later may succeed: timeouts, throttling (429) and
    /// server errors (5xx), connection failures and refusals (a key may be rotated, a device
    /// enabled).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Rejected { status, .. } => *status == 429 || *status >= 500,
            Self::Timeout { .. } | Self::Transport { .. } | Self::ConnectionRefused { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_show_status_code_and_message() {
        let error = Error::Rejected {
            operation: Operation::UpdateReported,
            status: 400,
            error_code: Some(400_004),
            message: "bad key".into(),
        };
        assert_eq!(
            error.to_string(),
            "the hub rejected updating reported properties with status 400 (error code 400004): \
             bad key"
        );
        assert!(!error.is_transient());
        let throttled = Error::Rejected {
            operation: Operation::GetTwin,
            status: 429,
            error_code: None,
            message: String::new(),
        };
        assert!(throttled.is_transient());
    }

    #[test]
    fn connection_failures_are_grouped_by_fault() {
        assert!(matches!(
            Error::from_disconnect(DisconnectReason::NotAuthorized),
            Error::ConnectionRefused { .. }
        ));
        assert!(matches!(
            Error::from_disconnect(DisconnectReason::Network {
                message: "refused".into()
            }),
            Error::Transport { .. }
        ));
        assert_eq!(
            Error::from_disconnect(DisconnectReason::TokenExpired),
            Error::TokenExpired
        );
        assert!(matches!(
            Error::from_disconnect(DisconnectReason::Protocol {
                message: "x".into()
            }),
            Error::Protocol { .. }
        ));
    }

    #[test]
    fn config_errors_name_the_option() {
        let error = ConfigError::new("keep_alive", "must be at least 1 s");
        assert_eq!(
            error.to_string(),
            "invalid option `keep_alive`: must be at least 1 s"
        );
        assert_eq!(Error::from(error.clone()), Error::Config(error));
    }
}
