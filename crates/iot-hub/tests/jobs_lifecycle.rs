//! A job's life (PROTOCOL 9.3): `queued` at creation, `scheduled` until a future start time,
//! `running`, and its end: `completed`, `cancelled` by a cancel (before or while running), or
//! `completed` with failed rows when the maximum execution time runs out; jobs over the
//! running-job limit wait `queued`.
// The helpers fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod jobs_support;
mod rest_support;
mod support;

use std::time::Duration;

use iot_twin::Timestamp;
use jobs_support::{counts, create_job, online, rows_of, start_in, wait_job_for, wait_status};
use reqwest::Method;
use rest_support::{Rest, WAIT, builder, create_device, hub};
use serde_json::{Value, json};

fn time(value: &Value) -> Timestamp {
    value.as_str().unwrap().parse().unwrap()
}

async fn cancel(rest: &Rest, id: &str) -> Value {
    rest.send(Method::POST, &format!("/jobs/v2/{id}/cancel"), &[], None)
        .await
        .ok()
}

/// A method job on `condition` whose devices will not answer for a minute.
fn silent_call(condition: &str, max_seconds: u64) -> Value {
    json!({
        "type": "scheduleDeviceMethod", "queryCondition": condition,
        "cloudToDeviceMethod": {"methodName": "slow", "responseTimeoutInSeconds": 60},
        "maxExecutionTimeInSeconds": max_seconds,
    })
}

#[tokio::test]
async fn a_job_waits_scheduled_until_its_start_time() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let start = start_in(2);
    let body = json!({
        "type": "scheduleUpdateTwin", "queryCondition": "*", "startTime": start,
        "updateTwin": {"etag": "*", "tags": {"later": true}},
    });
    let created = create_job(&rest, "later", &body).await;
    assert_eq!(created["status"], "queued");
    assert_eq!(time(&created["startTime"]), start.parse().unwrap());

    let scheduled = wait_status(&rest, "later", "scheduled").await;
    assert_eq!(counts(&scheduled), [0, 0, 0, 0, 0]);
    let twin = rest.get("/twins/d1").await.ok();
    assert!(
        twin.get("tags")
            .is_none_or(|tags| tags.get("later").is_none())
    );

    let done = wait_job_for(&rest, "later", WAIT, |job| job["status"] == "completed").await;
    assert_eq!(counts(&done), [1, 1, 0, 0, 0]);
    let rows = rows_of(&rest, "later").await;
    assert!(time(&rows[0]["startTimeUtc"]) >= start.parse().unwrap());
    assert_eq!(rest.get("/twins/d1").await.ok()["tags"]["later"], true);
    hub.shutdown().await;
}

#[tokio::test]
async fn cancelling_a_scheduled_job_ends_it_before_it_runs() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let body = json!({
        "type": "scheduleUpdateTwin", "queryCondition": "*", "startTime": start_in(3600),
        "updateTwin": {"etag": "*", "tags": {"never": true}},
    });
    create_job(&rest, "next-hour", &body).await;
    wait_status(&rest, "next-hour", "scheduled").await;
    let cancelled = cancel(&rest, "next-hour").await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["endTime"].is_string());
    assert_eq!(counts(&cancelled), [0, 0, 0, 0, 0]);
    // Cancelling again answers the job as it is.
    assert_eq!(cancel(&rest, "next-hour").await, cancelled);
    assert!(rows_of(&rest, "next-hour").await.is_empty());
    hub.shutdown().await;
}

#[tokio::test]
async fn cancelling_a_running_job_cancels_its_pending_and_waiting_rows() {
    let hub = builder()
        .job_concurrency(1)
        .in_memory()
        .start()
        .await
        .unwrap();
    let rest = Rest::owner(&hub);
    let mut devices = Vec::new();
    for id in ["s1", "s2", "s3"] {
        create_device(&rest, id).await;
        devices.push(online(&hub, id).await);
    }
    create_job(&rest, "stuck", &silent_call("*", 3600)).await;
    let running = wait_job_for(&rest, "stuck", WAIT, |job| counts(job) == [3, 0, 0, 1, 2]).await;
    assert_eq!(running["status"], "running");
    let request = devices[0].recv_publish().await;
    assert!(request.topic.starts_with("$iothub/methods/POST/slow/"));

    let cancelled = cancel(&rest, "stuck").await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(counts(&cancelled), [3, 0, 0, 0, 0]);
    let rows = rows_of(&rest, "stuck").await;
    assert!(
        rows.iter().all(|row| row["status"] == "canceled"),
        "{rows:?}"
    );
    assert!(rows[0]["startTimeUtc"].is_string() && rows[1].get("startTimeUtc").is_none());
    hub.shutdown().await;
}

#[tokio::test]
async fn the_maximum_execution_time_ends_the_job_with_the_rows_left_failed() {
    let hub = builder()
        .job_concurrency(1)
        .in_memory()
        .start()
        .await
        .unwrap();
    let rest = Rest::owner(&hub);
    let mut devices = Vec::new();
    for id in ["t1", "t2"] {
        create_device(&rest, id).await;
        devices.push(online(&hub, id).await);
    }
    create_job(&rest, "short", &silent_call("*", 1)).await;
    let done = wait_status(&rest, "short", "completed").await;
    assert_eq!(counts(&done), [2, 0, 2, 0, 0]);
    let message = done["statusMessage"].as_str().unwrap();
    assert!(message.contains("ran out with 2 of 2"), "{message}");
    let elapsed = time(&done["endTime"])
        .duration_since(time(&done["startTime"]))
        .unwrap();
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    for row in rows_of(&rest, "short").await {
        assert_eq!(row["status"], "failed");
        assert_eq!(row["error"]["code"], "GatewayTimeout");
    }
    hub.shutdown().await;
}

#[tokio::test]
async fn jobs_over_the_running_limit_wait_queued() {
    let hub = builder()
        .max_active_jobs(1)
        .in_memory()
        .start()
        .await
        .unwrap();
    let rest = Rest::owner(&hub);
    create_device(&rest, "busy").await;
    create_device(&rest, "free").await;
    let _busy = online(&hub, "busy").await;
    create_job(&rest, "first", &silent_call("deviceId = 'busy'", 3600)).await;
    wait_status(&rest, "first", "running").await;

    let body = json!({
        "type": "scheduleUpdateTwin", "queryCondition": "deviceId = 'free'",
        "updateTwin": {"etag": "*", "tags": {"second": true}},
    });
    create_job(&rest, "second", &body).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = wait_status(&rest, "second", "queued").await;
    assert_eq!(counts(&waiting), [0, 0, 0, 0, 0]);
    // A job waiting for a slot can be cancelled before it runs.
    create_job(&rest, "third", &body).await;
    let cancelled = cancel(&rest, "third").await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(counts(&cancelled), [0, 0, 0, 0, 0]);

    cancel(&rest, "first").await;
    let done = wait_status(&rest, "second", "completed").await;
    assert_eq!(counts(&done), [1, 1, 0, 0, 0]);
    assert_eq!(rest.get("/jobs/v2/third").await.ok()["status"], "cancelled");
    hub.shutdown().await;
}
