//! What the hub sends the device: twin answers and desired-property notifications, method
//! calls, cloud-to-device messages; and the topics the device publishes telemetry on.

use bytes::Bytes;
use iot_methods::topic::RequestTopic;
use iot_methods::{HANDLER_FAILURE_STATUS, MethodRequest, MethodResponse, RequestId, payload};
use iot_protocol::{MessageTopic, ProtocolError};
use iot_twin::HubTopic;
use serde_json::json;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::{Id, JoinError};
use tokio::time::Instant;

use super::{Driver, HandlerResult, clock, link_stopped};
use crate::{CloudToDeviceMessage, DeviceOptions, Error, Message};

/// Characters MQTT reserves as wildcards, which rumqttc refuses in topics and in literal
/// filter segments. IoT Hub allows them in device ids.
const WILDCARDS: [char; 2] = ['+', '#'];

/// The cloud-to-device filter of a device, or `None`: modules receive no such messages, and a
/// device id with an MQTT wildcard cannot be subscribed to literally.
pub(super) fn cloud_to_device_filter(options: &DeviceOptions) -> Option<String> {
    let identity = options.identity();
    if identity.module_id().is_some() {
        return None;
    }
    let device = identity.device_id();
    if device.as_str().contains(WILDCARDS) {
        tracing::warn!(%device, "the device id holds an MQTT wildcard: no cloud-to-device messages");
        return None;
    }
    Some(MessageTopic::cloud_to_device_filter(device))
}

/// The topic `message` is published on.
pub(super) fn telemetry_topic(options: &DeviceOptions, message: &Message) -> Result<String, Error> {
    if options.identity().to_string().contains(WILDCARDS) {
        return Err(Error::InvalidMessage {
            reason: "the device or module id holds '+' or '#', which the MQTT transport refuses \
                     in a topic"
                .into(),
        });
    }
    let topic = MessageTopic::Telemetry {
        identity: options.identity().clone(),
        properties: message.properties().clone(),
    };
    Ok(topic.to_string())
}

impl Driver {
    /// A message from the hub; `ack` is the packet id to acknowledge, for QoS 1.
    pub(super) fn on_message(
        &mut self,
        topic: &str,
        payload: Bytes,
        ack: Option<u16>,
        now: Instant,
    ) {
        let acknowledge = if topic.starts_with("$iothub/twin/") {
            self.on_twin_message(topic, &payload, now);
            true
        } else if topic.starts_with("$iothub/methods/POST/") {
            self.on_method_call(topic, &payload);
            true
        } else {
            self.on_cloud_to_device(topic, payload)
        };
        let Some(pkid) = ack.filter(|_| acknowledge) else {
            return;
        };
        let failed = self
            .link
            .as_mut()
            .is_some_and(|link| link.acknowledge(pkid).is_err());
        if failed {
            self.connection_lost(link_stopped(), now);
        }
    }

    fn on_twin_message(&mut self, topic: &str, body: &[u8], now: Instant) {
        match topic.parse::<HubTopic>() {
            Ok(HubTopic::DesiredPatch { version }) => self.twin.on_desired(version, body),
            Ok(HubTopic::Response {
                status,
                request_id,
                version,
            }) => {
                let mut clock = clock(&self.options, &mut self.timers, now);
                self.twin
                    .on_response(status, &request_id, version, body, &mut clock);
            }
            Err(error) => tracing::warn!(%error, "ignoring an unreadable twin message"),
        }
    }

    /// Starts the handler of a method call on a task of its own; the answer is sent when it
    /// finishes (see [`Driver::on_handler_done`]).
    fn on_method_call(&mut self, topic: &str, body: &[u8]) {
        let (name, request_id) = match topic.parse::<RequestTopic>() {
            Ok(topic) => topic.into_parts(),
            Err(error) => {
                tracing::warn!(%error, "ignoring a method call with an unreadable topic");
                return;
            }
        };
        let value = match payload::from_bytes(body) {
            Ok(value) => value,
            Err(error) => {
                let response = MethodResponse::new(
                    400,
                    json!({ "methodName": name.as_str(), "message": error.to_string() }),
                );
                self.respond(&request_id, &response);
                return;
            }
        };
        tracing::debug!(method = %name, request = %request_id, "method call");
        let router = self.methods.router();
        let request = MethodRequest::new(name, request_id.clone(), value);
        let task = self.handlers.spawn(async move {
            let rid = request.request_id().clone();
            (rid, router.dispatch(request).await)
        });
        self.handler_requests.insert(task.id(), request_id);
    }

    /// A method handler's task finished: answer the call, with a 500 if the task failed.
    pub(super) fn on_handler_done(&mut self, done: Result<(Id, HandlerResult), JoinError>) {
        match done {
            Ok((task, (request_id, response))) => {
                self.handler_requests.remove(&task);
                self.respond(&request_id, &response);
            }
            Err(error) => {
                let Some(request_id) = self.handler_requests.remove(&error.id()) else {
                    return;
                };
                let response = MethodResponse::new(
                    HANDLER_FAILURE_STATUS,
                    json!({ "message": format!("the handler task failed: {error}") }),
                );
                self.respond(&request_id, &response);
            }
        }
    }

    fn respond(&mut self, request_id: &RequestId, response: &MethodResponse) {
        let fallback = || {
            MethodResponse::new(
                HANDLER_FAILURE_STATUS,
                json!({ "message": "the response could not be encoded" }),
            )
        };
        let publish = response
            .to_publish(request_id)
            .or_else(|_| fallback().to_publish(request_id));
        match publish {
            Ok((topic, body)) => self.outgoing.method_response(topic, body.into()),
            Err(error) => tracing::error!(%error, "a method response could not be encoded"),
        }
    }

    /// A cloud-to-device message: queued for the application. Returns whether to acknowledge
    /// it, which completes it on the hub: not when the queue is full, so that the hub delivers
    /// it again after a reconnect.
    fn on_cloud_to_device(&mut self, topic: &str, body: Bytes) -> bool {
        let properties = match MessageTopic::parse(topic) {
            Ok(MessageTopic::CloudToDevice {
                device_id,
                properties,
            }) if &device_id == self.options.identity().device_id() => properties,
            Ok(_) | Err(ProtocolError::Malformed { .. }) => {
                tracing::warn!(topic, "ignoring a message on an unexpected topic");
                return true;
            }
            Err(error) => {
                tracing::warn!(%error, "ignoring a cloud-to-device message with unreadable properties");
                return true;
            }
        };
        match self
            .outputs
            .messages
            .try_send(CloudToDeviceMessage::new(body, properties))
        {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::warn!(
                    "the cloud-to-device queue is full; the hub will deliver the message again"
                );
                false
            }
            Err(TrySendError::Closed(_)) => true,
        }
    }
}
