//! The identity registry through the SDK against the embedded hub: create with generated keys,
//! read, update and delete with etags or by force, list, statistics, enable and disable.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use iot_protocol::{
    AuthenticationMechanism, Device, DeviceId, DeviceStatus, ErrorCode, IfMatch, SharedAccessKey,
    SymmetricKey,
};
use iot_service_sdk::{MAX_LIST_DEVICES, Resource, ServiceError};
use support::{MqttDevice, create, hub, owner, within};

#[tokio::test]
async fn create_generates_keys_and_refuses_duplicates() {
    let hub = hub().await;
    let client = owner(&hub);
    let id: DeviceId = "reg-1".parse().unwrap();
    let created = client
        .create_device(&Device::new(id.clone()))
        .await
        .unwrap();
    assert_eq!(created.device_id, id);
    assert_eq!(created.status, Some(DeviceStatus::Enabled));
    let keys = created.authentication.unwrap().symmetric_key.unwrap();
    assert!(keys.primary_key.is_some() && keys.secondary_key.is_some());
    assert_ne!(keys.primary_key, keys.secondary_key);

    let again = client
        .create_device(&Device::new(id.clone()))
        .await
        .unwrap_err();
    match again {
        ServiceError::AlreadyExists { resource, code, .. } => {
            assert_eq!(resource, Some(Resource::Device(id.clone())));
            assert_eq!(code, Some(ErrorCode::DeviceAlreadyExists));
        }
        other => panic!("{other:?}"),
    }
    let read = client.get_device(&id).await.unwrap();
    assert_eq!(read.etag, created.etag);
    hub.shutdown().await;
}

#[tokio::test]
async fn create_keeps_given_keys_and_status() {
    let hub = hub().await;
    let client = owner(&hub);
    let key = SharedAccessKey::generate([9; 32]);
    let mut device = Device::new("reg-keys".parse().unwrap());
    device.status = Some(DeviceStatus::Disabled);
    device.authentication = Some(AuthenticationMechanism {
        symmetric_key: Some(SymmetricKey {
            primary_key: Some(key.clone()),
            secondary_key: Some(key.clone()),
        }),
        ..AuthenticationMechanism::default()
    });
    let created = client.create_device(&device).await.unwrap();
    assert_eq!(created.status, Some(DeviceStatus::Disabled));
    let keys = created.authentication.unwrap().symmetric_key.unwrap();
    assert_eq!(keys.primary_key, Some(key));
    hub.shutdown().await;
}

#[tokio::test]
async fn updates_check_the_etag_unless_forced() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "reg-etag").await;
    let read = client.get_device(&id).await.unwrap();
    let etag = IfMatch::etag(read.etag.as_deref().unwrap()).unwrap();

    let mut changed = read.clone();
    changed.status_reason = Some("maintenance".into());
    let updated = client.update_device(&changed, etag.clone()).await.unwrap();
    assert_eq!(updated.status_reason.as_deref(), Some("maintenance"));
    assert_ne!(updated.etag, read.etag);

    let stale = client
        .update_device(&changed, etag.clone())
        .await
        .unwrap_err();
    match &stale {
        ServiceError::PreconditionFailed { resource, etag, .. } => {
            assert_eq!(resource.as_ref().and_then(Resource::device_id), Some(&id));
            assert_eq!(etag.as_deref(), read.etag.as_deref());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(stale.status(), Some(412));

    changed.status_reason = Some("forced".into());
    let forced = client.update_device(&changed, IfMatch::ANY).await.unwrap();
    assert_eq!(forced.status_reason.as_deref(), Some("forced"));

    let missing = Device::new("reg-nobody".parse().unwrap());
    let error = client
        .update_device(&missing, IfMatch::ANY)
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::NotFound { .. }), "{error:?}");
    hub.shutdown().await;
}

