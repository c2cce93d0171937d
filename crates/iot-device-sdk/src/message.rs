//! Messages: [`Message`] for telemetry the device sends, built with [`MessageBuilder`], and
//! [`CloudToDeviceMessage`] for what the hub sends the device.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use iot_protocol::{AppProperty, MessageProperties};
use iot_twin::Timestamp;
use serde::Serialize;
use tokio::sync::{Mutex, mpsc};

use crate::Error;

/// The largest telemetry body IoT Hub accepts: 256 KB.
pub const MAX_TELEMETRY_BYTES: usize = 256 * 1024;

/// The longest encoded property bag accepted. IoT Hub documents no limit of its own; the bag
/// travels in the MQTT topic, which MQTT caps at 65,535 bytes, and the rest leaves room for
/// the device and module ids in the same topic.
pub const MAX_PROPERTY_BAG_BYTES: usize = 65_000;

/// A telemetry (device-to-cloud) message: a body and its properties.
///
/// ```
/// use iot_device_sdk::Message;
///
/// let message = Message::builder(br#"{"temperature":21.5}"#.to_vec())
///     .content_type("application/json")
///     .content_encoding("utf-8")
///     .message_id("m-1")
///     .property("alert", "false")
///     .build()?;
/// assert_eq!(message.properties().content_type.as_deref(), Some("application/json"));
/// assert_eq!(message.properties().app_property("alert"), Some(Some("false")));
///
/// let json = Message::json(&serde_json::json!({"temperature": 21.5}))?;
/// assert_eq!(json.body(), br#"{"temperature":21.5}"#);
/// # Ok::<(), iot_device_sdk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    body: Bytes,
    properties: MessageProperties,
}

impl Message {
    /// Starts a message with `body`.
    pub fn builder(body: impl Into<Bytes>) -> MessageBuilder {
        MessageBuilder {
            body: body.into(),
            properties: MessageProperties::new(),
        }
    }

    /// A message whose body is `value` as JSON, with content type `application/json` and
    /// content encoding `utf-8` (what IoT Hub routing needs to query the body).
    ///
    /// # Errors
    /// [`Error::Serde`] when `value` cannot be serialized, and the errors of
    /// [`MessageBuilder::build`].
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value).map_err(|e| Error::serde("message body", &e))?;
        Self::builder(body)
            .content_type("application/json")
            .content_encoding("utf-8")
            .build()
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The system and application properties.
    pub fn properties(&self) -> &MessageProperties {
        &self.properties
    }

    pub(crate) fn into_parts(self) -> (Bytes, MessageProperties) {
        (self.body, self.properties)
    }
}

/// Configures a [`Message`]; [`MessageBuilder::build`] checks it once.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build`"]
pub struct MessageBuilder {
    body: Bytes,
    properties: MessageProperties,
}

impl MessageBuilder {
    /// `$.ct`, the content type, e.g. `application/json`.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.properties.content_type = Some(content_type.into());
        self
    }

    /// `$.ce`, the content encoding, e.g. `utf-8`.
    pub fn content_encoding(mut self, encoding: impl Into<String>) -> Self {
        self.properties.content_encoding = Some(encoding.into());
        self
    }

    /// `$.mid`, the message id.
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.properties.message_id = Some(id.into());
        self
    }

    /// `$.cid`, the correlation id.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.properties.correlation_id = Some(id.into());
        self
    }

    /// `$.uid`, the user id.
    pub fn user_id(mut self, id: impl Into<String>) -> Self {
        self.properties.user_id = Some(id.into());
        self
    }

    /// `$.exp`, when the message expires.
    pub fn expiry(mut self, at: Timestamp) -> Self {
        self.properties.expiry = Some(at);
        self
    }

    /// `$.sub`, the IoT Plug and Play component the message belongs to.
    pub fn component(mut self, component: impl Into<String>) -> Self {
        self.properties.component = Some(component.into());
        self
    }

    /// Adds an application property. Properties keep their order; a name may repeat.
    pub fn property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.application.push(AppProperty {
            name: name.into(),
            value: Some(value.into()),
        });
        self
    }

    /// The message.
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] when the body exceeds [`MAX_TELEMETRY_BYTES`], an application
    /// property name is empty or reserved (names starting with `$.` or `iothub-` are IoT
    /// Hub's), or the encoded properties exceed [`MAX_PROPERTY_BAG_BYTES`].
    pub fn build(self) -> Result<Message, Error> {
        if self.body.len() > MAX_TELEMETRY_BYTES {
            return Err(invalid(format!(
                "the body has {} bytes, more than the {MAX_TELEMETRY_BYTES} IoT Hub accepts",
                self.body.len()
            )));
        }
        for property in &self.properties.application {
            check_name(&property.name)?;
        }
        let bag = self.properties.to_string().len();
        if bag > MAX_PROPERTY_BAG_BYTES {
            return Err(invalid(format!(
                "the properties take {bag} bytes encoded, more than {MAX_PROPERTY_BAG_BYTES}"
            )));
        }
        Ok(Message {
            body: self.body,
            properties: self.properties,
        })
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(invalid("an application property name is empty".into()));
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("$.") || lower.starts_with("iothub-") {
        return Err(invalid(format!(
            "the application property name {name:?} is reserved: names starting with \"$.\" \
             or \"iothub-\" are IoT Hub's; use the builder's methods for system properties"
        )));
    }
    Ok(())
}

