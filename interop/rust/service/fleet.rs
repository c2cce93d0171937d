//! The telemetry, cloud-to-device, query, job and configuration steps of `interop_service`
//! (PROTOCOL 5, 8, 9, 10).

use std::time::{Duration, Instant};

use iot_methods::MethodInvocation;
use iot_protocol::{ConfigurationId, Device, IfMatch, JobStatus};
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
            message["properties"]["scenario"] == json!(self.pair),
            format!("properties {}", message["properties"]),
        )?;
        check(
            message["contentType"] == "application/json",
            format!("content type {}", message["contentType"]),
        )
    }

    pub(super) async fn c2d_send(&self) -> Result<(), String> {
        let id = format!("{}-c2d-1", self.pair);
        self.control
            .send_c2d(
                self.device_id.as_str(),
                "reboot at noon",
                json!({"kind": "notice"}),
                &id,
            )
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
