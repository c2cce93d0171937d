//! [`RestError`]: a failed request, answered the way IoT Hub answers it (PROTOCOL 12.4).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iot_protocol::{ErrorBody, ErrorCode};

use crate::core::{now, tracking_id};
use crate::{HubError, MethodCallError};

/// The header naming the error code (C# requires it to agree with the body).
pub(crate) const ERROR_CODE_HEADER: &str = "iothub-errorcode";

/// The content type of every JSON body the API sends; the Node service SDK parses a body only
/// when the content type contains `application/json`.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Which of IoT Hub's two error bodies a failure is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `{"Message":"ErrorCode:<Name>;<text>","ExceptionMessage":"Tracking ID:..."}`: registry,
    /// twin, query and authorization errors. The Node service SDK turns only this shape into
    /// its specific error classes.
    Legacy,
    /// `{"Message":"<error object as JSON text>","ExceptionMessage":""}`: direct-method errors,
    /// as the real hub sends them.
    JsonInMessage,
}

/// A failed request: the IoT Hub error code (which fixes the HTTP status), a message naming
/// what was wrong, and the body shape. Messages never hold keys or tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RestError {
    code: ErrorCode,
    message: String,
    shape: Shape,
}

impl RestError {
    /// An error in the legacy shape.
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            shape: Shape::Legacy,
        }
    }

    /// 400 `ArgumentInvalid`: a path segment, header, query parameter or body field breaks a
    /// rule.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ArgumentInvalid, message)
    }

    /// 401 `IotHubUnauthorizedAccess`.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::IotHubUnauthorizedAccess, message)
    }

    /// The same error in the JSON-in-`Message` shape.
    pub(crate) fn in_json(mut self) -> Self {
        self.shape = Shape::JsonInMessage;
        self
    }

    /// The error code.
    #[cfg(test)]
    pub(crate) fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message.
    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl From<HubError> for RestError {
    /// The error's IoT Hub code; an error no request should cause (the hub's setup) is a
    /// server error.
    fn from(error: HubError) -> Self {
        let code = error.code().unwrap_or(ErrorCode::ServerError);
        Self::new(code, error.to_string())
    }
}

impl From<MethodCallError> for RestError {
    /// The call's IoT Hub code, in the JSON-in-`Message` shape the real hub uses for methods,
    /// with the real hub's texts for a device offline or silent.
    fn from(error: MethodCallError) -> Self {
        Self::new(error.code(), error.to_string()).in_json()
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody::new(self.code, self.message, tracking_id(), now());
        let text = match self.shape {
            Shape::Legacy => body.to_legacy_json(),
            Shape::JsonInMessage => body.to_json(),
        };
        let mut response = (status, text).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(JSON_CONTENT_TYPE),
        );
        headers.insert(
            ERROR_CODE_HEADER,
            HeaderValue::from_static(self.code.name()),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_protocol::DeviceId;

    fn parts(error: RestError) -> (u16, String, String) {
        let response = error.into_response();
        let header = |name| {
            response.headers()[name]
                .to_str()
                .expect("an ASCII header")
                .to_owned()
        };
        (
            response.status().as_u16(),
            header(ERROR_CODE_HEADER),
            header(header::CONTENT_TYPE.as_str()),
        )
    }

    #[test]
    fn status_header_and_content_type_follow_the_code() {
        let (status, name, content_type) = parts(RestError::invalid("bad id"));
        assert_eq!(
            (status, name.as_str(), content_type.as_str()),
            (400, "ArgumentInvalid", JSON_CONTENT_TYPE)
        );
        let (status, name, _) = parts(RestError::from(MethodCallError::Timeout));
        assert_eq!((status, name.as_str()), (504, "GatewayTimeout"));
    }

    #[test]
    fn hub_errors_keep_their_codes_and_method_errors_use_the_json_shape() {
        let device_id: DeviceId = "d1".parse().expect("a valid id");
        let missing = RestError::from(HubError::DeviceNotFound { device_id });
        assert_eq!(
            (missing.code(), missing.shape),
            (ErrorCode::DeviceNotFound, Shape::Legacy)
        );
        assert!(missing.message().contains("d1"));
        let offline = RestError::from(MethodCallError::DeviceNotOnline);
        assert_eq!(
            (offline.code(), offline.shape),
            (ErrorCode::DeviceNotOnline, Shape::JsonInMessage)
        );
        assert_eq!(
            offline.message(),
            "Timed out waiting for device to connect."
        );
        let config = RestError::from(HubError::InvalidConfig {
            setting: "x",
            rule: "y".into(),
        });
        assert_eq!(config.code(), ErrorCode::ServerError);
    }
}
