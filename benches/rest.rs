//! The hub's REST API over loopback HTTP/1.1 with keep-alive, each request next to a baseline
//! in the same run:
//!
//! - `baseline_round_trip`: a bare axum server answering the same twin JSON from memory, the
//!   floor of an HTTP request from this client on this machine;
//! - `get_twin`, `patch_desired`: one twin read or desired-property write through the hub
//!   (SAS check, the registry's and twins' operations, the answer), in memory;
//! - `in_process_get_twin`: the same read through the in-process API, serialized, so that the
//!   difference to `get_twin` is what the REST layer costs on top of HTTP;
//! - `query_page`: a 100-row page of `SELECT *` with a condition over 1000 twins, and the last
//!   page of the same query through its continuation (every earlier row is read again).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use iot_hub::{DeviceOptions, Hub};
use iot_protocol::DeviceId;
use iot_twin::Patch;
use serde_json::json;

#[path = "support/http.rs"]
mod http;
mod support;

const FLEET: usize = 1000;
const QUERY: &str = "SELECT * FROM devices WHERE tags.group = 'a'";

/// A plain-HTTP hub in memory with `FLEET` devices, half of them tagged group `a`.
async fn hub() -> Hub {
    let hub = support::loopback_hub().start().await.expect("a hub");
    for n in 0..FLEET {
        let id: DeviceId = format!("dev-{n:04}").parse().expect("an id");
        hub.registry()
            .create_device(&id, DeviceOptions::default())
            .await
            .expect("created");
        let group = if n % 2 == 0 { "a" } else { "b" };
        let tags = Patch::from_value(json!({"group": group, "location": {"plant": "Redmond43"}}))
            .expect("a patch");
        hub.twins().update_tags(&id, tags).await.expect("tagged");
        let desired = Patch::from_value(json!({"interval": 30, "fw": {"version": "1.0.0"}}))
            .expect("a patch");
        hub.twins().update_desired(&id, desired).await.expect("set");
    }
    hub
}

/// A bare axum server answering `body` on `/twin`.
async fn baseline(body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bound");
    let addr = listener.local_addr().expect("an address");
    let body = Arc::new(body);
    let app = Router::new().route(
        "/twin",
        get(move || {
            let body = Arc::clone(&body);
            async move {
                (
                    [("content-type", "application/json; charset=utf-8")],
                    body.as_ref().clone(),
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/twin")
}

fn rest(c: &mut Criterion) {
    let rt = support::runtime();
    let hub = rt.block_on(hub());
    let http = http::client();
    let base = format!("http://{}", hub.rest_addr());
    let auth = http::owner_token(&hub);
    let id: DeviceId = "dev-0001".parse().expect("an id");
    let twin_json = serde_json::to_vec(&hub.twins().get(&id).expect("a twin")).expect("JSON");
    let baseline_url = rt.block_on(baseline(twin_json));
    let twin_url = format!("{base}/twins/dev-0001?api-version=2021-04-12");

    let mut group = c.benchmark_group("rest");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("baseline_round_trip", |b| {
        b.iter(|| rt.block_on(async { send(http.get(&baseline_url)).await }));
    });
    group.bench_function("get_twin", |b| {
        b.iter(|| rt.block_on(send(http.get(&twin_url).header("Authorization", &auth))));
    });
    group.bench_function("in_process_get_twin", |b| {
        b.iter(|| serde_json::to_vec(&hub.twins().get(black_box(&id)).expect("a twin")));
    });
    let mut n = 0u64;
    group.bench_function("patch_desired", |b| {
        b.iter(|| {
            n += 1;
            let body = json!({"properties": {"desired": {"interval": n}}}).to_string();
            let request = http
                .patch(&twin_url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json; charset=utf-8")
                .body(body);
            rt.block_on(send(request))
        });
    });
    group.finish();

    let query_url = format!("{base}/devices/query?api-version=2021-04-12");
    let page = |continuation: Option<&str>| {
        let mut request = http
            .post(&query_url)
            .header("Authorization", &auth)
            .header("x-ms-max-item-count", "100")
            .header("Content-Type", "application/json; charset=utf-8")
            .body(json!({ "query": QUERY }).to_string());
        if let Some(token) = continuation {
            request = request.header("x-ms-continuation", token);
        }
        request
    };
    let last = rt.block_on(last_continuation(&page));
    let mut group = c.benchmark_group("rest/query_page");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("first", |b| b.iter(|| rt.block_on(send(page(None)))));
    group.bench_function("last", |b| {
        b.iter(|| rt.block_on(send(page(Some(&last)))));
    });
    group.finish();
    rt.block_on(hub.shutdown());
}

/// The continuation token of the query's last page.
async fn last_continuation(page: &impl Fn(Option<&str>) -> reqwest::RequestBuilder) -> String {
    let mut token: Option<String> = None;
    for _ in 0..FLEET {
        let response = page(token.as_deref()).send().await.expect("an answer");
        let next = response
            .headers()
            .get("x-ms-continuation")
            .map(|v| v.to_str().expect("ASCII").to_owned());
        match next {
            Some(next) => token = Some(next),
            None => return token.expect("more than one page"),
        }
    }
    panic!("the query never ended");
}

/// Sends a request and reads the whole answer, which must be a success.
async fn send(request: reqwest::RequestBuilder) -> usize {
    let response = request.send().await.expect("an answer");
    assert!(response.status().is_success(), "{}", response.status());
    response.bytes().await.expect("a body").len()
}

criterion_group!(benches, rest);
criterion_main!(benches);
