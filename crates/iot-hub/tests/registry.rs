//! The identity registry through the in-process API (PROTOCOL 11.1).

mod support;

use iot_hub::{DeviceOptions, HubError};
use iot_protocol::{ErrorCode, IfMatch, SharedAccessKey};
use support::{Client, device, hub};

#[tokio::test]
async fn create_get_update_and_delete_follow_the_registry_rules() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let created = hub.registry().get_device(&id).unwrap();
    assert_eq!(created.etag.as_deref(), Some("MQ=="));
    assert!(created.generation_id.is_some());
    let twin = hub.twins().get(&id).unwrap();
    assert_eq!((twin.etag().as_str(), twin.version()), ("AAAAAAAAAAE=", 2));

    let duplicate = hub
        .registry()
        .create_device(&id, DeviceOptions::default())
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Some(ErrorCode::DeviceAlreadyExists));

    let mut update = created.clone();
    let primary = SharedAccessKey::generate([1; 32]);
    let keys = update
        .authentication
        .as_mut()
        .unwrap()
        .symmetric_key
        .as_mut()
        .unwrap();
    keys.primary_key = Some(primary.clone());
    let stale = IfMatch::etag("OTk=").unwrap();
    let refused = hub
        .registry()
        .update_device(&update, Some(&stale))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, HubError::PreconditionFailed { .. }),
        "{refused}"
    );
    let current = IfMatch::etag(created.etag.as_deref().unwrap()).unwrap();
    let updated = hub
        .registry()
        .update_device(&update, Some(&current))
        .await
        .unwrap();
    assert_eq!(updated.etag.as_deref(), Some("Mg=="));
    let stored = updated.authentication.unwrap().symmetric_key.unwrap();
    assert_eq!(stored.primary_key, Some(primary));

    // The new key signs tokens the hub accepts.
    let (_client, _) = Client::device(&hub, &id, true).await;

    let listed = hub.registry().list_devices();
    assert_eq!(listed.len(), 1);
    hub.registry()
        .delete_device(&id, Some(&IfMatch::ANY))
        .await
        .unwrap();
    assert!(matches!(
        hub.twins().get(&id),
        Err(HubError::DeviceNotFound { .. })
    ));
    let again = hub.registry().delete_device(&id, None).await.unwrap_err();
    assert_eq!(again.code(), Some(ErrorCode::DeviceNotFound));
    hub.shutdown().await;
}

#[tokio::test]
async fn a_device_created_disabled_cannot_connect_until_enabled() {
    let hub = hub().await;
    let id = "later".parse().unwrap();
    let device = hub
        .registry()
        .create_device(&id, DeviceOptions::default().disabled())
        .await
        .unwrap();
    assert_eq!(device.status, Some(iot_protocol::DeviceStatus::Disabled));
    let mut client = Client::tcp(hub.mqtt_addr()).await;
    let ack = client
        .connect(support::connect_packet(&hub, &id, true))
        .await;
    assert_eq!(
        ack.code,
        rumqttc::mqttbytes::v4::ConnectReturnCode::ServiceUnavailable
    );
    hub.registry()
        .set_status(&id, iot_protocol::DeviceStatus::Enabled)
        .await
        .unwrap();
    let (_client, _) = Client::device(&hub, &id, true).await;
    hub.shutdown().await;
}
