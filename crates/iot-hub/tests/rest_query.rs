//! Twin queries over REST (PROTOCOL 8.1): paging with `x-ms-max-item-count` and
//! `x-ms-continuation` until the continuation is absent, `x-ms-item-type`, projections,
//! aggregates, and the errors.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod rest_support;
mod support;

use iot_hub::{DeviceOptions, Hub};
use iot_protocol::{DeviceId, ErrorCode};
use iot_twin::Patch;
use reqwest::Method;
use rest_support::{Answer, Rest, hub};
use serde_json::{Value, json};
use support::Client;

/// Registers `count` devices `dev-000`, `dev-001`, ...; every third is tagged group `a`,
/// the others group `b`.
async fn fleet(hub: &Hub, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let id: DeviceId = format!("dev-{n:03}").parse().unwrap();
        hub.registry()
            .create_device(&id, DeviceOptions::default())
            .await
            .unwrap();
        let group = if n % 3 == 0 { "a" } else { "b" };
        let tags = Patch::from_value(json!({"group": group, "n": n})).unwrap();
        hub.twins().update_tags(&id, tags).await.unwrap();
        ids.push(id.to_string());
    }
    ids
}

async fn query(rest: &Rest, text: &str, headers: &[(&str, &str)]) -> Answer {
    rest.json(
        Method::POST,
        "/devices/query",
        headers,
        &json!({ "query": text }),
    )
    .await
}

/// Every page of `text` at `page_size`, following continuations until there is none.
async fn all_pages(rest: &Rest, text: &str, page_size: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut continuation: Option<String> = None;
    for _ in 0..100 {
        let mut headers = vec![("x-ms-max-item-count", page_size)];
        if let Some(token) = &continuation {
            headers.push(("x-ms-continuation", token.as_str()));
        }
        let answer = query(rest, text, &headers).await;
        pages.push(answer.ok().as_array().unwrap().clone());
        continuation = answer.header("x-ms-continuation").map(str::to_owned);
        if continuation.is_none() {
            return pages;
        }
    }
    panic!("more than 100 pages");
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|row| row["deviceId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn pages_follow_continuations_until_none() {
    let hub = hub().await;
    let rest = Rest::service(&hub);
    let all = fleet(&hub, 25).await;
    let pages = all_pages(&rest, "SELECT * FROM devices", "10").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(ids(&pages.concat()), all);
    let first = &pages[0][0];
    assert_eq!(first["etag"], "AAAAAAAAAAI=");
    assert_eq!(first["tags"], json!({"group": "a", "n": 0}));
    assert!(first["properties"]["desired"]["$version"].is_number());

    let filtered = all_pages(&rest, "SELECT * FROM devices WHERE tags.group = 'a'", "4").await;
    let sizes: Vec<usize> = filtered.iter().map(Vec::len).collect();
    assert_eq!(sizes, [4, 4, 1]);
    let expected: Vec<String> = all.iter().step_by(3).cloned().collect();
    assert_eq!(ids(&filtered.concat()), expected);

    let top = all_pages(&rest, "SELECT TOP 15 * FROM devices", "\"10\"").await;
    let sizes: Vec<usize> = top.iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 5]);
}

#[tokio::test]
async fn page_size_defaults_to_100_and_is_capped_at_1000() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    fleet(&hub, 120).await;
    let first = query(&rest, "SELECT deviceId FROM devices", &[]).await;
    assert_eq!(first.ok().as_array().unwrap().len(), 100);
    let token = first.header("x-ms-continuation").unwrap().to_owned();
    let rest_of_it = query(
        &rest,
        "SELECT deviceId FROM devices",
        &[("x-ms-continuation", &token)],
    )
    .await;
    assert_eq!(rest_of_it.ok().as_array().unwrap().len(), 20);
    assert!(rest_of_it.header("x-ms-continuation").is_none());

    let capped = query(
        &rest,
        "SELECT deviceId FROM devices",
        &[("x-ms-max-item-count", "5000")],
    )
    .await;
    assert_eq!(capped.ok().as_array().unwrap().len(), 120);
    assert!(capped.header("x-ms-continuation").is_none());
}

