//! Telemetry seen by the hub with its properties, and cloud-to-device messages received with
//! theirs.

mod support;

use futures_util::StreamExt;
use iot_device_sdk::{DeviceClient, Message};
use iot_hub::CloudToDeviceMessage;
use iot_protocol::MessageProperties;
use serde_json::json;
use support::{connect, device, hub, next, options, stop, within};

#[tokio::test]
async fn telemetry_reaches_the_hub_with_its_properties() {
    let hub = hub().await;
    let id = device(&hub, "messages-telemetry").await;
    let client = connect(&hub, &id).await;
    let mut telemetry = hub.telemetry();
    let message = Message::builder(&br#"{"temperature":21.5}"#[..])
        .content_type("application/json")
        .content_encoding("utf-8")
        .message_id("m-1")
        .correlation_id("c-1")
        .property("alert", "high temp")
        .property("path", "a/b&c=d")
        .build()
        .unwrap();
    within("the PUBACK", client.send_telemetry(message))
        .await
        .unwrap();
    let received = next("telemetry at the hub", &mut telemetry).await.unwrap();
    assert_eq!(received.identity().to_string(), "messages-telemetry");
    assert_eq!(&received.body()[..], br#"{"temperature":21.5}"#);
    let properties = received.properties();
    assert_eq!(properties.content_type.as_deref(), Some("application/json"));
    assert_eq!(properties.content_encoding.as_deref(), Some("utf-8"));
    assert_eq!(properties.message_id.as_deref(), Some("m-1"));
    assert_eq!(properties.correlation_id.as_deref(), Some("c-1"));
    assert_eq!(properties.app_property("alert"), Some(Some("high temp")));
    assert_eq!(properties.app_property("path"), Some(Some("a/b&c=d")));

    // Many at once: each resolves on its own PUBACK and all arrive.
    let sends = (0..50).map(|n| {
        let client = client.clone();
        async move {
            client
                .send_telemetry(Message::json(&json!({ "n": n })).unwrap())
                .await
        }
    });
    for result in within("50 sends", futures_util::future::join_all(sends)).await {
        result.unwrap();
    }
    let mut seen = Vec::new();
    while seen.len() < 50 {
        let message = next("the 50 messages", &mut telemetry).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(message.body()).unwrap();
        seen.push(body["n"].as_u64().unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..50).collect::<Vec<_>>());
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn cloud_to_device_messages_arrive_with_their_properties() {
    let hub = hub().await;
    let id = device(&hub, "messages-c2d").await;
    // Queued before the device connects: delivered once it subscribes.
    let properties = MessageProperties::new().with_app_property("kind", "command");
    let mut properties = properties;
    properties.message_id = Some("c2d-1".into());
    properties.correlation_id = Some("corr".into());
    hub.send_cloud_to_device(
        &id,
        CloudToDeviceMessage::new(&b"led on"[..]).with_properties(properties),
    )
    .await
    .unwrap();
    let client = DeviceClient::start(options(&hub, &id).build().unwrap()).unwrap();
    let mut messages = client.cloud_to_device_messages();
    let first = next("the queued message", &mut messages).await;
    assert_eq!(first.body(), b"led on");
    assert_eq!(first.message_id(), Some("c2d-1"));
    assert_eq!(first.correlation_id(), Some("corr"));
    assert_eq!(first.property("kind"), Some("command"));

    hub.send_cloud_to_device(&id, CloudToDeviceMessage::new(&b"led off"[..]))
        .await
        .unwrap();
    let second = next("the live message", &mut messages).await;
    assert_eq!(second.body(), b"led off");

    // Acknowledged messages are complete: a reconnect does not bring them back.
    client.close().await;
    assert!(
        within("the end of the stream", messages.next())
            .await
            .is_none()
    );
    let again = DeviceClient::start(options(&hub, &id).build().unwrap()).unwrap();
    let mut messages = again.cloud_to_device_messages();
    within("ready", again.ready()).await.unwrap();
    hub.send_cloud_to_device(&id, CloudToDeviceMessage::new(&b"third"[..]))
        .await
        .unwrap();
    assert_eq!(
        next("the third message", &mut messages).await.body(),
        b"third"
    );
    again.close().await;
    stop(hub).await;
}