#[tokio::test]
async fn deletes_check_the_etag_unless_forced() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "reg-delete").await;
    let stale = IfMatch::etag("MTIzNDU2").unwrap();
    let error = client.delete_device(&id, stale).await.unwrap_err();
    assert!(
        matches!(error, ServiceError::PreconditionFailed { .. }),
        "{error:?}"
    );

    let current = client.get_device(&id).await.unwrap();
    let etag = IfMatch::etag(current.etag.as_deref().unwrap()).unwrap();
    client.delete_device(&id, etag).await.unwrap();
    let gone = client.get_device(&id).await.unwrap_err();
    match gone {
        ServiceError::NotFound { resource, code, .. } => {
            assert_eq!(resource, Some(Resource::Device(id.clone())));
            assert_eq!(code, Some(ErrorCode::DeviceNotFound));
        }
        other => panic!("{other:?}"),
    }
    let twice = client.delete_device(&id, IfMatch::ANY).await.unwrap_err();
    assert!(matches!(twice, ServiceError::NotFound { .. }), "{twice:?}");

    let forced = create(&client, "reg-delete-forced").await;
    client.delete_device(&forced, IfMatch::ANY).await.unwrap();
    hub.shutdown().await;
}

#[tokio::test]
async fn ids_with_reserved_url_characters_reach_the_hub_intact() {
    let hub = hub().await;
    let client = owner(&hub);
    for text in ["odd%2F$(id)", "q?x=1", "plus+hash#", "semi;colon:'q'"] {
        let id = create(&client, text).await;
        assert_eq!(client.get_device(&id).await.unwrap().device_id, id);
        assert_eq!(client.get_twin(&id).await.unwrap().device_id(), text);
    }
    hub.shutdown().await;
}

#[tokio::test]
async fn list_and_statistics() {
    let hub = hub().await;
    let client = owner(&hub);
    for n in 0..5 {
        create(&client, &format!("list-{n}")).await;
    }
    assert_eq!(client.list_devices(None).await.unwrap().len(), 5);
    assert_eq!(client.list_devices(Some(2)).await.unwrap().len(), 2);
    for top in [0, MAX_LIST_DEVICES + 1] {
        let error = client.list_devices(Some(top)).await.unwrap_err();
        assert!(
            matches!(
                error,
                ServiceError::OutOfRange {
                    argument: "top",
                    ..
                }
            ),
            "{error:?}"
        );
    }

    let disabled = client
        .disable_device(&"list-0".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(disabled.status, Some(DeviceStatus::Disabled));
    let stats = client.registry_statistics().await.unwrap();
    assert_eq!(
        (
            stats.total_device_count,
            stats.enabled_device_count,
            stats.disabled_device_count
        ),
        (5, 4, 1)
    );

    assert_eq!(
        client
            .service_statistics()
            .await
            .unwrap()
            .connected_device_count,
        0
    );
    let id: DeviceId = "list-1".parse().unwrap();
    let device = MqttDevice::connect(&hub, &id).await;
    let connected = within(async {
        loop {
            let count = client
                .service_statistics()
                .await
                .unwrap()
                .connected_device_count;
            if count == 1 {
                return count;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(connected, 1);
    device.disconnect().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn enable_and_disable_round_trip() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "reg-toggle").await;
    let disabled = client.disable_device(&id).await.unwrap();
    assert_eq!(disabled.status, Some(DeviceStatus::Disabled));
    let again = client.disable_device(&id).await.unwrap();
    assert_eq!(again.etag, disabled.etag, "no write when already disabled");
    let enabled = client.enable_device(&id).await.unwrap();
    assert_eq!(enabled.status, Some(DeviceStatus::Enabled));
    assert_eq!(
        client.get_device(&id).await.unwrap().status,
        Some(DeviceStatus::Enabled)
    );
    let missing = client
        .enable_device(&"reg-none".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ServiceError::NotFound { .. }),
        "{missing:?}"
    );
    hub.shutdown().await;
}
