//! Telemetry and cloud-to-device messages (PROTOCOL 5).

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use iot_hub::{CloudToDeviceMessage, HubError, TelemetryStream};
use iot_protocol::MessageProperties;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, Publish};
use support::{Client, WAIT, builder, device, hub};

async fn next(stream: &mut TelemetryStream) -> iot_hub::TelemetryMessage {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("no telemetry")
        .expect("stream ended")
        .expect("lagged")
}

#[tokio::test]
async fn telemetry_reaches_subscribers_with_its_properties() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let mut stream = hub.telemetry();
    let (mut client, _) = Client::device(&hub, &id, false).await;
    let topic = "devices/d1/messages/events/%24.mid=b36d&%24.ct=application%2Fjson&%24.ce=utf-8&scenario=py-device";
    client.publish(topic, br#"{"t":21.5}"#).await;
    let message = next(&mut stream).await;
    assert_eq!(message.identity().to_string(), "d1");
    assert_eq!(message.body().as_ref(), br#"{"t":21.5}"#);
    let properties = message.properties();
    assert_eq!(properties.message_id.as_deref(), Some("b36d"));
    assert_eq!(properties.content_type.as_deref(), Some("application/json"));
    assert_eq!(properties.app_property("scenario"), Some(Some("py-device")));

    let mut retained = Publish::new(
        "devices/d1/messages/events/",
        QoS::AtMostOnce,
        b"r".to_vec(),
    );
    retained.retain = true;
    client.send(&Packet::Publish(retained)).await;
    let message = next(&mut stream).await;
    assert_eq!(
        message.properties().app_property("mqtt-retain"),
        Some(Some("true"))
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn oversize_telemetry_closes_only_that_connection() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let other = device(&hub, "d2").await;
    let (mut client, _) = Client::device(&hub, &id, false).await;
    let (mut bystander, _) = Client::device(&hub, &other, false).await;
    let body = vec![b'x'; iot_hub::MAX_TELEMETRY_BYTES + 1];
    client
        .publish_at_most_once("devices/d1/messages/events/", &body)
        .await;
    client.expect_closed().await;
    bystander.send(&Packet::PingReq).await;
    assert_eq!(bystander.recv().await, Packet::PingResp);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_will_is_sent_as_telemetry_when_the_connection_is_lost() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let mut stream = hub.telemetry();
    let mut connect = support::connect_packet(&hub, &id, true);
    connect.last_will = Some(rumqttc::mqttbytes::v4::LastWill::new(
        "devices/d1/messages/events/",
        b"gone".to_vec(),
        QoS::AtLeastOnce,
        false,
    ));
    let mut client = Client::tcp(hub.mqtt_addr()).await;
    client.connect(connect).await;
    drop(client);
    let will = next(&mut stream).await;
    assert_eq!(will.body().as_ref(), b"gone");
    assert_eq!(
        will.properties().app_property("iothub-MessageType"),
        Some(Some("Will"))
    );

    let (mut graceful, _) = Client::device(&hub, &id, true).await;
    graceful.send(&Packet::Disconnect).await;
    graceful.expect_closed().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn queued_messages_are_delivered_on_subscribe_and_removed_after_puback() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let properties = MessageProperties::new().with_app_property("kind", "a/b");
    for body in [&b"one"[..], b"two"] {
        let message = CloudToDeviceMessage::new(body).with_properties(properties.clone());
        hub.send_cloud_to_device(&id, message).await.unwrap();
    }
    let (mut client, _) = Client::device(&hub, &id, false).await;
    client
        .subscribe(&["devices/d1/messages/devicebound/#"])
        .await;
    let first = client.recv_publish().await;
    let second = client.recv_publish().await;
    assert_eq!(
        (&first.payload[..], &second.payload[..]),
        (&b"one"[..], &b"two"[..])
    );
    assert_eq!(first.qos, QoS::AtLeastOnce);
    assert_eq!(
        first.topic,
        "devices/d1/messages/devicebound/%24.to=%2Fdevices%2Fd1%2Fmessages%2Fdevicebound&kind=a%2Fb"
    );
    client.puback(&first).await;
    // The unacknowledged one comes again on the next connection, the acknowledged one not.
    client.send(&Packet::PingReq).await;
    assert_eq!(client.recv().await, Packet::PingResp);
    drop(client);
    let (mut client, ack) = Client::device(&hub, &id, false).await;
    assert!(ack.session_present);
    let again = client.recv_publish().await;
    assert_eq!(&again.payload[..], b"two");
    client.puback(&again).await;
    client.send(&Packet::PingReq).await;
    assert_eq!(client.recv().await, Packet::PingResp);
    let device = hub.registry().get_device(&id).unwrap();
    assert_eq!(device.cloud_to_device_message_count, Some(0));
    hub.shutdown().await;
}

#[tokio::test]
async fn a_message_sent_while_subscribed_is_delivered_at_once() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, true).await;
    client
        .subscribe(&["devices/d1/messages/devicebound/#"])
        .await;
    hub.send_cloud_to_device(&id, CloudToDeviceMessage::new(&b"now"[..]))
        .await
        .unwrap();
    let message = client.recv_publish().await;
    assert_eq!(&message.payload[..], b"now");
    hub.shutdown().await;
}

