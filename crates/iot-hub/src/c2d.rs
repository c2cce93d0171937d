//! Cloud-to-device messages: the queue per device, delivery at QoS 1, completion by PUBACK.
//!
//! A message is queued (and stored) until the device acknowledges it with PUBACK, or until it
//! expires. It is delivered on `devices/{id}/messages/devicebound/{bag}` while the device is
//! connected and subscribed: when it is queued, when the device subscribes, and when a device
//! whose stored session holds the subscription reconnects. A message delivered on a connection
//! that dropped before its PUBACK is delivered again on the next one. A device subscribed at
//! QoS 0 gets messages at QoS 0, which completes them when they are sent.

use std::time::Duration;

use bytes::Bytes;
use iot_protocol::{DeviceId, MessageProperties, MessageTopic};
use iot_twin::Timestamp;

use crate::HubError;
use crate::core::{Core, DeviceEntry, DeviceState, now};
use crate::session::{Feed, Outbound};
use crate::store::{Op, StoredMessage};

/// The largest cloud-to-device message IoT Hub accepts: 64 KB of body.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// A message for a device.
///
/// ```
/// use iot_hub::CloudToDeviceMessage;
/// use iot_protocol::MessageProperties;
/// use std::time::Duration;
///
/// let message = CloudToDeviceMessage::new(&b"{\"led\":\"on\"}"[..])
///     .with_properties(MessageProperties::new().with_app_property("kind", "command"))
///     .with_time_to_live(Duration::from_secs(60));
/// assert_eq!(message.body().as_ref(), b"{\"led\":\"on\"}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudToDeviceMessage {
    body: Bytes,
    properties: MessageProperties,
    time_to_live: Option<Duration>,
}

impl CloudToDeviceMessage {
    /// A message with this body and no properties.
    pub fn new(body: impl Into<Bytes>) -> Self {
        Self {
            body: body.into(),
            properties: MessageProperties::new(),
            time_to_live: None,
        }
    }

    /// The same message with these properties (`$.mid`, `$.cid`, application properties, ...).
    /// An absolute expiry in `$.exp` takes precedence over a time to live.
    pub fn with_properties(mut self, properties: MessageProperties) -> Self {
        self.properties = properties;
        self
    }

    /// The same message, dropped if not delivered within `ttl` (the hub's default otherwise).
    pub fn with_time_to_live(mut self, ttl: Duration) -> Self {
        self.time_to_live = Some(ttl);
        self
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The properties.
    pub fn properties(&self) -> &MessageProperties {
        &self.properties
    }
}

/// A message in a device's queue.
#[derive(Debug, Clone)]
pub(crate) struct QueuedMessage {
    pub(crate) seq: u64,
    body: Bytes,
    properties: String,
    topic: String,
    enqueued: Timestamp,
    expiry: Timestamp,
    /// The connection it was last sent on.
    sent_on: Option<u64>,
}

impl QueuedMessage {
    fn new(
        device_id: &DeviceId,
        seq: u64,
        message: CloudToDeviceMessage,
        now: Timestamp,
        default_ttl: Duration,
    ) -> Self {
        let mut properties = message.properties;
        if properties.to.is_none() {
            properties.to = Some(format!("/devices/{device_id}/messages/devicebound"));
        }
        let ttl = message.time_to_live.unwrap_or(default_ttl);
        let expiry = properties
            .expiry
            .unwrap_or_else(|| now.checked_add(ttl).unwrap_or(Timestamp::MAX));
        let topic = MessageTopic::CloudToDevice {
            device_id: device_id.clone(),
            properties,
        };
        Self {
            seq,
            body: message.body,
            properties: topic.properties().to_string(),
            topic: topic.to_string(),
            enqueued: now,
            expiry,
            sent_on: None,
        }
    }

    /// Rebuilds a message read from the store.
    pub(crate) fn from_stored(
        device_id: &DeviceId,
        stored: StoredMessage,
    ) -> Result<Self, iot_protocol::ProtocolError> {
        let properties = MessageProperties::parse(&stored.properties)?;
        let topic = MessageTopic::CloudToDevice {
            device_id: device_id.clone(),
            properties,
        };
        Ok(Self {
            seq: stored.seq,
            body: stored.body,
            properties: stored.properties,
            topic: topic.to_string(),
            enqueued: from_ms(stored.enqueued_ms),
            expiry: from_ms(stored.expiry_ms),
            sent_on: None,
        })
    }

