//! Device-to-server round trips with a fixed number in flight per device:
//!
//! - on the hub, reported-property patches: PUBLISH at QoS 1 to
//!   `$iothub/twin/PATCH/properties/reported/?$rid=R`, done when
//!   `$iothub/twin/res/204/?$rid=R&$version=N` arrives (the hub answers after the commit);
//! - on Mosquitto, a QoS 1 PUBLISH of the same body to `devices/{id}/reported`, done at its
//!   PUBACK (nothing is stored).

use std::time::{Duration, Instant};

use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::Packet;

use crate::mqtt::Conn;
use crate::stats::Latencies;

/// How long in-flight round trips may take to finish after the window closes.
const DRAIN: Duration = Duration::from_secs(10);

/// Which round trip a device makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A reported patch to the hub, answered with 204 after its commit.
    ReportedPatch,
    /// A QoS 1 publish, answered with PUBACK.
    Publish,
}

/// When round trips count: those that complete between `start` and `end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// The end of the warm-up.
    pub(crate) start: Instant,
    /// When devices stop starting new round trips.
    pub(crate) end: Instant,
}

impl Window {
    /// A window that opens after `warmup` and lasts `length`.
    pub(crate) fn after(warmup: Duration, length: Duration) -> Self {
        let start = Instant::now() + warmup;
        Self {
            start,
            end: start + length,
        }
    }

    /// Whether a round trip completing now counts.
    pub(crate) fn counts_now(&self) -> bool {
        let now = Instant::now();
        now >= self.start && now <= self.end
    }
}

/// Subscribes a hub device to twin responses (Mosquitto needs nothing).
pub(crate) async fn prepare(conn: &mut Conn, kind: Kind) -> Result<(), String> {
    match kind {
        Kind::ReportedPatch => conn.subscribe(&["$iothub/twin/res/#"]).await,
        Kind::Publish => Ok(()),
    }
}

/// One device: keeps `depth` round trips in flight until the window ends, then waits for the
/// last ones.
pub(crate) async fn device(
    mut conn: Conn,
    id: String,
    kind: Kind,
    depth: usize,
    window: Window,
) -> Result<Latencies, String> {
    let mut flight = Flight::new(id, kind);
    for _ in 0..depth.max(1) {
        flight.start(&mut conn);
    }
    conn.flush().await?;
    let mut latencies = Latencies::default();
    let drained_by = window.end + DRAIN;
    while !flight.pending.is_empty() {
        let packet = tokio::time::timeout_at(drained_by.into(), conn.next())
            .await
            .map_err(|_| format!("{}: round trips unanswered after {DRAIN:?}", flight.id))??;
        let Some(sent) = flight.complete(&packet)? else {
            continue;
        };
        if window.counts_now() {
            latencies.record(sent);
        }
        if Instant::now() < window.end {
            flight.start(&mut conn);
            conn.flush().await?;
        }
    }
    conn.disconnect().await;
    Ok(latencies)
}

/// The round trips one device has in flight.
#[derive(Debug)]
struct Flight {
    id: String,
    kind: Kind,
    topic: String,
    next: u64,
    /// Request id (reported patch) or packet id (publish), with its send time.
    pending: Vec<(u64, Instant)>,
}

impl Flight {
    fn new(id: String, kind: Kind) -> Self {
        let topic = match kind {
            Kind::ReportedPatch => "$iothub/twin/PATCH/properties/reported/?$rid=".to_owned(),
            Kind::Publish => format!("devices/{id}/reported"),
        };
        Self {
            id,
            kind,
            topic,
            next: 1,
            pending: Vec::new(),
        }
    }

    /// Queues the next round trip's PUBLISH.
    fn start(&mut self, conn: &mut Conn) {
        let seq = self.next;
        self.next += 1;
        let body = format!(r#"{{"loadgen":{{"seq":{seq},"state":"running"}}}}"#);
        let key = match self.kind {
            Kind::ReportedPatch => {
                let topic = format!("{}{seq}", self.topic);
                conn.queue_publish(&topic, QoS::AtLeastOnce, body.as_bytes());
                seq
            }
            Kind::Publish => {
                u64::from(conn.queue_publish(&self.topic, QoS::AtLeastOnce, body.as_bytes()))
            }
        };
        self.pending.push((key, Instant::now()));
    }

    /// The send time of the round trip `packet` completes, if it completes one.
    fn complete(&mut self, packet: &Packet) -> Result<Option<Instant>, String> {
        let key = match (self.kind, packet) {
            (Kind::Publish, Packet::PubAck(ack)) => u64::from(ack.pkid),
            (Kind::ReportedPatch, Packet::Publish(publish)) => twin_answer(&publish.topic)?,
            _ => return Ok(None),
        };
        let position = self.pending.iter().position(|(k, _)| *k == key);
        Ok(position.map(|at| self.pending.swap_remove(at).1))
    }
}

/// The request id of a `$iothub/twin/res/204/?$rid=R&$version=N` answer; any other status is
/// an error.
fn twin_answer(topic: &str) -> Result<u64, String> {
    let rest = topic
        .strip_prefix("$iothub/twin/res/")
        .ok_or_else(|| format!("unexpected publish on {topic}"))?;
    let (status, query) = rest
        .split_once("/?")
        .ok_or_else(|| format!("bad answer {topic}"))?;
    if status != "204" {
        return Err(format!("reported patch refused: {topic}"));
    }
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("$rid="))
        .and_then(|rid| rid.parse().ok())
        .ok_or_else(|| format!("answer without a numeric $rid: {topic}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twin_answers_give_their_request_id() {
        assert_eq!(
            twin_answer("$iothub/twin/res/204/?$rid=17&$version=4"),
            Ok(17)
        );
        assert!(twin_answer("$iothub/twin/res/400/?$rid=17").is_err());
        assert!(twin_answer("$iothub/twin/res/204/?$version=4").is_err());
    }

    #[test]
    fn a_window_counts_only_inside_itself() {
        let open = Window::after(Duration::ZERO, Duration::from_secs(60));
        assert!(open.counts_now());
        let later = Window::after(Duration::from_secs(60), Duration::from_secs(1));
        assert!(!later.counts_now());
    }
}
