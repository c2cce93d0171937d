//! Helpers shared by the configuration tests: a hub that evaluates often, configuration
//! requests over REST, and waiting for twins and metrics to reach a state.
// Each test binary uses a subset of the helpers, and a helper that fails should fail the test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use iot_hub::{Hub, HubBuilder};
use reqwest::Method;
use serde_json::{Value, json};

use crate::rest_support::{Answer, Rest, WAIT, builder};

/// A builder whose hub evaluates configurations every 100 ms.
pub fn quick() -> HubBuilder {
    builder().configuration_interval(Duration::from_millis(100))
}

/// A started in-memory hub that evaluates often.
pub async fn hub() -> Hub {
    quick().in_memory().start().await.unwrap()
}

/// A started hub that evaluates often and keeps its state in `dir`.
pub async fn hub_in(dir: &Path) -> Hub {
    quick().data_dir(dir).start().await.unwrap()
}

/// A configuration body.
pub fn config(id: &str, priority: i64, target: &str, content: Value) -> Value {
    let mut body = json!({
        "id": id, "schemaVersion": "1.0", "labels": {"team": "test"}, "priority": priority,
        "targetCondition": target,
    });
    let mut inner = serde_json::Map::new();
    inner.insert("deviceContent".to_owned(), content);
    body["content"] = Value::Object(inner);
    body
}

/// `PUT /configurations/{id}` with optional `If-Match`.
pub async fn put(rest: &Rest, body: &Value, if_match: Option<&str>) -> Answer {
    let id = body["id"].as_str().unwrap();
    let headers: Vec<(&str, &str)> = if_match
        .map(|etag| ("If-Match", etag))
        .into_iter()
        .collect();
    rest.json(
        Method::PUT,
        &format!("/configurations/{id}"),
        &headers,
        body,
    )
    .await
}

/// Creates a configuration; its JSON after checking for a 200.
pub async fn create(rest: &Rest, body: &Value) -> Value {
    put(rest, body, None).await.ok()
}

/// `DELETE /configurations/{id}`.
pub async fn delete(rest: &Rest, id: &str, if_match: Option<&str>) -> Answer {
    let headers: Vec<(&str, &str)> = if_match
        .map(|etag| ("If-Match", etag))
        .into_iter()
        .collect();
    rest.delete(&format!("/configurations/{id}"), &headers)
        .await
}

/// Polls `GET path` until `done` holds (every 20 ms, for at most [`WAIT`]); panics with the
/// last answer otherwise.
pub async fn wait_for(rest: &Rest, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let value = rest.get(path).await.ok();
        if done(&value) {
            return value;
        }
        assert!(started.elapsed() < WAIT, "{path} never got there: {value}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the twin of `device` meets `done`.
pub async fn wait_twin(rest: &Rest, device: &str, done: impl Fn(&Value) -> bool) -> Value {
    wait_for(rest, &format!("/twins/{device}"), done).await
}

/// The status of configuration `id` on a twin (`None` if the twin does not list it).
pub fn status<'a>(twin: &'a Value, id: &str) -> Option<&'a str> {
    twin.get("configurations")?.get(id)?.get("status")?.as_str()
}

/// The twin's desired property `key`.
pub fn desired<'a>(twin: &'a Value, key: &str) -> &'a Value {
    &twin["properties"]["desired"][key]
}
