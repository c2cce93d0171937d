//! The HTTP behaviour of the client against a scripted stand-in for the hub: what is retried
//! and how often, `Retry-After`, what never reaches the hub, the headers sent, client-side
//! timeouts, refused connections, and answers that are not IoT Hub's.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use iot_methods::MethodInvocation;
use iot_protocol::{Device, DeviceId, ErrorCode, IfMatch, SasToken};
use iot_service_sdk::{API_VERSION, RetryPolicy, ServiceClient, ServiceError, TwinUpdate};
use serde_json::json;
use support::fake::{Answer, FakeHub};
use support::within;

const CONNECTION_STRING: &str = "HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;\
     SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn client(fake: &FakeHub, retries: u32) -> ServiceClient {
    ServiceClient::builder(CONNECTION_STRING)
        .endpoint_addr(fake.addr)
        .plain_http()
        .request_timeout(Duration::from_secs(10))
        .retry_policy(
            RetryPolicy::new(retries, Duration::from_millis(5), Duration::from_millis(50)).unwrap(),
        )
        .build()
        .unwrap()
}

fn device_json(id: &str) -> String {
    json!({"deviceId": id, "etag": "MQ==", "status": "enabled"}).to_string()
}

fn id() -> DeviceId {
    "d1".parse().unwrap()
}

#[tokio::test]
async fn reads_retry_server_errors_and_sign_every_attempt() {
    let fake = FakeHub::start(vec![
        Answer::json(503, "{}"),
        Answer::json(500, "{}"),
        Answer::json(200, &device_json("d1")),
    ])
    .await;
    let device = within(client(&fake, 3).get_device(&id())).await.unwrap();
    assert_eq!(device.device_id, id());
    let received = fake.received();
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_eq!(request.method, "GET");
        assert_eq!(
            request.target,
            format!("/devices/d1?api-version={API_VERSION}")
        );
        let token: SasToken = request.header("authorization").unwrap().parse().unwrap();
        assert_eq!(token.policy_name(), Some("iothubowner"));
        assert_eq!(token.resource().as_str(), "myhub.azure-devices.net");
    }
}

#[tokio::test]
async fn retries_stop_at_the_policy_limit() {
    let fake = FakeHub::start(vec![Answer::json(503, "{}"); 5]).await;
    let error = within(client(&fake, 2).get_device(&id()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ServiceError::Server { status: 503, .. }),
        "{error:?}"
    );
    assert_eq!(fake.received().len(), 3);
}

#[tokio::test]
async fn throttling_honours_retry_after() {
    let retry_now = Answer::Reply(429, vec![("retry-after", "0".into())], "{}".into());
    let fake = FakeHub::start(vec![
        retry_now,
        Answer::json(200, "{\"totalDeviceCount\":3}"),
    ])
    .await;
    let stats = within(client(&fake, 2).registry_statistics())
        .await
        .unwrap();
    assert_eq!(stats.total_device_count, 3);
    assert_eq!(fake.received().len(), 2);

    // Advice beyond the policy's longest backoff is handed to the caller instead of waited.
    let wait_an_hour = Answer::Reply(
        429,
        vec![
            ("retry-after", "3600".into()),
            ("iothub-errorcode", "ThrottlingException".into()),
        ],
        "{}".into(),
    );
    let fake = FakeHub::start(vec![wait_an_hour]).await;
    let error = within(client(&fake, 2).registry_statistics())
        .await
        .unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(error.error_code(), Some(ErrorCode::ThrottlingException));
    assert!(error.is_retryable());
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn writes_that_may_have_happened_are_not_retried() {
    let fake = FakeHub::start(vec![
        Answer::json(503, "{}"),
        Answer::json(200, &device_json("d1")),
    ])
    .await;
    let error = within(client(&fake, 3).create_device(&Device::new(id())))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ServiceError::Server { status: 503, .. }),
        "{error:?}"
    );
    assert_eq!(fake.received().len(), 1, "a create is not repeated");

    let fake = FakeHub::start(vec![Answer::json(503, "{}"), Answer::json(200, "{}")]).await;
    let update = TwinUpdate::new().desired(json!({"a": 1}));
    let error = within(client(&fake, 3).update_twin(&id(), &update, IfMatch::ANY))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(fake.received().len(), 1, "a twin patch is not repeated");

    let fake = FakeHub::start(vec![
        Answer::json(500, "{}"),
        Answer::json(200, "{\"status\":200}"),
    ])
    .await;
    let call = MethodInvocation::new("reboot".parse().unwrap(), json!(null)).unwrap();
    let error = within(client(&fake, 3).invoke_method(&id(), &call))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(fake.received().len(), 1, "a method call is never repeated");
}

