//! One device connection: the task that reads its packets, answers them, forwards what the hub
//! queues for it, and ends it (keep-alive, token expiry, takeover, revocation, slowness,
//! shutdown, protocol violations).

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use iot_protocol::{AppProperty, DeviceId, Identity, MessageTopic};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, Publish, SubAck, UnsubAck};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use super::auth::Admitted;
use super::connect::{self, Opened};
use super::framing::Framed;
use super::inbound;
use crate::core::{Core, DeviceEntry, now};
use crate::session::{CloseReason, Outbound};
use crate::telemetry::TelemetryMessage;

/// At most this many queued items are written per wake-up, so reading is not starved.
const OUTBOUND_BATCH: usize = 64;

/// What a connection task knows about its device, and the bytes it has yet to write.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) core: Arc<Core>,
    pub(crate) device_id: DeviceId,
    pub(crate) identity: Arc<Identity>,
    pub(crate) entry: Arc<DeviceEntry>,
    /// This connection's id (sessions outlive connections).
    pub(crate) connection: u64,
    /// Encoded packets waiting to be written.
    out: BytesMut,
    /// Cloud-to-device messages sent at QoS 1 and not yet acknowledged: packet id, sequence.
    inflight: Vec<(u16, u64)>,
    /// Cloud-to-device messages sent at QoS 0, to complete once written.
    sent_at_most_once: Vec<u64>,
    next_packet_id: u16,
}

/// How a connection ended.
#[derive(Debug)]
enum End {
    /// The device sent DISCONNECT.
    Disconnected,
    /// The hub closed it.
    Closed(CloseReason),
    /// The hub is shutting down.
    Shutdown,
    /// The connection failed or the device broke a rule.
    Lost(String),
}

impl Link {
    pub(crate) fn new(core: Arc<Core>, admitted: Admitted, connection: u64) -> Self {
        Self {
            core,
            device_id: admitted.device_id,
            identity: admitted.identity,
            entry: admitted.entry,
            connection,
            out: BytesMut::new(),
            inflight: Vec::new(),
            sent_at_most_once: Vec::new(),
            next_packet_id: 1,
        }
    }

    /// Encodes a packet for writing.
    pub(crate) fn push(&mut self, packet: &Packet) {
        // Packets the hub builds always encode.
        let _ = packet.write(&mut self.out, usize::MAX);
    }

    /// Encodes an item the hub queued for the device.
    fn push_outbound(&mut self, item: Outbound) {
        let mut publish = Publish::from_bytes(item.topic, QoS::AtMostOnce, item.payload);
        match item.message {
            Some((seq, 1)) => {
                publish.qos = QoS::AtLeastOnce;
                publish.pkid = self.packet_id();
                self.inflight.push((publish.pkid, seq));
            }
            Some((seq, _)) => self.sent_at_most_once.push(seq),
            None => {}
        }
        self.push(&Packet::Publish(publish));
    }

    /// A packet id not in use by an unacknowledged message.
    fn packet_id(&mut self) -> u16 {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            if !self.inflight.iter().any(|(used, _)| *used == id) {
                return id;
            }
        }
    }
}

/// Serves one accepted connection until it ends.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    core: Arc<Core>,
    io: S,
    client_cert: Option<Vec<u8>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut framed = Framed::new(io);
    // The futures of opening, handling packets and finishing are large and short-lived: boxed,
    // they do not inflate the task that an idle connection keeps for its whole life.
    let opened = tokio::select! {
        opened = Box::pin(connect::open(&core, &mut framed, client_cert.as_deref())) => opened,
        _ = stop.changed() => None,
    };
    let Some(mut opened) = opened else {
        framed.shutdown().await;
        return;
    };
    let end = drive(&mut framed, &mut opened, &mut stop).await;
    // A last answer (such as SUBACK before a violation) is still worth sending.
    let _ = framed.write_out(&mut opened.link.out).await;
    framed.shutdown().await;
    match &end {
        End::Lost(reason) => tracing::info!(%reason, "connection lost"),
        other => tracing::info!(end = ?other, "connection ended"),
    }
    Box::pin(finish(&opened, &end)).await;
}

