//! The two SDKs together against the embedded hub: the back end writes desired properties and
//! the device's `DeviceClient` converges; the device reports and a query sees it; direct
//! methods round trip through a handler, find the device offline, or time out.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use iot_device_sdk::{DeviceClient, DeviceOptions, DeviceOptionsBuilder};
use iot_hub::Hub;
use iot_methods::{MethodInvocation, MethodResponse};
use iot_protocol::{DeviceId, IfMatch};
use iot_service_sdk::{Query, ServiceError, TwinUpdate, field};
use serde_json::json;
use support::{WAIT, create, hub, owner, within};

fn device_options(hub: &Hub, id: &DeviceId) -> DeviceOptionsBuilder {
    let connection_string = hub.device_connection_string(id).unwrap().to_secret_string();
    DeviceOptions::from_connection_string(&connection_string)
        .endpoint("127.0.0.1", hub.mqtt_addr().port())
        .insecure_plain_tcp()
        .operation_timeout(WAIT)
        .connect_timeout(WAIT)
}

#[tokio::test]
async fn desired_in_reported_out() {
    let hub = hub().await;
    let service = owner(&hub);
    let id = create(&service, "sdk-pair").await;
    let device = within(DeviceClient::connect(
        device_options(&hub, &id).build().unwrap(),
    ))
    .await
    .unwrap();
    let mut desired = device.desired_watch();
    within(desired.changed()).await.unwrap();

    let update = TwinUpdate::new().desired(json!({"telemetryInterval": 15}));
    let twin = service
        .update_twin(&id, &update, IfMatch::ANY)
        .await
        .unwrap();
    let seen = within(async {
        loop {
            let copy = desired.changed().await.unwrap();
            if copy.get("telemetryInterval").is_some() {
                return copy;
            }
        }
    })
    .await;
    assert_eq!(seen.get("telemetryInterval"), Some(&json!(15)));
    assert_eq!(Some(seen.version()), twin.desired().version());

    within(device.report(&json!({"telemetryInterval": 15, "firmware": {"status": "current"}})))
        .await
        .unwrap();
    let applied = Query::select(["deviceId", "properties.reported.telemetryInterval"])
        .where_(field("properties.reported.firmware.status").eq("current"));
    let rows = service
        .query(applied)
        .unwrap()
        .items()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(
        rows,
        [json!({"deviceId": "sdk-pair", "telemetryInterval": 15})]
    );
    within(device.close()).await;
    hub.shutdown().await;
}

#[tokio::test]
async fn methods_through_a_handler() {
    let hub = hub().await;
    let service = owner(&hub);
    let id = create(&service, "sdk-methods").await;
    let options = device_options(&hub, &id)
        .method("reboot", |request: iot_methods::MethodRequest| async move {
            Ok(MethodResponse::new(
                202,
                json!({"echo": request.payload().clone()}),
            ))
        })
        .method("hang", |_request| async {
            tokio::time::sleep(Duration::from_secs(8)).await;
            Ok(MethodResponse::ok(json!(null)))
        })
        .build()
        .unwrap();
    let device = within(DeviceClient::connect(options)).await.unwrap();

    let reboot = MethodInvocation::new("reboot".parse().unwrap(), json!({"in": 3})).unwrap();
    let answer = service.invoke_method(&id, &reboot).await.unwrap();
    assert_eq!(
        (answer.status(), answer.payload()),
        (202, &json!({"echo": {"in": 3}}))
    );

    let unknown = MethodInvocation::new("selfDestruct".parse().unwrap(), json!(null)).unwrap();
    let answer = service.invoke_method(&id, &unknown).await.unwrap();
    assert_eq!(answer.status(), iot_methods::NOT_IMPLEMENTED_STATUS);

    let hang = MethodInvocation::new("hang".parse().unwrap(), json!(null))
        .unwrap()
        .with_response_timeout(MethodInvocation::MIN_RESPONSE_TIMEOUT)
        .unwrap();
    let error = service.invoke_method(&id, &hang).await.unwrap_err();
    assert!(
        matches!(error, ServiceError::DeviceTimeout { .. }),
        "{error:?}"
    );

    within(device.close()).await;
    let error = service.invoke_method(&id, &reboot).await.unwrap_err();
    assert!(
        matches!(error, ServiceError::DeviceNotOnline { .. }),
        "{error:?}"
    );
    hub.shutdown().await;
}
