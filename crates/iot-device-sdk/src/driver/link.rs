//! [`Link`]: one MQTT connection, made with rumqttc.
//!
//! Each connection gets a fresh rumqttc event loop, polled by a task of its own (its `poll` is
//! not meant to be cancelled, so it never sits in the driver's `select!`), which forwards the
//! events through a bounded channel. The driver hands requests to the event loop with the
//! non-blocking `try_*` calls and counts what it handed over, so the event loop's request
//! channel never fills and the driver never waits on it. When the connection ends the event
//! loop is dropped with everything it held: the session state that must survive (pending twin
//! requests, unacknowledged telemetry) lives in the driver, which sends it again on the next
//! connection.

use std::collections::VecDeque;

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{ConnectReturnCode, Publish, SubscribeFilter, SubscribeReasonCode};
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Outgoing, Packet, StateError,
    TlsConfiguration, Transport,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::correlate::{Correlator, OutgoingEvent, PublishTag, Submitted, Written};
use crate::{DeviceOptions, DisconnectReason};

/// Capacity of the event loop's request channel.
const REQUEST_CHANNEL: usize = 128;
/// Requests the driver hands over before the event loop has taken the earlier ones.
const MAX_QUEUED: usize = 96;
/// Room kept in the request channel for SUBSCRIBE and DISCONNECT.
const RESERVED: usize = 4;
/// Publishes awaiting PUBACK; below the event loop's own in-flight limit, so that it never
/// stops taking requests (acknowledgements of received messages among them).
const MAX_UNACKNOWLEDGED: usize = 64;
/// The event loop's in-flight limit (packet ids 1 to 100).
const EVENT_LOOP_IN_FLIGHT: u16 = 100;
/// Events buffered between the connection task and the driver.
const EVENT_CHANNEL: usize = 64;
/// The largest packet either way: a 256 KB telemetry body plus its topic.
const MAX_PACKET_BYTES: usize = 256 * 1024 + 16 * 1024;

/// What a connection reports to the driver.
#[derive(Debug)]
pub(super) enum LinkEvent {
    /// CONNACK accepted the connection.
    Connected,
    /// The SUBSCRIBE was answered; `refused` lists the filters the hub refused.
    Subscribed { pkid: u16, refused: Vec<usize> },
    /// The SUBSCRIBE went out with this packet id.
    SubscribeSent(u16),
    /// A message from the hub. `ack` is the packet id to acknowledge for a QoS 1 message.
    Message {
        topic: String,
        payload: Bytes,
        ack: Option<u16>,
    },
    /// The hub acknowledged one of our publishes.
    Acknowledged(PublishTag),
    /// The DISCONNECT went out.
    DisconnectSent,
    /// The connection is over.
    Lost(DisconnectReason),
}

/// A request the event loop no longer takes: the connection task has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LinkDown;

/// Where the twin session hands its requests: the connection, or a stand-in in tests.
pub(super) trait Publisher {
    /// Whether another publish may be handed over now.
    fn can_publish(&self) -> bool;

    /// Hands over a QoS 1 publish. Check [`Publisher::can_publish`] first.
    fn publish(&mut self, topic: String, payload: Vec<u8>, tag: PublishTag)
    -> Result<(), LinkDown>;
}

/// One MQTT connection and its correlation state.
#[derive(Debug)]
pub(super) struct Link {
    client: AsyncClient,
    events: mpsc::Receiver<Result<Event, ConnectionError>>,
    task: JoinHandle<()>,
    correlator: Correlator,
    /// Acknowledgements waiting for room in the request channel.
    acks: VecDeque<u16>,
}

impl Link {
    /// Starts connecting with `password`.
    pub(super) fn open(options: &DeviceOptions, password: Option<String>) -> Self {
        let (client, event_loop) =
            AsyncClient::new(mqtt_options(options, password), REQUEST_CHANNEL);
        let mut event_loop = event_loop;
        let mut network = event_loop.network_options();
        network.set_connection_timeout(options.connect_timeout.as_secs().saturating_add(1));
        event_loop.set_network_options(network);
        let (sender, events) = mpsc::channel(EVENT_CHANNEL);
        let task = tokio::spawn(forward(event_loop, sender));
        Self {
            client,
            events,
            task,
            correlator: Correlator::default(),
            acks: VecDeque::new(),
        }
    }