#[tokio::test]
async fn item_types_projections_and_aggregates() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    fleet(&hub, 7).await;
    let cases = [
        ("SELECT * FROM devices WHERE tags.n = 1", "Twin"),
        ("SELECT * FROM devices.modules", "Twin"),
        ("SELECT * FROM devices.jobs", "DeviceJob"),
        ("SELECT deviceId FROM devices", "Raw"),
        ("SELECT COUNT() AS total FROM devices", "Raw"),
    ];
    for (text, item_type) in cases {
        let answer = query(&rest, text, &[]).await;
        assert_eq!(answer.status, 200, "{text}");
        assert_eq!(answer.header("x-ms-item-type"), Some(item_type), "{text}");
    }
    let projected = query(
        &rest,
        "SELECT DeviceId, tags.n AS number FROM devices WHERE tags.group = 'a'",
        &[],
    )
    .await
    .ok();
    assert_eq!(
        projected,
        json!([
            {"deviceId": "dev-000", "number": 0},
            {"deviceId": "dev-003", "number": 3},
            {"deviceId": "dev-006", "number": 6},
        ])
    );
    let total = query(&rest, "SELECT COUNT() AS total FROM devices", &[]).await;
    assert_eq!(total.ok(), json!([{"total": 7}]));
    let grouped = query(
        &rest,
        "SELECT tags.group, COUNT() AS devices FROM devices GROUP BY tags.group",
        &[],
    )
    .await
    .ok();
    let mut rows = grouped.as_array().unwrap().clone();
    rows.sort_by_key(|row| row["group"].as_str().unwrap().to_owned());
    assert_eq!(
        rows,
        [
            json!({"group": "a", "devices": 3}),
            json!({"group": "b", "devices": 4})
        ]
    );
    for empty in [
        "SELECT * FROM devices.modules",
        "SELECT * FROM devices.jobs",
    ] {
        assert_eq!(query(&rest, empty, &[]).await.ok(), json!([]));
    }
}

#[tokio::test]
async fn queries_see_connection_state_and_desired_properties() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    fleet(&hub, 3).await;
    let id: DeviceId = "dev-001".parse().unwrap();
    let desired = Patch::from_value(json!({"fw": "2.0"})).unwrap();
    hub.twins().update_desired(&id, desired).await.unwrap();
    let (_client, _) = Client::device(&hub, &id, true).await;
    let found = query(
        &rest,
        "SELECT deviceId FROM devices WHERE properties.desired.fw = '2.0'",
        &[],
    )
    .await
    .ok();
    assert_eq!(found, json!([{"deviceId": "dev-001"}]));
    let disconnected = query(
        &rest,
        "SELECT COUNT() AS n FROM devices WHERE connectionState = 'Disconnected'",
        &[],
    )
    .await
    .ok();
    assert_eq!(disconnected, json!([{"n": 2}]));
    let connected = query(
        &rest,
        "SELECT deviceId FROM devices WHERE connectionState = 'Connected'",
        &[],
    )
    .await
    .ok();
    assert_eq!(connected, json!([{"deviceId": "dev-001"}]));
}

