//! The crate's errors: [`HubError`] for everything, [`MethodCallError`] for direct-method calls.

use std::net::SocketAddr;

use iot_methods::CallFailure;
use iot_protocol::{ConfigurationId, DeviceId, ErrorCode, JobId};
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
    /// No job with this id exists (or it was pruned after its retention).
    #[error("job {job_id} does not exist")]
    JobNotFound {
        /// The id asked for.
        job_id: JobId,
    },
    /// A job with this id exists already (finished jobs count until they are pruned).
    #[error("job {job_id} exists already")]
    JobAlreadyExists {
        /// The id asked for.
        job_id: JobId,
    },
    /// A job request breaks a rule.
    #[error("invalid job: {field} {rule}")]
    InvalidJob {
        /// The request field at fault, e.g. `queryCondition`.
        field: &'static str,
        /// The rule it breaks (for a condition, the parser's message).
        rule: String,
    },
    /// No configuration with this id exists.
    #[error("configuration {id} does not exist")]
    ConfigurationNotFound {
        /// The id asked for.
        id: ConfigurationId,
    },
    /// A configuration with this id exists already.
    #[error("configuration {id} exists already")]
    ConfigurationAlreadyExists {
        /// The id asked for.
        id: ConfigurationId,
    },
    /// The hub holds as many configurations as it may.
    #[error("the hub already holds {limit} configurations, the most it may")]
    TooManyConfigurations {
        /// The limit.
        limit: usize,
    },
    /// A configuration field other than its content, target condition or metrics breaks a
    /// rule.
    #[error("invalid configuration: {field} {rule}")]
    InvalidConfiguration {
        /// The field at fault, e.g. `priority`.
        field: &'static str,
        /// The rule it breaks.
        rule: String,
    },
    /// A configuration's target condition is missing or does not parse.
    #[error("invalid configuration targetCondition: {reason}")]
    InvalidTargetCondition {
        /// What is wrong, with the parser's message.
        reason: String,
    },
    /// A configuration's content breaks a rule.
    #[error("invalid configuration content: {reason}")]
    InvalidConfigurationContent {
        /// The rule and the content path that breaks it.
        reason: String,
    },
    /// A configuration's custom metric query is invalid, or there are too many.
    #[error("invalid configuration metric {metric}: {reason}")]
    InvalidMetricQuery {
        /// The metric's name (empty when the number of metrics is at fault).
        metric: String,
        /// What is wrong, with the parser's message.
        reason: String,
    },
    /// An update would change a configuration's content, which is fixed at creation.
    #[error("the content of configuration {id} cannot change after its creation")]
    ImmutableConfigurationContent {
        /// The configuration.
        id: ConfigurationId,
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
            Self::JobNotFound { .. } => ErrorCode::JobNotFound,
            Self::JobAlreadyExists { .. } => ErrorCode::JobAlreadyExists,
            Self::InvalidJob { .. } | Self::InvalidConfiguration { .. } => {
                ErrorCode::ArgumentInvalid
            }
            Self::ConfigurationNotFound { .. } => ErrorCode::ConfigurationNotFound,
            Self::ConfigurationAlreadyExists { .. } => ErrorCode::ConfigurationAlreadyExists,
            Self::TooManyConfigurations { .. } => ErrorCode::ConfigurationCountLimitExceeded,
            Self::InvalidTargetCondition { .. } => ErrorCode::InvalidConfigurationTargetCondition,
            Self::InvalidConfigurationContent { .. } => ErrorCode::InvalidConfigurationContent,
            Self::InvalidMetricQuery { .. } => ErrorCode::InvalidConfigurationCustomMetricsQuery,
            Self::ImmutableConfigurationContent { .. } => {
                ErrorCode::CannotModifyImmutableConfigurationContent
            }
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
