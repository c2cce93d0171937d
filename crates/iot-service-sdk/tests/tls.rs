//! HTTPS against the embedded hub serving its generated development certificate: trusting its
//! CA alone or with the platform's roots, by host name and by IP, and refusing a hub whose CA
//! is not trusted.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use iot_hub::{DevCerts, Hub};
use iot_protocol::Device;
use iot_service_sdk::{RetryPolicy, ServiceClient, ServiceClientBuilder, ServiceError};

async fn tls_hub(certs: &DevCerts) -> Hub {
    Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse().unwrap())
        .rest_addr("127.0.0.1:0".parse().unwrap())
        .tls(certs.tls_config().unwrap())
        .in_memory()
        .start()
        .await
        .unwrap()
}

fn builder(hub: &Hub, host: &str) -> ServiceClientBuilder {
    let connection_string = hub.service_connection_string().unwrap().to_secret_string();
    ServiceClient::builder(&connection_string)
        .endpoint(format!("{host}:{}", hub.rest_addr().port()))
        .request_timeout(support::WAIT)
        .retry_policy(RetryPolicy::never())
}

#[tokio::test]
async fn https_with_the_dev_ca() {
    let dir = tempfile::tempdir().unwrap();
    let certs = DevCerts::load_or_create(dir.path()).unwrap();
    let hub = tls_hub(&certs).await;

    let only_dev_ca = builder(&hub, "localhost")
        .trust_ca_pem(certs.ca_pem())
        .without_platform_roots()
        .build()
        .unwrap();
    assert!(only_dev_ca.endpoint().starts_with("https://localhost:"));
    let created = only_dev_ca
        .create_device(&Device::new("tls-1".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(created.device_id.as_str(), "tls-1");

    let by_ip = builder(&hub, "127.0.0.1")
        .trust_ca_pem(certs.ca_pem())
        .without_platform_roots()
        .build()
        .unwrap();
    assert_eq!(
        by_ip
            .get_device(&created.device_id)
            .await
            .unwrap()
            .device_id,
        created.device_id
    );

    let with_platform = builder(&hub, "localhost")
        .trust_ca_pem(certs.ca_pem())
        .build()
        .unwrap();
    assert_eq!(
        with_platform
            .registry_statistics()
            .await
            .unwrap()
            .total_device_count,
        1
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_hub_signed_by_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let certs = DevCerts::load_or_create(dir.path()).unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = DevCerts::load_or_create(other_dir.path()).unwrap();
    let hub = tls_hub(&certs).await;

    let client = builder(&hub, "localhost")
        .trust_ca_pem(other.ca_pem())
        .without_platform_roots()
        .build()
        .unwrap();
    let error = client.registry_statistics().await.unwrap_err();
    match &error {
        ServiceError::Connect { detail, .. } => {
            assert!(detail.to_lowercase().contains("certificate"), "{detail}");
        }
        other => panic!("{other:?}"),
    }

    // Plain HTTP to a TLS endpoint gets no HTTP answer.
    let plain = builder(&hub, "127.0.0.1")
        .plain_http()
        .request_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert!(plain.registry_statistics().await.is_err());
    hub.shutdown().await;
}