#[tokio::test]
async fn conditional_puts_and_deletes_are_retried() {
    let fake = FakeHub::start(vec![
        Answer::json(503, "{}"),
        Answer::json(200, &device_json("d1")),
        Answer::json(502, "{}"),
        Answer::Reply(204, Vec::new(), String::new()),
    ])
    .await;
    let client = client(&fake, 3);
    let device: Device = serde_json::from_str(&device_json("d1")).unwrap();
    within(client.update_device(&device, IfMatch::etag("MQ==").unwrap()))
        .await
        .unwrap();
    within(client.delete_device(&id(), IfMatch::ANY))
        .await
        .unwrap();
    let received = fake.received();
    assert_eq!(received.len(), 4);
    assert_eq!(received[1].header("if-match"), Some("\"MQ==\""));
    assert_eq!(received[3].method, "DELETE");
    assert_eq!(received[3].header("if-match"), Some("*"));
}

/// A twin whose etag is not in the form our hub writes (here base64 of seven bytes).
fn twin_with_an_odd_etag() -> serde_json::Value {
    json!({
        "deviceId": "d1", "etag": "ODgxNTgwOA==", "version": 5, "status": "enabled",
        "properties": {
            "desired": {"$metadata": {"$lastUpdated": "2021-09-06T08:52:44.9300429Z"}, "$version": 3},
            "reported": {"$metadata": {"$lastUpdated": "2021-09-06T08:52:44.9300429Z"}, "$version": 2}
        }
    })
}

#[tokio::test]
async fn twins_with_etags_of_another_form_are_read_and_matched_verbatim() {
    let body = twin_with_an_odd_etag().to_string();
    let fake = FakeHub::start(vec![Answer::json(200, &body), Answer::json(200, &body)]).await;
    let client = client(&fake, 0);
    let twin = within(client.get_twin(&id())).await.unwrap();
    assert_eq!(
        (twin.etag().as_str(), twin.etag().counter()),
        ("ODgxNTgwOA==", None)
    );
    assert_eq!(
        serde_json::to_value(&twin).unwrap(),
        twin_with_an_odd_etag()
    );
    let update = TwinUpdate::new().tags(json!({"site": "north"}));
    within(client.update_twin(&id(), &update, twin.etag().into()))
        .await
        .unwrap();
    assert_eq!(
        fake.received()[1].header("if-match"),
        Some("\"ODgxNTgwOA==\"")
    );
}

