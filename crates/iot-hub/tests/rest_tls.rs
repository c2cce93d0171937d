//! The REST API over HTTPS with the development CA, as the official service SDKs reach it
//! (PROTOCOL 14): the same certificate as MQTT, verified for `localhost`.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod rest_support;

use std::time::Duration;

use iot_hub::{DevCerts, Hub};
use reqwest::Method;
use rest_support::{Rest, create_device, http_client};
use serde_json::json;

async fn tls_hub(certs: &DevCerts) -> Hub {
    Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse().unwrap())
        .rest_addr("127.0.0.1:0".parse().unwrap())
        .tls(certs.tls_config().unwrap())
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn https_with_the_dev_ca_serves_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let certs = DevCerts::load_or_create(dir.path()).unwrap();
    let hub = tls_hub(&certs).await;
    let port = hub.rest_addr().port();
    let rest = Rest::over(
        http_client(Some(certs.ca_pem())),
        format!("https://localhost:{port}"),
        &hub,
    );
    create_device(&rest, "d1").await;
    let twin = rest
        .json(
            Method::PATCH,
            "/twins/d1",
            &[("If-Match", "\"*\"")],
            &json!({"properties": {"desired": {"a": 1}}}),
        )
        .await
        .ok();
    assert_eq!(twin["properties"]["desired"]["a"], 1);
    let https_by_ip = Rest::over(
        http_client(Some(certs.ca_pem())),
        format!("https://127.0.0.1:{port}"),
        &hub,
    );
    https_by_ip.get("/devices/d1").await.ok();
    hub.shutdown().await;
}

#[tokio::test]
async fn plain_http_and_untrusted_clients_get_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let certs = DevCerts::load_or_create(dir.path()).unwrap();
    let hub = tls_hub(&certs).await;
    let port = hub.rest_addr().port();
    let untrusted = http_client(None)
        .get(format!("https://localhost:{port}/devices"))
        .send()
        .await;
    assert!(
        untrusted.is_err(),
        "a client without the CA must not connect"
    );
    let plain = http_client(None)
        .get(format!("http://127.0.0.1:{port}/devices"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain HTTP on the TLS port must fail: {plain:?}"
    );
    hub.shutdown().await;
}
