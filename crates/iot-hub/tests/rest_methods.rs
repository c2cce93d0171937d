//! Direct methods over REST (PROTOCOL 4.2) to devices connected over MQTT: the round trip,
//! a device that connects within the connect timeout, and every error in the JSON-in-Message
//! shape the real hub uses for methods.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod rest_support;
mod support;

use std::time::Duration;

use iot_protocol::ErrorCode;
use reqwest::Method;
use rest_support::{Answer, Rest, create_device, hub};
use rumqttc::mqttbytes::v4::Publish;
use serde_json::{Value, json};
use support::Client;

async fn call(rest: &Rest, id: &str, body: &Value) -> Answer {
    rest.json(Method::POST, &format!("/twins/{id}/methods"), &[], body)
        .await
}

/// The request id of a method request publish.
fn rid(request: &Publish) -> String {
    request.topic.rsplit('=').next().unwrap().to_owned()
}

/// A connected device subscribed to method requests.
async fn online(hub: &iot_hub::Hub, id: &str) -> Client {
    let id = id.parse().unwrap();
    let (mut client, _) = Client::device(hub, &id, true).await;
    client.subscribe(&["$iothub/methods/POST/#"]).await;
    client
}

#[tokio::test]
async fn a_call_round_trips_to_the_device() {
    let hub = hub().await;
    let rest = Rest::service(&hub);
    create_device(&Rest::owner(&hub), "d1").await;
    let mut client = online(&hub, "d1").await;

    // What the Node service SDK sends: all four fields plus an old sample's extra one.
    let body = json!({"methodName": "reboot", "payload": {"delay": 5},
        "responseTimeoutInSeconds": 30, "connectTimeoutInSeconds": 0, "timeoutInSeconds": 9});
    let device_side = async {
        let request = client.recv_publish().await;
        assert!(
            request
                .topic
                .starts_with("$iothub/methods/POST/reboot/?$rid=")
        );
        let payload: Value = serde_json::from_slice(&request.payload).unwrap();
        assert_eq!(payload, json!({"delay": 5}));
        let answer = format!("$iothub/methods/res/201/?$rid={}", rid(&request));
        client.publish(&answer, br#""Reboot started""#).await;
    };
    let (answer, ()) = tokio::join!(call(&rest, "d1", &body), device_side);
    assert_eq!(
        answer.ok(),
        json!({"status": 201, "payload": "Reboot started"})
    );

    // A null payload reaches the device as `null`; a device error status is still HTTP 200.
    let device_side = async {
        let request = client.recv_publish().await;
        assert_eq!(&request.payload[..], b"null");
        let answer = format!("$iothub/methods/res/500/?$rid={}", rid(&request));
        client.publish(&answer, b"").await;
    };
    let body = json!({"methodName": "fail"});
    let (answer, ()) = tokio::join!(call(&rest, "d1", &body), device_side);
    assert_eq!(answer.ok(), json!({"status": 500, "payload": null}));
}

#[tokio::test]
async fn a_device_that_connects_within_the_connect_timeout_gets_the_call() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "late").await;
    let body = json!({"methodName": "ping", "connectTimeoutInSeconds": 10});
    let device_side = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut client = online(&hub, "late").await;
        let request = client.recv_publish().await;
        let answer = format!("$iothub/methods/res/200/?$rid={}", rid(&request));
        client.publish(&answer, b"{}").await;
    };
    let (answer, ()) = tokio::join!(call(&rest, "late", &body), device_side);
    assert_eq!(answer.ok(), json!({"status": 200, "payload": {}}));
}

#[tokio::test]
async fn offline_unknown_and_silent_devices() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let body = json!({"methodName": "reboot", "responseTimeoutInSeconds": 5});

    let offline = call(&rest, "d1", &body).await;
    let message = offline.expect_error(ErrorCode::DeviceNotOnline);
    assert_eq!(message, "Timed out waiting for device to connect.");
    assert!(!offline.is_legacy_error());

    let id = "d1".parse().unwrap();
    let (mut unsubscribed, _) = Client::device(&hub, &id, true).await;
    call(&rest, "d1", &body)
        .await
        .expect_error(ErrorCode::DeviceNotOnline);

    let missing = call(&rest, "ghost", &body).await;
    missing.expect_error(ErrorCode::DeviceNotFound);
    assert!(!missing.is_legacy_error());

    unsubscribed.subscribe(&["$iothub/methods/POST/#"]).await;
    let silent = async {
        let request = unsubscribed.recv_publish().await;
        assert!(request.topic.starts_with("$iothub/methods/POST/reboot/"));
    };
    let (timeout, ()) = tokio::join!(call(&rest, "d1", &body), silent);
    let message = timeout.expect_error(ErrorCode::GatewayTimeout);
    assert_eq!(message, "Timed out waiting for the response from device.");
    assert_eq!(timeout.status, 504);
    assert!(!timeout.is_legacy_error());
}

#[tokio::test]
async fn bad_invocations_are_refused_before_reaching_the_device() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let mut client = online(&hub, "d1").await;
    let cases: [(&[u8], ErrorCode); 5] = [
        (b"{\"methodName\":", ErrorCode::IotHubFormatError),
        (b"{}", ErrorCode::ArgumentInvalid),
        (br#"{"methodName":"a/b"}"#, ErrorCode::ArgumentInvalid),
        (
            br#"{"methodName":"m","responseTimeoutInSeconds":301}"#,
            ErrorCode::ArgumentInvalid,
        ),
        (
            br#"{"methodName":"m","connectTimeoutInSeconds":-1}"#,
            ErrorCode::ArgumentInvalid,
        ),
    ];
    for (body, code) in cases {
        let answer = rest.raw(Method::POST, "/twins/d1/methods", body).await;
        answer.expect_error(code);
        assert!(!answer.is_legacy_error());
    }
    let limit = iot_methods::payload::MAX_PAYLOAD_BYTES;
    let over = json!({"methodName": "m", "payload": "x".repeat(limit)});
    let answer = call(&rest, "d1", &over).await;
    answer.expect_error(ErrorCode::MessageTooLarge);
    assert!(!answer.is_legacy_error());
    let far_over = json!({"methodName": "m", "payload": "x".repeat(2 * limit)});
    call(&rest, "d1", &far_over)
        .await
        .expect_error(ErrorCode::MessageTooLarge);
    client.assert_quiet("no request reached the device").await;
}

#[tokio::test]
async fn a_payload_at_the_limit_goes_through() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let mut client = online(&hub, "d1").await;
    let limit = iot_methods::payload::MAX_PAYLOAD_BYTES;
    // The payload's JSON text is the string's characters plus its two quotes.
    let body = json!({"methodName": "big", "payload": "x".repeat(limit - 2)});
    let device_side = async {
        let request = client.recv_publish().await;
        assert_eq!(request.payload.len(), limit);
        let answer = format!("$iothub/methods/res/200/?$rid={}", rid(&request));
        client.publish(&answer, b"1").await;
    };
    let (answer, ()) = tokio::join!(call(&rest, "d1", &body), device_side);
    assert_eq!(answer.ok(), json!({"status": 200, "payload": 1}));
}
