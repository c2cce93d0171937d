//! Helpers shared by the job tests: creating jobs over REST, waiting for a job to reach a
//! state, reading its `devices.jobs` rows, and devices that answer direct methods.
// Each test binary uses a subset of the helpers, and a helper that fails should fail the test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use iot_hub::Hub;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use rumqttc::mqttbytes::v4::Packet;

use crate::rest_support::{Rest, WAIT};
use crate::support::Client;

/// How long a device waits for a packet before it looks again.
const IDLE: Duration = Duration::from_secs(600);

/// `PUT /jobs/v2/{id}` with `body`; the answer's JSON after checking for a 200.
pub async fn create_job(rest: &Rest, id: &str, body: &Value) -> Value {
    rest.json(Method::PUT, &format!("/jobs/v2/{id}"), &[], body)
        .await
        .ok()
}

/// `GET /jobs/v2/{id}`.
pub async fn get_job(rest: &Rest, id: &str) -> Value {
    rest.get(&format!("/jobs/v2/{id}")).await.ok()
}

/// Polls the job until `done` holds (every 20 ms, for at most `limit`); panics with the last
/// state otherwise.
pub async fn wait_job_for(
    rest: &Rest,
    id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let job = get_job(rest, id).await;
        if done(&job) {
            return job;
        }
        assert!(started.elapsed() < limit, "job {id} never got there: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the job until it has `status`, for at most [`WAIT`].
pub async fn wait_status(rest: &Rest, id: &str, status: &str) -> Value {
    wait_job_for(rest, id, WAIT, |job| job["status"] == status).await
}

/// The job's `deviceJobStatistics` as `[deviceCount, succeeded, failed, running, pending]`.
pub fn counts(job: &Value) -> [u64; 5] {
    let s = &job["deviceJobStatistics"];
    [
        "deviceCount",
        "succeededCount",
        "failedCount",
        "runningCount",
        "pendingCount",
    ]
    .map(|name| s[name].as_u64().unwrap())
}

/// Every row of `SELECT * FROM devices.jobs WHERE ...`, page by page (`page` rows each).
pub async fn query_rows(rest: &Rest, condition: &str, page: usize) -> Vec<Value> {
    let query = json!({ "query": format!("SELECT * FROM devices.jobs WHERE {condition}") });
    let mut rows = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let size = page.to_string();
        let mut headers = vec![("x-ms-max-item-count", size.as_str())];
        if let Some(token) = &token {
            headers.push(("x-ms-continuation", token));
        }
        let answer = rest
            .json(Method::POST, "/devices/query", &headers, &query)
            .await;
        assert_eq!(answer.header("x-ms-item-type"), Some("DeviceJob"));
        let items = answer.ok();
        rows.extend(items.as_array().unwrap().iter().cloned());
        match answer.header("x-ms-continuation") {
            Some(next) => token = Some(next.to_owned()),
            None => return rows,
        }
    }
}

/// The job's rows by device id.
pub async fn rows_of(rest: &Rest, job_id: &str) -> Vec<Value> {
    query_rows(rest, &format!("devices.jobs.jobId = '{job_id}'"), 100).await
}

/// A device connected over MQTT and subscribed to method requests and desired properties.
pub async fn online(hub: &Hub, id: &str) -> Client {
    let id = id.parse().unwrap();
    let (mut client, _) = Client::device(hub, &id, true).await;
    client
        .subscribe(&[
            "$iothub/methods/POST/#",
            "$iothub/twin/PATCH/properties/desired/#",
        ])
        .await;
    client
}

/// Answers every method request with `status` and the method's name as payload, until the
/// task is aborted (tests abort it before stopping the hub).
pub fn answer_methods(mut client: Client, status: u16) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Some(Packet::Publish(request)) = client.recv_within(IDLE).await else {
                continue;
            };
            let Some(rest) = request.topic.strip_prefix("$iothub/methods/POST/") else {
                continue;
            };
            let (name, query) = rest.split_once("/?$rid=").unwrap();
            let topic = format!("$iothub/methods/res/{status}/?$rid={query}");
            let payload = serde_json::to_vec(&json!({ "method": name })).unwrap();
            client.publish(&topic, &payload).await;
        }
    })
}

/// A start time `seconds` from now, in the form the Node service SDK sends.
pub fn start_in(seconds: u64) -> String {
    let at = std::time::SystemTime::now() + Duration::from_secs(seconds);
    iot_twin::Timestamp::from_system_time(at)
        .unwrap()
        .to_string()
}
