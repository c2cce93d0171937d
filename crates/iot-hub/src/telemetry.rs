//! Device-to-cloud messages and the stream that fans them out to the back end.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use iot_protocol::{Identity, MessageProperties};
use iot_twin::Timestamp;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::core::Core;

/// The largest telemetry message IoT Hub accepts: 256 KB of body.
pub const MAX_TELEMETRY_BYTES: usize = 256 * 1024;

/// One device-to-cloud message: who sent it, its properties and body. Cheap to clone (the body
/// and properties are shared).
#[derive(Debug, Clone)]
pub struct TelemetryMessage {
    identity: Arc<Identity>,
    properties: Arc<MessageProperties>,
    body: Bytes,
    enqueued: Timestamp,
}

impl TelemetryMessage {
    pub(crate) fn new(
        identity: Arc<Identity>,
        properties: MessageProperties,
        body: Bytes,
        enqueued: Timestamp,
    ) -> Self {
        Self {
            identity,
            properties: Arc::new(properties),
            body,
            enqueued,
        }
    }

    /// The sending device (or module).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The message's system and application properties. The hub adds `mqtt-retain: true` when
    /// the device set RETAIN, and `iothub-MessageType: Will` to a Will message.
    pub fn properties(&self) -> &MessageProperties {
        &self.properties
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// When the hub received it.
    pub fn enqueued_time(&self) -> Timestamp {
        self.enqueued
    }
}

/// The subscriber fell behind and lost `missed` messages; the stream goes on with newer ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the telemetry subscriber fell behind and lost {missed} messages")]
pub struct TelemetryLagged {
    /// How many messages were lost.
    pub missed: u64,
}

/// The stream returned by [`crate::Hub::telemetry`]: every message received after it was
/// created, in order per device.
///
/// Each subscriber has a bounded buffer. A subscriber that falls behind loses the oldest
/// messages and receives one `Err(TelemetryLagged)` saying how many; devices are never slowed
/// down by a slow subscriber. The stream ends when the hub shuts down.
#[derive(Debug)]
pub struct TelemetryStream {
    inner: BroadcastStream<TelemetryMessage>,
}

impl TelemetryStream {
    pub(crate) fn new(receiver: tokio::sync::broadcast::Receiver<TelemetryMessage>) -> Self {
        Self {
            inner: BroadcastStream::new(receiver),
        }
    }
}

impl Stream for TelemetryStream {
    type Item = Result<TelemetryMessage, TelemetryLagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx).map(|item| {
            item.map(|result| {
                result
                    .map_err(|BroadcastStreamRecvError::Lagged(missed)| TelemetryLagged { missed })
            })
        })
    }
}

impl Core {
    /// Hands a message to every telemetry subscriber (none is fine).
    pub(crate) fn publish_telemetry(&self, message: TelemetryMessage) {
        let sender = self
            .telemetry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(sender) = sender.as_ref() {
            // No subscriber is not an error: telemetry nobody listens to is dropped.
            let _ = sender.send(message);
        }
    }

    /// A new subscription; a stream that ends at once after shutdown.
    pub(crate) fn subscribe_telemetry(&self) -> TelemetryStream {
        let sender = self
            .telemetry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let receiver = match sender.as_ref() {
            Some(sender) => sender.subscribe(),
            None => tokio::sync::broadcast::channel(1).1,
        };
        TelemetryStream::new(receiver)
    }

    /// Ends every telemetry stream.
    pub(crate) fn close_telemetry(&self) {
        self.telemetry
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}