#[tokio::test]
async fn invalid_input_never_reaches_the_hub() {
    let fake = FakeHub::start(Vec::new()).await;
    let client = client(&fake, 3);
    assert!(client.query("SELECT * FROM devices WHERE").is_err());
    let bad = TwinUpdate::new().desired(json!({"a b": 1}));
    assert!(
        within(client.update_twin(&id(), &bad, IfMatch::ANY))
            .await
            .is_err()
    );
    assert!(
        within(client.replace_twin(&id(), &bad, IfMatch::ANY))
            .await
            .is_err()
    );
    assert!(within(client.list_devices(Some(0))).await.is_err());
    let projection = client.query("SELECT deviceId FROM devices").unwrap();
    assert!(within(projection.twins().next()).await.unwrap().is_err());

    // Malformed ids and oversize method payloads cannot even be built.
    let bad_id = ServiceError::from("has space".parse::<DeviceId>().unwrap_err());
    assert!(
        matches!(bad_id, ServiceError::InvalidArgument(_)),
        "{bad_id:?}"
    );
    assert!(bad_id.to_string().contains("\"has space\""), "{bad_id}");
    let big = json!("x".repeat(iot_methods::payload::MAX_PAYLOAD_BYTES));
    assert!(MethodInvocation::new("m".parse().unwrap(), big).is_err());
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn query_pages_send_the_paging_headers() {
    let fake = FakeHub::start(vec![
        Answer::Reply(
            200,
            vec![
                ("x-ms-continuation", "page2".into()),
                ("x-ms-item-type", "Raw".into()),
            ],
            r#"[{"deviceId":"a"}]"#.into(),
        ),
        Answer::Reply(
            200,
            vec![("x-ms-item-type", "Raw".into())],
            r#"[{"deviceId":"b"}]"#.into(),
        ),
    ])
    .await;
    let items = within(
        client(&fake, 0)
            .query("SELECT deviceId FROM devices")
            .unwrap()
            .page_size(1)
            .items()
            .collect_all(),
    )
    .await
    .unwrap();
    assert_eq!(items, [json!({"deviceId": "a"}), json!({"deviceId": "b"})]);
    let received = fake.received();
    assert_eq!(received.len(), 2);
    for request in &received {
        assert_eq!(request.method, "POST");
        assert!(request.target.starts_with("/devices/query?"));
        assert_eq!(request.header("x-ms-max-item-count"), Some("1"));
        assert_eq!(
            request.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body, json!({"query": "SELECT deviceId FROM devices"}));
    }
    assert_eq!(received[0].header("x-ms-continuation"), None);
    assert_eq!(received[1].header("x-ms-continuation"), Some("page2"));
}

#[tokio::test]
async fn method_calls_carry_their_timeouts() {
    let fake = FakeHub::start(vec![Answer::json(
        200,
        r#"{"status":201,"payload":{"ok":true}}"#,
    )])
    .await;
    let call = MethodInvocation::new("reboot".parse().unwrap(), json!({"in": 5}))
        .unwrap()
        .with_response_timeout(Duration::from_secs(12))
        .unwrap();
    let result = within(client(&fake, 3).invoke_method(&id(), &call))
        .await
        .unwrap();
    assert_eq!(
        (result.status(), result.payload()),
        (201, &json!({"ok": true}))
    );
    let received = fake.received();
    assert_eq!(
        received[0].target,
        format!("/twins/d1/methods?api-version={API_VERSION}")
    );
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        body,
        json!({"methodName": "reboot", "payload": {"in": 5},
               "responseTimeoutInSeconds": 12, "connectTimeoutInSeconds": 0})
    );
}

#[tokio::test]
async fn a_silent_hub_times_out_on_the_client() {
    let fake = FakeHub::start(vec![Answer::Silent]).await;
    let client = ServiceClient::builder(CONNECTION_STRING)
        .endpoint_addr(fake.addr)
        .plain_http()
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = within(client.get_device(&id())).await.unwrap_err();
    assert!(
        matches!(error, ServiceError::RequestTimeout { after } if after == Duration::from_millis(300)),
        "{error:?}"
    );
    assert_eq!(fake.received().len(), 1, "a timeout is not retried");
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = ServiceClient::builder(CONNECTION_STRING)
        .endpoint_addr(addr)
        .plain_http()
        .retry_policy(
            RetryPolicy::new(1, Duration::from_millis(1), Duration::from_millis(5)).unwrap(),
        )
        .build()
        .unwrap();
    let error = within(client.create_device(&Device::new(id())))
        .await
        .unwrap_err();
    match &error {
        ServiceError::Connect { endpoint, .. } => assert_eq!(endpoint, &format!("http://{addr}")),
        other => panic!("{other:?}"),
    }
    assert!(error.is_retryable());
}

#[tokio::test]
async fn answers_that_are_not_iot_hubs() {
    let fake = FakeHub::start(vec![
        Answer::json(200, "not json"),
        Answer::Reply(
            404,
            vec![("iothub-errorcode", "DeviceNotFound".into())],
            "nope".into(),
        ),
        Answer::json(200, r#"{"deviceId":"d1"}"#),
    ])
    .await;
    let client = client(&fake, 0);
    let error = within(client.get_device(&id())).await.unwrap_err();
    assert!(matches!(error, ServiceError::Protocol { .. }), "{error:?}");
    let error = within(client.get_device(&id())).await.unwrap_err();
    match error {
        ServiceError::NotFound { code, message, .. } => {
            assert_eq!(code, Some(ErrorCode::DeviceNotFound));
            assert_eq!(message, "nope");
        }
        other => panic!("{other:?}"),
    }
    let query = client.query("SELECT * FROM devices").unwrap();
    let error = within(query.pages().next()).await.unwrap().unwrap_err();
    assert!(error.to_string().contains("JSON array"), "{error}");
}
