//! The telemetry, cloud-to-device, query, job and configuration steps of `interop_service`
//! (PROTOCOL 5, 8, 9, 10).

use std::time::{Duration, Instant, SystemTime};

use iot_methods::MethodInvocation;
use iot_protocol::{ConfigurationId, Device, DeviceJobStatus, IfMatch, JobStatus, JobType};
use iot_service_sdk::{
    ConfigurationBuilder, ConfigurationContent, ScheduledJob, TwinUpdate, field,
};
use serde_json::json;

use super::{DEVICE_WAIT, JOB_WAIT, Scenario, check, expect_status, show, wait_for};

impl Scenario {
    // Telemetry and cloud-to-device messages (PROTOCOL 5), through the control port.

    pub(super) async fn telemetry_received(&self) -> Result<(), String> {
        let id = format!("{}-telemetry-1", self.pair);
        let message = wait_for(
            Duration::from_secs(DEVICE_WAIT),
            "the hub did not receive the telemetry",
            || async {
                let messages = self.control.telemetry(self.device_id.as_str()).await?;
                Ok(messages.into_iter().find(|m| m["messageId"] == json!(id)))
            },
        )
        .await?;
        check(
            message["body"] == "{\"temperature\": 21.5}",
            format!("body {}", message["body"]),
        )?;
        check(
            message["properties"] == super::telemetry_properties(&self.pair),
            format!("properties {}", message["properties"]),
        )?;
        check(
            message["contentType"] == "application/json",
            format!("content type {}", message["contentType"]),
        )
    }

    pub(super) async fn c2d_send(&self) -> Result<(), String> {
        let message = super::c2d_message(&self.pair);
        self.control
            .send_c2d(self.device_id.as_str(), &message)
            .await
    }

    // Queries (PROTOCOL 8).

    pub(super) async fn query_paging(&mut self) -> Result<(), String> {
        let mut expected = Vec::new();
        for n in 0..3 {
            let id = self.id(&format!("q{n}"))?;
            self.client
                .create_device(&Device::new(id.clone()))
                .await
                .map_err(show)?;
            self.temporary.push(id.clone());
            let tags = TwinUpdate::new().tags(json!({"interopQuery": self.pair}));
            self.client
                .update_twin(&id, &tags, IfMatch::ANY)
                .await
                .map_err(show)?;
            expected.push(id.as_str().to_owned());
        }
        let text = format!(
            "SELECT * FROM devices WHERE tags.interopQuery = '{}'",
            self.pair
        );
        let mut pages = self
            .client
            .query(text.as_str())
            .map_err(show)?
            .page_size(2)
            .pages();
        let first = pages.next().await.ok_or("no first page")?.map_err(show)?;
        check(
            first.len() == 2,
            format!("first page has {} twins, not 2", first.len()),
        )?;
        check(
            first.continuation().is_some(),
            "the first page has no continuation",
        )?;
        check(
            first.item_type() == Some("Twin"),
            format!("item type {:?}", first.item_type()),
        )?;
        let second = pages.next().await.ok_or("no second page")?.map_err(show)?;
        check(
            second.len() == 1,
            format!("second page has {} twins, not 1", second.len()),
        )?;
        check(
            second.continuation().is_none(),
            "the last page has a continuation",
        )?;
        check(pages.next().await.is_none(), "a page after the last")?;
        let mut ids: Vec<String> = first
            .items()
            .iter()
            .chain(second.items())
            .map(|t| t["deviceId"].as_str().unwrap_or_default().to_owned())
            .collect();
        ids.sort();
        check(ids == expected, format!("twins {ids:?}"))
    }

    // Jobs (PROTOCOL 9).

