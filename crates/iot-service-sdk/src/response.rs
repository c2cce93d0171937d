//! [`Response`]: the hub's answer as this crate keeps it, free of the HTTP library's types.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::ServiceError;

/// Header names the client reads.
pub(crate) mod header {
    /// The error code name of a failed request.
    pub(crate) const ERROR_CODE: &str = "iothub-errorcode";
    /// How long to wait before retrying a throttled request.
    pub(crate) const RETRY_AFTER: &str = "retry-after";
    /// The token of the next query page (absent on the last page).
    pub(crate) const CONTINUATION: &str = "x-ms-continuation";
    /// The kind of items a query page holds.
    pub(crate) const ITEM_TYPE: &str = "x-ms-item-type";
    /// The page size a query asks for.
    pub(crate) const MAX_ITEM_COUNT: &str = "x-ms-max-item-count";
}

/// A response: status, the headers this crate reads, and the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Response {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The headers this crate reads.
    pub(crate) headers: ResponseHeaders,
    /// The body, as received.
    pub(crate) body: Vec<u8>,
}

/// The headers of a response that this crate reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResponseHeaders {
    /// `iothub-errorcode`.
    pub(crate) error_code: Option<String>,
    /// `Retry-After`, in seconds.
    pub(crate) retry_after: Option<Duration>,
    /// `x-ms-continuation`.
    pub(crate) continuation: Option<String>,
    /// `x-ms-item-type`.
    pub(crate) item_type: Option<String>,
}

impl Response {
    /// Whether the status is 2xx.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body read as JSON of type `T`; `what` names the body in the error.
    pub(crate) fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, ServiceError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ServiceError::protocol(format!("the {what} in the answer is not valid: {e}"))
        })
    }
}

/// Reads a `Retry-After` value given in seconds.
///
/// HTTP also allows a date; IoT Hub does not document which form it sends, and this crate
/// reads only the number of seconds (a date reads as no advice, so the retry policy's own
/// backoff applies).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_only() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("1.5"), None);
    }

    #[test]
    fn json_errors_name_the_body() {
        let response = Response {
            status: 200,
            body: b"{\"deviceId\":".to_vec(),
            ..Response::default()
        };
        let error = response.json::<serde_json::Value>("device").unwrap_err();
        assert!(error.to_string().contains("device"), "{error}");
        assert!(response.is_success());
    }
}
