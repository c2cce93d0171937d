//! Twin jobs over REST (PROTOCOL 9): the patch reaches every picked twin and the desired
//! change reaches connected devices; and what job requests the hub refuses.
// The helpers fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod jobs_support;
mod rest_support;
mod support;

use iot_protocol::ErrorCode;
use jobs_support::{counts, create_job, online, rows_of, wait_status};
use reqwest::Method;
use rest_support::{Rest, create_device, hub};
use serde_json::{Value, json};

async fn tag(rest: &Rest, id: &str, fleet: &str) {
    let body = json!({"tags": {"fleet": fleet}});
    rest.json(Method::PATCH, &format!("/twins/{id}"), &[], &body)
        .await
        .ok();
}

#[tokio::test]
async fn a_twin_job_patches_every_picked_twin_and_reaches_connected_devices() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    for (id, fleet) in [("d1", "a"), ("d2", "a"), ("d3", "b")] {
        create_device(&rest, id).await;
        tag(&rest, id, fleet).await;
    }
    let mut d1 = online(&hub, "d1").await;

    // What the Node service SDK's sample sends: etag "*" and an empty `reported`.
    let body = json!({
        "jobId": "set-interval", "type": "scheduleUpdateTwin", "queryCondition": "tags.fleet = 'a'",
        "updateTwin": {"etag": "*", "tags": {"state": "WA"},
                       "properties": {"desired": {"interval": 30}, "reported": {}}},
        "startTime": null, "maxExecutionTimeInSeconds": 3600,
    });
    let created = create_job(&rest, "set-interval", &body).await;
    assert_eq!(created["status"], "queued");
    assert_eq!(created["updateTwin"]["tags"]["state"], "WA");

    let note = d1.recv_publish().await;
    assert!(
        note.topic
            .starts_with("$iothub/twin/PATCH/properties/desired/?$version="),
        "{}",
        note.topic
    );
    let note: Value = serde_json::from_slice(&note.payload).unwrap();
    assert_eq!(note["interval"], 30);

    let done = wait_status(&rest, "set-interval", "completed").await;
    assert_eq!(counts(&done), [2, 2, 0, 0, 0]);
    for id in ["d1", "d2"] {
        let twin = rest.get(&format!("/twins/{id}")).await.ok();
        assert_eq!(twin["tags"], json!({"fleet": "a", "state": "WA"}));
        assert_eq!(twin["properties"]["desired"]["interval"], 30);
    }
    let d3 = rest.get("/twins/d3").await.ok();
    assert_eq!(d3["tags"], json!({"fleet": "b"}));
    let rows = rows_of(&rest, "set-interval").await;
    assert!(rows.iter().all(|row| row["status"] == "completed"));
    assert!(
        rows.iter().all(|row| row.get("outcome").is_none()),
        "{rows:?}"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_twin_write_that_breaks_a_rule_fails_its_row() {
    let hub = rest_support::builder()
        .twin_limits(iot_twin::Limits::default().with_max_depth(2))
        .in_memory()
        .start()
        .await
        .unwrap();
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let body = json!({
        "type": "scheduleUpdateTwin", "queryCondition": "*",
        "updateTwin": {"etag": "*", "properties": {"desired": {"a": {"b": {"c": {"d": 1}}}}}},
    });
    create_job(&rest, "too-deep", &body).await;
    let done = wait_status(&rest, "too-deep", "completed").await;
    assert_eq!(counts(&done), [1, 0, 1, 0, 0]);
    let rows = rows_of(&rest, "too-deep").await;
    assert_eq!(rows[0]["error"]["code"], "ArgumentInvalid");
    assert!(
        rows[0]["error"]["description"]
            .as_str()
            .unwrap()
            .contains("properties.desired.a.b"),
        "{}",
        rows[0]
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_rule_they_break() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let method = json!({"methodName": "m"});
    let cases = [
        (
            json!({"type": "rebootEverything", "queryCondition": "*"}),
            "rebootEverything",
        ),
        (
            json!({"type": "export", "queryCondition": "*"}),
            "not a scheduled job type",
        ),
        (
            json!({"type": "scheduleUpdateTwin", "queryCondition": "*", "updateTwin": {"tags": {"a": 1}}}),
            "etag",
        ),
        (
            json!({"type": "scheduleDeviceMethod", "queryCondition": "deviceId = ", "cloudToDeviceMethod": method}),
            "expected a value",
        ),
        (
            json!({"type": "scheduleDeviceMethod", "queryCondition": "*",
                "cloudToDeviceMethod": {"methodName": "m", "responseTimeoutInSeconds": 301}}),
            "301",
        ),
        (
            json!({"type": "scheduleDeviceMethod", "queryCondition": "*",
                "cloudToDeviceMethod": {"methodName": "m", "connectTimeoutInSeconds": -1}}),
            "-1",
        ),
        (
            json!({"type": "scheduleDeviceMethod", "cloudToDeviceMethod": method}),
            "queryCondition",
        ),
        (
            json!({"jobId": "other", "type": "scheduleDeviceMethod", "queryCondition": "*",
                "cloudToDeviceMethod": method}),
            "other",
        ),
    ];
    for (body, needle) in cases {
        let answer = rest.json(Method::PUT, "/jobs/v2/refused", &[], &body).await;
        let message = answer.expect_error(ErrorCode::ArgumentInvalid);
        assert!(message.contains(needle), "{body}: {message}");
    }
    let answer = rest.raw(Method::PUT, "/jobs/v2/refused", b"{").await;
    answer.expect_error(ErrorCode::IotHubFormatError);
    let answer = rest.get("/jobs/v2/refused").await;
    answer.expect_error(ErrorCode::JobNotFound);
    let answer = rest
        .send(Method::POST, "/jobs/v2/refused/cancel", &[], None)
        .await;
    answer.expect_error(ErrorCode::JobNotFound);

    let body = json!({"type": "scheduleDeviceMethod", "queryCondition": "*", "cloudToDeviceMethod": method});
    create_job(&rest, "once", &body).await;
    let again = rest.json(Method::PUT, "/jobs/v2/once", &[], &body).await;
    again.expect_error(ErrorCode::JobAlreadyExists);
    assert_eq!(again.status, 409);

    // Jobs need ServiceConnect.
    let registry = Rest::policy(&hub, "registryReadWrite");
    registry
        .get("/jobs/v2/once")
        .await
        .expect_error(ErrorCode::IotHubUnauthorizedAccess);
    hub.shutdown().await;
}
