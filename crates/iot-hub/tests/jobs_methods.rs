//! Method jobs over REST (PROTOCOL 9) with devices connected over MQTT: every picked device
//! is called, each gets its `devices.jobs` row, and the statistics count them; an offline
//! device fails unless its connect timeout lets it come online.
// The helpers fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod jobs_support;
mod rest_support;
mod support;

use jobs_support::{
    answer_methods, counts, create_job, online, rows_of, wait_job_for, wait_status,
};
use rest_support::{Rest, WAIT, create_device, hub};
use serde_json::{Value, json};

fn row<'a>(rows: &'a [Value], device: &str) -> &'a Value {
    rows.iter()
        .find(|row| row["deviceId"] == device)
        .unwrap_or_else(|| panic!("no row for {device}: {rows:?}"))
}

#[tokio::test]
async fn a_method_job_calls_every_picked_device_and_records_each() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    for id in ["d1", "d2", "d3", "off", "other"] {
        create_device(&rest, id).await;
    }
    let mut responders = Vec::new();
    for id in ["d1", "d2", "d3", "other"] {
        responders.push(answer_methods(online(&hub, id).await, 200));
    }

    // What the Node service SDK sends for `scheduleDeviceMethod` without a start time.
    let body = json!({
        "jobId": "reboot-all", "type": "scheduleDeviceMethod",
        "cloudToDeviceMethod": {"methodName": "reboot", "payload": {"delay": 1}, "responseTimeoutInSeconds": 5},
        "queryCondition": "deviceId IN ['d1', 'd2', 'd3', 'off']",
        "startTime": null, "maxExecutionTimeInSeconds": 3600,
    });
    let created = create_job(&rest, "reboot-all", &body).await;
    assert_eq!(created["status"], "queued");
    assert_eq!(created["jobId"], "reboot-all");
    assert_eq!(created["type"], "scheduleDeviceMethod");
    assert_eq!(
        created["queryCondition"],
        "deviceId IN ['d1', 'd2', 'd3', 'off']"
    );
    assert_eq!(created["cloudToDeviceMethod"]["methodName"], "reboot");
    assert_eq!(created["maxExecutionTimeInSeconds"], 3600);
    assert!(created["createdTime"].is_string() && created["startTime"].is_string());

    let done = wait_status(&rest, "reboot-all", "completed").await;
    assert_eq!(counts(&done), [4, 3, 1, 0, 0]);
    assert!(done["endTime"].as_str().unwrap() >= done["startTime"].as_str().unwrap());

    let rows = rows_of(&rest, "reboot-all").await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    for device in ["d1", "d2", "d3"] {
        let row = row(&rows, device);
        assert_eq!(row["status"], "completed");
        assert_eq!(row["jobType"], "scheduleDeviceMethod");
        assert_eq!(
            row["outcome"]["deviceMethodResponse"],
            json!({"status": 200, "payload": {"method": "reboot"}})
        );
        assert!(row["startTimeUtc"].as_str().unwrap() <= row["endTimeUtc"].as_str().unwrap());
        assert!(row.get("error").is_none(), "{row}");
    }
    let off = row(&rows, "off");
    assert_eq!(off["status"], "failed");
    assert_eq!(off["error"]["code"], "DeviceNotOnline");
    assert_eq!(off["outcome"], json!({"deviceMethodResponse": null}));
    for responder in responders {
        responder.abort();
    }
    hub.shutdown().await;
}

#[tokio::test]
async fn a_device_that_connects_within_the_connect_timeout_is_called() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "late").await;
    let body = json!({
        "type": "scheduleDeviceMethod", "queryCondition": "deviceId = 'late'",
        "cloudToDeviceMethod": {"methodName": "ping", "responseTimeoutInSeconds": 5, "connectTimeoutInSeconds": 10},
    });
    create_job(&rest, "wait-for-it", &body).await;
    let running = wait_job_for(&rest, "wait-for-it", WAIT, |job| counts(job)[3] == 1).await;
    assert_eq!(running["status"], "running");
    let responder = answer_methods(online(&hub, "late").await, 202);
    let done = wait_status(&rest, "wait-for-it", "completed").await;
    assert_eq!(counts(&done), [1, 1, 0, 0, 0]);
    let rows = rows_of(&rest, "wait-for-it").await;
    assert_eq!(rows[0]["outcome"]["deviceMethodResponse"]["status"], 202);
    responder.abort();
    hub.shutdown().await;
}

#[tokio::test]
async fn a_job_that_picks_no_device_completes_at_once() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let body = json!({
        "type": "scheduleDeviceMethod", "queryCondition": "tags.missing = 1",
        "cloudToDeviceMethod": {"methodName": "m"},
    });
    create_job(&rest, "nobody", &body).await;
    let done = wait_status(&rest, "nobody", "completed").await;
    assert_eq!(counts(&done), [0, 0, 0, 0, 0]);
    assert!(rows_of(&rest, "nobody").await.is_empty());
    hub.shutdown().await;
}
