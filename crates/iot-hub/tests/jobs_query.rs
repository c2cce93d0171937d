//! Job queries (PROTOCOL 8.1, 8.3): `GET /jobs/v2/query` by type and status, page by page,
//! and the `devices.jobs` rows through `POST /devices/query` with conditions on job fields.
// The helpers fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod jobs_support;
mod rest_support;
mod support;

use iot_protocol::ErrorCode;
use jobs_support::{answer_methods, create_job, online, query_rows, start_in, wait_status};
use reqwest::Method;
use rest_support::{Rest, create_device, hub};
use serde_json::{Value, json};

/// Every job of `GET /jobs/v2/query{filter}`, `page` per page, and how many pages it took.
async fn list(rest: &Rest, filter: &str, page: usize) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut token: Option<String> = None;
    loop {
        let size = page.to_string();
        let mut headers = vec![("x-ms-max-item-count", size.as_str())];
        if let Some(token) = &token {
            headers.push(("x-ms-continuation", token));
        }
        let answer = rest
            .send(
                Method::GET,
                &format!("/jobs/v2/query{filter}"),
                &headers,
                None,
            )
            .await;
        assert_eq!(answer.header("x-ms-item-type"), Some("JobResponse"));
        let jobs = answer.ok();
        let jobs = jobs.as_array().unwrap();
        assert!(jobs.len() <= page);
        ids.extend(
            jobs.iter()
                .map(|job| job["jobId"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match answer.header("x-ms-continuation") {
            Some(next) => token = Some(next.to_owned()),
            None => return (ids, pages),
        }
    }
}

fn twin_job(start: Option<&str>) -> Value {
    json!({"type": "scheduleUpdateTwin", "queryCondition": "*", "startTime": start,
           "updateTwin": {"etag": "*", "tags": {"touched": true}}})
}

#[tokio::test]
async fn jobs_are_listed_by_type_and_status_page_by_page() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    for id in ["t1", "t2", "t3"] {
        create_job(&rest, id, &twin_job(None)).await;
        wait_status(&rest, id, "completed").await;
    }
    for id in ["later1", "later2"] {
        create_job(&rest, id, &twin_job(Some(&start_in(3600)))).await;
        wait_status(&rest, id, "scheduled").await;
    }
    let method = json!({"type": "scheduleDeviceMethod", "queryCondition": "*",
                        "cloudToDeviceMethod": {"methodName": "m"}});
    create_job(&rest, "m1", &method).await;
    wait_status(&rest, "m1", "completed").await;

    let (all, pages) = list(&rest, "", 2).await;
    assert_eq!(all, ["t1", "t2", "t3", "later1", "later2", "m1"]);
    assert_eq!(pages, 3);
    let (twins, _) = list(&rest, "?jobType=scheduleUpdateTwin", 4).await;
    assert_eq!(twins, ["t1", "t2", "t3", "later1", "later2"]);
    let (done, pages) = list(&rest, "?jobType=scheduleUpdateTwin&jobStatus=completed", 1).await;
    assert_eq!(
        (done, pages),
        (vec!["t1".into(), "t2".into(), "t3".into()], 3)
    );
    let (scheduled, _) = list(&rest, "?jobStatus=scheduled", 100).await;
    assert_eq!(scheduled, ["later1", "later2"]);
    let (methods, _) = list(&rest, "?jobType=scheduleDeviceMethod", 100).await;
    assert_eq!(methods, ["m1"]);
    let (none, pages) = list(&rest, "?jobStatus=running", 100).await;
    assert_eq!((none.len(), pages), (0, 1));

    // The paging parameters the jobs guide documents work as the headers do.
    let page = rest.get("/jobs/v2/query?pageSize=4").await;
    assert_eq!(page.ok().as_array().unwrap().len(), 4);
    let token = page.header("x-ms-continuation").unwrap().to_owned();
    let rest_of = rest
        .get(&format!(
            "/jobs/v2/query?pageSize=4&continuationToken={token}"
        ))
        .await
        .ok();
    let ids: Vec<&str> = rest_of
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jobId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["later2", "m1"]);

    // The Python service SDK reads the swagger's QueryResult object.
    let python = "python/3.11.0 (Linux) msrest/0.7.1 iothubgatewayserviceapis/2021-04-12";
    let headers = [("User-Agent", python), ("x-ms-max-item-count", "2")];
    let answer = rest
        .send(
            Method::GET,
            "/jobs/v2/query?jobType=scheduleUpdateTwin",
            &headers,
            None,
        )
        .await;
    let result = answer.ok();
    assert_eq!(result["type"], "jobResponse");
    assert_eq!(result["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        result["continuationToken"].as_str(),
        answer.header("x-ms-continuation")
    );

    for bad in ["?jobType=reboot", "?jobStatus=finished"] {
        let answer = rest.get(&format!("/jobs/v2/query{bad}")).await;
        answer.expect_error(ErrorCode::ArgumentInvalid);
    }
    let answer = rest
        .send(
            Method::GET,
            "/jobs/v2/query",
            &[("x-ms-continuation", "r.1")],
            None,
        )
        .await;
    answer.expect_error(ErrorCode::ArgumentInvalid);
    hub.shutdown().await;
}

#[tokio::test]
async fn device_job_rows_are_queried_by_job_fields() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let mut responders = Vec::new();
    for id in ["a1", "a2", "a3"] {
        create_device(&rest, id).await;
        responders.push(answer_methods(online(&hub, id).await, 200));
    }
    create_device(&rest, "gone").await;
    let method = json!({"type": "scheduleDeviceMethod", "queryCondition": "*",
                        "cloudToDeviceMethod": {"methodName": "ping"}});
    create_job(&rest, "ping", &method).await;
    wait_status(&rest, "ping", "completed").await;
    create_job(&rest, "tag", &twin_job(None)).await;
    wait_status(&rest, "tag", "completed").await;

    let all = query_rows(&rest, "devices.jobs.jobId = 'ping'", 2).await;
    let devices: Vec<&str> = all
        .iter()
        .map(|r| r["deviceId"].as_str().unwrap())
        .collect();
    assert_eq!(devices, ["a1", "a2", "a3", "gone"]);
    let failed = query_rows(&rest, "jobId = 'ping' AND status = 'failed'", 10).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["deviceId"], "gone");
    assert_eq!(failed[0]["error"]["code"], "DeviceNotOnline");
    let twin_rows = query_rows(&rest, "jobType = 'scheduleUpdateTwin'", 3).await;
    assert_eq!(twin_rows.len(), 4);
    assert!(twin_rows.iter().all(|row| row["jobId"] == "tag"));
    let one = query_rows(&rest, "devices.jobs.deviceId = 'a2'", 10).await;
    let jobs: Vec<&str> = one.iter().map(|r| r["jobId"].as_str().unwrap()).collect();
    assert_eq!(jobs, ["ping", "tag"]);

    // `devices.jobs` takes only SELECT *.
    let query = json!({"query": "SELECT deviceId FROM devices.jobs"});
    let answer = rest.json(Method::POST, "/devices/query", &[], &query).await;
    answer.expect_error(ErrorCode::ArgumentInvalid);
    // Twin queries never show job rows.
    let query = json!({"query": "SELECT * FROM devices WHERE deviceId = 'a1'"});
    let twins = rest
        .json(Method::POST, "/devices/query", &[], &query)
        .await
        .ok();
    assert!(twins[0].get("jobs").is_none());
    for responder in responders {
        responder.abort();
    }
    hub.shutdown().await;
}
