//! Server-to-device fan-out: one write per device, `concurrency` writers each with one write in
//! flight, timed from the write's start until the device receives it.
//!
//! - on the hub, `PATCH /twins/{id}` of a desired property (committed, then answered 200), which
//!   reaches the device as `$iothub/twin/PATCH/properties/desired/?$version=N`;
//! - on Mosquitto, a QoS 1 PUBLISH to `devices/{id}/desired` (done at its PUBACK), which reaches
//!   the device subscribed at QoS 0.
//!
//! IoT Hub has one twin per device, so a desired change reaching N devices is N twin writes
//! (jobs and configurations make those writes for a fleet, but they are the same writes).

use std::time::{Duration, Instant};

use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::Packet;
use tokio::sync::{mpsc, watch};

use crate::mqtt::Conn;
use crate::stats::Latencies;

/// How long a round may take before it counts as failed.
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);

/// Which server writes and delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Desired-property writes on the hub.
    DesiredPatch,
    /// Publishes on Mosquitto.
    Publish,
}

/// Subscribes a device to its notifications.
pub(crate) async fn prepare(conn: &mut Conn, kind: Kind, id: &str) -> Result<(), String> {
    match kind {
        Kind::DesiredPatch => {
            conn.subscribe(&["$iothub/twin/PATCH/properties/desired/#"])
                .await
        }
        Kind::Publish => conn.subscribe(&[&format!("devices/{id}/desired")]).await,
    }
}

/// One device: reports the instant of every notification as `(index, instant)` until `stop`.
pub(crate) async fn receiver(
    mut conn: Conn,
    index: usize,
    received: mpsc::UnboundedSender<(usize, Instant)>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    loop {
        let packet = tokio::select! {
            packet = conn.next() => packet?,
            _ = stop.changed() => break,
        };
        if let Packet::Publish(_) = packet {
            // The collector is gone only when the run is over.
            let _ = received.send((index, Instant::now()));
        }
    }
    conn.disconnect().await;
    Ok(())
}

/// Who writes: the hub's REST API, or publisher connections to Mosquitto.
#[derive(Debug)]
pub(crate) enum Writer {
    /// `PATCH /twins/{id}` with this client and token to `{base}/twins/{id}`.
    Rest {
        /// The client.
        http: reqwest::Client,
        /// The REST API's base URL.
        base: String,
        /// The service token.
        token: String,
    },
    /// QoS 1 publishes.
    Mqtt(Conn),
}

impl Writer {
    /// Writes round `round` to device `id` and waits for the server's acknowledgement.
    async fn write(&mut self, id: &str, round: usize) -> Result<(), String> {
        let body = format!(r#"{{"properties":{{"desired":{{"fanout":{{"round":{round}}}}}}}}}"#);
        match self {
            Self::Rest { http, base, token } => {
                let url = format!("{base}/twins/{id}?api-version=2021-04-12");
                let response = http
                    .patch(&url)
                    .header("Authorization", token.as_str())
                    .header("Content-Type", "application/json; charset=utf-8")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| format!("patching {id}: {e}"))?;
                match response.status().is_success() {
                    true => Ok(()),
                    false => Err(format!("patching {id}: {}", response.status())),
                }
            }
            Self::Mqtt(conn) => {
                let topic = format!("devices/{id}/desired");
                let pkid = conn.queue_publish(&topic, QoS::AtLeastOnce, body.as_bytes());
                conn.flush().await?;
                loop {
                    if let Packet::PubAck(ack) = conn.next().await? {
                        if ack.pkid == pkid {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

/// One writer's share of a round: devices `first`, `first + step`, ...; the start instant of
/// each write.
pub(crate) async fn write_share(
    mut writer: Writer,
    ids: Vec<(usize, String)>,
    round: usize,
) -> Result<(Writer, Vec<(usize, Instant)>), String> {
    let mut started = Vec::with_capacity(ids.len());
    for (index, id) in ids {
        started.push((index, Instant::now()));
        writer.write(&id, round).await?;
    }
    Ok((writer, started))
}

/// Waits until every one of `count` devices has received the round; latencies from each
/// write's start, and the instant of the last delivery.
pub(crate) async fn collect_round(
    received: &mut mpsc::UnboundedReceiver<(usize, Instant)>,
    started: &[Option<Instant>],
) -> Result<(Latencies, Instant), String> {
    let mut seen = vec![false; started.len()];
    let mut remaining = started.len();
    let mut latencies = Latencies::default();
    let mut last: Option<Instant> = None;
    let deadline = Instant::now() + ROUND_TIMEOUT;
    while remaining > 0 {
        let (index, at) = tokio::time::timeout_at(deadline.into(), received.recv())
            .await
            .map_err(|_| format!("{remaining} devices did not receive the round"))?
            .ok_or("the devices stopped")?;
        let (Some(done), Some(Some(sent))) = (seen.get_mut(index), started.get(index)) else {
            continue;
        };
        if !*done {
            *done = true;
            remaining -= 1;
            latencies.record_between(*sent, at);
            last = Some(last.map_or(at, |l| l.max(at)));
        }
    }
    let last = last.unwrap_or_else(Instant::now);
    Ok((latencies, last))
}
