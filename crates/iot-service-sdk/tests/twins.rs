//! Twins through the SDK against the embedded hub: read, merge and replace with etags, typed
//! updates checked before sending, content the hub refuses, and desired changes reaching a
//! device connected over MQTT.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use iot_protocol::{ErrorCode, IfMatch};
use iot_service_sdk::{Resource, ServiceError, TwinUpdate};
use iot_twin::Etag;
use serde_json::{Value, json};
use support::{MqttDevice, create, hub, owner};

#[tokio::test]
async fn a_new_twin_reads_back() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "twin-new").await;
    let twin = client.get_twin(&id).await.unwrap();
    assert_eq!(twin.device_id(), "twin-new");
    assert_eq!(twin.etag(), Etag::INITIAL);
    assert_eq!(twin.desired().version().map(|v| v.get()), Some(1));
    assert!(twin.tags().is_empty());
    hub.shutdown().await;
}

#[tokio::test]
async fn merge_updates_with_and_without_etag() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "twin-merge").await;
    let twin = client.get_twin(&id).await.unwrap();

    let first = TwinUpdate::new()
        .desired(json!({"interval": 30, "mode": "eco"}))
        .tags(json!({"site": "north"}));
    let after = client
        .update_twin(&id, &first, twin.etag().into())
        .await
        .unwrap();
    assert_eq!(after.desired().content()["interval"], 30);
    assert_eq!(after.tags().content()["site"], "north");
    assert_eq!(after.desired().version().map(|v| v.get()), Some(2));
    assert_ne!(after.etag(), twin.etag());

    let stale = client
        .update_twin(&id, &first, twin.etag().into())
        .await
        .unwrap_err();
    match &stale {
        ServiceError::PreconditionFailed { etag, resource, .. } => {
            assert_eq!(etag.as_deref(), Some(twin.etag().as_str()));
            assert_eq!(resource.as_ref().and_then(Resource::device_id), Some(&id));
        }
        other => panic!("{other:?}"),
    }

    let delete_one = TwinUpdate::new().desired(json!({"mode": null}));
    let merged = client
        .update_twin(&id, &delete_one, IfMatch::ANY)
        .await
        .unwrap();
    assert_eq!(
        Value::Object(merged.desired().content().clone()),
        json!({"interval": 30})
    );
    assert_eq!(merged.tags().content()["site"], "north", "tags left alone");

    let clear = TwinUpdate::new().tags(Value::Null);
    let cleared = client.update_twin(&id, &clear, IfMatch::ANY).await.unwrap();
    assert!(cleared.tags().is_empty());
    hub.shutdown().await;
}

#[tokio::test]
async fn replace_puts_both_sections_in_place() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "twin-replace").await;
    let seed = TwinUpdate::new()
        .desired(json!({"a": 1, "b": 2}))
        .tags(json!({"t": 1}));
    let seeded = client.update_twin(&id, &seed, IfMatch::ANY).await.unwrap();

    let replacement = TwinUpdate::new().desired(json!({"c": 3}));
    let replaced = client
        .replace_twin(&id, &replacement, seeded.etag().into())
        .await
        .unwrap();
    assert_eq!(
        Value::Object(replaced.desired().content().clone()),
        json!({"c": 3})
    );
    assert!(
        replaced.tags().is_empty(),
        "a section left out becomes empty"
    );

    let stale = client
        .replace_twin(&id, &replacement, seeded.etag().into())
        .await
        .unwrap_err();
    assert!(
        matches!(stale, ServiceError::PreconditionFailed { .. }),
        "{stale:?}"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn invalid_updates_are_refused_before_sending() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "twin-invalid").await;
    let before = client.get_twin(&id).await.unwrap();
    for update in [
        TwinUpdate::new().desired(json!({"has space": 1})),
        TwinUpdate::new().desired(json!({"$version": 9})),
        TwinUpdate::new().tags(json!(["not", "an", "object"])),
    ] {
        let error = client
            .update_twin(&id, &update, IfMatch::ANY)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ServiceError::InvalidTwinUpdate(_)),
            "{error:?}"
        );
    }
    assert_eq!(client.get_twin(&id).await.unwrap().etag(), before.etag());
    hub.shutdown().await;
}

#[tokio::test]
async fn oversize_content_is_refused_by_the_hub() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "twin-big").await;
    // 40 properties of 1000 characters: each within the 4 KB property limit, together over
    // the 32 KB desired section.
    let big: serde_json::Map<String, Value> = (0..40)
        .map(|n| (format!("p{n}"), json!("x".repeat(1000))))
        .collect();
    let update = TwinUpdate::new().desired(Value::Object(big));
    let error = client
        .update_twin(&id, &update, IfMatch::ANY)
        .await
        .unwrap_err();
    match &error {
        ServiceError::BadRequest { code, .. } => {
            assert_eq!(
                *code,
                Some(ErrorCode::DeviceModelMaxPropertiesExceeded),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }

    // A body over the hub's request limit (256 KB) is refused before it is read.
    let huge = TwinUpdate::new().tags(json!({"blob": "y".repeat(300 * 1024)}));
    let error = client
        .update_twin(&id, &huge, IfMatch::ANY)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(413), "{error:?}");
    assert_eq!(
        client
            .get_twin(&id)
            .await
            .unwrap()
            .desired()
            .version()
            .map(|v| v.get()),
        Some(1)
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn missing_twins_are_not_found() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = "twin-nobody".parse().unwrap();
    let error = client.get_twin(&id).await.unwrap_err();
    assert!(
        matches!(
            error,
            ServiceError::NotFound {
                resource: Some(Resource::Device(_)),
                ..
            }
        ),
        "{error:?}"
    );
    let update = TwinUpdate::new().desired(json!({"a": 1}));
    let error = client
        .update_twin(&id, &update, IfMatch::ANY)
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some(ErrorCode::DeviceNotFound));
    hub.shutdown().await;
}

#[tokio::test]
async fn desired_changes_reach_the_connected_device() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "twin-device").await;
    let mut device = MqttDevice::connect(&hub, &id).await;

    let update = TwinUpdate::new().desired(json!({"fan": {"speed": 3}}));
    let twin = client
        .update_twin(&id, &update, IfMatch::ANY)
        .await
        .unwrap();
    let (version, body) = device.next_desired().await;
    assert_eq!(Some(version), twin.desired().version().map(|v| v.get()));
    assert_eq!(body["fan"], json!({"speed": 3}));
    assert_eq!(body["$version"], json!(version));

    let tags_only = TwinUpdate::new().tags(json!({"zone": 4}));
    client
        .update_twin(&id, &tags_only, IfMatch::ANY)
        .await
        .unwrap();
    let replacement = TwinUpdate::new().desired(json!({"mode": "off"}));
    client
        .replace_twin(&id, &replacement, IfMatch::ANY)
        .await
        .unwrap();
    let (next, body) = device.next_desired().await;
    assert_eq!(next, version + 1, "tags are never sent to the device");
    assert_eq!(body["mode"], "off");
    assert_eq!(body["fan"], Value::Null, "removed keys arrive as null");

    let reported = device.report(&json!({"fan": {"speed": 3}})).await;
    let twin = client.get_twin(&id).await.unwrap();
    assert_eq!(twin.reported().version().map(|v| v.get()), Some(reported));
    assert_eq!(twin.reported().content()["fan"]["speed"], 3);
    device.disconnect().await;
    hub.shutdown().await;
}
