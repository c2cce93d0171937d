//! Error bodies: the REST `{"Message":..., "ExceptionMessage":...}` envelope in both shapes IoT
//! Hub uses, and the `{"errorCode":...}` object of MQTT twin errors.

use iot_twin::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{ErrorCode, ProtocolError};

const INPUT: &str = "error body";

/// The error object IoT Hub sends inside the current REST error shape and as the body of MQTT
/// twin error responses: `{"errorCode":404001,"trackingId":"...","message":"...","info":{},
/// "timestampUtc":"..."}`.
///
/// `errorCode` is kept as a number so that codes this crate does not know still parse. Node's
/// device SDK treats a twin response as failed only when its body has `errorCode`, so every MQTT
/// error must carry this object.
///
/// ```
/// use iot_protocol::{ErrorCode, ErrorDetail};
///
/// let at = "2019-12-03T15:00:09.0082523Z".parse().unwrap();
/// let detail = ErrorDetail::new(ErrorCode::ArgumentInvalid, "bad key", "t1", at);
/// assert_eq!(
///     detail.to_json(),
///     r#"{"errorCode":400004,"trackingId":"t1","message":"bad key","timestampUtc":"2019-12-03T15:00:09.0082523Z"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// The six-digit error code.
    pub error_code: u32,
    /// The hub's tracking id for the failed operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
    /// A human-readable description.
    #[serde(default)]
    pub message: String,
    /// Extra information; the hub sends `{}` in REST errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Map<String, Value>>,
    /// When the error happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_utc: Option<Timestamp>,
}

impl ErrorDetail {
    /// An error object for `code` (no `info`, as in MQTT twin errors).
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        tracking_id: impl Into<String>,
        timestamp: Timestamp,
    ) -> Self {
        Self {
            error_code: code.number(),
            tracking_id: Some(tracking_id.into()),
            message: message.into(),
            info: None,
            timestamp_utc: Some(timestamp),
        }
    }

    /// The code, if this crate knows it.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::from_number(self.error_code)
    }

    /// The compact JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("plain data serializes"))
    }

    /// Parses the JSON text of an error object.
    pub fn parse(body: &str) -> Result<Self, ProtocolError> {
        serde_json::from_str(body).map_err(|e| ProtocolError::InvalidJson {
            input: "error detail",
            detail: e.to_string(),
        })
    }
}

/// A REST error response body, written in either of IoT Hub's two shapes and read from both.
///
/// * Legacy: `{"Message":"ErrorCode:DeviceNotFound;<text>","ExceptionMessage":"Tracking
///   ID:<id>-TimeStamp:MM/dd/yyyy HH:mm:ss"}`. Node's service SDK only understands this shape
///   (it turns it into specific error classes); C# falls back to it.
/// * Current: `{"Message":"<ErrorDetail as a JSON string>","ExceptionMessage":""}`, what the
///   real hub sends for direct-method errors.
///
/// Either way the response also carries the header `iothub-errorcode: <name>`
/// ([`ErrorCode::name`]); C# requires the header and the body to agree.
///
/// ```
/// use iot_protocol::{ErrorBody, ErrorCode};
///
/// let at = "2016-07-16T00:12:41Z".parse().unwrap();
/// let body = ErrorBody::new(ErrorCode::DeviceAlreadyExists, "Conflict", "e4cb", at);
/// assert_eq!(
///     body.to_legacy_json(),
///     r#"{"Message":"ErrorCode:DeviceAlreadyExists;Conflict","ExceptionMessage":"Tracking ID:e4cb-TimeStamp:07/16/2016 00:12:41"}"#
/// );
/// assert_eq!(
///     ErrorBody::parse(&body.to_json()).unwrap(),
///     (ErrorCode::DeviceAlreadyExists, "Conflict".to_owned())
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    code: ErrorCode,
    message: String,
    tracking_id: String,
    timestamp: Timestamp,
}

/// The envelope both shapes share.
#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "ExceptionMessage", default)]
    exception_message: String,
}

