//! Scheduled jobs end to end through the SDK against the embedded hub, with devices on the
//! device SDK: a method job and a twin job run to completion with per-device rows, jobs are
//! listed by type and status and page by page, a job scheduled for later is cancelled,
//! waiting stops at its deadline, and the hub's refusals arrive as typed errors.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant, SystemTime};

use iot_device_sdk::{DeviceClient, DeviceOptions, MethodResponse};
use iot_hub::Hub;
use iot_methods::MethodInvocation;
use iot_protocol::{DeviceJobStatus, ErrorCode, JobId, JobStatus, JobType};
use iot_service_sdk::{Resource, ScheduledJob, ServiceClient, ServiceError, TwinUpdate, field};
use serde_json::{Value, json};
use support::{WAIT, create, hub, owner, within};

/// A device on the device SDK that answers `reboot` with 200 and its id.
async fn online(hub: &Hub, service: &ServiceClient, id: &str) -> DeviceClient {
    let id = create(service, id).await;
    let connection_string = hub
        .device_connection_string(&id)
        .unwrap()
        .to_secret_string();
    let answer = json!({"rebooting": id.as_str()});
    let options = DeviceOptions::from_connection_string(&connection_string)
        .endpoint("127.0.0.1", hub.mqtt_addr().port())
        .insecure_plain_tcp()
        .operation_timeout(WAIT)
        .method("reboot", move |_request| {
            let answer = answer.clone();
            async move { Ok(MethodResponse::ok(answer)) }
        })
        .build()
        .unwrap();
    within(DeviceClient::connect(options)).await.unwrap()
}

fn reboot() -> MethodInvocation {
    MethodInvocation::new("reboot".parse().unwrap(), Value::Null)
        .unwrap()
        .with_response_timeout(Duration::from_secs(5))
        .unwrap()
}

fn soon() -> Instant {
    Instant::now() + WAIT
}