    pub(super) async fn run_job(&self, job: ScheduledJob) -> Result<(), String> {
        let created = self.client.schedule_job(&job).await.map_err(show)?;
        check(
            created.job_id == job.id().as_str(),
            format!("created job {}", created.job_id),
        )?;
        let deadline = Instant::now() + JOB_WAIT;
        let done = self
            .client
            .wait_for_completion(job.id(), Duration::from_millis(500), deadline)
            .await
            .map_err(show)?;
        check(
            done.status == JobStatus::Completed,
            format!("job status {:?}: {:?}", done.status, done.failure_reason),
        )?;
        let statistics = done.device_job_statistics.ok_or("no device statistics")?;
        check(
            statistics.device_count == 1 && statistics.succeeded_count == 1,
            format!("statistics {statistics:?}"),
        )
    }

    pub(super) async fn jobs_method(&self) -> Result<(), String> {
        let call =
            MethodInvocation::new("jobEcho".parse().map_err(show)?, json!({"job": self.pair}))
                .and_then(|c| c.with_response_timeout(Duration::from_secs(10)))
                .map_err(show)?;
        let job = ScheduledJob::device_method(call)
            .id(&format!("{}-method-job", self.pair))
            .condition(field("deviceId").eq(self.device_id.as_str()))
            .max_execution_time(Duration::from_secs(120))
            .build()
            .map_err(show)?;
        self.run_job(job).await
    }

    pub(super) async fn jobs_twin(&self) -> Result<(), String> {
        let update = TwinUpdate::new()
            .tags(json!({"fromJob": self.pair}))
            .desired(json!({"fromJob": self.pair}));
        let job = ScheduledJob::twin_update(update)
            .id(&format!("{}-twin-job", self.pair))
            .condition(field("deviceId").eq(self.device_id.as_str()))
            .max_execution_time(Duration::from_secs(120))
            .build()
            .map_err(show)?;
        self.run_job(job).await?;
        let twin = self.client.get_twin(&self.device_id).await.map_err(show)?;
        check(
            twin.tags().content().get("fromJob") == Some(&json!(self.pair)),
            "tags after the job",
        )
    }

    // Configurations (PROTOCOL 10).

    pub(super) async fn jobs_cancel(&self) -> Result<(), String> {
        let update = TwinUpdate::new().tags(json!({"never": true}));
        let job = ScheduledJob::twin_update(update)
            .id(&format!("{}-cancelled-job", self.pair))
            .condition(field("deviceId").eq(self.device_id.as_str()))
            .start_at(SystemTime::now() + Duration::from_secs(3600))
            .build()
            .map_err(show)?;
        let created = self.client.schedule_job(&job).await.map_err(show)?;
        check(
            matches!(created.status, JobStatus::Queued | JobStatus::Scheduled),
            format!("new job status {:?}", created.status),
        )?;
        self.client.cancel_job(job.id()).await.map_err(show)?;
        wait_for(JOB_WAIT, "the job did not become cancelled", || async {
            let job = self.client.get_job(job.id()).await.map_err(show)?;
            Ok((job.status == JobStatus::Cancelled).then_some(()))
        })
        .await
    }

    pub(super) async fn jobs_device_rows(&self) -> Result<(), String> {
        let id = format!("{}-method-job", self.pair).parse().map_err(show)?;
        let rows = self
            .client
            .device_jobs(&id)
            .map_err(show)?
            .collect_all()
            .await
            .map_err(show)?;
        let [row] = rows.as_slice() else {
            return Err(format!("{} rows, not 1", rows.len()));
        };
        check(
            row.device_id == self.device_id,
            format!("row of {}", row.device_id),
        )?;
        check(
            row.status == DeviceJobStatus::Completed,
            format!("row status {:?}", row.status),
        )?;
        let answer = row
            .outcome
            .as_ref()
            .and_then(|o| o.device_method_response.as_ref());
        let expected = json!({"method": "jobEcho", "echo": {"job": self.pair}});
        check(
            answer.is_some_and(|a| a.status() == 200 && *a.payload() == expected),
            format!("method answer {answer:?}"),
        )
    }