#[tokio::test]
async fn the_queue_is_bounded_and_messages_are_size_limited() {
    let hub = builder().max_queued_messages(3).start().await.unwrap();
    let id = device(&hub, "d1").await;
    for _ in 0..3 {
        hub.send_cloud_to_device(&id, CloudToDeviceMessage::new(&b"m"[..]))
            .await
            .unwrap();
    }
    let full = hub
        .send_cloud_to_device(&id, CloudToDeviceMessage::new(&b"m"[..]))
        .await
        .unwrap_err();
    assert!(
        matches!(full, HubError::QueueFull { limit: 3, .. }),
        "{full}"
    );
    assert_eq!(full.code().map(|c| c.number()), Some(403_004));
    let big = CloudToDeviceMessage::new(vec![0; iot_hub::MAX_MESSAGE_BYTES + 1]);
    let error = hub.send_cloud_to_device(&id, big).await.unwrap_err();
    assert!(matches!(error, HubError::MessageTooLarge { .. }), "{error}");
    hub.shutdown().await;
}

#[tokio::test]
async fn expired_messages_are_dropped() {
    let hub = builder().max_queued_messages(1).start().await.unwrap();
    let id = device(&hub, "d1").await;
    let short =
        CloudToDeviceMessage::new(&b"old"[..]).with_time_to_live(Duration::from_millis(100));
    hub.send_cloud_to_device(&id, short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The expired message no longer counts against the limit of one.
    hub.send_cloud_to_device(&id, CloudToDeviceMessage::new(&b"new"[..]))
        .await
        .unwrap();
    let (mut client, _) = Client::device(&hub, &id, true).await;
    client
        .subscribe(&["devices/d1/messages/devicebound/#"])
        .await;
    let message = client.recv_publish().await;
    assert_eq!(&message.payload[..], b"new");
    client
        .assert_quiet("the expired message is not delivered")
        .await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_lagging_subscriber_is_told_how_many_messages_it_lost() {
    let hub = builder().telemetry_buffer(2).start().await.unwrap();
    let id = device(&hub, "d1").await;
    let mut stream = hub.telemetry();
    let (mut client, _) = Client::device(&hub, &id, true).await;
    for i in 0..5_u8 {
        client.publish("devices/d1/messages/events/", &[i]).await;
    }
    let lagged = tokio::time::timeout(WAIT, stream.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lagged.unwrap_err(), iot_hub::TelemetryLagged { missed: 3 });
    let next_body = next(&mut stream).await.body().clone();
    assert_eq!(&next_body[..], &[3]);
    hub.shutdown().await;
    assert_eq!(&next(&mut stream).await.body()[..], &[4]);
    let end = tokio::time::timeout(WAIT, stream.next()).await.unwrap();
    assert!(end.is_none(), "the stream ends with the hub");
}
