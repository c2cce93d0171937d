//! Sessions and subscriptions (PROTOCOL 1.5, 16.15), and what the hub does with devices that
//! break the rules: each gets its documented answer and the others keep being served.

mod support;

use iot_twin::Patch;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, Publish, SubscribeReasonCode, Unsubscribe};
use serde_json::json;
use support::{Client, device, hub};

async fn alive(client: &mut Client) {
    client.send(&Packet::PingReq).await;
    assert_eq!(client.recv().await, Packet::PingResp);
}

#[tokio::test]
async fn a_persistent_session_keeps_every_subscription_across_reconnects() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, ack) = Client::device(&hub, &id, false).await;
    assert!(!ack.session_present);
    client.subscribe_all(&id).await;
    drop(client);

    // Like the Python SDK, the device does not subscribe again after reconnecting.
    let (mut client, ack) = Client::device(&hub, &id, false).await;
    assert!(ack.session_present);
    let (topic, _) = client.twin("$iothub/twin/GET/?$rid=1", b" ").await;
    assert_eq!(topic, "$iothub/twin/res/200/?$rid=1");
    let patch = Patch::from_value(json!({"on": true})).unwrap();
    hub.twins().update_desired(&id, patch).await.unwrap();
    let note = client.recv_publish().await;
    assert_eq!(
        note.topic,
        "$iothub/twin/PATCH/properties/desired/?$version=2"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_clean_session_starts_empty_and_ends_with_its_connection() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, false).await;
    client.subscribe(&["$iothub/twin/res/#"]).await;
    drop(client);

    let (mut client, ack) = Client::device(&hub, &id, true).await;
    assert!(!ack.session_present);
    client.publish("$iothub/twin/GET/?$rid=1", b"").await;
    client
        .assert_quiet("no answer without a subscription")
        .await;
    drop(client);
    let (_client, ack) = Client::device(&hub, &id, false).await;
    assert!(!ack.session_present);
    hub.shutdown().await;
}

#[tokio::test]
async fn unsubscribing_stops_the_feed() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, true).await;
    client
        .subscribe(&["$iothub/twin/PATCH/properties/desired/#"])
        .await;
    let unsubscribe = Unsubscribe {
        pkid: 9,
        topics: vec!["$iothub/twin/PATCH/properties/desired/#".into()],
    };
    client.send(&Packet::Unsubscribe(unsubscribe)).await;
    assert!(matches!(client.recv().await, Packet::UnsubAck(ack) if ack.pkid == 9));
    let patch = Patch::from_value(json!({"on": true})).unwrap();
    hub.twins().update_desired(&id, patch).await.unwrap();
    client.assert_quiet("the device unsubscribed").await;
    hub.shutdown().await;
}

#[tokio::test]
async fn foreign_and_unknown_filters_are_refused_one_by_one() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, true).await;
    let codes = client
        .subscribe(&[
            "devices/d2/messages/devicebound/#",
            "$iothub/twin/res/#",
            "$iothub/unknown/#",
            "#",
            "devices/d1/messages/devicebound/#",
        ])
        .await;
    let granted = SubscribeReasonCode::Success(QoS::AtLeastOnce);
    let failure = SubscribeReasonCode::Failure;
    assert_eq!(codes, [failure, granted, failure, failure, granted]);
    alive(&mut client).await;
    hub.shutdown().await;
}

#[tokio::test]
async fn subscriptions_are_granted_at_most_qos_1() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, true).await;
    let mut subscribe =
        rumqttc::mqttbytes::v4::Subscribe::new("$iothub/methods/POST/#", QoS::ExactlyOnce);
    subscribe.pkid = 3;
    client.send(&Packet::Subscribe(subscribe)).await;
    match client.recv().await {
        Packet::SubAck(ack) => assert_eq!(
            ack.return_codes,
            [SubscribeReasonCode::Success(QoS::AtLeastOnce)]
        ),
        other => panic!("expected SUBACK, got {other:?}"),
    }
    hub.shutdown().await;
}

/// Each violation closes the offender's connection; a bystander keeps working.
#[tokio::test]
async fn violations_close_only_the_offending_connection() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let other = device(&hub, "d2").await;
    let (mut bystander, _) = Client::device(&hub, &other, true).await;
    bystander.subscribe(&["$iothub/twin/res/#"]).await;

    let mut qos2 = Publish::new(
        "devices/d1/messages/events/",
        QoS::ExactlyOnce,
        b"x".to_vec(),
    );
    qos2.pkid = 1;
    let violations: Vec<Vec<u8>> = vec![
        encode(&Packet::Publish(Publish::new(
            "devices/d2/messages/events/",
            QoS::AtMostOnce,
            b"x".to_vec(),
        ))),
        encode(&Packet::Publish(Publish::new(
            "devices/d1/messages/devicebound/",
            QoS::AtMostOnce,
            b"x".to_vec(),
        ))),
        encode(&Packet::Publish(Publish::new(
            "$iothub/unknown/",
            QoS::AtMostOnce,
            b"x".to_vec(),
        ))),
        encode(&Packet::Publish(Publish::new(
            "$iothub/twin/GET",
            QoS::AtMostOnce,
            b"x".to_vec(),
        ))),
        encode(&Packet::Publish(Publish::new(
            "$iothub/methods/res/abc/?$rid=1",
            QoS::AtMostOnce,
            b"x".to_vec(),
        ))),
        encode(&Packet::Publish(Publish::new(
            "elsewhere/topic",
            QoS::AtMostOnce,
            b"x".to_vec(),
        ))),
        encode(&Packet::Publish(qos2)),
        vec![0xF0, 0x00],
        vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        vec![0x82, 0x02, 0x00, 0x01],
    ];
    for (i, bytes) in violations.iter().enumerate() {
        let (mut client, _) = Client::device(&hub, &id, true).await;
        client.send_raw(bytes).await;
        client.expect_closed().await;
        let rid = format!("$iothub/twin/GET/?$rid=b{i}");
        let (topic, _) = bystander.twin(&rid, b"").await;
        assert_eq!(
            topic,
            format!("$iothub/twin/res/200/?$rid=b{i}"),
            "after violation {i}"
        );
    }
    hub.shutdown().await;
}

fn encode(packet: &Packet) -> Vec<u8> {
    let mut bytes = bytes::BytesMut::new();
    packet.write(&mut bytes, usize::MAX).expect("encodable");
    bytes.to_vec()
}

#[tokio::test]
async fn a_device_that_does_not_read_is_disconnected_not_waited_for() {
    let hub = support::builder().outbound_queue(4).start().await.unwrap();
    let id = device(&hub, "d1").await;
    let (mut slow, _) = Client::device(&hub, &id, true).await;
    slow.subscribe(&["$iothub/twin/PATCH/properties/desired/#"])
        .await;
    // Big notifications fill the socket buffers, then the queue of 4.
    let big = "x".repeat(3000);
    let mut closed = false;
    for i in 0..10_000 {
        let patch = Patch::from_value(json!({ format!("k{}", i % 8): big })).unwrap();
        if hub.twins().update_desired(&id, patch).await.is_err() {
            break;
        }
        if hub.registry().get_device(&id).unwrap().connection_state
            == Some(iot_protocol::ConnectionState::Disconnected)
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "the slow device was never disconnected");
    hub.shutdown().await;
}