    pub(super) async fn jobs_query(&self) -> Result<(), String> {
        let jobs = self
            .client
            .query_jobs()
            .job_type(JobType::ScheduleUpdateTwin)
            .items()
            .collect_all()
            .await
            .map_err(show)?;
        let ids: Vec<&str> = jobs.iter().map(|job| job.job_id.as_str()).collect();
        let wanted = format!("{}-twin-job", self.pair);
        check(
            ids.contains(&wanted.as_str()),
            format!("jobs listed {ids:?}"),
        )?;
        let kinds_match = jobs
            .iter()
            .all(|job| job.job_type == JobType::ScheduleUpdateTwin);
        check(kinds_match, "a job of another type is listed")
    }

    pub(super) fn configuration_id(&self) -> Result<ConfigurationId, String> {
        format!("{}-config", self.pair).parse().map_err(show)
    }

    pub(super) async fn configurations_create(&self) -> Result<(), String> {
        let id = self.configuration_id()?;
        let content = ConfigurationContent::device().desired(
            "properties.desired.fromConfiguration",
            json!({"pair": self.pair}),
        );
        let configuration = ConfigurationBuilder::new(id.as_str())
            .target_condition(field("tags.interopPair").eq(self.pair.as_str()))
            .priority(10)
            .label("suite", "interop")
            .content(content)
            .build()
            .map_err(show)?;
        let created = self
            .client
            .create_configuration(&configuration)
            .await
            .map_err(show)?;
        check(created.id == id.as_str(), format!("created {}", created.id))?;
        check(created.etag.is_some(), "the configuration has no etag")?;
        let read = self.client.get_configuration(&id).await.map_err(show)?;
        check(
            read.target_condition == configuration.target_condition,
            "target condition",
        )
    }

    pub(super) async fn configurations_applied(&self) -> Result<(), String> {
        let text = format!(
            "SELECT deviceId FROM devices WHERE configurations.[[{}]].status = 'Applied'",
            self.configuration_id()?.as_str()
        );
        wait_for(
            JOB_WAIT,
            "the configuration was not applied to the twin",
            || async {
                let rows = self
                    .client
                    .query(text.as_str())
                    .map_err(show)?
                    .items()
                    .collect_all()
                    .await
                    .map_err(show)?;
                Ok(rows
                    .iter()
                    .any(|row| row["deviceId"] == self.device_id.as_str())
                    .then_some(()))
            },
        )
        .await?;
        let twin = self.client.get_twin(&self.device_id).await.map_err(show)?;
        let desired = twin.desired().content().get("fromConfiguration").cloned();
        check(
            desired == Some(json!({"pair": self.pair})),
            format!("desired fromConfiguration {desired:?}"),
        )
    }

    pub(super) async fn configurations_update(&self) -> Result<(), String> {
        let id = self.configuration_id()?;
        let mut current = self.client.get_configuration(&id).await.map_err(show)?;
        let stale = IfMatch::etag(current.etag.as_deref().unwrap_or_default()).map_err(show)?;
        current.priority = Some(11);
        current
            .labels
            .insert("updated".to_owned(), "yes".to_owned());
        let updated = self
            .client
            .update_configuration(&current, stale.clone())
            .await
            .map_err(show)?;
        check(
            updated.priority == Some(11),
            format!("priority {:?}", updated.priority),
        )?;
        check(updated.etag != current.etag, "the etag did not change")?;
        let again = self.client.update_configuration(&current, stale).await;
        expect_status(again, 412, "updating with a stale etag")?;
        let listed = self
            .client
            .list_configurations(Some(100))
            .await
            .map_err(show)?;
        check(
            listed.iter().any(|c| c.id == id.as_str()),
            "the configuration is not listed",
        )
    }

    pub(super) async fn configurations_delete(&self) -> Result<(), String> {
        let id = self.configuration_id()?;
        self.client
            .delete_configuration(&id, IfMatch::ANY)
            .await
            .map_err(show)?;
        let gone = self.client.get_configuration(&id).await;
        expect_status(gone, 404, "reading the deleted configuration").map(drop)
    }
}
