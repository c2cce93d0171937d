//! From the hub's error answer (status, `iothub-errorcode` header, body) to a [`ServiceError`].

use iot_protocol::{ErrorBody, ErrorCode, IfMatch};

use super::{Resource, ServiceError};
use crate::response::Response;

/// The longest piece of an unreadable error body kept as the message, in characters.
const MAX_RAW_MESSAGE_CHARS: usize = 300;

/// What the request was about, so that errors can say which device, job or configuration,
/// and which etag.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ErrorContext<'a> {
    /// The device, job or configuration the request was about.
    pub(crate) resource: Option<&'a Resource>,
    /// The `If-Match` condition sent.
    pub(crate) if_match: Option<&'a IfMatch>,
    /// Whether the request was a direct-method call, whose 504 means the device did not answer.
    pub(crate) method_call: bool,
}

/// The error for a non-2xx answer.
///
/// The code is read from the body (either of IoT Hub's shapes, with [`ErrorBody::parse`]) and
/// otherwise from the `iothub-errorcode` header; the message from the body, or the body's text
/// when it is not one of the shapes. The status decides the variant; within a status the code
/// refines it (404 `DeviceNotOnline`, 403 quota codes, 504 on a method call).
pub(crate) fn error_from_response(context: &ErrorContext<'_>, response: &Response) -> ServiceError {
    let (code, message) = code_and_message(response);
    let resource = context.resource.cloned();
    match response.status {
        401 => ServiceError::Unauthorized { code, message },
        403 if code.is_some_and(is_quota) => ServiceError::BadRequest {
            status: 403,
            code,
            message,
        },
        403 => ServiceError::Forbidden { code, message },
        404 => not_found(resource, code, message),
        409 => ServiceError::AlreadyExists {
            resource,
            code,
            message,
        },
        412 => ServiceError::PreconditionFailed {
            resource,
            etag: context
                .if_match
                .map(|m| m.as_etag().unwrap_or("*").to_owned()),
            message,
        },
        429 => ServiceError::Throttled {
            retry_after: response.headers.retry_after,
            code,
            message,
        },
        504 => gateway_timeout(context, code, message),
        status @ 400..=499 => ServiceError::BadRequest {
            status,
            code,
            message,
        },
        status @ 500..=599 => ServiceError::Server {
            status,
            code,
            message,
        },
        status => ServiceError::protocol(format!("unexpected HTTP status {status}: {message}")),
    }
}

fn not_found(resource: Option<Resource>, code: Option<ErrorCode>, message: String) -> ServiceError {
    match (code, resource) {
        (Some(ErrorCode::DeviceNotOnline), Some(Resource::Device(device_id))) => {
            ServiceError::DeviceNotOnline { device_id }
        }
        (code, resource) => ServiceError::NotFound {
            resource,
            code,
            message,
        },
    }
}

fn gateway_timeout(
    context: &ErrorContext<'_>,
    code: Option<ErrorCode>,
    message: String,
) -> ServiceError {
    let device_id = context.resource.and_then(Resource::device_id).cloned();
    match device_id {
        Some(device_id) if context.method_call || code == Some(ErrorCode::GatewayTimeout) => {
            ServiceError::DeviceTimeout { device_id }
        }
        _ => ServiceError::Server {
            status: 504,
            code,
            message,
        },
    }
}

/// The 403 codes that refuse the content or a quota rather than the caller.
fn is_quota(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::DeviceModelMaxPropertiesExceeded
            | ErrorCode::IotHubQuotaExceeded
            | ErrorCode::JobQuotaExceeded
            | ErrorCode::DeviceMaximumQueueDepthExceeded
    )
}

fn code_and_message(response: &Response) -> (Option<ErrorCode>, String) {
    let header = response
        .headers
        .error_code
        .as_deref()
        .and_then(|name| name.trim().parse::<ErrorCode>().ok());
    let text = String::from_utf8_lossy(&response.body);
    match ErrorBody::parse(&text) {
        Ok((code, message)) => (Some(code), message),
        Err(_) => (header, raw_message(&text, response.status)),
    }
}

