//! [`ServiceError`]: every way a call of this crate can fail, grouped by who is at fault.

use std::time::Duration;

use iot_protocol::{DeviceId, ErrorCode, JobResponse, ProtocolError};
use iot_twin::TwinError;
use iot_twin::query::QueryError;
use thiserror::Error;

mod mapping;
mod resource;

pub(crate) use mapping::{ErrorContext, error_from_response};
pub use resource::Resource;

/// Why a call failed.
///
/// The variants are grouped by who is at fault: the caller (configuration and arguments, caught
/// before anything is sent), the hub (it answered, and said no), time (a timeout), the network
/// (transport), or a hub that answered something this crate cannot read (protocol). Answers
/// from the hub carry its [`ErrorCode`] when it sent one (in the `iothub-errorcode` header or
/// the body, in either of IoT Hub's two body shapes) and its message.
///
/// No variant ever holds a key, a token or a connection string with its key.
///
/// ```
/// use iot_service_sdk::ServiceError;
///
/// let error = ServiceError::DeviceNotOnline { device_id: "pump-7".parse().unwrap() };
/// assert!(!error.is_retryable());
/// assert_eq!(error.to_string(), "device \"pump-7\" is not connected");
/// ```
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum ServiceError {
    // -- The caller: caught before anything is sent -----------------------------------------
    /// A client setting is invalid or unusable ([`crate::ServiceClientBuilder::build`]).
    #[error("invalid {setting}: {reason}")]
    Configuration {
        /// The setting, such as `"connection string"`, `"endpoint"` or `"retry policy"`.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An argument breaks a rule of IoT Hub's formats (an id, an etag); see the source.
    #[error("invalid argument: {0}")]
    InvalidArgument(#[from] ProtocolError),
    /// An argument is outside the range the operation accepts.
    #[error("invalid {argument}: {reason}")]
    OutOfRange {
        /// The argument.
        argument: &'static str,
        /// The range it must be in.
        reason: String,
    },
    /// A twin update breaks a twin rule (a key, a value, the nesting depth); nothing was sent.
    #[error("invalid twin update: {0}")]
    InvalidTwinUpdate(#[from] TwinError),
    /// A query does not parse or breaks a rule of the query language; nothing was sent.
    #[error("invalid query: {0}")]
    InvalidQuery(#[from] QueryError),

    // -- The hub said no --------------------------------------------------------------------
    /// The device, job or configuration does not exist (HTTP 404).
    #[error("{} not found{}: {message}", describe(.resource.as_ref()), describe_code(*.code))]
    NotFound {
        /// The device, job or configuration the request was about, if it was about one.
        resource: Option<Resource>,
        /// The hub's error code, such as [`ErrorCode::DeviceNotFound`].
        code: Option<ErrorCode>,
        /// The hub's message.
        message: String,
    },
    /// The resource already exists (HTTP 409), such as a device created twice.
    #[error("{} already exists{}: {message}", describe(.resource.as_ref()), describe_code(*.code))]
    AlreadyExists {
        /// The device, job or configuration the request was about, if it was about one.
        resource: Option<Resource>,
        /// The hub's error code, such as [`ErrorCode::DeviceAlreadyExists`].
        code: Option<ErrorCode>,
        /// The hub's message.
        message: String,
    },
    /// The etag sent in `If-Match` is not the resource's current one (HTTP 412): someone else
    /// changed it since it was read. Read it again and retry.
    #[error("{} changed since etag {}: {message}", describe(.resource.as_ref()), .etag.as_deref().unwrap_or("?"))]
    PreconditionFailed {
        /// The device or configuration the request was about, if it was about one.
        resource: Option<Resource>,
        /// The etag the request required.
        etag: Option<String>,
        /// The hub's message.
        message: String,
    },
    /// The device is not connected (or not subscribed to direct methods) within the call's
    /// connect timeout (HTTP 404, [`ErrorCode::DeviceNotOnline`]).
    #[error("device {:?} is not connected", .device_id.as_str())]
    DeviceNotOnline {
        /// The device called.
        device_id: DeviceId,
    },
    /// The hub throttled the request (HTTP 429) and retrying within the retry policy did not
    /// help, or the hub asked for a longer wait than the policy allows.
    #[error("throttled{}{}: {message}", describe_code(*.code), describe_retry_after(*.retry_after))]
    Throttled {
        /// How long the hub asked to wait (`Retry-After`), when it said.
        retry_after: Option<Duration>,
        /// The hub's error code, such as [`ErrorCode::ThrottlingException`].
        code: Option<ErrorCode>,
        /// The hub's message.
        message: String,
    },
    /// The hub refused the credentials (HTTP 401): a wrong key, an expired token, or a shared
    /// access policy without the rights the operation needs (IoT Hub answers 401 for those).
    #[error("unauthorized{}: {message}", describe_code(*.code))]
    Unauthorized {
        /// The hub's error code, such as [`ErrorCode::IotHubUnauthorizedAccess`].
        code: Option<ErrorCode>,
        /// The hub's message.
        message: String,
    },
    /// The hub forbids the operation (HTTP 403, other than the quota codes, which are
    /// [`ServiceError::BadRequest`]).
    #[error("forbidden{}: {message}", describe_code(*.code))]
    Forbidden {
        /// The hub's error code.
        code: Option<ErrorCode>,
        /// The hub's message.
        message: String,
    },
    /// The hub refused the request's content: a bad argument or body (HTTP 400), a body over a
    /// size limit (413), a twin over its size quota (403100), or another 4xx.
    #[error("rejected with HTTP {status}{}: {message}", describe_code(*.code))]
    BadRequest {
        /// The HTTP status.
        status: u16,
        /// The hub's error code, such as [`ErrorCode::ArgumentInvalid`].
        code: Option<ErrorCode>,
        /// The hub's message.
        message: String,
    },
    /// The hub failed (HTTP 5xx) and retrying within the retry policy did not help.
    #[error("hub error HTTP {status}{}: {message}", describe_code(*.code))]
    Server {
        /// The HTTP status.
        status: u16,
        /// The hub's error code, such as [`ErrorCode::ServerError`].
        code: Option<ErrorCode>,
        /// The hub's message.
        message: String,
    },

    // -- Timeouts ---------------------------------------------------------------------------
    /// The device did not answer a direct method within the call's response timeout (HTTP
    /// 504, [`ErrorCode::GatewayTimeout`]).
    #[error("device {:?} did not answer the method in time", .device_id.as_str())]
    DeviceTimeout {
        /// The device called.
        device_id: DeviceId,
    },
    /// A job had not ended by the deadline given to
    /// [`crate::ServiceClient::wait_for_completion`]; its last state is here.
    #[error("job {:?} is still {:?} at the deadline", .job.job_id, .job.status)]
    JobStillRunning {
        /// The job as last read.
        job: Box<JobResponse>,
    },
    /// No answer from the hub within the request timeout.
    #[error("no answer from the hub within {after:?}")]
    RequestTimeout {
        /// The timeout that elapsed.
        after: Duration,
    },

    // -- The network ------------------------------------------------------------------------
    /// No connection to the hub could be made (name resolution, TCP or TLS handshake): the
    /// request was not sent.
    #[error("cannot connect to {endpoint}: {detail}")]
    Connect {
        /// The address tried (`scheme://host:port`).
        endpoint: String,
        /// What failed, such as `connection refused` or a certificate error.
        detail: String,
    },
    /// The connection failed while the request or its answer was under way: the hub may or
    /// may not have carried out the request.
    #[error("transport error: {detail}")]
    Transport {
        /// What failed.
        detail: String,
    },

    // -- The hub's answer -------------------------------------------------------------------
    /// The hub answered something this crate cannot read: an unexpected status, a body that
    /// is not the expected JSON, a query that pages in circles.
    #[error("unexpected answer from the hub: {detail}")]
    Protocol {
        /// What was unexpected.
        detail: String,
    },
}

impl ServiceError {
    /// Whether trying again later may succeed: throttling, server errors, timeouts and
    /// connection failures. This crate already retries idempotent requests within the
    /// client's retry policy; this tells what is left to the caller.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. }
                | Self::Server { .. }
                | Self::RequestTimeout { .. }
                | Self::JobStillRunning { .. }
                | Self::Connect { .. }
                | Self::Transport { .. }
        )
    }

    /// The HTTP status of the hub's answer, for errors that come from one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::NotFound { .. } | Self::DeviceNotOnline { .. } => Some(404),
            Self::AlreadyExists { .. } => Some(409),
            Self::PreconditionFailed { .. } => Some(412),
            Self::Throttled { .. } => Some(429),
            Self::Unauthorized { .. } => Some(401),
            Self::Forbidden { .. } => Some(403),
            Self::DeviceTimeout { .. } => Some(504),
            Self::BadRequest { status, .. } | Self::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The hub's error code, for errors that come with one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Self::NotFound { code, .. }
            | Self::AlreadyExists { code, .. }
            | Self::Throttled { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::BadRequest { code, .. }
            | Self::Server { code, .. } => *code,
            Self::PreconditionFailed { .. } => Some(ErrorCode::PreconditionFailed),
            Self::DeviceNotOnline { .. } => Some(ErrorCode::DeviceNotOnline),
            Self::DeviceTimeout { .. } => Some(ErrorCode::GatewayTimeout),
            _ => None,
        }
    }

    /// How long the hub asked to wait before retrying, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A configuration error.
    pub(crate) fn config(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::Configuration {
            setting,
            reason: reason.into(),
        }
    }

    /// An argument out of range.
    pub(crate) fn out_of_range(argument: &'static str, reason: impl Into<String>) -> Self {
        Self::OutOfRange {
            argument,
            reason: reason.into(),
        }
    }

    /// A protocol error.
    pub(crate) fn protocol(detail: impl Into<String>) -> Self {
        Self::Protocol {
            detail: detail.into(),
        }
    }
}

fn describe(resource: Option<&Resource>) -> String {
    resource.map_or_else(|| "resource".to_owned(), Resource::to_string)
}

fn describe_code(code: Option<ErrorCode>) -> String {
    code.map(|c| format!(" ({} {})", c.number(), c.name()))
        .unwrap_or_default()
}

fn describe_retry_after(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!(", retry after {d:?}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> DeviceId {
        "d1".parse().unwrap()
    }

    #[test]
    fn messages_name_the_device_and_code() {
        let error = ServiceError::NotFound {
            resource: Some(Resource::Device(device())),
            code: Some(ErrorCode::DeviceNotFound),
            message: "no such device".into(),
        };
        assert_eq!(
            error.to_string(),
            "device \"d1\" not found (404001 DeviceNotFound): no such device"
        );
        let error = ServiceError::NotFound {
            resource: Some(Resource::Job("j-7".parse().unwrap())),
            code: Some(ErrorCode::JobNotFound),
            message: "gone".into(),
        };
        assert_eq!(
            error.to_string(),
            "job \"j-7\" not found (404002 JobNotFound): gone"
        );
        let error = ServiceError::AlreadyExists {
            resource: Some(Resource::Configuration("fw-2".parse().unwrap())),
            code: None,
            message: "taken".into(),
        };
        assert_eq!(
            error.to_string(),
            "configuration \"fw-2\" already exists: taken"
        );
        let error = ServiceError::Throttled {
            retry_after: Some(Duration::from_secs(3)),
            code: None,
            message: "slow down".into(),
        };
        assert_eq!(error.to_string(), "throttled, retry after 3s: slow down");
        let error = ServiceError::PreconditionFailed {
            resource: Some(Resource::Device(device())),
            etag: Some("AAAAAAAAAAE=".into()),
            message: "etag mismatch".into(),
        };
        assert_eq!(
            error.to_string(),
            "device \"d1\" changed since etag AAAAAAAAAAE=: etag mismatch"
        );
    }

    #[test]
    fn status_and_code_accessors_agree_with_the_variant() {
        let cases = [
            (
                ServiceError::DeviceNotOnline {
                    device_id: device(),
                },
                404,
                ErrorCode::DeviceNotOnline,
            ),
            (
                ServiceError::DeviceTimeout {
                    device_id: device(),
                },
                504,
                ErrorCode::GatewayTimeout,
            ),
            (
                ServiceError::PreconditionFailed {
                    resource: None,
                    etag: None,
                    message: String::new(),
                },
                412,
                ErrorCode::PreconditionFailed,
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status(), Some(status));
            assert_eq!(error.error_code(), Some(code));
            assert_eq!(u32::from(status), code.number() / 1000);
        }
        let timeout = ServiceError::RequestTimeout {
            after: Duration::from_secs(1),
        };
        assert_eq!((timeout.status(), timeout.error_code()), (None, None));
        assert!(timeout.is_retryable());
    }
}
