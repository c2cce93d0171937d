//! Configurations end to end through the SDK against the embedded hub: create, read, update
//! under an etag, list, test queries and delete; two configurations on the same path, where the
//! higher priority wins and the lower applies once the higher is deleted; and metrics.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::future::Future;
use std::time::Duration;

use iot_hub::Hub;
use iot_protocol::{ConfigurationId, ConfigurationQueriesTestInput, DeviceId, ErrorCode, IfMatch};
use iot_service_sdk::{
    ConfigurationBuilder, ConfigurationContent, ConfigurationCounts, Resource, ServiceClient,
    ServiceError, TwinUpdate, field,
};
use serde_json::{Value, json};
use support::{MqttDevice, WAIT, create, hub_builder, owner};

/// A hub that evaluates configurations every 100 ms.
async fn hub() -> Hub {
    hub_builder()
        .configuration_interval(Duration::from_millis(100))
        .in_memory()
        .start()
        .await
        .unwrap()
}

/// Polls `check` every 20 ms until it returns `Some`, failing the test after [`WAIT`].
async fn eventually<T, Fut: Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> Fut,
) -> T {
    let waiting = async {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT, waiting)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn firmware(version: &str) -> ConfigurationContent {
    ConfigurationContent::device()
        .desired("properties.desired.firmware", json!({"version": version}))
}

async fn tag(service: &ServiceClient, id: &DeviceId, tags: Value) {
    service
        .update_twin(id, &TwinUpdate::new().tags(tags), IfMatch::ANY)
        .await
        .unwrap();
}

/// The twin's desired firmware and its `configurations` section, once `accept` holds.
async fn firmware_of(
    service: &ServiceClient,
    id: &DeviceId,
    accept: impl Fn(&Value, &Value) -> bool,
) -> (Value, Value) {
    eventually("the twin's firmware", || async {
        let twin = serde_json::to_value(service.get_twin(id).await.unwrap()).unwrap();
        let desired = twin["properties"]["desired"]["firmware"].clone();
        let configurations = twin["configurations"].clone();
        accept(&desired, &configurations).then_some((desired, configurations))
    })
    .await
}

#[tokio::test]
async fn configurations_are_created_read_updated_listed_and_deleted() {
    let hub = hub().await;
    let service = owner(&hub);
    let configuration = ConfigurationBuilder::new("fw-crud")
        .target_condition(field("tags.site").eq("lyon"))
        .priority(3)
        .label("team", "ops")
        .content(firmware("1.0"))
        .build()
        .unwrap();
    let created = service.create_configuration(&configuration).await.unwrap();
    assert_eq!(created.priority, Some(3));
    assert_eq!(created.labels["team"], "ops");
    let system = created.system_metrics.as_ref().unwrap();
    assert!(system.queries["targetedCount"].contains("tags.site = 'lyon'"));
    let error = service
        .create_configuration(&configuration)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ServiceError::AlreadyExists { .. }),
        "{error:?}"
    );

    let id: ConfigurationId = "fw-crud".parse().unwrap();
    let read = service.get_configuration(&id).await.unwrap();
    assert_eq!(read.content, configuration.content);
    let etag = read.etag.clone().unwrap();
    let mut changed = read.clone();
    changed.priority = Some(7);
    let updated = service
        .update_configuration(&changed, IfMatch::etag(&etag).unwrap())
        .await
        .unwrap();
    assert_eq!(updated.priority, Some(7));
    assert_ne!(updated.etag.as_deref(), Some(etag.as_str()));
    let stale = service
        .update_configuration(&changed, IfMatch::etag(&etag).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(stale, ServiceError::PreconditionFailed { .. }),
        "{stale:?}"
    );
    changed.priority = Some(8);
    let forced = service
        .update_configuration(&changed, IfMatch::ANY)
        .await
        .unwrap();
    assert_eq!(forced.priority, Some(8));
    let mut new_content = forced.clone();
    new_content.content = Some(firmware("1.1").to_wire().unwrap());
    let immutable = service
        .update_configuration(&new_content, IfMatch::ANY)
        .await
        .unwrap_err();
    assert!(
        matches!(immutable, ServiceError::BadRequest { status: 400, .. }),
        "{immutable:?}"
    );

    let second = ConfigurationBuilder::new("fw-other")
        .target_condition("*")
        .content(firmware("0.9"))
        .build()
        .unwrap();
    service.create_configuration(&second).await.unwrap();
    let listed = service.list_configurations(None).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["fw-crud", "fw-other"]);
    assert_eq!(service.list_configurations(Some(1)).await.unwrap().len(), 1);
    assert!(matches!(
        service.list_configurations(Some(0)).await,
        Err(ServiceError::OutOfRange { .. })
    ));

    let tested = service
        .test_configuration_queries(&ConfigurationQueriesTestInput {
            target_condition: Some("tags.site = ".to_owned()),
            custom_metric_queries: [
                ("good".to_owned(), "SELECT deviceId FROM devices".to_owned()),
                ("bad".to_owned(), "SELECT FROM".to_owned()),
            ]
            .into(),
        })
        .await
        .unwrap();
    assert!(tested.target_condition_error.is_some());
    assert!(tested.custom_metric_query_errors.contains_key("bad"));
    assert!(!tested.custom_metric_query_errors.contains_key("good"));

    service
        .delete_configuration(&id, IfMatch::ANY)
        .await
        .unwrap();
    let gone = service.get_configuration(&id).await.unwrap_err();
    assert!(
        matches!(&gone, ServiceError::NotFound { resource: Some(Resource::Configuration(named)), .. } if *named == id),
        "{gone:?}"
    );
    assert!(
        gone.to_string()
            .starts_with(&format!("configuration {:?} not found", id.as_str())),
        "{gone}"
    );
    assert_eq!(gone.error_code(), Some(ErrorCode::ConfigurationNotFound));
    hub.shutdown().await;
}