/// The body's text, shortened, or the status when the body is empty.
fn raw_message(text: &str, status: u16) -> String {
    let text = text.trim();
    if text.is_empty() {
        return format!("HTTP {status} without a body");
    }
    let mut message: String = text.chars().take(MAX_RAW_MESSAGE_CHARS).collect();
    if message.len() < text.len() {
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::response::ResponseHeaders;
    use iot_protocol::DeviceId;
    use iot_twin::Timestamp;

    fn at() -> Timestamp {
        Timestamp::from_unix_seconds(1_700_000_000).unwrap()
    }

    fn legacy(code: ErrorCode, message: &str) -> Vec<u8> {
        ErrorBody::new(code, message, "t", at())
            .to_legacy_json()
            .into_bytes()
    }

    fn current(code: ErrorCode, message: &str) -> Vec<u8> {
        ErrorBody::new(code, message, "t", at())
            .to_json()
            .into_bytes()
    }

    fn response(status: u16, header: Option<&str>, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: ResponseHeaders {
                error_code: header.map(str::to_owned),
                ..ResponseHeaders::default()
            },
            body,
        }
    }

    fn device() -> DeviceId {
        "d1".parse().unwrap()
    }

    fn about(resource: &Resource) -> ErrorContext<'_> {
        ErrorContext {
            resource: Some(resource),
            ..ErrorContext::default()
        }
    }

    #[test]
    fn both_body_shapes_give_code_and_message() {
        let id = Resource::Device(device());
        for body in [
            legacy(ErrorCode::DeviceNotFound, "gone"),
            current(ErrorCode::DeviceNotFound, "gone"),
        ] {
            let error = error_from_response(&about(&id), &response(404, None, body));
            match error {
                ServiceError::NotFound {
                    resource,
                    code,
                    message,
                } => {
                    assert_eq!(resource, Some(Resource::Device(device())));
                    assert_eq!(code, Some(ErrorCode::DeviceNotFound));
                    assert_eq!(message, "gone");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn header_code_is_used_when_the_body_is_unreadable() {
        let error = error_from_response(
            &ErrorContext::default(),
            &response(
                409,
                Some("DeviceAlreadyExists"),
                b"<html>conflict</html>".to_vec(),
            ),
        );
        assert!(matches!(
            &error,
            ServiceError::AlreadyExists { code: Some(ErrorCode::DeviceAlreadyExists), message, .. }
                if message == "<html>conflict</html>"
        ));
        let error = error_from_response(&ErrorContext::default(), &response(500, None, Vec::new()));
        assert!(matches!(
            &error,
            ServiceError::Server { status: 500, code: None, message } if message.contains("500")
        ));
    }

    #[test]
    fn long_unreadable_bodies_are_shortened() {
        let body = "x".repeat(5000).into_bytes();
        let error = error_from_response(&ErrorContext::default(), &response(400, None, body));
        let ServiceError::BadRequest { message, .. } = error else {
            panic!("{error:?}");
        };
        assert_eq!(message.chars().count(), MAX_RAW_MESSAGE_CHARS + 1);
    }

    #[test]
    fn jobs_and_configurations_not_found_are_named() {
        let job = Resource::Job("j-7".parse().unwrap());
        let error = error_from_response(
            &about(&job),
            &response(404, None, legacy(ErrorCode::JobNotFound, "no such job")),
        );
        assert!(
            matches!(&error, ServiceError::NotFound { resource: Some(r), .. } if *r == job),
            "{error:?}"
        );
        assert!(
            error.to_string().starts_with("job \"j-7\" not found"),
            "{error}"
        );
        let configuration = Resource::Configuration("fw-2".parse().unwrap());
        let error = error_from_response(
            &about(&configuration),
            &response(404, None, current(ErrorCode::ConfigurationNotFound, "none")),
        );
        assert!(
            error
                .to_string()
                .starts_with("configuration \"fw-2\" not found"),
            "{error}"
        );
        let error = error_from_response(
            &about(&job),
            &response(404, None, current(ErrorCode::DeviceNotOnline, "offline")),
        );
        assert!(matches!(error, ServiceError::NotFound { .. }), "{error:?}");
    }

    #[test]
    fn device_not_online_and_method_timeouts() {
        let id = device();
        let on_device = Resource::Device(id.clone());
        let error = error_from_response(
            &about(&on_device),
            &response(404, None, current(ErrorCode::DeviceNotOnline, "offline")),
        );
        assert!(matches!(error, ServiceError::DeviceNotOnline { device_id } if device_id == id));
        let method = ErrorContext {
            resource: Some(&on_device),
            method_call: true,
            ..ErrorContext::default()
        };
        let error = error_from_response(&method, &response(504, None, Vec::new()));
        assert!(matches!(error, ServiceError::DeviceTimeout { device_id } if device_id == id));
        let error = error_from_response(
            &ErrorContext::default(),
            &response(504, None, b"gateway".to_vec()),
        );
        assert!(matches!(error, ServiceError::Server { status: 504, .. }));
    }

    #[test]
    fn precondition_names_the_etag_sent() {
        let id = Resource::Device(device());
        let condition = IfMatch::etag("AAAAAAAAAAE=").unwrap();
        let context = ErrorContext {
            resource: Some(&id),
            if_match: Some(&condition),
            method_call: false,
        };
        let error = error_from_response(
            &context,
            &response(412, None, legacy(ErrorCode::PreconditionFailed, "stale")),
        );
        assert!(matches!(
            error,
            ServiceError::PreconditionFailed { etag: Some(etag), .. } if etag == "AAAAAAAAAAE="
        ));
    }

    #[test]
    fn status_classes() {
        let context = ErrorContext::default();
        let throttled = Response {
            status: 429,
            headers: ResponseHeaders {
                retry_after: Some(Duration::from_secs(2)),
                ..ResponseHeaders::default()
            },
            body: legacy(ErrorCode::ThrottlingException, "slow"),
        };
        let error = error_from_response(&context, &throttled);
        assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(error.error_code(), Some(ErrorCode::ThrottlingException));
        type Check = fn(&ServiceError) -> bool;
        let cases: [(u16, ErrorCode, Check); 6] = [
            (401, ErrorCode::IotHubUnauthorizedAccess, |e| {
                matches!(e, ServiceError::Unauthorized { .. })
            }),
            (403, ErrorCode::GenericForbidden, |e| {
                matches!(e, ServiceError::Forbidden { .. })
            }),
            (403, ErrorCode::DeviceModelMaxPropertiesExceeded, |e| {
                matches!(e, ServiceError::BadRequest { status: 403, .. })
            }),
            (400, ErrorCode::ArgumentInvalid, |e| {
                matches!(e, ServiceError::BadRequest { status: 400, .. })
            }),
            (413, ErrorCode::MessageTooLarge, |e| {
                matches!(e, ServiceError::BadRequest { status: 413, .. })
            }),
            (503, ErrorCode::ServiceUnavailable, |e| {
                matches!(e, ServiceError::Server { status: 503, .. })
            }),
        ];
        for (status, code, check) in cases {
            let error = error_from_response(&context, &response(status, None, legacy(code, "m")));
            assert!(check(&error), "{status} {code}: {error:?}");
            assert_eq!(error.error_code(), Some(code));
            assert_eq!(error.status(), Some(status));
        }
        let redirect = error_from_response(&context, &response(302, None, Vec::new()));
        assert!(matches!(redirect, ServiceError::Protocol { .. }));
    }
}
