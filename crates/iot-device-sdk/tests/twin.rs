//! Twin operations against the embedded hub: reading, reporting, desired properties as a
//! stream, a watch and typed values.

mod support;

use iot_device_sdk::{ConnectionState, DeviceClient, Error};
use iot_twin::Patch;
use serde::Deserialize;
use serde_json::json;
use support::{connect, device, hub, next, options, stop, within};

fn patch(value: serde_json::Value) -> Patch {
    Patch::from_value(value).expect("a valid patch")
}

#[tokio::test]
async fn reads_the_twin_and_reports_with_versions() {
    let hub = hub().await;
    let id = device(&hub, "twin-basic").await;
    hub.twins()
        .update_desired(&id, patch(json!({"interval": 30})))
        .await
        .unwrap();
    let client = connect(&hub, &id).await;
    assert_eq!(client.state(), ConnectionState::Ready);
    let twin = client.get_twin().await.unwrap();
    assert_eq!(twin.desired().version().get(), 2);
    assert_eq!(twin.desired().content()["interval"], 30);
    assert_eq!(twin.reported().version().get(), 1);

    let first = client
        .update_reported(patch(json!({"firmware": {"version": "1.0"}})))
        .await
        .unwrap();
    let second = client
        .report(&json!({"firmware": {"state": "ok"}}))
        .await
        .unwrap();
    assert_eq!((first.get(), second.get()), (2, 3));
    let stored = hub.twins().get(&id).unwrap();
    assert_eq!(
        serde_json::Value::Object(stored.reported().content().clone()),
        json!({"firmware": {"version": "1.0", "state": "ok"}})
    );
    let twin = client.get_twin().await.unwrap();
    assert_eq!(twin.reported().version(), second);
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn invalid_reported_patches_are_refused_before_sending() {
    let hub = hub().await;
    let id = device(&hub, "twin-invalid").await;
    let client = connect(&hub, &id).await;
    let error = client
        .report(&json!({"a": {"b": 1u64 << 60}}))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidPatch(_)), "{error:?}");
    assert!(matches!(
        client.report(&json!([1])).await,
        Err(Error::InvalidPatch(_))
    ));
    assert!(matches!(
        client.report(&json!({"big": "x".repeat(40_000)})).await,
        Err(Error::InvalidPatch(_) | Error::ReportedBacklogFull { .. })
    ));
    assert_eq!(
        hub.twins()
            .get(&id)
            .unwrap()
            .reported()
            .version()
            .map(|v| v.get()),
        Some(1)
    );
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn desired_changes_arrive_as_a_stream_and_a_watch() {
    let hub = hub().await;
    let id = device(&hub, "twin-desired").await;
    hub.twins()
        .update_desired(&id, patch(json!({"fan": {"rpm": 900}})))
        .await
        .unwrap();
    let client = DeviceClient::start(options(&hub, &id).build().unwrap()).unwrap();
    let mut changes = client.desired_changes();
    let mut watch = client.desired_watch();

    let first = next("the first desired update", &mut changes).await;
    assert_eq!(first.version().get(), 2);
    assert_eq!(
        first.patch().as_map(),
        json!({"fan": {"rpm": 900}}).as_object().unwrap()
    );
    assert_eq!(
        within("the watch", watch.changed())
            .await
            .unwrap()
            .version()
            .get(),
        2
    );

    hub.twins()
        .update_desired(&id, patch(json!({"fan": {"rpm": 1200}, "led": "on"})))
        .await
        .unwrap();
    let second = next("the second desired update", &mut changes).await;
    assert_eq!(second.version().get(), 3);
    assert_eq!(
        second.patch().as_map(),
        json!({"fan": {"rpm": 1200}, "led": "on"})
            .as_object()
            .unwrap()
    );
    let seen = within("the watch", watch.changed()).await.unwrap();
    assert_eq!(seen.get("led"), Some(&json!("on")));

    hub.twins()
        .update_desired(&id, patch(json!({"led": null})))
        .await
        .unwrap();
    let third = next("the deletion", &mut changes).await;
    assert_eq!(
        third.patch().as_map(),
        json!({"led": null}).as_object().unwrap()
    );
    assert_eq!(third.properties().get("led"), None);

    client.close().await;
    assert!(
        within(
            "the end of the stream",
            futures_util::StreamExt::next(&mut changes)
        )
        .await
        .is_none()
    );
    stop(hub).await;
}

#[tokio::test]
async fn desired_properties_convert_to_application_types() {
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Settings {
        telemetry_interval: u32,
        #[serde(default)]
        climate: Option<Climate>,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Climate {
        min_temperature: f64,
    }
    let hub = hub().await;
    let id = device(&hub, "twin-typed").await;
    hub.twins()
        .update_desired(
            &id,
            patch(json!({"telemetryInterval": 5, "climate": {"minTemperature": 18.5}})),
        )
        .await
        .unwrap();
    let client = DeviceClient::start(options(&hub, &id).build().unwrap()).unwrap();
    let settings: Settings = within("typed desired", client.desired()).await.unwrap();
    assert_eq!(
        settings,
        Settings {
            telemetry_interval: 5,
            climate: Some(Climate {
                min_temperature: 18.5
            })
        }
    );
    let wrong = client.desired::<Vec<u8>>().await.unwrap_err();
    assert!(matches!(wrong, Error::Serde { .. }), "{wrong:?}");
    client.close().await;
    stop(hub).await;
}
