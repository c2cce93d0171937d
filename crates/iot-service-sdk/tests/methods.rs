//! Direct methods through the SDK against the embedded hub and a device connected over MQTT:
//! a round trip, any device status, a device that is not online, one that does not answer,
//! an unknown device.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use iot_methods::MethodInvocation;
use iot_protocol::{DeviceId, ErrorCode};
use iot_service_sdk::{Resource, ServiceError};
use serde_json::json;
use support::{MqttDevice, create, hub, owner};

fn call(name: &str, payload: serde_json::Value) -> MethodInvocation {
    MethodInvocation::new(name.parse().unwrap(), payload).unwrap()
}

#[tokio::test]
async fn a_method_round_trip() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "m-round-trip").await;
    let mut device = MqttDevice::connect(&hub, &id).await;

    let invocation = call("reboot", json!({"delay": 5}));
    let pending = client.invoke_method(&id, &invocation);
    let device_side = async {
        let (name, payload, rid) = device.next_method().await;
        assert_eq!((name.as_str(), payload), ("reboot", json!({"delay": 5})));
        device.answer(rid, 200, &json!("Reboot started")).await;
    };
    let (result, ()) = tokio::join!(pending, device_side);
    let result = result.unwrap();
    assert_eq!(result.status(), 200);
    assert_eq!(result.payload(), &json!("Reboot started"));

    // The device's own status comes back as data, not as an error.
    let unknown = call("unknown", json!(null));
    let pending = client.invoke_method(&id, &unknown);
    let device_side = async {
        let (_, payload, rid) = device.next_method().await;
        assert_eq!(payload, json!(null));
        device
            .answer(rid, 404, &json!({"Response": "Unknown method"}))
            .await;
    };
    let (result, ()) = tokio::join!(pending, device_side);
    let result = result.unwrap();
    assert_eq!(
        (result.status(), result.payload()["Response"].as_str()),
        (404, Some("Unknown method"))
    );
    device.disconnect().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_device_that_is_not_online() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "m-offline").await;
    let error = client
        .invoke_method(&id, &call("ping", json!(null)))
        .await
        .unwrap_err();
    match &error {
        ServiceError::DeviceNotOnline { device_id } => assert_eq!(device_id, &id),
        other => panic!("{other:?}"),
    }
    assert_eq!(error.error_code(), Some(ErrorCode::DeviceNotOnline));

    // With a connect timeout, the hub waits for the device to come online.
    let invocation = call("ping", json!(1))
        .with_connect_timeout(Duration::from_secs(5))
        .unwrap();
    let pending = client.invoke_method(&id, &invocation);
    let device_side = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut device = MqttDevice::connect(&hub, &id).await;
        let (_, _, rid) = device.next_method().await;
        device.answer(rid, 200, &json!("late")).await;
        device
    };
    let (result, device) = tokio::join!(pending, device_side);
    assert_eq!(result.unwrap().payload(), &json!("late"));
    device.disconnect().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_device_that_does_not_answer() {
    let hub = hub().await;
    let client = owner(&hub);
    let id = create(&client, "m-silent").await;
    let mut device = MqttDevice::connect(&hub, &id).await;
    let invocation = call("hang", json!(null))
        .with_response_timeout(MethodInvocation::MIN_RESPONSE_TIMEOUT)
        .unwrap();
    let pending = client.invoke_method(&id, &invocation);
    let device_side = async {
        let (name, _, _) = device.next_method().await;
        assert_eq!(name, "hang");
    };
    let (result, ()) = tokio::join!(pending, device_side);
    let error = result.unwrap_err();
    match &error {
        ServiceError::DeviceTimeout { device_id } => assert_eq!(device_id, &id),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        (error.status(), error.error_code()),
        (Some(504), Some(ErrorCode::GatewayTimeout))
    );
    device.disconnect().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn an_unknown_device_is_not_found() {
    let hub = hub().await;
    let client = owner(&hub);
    let id: DeviceId = "m-nobody".parse().unwrap();
    let error = client
        .invoke_method(&id, &call("ping", json!(null)))
        .await
        .unwrap_err();
    match error {
        ServiceError::NotFound { resource, code, .. } => {
            assert_eq!(resource, Some(Resource::Device(id)));
            assert_eq!(code, Some(ErrorCode::DeviceNotFound));
        }
        other => panic!("{other:?}"),
    }
    hub.shutdown().await;
}