/// The connection's loop.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S>,
    opened: &mut Opened,
    stop: &mut watch::Receiver<bool>,
) -> End {
    let closer = Arc::clone(&opened.closer);
    let mut idle_deadline = opened.idle_limit.map(|limit| Instant::now() + limit);
    loop {
        if let Err(error) = flush(framed, &mut opened.link).await {
            return End::Lost(error);
        }
        if *stop.borrow() {
            return End::Shutdown;
        }
        framed.shrink();
        tokio::select! {
            reason = closer.closed() => return End::Closed(reason),
            _ = stop.changed() => return End::Shutdown,
            () = sleep_until(idle_deadline) => return End::Lost("keep-alive expired".into()),
            () = sleep_until(opened.expiry) => return End::Lost("SAS token expired".into()),
            read = framed.fill() => {
                if let Err(error) = read {
                    return End::Lost(error.to_string());
                }
                idle_deadline = opened.idle_limit.map(|limit| Instant::now() + limit);
                if let Some(end) = Box::pin(read_packets(framed, &mut opened.link)).await {
                    return end;
                }
            }
            Some(item) = opened.outbound.recv() => {
                opened.link.push_outbound(*item);
                for _ in 1..OUTBOUND_BATCH {
                    match opened.outbound.try_recv() {
                        Ok(item) => opened.link.push_outbound(*item),
                        Err(_) => break,
                    }
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Writes what is pending, then completes the QoS 0 messages just written.
async fn flush<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S>,
    link: &mut Link,
) -> Result<(), String> {
    framed
        .write_out(&mut link.out)
        .await
        .map_err(|e| format!("write failed: {e}"))?;
    for seq in std::mem::take(&mut link.sent_at_most_once) {
        Box::pin(complete(link, seq)).await?;
    }
    Ok(())
}

/// Handles every complete packet in the read buffer.
async fn read_packets<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S>,
    link: &mut Link,
) -> Option<End> {
    loop {
        let packet = match framed.buffered_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => return None,
            Err(error) => return Some(End::Lost(error.to_string())),
        };
        match handle(link, packet).await {
            Ok(true) => {}
            Ok(false) => return Some(End::Disconnected),
            Err(violation) => return Some(End::Lost(violation)),
        }
    }
}

/// Handles one packet; `Ok(false)` for DISCONNECT, `Err` to close the connection.
async fn handle(link: &mut Link, packet: Packet) -> Result<bool, String> {
    match packet {
        Packet::Publish(publish) => inbound::publish(link, publish).await?,
        Packet::Subscribe(subscribe) => {
            let core = Arc::clone(&link.core);
            let changed = core
                .subscribe(&link.entry, &link.device_id, link.connection, &subscribe)
                .await
                .map_err(|e| e.to_string())?;
            link.push(&Packet::SubAck(SubAck::new(subscribe.pkid, changed.codes)));
            announce(
                link,
                changed.before.has(crate::session::Feed::Methods),
                changed.methods,
            );
        }
        Packet::Unsubscribe(unsubscribe) => {
            let core = Arc::clone(&link.core);
            let changed = core
                .unsubscribe(&link.entry, &link.device_id, link.connection, &unsubscribe)
                .await
                .map_err(|e| e.to_string())?;
            link.push(&Packet::UnsubAck(UnsubAck::new(unsubscribe.pkid)));
            announce(
                link,
                changed.before.has(crate::session::Feed::Methods),
                changed.methods,
            );
        }
        Packet::PubAck(ack) => {
            let position = link.inflight.iter().position(|(id, _)| *id == ack.pkid);
            if let Some(position) = position {
                let (_, seq) = link.inflight.swap_remove(position);
                complete(link, seq).await?;
            }
        }
        Packet::PingReq => link.push(&Packet::PingResp),
        Packet::Disconnect => return Ok(false),
        other => return Err(format!("unexpected packet {other:?}")),
    }
    Ok(true)
}

/// Tells the method driver when the method subscription changed.
fn announce(link: &Link, before: bool, after: bool) {
    match (before, after) {
        (false, true) => link.core.methods.online(link.device_id.clone()),
        (true, false) => link.core.methods.offline(link.device_id.clone()),
        _ => {}
    }
}

async fn complete(link: &Link, seq: u64) -> Result<(), String> {
    link.core
        .complete_message(&link.entry, &link.device_id, seq)
        .await
        .map_err(|e| e.to_string())
}

/// Detaches the connection from the session (unless a newer connection took it over) and
/// publishes the Will when the connection did not end with DISCONNECT.
async fn finish(opened: &Opened, end: &End) {
    let link = &opened.link;
    {
        let _write = link.entry.write.lock().await;
        let mut state = link.entry.lock();
        let ours = state
            .session
            .connection
            .as_ref()
            .is_some_and(|c| c.id == link.connection);
        if ours {
            state.session.connection = None;
            if !state.session.persistent {
                state.session.subscriptions = crate::session::Subscriptions::default();
            }
            link.core.methods.offline(link.device_id.clone());
        }
    }
    let will = match end {
        End::Lost(_) | End::Closed(CloseReason::TakenOver | CloseReason::TooSlow) => {
            opened.will.as_ref()
        }
        End::Disconnected | End::Shutdown | End::Closed(CloseReason::Revoked) => None,
    };
    if let Some(will) = will {
        publish_will(link, &will.topic, will.message.clone());
    }
}

fn publish_will(link: &Link, topic: &str, body: Bytes) {
    let Ok(MessageTopic::Telemetry { mut properties, .. }) = MessageTopic::parse(topic) else {
        return;
    };
    properties.application.push(AppProperty {
        name: "iothub-MessageType".into(),
        value: Some("Will".into()),
    });
    link.core.publish_telemetry(TelemetryMessage::new(
        Arc::clone(&link.identity),
        properties,
        body,
        now(),
    ));
}