#[tokio::test]
async fn a_method_job_completes_with_a_row_per_device() {
    let hub = hub().await;
    let service = owner(&hub);
    let a = online(&hub, &service, "job-a").await;
    let b = online(&hub, &service, "job-b").await;
    create(&service, "job-offline").await;
    create(&service, "job-other").await;

    let job = ScheduledJob::device_method(reboot())
        .id("reboot-1")
        .condition(field("deviceId").is_in(["job-a", "job-b", "job-offline"]))
        .build()
        .unwrap();
    let created = service.schedule_job(&job).await.unwrap();
    assert_eq!(
        (created.job_id.as_str(), created.job_type),
        ("reboot-1", JobType::ScheduleDeviceMethod)
    );
    let done = service
        .wait_for_completion(job.id(), Duration::from_millis(50), soon())
        .await
        .unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    let statistics = done.device_job_statistics.unwrap();
    assert_eq!(
        (
            statistics.device_count,
            statistics.succeeded_count,
            statistics.failed_count
        ),
        (3, 2, 1)
    );

    let mut rows = service
        .device_jobs(job.id())
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    rows.sort_by(|x, y| x.device_id.cmp(&y.device_id));
    let ids: Vec<&str> = rows.iter().map(|r| r.device_id.as_str()).collect();
    assert_eq!(ids, ["job-a", "job-b", "job-offline"]);
    for row in &rows[..2] {
        assert_eq!(row.status, DeviceJobStatus::Completed);
        let answer = row
            .outcome
            .as_ref()
            .unwrap()
            .device_method_response
            .as_ref()
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(
            answer.payload(),
            &json!({"rebooting": row.device_id.as_str()})
        );
    }
    assert_eq!(rows[2].status, DeviceJobStatus::Failed);
    assert_eq!(rows[2].error.as_ref().unwrap().code, "DeviceNotOnline");

    // Rows of one device across jobs, with a condition of one's own.
    let of_a = service
        .query_device_jobs("SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'job-a'")
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(of_a.len(), 1);
    assert_eq!(of_a[0].job_id, "reboot-1");
    assert!(matches!(
        service.query_device_jobs("SELECT * FROM devices"),
        Err(ServiceError::OutOfRange { .. })
    ));
    a.close().await;
    b.close().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_twin_job_writes_tags_and_desired_properties() {
    let hub = hub().await;
    let service = owner(&hub);
    let device = online(&hub, &service, "twin-a").await;
    create(&service, "twin-b").await;
    let mut desired = device.desired_watch();
    within(desired.changed()).await.unwrap();

    let update = TwinUpdate::new()
        .tags(json!({"ring": "canary"}))
        .desired(json!({"telemetryInterval": 10}));
    let job = ScheduledJob::twin_update(update)
        .condition("*")
        .build()
        .unwrap();
    service.schedule_job(&job).await.unwrap();
    let done = service
        .wait_for_completion(job.id(), Duration::from_millis(50), soon())
        .await
        .unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.device_job_statistics.unwrap().succeeded_count, 2);
    for id in ["twin-a", "twin-b"] {
        let twin = service.get_twin(&id.parse().unwrap()).await.unwrap();
        assert_eq!(twin.tags().content()["ring"], "canary");
        assert_eq!(twin.desired().content()["telemetryInterval"], 10);
    }
    let seen = within(async {
        loop {
            let copy = desired.changed().await.unwrap();
            if copy.get("telemetryInterval").is_some() {
                return copy;
            }
        }
    })
    .await;
    assert_eq!(seen.get("telemetryInterval"), Some(&json!(10)));

    let twin_jobs = service
        .query_jobs()
        .job_type(JobType::ScheduleUpdateTwin)
        .status(JobStatus::Completed)
        .items()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(twin_jobs.len(), 1);
    assert_eq!(&twin_jobs[0].job_id, job.id().as_str());
    let method_jobs = service
        .query_jobs()
        .job_type(JobType::ScheduleDeviceMethod)
        .items()
        .collect_all()
        .await
        .unwrap();
    assert!(method_jobs.is_empty());
    device.close().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_job_for_later_is_cancelled_and_waiting_stops_at_the_deadline() {
    let hub = hub().await;
    let service = owner(&hub);
    create(&service, "later-a").await;
    let job = ScheduledJob::twin_update(TwinUpdate::new().tags(json!({"late": true})))
        .id("later")
        .condition("*")
        .start_at(SystemTime::now() + Duration::from_secs(3600))
        .build()
        .unwrap();
    let created = service.schedule_job(&job).await.unwrap();
    assert_eq!(created.status, JobStatus::Queued);

    let deadline = Instant::now() + Duration::from_millis(300);
    let error = service
        .wait_for_completion(job.id(), Duration::from_millis(50), deadline)
        .await
        .unwrap_err();
    let ServiceError::JobStillRunning { job: still } = &error else {
        panic!("{error:?}");
    };
    assert!(!still.status.is_terminal(), "{error}");
    assert!(error.is_retryable());

    let cancelled = service.cancel_job(job.id()).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    let again = service.cancel_job(job.id()).await.unwrap();
    assert_eq!(again.status, JobStatus::Cancelled);
    let read = service
        .wait_for_completion(job.id(), Duration::from_millis(50), soon())
        .await
        .unwrap();
    assert_eq!(read.status, JobStatus::Cancelled);
    let twin = service.get_twin(&"later-a".parse().unwrap()).await.unwrap();
    assert!(twin.tags().content().get("late").is_none());
    hub.shutdown().await;
}

#[tokio::test]
async fn job_queries_page_through_every_job() {
    let hub = hub().await;
    let service = owner(&hub);
    let later = SystemTime::now() + Duration::from_secs(3600);
    for n in 0..5 {
        let job = ScheduledJob::twin_update(TwinUpdate::new().tags(json!({"n": n})))
            .id(&format!("page-{n}"))
            .condition("*")
            .start_at(later)
            .build()
            .unwrap();
        service.schedule_job(&job).await.unwrap();
    }
    let mut pages = service.query_jobs().page_size(2).pages();
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    while let Some(page) = within(pages.next()).await {
        let page = page.unwrap();
        assert_eq!(page.item_type(), Some("JobResponse"));
        sizes.push(page.len());
        ids.extend(page.into_items().into_iter().map(|job| job.job_id));
    }
    assert_eq!(sizes, [2, 2, 1]);
    ids.sort();
    assert_eq!(ids, ["page-0", "page-1", "page-2", "page-3", "page-4"]);
    let none = service
        .query_jobs()
        .status(JobStatus::Running)
        .items()
        .collect_all()
        .await
        .unwrap();
    assert!(none.is_empty());
    hub.shutdown().await;
}

#[tokio::test]
async fn refusals_are_typed() {
    let hub = hub().await;
    let service = owner(&hub);
    let job = ScheduledJob::device_method(reboot())
        .id("twice")
        .condition("deviceId = 'nobody'")
        .build()
        .unwrap();
    service.schedule_job(&job).await.unwrap();
    let error = service.schedule_job(&job).await.unwrap_err();
    assert!(
        matches!(error, ServiceError::AlreadyExists { .. }),
        "{error:?}"
    );

    let unknown: JobId = "no-such-job".parse().unwrap();
    let error = service.get_job(&unknown).await.unwrap_err();
    assert!(
        matches!(&error, ServiceError::NotFound { resource: Some(Resource::Job(id)), .. } if *id == unknown),
        "{error:?}"
    );
    assert_eq!(error.error_code(), Some(ErrorCode::JobNotFound));
    assert!(
        error
            .to_string()
            .starts_with("job \"no-such-job\" not found"),
        "{error}"
    );
    let error = service.cancel_job(&unknown).await.unwrap_err();
    assert!(matches!(error, ServiceError::NotFound { .. }), "{error:?}");
    let error = service
        .wait_for_completion(&unknown, Duration::ZERO, soon())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ServiceError::OutOfRange { .. }),
        "{error:?}"
    );
    hub.shutdown().await;
}
