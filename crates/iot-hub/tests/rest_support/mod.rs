//! Helpers shared by the REST tests: a hub on 127.0.0.1 free ports, and a REST client (reqwest
//! as a plain HTTP client) that signs its requests with a policy's SAS token from
//! `iot_protocol`, exactly as a service SDK does.
// Each test binary uses a subset of the helpers, and a helper that fails should fail the test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iot_hub::{Hub, HubBuilder};
use iot_protocol::{ErrorBody, ErrorCode};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use serde_json::Value;

/// How long a test waits for anything the hub should do promptly.
pub const WAIT: Duration = Duration::from_secs(10);

/// A builder for a plain-TCP, plain-HTTP hub on free loopback ports.
pub fn builder() -> HubBuilder {
    Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse().unwrap())
        .rest_addr("127.0.0.1:0".parse().unwrap())
        .plain_tcp()
        .connect_timeout(Duration::from_secs(2))
}

/// A started in-memory hub.
pub async fn hub() -> Hub {
    builder().in_memory().start().await.unwrap()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A SAS token of the hub's policy `policy`, valid for an hour.
pub fn policy_token(hub: &Hub, policy: &str) -> String {
    hub.policy_connection_string(policy)
        .unwrap()
        .sas_token(unix_now() + 3600)
        .to_secret_string()
}

/// A reqwest client with rustls on `ring` (our one TLS stack), trusting `ca_pem` if given.
pub fn http_client(ca_pem: Option<&str>) -> reqwest::Client {
    let mut roots = RootCertStore::empty();
    if let Some(pem) = ca_pem {
        roots
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(WAIT)
        .build()
        .unwrap()
}

/// A REST client of one hub, authorized as one policy (or not at all).
#[derive(Clone)]
pub struct Rest {
    http: reqwest::Client,
    base: String,
    authorization: Option<String>,
}

/// An answer: status, headers and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Rest {
    /// A client over plain HTTP with `iothubowner`'s token.
    pub fn owner(hub: &Hub) -> Self {
        Self::policy(hub, "iothubowner")
    }

    /// A client over plain HTTP with the `service` policy's token (ServiceConnect).
    pub fn service(hub: &Hub) -> Self {
        Self::policy(hub, "service")
    }

    /// A client over plain HTTP with the token of `policy`.
    pub fn policy(hub: &Hub, policy: &str) -> Self {
        Self::with_authorization(hub, Some(policy_token(hub, policy)))
    }

    /// A client over plain HTTP sending this `Authorization` header (or none).
    pub fn with_authorization(hub: &Hub, authorization: Option<String>) -> Self {
        Self {
            http: http_client(None),
            base: format!("http://{}", hub.rest_addr()),
            authorization,
        }
    }

    /// A client over `http` (e.g. TLS) with this base URL and the owner's token.
    pub fn over(http: reqwest::Client, base: String, hub: &Hub) -> Self {
        Self {
            http,
            base,
            authorization: Some(policy_token(hub, "iothubowner")),
        }
    }

    /// Sends a request with the `api-version` the official SDKs use.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Answer {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{separator}api-version=2021-04-12", self.base);
        self.send_url(method, &url, headers, body).await
    }

    /// Sends a request to exactly `path` (no `api-version` added).
    pub async fn send_raw_path(&self, method: Method, path: &str) -> Answer {
        let url = format!("{}{path}", self.base);
        self.send_url(method, &url, &[], None).await
    }

    async fn send_url(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut request = self.http.request(method, url);
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_str(value).unwrap());
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json; charset=utf-8")
                .body(body);
        }
        let response = request.send().await.unwrap();
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, &[], None).await
    }

    /// `DELETE` with optional headers.
    pub async fn delete(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(Method::DELETE, path, headers, None).await
    }

    /// A request with a JSON body.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> Answer {
        let body = serde_json::to_vec(body).unwrap();
        self.send(method, path, headers, Some(body)).await
    }

    /// A request with a raw body.
    pub async fn raw(&self, method: Method, path: &str, body: &[u8]) -> Answer {
        self.send(method, path, &[], Some(body.to_vec())).await
    }
}

impl Answer {
    /// The body as JSON, checking the content type the Node SDK needs.
    pub fn json(&self) -> Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/json; charset=utf-8"),
            "status {}",
            self.status
        );
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The body as JSON after checking for a 200.
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        self.json()
    }

    /// A header's text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// The IoT Hub error this answer carries, checked for consistency: the status is the
    /// code's, the `iothub-errorcode` header names it, the body parses in either shape.
    pub fn error(&self) -> (ErrorCode, String) {
        let text = String::from_utf8(self.body.clone()).unwrap();
        let (code, message) = ErrorBody::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(self.status, code.http_status(), "{text}");
        assert_eq!(self.header("iothub-errorcode"), Some(code.name()), "{text}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        (code, message)
    }

    /// Whether the error body is the legacy `ErrorCode:<Name>;...` shape (else the
    /// JSON-in-`Message` shape).
    pub fn is_legacy_error(&self) -> bool {
        let body: Value = serde_json::from_slice(&self.body).unwrap();
        body["Message"].as_str().unwrap().starts_with("ErrorCode:")
    }

    /// Asserts the answer is this error and returns its message.
    pub fn expect_error(&self, code: ErrorCode) -> String {
        let (actual, message) = self.error();
        assert_eq!(actual, code, "{message}");
        message
    }
}

/// A device's JSON registered over REST with generated keys.
pub async fn create_device(rest: &Rest, id: &str) -> Value {
    rest.json(
        Method::PUT,
        &format!("/devices/{id}"),
        &[],
        &serde_json::json!({ "deviceId": id }),
    )
    .await
    .ok()
}
