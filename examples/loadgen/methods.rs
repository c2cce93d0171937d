//! Request/response round trips through the server, `concurrency` callers each with one call
//! in flight:
//!
//! - on the hub, direct methods: `POST /twins/{id}/methods` over HTTP/1.1 keep-alive, the hub
//!   publishes `$iothub/methods/POST/ping/?$rid=R` (QoS 0) to the device, the device answers on
//!   `$iothub/methods/res/200/?$rid=R` (QoS 1, as the Python SDK does), the hub answers 200
//!   with `{status, payload}`;
//! - on Mosquitto, a requester client publishes (QoS 1) to `req/{device}/{caller}/{seq}`, the
//!   device's responder client, subscribed at QoS 0 to `req/{device}/#`, publishes (QoS 1) to
//!   `res/{caller}/{seq}`, which the requester is subscribed to.

use std::time::Instant;

use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::Packet;
use tokio::sync::watch;

use crate::mqtt::Conn;
use crate::reported::Window;
use crate::stats::Latencies;

/// The body of every response, from the device or the responder.
const ANSWER: &[u8] = br#"{"ok":true,"uptime":12345}"#;

/// Which server the responders answer through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Direct methods on the hub.
    DirectMethod,
    /// Request and response topics on Mosquitto.
    Topics,
}

/// Subscribes a device to its requests.
pub(crate) async fn prepare(conn: &mut Conn, kind: Kind, id: &str) -> Result<(), String> {
    match kind {
        Kind::DirectMethod => conn.subscribe(&["$iothub/methods/POST/#"]).await,
        Kind::Topics => conn.subscribe(&[&format!("req/{id}/#")]).await,
    }
}

/// One device answering every request until `stop` fires.
pub(crate) async fn responder(
    mut conn: Conn,
    kind: Kind,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    loop {
        let packet = tokio::select! {
            packet = conn.next() => packet?,
            _ = stop.changed() => break,
        };
        let Packet::Publish(request) = packet else {
            continue;
        };
        let topic = answer_topic(kind, &request.topic)?;
        conn.queue_publish(&topic, QoS::AtLeastOnce, ANSWER);
        conn.flush().await?;
    }
    conn.disconnect().await;
    Ok(())
}

/// Where the answer to a request published on `topic` goes.
fn answer_topic(kind: Kind, topic: &str) -> Result<String, String> {
    let unexpected = || format!("unexpected request topic {topic}");
    match kind {
        Kind::DirectMethod => {
            let rid = topic
                .strip_prefix("$iothub/methods/POST/")
                .and_then(|rest| rest.split_once("/?$rid="))
                .map(|(_, rid)| rid)
                .ok_or_else(unexpected)?;
            Ok(format!("$iothub/methods/res/200/?$rid={rid}"))
        }
        Kind::Topics => {
            let mut parts = topic.splitn(4, '/');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("req"), Some(_device), Some(caller), Some(seq)) => {
                    Ok(format!("res/{caller}/{seq}"))
                }
                _ => Err(unexpected()),
            }
        }
    }
}

/// One caller of direct methods over REST, one call at a time, to devices `first`,
/// `first + step`, ... in turn.
pub(crate) async fn rest_caller(
    http: reqwest::Client,
    urls: Vec<String>,
    token: String,
    window: Window,
) -> Result<Latencies, String> {
    let mut latencies = Latencies::default();
    let mut seq = 0u64;
    while Instant::now() < window.end {
        let url = urls
            .get(seq as usize % urls.len().max(1))
            .ok_or("a caller has devices")?;
        seq += 1;
        let sent = Instant::now();
        invoke(&http, url, &token, seq).await?;
        if window.counts_now() {
            latencies.record(sent);
        }
    }
    Ok(latencies)
}

async fn invoke(http: &reqwest::Client, url: &str, token: &str, seq: u64) -> Result<(), String> {
    let body = format!(
        r#"{{"methodName":"ping","payload":{{"seq":{seq}}},"responseTimeoutInSeconds":30,"connectTimeoutInSeconds":0}}"#
    );
    let response = http
        .post(url)
        .header("Authorization", token)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("invoking {url}: {e}"))?;
    let status = response.status();
    let answer: serde_json::Value = response
        .json()
        .await
        .map_err(|e| format!("the answer of {url}: {e}"))?;
    if status.is_success() && answer.get("status") == Some(&serde_json::json!(200)) {
        Ok(())
    } else {
        Err(format!("{url} answered {status}: {answer}"))
    }
}

/// One requester on Mosquitto, one request at a time, to `devices` in turn.
pub(crate) async fn topic_caller(
    mut conn: Conn,
    caller: usize,
    devices: Vec<String>,
    window: Window,
) -> Result<Latencies, String> {
    conn.subscribe(&[&format!("res/c{caller}/#")]).await?;
    let mut latencies = Latencies::default();
    let mut seq = 0u64;
    while Instant::now() < window.end {
        let device = devices
            .get(seq as usize % devices.len().max(1))
            .ok_or("a caller has devices")?;
        seq += 1;
        let sent = Instant::now();
        let topic = format!("req/{device}/c{caller}/{seq}");
        conn.queue_publish(
            &topic,
            QoS::AtLeastOnce,
            format!(r#"{{"seq":{seq}}}"#).as_bytes(),
        );
        conn.flush().await?;
        let expected = format!("res/c{caller}/{seq}");
        loop {
            if let Packet::Publish(answer) = conn.next().await? {
                if answer.topic == expected {
                    break;
                }
            }
        }
        if window.counts_now() {
            latencies.record(sent);
        }
    }
    conn.disconnect().await;
    Ok(latencies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_go_where_the_request_says() {
        assert_eq!(
            answer_topic(Kind::DirectMethod, "$iothub/methods/POST/ping/?$rid=7f"),
            Ok("$iothub/methods/res/200/?$rid=7f".to_owned())
        );
        assert_eq!(
            answer_topic(Kind::Topics, "req/lg-00001/c3/19"),
            Ok("res/c3/19".to_owned())
        );
        assert!(answer_topic(Kind::Topics, "req/lg-00001").is_err());
        assert!(answer_topic(Kind::DirectMethod, "$iothub/twin/res/200/?$rid=1").is_err());
    }
}
