//! Every acknowledged write survives a restart on the same data directory: registry, twins,
//! cloud-to-device queue, sessions and the hub's policies.

mod support;

use iot_hub::{CloudToDeviceMessage, DeviceOptions};
use iot_protocol::DeviceStatus;
use iot_twin::Patch;
use serde_json::json;
use support::{Client, device, hub_in};

#[tokio::test]
async fn acknowledged_writes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(dir.path()).await;
    let service = hub.service_connection_string().unwrap().to_secret_string();
    let d1 = device(&hub, "d1").await;
    let key_string = hub
        .device_connection_string(&d1)
        .unwrap()
        .to_secret_string();
    let x509: iot_protocol::DeviceId = "cam".parse().unwrap();
    let options = DeviceOptions::self_signed(&"ab".repeat(20), None).unwrap();
    hub.registry().create_device(&x509, options).await.unwrap();
    let off = device(&hub, "off").await;
    hub.registry()
        .set_status(&off, DeviceStatus::Disabled)
        .await
        .unwrap();
    let gone = device(&hub, "gone").await;
    hub.registry().delete_device(&gone, None).await.unwrap();

    let (mut client, _) = Client::device(&hub, &d1, false).await;
    client.subscribe_all(&d1).await;
    let (topic, _) = client
        .twin(
            "$iothub/twin/PATCH/properties/reported/?$rid=1",
            br#"{"fw":"2.0"}"#,
        )
        .await;
    assert_eq!(topic, "$iothub/twin/res/204/?$rid=1&$version=2");
    let desired = Patch::from_value(json!({"interval": 30})).unwrap();
    hub.twins().update_desired(&d1, desired).await.unwrap();
    client.recv_publish().await;
    drop(client);
    for body in [&b"first"[..], b"second"] {
        hub.send_cloud_to_device(&d1, CloudToDeviceMessage::new(body))
            .await
            .unwrap();
    }
    hub.shutdown().await;

    let hub = hub_in(dir.path()).await;
    assert_eq!(
        hub.service_connection_string().unwrap().to_secret_string(),
        service
    );
    let ids: Vec<String> = hub
        .registry()
        .list_devices()
        .into_iter()
        .map(|d| d.device_id.to_string())
        .collect();
    assert_eq!(ids, ["cam", "d1", "off"]);
    assert_eq!(
        hub.device_connection_string(&d1)
            .unwrap()
            .to_secret_string(),
        key_string
    );
    let off_device = hub.registry().get_device(&off).unwrap();
    assert_eq!(off_device.status, Some(DeviceStatus::Disabled));
    let cam = hub.twins().get(&x509).unwrap();
    assert_eq!(
        cam.registry()
            .x509_thumbprint
            .as_ref()
            .unwrap()
            .primary_thumbprint
            .as_deref(),
        Some("ab".repeat(20).as_str())
    );

    let twin = hub.twins().get(&d1).unwrap();
    assert_eq!(twin.reported().content()["fw"], "2.0");
    assert_eq!(twin.desired().content()["interval"], 30);
    assert_eq!(twin.desired().version().map(|v| v.get()), Some(2));

    // The session comes back with its subscriptions, and the queue with its messages.
    let (mut client, ack) = Client::device(&hub, &d1, false).await;
    assert!(ack.session_present);
    let first = client.recv_publish().await;
    let second = client.recv_publish().await;
    assert_eq!(
        (&first.payload[..], &second.payload[..]),
        (&b"first"[..], &b"second"[..])
    );
    client.puback(&first).await;
    let (topic, _) = client.twin("$iothub/twin/GET/?$rid=2", b"").await;
    assert_eq!(topic, "$iothub/twin/res/200/?$rid=2");
    drop(client);
    hub.shutdown().await;

    // Only the unacknowledged message is left.
    let hub = hub_in(dir.path()).await;
    let (mut client, _) = Client::device(&hub, &d1, false).await;
    let left = client.recv_publish().await;
    assert_eq!(&left.payload[..], b"second");
    client
        .assert_quiet("only the unacknowledged message is left")
        .await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_second_hub_cannot_open_the_same_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(dir.path()).await;
    let second = support::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap_err();
    assert!(second.to_string().contains("another hub"), "{second}");
    hub.shutdown().await;
}
