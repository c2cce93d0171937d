//! CONNECT: admission and refusals (PROTOCOL 1.2, 1.4), takeover, keep-alive, token expiry,
//! disabling a connected device.

mod support;

use std::time::Duration;

use iot_protocol::{DeviceStatus, SharedAccessKey};
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode, Login, Packet};
use support::{Client, connect_packet, device, hub, token, token_for, unix_now, username};

async fn connack(hub: &iot_hub::Hub, connect: Connect) -> ConnectReturnCode {
    let mut client = Client::tcp(hub.mqtt_addr()).await;
    let code = client.connect(connect).await.code;
    if code != ConnectReturnCode::Success {
        client.expect_closed().await;
    }
    code
}

#[tokio::test]
async fn a_valid_token_connects_and_answers_pings() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, ack) = Client::device(&hub, &id, true).await;
    assert!(!ack.session_present);
    client.send(&Packet::PingReq).await;
    assert_eq!(client.recv().await, Packet::PingResp);
    let device = hub.registry().get_device(&id).unwrap();
    assert_eq!(
        device.connection_state,
        Some(iot_protocol::ConnectionState::Connected)
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_get_connack_5() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let other = device(&hub, "d2").await;

    let mut wrong_key = connect_packet(&hub, &id, true);
    wrong_key.login = Some(Login::new(
        username(&hub, &id),
        token(&hub, &other, unix_now() + 3600).replace("d2", "d1"),
    ));
    let mut expired = connect_packet(&hub, &id, true);
    expired.login = Some(Login::new(
        username(&hub, &id),
        token(&hub, &id, unix_now() - 10),
    ));
    let mut other_resource = connect_packet(&hub, &id, true);
    other_resource.login = Some(Login::new(
        username(&hub, &id),
        token_for(&hub, &id, "localhost/devices/d2", unix_now() + 3600),
    ));
    let mut garbage = connect_packet(&hub, &id, true);
    garbage.login = Some(Login::new(username(&hub, &id), "not a token"));
    let mut no_password = connect_packet(&hub, &id, true);
    no_password.login = Some(Login::new(username(&hub, &id), ""));

    for connect in [wrong_key, expired, other_resource, garbage, no_password] {
        assert_eq!(
            connack(&hub, connect).await,
            ConnectReturnCode::NotAuthorized
        );
    }
    hub.shutdown().await;
}

#[tokio::test]
async fn unknown_devices_and_username_mismatches_get_connack_5() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let ghost: iot_protocol::DeviceId = "ghost".parse().unwrap();

    let mut unknown = Connect::new("ghost");
    let key = SharedAccessKey::generate([7; 32]);
    let resource = iot_protocol::ResourceUri::parse("localhost/devices/ghost").unwrap();
    let ghost_token = iot_protocol::SasToken::create(&resource, &key, None, unix_now() + 60);
    unknown.login = Some(Login::new(
        username(&hub, &ghost),
        ghost_token.to_secret_string(),
    ));

    let mut other_host = connect_packet(&hub, &id, true);
    other_host.login.as_mut().unwrap().username =
        "elsewhere.azure-devices.net/d1/?api-version=2021-04-12".into();
    let mut other_device = connect_packet(&hub, &id, true);
    other_device.client_id = "d2".into();
    let mut no_username = connect_packet(&hub, &id, true);
    no_username.login.as_mut().unwrap().username = String::new();

    for connect in [unknown, other_host, other_device, no_username] {
        assert_eq!(
            connack(&hub, connect).await,
            ConnectReturnCode::NotAuthorized
        );
    }
    let mut bad_client_id = connect_packet(&hub, &id, true);
    bad_client_id.client_id = "a b".into();
    assert_eq!(
        connack(&hub, bad_client_id).await,
        ConnectReturnCode::BadClientId
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn the_python_username_with_its_query_is_accepted() {
    let hub = hub().await;
    let id = device(&hub, "conf-py-7b73b5f6").await;
    let mut connect = connect_packet(&hub, &id, false);
    connect.login.as_mut().unwrap().username = "localhost/conf-py-7b73b5f6/?api-version=2019-10-01\
        &DeviceClientType=azure-iot-device-iothub-py%2F2.14.0%283.11.7%3BLinux%20%231%20SMP%3Bx86_64%29"
        .into();
    assert_eq!(connack(&hub, connect).await, ConnectReturnCode::Success);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_disabled_device_gets_connack_3_and_disabling_disconnects() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, true).await;
    hub.registry()
        .set_status(&id, DeviceStatus::Disabled)
        .await
        .unwrap();
    client.expect_closed().await;
    let code = connack(&hub, connect_packet(&hub, &id, true)).await;
    assert_eq!(code, ConnectReturnCode::ServiceUnavailable);

    hub.registry()
        .set_status(&id, DeviceStatus::Enabled)
        .await
        .unwrap();
    let (mut client, _) = Client::device(&hub, &id, true).await;
    hub.registry().delete_device(&id, None).await.unwrap();
    client.expect_closed().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn other_protocol_levels_get_connack_1() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let mut client = Client::tcp(hub.mqtt_addr()).await;
    let mut bytes = bytes::BytesMut::new();
    Packet::Connect(connect_packet(&hub, &id, true))
        .write(&mut bytes, usize::MAX)
        .unwrap();
    // The protocol level is the byte after the protocol name.
    let level = bytes.windows(4).position(|w| w == b"MQTT").unwrap() + 4;
    for wrong in [3_u8, 5] {
        let mut packet = bytes.clone();
        packet[level] = wrong;
        let mut client = Client::tcp(hub.mqtt_addr()).await;
        client.send_raw(&packet).await;
        match client.recv().await {
            Packet::ConnAck(ack) => {
                assert_eq!(
                    ack.code,
                    ConnectReturnCode::RefusedProtocolVersion,
                    "level {wrong}"
                );
            }
            other => panic!("expected CONNACK, got {other:?}"),
        }
        client.expect_closed().await;
    }
    // A first packet that is not CONNECT closes the connection without an answer.
    client.send(&Packet::PingReq).await;
    client.expect_closed().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_second_connection_takes_the_session_over() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut first, _) = Client::device(&hub, &id, false).await;
    let (mut second, ack) = Client::device(&hub, &id, false).await;
    assert!(ack.session_present);
    first.expect_closed().await;
    second.send(&Packet::PingReq).await;
    assert_eq!(second.recv().await, Packet::PingResp);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_silent_client_is_closed_after_one_and_a_half_keep_alives() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let mut connect = connect_packet(&hub, &id, true);
    connect.keep_alive = 1;
    let mut client = Client::tcp(hub.mqtt_addr()).await;
    assert_eq!(
        client.connect(connect).await.code,
        ConnectReturnCode::Success
    );
    let started = std::time::Instant::now();
    client.expect_closed().await;
    assert!(started.elapsed() >= Duration::from_millis(1400));
    hub.shutdown().await;
}

#[tokio::test]
async fn the_connection_closes_when_the_token_expires() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let mut connect = connect_packet(&hub, &id, true);
    connect.login = Some(Login::new(
        username(&hub, &id),
        token(&hub, &id, unix_now() + 2),
    ));
    let mut client = Client::tcp(hub.mqtt_addr()).await;
    assert_eq!(
        client.connect(connect).await.code,
        ConnectReturnCode::Success
    );
    client.expect_closed().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_sends_connect_is_closed() {
    let hub = hub().await;
    let mut client = Client::tcp(hub.mqtt_addr()).await;
    client.expect_closed().await;
    hub.shutdown().await;
}
