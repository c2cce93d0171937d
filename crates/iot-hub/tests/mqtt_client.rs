//! A general-purpose MQTT client library (rumqttc's `AsyncClient`) used the way the device SDKs
//! use MQTT: persistent session, twin request and answer, telemetry, a method call.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use iot_methods::MethodInvocation;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use support::{WAIT, device, hub, token, unix_now, username};
use tokio::sync::mpsc;

#[tokio::test]
async fn an_off_the_shelf_client_uses_twins_telemetry_and_methods() {
    let hub = hub().await;
    let id = device(&hub, "lib-client").await;
    let mut options = MqttOptions::new("lib-client", "127.0.0.1", hub.mqtt_addr().port());
    options.set_credentials(username(&hub, &id), token(&hub, &id, unix_now() + 3600));
    options.set_clean_session(false);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    let (publishes, mut received) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(publish)) = event {
                let _ = publishes.send(publish);
            }
        }
    });
    for filter in ["$iothub/twin/res/#", "$iothub/methods/POST/#"] {
        client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    }
    let mut telemetry = hub.telemetry();

    client
        .publish(
            "$iothub/twin/PATCH/properties/reported/?$rid=7",
            QoS::AtLeastOnce,
            false,
            r#"{"ok":true}"#,
        )
        .await
        .unwrap();
    let answer = tokio::time::timeout(WAIT, received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.topic, "$iothub/twin/res/204/?$rid=7&$version=2");

    client
        .publish(
            "devices/lib-client/messages/events/a=1",
            QoS::AtLeastOnce,
            false,
            "hi",
        )
        .await
        .unwrap();
    let message = tokio::time::timeout(WAIT, telemetry.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(message.properties().app_property("a"), Some(Some("1")));

    let invocation = MethodInvocation::new("ping".parse().unwrap(), json!(null)).unwrap();
    let call = hub.invoke_method(&id, invocation);
    let device_side = async {
        let request = tokio::time::timeout(WAIT, received.recv())
            .await
            .unwrap()
            .unwrap();
        let rid = request.topic.rsplit('=').next().unwrap().to_owned();
        client
            .publish(
                format!("$iothub/methods/res/200/?$rid={rid}"),
                QoS::AtLeastOnce,
                false,
                "\"pong\"",
            )
            .await
            .unwrap();
    };
    let (result, ()) = tokio::join!(call, device_side);
    assert_eq!(result.unwrap().payload(), &json!("pong"));

    client.disconnect().await.unwrap();
    let _ = tokio::time::timeout(WAIT, driver).await;
    hub.shutdown().await;
}
