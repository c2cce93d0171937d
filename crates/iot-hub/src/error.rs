//! The crate's errors: [`HubError`] for everything, [`MethodCallError`] for direct-method calls.

use std::net::SocketAddr;

use iot_methods::CallFailure;
use iot_protocol::{DeviceId, ErrorCode};
use iot_twin::TwinError;

/// Everything that can go wrong in the hub's API.
///
/// Variants are grouped by who is at fault: the configuration, the caller's request (each maps
/// to the IoT Hub [`ErrorCode`] a REST client receives, see [`HubError::code`]), the store, and
/// the hub's own state. Messages name the offending field or rule and never print keys or tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    // ----- The configuration is unusable -----
    /// A builder setting is invalid.
    #[error("invalid hub configuration: {setting} {rule}")]
    InvalidConfig {
        /// The setting, e.g. `host_name`.
        setting: &'static str,
        /// The rule it breaks.
        rule: String,
    },
    /// The TLS certificate or key could not be used.
    #[error("TLS configuration: {reason}")]
    Tls {
        /// What is wrong with the certificate, the key or the files holding them.
        reason: String,
    },
    /// A listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}; {hint}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },

    // ----- The request is refused (the caller's fault) -----
    /// No device with this id is registered.
    #[error("device {device_id} is not registered")]
    DeviceNotFound {
        /// The id asked for.
        device_id: DeviceId,
    },
    /// A device with this id is already registered.
    #[error("device {device_id} is already registered")]
    DeviceAlreadyExists {
        /// The id asked for.
        device_id: DeviceId,
    },
    /// The `If-Match` etag does not match the current one.
    #[error("{resource} has etag {current}, the request expected another")]
    PreconditionFailed {
        /// What was addressed, e.g. `device d1` or `twin of d1`.
        resource: String,
        /// The current etag.
        current: String,
    },
    /// A device definition is invalid (for instance a self-signed device without thumbprint).
    #[error("invalid device definition: {field} {rule}")]
    InvalidDevice {
        /// The field at fault.
        field: &'static str,
        /// The rule it breaks.
        rule: String,
    },
    /// A twin write broke a twin rule; [`TwinError::class`] tells which IoT Hub code applies.
    #[error("twin of {device_id}: {source}")]
    Twin {
        /// The device whose twin was written.
        device_id: DeviceId,
        /// The rule that was broken, with the JSON path.
        source: TwinError,
    },
    /// A message is larger than IoT Hub allows.
    #[error("message of {size} bytes is over the {limit}-byte limit")]
    MessageTooLarge {
        /// The message's size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The device's cloud-to-device queue holds the maximum number of messages.
    #[error("the cloud-to-device queue of {device_id} is full ({limit} messages)")]
    QueueFull {
        /// The device.
        device_id: DeviceId,
        /// The limit.
        limit: usize,
    },

    // ----- The store failed -----
    /// The store could not be opened or a write could not be committed; nothing was changed.
    #[error("store: {operation} failed: {reason}")]
    Store {
        /// What the hub was doing, e.g. `commit` or `open`.
        operation: &'static str,
        /// The database's explanation.
        reason: String,
    },

    // ----- The hub's own state -----
    /// The hub has been shut down.
    #[error("the hub has been shut down")]
    Stopped,
}

impl HubError {
    /// The IoT Hub error code a REST client receives for this error, or `None` for errors of
    /// the hub's setup that no request causes.
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            Self::DeviceNotFound { .. } => ErrorCode::DeviceNotFound,
            Self::DeviceAlreadyExists { .. } => ErrorCode::DeviceAlreadyExists,
            Self::PreconditionFailed { .. } => ErrorCode::PreconditionFailed,
            Self::InvalidDevice { .. } => ErrorCode::ArgumentInvalid,
            Self::Twin { source, .. } => ErrorCode::for_twin_error(source),
            Self::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
            Self::QueueFull { .. } => ErrorCode::DeviceMaximumQueueDepthExceeded,
            Self::Store { .. } => ErrorCode::ServerError,
            Self::Stopped => ErrorCode::ServiceUnavailable,
            Self::InvalidConfig { .. } | Self::Tls { .. } | Self::Bind { .. } => return None,
        })
    }

    pub(crate) fn store(operation: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Store {
            operation,
            reason: reason.to_string(),
        }
    }
}

/// Why [`crate::Hub::invoke_method`] produced no answer from the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MethodCallError {
    /// No device with this id is registered (404001).
    #[error("device {device_id} is not registered")]
    DeviceNotFound {
        /// The id asked for.
        device_id: DeviceId,
    },
    /// The device was not connected and subscribed to methods within the connect timeout
    /// (404103).
    #[error("{}", CallFailure::DeviceNotOnline)]
    DeviceNotOnline,
    /// The device did not answer within the response timeout (504101).
    #[error("{}", CallFailure::ResponseTimeout)]
    Timeout,
    /// The hub shut down before the call ended.
    #[error("the hub has been shut down")]
    Stopped,
}

impl MethodCallError {
    /// The IoT Hub error code a REST client receives for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::DeviceNotFound { .. } => ErrorCode::DeviceNotFound,
            Self::DeviceNotOnline => ErrorCode::DeviceNotOnline,
            Self::Timeout => ErrorCode::GatewayTimeout,
            Self::Stopped => ErrorCode::ServiceUnavailable,
        }
    }
}

impl From<CallFailure> for MethodCallError {
    fn from(failure: CallFailure) -> Self {
        match failure {
            CallFailure::DeviceNotOnline => Self::DeviceNotOnline,
            _ => Self::Timeout,
        }
    }
}
