//! Jobs are durable: a hub stopped mid-job and started again on the same data directory
//! finishes a running job and a scheduled one, and keeps earlier results. A method call in
//! flight when the hub stopped is not repeated.
// The helpers fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod jobs_support;
mod rest_support;
mod support;

use std::path::Path;

use iot_hub::Hub;
use jobs_support::{
    answer_methods, counts, create_job, online, rows_of, start_in, wait_job_for, wait_status,
};
use rest_support::{Rest, WAIT, builder, create_device};
use serde_json::{Value, json};

async fn hub_in(dir: &Path) -> Hub {
    builder()
        .job_concurrency(1)
        .data_dir(dir)
        .start()
        .await
        .unwrap()
}

fn row<'a>(rows: &'a [Value], device: &str) -> &'a Value {
    rows.iter().find(|row| row["deviceId"] == device).unwrap()
}

#[tokio::test]
async fn jobs_go_on_after_a_restart_and_earlier_results_stay() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(dir.path()).await;
    let rest = Rest::owner(&hub);
    for id in ["d1", "d2", "d3"] {
        create_device(&rest, id).await;
    }
    let d1 = answer_methods(online(&hub, "d1").await, 200);
    let mut d2 = online(&hub, "d2").await;

    let tag = json!({"type": "scheduleUpdateTwin", "queryCondition": "*",
                     "updateTwin": {"etag": "*", "tags": {"before": true}}});
    create_job(&rest, "before", &tag).await;
    let before = wait_status(&rest, "before", "completed").await;

    // d1 answers, d2 holds its call, d3 is offline but may connect within 10 s.
    let calls = json!({
        "type": "scheduleDeviceMethod", "queryCondition": "*",
        "cloudToDeviceMethod": {"methodName": "upgrade", "responseTimeoutInSeconds": 60,
                                "connectTimeoutInSeconds": 10},
    });
    create_job(&rest, "calls", &calls).await;
    wait_job_for(&rest, "calls", WAIT, |job| counts(job) == [3, 1, 0, 1, 1]).await;
    let request = d2.recv_publish().await;
    assert!(request.topic.starts_with("$iothub/methods/POST/upgrade/"));
    let d1_row = row(&rows_of(&rest, "calls").await, "d1").clone();

    let later = json!({"type": "scheduleUpdateTwin", "queryCondition": "deviceId = 'd3'",
                       "startTime": start_in(2),
                       "updateTwin": {"etag": "*", "properties": {"desired": {"later": 1}}}});
    create_job(&rest, "later", &later).await;
    wait_status(&rest, "later", "scheduled").await;
    d1.abort();
    drop(d2);
    hub.shutdown().await;

    let hub = hub_in(dir.path()).await;
    let rest = Rest::owner(&hub);
    let d3 = answer_methods(online(&hub, "d3").await, 200);
    let done = wait_status(&rest, "calls", "completed").await;
    assert_eq!(counts(&done), [3, 2, 1, 0, 0]);
    let rows = rows_of(&rest, "calls").await;
    assert_eq!(row(&rows, "d1"), &d1_row);
    let d2_row = row(&rows, "d2");
    assert_eq!(d2_row["status"], "failed");
    assert_eq!(d2_row["error"]["code"], "ServiceUnavailable");
    assert_eq!(row(&rows, "d3")["status"], "completed");

    let later = wait_status(&rest, "later", "completed").await;
    assert_eq!(counts(&later), [1, 1, 0, 0, 0]);
    let twin = rest.get("/twins/d3").await.ok();
    assert_eq!(twin["properties"]["desired"]["later"], 1);
    assert_eq!(rest.get("/jobs/v2/before").await.ok(), before);
    d3.abort();
    hub.shutdown().await;
}

#[tokio::test]
async fn finished_jobs_are_pruned_after_their_retention() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(dir.path()).await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let tag = json!({"type": "scheduleUpdateTwin", "queryCondition": "*",
                     "updateTwin": {"etag": "*", "tags": {"a": 1}}});
    create_job(&rest, "old", &tag).await;
    wait_status(&rest, "old", "completed").await;
    hub.shutdown().await;

    // A hub keeping jobs for a millisecond prunes the finished job at its start.
    let hub = builder()
        .job_retention(std::time::Duration::from_millis(1))
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let rest = Rest::owner(&hub);
    let mut gone = false;
    for _ in 0..500 {
        if rest.get("/jobs/v2/old").await.status == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(gone, "the finished job was not pruned");
    assert!(rows_of(&rest, "old").await.is_empty());
    hub.shutdown().await;
}