#[tokio::test]
async fn the_higher_priority_wins_and_the_lower_applies_once_it_is_deleted() {
    let hub = hub().await;
    let service = owner(&hub);
    let id = create(&service, "chiller-1").await;
    tag(&service, &id, json!({"devicetype": "chiller"})).await;
    let mut device = MqttDevice::connect(&hub, &id).await;

    let low = ConfigurationBuilder::new("fw-low")
        .target_condition("tags.devicetype = 'chiller'")
        .priority(1)
        .content(firmware("1.0"))
        .build()
        .unwrap();
    let high = ConfigurationBuilder::new("fw-high")
        .target_condition("*")
        .priority(10)
        .content(firmware("2.0"))
        .build()
        .unwrap();
    service.create_configuration(&low).await.unwrap();
    service.create_configuration(&high).await.unwrap();
    let (desired, configurations) = firmware_of(&service, &id, |fw, configs| {
        fw["version"] == "2.0" && configs["fw-low"]["status"] == "Targeted"
    })
    .await;
    assert_eq!(desired, json!({"version": "2.0"}));
    assert_eq!(configurations["fw-high"]["status"], "Applied");
    let (_, body) = device.next_desired().await;
    assert!(body.get("firmware").is_some(), "{body}");

    // The device sees each change; the last one it sees is the lower configuration's.
    service
        .delete_configuration(&"fw-high".parse().unwrap(), IfMatch::ANY)
        .await
        .unwrap();
    let (desired, configurations) = firmware_of(&service, &id, |fw, configs| {
        fw["version"] == "1.0" && configs["fw-low"]["status"] == "Applied"
    })
    .await;
    assert_eq!(desired, json!({"version": "1.0"}));
    assert!(configurations.get("fw-high").is_none(), "{configurations}");
    let last = loop {
        let (_, body) = device.next_desired().await;
        if body["firmware"]["version"] == "1.0" {
            break body;
        }
    };
    assert_eq!(last["firmware"], json!({"version": "1.0"}));
    device.disconnect().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn metrics_count_targeted_applied_and_custom_queries() {
    let hub = hub().await;
    let service = owner(&hub);
    let mut devices = Vec::new();
    for n in 0..3 {
        let id = create(&service, &format!("metric-{n}")).await;
        let site = if n < 2 { "lyon" } else { "oslo" };
        tag(&service, &id, json!({"site": site})).await;
        devices.push(id);
    }
    let configuration = ConfigurationBuilder::new("fw-metrics")
        .target_condition("tags.site = 'lyon'")
        .content(firmware("3.0"))
        .metric(
            "current",
            "SELECT deviceId FROM devices WHERE configurations.[[fw-metrics]].status = 'Applied' \
             AND properties.reported.firmware.version = '3.0'",
        )
        .build()
        .unwrap();
    service.create_configuration(&configuration).await.unwrap();
    let mut reporter = MqttDevice::connect(&hub, &devices[0]).await;
    reporter
        .report(&json!({"firmware": {"version": "3.0"}}))
        .await;

    let id: ConfigurationId = "fw-metrics".parse().unwrap();
    let counts = eventually("the metrics", || async {
        let read = service.get_configuration(&id).await.unwrap();
        let counts = ConfigurationCounts::of(&read);
        (counts.custom.get("current") == Some(&1)).then_some(counts)
    })
    .await;
    assert_eq!((counts.targeted, counts.applied), (Some(2), Some(2)));
    reporter.disconnect().await;
    hub.shutdown().await;
}
