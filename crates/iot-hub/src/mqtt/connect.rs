//! The opening of a connection: CONNECT within the connect timeout, admission, the session
//! taken over or started, CONNACK.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use iot_protocol::{Identity, MessageTopic};
use iot_twin::Timestamp;
use rumqttc::mqttbytes::Error as CodecError;
use rumqttc::mqttbytes::Protocol;
use rumqttc::mqttbytes::v4::{ConnAck, Connect, ConnectReturnCode, LastWill, Packet};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use super::auth::{self, Admitted};
use super::connection::Link;
use super::framing::{Framed, ReadError};
use crate::HubError;
use crate::core::{Core, now};
use crate::session::{CloseReason, Closer, ConnectionHandle, Feed, Outbound, Subscriptions};
use crate::store::Op;

/// IoT Hub closes a silent client after 1.5 times its keep-alive, at most after this long.
const MAX_IDLE: Duration = Duration::from_secs(1767);

/// An admitted connection, ready to run.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) link: Link,
    pub(crate) outbound: mpsc::Receiver<Box<Outbound>>,
    pub(crate) closer: Arc<Closer>,
    /// How long the client may stay silent.
    pub(crate) idle_limit: Option<Duration>,
    /// When the client's token expires.
    pub(crate) expiry: Option<Instant>,
    /// The Will to publish if the connection ends without DISCONNECT.
    pub(crate) will: Option<LastWill>,
}

/// Reads CONNECT, admits the client and answers CONNACK; `None` when the connection ends here.
pub(crate) async fn open<S: AsyncRead + AsyncWrite + Unpin>(
    core: &Arc<Core>,
    framed: &mut Framed<S>,
    client_cert: Option<&[u8]>,
) -> Option<Opened> {
    let connect = read_connect(core, framed).await?;
    let admitted = match admit(core, &connect, client_cert) {
        Ok(admitted) => admitted,
        Err((code, reason)) => {
            tracing::info!(client_id = %connect.client_id, ?code, %reason, "CONNECT refused");
            refuse(framed, code).await;
            return None;
        }
    };
    let opened = match attach(core, admitted, &connect).await {
        Ok(opened) => opened,
        Err(error) => {
            tracing::warn!(%error, "cannot start the session");
            refuse(framed, ConnectReturnCode::ServiceUnavailable).await;
            return None;
        }
    };
    tracing::info!(device = %opened.link.device_id, clean = connect.clean_session, "connected");
    Some(opened)
}

/// The CONNECT packet, or `None` after answering a wrong protocol level (CONNACK 1) or when
/// the client sends something else or nothing in time.
async fn read_connect<S: AsyncRead + AsyncWrite + Unpin>(
    core: &Core,
    framed: &mut Framed<S>,
) -> Option<Connect> {
    let first = tokio::time::timeout(core.settings.connect_timeout, framed.read_packet()).await;
    match first {
        Ok(Ok(Packet::Connect(connect))) if connect.protocol == Protocol::V4 => Some(connect),
        Ok(Ok(Packet::Connect(_)))
        | Ok(Err(ReadError::Malformed(
            CodecError::InvalidProtocolLevel(_) | CodecError::InvalidProtocol,
        ))) => {
            refuse(framed, ConnectReturnCode::RefusedProtocolVersion).await;
            None
        }
        Ok(Ok(other)) => {
            tracing::info!(packet = ?other, "first packet is not CONNECT");
            None
        }
        Ok(Err(error)) => {
            tracing::info!(%error, "no CONNECT");
            None
        }
        Err(_) => {
            tracing::info!("no CONNECT within the connect timeout");
            None
        }
    }
}

fn admit(
    core: &Core,
    connect: &Connect,
    client_cert: Option<&[u8]>,
) -> Result<Admitted, (ConnectReturnCode, String)> {
    let admitted =
        auth::admit(core, connect, client_cert, now()).map_err(|r| (r.code, r.reason))?;
    if let Some(will) = &connect.last_will {
        check_will(will, &admitted.identity)
            .map_err(|reason| (ConnectReturnCode::NotAuthorized, reason))?;
    }
    Ok(admitted)
}

