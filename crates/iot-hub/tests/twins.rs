//! Twins over MQTT (PROTOCOL 3): GET, reported patches and their errors, desired
//! notifications.

mod support;

use iot_twin::{Patch, TwinState};
use serde_json::{Value, json};
use support::{Client, device, hub};

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("a JSON body")
}

#[tokio::test]
async fn get_returns_both_sections_and_ignores_the_body() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, false).await;
    client.subscribe(&["$iothub/twin/res/#"]).await;
    let (topic, body) = client.twin("$iothub/twin/GET/?$rid=a%2Bb", b" ").await;
    assert_eq!(topic, "$iothub/twin/res/200/?$rid=a%2Bb");
    assert_eq!(
        json(&body),
        json!({"desired": {"$version": 1}, "reported": {"$version": 1}})
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_reported_patch_is_answered_204_with_the_new_version() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, false).await;
    client.subscribe(&["$iothub/twin/res/#"]).await;
    for (rid, version) in [("1", 2), ("2", 3)] {
        let topic = format!("$iothub/twin/PATCH/properties/reported/?$rid={rid}");
        let (answer, body) = client.twin(&topic, br#"{"fw":{"version":"1.2"}}"#).await;
        assert_eq!(
            answer,
            format!("$iothub/twin/res/204/?$rid={rid}&$version={version}")
        );
        assert!(body.is_empty());
    }
    let (_, body) = client.twin("$iothub/twin/GET/?$rid=3", b"").await;
    let state = TwinState::from_slice(&body).unwrap();
    assert_eq!(state.reported().version().get(), 3);
    assert_eq!(state.reported().content()["fw"], json!({"version": "1.2"}));
    let twin = hub.twins().get(&id).unwrap();
    assert_eq!(twin.reported().content()["fw"]["version"], "1.2");
    hub.shutdown().await;
}

#[tokio::test]
async fn refused_patches_get_an_error_body_and_change_nothing() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, false).await;
    client.subscribe(&["$iothub/twin/res/#"]).await;
    let big: String = (0..10)
        .map(|i| format!(r#""k{i}":"{}""#, "z".repeat(4000)))
        .collect::<Vec<_>>()
        .join(",");
    let big = format!("{{{big}}}");
    let cases: [(&[u8], u16, u32); 5] = [
        (b"{not json", 400, 400_006),
        (b"[1,2]", 400, 400_006),
        (br#"{"bad.key":1}"#, 400, 400_004),
        (br#"{"$version":7}"#, 400, 400_004),
        (big.as_bytes(), 403, 403_100),
    ];
    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        let topic = format!("$iothub/twin/PATCH/properties/reported/?$rid=e{i}");
        let (answer, error) = client.twin(&topic, body).await;
        assert_eq!(answer, format!("$iothub/twin/res/{status}/?$rid=e{i}"));
        let error = json(&error);
        assert_eq!(error["errorCode"], code, "{error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let twin = hub.twins().get(&id).unwrap();
    assert_eq!(twin.reported().version().map(|v| v.get()), Some(1));
    client.send(&rumqttc::mqttbytes::v4::Packet::PingReq).await;
    assert_eq!(
        client.recv().await,
        rumqttc::mqttbytes::v4::Packet::PingResp
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn desired_changes_are_notified_in_order_with_the_version_in_topic_and_body() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, false).await;
    client
        .subscribe(&["$iothub/twin/PATCH/properties/desired/#"])
        .await;
    for rpm in [900, 1000, 1100] {
        let patch = Patch::from_value(json!({"rpm": rpm})).unwrap();
        hub.twins().update_desired(&id, patch).await.unwrap();
    }
    for (rpm, version) in [(900, 2), (1000, 3), (1100, 4)] {
        let note = client.recv_publish().await;
        assert_eq!(
            note.topic,
            format!("$iothub/twin/PATCH/properties/desired/?$version={version}")
        );
        assert_eq!(
            json(&note.payload),
            json!({"rpm": rpm, "$version": version})
        );
    }
    let tags = Patch::from_value(json!({"site": "north"})).unwrap();
    let twin = hub.twins().update_tags(&id, tags).await.unwrap();
    assert_eq!(twin.tags().content()["site"], "north");
    client
        .assert_quiet("tags are never sent to the device")
        .await;
    hub.shutdown().await;
}

#[tokio::test]
async fn service_writes_check_the_etag() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let etag = hub.twins().get(&id).unwrap().etag();
    let write = iot_twin::ServiceWrite::from_slice(br#"{"tags":{"a":1}}"#).unwrap();
    let stale: iot_protocol::IfMatch = "\"AAAAAAAAAAk=\"".parse().unwrap();
    let error = hub
        .twins()
        .update(&id, &write, Some(&stale))
        .await
        .unwrap_err();
    assert_eq!(
        error.code(),
        Some(iot_protocol::ErrorCode::PreconditionFailed)
    );
    let current = iot_protocol::IfMatch::etag(etag.as_str()).unwrap();
    let twin = hub
        .twins()
        .update(&id, &write, Some(&current))
        .await
        .unwrap();
    assert_eq!(twin.etag().counter(), etag.counter().map(|c| c + 1));
    hub.shutdown().await;
}