    /// The next event worth the driver's attention. Cancel-safe.
    pub(super) async fn next(&mut self) -> LinkEvent {
        loop {
            let Some(event) = self.events.recv().await else {
                return LinkEvent::Lost(DisconnectReason::Network {
                    message: "the connection task stopped".into(),
                });
            };
            match event {
                Ok(Event::Incoming(packet)) => {
                    if let Some(event) = self.incoming(packet) {
                        return event;
                    }
                }
                Ok(Event::Outgoing(outgoing)) => {
                    match self.correlator.outgoing(outgoing_event(&outgoing)) {
                        Written::Nothing => {}
                        Written::Subscribe(pkid) => return LinkEvent::SubscribeSent(pkid),
                        Written::Disconnect => return LinkEvent::DisconnectSent,
                    }
                }
                Err(error) => return LinkEvent::Lost(reason(error)),
            }
        }
    }

    fn incoming(&mut self, packet: Packet) -> Option<LinkEvent> {
        match packet {
            Packet::ConnAck(_) => Some(LinkEvent::Connected),
            Packet::SubAck(suback) => Some(LinkEvent::Subscribed {
                pkid: suback.pkid,
                refused: suback
                    .return_codes
                    .iter()
                    .enumerate()
                    .filter(|(_, code)| matches!(code, SubscribeReasonCode::Failure))
                    .map(|(index, _)| index)
                    .collect(),
            }),
            Packet::Publish(publish) => Some(LinkEvent::Message {
                ack: (publish.qos != QoS::AtMostOnce).then_some(publish.pkid),
                topic: publish.topic,
                payload: publish.payload,
            }),
            Packet::PubAck(ack) => self
                .correlator
                .puback(ack.pkid)
                .map(LinkEvent::Acknowledged),
            _ => None,
        }
    }

    /// Subscribes to `filters` at QoS 1 in one SUBSCRIBE.
    pub(super) fn subscribe(&mut self, filters: &[String]) -> Result<(), LinkDown> {
        let filters = filters
            .iter()
            .map(|filter| SubscribeFilter::new(filter.clone(), QoS::AtLeastOnce));
        self.client
            .try_subscribe_many(filters)
            .map_err(|_| LinkDown)?;
        self.correlator.submit(Submitted::Subscribe);
        Ok(())
    }

    /// Acknowledges the QoS 1 message with packet id `pkid`, now or, when the request channel
    /// is busy, at the next [`Link::flush_acks`].
    pub(super) fn acknowledge(&mut self, pkid: u16) -> Result<(), LinkDown> {
        self.acks.push_back(pkid);
        self.flush_acks()
    }

    /// Hands over the acknowledgements the request channel has room for.
    pub(super) fn flush_acks(&mut self) -> Result<(), LinkDown> {
        while self.correlator.queued() < REQUEST_CHANNEL - RESERVED {
            let Some(pkid) = self.acks.pop_front() else {
                break;
            };
            let mut publish = Publish::new("", QoS::AtLeastOnce, Vec::new());
            publish.pkid = pkid;
            self.client.try_ack(&publish).map_err(|_| LinkDown)?;
            self.correlator.submit(Submitted::Ack);
        }
        Ok(())
    }

    /// Sends DISCONNECT.
    pub(super) fn disconnect(&mut self) -> Result<(), LinkDown> {
        self.client.try_disconnect().map_err(|_| LinkDown)?;
        self.correlator.submit(Submitted::Disconnect);
        Ok(())
    }

    /// Publishes not acknowledged yet.
    pub(super) fn unacknowledged(&self) -> usize {
        self.correlator.unacknowledged()
    }

    /// Ends the connection; returns the publishes whose outcome is now unknown.
    pub(super) fn close(mut self) -> Vec<PublishTag> {
        self.task.abort();
        std::mem::take(&mut self.correlator).into_unacknowledged()
    }
}

impl Publisher for Link {
    fn can_publish(&self) -> bool {
        self.correlator.unacknowledged() < MAX_UNACKNOWLEDGED
            && self.correlator.queued() < MAX_QUEUED
    }

    fn publish(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        tag: PublishTag,
    ) -> Result<(), LinkDown> {
        self.client
            .try_publish(topic, QoS::AtLeastOnce, false, payload)
            .map_err(|_| LinkDown)?;
        self.correlator.submit(Submitted::Publish(tag));
        Ok(())
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls the event loop and forwards what it yields, until the connection fails or the driver
/// drops the link.
async fn forward(mut event_loop: EventLoop, events: mpsc::Sender<Result<Event, ConnectionError>>) {
    loop {
        let event = event_loop.poll().await;
        let failed = event.is_err();
        if events.send(event).await.is_err() || failed {
            return;
        }
    }
}

fn mqtt_options(options: &DeviceOptions, password: Option<String>) -> MqttOptions {
    let (host, port) = options.endpoint();
    let mut mqtt = MqttOptions::new(options.identity.client_id(), host, port);
    // The builder checked the keep-alive (whole seconds, at least 1) and the client id is never
    // empty, so none of rumqttc's panicking setters can panic here.
    mqtt.set_keep_alive(options.keep_alive)
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_inflight(EVENT_LOOP_IN_FLIGHT)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES)
        .set_credentials(options.username.clone(), password.unwrap_or_default());
    if let Some(tls) = &options.tls {
        mqtt.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            tls.clone(),
        )));
    }
    mqtt
}