/// A Will must go to the device's own telemetry topic.
fn check_will(will: &LastWill, identity: &Identity) -> Result<(), String> {
    match MessageTopic::parse(&will.topic) {
        Ok(MessageTopic::Telemetry { identity: to, .. }) if to == *identity => Ok(()),
        _ => Err(format!(
            "Will topic {:?} is not the device's telemetry topic",
            will.topic
        )),
    }
}

async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S>,
    code: ConnectReturnCode,
) {
    let mut out = BytesMut::new();
    // Encoding a CONNACK into memory cannot fail.
    let _ = ConnAck::new(code, false).write(&mut out);
    let _ = framed.write_out(&mut out).await;
}

/// Starts or resumes the device's session with a new connection, replacing an older one, and
/// writes CONNACK into the link's output. Holds the device's write lock so that the session
/// change, the methods registration and the first deliveries happen in order.
async fn attach(
    core: &Arc<Core>,
    admitted: Admitted,
    connect: &Connect,
) -> Result<Opened, HubError> {
    let entry = Arc::clone(&admitted.entry);
    let _write = entry.write.lock().await;
    let (persistent, deleted) = {
        let state = entry.read();
        (state.session.persistent, state.deleted)
    };
    if deleted {
        return Err(HubError::DeviceNotFound {
            device_id: admitted.device_id,
        });
    }
    let client_id = admitted.device_id.as_str().to_owned();
    let ops = match (connect.clean_session, persistent) {
        (true, true) => vec![Op::DeleteSession { client_id }],
        (false, false) => vec![Op::PutSession {
            client_id,
            body: Subscriptions::default().to_json(),
        }],
        _ => Vec::new(),
    };
    core.store.commit(ops).await?;
    let id = core.next_connection_id();
    let (handle, outbound, closer) = ConnectionHandle::new(id, core.settings.outbound_capacity);
    let (previous, subscriptions) = {
        let mut state = entry.lock();
        if connect.clean_session || !persistent {
            state.session.subscriptions = Subscriptions::default();
        }
        state.session.persistent = !connect.clean_session;
        (
            state.session.connection.replace(handle),
            state.session.subscriptions,
        )
    };
    if let Some(previous) = previous {
        previous.close(CloseReason::TakenOver);
    }
    entry.touch(now());
    let session_present = !connect.clean_session && persistent;
    let expiry = admitted.expiry.map(instant_of);
    let mut link = Link::new(Arc::clone(core), admitted, id);
    link.push(&Packet::ConnAck(ConnAck::new(
        ConnectReturnCode::Success,
        session_present,
    )));
    if subscriptions.has(Feed::Methods) {
        core.methods.online(link.device_id.clone());
    } else {
        core.methods.offline(link.device_id.clone());
    }
    if subscriptions.has(Feed::CloudToDevice) {
        core.deliver_queued(&entry, &link.device_id).await?;
    }
    Ok(Opened {
        link,
        outbound,
        closer,
        idle_limit: idle_limit(connect.keep_alive),
        expiry,
        will: connect.last_will.clone(),
    })
}

/// 1.5 times the keep-alive, capped; `None` for a keep-alive of 0 (no limit).
fn idle_limit(keep_alive: u16) -> Option<Duration> {
    (keep_alive > 0).then(|| (Duration::from_secs(u64::from(keep_alive)) * 3 / 2).min(MAX_IDLE))
}

/// The instant a token expiring at `expiry` runs out. Tokens valid for more than a century
/// count as valid for a century, which no connection lives to see.
fn instant_of(expiry: Timestamp) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let left = expiry.duration_since(now()).unwrap_or(Duration::ZERO);
    let start = Instant::now();
    start.checked_add(left.min(CENTURY)).unwrap_or(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_limit_is_one_and_a_half_keep_alives_capped() {
        assert_eq!(idle_limit(0), None);
        assert_eq!(idle_limit(60), Some(Duration::from_secs(90)));
        assert_eq!(idle_limit(1), Some(Duration::from_millis(1500)));
        assert_eq!(idle_limit(u16::MAX), Some(MAX_IDLE));
    }
}
