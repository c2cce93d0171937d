//! A method request as a device receives it.

use serde_json::Value;

use crate::topic::{self, RequestTopic};
use crate::{Error, MethodName, RequestId, payload};

/// One call of a direct method, as the hub publishes it to a device: the method name, the
/// request id the response must echo and the JSON payload (`null` when the caller gave none).
///
/// ```
/// use iot_methods::MethodRequest;
/// use serde_json::json;
///
/// let request = MethodRequest::from_publish(
///     "$iothub/methods/POST/firmwareUpdate/?$rid=3",
///     br#"{"fwPackageUri":"https://example.com/fw.bin"}"#,
/// )
/// .unwrap();
/// assert_eq!(request.name().as_str(), "firmwareUpdate");
/// assert_eq!(request.payload()["fwPackageUri"], json!("https://example.com/fw.bin"));
///
/// let (topic, body) = request.to_publish().unwrap();
/// assert_eq!(topic, "$iothub/methods/POST/firmwareUpdate/?$rid=3");
/// assert_eq!(body, br#"{"fwPackageUri":"https://example.com/fw.bin"}"#);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MethodRequest {
    name: MethodName,
    request_id: RequestId,
    payload: Value,
}

impl MethodRequest {
    /// A request calling `name` with `payload`, identified by `request_id`.
    pub fn new(name: MethodName, request_id: RequestId, payload: Value) -> Self {
        Self {
            name,
            request_id,
            payload,
        }
    }

    /// Reads a request from an MQTT publish the device received.
    ///
    /// # Errors
    /// The topic errors of [`RequestTopic`]'s parser, and the payload errors of
    /// [`payload::from_bytes`].
    pub fn from_publish(topic: &str, body: &[u8]) -> Result<Self, Error> {
        let (name, request_id) = topic.parse::<RequestTopic>()?.into_parts();
        let payload = payload::from_bytes(body)?;
        Ok(Self::new(name, request_id, payload))
    }

    /// The topic and body of the MQTT publish that carries this request. The body is always
    /// JSON, `null` for no payload.
    ///
    /// # Errors
    /// [`Error::PayloadTooLarge`] when the payload encodes to more than
    /// [`payload::MAX_PAYLOAD_BYTES`].
    pub fn to_publish(&self) -> Result<(String, Vec<u8>), Error> {
        let body = payload::to_bytes(&self.payload)?;
        Ok((self.topic(), body))
    }

    /// The MQTT topic of this request.
    pub fn topic(&self) -> String {
        topic::request_topic(&self.name, &self.request_id)
    }

    /// The method being called.
    pub fn name(&self) -> &MethodName {
        &self.name
    }

    /// The request id the response must echo.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The JSON payload (`null` when none was given).
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// The method name, request id and payload, owned.
    pub fn into_parts(self) -> (MethodName, RequestId, Value) {
        (self.name, self.request_id, self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_payload_travels_as_null() {
        let request =
            MethodRequest::new("reboot".parse().unwrap(), "1".parse().unwrap(), Value::Null);
        let (topic, body) = request.to_publish().unwrap();
        assert_eq!(topic, "$iothub/methods/POST/reboot/?$rid=1");
        assert_eq!(body, b"null");
    }

    #[test]
    fn empty_body_reads_as_null() {
        let request =
            MethodRequest::from_publish("$iothub/methods/POST/reboot/?$rid=1", b"").unwrap();
        assert_eq!(request.payload(), &Value::Null);
        assert_eq!(request.request_id().as_str(), "1");
    }

    #[test]
    fn reports_topic_and_payload_errors() {
        assert!(matches!(
            MethodRequest::from_publish("$iothub/methods/POST/reboot?$rid=1", b"null"),
            Err(Error::MissingSlashBeforeQuery { .. })
        ));
        assert!(matches!(
            MethodRequest::from_publish("$iothub/methods/POST/reboot/?$rid=1", b"{"),
            Err(Error::PayloadNotJson { .. })
        ));
    }

    #[test]
    fn oversized_payload_is_not_published() {
        let big = json!("x".repeat(payload::MAX_PAYLOAD_BYTES));
        let request = MethodRequest::new("m".parse().unwrap(), "1".parse().unwrap(), big);
        assert!(matches!(
            request.to_publish(),
            Err(Error::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn publish_round_trip() {
        let request = MethodRequest::new(
            "set temp".parse().unwrap(),
            "a&b".parse().unwrap(),
            json!({"temperature": 66, "unit": "F"}),
        );
        let (topic, body) = request.to_publish().unwrap();
        assert_eq!(MethodRequest::from_publish(&topic, &body).unwrap(), request);
    }
}
