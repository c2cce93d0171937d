//! What the service SDK costs on top of a bare HTTP client, against the embedded hub over
//! loopback HTTP/1.1 with keep-alive, each measurement next to its baseline in the same run:
//!
//! - `get_twin/raw_reqwest`: reqwest with a token signed once, the answer parsed into an
//!   `iot_twin::Twin`: the floor for a twin read from this process.
//! - `get_twin/sdk`: `ServiceClient::get_twin`: the same request with the SDK's token cache,
//!   retry wrapper, path encoding, tracing span and error mapping.
//! - `query_all/raw_reqwest` and `query_all/sdk`: all 1000 twins of `SELECT *` in pages of 100,
//!   following `x-ms-continuation`, each item parsed into a `Twin`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use iot_hub::{DeviceOptions, Hub};
use iot_protocol::DeviceId;
use iot_service_sdk::{RetryPolicy, ServiceClient};
use iot_twin::Twin;

#[path = "support/http.rs"]
mod http;
mod support;

const FLEET: usize = 1000;
const PAGE: u32 = 100;

async fn fleet_hub() -> Hub {
    let hub = support::loopback_hub().start().await.expect("a hub");
    for n in 0..FLEET {
        let id: DeviceId = format!("bench-{n:04}").parse().expect("an id");
        hub.registry()
            .create_device(&id, DeviceOptions::default())
            .await
            .expect("a device");
    }
    hub
}

/// A bare reqwest client and the owner's `Authorization` header, signed once.
struct Raw {
    http: reqwest::Client,
    base: String,
    authorization: String,
}

impl Raw {
    fn new(hub: &Hub) -> Self {
        Self {
            http: http::client(),
            base: format!("http://{}", hub.rest_addr()),
            authorization: http::owner_token(hub),
        }
    }

    async fn get_twin(&self, id: &str) -> Twin {
        let body = self
            .http
            .get(format!("{}/twins/{id}?api-version=2021-04-12", self.base))
            .header("authorization", &self.authorization)
            .send()
            .await
            .expect("an answer")
            .bytes()
            .await
            .expect("a body");
        Twin::from_slice(&body).expect("a twin")
    }

    async fn query_all(&self) -> usize {
        let mut continuation: Option<String> = None;
        let mut count = 0;
        loop {
            let mut request = self
                .http
                .post(format!(
                    "{}/devices/query?api-version=2021-04-12",
                    self.base
                ))
                .header("authorization", &self.authorization)
                .header("content-type", "application/json; charset=utf-8")
                .header("x-ms-max-item-count", PAGE.to_string())
                .body(r#"{"query":"SELECT * FROM devices"}"#);
            if let Some(token) = &continuation {
                request = request.header("x-ms-continuation", token);
            }
            let response = request.send().await.expect("an answer");
            continuation = response
                .headers()
                .get("x-ms-continuation")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.bytes().await.expect("a body");
            let items: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("a page");
            for item in items {
                black_box(Twin::from_value(item).expect("a twin"));
                count += 1;
            }
            if continuation.is_none() {
                return count;
            }
        }
    }
}

fn sdk(hub: &Hub) -> ServiceClient {
    ServiceClient::builder(
        &hub.service_connection_string()
            .expect("the owner policy")
            .to_secret_string(),
    )
    .endpoint_addr(hub.rest_addr())
    .plain_http()
    .retry_policy(RetryPolicy::never())
    .build()
    .expect("a client")
}

fn benches(c: &mut Criterion) {
    let rt = support::runtime();
    let hub = rt.block_on(fleet_hub());
    let raw = Raw::new(&hub);
    let client = sdk(&hub);
    let id: DeviceId = "bench-0500".parse().expect("an id");

    let mut group = c.benchmark_group("get_twin");
    group.bench_function("raw_reqwest", |b| {
        b.iter(|| rt.block_on(raw.get_twin(id.as_str())));
    });
    group.bench_function("sdk", |b| {
        b.iter(|| rt.block_on(client.get_twin(&id)).expect("a twin"));
    });
    group.finish();

    let mut group = c.benchmark_group("query_all");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("raw_reqwest", |b| {
        b.iter(|| assert_eq!(rt.block_on(raw.query_all()), FLEET));
    });
    group.bench_function("sdk", |b| {
        b.iter(|| {
            let twins = rt.block_on(async {
                client
                    .query("SELECT * FROM devices")?
                    .page_size(PAGE)
                    .twins()
                    .collect_all()
                    .await
            });
            assert_eq!(twins.expect("the twins").len(), FLEET);
        });
    });
    group.finish();
    rt.block_on(hub.shutdown());
}

criterion_group!(service_sdk, benches);
criterion_main!(service_sdk);