fn invalid(reason: String) -> Error {
    Error::InvalidMessage { reason }
}

/// A cloud-to-device message the hub delivered: a body and its properties.
///
/// The hub completes the message when the client acknowledges it, which happens when the
/// message enters the client's queue for the application (see
/// [`crate::DeviceClient::cloud_to_device_messages`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudToDeviceMessage {
    body: Bytes,
    properties: MessageProperties,
}

impl CloudToDeviceMessage {
    pub(crate) fn new(body: Bytes, properties: MessageProperties) -> Self {
        Self { body, properties }
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, owned.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// The system properties (`$.mid`, `$.cid`, `$.ct`, ...) and application properties.
    pub fn properties(&self) -> &MessageProperties {
        &self.properties
    }

    /// `$.mid`, the message id.
    pub fn message_id(&self) -> Option<&str> {
        self.properties.message_id.as_deref()
    }

    /// `$.cid`, the correlation id.
    pub fn correlation_id(&self) -> Option<&str> {
        self.properties.correlation_id.as_deref()
    }

    /// The value of the first application property named `name`, if it has one.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.app_property(name).flatten()
    }
}

/// The stream returned by [`crate::DeviceClient::cloud_to_device_messages`].
///
/// Every stream of a client draws from one queue, so each message goes to exactly one of
/// them. A message enters the queue when it arrives, and the client acknowledges it then,
/// which completes it on the hub; when the queue is full (see
/// [`crate::DeviceOptionsBuilder::message_queue`]) the client leaves the message
/// unacknowledged and the hub delivers it again after the next reconnect. Messages delivered
/// again after a reconnect may repeat; their `$.mid` tells. The stream ends when the client
/// stops.
pub struct CloudToDeviceMessages {
    inner: Pin<Box<dyn Stream<Item = CloudToDeviceMessage> + Send>>,
}

impl CloudToDeviceMessages {
    pub(crate) fn new(queue: Arc<Mutex<mpsc::Receiver<CloudToDeviceMessage>>>) -> Self {
        let stream = futures_util::stream::unfold(queue, |queue| async move {
            let message = queue.lock().await.recv().await?;
            Some((message, queue))
        });
        Self {
            inner: Box::pin(stream),
        }
    }
}

impl Stream for CloudToDeviceMessages {
    type Item = CloudToDeviceMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for CloudToDeviceMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudToDeviceMessages")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_system_and_application_properties() {
        let message = Message::builder(&b"x"[..])
            .content_type("text/plain")
            .correlation_id("c-1")
            .user_id("u")
            .component("thermostat1")
            .expiry("2030-01-01T00:00:00Z".parse().unwrap())
            .property("a b", "1/2")
            .property("a b", "again")
            .build()
            .unwrap();
        assert_eq!(
            message.properties().to_string(),
            "%24.cid=c-1&%24.uid=u&%24.ct=text%2Fplain&%24.sub=thermostat1\
             &%24.exp=2030-01-01T00%3A00%3A00.0000000Z&a%20b=1%2F2&a%20b=again"
        );
        let (body, properties) = message.into_parts();
        assert_eq!(&body[..], b"x");
        assert_eq!(properties.application.len(), 2);
    }

    #[test]
    fn refuses_large_bodies_and_reserved_or_empty_names() {
        assert!(
            Message::builder(vec![0; MAX_TELEMETRY_BYTES])
                .build()
                .is_ok()
        );
        let error = Message::builder(vec![0; MAX_TELEMETRY_BYTES + 1])
            .build()
            .unwrap_err();
        assert!(error.to_string().contains("262145 bytes"), "{error}");
        for name in ["", "$.mid", "IoTHub-ack", "iothub-connection-device-id"] {
            let result = Message::builder(&b""[..]).property(name, "v").build();
            assert!(
                matches!(result, Err(Error::InvalidMessage { .. })),
                "{name}: {result:?}"
            );
        }
        let long = Message::builder(&b""[..])
            .property("k", "v".repeat(MAX_PROPERTY_BAG_BYTES))
            .build();
        assert!(matches!(long, Err(Error::InvalidMessage { .. })));
    }

    #[test]
    fn json_messages_carry_their_content_type() {
        let message = Message::json(&[1, 2]).unwrap();
        assert_eq!(message.body(), b"[1,2]");
        assert_eq!(
            message.properties().content_encoding.as_deref(),
            Some("utf-8")
        );
    }

    #[test]
    fn cloud_to_device_accessors() {
        let properties = MessageProperties::parse("%24.mid=m&%24.cid=c&kind=cmd&flag").unwrap();
        let message = CloudToDeviceMessage::new(Bytes::from_static(b"on"), properties);
        assert_eq!(message.message_id(), Some("m"));
        assert_eq!(message.correlation_id(), Some("c"));
        assert_eq!(message.property("kind"), Some("cmd"));
        assert_eq!(message.property("flag"), None);
        assert_eq!(message.body(), b"on");
        assert_eq!(&message.into_body()[..], b"on");
    }
}
