//! Direct methods over REST (PROTOCOL 4.2): `POST /twins/{id}/methods`.
//!
//! Every error of this endpoint uses the JSON-in-`Message` body, as the real hub's method
//! errors do: 400 for a body that is not an invocation, 413 for a payload over 128 KB, 404
//! `DeviceNotFound` (404001), 404 `DeviceNotOnline` (404103) when the device is not connected
//! and subscribed within the connect timeout, 504 `GatewayTimeout` (504101) when it does not
//! answer within the response timeout.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use iot_methods::{Error as MethodError, MethodInvocation};
use iot_protocol::ErrorCode;
use serde::de::IgnoredAny;

use super::auth::{Authorized, ServiceConnect};
use super::error::RestError;
use super::extract::{DevicePath, read_body};
use super::response::json;
use super::router::Api;

/// The largest request body: the 128 KB payload limit plus room for the envelope
/// (`methodName`, the timeouts, and whitespace a client may add).
pub(crate) const METHOD_BODY_LIMIT: usize = iot_methods::payload::MAX_PAYLOAD_BYTES + 16 * 1024;

/// `POST /twins/{id}/methods`: calls the method and answers 200 with the device's
/// `{"status", "payload"}`, whatever status the device chose.
pub(crate) async fn invoke(
    _: Authorized<ServiceConnect>,
    State(api): State<Api>,
    DevicePath(id): DevicePath,
    body: Body,
) -> Result<Response, RestError> {
    let body = read_body(body, METHOD_BODY_LIMIT)
        .await
        .map_err(RestError::in_json)?;
    let invocation = invocation(&body)?;
    let result = api.core().invoke_method(&id, invocation).await?;
    Ok(json(&result))
}

/// Reads the invocation: 413 `MessageTooLarge` for a payload over the limit, 400
/// `IotHubFormatError` for a body that is not JSON, 400 `ArgumentInvalid` for anything else
/// that breaks a rule (the message names it).
fn invocation(body: &[u8]) -> Result<MethodInvocation, RestError> {
    MethodInvocation::from_json(body).map_err(|error| {
        let code = match &error {
            MethodError::PayloadTooLarge { .. } => ErrorCode::MessageTooLarge,
            MethodError::MalformedInvocation { .. }
                if serde_json::from_slice::<IgnoredAny>(body).is_err() =>
            {
                ErrorCode::IotHubFormatError
            }
            _ => ErrorCode::ArgumentInvalid,
        };
        RestError::new(code, error.to_string()).in_json()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_errors_have_their_codes() {
        let ok = invocation(br#"{"methodName":"reboot","payload":null,"extra":1}"#);
        assert_eq!(ok.expect("valid").method_name().as_str(), "reboot");
        let big = format!(
            r#"{{"methodName":"m","payload":"{}"}}"#,
            "x".repeat(iot_methods::payload::MAX_PAYLOAD_BYTES)
        );
        let cases: [(&[u8], ErrorCode); 5] = [
            (big.as_bytes(), ErrorCode::MessageTooLarge),
            (b"{\"methodName\":", ErrorCode::IotHubFormatError),
            (b"{}", ErrorCode::ArgumentInvalid),
            (br#"{"methodName":"a/b"}"#, ErrorCode::ArgumentInvalid),
            (
                br#"{"methodName":"m","responseTimeoutInSeconds":1}"#,
                ErrorCode::ArgumentInvalid,
            ),
        ];
        for (body, code) in cases {
            let error = invocation(body).expect_err("refused");
            assert_eq!(error.code(), code, "{}", error.message());
        }
    }
}