fn outgoing_event(outgoing: &Outgoing) -> OutgoingEvent {
    match *outgoing {
        Outgoing::Publish(pkid) => OutgoingEvent::Publish(pkid),
        Outgoing::Subscribe(pkid) => OutgoingEvent::Subscribe(pkid),
        Outgoing::PubAck(pkid) => OutgoingEvent::PubAck(pkid),
        Outgoing::Disconnect => OutgoingEvent::Disconnect,
        Outgoing::AwaitAck(pkid) => OutgoingEvent::AwaitAck(pkid),
        _ => OutgoingEvent::Other,
    }
}

/// Why the connection ended, in the client's terms.
fn reason(error: ConnectionError) -> DisconnectReason {
    match error {
        ConnectionError::ConnectionRefused(code) => refused(code),
        ConnectionError::Tls(error) => DisconnectReason::Tls {
            message: error.to_string(),
        },
        ConnectionError::Io(error) => DisconnectReason::Network {
            message: error.to_string(),
        },
        ConnectionError::NetworkTimeout => DisconnectReason::Timeout,
        ConnectionError::FlushTimeout => DisconnectReason::Network {
            message: "writing to the hub timed out".into(),
        },
        ConnectionError::MqttState(error) => state_reason(error),
        ConnectionError::NotConnAck(packet) => DisconnectReason::Protocol {
            message: format!("the hub answered CONNECT with {packet:?}"),
        },
        ConnectionError::RequestsDone => DisconnectReason::Network {
            message: "the request channel closed".into(),
        },
    }
}

fn state_reason(error: StateError) -> DisconnectReason {
    match error {
        StateError::AwaitPingResp => DisconnectReason::KeepAliveTimeout,
        StateError::Io(error) => DisconnectReason::Network {
            message: error.to_string(),
        },
        StateError::ConnectionAborted => DisconnectReason::Network {
            message: "the hub closed the connection".into(),
        },
        other => DisconnectReason::Protocol {
            message: other.to_string(),
        },
    }
}

fn refused(code: ConnectReturnCode) -> DisconnectReason {
    match code {
        ConnectReturnCode::NotAuthorized | ConnectReturnCode::BadUserNamePassword => {
            DisconnectReason::NotAuthorized
        }
        ConnectReturnCode::ServiceUnavailable => DisconnectReason::DeviceDisabled,
        ConnectReturnCode::RefusedProtocolVersion => DisconnectReason::Refused { code: 1 },
        ConnectReturnCode::BadClientId => DisconnectReason::Refused { code: 2 },
        ConnectReturnCode::Success => DisconnectReason::Refused { code: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn refusals_map_to_reasons() {
        assert_eq!(
            refused(ConnectReturnCode::NotAuthorized),
            DisconnectReason::NotAuthorized
        );
        assert_eq!(
            refused(ConnectReturnCode::BadUserNamePassword),
            DisconnectReason::NotAuthorized
        );
        assert_eq!(
            refused(ConnectReturnCode::ServiceUnavailable),
            DisconnectReason::DeviceDisabled
        );
        assert_eq!(
            refused(ConnectReturnCode::BadClientId),
            DisconnectReason::Refused { code: 2 }
        );
    }

    #[test]
    fn failures_map_to_reasons() {
        let refused_tcp = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        assert!(matches!(
            reason(ConnectionError::Io(refused_tcp)),
            DisconnectReason::Network { .. }
        ));
        assert_eq!(
            reason(ConnectionError::NetworkTimeout),
            DisconnectReason::Timeout
        );
        assert_eq!(
            reason(ConnectionError::MqttState(StateError::AwaitPingResp)),
            DisconnectReason::KeepAliveTimeout
        );
        assert!(matches!(
            reason(ConnectionError::MqttState(StateError::Unsolicited(3))),
            DisconnectReason::Protocol { .. }
        ));
        assert_eq!(
            reason(ConnectionError::MqttState(StateError::ConnectionAborted)),
            DisconnectReason::Network {
                message: "the hub closed the connection".into()
            }
        );
    }
}
