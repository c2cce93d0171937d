//! What a device publishes: twin requests, method responses and telemetry.
//!
//! | Topic | Handling |
//! |---|---|
//! | `$iothub/twin/GET/?$rid=R` | `res/200/?$rid=R` with `{"desired":..,"reported":..}` |
//! | `$iothub/twin/PATCH/properties/reported/?$rid=R` | commit, then `res/204/?$rid=R&$version=N`; a refused patch gets `res/400` or `res/403` with `{"errorCode":..,"message":..}` |
//! | `$iothub/methods/res/{status}/?$rid=R` | completes the pending call `R` |
//! | `devices/{own id}/messages/events/{bag}` | telemetry, at most 256 KB |
//! | anything else | the connection is closed, as IoT Hub does |
//!
//! Twin answers go out at QoS 0 and only to a device subscribed to `$iothub/twin/res/#`.

use bytes::Bytes;
use iot_methods::topic::ResponseTopic;
use iot_protocol::{AppProperty, ErrorCode, ErrorDetail, MessageTopic};
use iot_twin::{DeviceTopic, Patch, RequestId, TwinVersion};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, Publish};

use super::connection::Link;
use super::twin_topic;
use crate::HubError;
use crate::core::{now, tracking_id};
use crate::session::Feed;
use crate::telemetry::{MAX_TELEMETRY_BYTES, TelemetryMessage};

/// Why a publish ends the connection.
pub(crate) type Violation = String;

/// Handles one PUBLISH from the device; `Err` closes the connection.
pub(crate) async fn publish(link: &mut Link, publish: Publish) -> Result<(), Violation> {
    if publish.qos == QoS::ExactlyOnce {
        return Err("QoS 2 publish".into());
    }
    link.entry.touch(now());
    let topic = publish.topic.as_str();
    if topic.starts_with("$iothub/twin/") {
        let request = topic
            .parse::<DeviceTopic>()
            .map_err(|e| format!("twin topic: {e}"))?;
        twin_request(link, request, &publish.payload).await;
    } else if topic.starts_with("$iothub/methods/res/") {
        method_response(link, topic, &publish.payload)?;
    } else {
        telemetry(link, &publish)?;
    }
    if publish.qos == QoS::AtLeastOnce {
        link.push(&Packet::PubAck(rumqttc::mqttbytes::v4::PubAck::new(
            publish.pkid,
        )));
    }
    Ok(())
}

async fn twin_request(link: &mut Link, request: DeviceTopic, body: &[u8]) {
    let (status, version, payload) = match &request {
        DeviceTopic::Get { .. } => (200, None, link.entry.read().twin_body()),
        DeviceTopic::ReportedPatch { .. } => match reported(link, body).await {
            Ok(version) => (204, Some(version), Bytes::new()),
            Err(error) => error_answer(&error),
        },
    };
    if !link
        .entry
        .read()
        .session
        .subscriptions
        .has(Feed::TwinResponses)
    {
        return;
    }
    let request_id: RequestId = match request {
        DeviceTopic::Get { request_id } | DeviceTopic::ReportedPatch { request_id } => request_id,
    };
    let topic = twin_topic::response(status, request_id, version);
    link.push(&Packet::Publish(Publish::from_bytes(
        topic,
        QoS::AtMostOnce,
        payload,
    )));
}

async fn reported(link: &Link, body: &[u8]) -> Result<TwinVersion, HubError> {
    let patch = Patch::from_slice(body).map_err(|source| HubError::Twin {
        device_id: link.device_id.clone(),
        source,
    })?;
    link.core
        .apply_reported(&link.entry, &link.device_id, &patch)
        .await
}

/// The status and JSON body answering a refused twin request.
fn error_answer(error: &HubError) -> (u16, Option<TwinVersion>, Bytes) {
    let code = error.code().unwrap_or(ErrorCode::ServerError);
    let detail = ErrorDetail::new(code, error.to_string(), tracking_id(), now());
    (code.http_status(), None, Bytes::from(detail.to_json()))
}

fn method_response(link: &Link, topic: &str, body: &[u8]) -> Result<(), Violation> {
    let parsed: ResponseTopic = topic
        .parse()
        .map_err(|e| format!("method response topic: {e}"))?;
    let (status, request_id) = parsed.into_parts();
    match iot_methods::payload::from_bytes(body) {
        Ok(payload) => {
            link.core
                .methods
                .response(link.device_id.clone(), request_id, status, payload);
        }
        Err(error) => {
            tracing::info!(%error, "dropping a method response whose payload is not JSON");
        }
    }
    Ok(())
}

fn telemetry(link: &Link, publish: &Publish) -> Result<(), Violation> {
    let topic = MessageTopic::parse(&publish.topic).map_err(|e| format!("topic: {e}"))?;
    let MessageTopic::Telemetry {
        identity,
        mut properties,
    } = topic
    else {
        return Err("publish to a cloud-to-device topic".into());
    };
    if identity != *link.identity {
        return Err(format!("publish to the topic of {identity}"));
    }
    if publish.payload.len() > MAX_TELEMETRY_BYTES {
        return Err(format!(
            "telemetry of {} bytes is over the {MAX_TELEMETRY_BYTES}-byte limit",
            publish.payload.len()
        ));
    }
    if publish.retain {
        properties.application.push(AppProperty {
            name: "mqtt-retain".into(),
            value: Some("true".into()),
        });
    }
    link.core.publish_telemetry(TelemetryMessage::new(
        link.identity.clone(),
        properties,
        publish.payload.clone(),
        now(),
    ));
    Ok(())
}