#[tokio::test]
async fn bad_queries_bodies_and_continuations_are_refused() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    fleet(&hub, 5).await;
    let message = query(&rest, "SELECT * FROM devices WHERE", &[])
        .await
        .expect_error(ErrorCode::ArgumentInvalid);
    assert!(message.contains("the query is invalid"), "{message}");
    query(&rest, "SELECT * FROM twins", &[])
        .await
        .expect_error(ErrorCode::ArgumentInvalid);
    rest.raw(Method::POST, "/devices/query", b"{\"query\":")
        .await
        .expect_error(ErrorCode::IotHubFormatError);
    rest.json(
        Method::POST,
        "/devices/query",
        &[],
        &json!({"sql": "SELECT * FROM devices"}),
    )
    .await
    .expect_error(ErrorCode::ArgumentInvalid);
    query(
        &rest,
        "SELECT * FROM devices",
        &[("x-ms-max-item-count", "many")],
    )
    .await
    .expect_error(ErrorCode::ArgumentInvalid);

    let first = query(
        &rest,
        "SELECT * FROM devices",
        &[("x-ms-max-item-count", "2")],
    )
    .await;
    let token = first.header("x-ms-continuation").unwrap().to_owned();
    let other = query(
        &rest,
        "SELECT deviceId FROM devices",
        &[("x-ms-continuation", &token)],
    )
    .await;
    let message = other.expect_error(ErrorCode::ArgumentInvalid);
    assert!(message.contains("another query"), "{message}");
    query(
        &rest,
        "SELECT * FROM devices",
        &[("x-ms-continuation", "garbage")],
    )
    .await
    .expect_error(ErrorCode::ArgumentInvalid);
    let same = query(
        &rest,
        "select *  from devices",
        &[("x-ms-continuation", &token), ("x-ms-max-item-count", "2")],
    )
    .await;
    assert_eq!(ids(same.ok().as_array().unwrap()), ["dev-002", "dev-003"]);
}

#[tokio::test]
async fn a_page_resumes_at_its_device_whatever_changed_before_it() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    fleet(&hub, 10).await;
    let headers = [("x-ms-max-item-count", "3")];
    let first = query(&rest, "SELECT * FROM devices", &headers).await;
    assert_eq!(
        ids(first.ok().as_array().unwrap()),
        ["dev-000", "dev-001", "dev-002"]
    );
    let token = first.header("x-ms-continuation").unwrap().to_owned();

    rest.delete("/devices/dev-000", &[]).await;
    rest.delete("/devices/dev-001", &[]).await;
    let added: DeviceId = "dev-0025".parse().unwrap();
    hub.registry()
        .create_device(&added, DeviceOptions::default())
        .await
        .unwrap();
    let next = query(
        &rest,
        "SELECT * FROM devices",
        &[("x-ms-max-item-count", "3"), ("x-ms-continuation", &token)],
    )
    .await;
    assert_eq!(
        ids(next.ok().as_array().unwrap()),
        ["dev-003", "dev-004", "dev-005"],
        "deleting returned devices shifts nothing"
    );

    let gone = next.header("x-ms-continuation").unwrap().to_owned();
    rest.delete("/devices/dev-006", &[]).await;
    let after_gone = query(
        &rest,
        "SELECT * FROM devices",
        &[("x-ms-max-item-count", "3"), ("x-ms-continuation", &gone)],
    )
    .await;
    assert_eq!(
        ids(after_gone.ok().as_array().unwrap()),
        ["dev-007", "dev-008", "dev-009"],
        "a page whose first device is gone starts at the next one"
    );
    assert!(after_gone.header("x-ms-continuation").is_none());
}

#[tokio::test]
async fn top_and_aggregates_page_too() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let all = fleet(&hub, 25).await;
    let top = all_pages(
        &rest,
        "SELECT TOP 7 * FROM devices WHERE tags.group = 'b'",
        "3",
    )
    .await;
    let sizes: Vec<usize> = top.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let expected: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 3 != 0)
        .map(|(_, id)| id.clone())
        .take(7)
        .collect();
    assert_eq!(ids(&top.concat()), expected);
    let exact = all_pages(&rest, "SELECT TOP 6 * FROM devices", "3").await;
    let sizes: Vec<usize> = exact.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3], "no empty page after TOP is reached");

    let groups = all_pages(
        &rest,
        "SELECT tags.n AS n, COUNT() AS c FROM devices GROUP BY tags.n",
        "10",
    )
    .await;
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5]);
    let mut numbers: Vec<u64> = groups
        .concat()
        .iter()
        .map(|row| {
            assert_eq!(row["c"], 1);
            row["n"].as_u64().unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..25).collect::<Vec<u64>>());
}