impl ErrorBody {
    /// An error body. The tracking id and the time are the caller's (this crate reads no clock
    /// and draws no random numbers).
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        tracking_id: impl Into<String>,
        timestamp: Timestamp,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            tracking_id: tracking_id.into(),
            timestamp,
        }
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The legacy shape: `Message` is `ErrorCode:<Name>;<message>`.
    pub fn to_legacy_json(&self) -> String {
        envelope_json(&Envelope {
            message: format!("ErrorCode:{};{}", self.code.name(), self.message),
            exception_message: format!(
                "Tracking ID:{}-TimeStamp:{}",
                self.tracking_id,
                legacy_time(self.timestamp)
            ),
        })
    }

    /// The current shape: `Message` is an [`ErrorDetail`] (with `"info":{}`) as a JSON string.
    pub fn to_json(&self) -> String {
        let mut detail = ErrorDetail::new(
            self.code,
            &*self.message,
            &*self.tracking_id,
            self.timestamp,
        );
        detail.info = Some(Map::new());
        envelope_json(&Envelope {
            message: detail.to_json(),
            exception_message: String::new(),
        })
    }

    /// Reads the code and message from a body of either shape (or from a bare [`ErrorDetail`]
    /// object).
    pub fn parse(body: &str) -> Result<(ErrorCode, String), ProtocolError> {
        let value: Value = serde_json::from_str(body).map_err(|e| ProtocolError::InvalidJson {
            input: INPUT,
            detail: e.to_string(),
        })?;
        if value.get("errorCode").is_some() {
            return from_detail(&ErrorDetail::deserialize(value).map_err(|e| invalid_json(&e))?);
        }
        let envelope = Envelope::deserialize(value).map_err(|e| invalid_json(&e))?;
        let message = envelope.message.trim_start();
        if message.starts_with('{') {
            return from_detail(&ErrorDetail::parse(message)?);
        }
        let (name, text) = message
            .strip_prefix("ErrorCode:")
            .and_then(|rest| rest.split_once(';'))
            .ok_or(ProtocolError::Malformed {
                input: INPUT,
                rule: "Message must be ErrorCode:<Name>;<text> or a JSON error object",
            })?;
        let code = ErrorCode::from_name(name).ok_or_else(|| ProtocolError::UnknownErrorCode {
            code: name.to_owned(),
        })?;
        Ok((code, text.to_owned()))
    }
}

fn from_detail(detail: &ErrorDetail) -> Result<(ErrorCode, String), ProtocolError> {
    let code = detail
        .code()
        .ok_or_else(|| ProtocolError::UnknownErrorCode {
            code: detail.error_code.to_string(),
        })?;
    Ok((code, detail.message.clone()))
}

fn invalid_json(error: &serde_json::Error) -> ProtocolError {
    ProtocolError::InvalidJson {
        input: INPUT,
        detail: error.to_string(),
    }
}

fn envelope_json(envelope: &Envelope) -> String {
    serde_json::to_string(envelope).unwrap_or_else(|_| unreachable!("two strings serialize"))
}

