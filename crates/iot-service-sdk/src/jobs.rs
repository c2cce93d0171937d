//! Scheduled jobs (PROTOCOL 9): schedule a device-method or twin-update job
//! ([`ScheduledJob`]), read it, cancel it, wait for it to end, list jobs ([`JobQuery`]), and
//! read each device's part in a job ([`DeviceJob`] rows of `devices.jobs`).

mod condition;
mod query;
mod schedule;

use std::time::{Duration, Instant};

use iot_protocol::{DeviceJob, JobId, JobResponse};
use iot_twin::query::Collection;

use crate::request::{Method, Request, Segment, path};
use crate::retry::Retry;
use crate::{IntoQuery, Query, QueryItems, ServiceClient, ServiceError, field};

pub(crate) use condition::{check_condition_text, condition_text};
pub use query::JobQuery;
pub use schedule::{DEFAULT_MAX_EXECUTION_TIME, JobBuilder, ScheduledJob};

fn job_path(id: &JobId) -> String {
    path(&[
        Segment::Literal("jobs"),
        Segment::Literal("v2"),
        Segment::Id(id.as_str()),
    ])
}

impl ServiceClient {
    /// Schedules `job` (`PUT /jobs/v2/{id}`) and returns the hub's first view of it (IoT Hub
    /// answers with status `queued`).
    ///
    /// Not retried once sent: a job that reached the hub would fail again with
    /// [`ServiceError::AlreadyExists`].
    ///
    /// ```no_run
    /// # async fn run(client: iot_service_sdk::ServiceClient) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, Instant};
    /// use iot_methods::MethodInvocation;
    /// use iot_service_sdk::ScheduledJob;
    /// use serde_json::json;
    ///
    /// let reboot = MethodInvocation::new("reboot".parse()?, json!(null))?;
    /// let job = ScheduledJob::device_method(reboot).condition("tags.ring = 'canary'").build()?;
    /// client.schedule_job(&job).await?;
    /// let deadline = Instant::now() + Duration::from_secs(120);
    /// let done = client.wait_for_completion(job.id(), Duration::from_secs(2), deadline).await?;
    /// println!("{:?}: {:?}", done.status, done.device_job_statistics);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`ServiceError::AlreadyExists`] when the id is taken, [`ServiceError::Throttled`] when
    /// the hub runs as many jobs as it allows, [`ServiceError::BadRequest`] for a job the hub
    /// refuses, and the errors every call can have.
    pub async fn schedule_job(&self, job: &ScheduledJob) -> Result<JobResponse, ServiceError> {
        let request = Request::new(Method::Put, job_path(job.id()))
            .job(job.id())
            .json(job.request())?;
        self.execute_json(request, "job").await
    }

    /// Reads a job (`GET /jobs/v2/{id}`): its status and device statistics.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when there is no such job.
    pub async fn get_job(&self, id: &JobId) -> Result<JobResponse, ServiceError> {
        let request = Request::new(Method::Get, job_path(id)).job(id);
        self.execute_json(request, "job").await
    }

    /// Cancels a job (`POST /jobs/v2/{id}/cancel`): devices it has not reached yet are not
    /// reached. Returns the job; its status becomes `cancelled` once the hub has stopped it.
    /// Retried like an idempotent request: cancelling twice is cancelling once.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when there is no such job.
    pub async fn cancel_job(&self, id: &JobId) -> Result<JobResponse, ServiceError> {
        let path = format!("{}/cancel", job_path(id));
        let request = Request::new(Method::Post, path)
            .job(id)
            .retry(Retry::Idempotent);
        self.execute_json(request, "job").await
    }

    /// Reads the job every `poll_interval` until it has ended (`completed`, `failed` or
    /// `cancelled`) and returns its final state.
    ///
    /// Failures that may pass (throttling, a hub restarting) do not end the wait: the next
    /// poll tries again.
    ///
    /// # Errors
    /// [`ServiceError::JobStillRunning`] with the job's last state when `deadline` comes
    /// first (or the last passing failure, if the last poll failed);
    /// [`ServiceError::OutOfRange`] for a zero `poll_interval`; [`ServiceError::NotFound`]
    /// and other lasting failures of [`Self::get_job`] at once.
    pub async fn wait_for_completion(
        &self,
        id: &JobId,
        poll_interval: Duration,
        deadline: Instant,
    ) -> Result<JobResponse, ServiceError> {
        if poll_interval.is_zero() {
            return Err(ServiceError::out_of_range(
                "poll_interval",
                "must be more than zero",
            ));
        }
        let started = tokio::time::Instant::now();
        let deadline = tokio::time::Instant::from_std(deadline);
        let mut last = None;
        loop {
            match tokio::time::timeout_at(deadline, self.get_job(id)).await {
                Ok(Ok(job)) if job.status.is_terminal() => return Ok(job),
                Ok(Ok(job)) => last = Some(Ok(job)),
                Ok(Err(error)) if error.is_retryable() => last = Some(Err(error)),
                Ok(Err(error)) => return Err(error),
                Err(_) => {}
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(match last {
                    Some(Ok(job)) => ServiceError::JobStillRunning { job: Box::new(job) },
                    Some(Err(error)) => error,
                    None => ServiceError::RequestTimeout {
                        after: deadline.duration_since(started),
                    },
                });
            }
            tokio::time::sleep_until(deadline.min(now + poll_interval)).await;
        }
    }

    /// Each device's part in job `id` (`SELECT * FROM devices.jobs WHERE
    /// devices.jobs.jobId = '...'`): its status, the method's answer or the error.
    ///
    /// # Errors
    /// [`ServiceError::InvalidQuery`] if the query cannot be written for the id (it always
    /// can for a valid [`JobId`]).
    pub fn device_jobs(&self, id: &JobId) -> Result<QueryItems<DeviceJob>, ServiceError> {
        let query = Query::select_all()
            .from(Collection::DeviceJobs)
            .where_(field("devices.jobs.jobId").eq(id.as_str()));
        self.query_device_jobs(query)
    }

    /// The rows of a query of `devices.jobs` as typed [`DeviceJob`]s, for conditions of your
    /// own (`SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'd1'`).
    ///
    /// # Errors
    /// [`ServiceError::InvalidQuery`] for text that does not parse,
    /// [`ServiceError::OutOfRange`] for a query of another collection.
    pub fn query_device_jobs(
        &self,
        query: impl IntoQuery,
    ) -> Result<QueryItems<DeviceJob>, ServiceError> {
        let query = query.into_query()?;
        if query.collection() != Collection::DeviceJobs {
            return Err(ServiceError::out_of_range(
                "query",
                format!("`{query}` does not query devices.jobs"),
            ));
        }
        Ok(self.query(query)?.items_as())
    }
}