    fn to_stored(&self, device_id: &DeviceId) -> StoredMessage {
        StoredMessage {
            device_id: device_id.as_str().to_owned(),
            seq: self.seq,
            body: self.body.clone(),
            properties: self.properties.clone(),
            enqueued_ms: to_ms(self.enqueued),
            expiry_ms: to_ms(self.expiry),
        }
    }

    fn expired(&self, now: Timestamp) -> bool {
        self.expiry <= now
    }
}

fn to_ms(time: Timestamp) -> i64 {
    i64::try_from(time.unix_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(ms: i64) -> Timestamp {
    Timestamp::from_unix_nanos(i128::from(ms) * 1_000_000).unwrap_or(Timestamp::MAX)
}

impl Core {
    /// Queues `message` for device `id` and delivers it at once if the device is listening.
    pub(crate) async fn send_cloud_to_device(
        &self,
        id: &DeviceId,
        message: CloudToDeviceMessage,
    ) -> Result<(), HubError> {
        if message.body.len() > MAX_MESSAGE_BYTES {
            return Err(HubError::MessageTooLarge {
                size: message.body.len(),
                limit: MAX_MESSAGE_BYTES,
            });
        }
        let entry = self.entry(id)?;
        let _write = entry.write.lock().await;
        let now = now();
        let (mut ops, seq) = {
            let state = entry.read();
            if state.deleted {
                return Err(HubError::DeviceNotFound {
                    device_id: id.clone(),
                });
            }
            (expired_ops(id, &state, now), state.next_seq)
        };
        let live = entry
            .read()
            .messages
            .iter()
            .filter(|m| !m.expired(now))
            .count();
        if live >= self.settings.max_queued_messages {
            return Err(HubError::QueueFull {
                device_id: id.clone(),
                limit: self.settings.max_queued_messages,
            });
        }
        let queued = QueuedMessage::new(id, seq, message, now, self.settings.message_ttl);
        ops.push(Op::PutMessage(queued.to_stored(id)));
        self.store.commit(ops).await?;
        let mut state = entry.lock();
        state.messages.retain(|m| !m.expired(now));
        state.messages.push_back(queued);
        state.next_seq = seq + 1;
        deliver(&mut state);
        Ok(())
    }

    /// Delivers every queued message not yet sent on the device's current connection, after
    /// dropping expired ones. The caller holds the device's write lock.
    pub(crate) async fn deliver_queued(
        &self,
        entry: &DeviceEntry,
        id: &DeviceId,
    ) -> Result<(), HubError> {
        let now = now();
        let ops = expired_ops(id, &entry.read(), now);
        self.store.commit(ops).await?;
        let mut state = entry.lock();
        state.messages.retain(|m| !m.expired(now));
        deliver(&mut state);
        Ok(())
    }

    /// Completes message `seq` acknowledged on connection `connection`.
    pub(crate) async fn complete_message(
        &self,
        entry: &DeviceEntry,
        id: &DeviceId,
        seq: u64,
    ) -> Result<(), HubError> {
        let _write = entry.write.lock().await;
        if !entry.read().messages.iter().any(|m| m.seq == seq) {
            return Ok(());
        }
        self.store
            .commit(vec![Op::DeleteMessage {
                device_id: id.as_str().to_owned(),
                seq,
            }])
            .await?;
        entry.lock().messages.retain(|m| m.seq != seq);
        Ok(())
    }
}

/// Deletes of the messages that have expired by `now`.
fn expired_ops(id: &DeviceId, state: &DeviceState, now: Timestamp) -> Vec<Op> {
    state
        .messages
        .iter()
        .filter(|m| m.expired(now))
        .map(|m| Op::DeleteMessage {
            device_id: id.as_str().to_owned(),
            seq: m.seq,
        })
        .collect()
}

/// Sends the messages not yet sent on the live connection, if the device is subscribed.
fn deliver(state: &mut DeviceState) {
    let Some(qos) = state.session.subscriptions.qos(Feed::CloudToDevice) else {
        return;
    };
    let Some(connection) = state.session.connection.clone() else {
        return;
    };
    for message in state
        .messages
        .iter_mut()
        .filter(|m| m.sent_on != Some(connection.id))
    {
        let sent = connection.send(Outbound {
            topic: message.topic.clone(),
            payload: message.body.clone(),
            message: Some((message.seq, qos)),
        });
        if !sent {
            return;
        }
        message.sent_on = Some(connection.id);
    }
}
