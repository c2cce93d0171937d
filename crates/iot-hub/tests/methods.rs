//! Direct methods (PROTOCOL 4.1): round trip, device not online, timeout.

mod support;

use std::time::Duration;

use iot_hub::MethodCallError;
use iot_methods::MethodInvocation;
use serde_json::json;
use support::{Client, device, hub};

fn reboot(payload: serde_json::Value) -> MethodInvocation {
    let name = "reboot".parse().expect("a valid method name");
    MethodInvocation::new(name, payload).expect("a valid invocation")
}

#[tokio::test]
async fn a_call_reaches_the_device_and_returns_its_answer() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, false).await;
    client.subscribe(&["$iothub/methods/POST/#"]).await;

    let call = hub.invoke_method(&id, reboot(json!(null)));
    let device_side = async {
        let request = client.recv_publish().await;
        assert!(
            request
                .topic
                .starts_with("$iothub/methods/POST/reboot/?$rid=")
        );
        assert_eq!(&request.payload[..], b"null");
        let rid = request.topic.rsplit('=').next().unwrap().to_owned();
        let response = format!("$iothub/methods/res/200/?$rid={rid}");
        client.publish(&response, br#""Reboot started""#).await;
    };
    let (result, ()) = tokio::join!(call, device_side);
    let result = result.unwrap();
    assert_eq!(
        (result.status(), result.payload()),
        (200, &json!("Reboot started"))
    );

    let call = hub.invoke_method(&id, reboot(json!({"delay": 5})));
    let device_side = async {
        let request = client.recv_publish().await;
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&request.payload).unwrap(),
            json!({"delay": 5})
        );
        let rid = request.topic.rsplit('=').next().unwrap().to_owned();
        client
            .publish(&format!("$iothub/methods/res/404/?$rid={rid}"), b"")
            .await;
    };
    let (result, ()) = tokio::join!(call, device_side);
    let result = result.unwrap();
    assert_eq!((result.status(), result.payload()), (404, &json!(null)));
    hub.shutdown().await;
}

#[tokio::test]
async fn a_device_not_connected_or_not_subscribed_is_not_online() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let error = hub
        .invoke_method(&id, reboot(json!(null)))
        .await
        .unwrap_err();
    assert_eq!(error, MethodCallError::DeviceNotOnline);
    assert_eq!(error.code().number(), 404_103);

    let (_client, _) = Client::device(&hub, &id, false).await;
    let error = hub
        .invoke_method(&id, reboot(json!(null)))
        .await
        .unwrap_err();
    assert_eq!(error, MethodCallError::DeviceNotOnline);

    let ghost = "ghost".parse().unwrap();
    let error = hub
        .invoke_method(&ghost, reboot(json!(null)))
        .await
        .unwrap_err();
    assert!(matches!(error, MethodCallError::DeviceNotFound { .. }));
    hub.shutdown().await;
}

#[tokio::test]
async fn a_call_waits_for_the_device_to_connect_within_the_connect_timeout() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let invocation = reboot(json!(1))
        .with_connect_timeout(Duration::from_secs(20))
        .unwrap();
    let call = hub.invoke_method(&id, invocation);
    let device_side = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (mut client, _) = Client::device(&hub, &id, false).await;
        client.subscribe(&["$iothub/methods/POST/#"]).await;
        let request = client.recv_publish().await;
        let rid = request.topic.rsplit('=').next().unwrap().to_owned();
        client
            .publish(&format!("$iothub/methods/res/201/?$rid={rid}"), b"{}")
            .await;
    };
    let (result, ()) = tokio::join!(call, device_side);
    assert_eq!(result.unwrap().status(), 201);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_device_that_does_not_answer_times_out() {
    let hub = hub().await;
    let id = device(&hub, "d1").await;
    let (mut client, _) = Client::device(&hub, &id, false).await;
    client.subscribe(&["$iothub/methods/POST/#"]).await;
    let invocation = reboot(json!(null))
        .with_response_timeout(MethodInvocation::MIN_RESPONSE_TIMEOUT)
        .unwrap();
    let call = tokio::time::timeout(Duration::from_secs(30), hub.invoke_method(&id, invocation));
    let (result, request) = tokio::join!(call, client.recv_publish());
    assert!(request.topic.starts_with("$iothub/methods/POST/reboot/"));
    let error = result.expect("the hub ends the call").unwrap_err();
    assert_eq!(error, MethodCallError::Timeout);
    assert_eq!(error.code().number(), 504_101);
    hub.shutdown().await;
}
