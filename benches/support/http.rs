//! HTTP setup shared by the benches that call the hub's REST API directly.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use iot_hub::Hub;

/// A reqwest client on the workspace's TLS stack (rustls with ring), used here over plain
/// HTTP.
pub(crate) fn client() -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .expect("a client")
}

/// An `Authorization` value for the hub's owner policy, valid for an hour.
pub(crate) fn owner_token(hub: &Hub) -> String {
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
        + 3600;
    hub.service_connection_string()
        .expect("the owner policy")
        .sas_token(expiry)
        .to_secret_string()
}