/// `MM/dd/yyyy HH:mm:ss`, the time format of the legacy `ExceptionMessage`.
fn legacy_time(timestamp: Timestamp) -> String {
    let text = timestamp.to_string();
    let part = |range: std::ops::Range<usize>| text.get(range).unwrap_or("00");
    format!(
        "{}/{}/{} {}",
        part(5..7),
        part(8..10),
        part(0..4),
        part(11..19)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn reads_the_real_legacy_body() {
        let body = r#"{"Message":"ErrorCode:DeviceAlreadyExists;Conflict","ExceptionMessage":"Tracking ID:e4cb7b8a3e054d5f9e5a5c5c1b9d3f3a-G:11-TimeStamp:07/16/2016 00:12:41"}"#;
        assert_eq!(
            ErrorBody::parse(body).unwrap(),
            (ErrorCode::DeviceAlreadyExists, "Conflict".to_owned())
        );
    }

    #[test]
    fn reads_the_real_current_body() {
        let body = r#"{"Message":"{\"errorCode\":504101,\"trackingId\":\"51b84b1b3d5a4e8b8d9b3b4f0b2f1c9e-G:10-TimeStamp:12/03/2019 15:00:09\",\"message\":\"Timed out waiting for the response from device.\",\"info\":{},\"timestampUtc\":\"2019-12-03T15:00:09.0082523Z\"}","ExceptionMessage":""}"#;
        assert_eq!(
            ErrorBody::parse(body).unwrap(),
            (
                ErrorCode::GatewayTimeout,
                "Timed out waiting for the response from device.".to_owned()
            )
        );
    }

    #[test]
    fn writes_the_current_shape_like_the_hub() {
        let body = ErrorBody::new(
            ErrorCode::GatewayTimeout,
            "Timed out waiting for the response from device.",
            "t",
            at("2019-12-03T15:00:09.0082523Z"),
        );
        assert_eq!(
            body.to_json(),
            r#"{"Message":"{\"errorCode\":504101,\"trackingId\":\"t\",\"message\":\"Timed out waiting for the response from device.\",\"info\":{},\"timestampUtc\":\"2019-12-03T15:00:09.0082523Z\"}","ExceptionMessage":""}"#
        );
    }

    #[test]
    fn node_can_split_the_legacy_message() {
        let body = ErrorBody::new(
            ErrorCode::PreconditionFailed,
            "etag mismatch",
            "t",
            Timestamp::MIN,
        );
        let envelope: Value = serde_json::from_str(&body.to_legacy_json()).unwrap();
        let message = envelope["Message"].as_str().unwrap();
        let first = message.split(';').next().unwrap();
        assert_eq!(first.split(':').nth(1), Some("PreconditionFailed"));
        assert!(
            envelope["ExceptionMessage"]
                .as_str()
                .unwrap()
                .ends_with("TimeStamp:01/01/0001 00:00:00")
        );
    }

    #[test]
    fn mqtt_twin_error_body() {
        let detail = ErrorDetail::parse(r#"{"errorCode":400004,"trackingId":"abc","message":"bad","timestampUtc":"2021-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(detail.code(), Some(ErrorCode::ArgumentInvalid));
        assert_eq!(
            ErrorBody::parse(&detail.to_json()).unwrap().0,
            ErrorCode::ArgumentInvalid
        );
        let unknown = ErrorDetail::parse(r#"{"errorCode":400999}"#).unwrap();
        assert_eq!(unknown.code(), None);
        assert!(ErrorDetail::parse("[]").is_err());
    }

    #[test]
    fn rejects_other_bodies() {
        for bad in [
            "",
            "not json",
            "{}",
            r#"{"Message":"something went wrong"}"#,
            r#"{"Message":"ErrorCode:NoSuchCode;x"}"#,
            r#"{"Message":"{\"errorCode\":123}"}"#,
            r#"{"Message":"{not json"}"#,
        ] {
            assert!(ErrorBody::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn both_shapes_round_trip(
            index in 0..ErrorCode::ALL.len(),
            message in "\\PC{0,40}",
            tracking_id in "[a-f0-9-]{0,32}",
            secs in 0i64..253_402_300_799,
        ) {
            let code = ErrorCode::ALL[index];
            let body = ErrorBody::new(code, message.clone(), tracking_id, Timestamp::from_unix_seconds(secs).unwrap());
            prop_assert_eq!(ErrorBody::parse(&body.to_legacy_json()).unwrap(), (code, message.clone()));
            prop_assert_eq!(ErrorBody::parse(&body.to_json()).unwrap(), (code, message));
        }

        #[test]
        fn detail_round_trip(number in 100_000u32..999_999, message in "\\PC{0,20}") {
            let detail = ErrorDetail { error_code: number, tracking_id: None, message, info: None, timestamp_utc: None };
            prop_assert_eq!(ErrorDetail::parse(&detail.to_json()).unwrap(), detail);
        }

        #[test]
        fn parse_never_panics(body in "\\PC{0,60}") {
            let _ = ErrorBody::parse(&body);
        }
    }
}
