//! A method response as a device sends it.

use serde_json::Value;

use crate::topic::{self, ResponseTopic};
use crate::{Error, MethodResult, RequestId, payload};

/// A device's answer to a method request: a status of its choosing and a JSON payload.
///
/// The status is any 32-bit integer; by convention 200 means success, and the back end receives
/// it unchanged in [`MethodResult`].
///
/// ```
/// use iot_methods::{MethodResponse, RequestId};
/// use serde_json::json;
///
/// let rid: RequestId = "3".parse().unwrap();
/// let response = MethodResponse::new(200, json!("Reboot started"));
/// let (topic, body) = response.to_publish(&rid).unwrap();
/// assert_eq!(topic, "$iothub/methods/res/200/?$rid=3");
/// assert_eq!(body, br#""Reboot started""#);
///
/// let (read_rid, read) = MethodResponse::from_publish(&topic, &body).unwrap();
/// assert_eq!((read_rid, read), (rid, response));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MethodResponse {
    status: i32,
    payload: Value,
}

impl MethodResponse {
    /// A response with `status` and `payload` (`Value::Null` for none).
    pub fn new(status: i32, payload: Value) -> Self {
        Self { status, payload }
    }

    /// A 200 response with `payload`.
    pub fn ok(payload: Value) -> Self {
        Self::new(200, payload)
    }

    /// Reads a response from an MQTT publish a device sent. An empty body reads as `null`.
    ///
    /// # Errors
    /// The topic errors of [`ResponseTopic`]'s parser, and the payload errors of
    /// [`payload::from_bytes`].
    pub fn from_publish(topic: &str, body: &[u8]) -> Result<(RequestId, Self), Error> {
        let (status, request_id) = topic.parse::<ResponseTopic>()?.into_parts();
        let payload = payload::from_bytes(body)?;
        Ok((request_id, Self::new(status, payload)))
    }

    /// The topic and body of the MQTT publish answering `request_id`. The body is always JSON,
    /// `null` for no payload.
    ///
    /// # Errors
    /// [`Error::PayloadTooLarge`] when the payload encodes to more than
    /// [`payload::MAX_PAYLOAD_BYTES`].
    pub fn to_publish(&self, request_id: &RequestId) -> Result<(String, Vec<u8>), Error> {
        let body = payload::to_bytes(&self.payload)?;
        Ok((topic::response_topic(self.status, request_id), body))
    }

    /// The status the device chose.
    pub fn status(&self) -> i32 {
        self.status
    }

    /// The JSON payload (`null` when none).
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// The JSON payload, owned.
    pub fn into_payload(self) -> Value {
        self.payload
    }
}

impl From<MethodResponse> for MethodResult {
    fn from(response: MethodResponse) -> Self {
        Self::new(response.status, response.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_or_null_body_is_accepted_as_null() {
        for body in [&b""[..], b"null", b" "] {
            let (rid, response) =
                MethodResponse::from_publish("$iothub/methods/res/200/?$rid=1", body).unwrap();
            assert_eq!(rid.as_str(), "1");
            assert_eq!(response, MethodResponse::ok(Value::Null));
        }
    }

    #[test]
    fn null_payload_is_written_as_null() {
        let (_, body) = MethodResponse::new(404, Value::Null)
            .to_publish(&"1".parse().unwrap())
            .unwrap();
        assert_eq!(body, b"null");
    }

    #[test]
    fn reports_topic_and_payload_errors() {
        assert!(matches!(
            MethodResponse::from_publish("$iothub/methods/res/x/?$rid=1", b"null"),
            Err(Error::InvalidStatus { .. })
        ));
        assert!(matches!(
            MethodResponse::from_publish("$iothub/methods/res/200/?$rid=1", b"Unknown method"),
            Err(Error::PayloadNotJson { .. })
        ));
        let big = json!("x".repeat(payload::MAX_PAYLOAD_BYTES));
        assert!(matches!(
            MethodResponse::ok(big).to_publish(&"1".parse().unwrap()),
            Err(Error::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn converts_to_the_service_result() {
        let result = MethodResult::from(MethodResponse::new(500, json!({"e": 1})));
        assert_eq!(result, MethodResult::new(500, json!({"e": 1})));
    }
}
