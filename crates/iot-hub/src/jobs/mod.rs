//! Scheduled jobs (PROTOCOL 9): a direct method or a twin update run on every device a
//! condition picks, at a start time, a bounded number of devices at a time, with per-device
//! rows (`devices.jobs`, PROTOCOL 8.3) and statistics.
//!
//! [`Jobs`] is the in-process API and what `PUT/GET /jobs/v2/...` call. Jobs and their rows
//! are stored; after a restart unfinished jobs go on where they were (rows that were running:
//! see `rows.rs`), and finished ones stay until their retention passes
//! (`HubBuilder::job_retention`, 30 days by default as on IoT Hub).
//!
//! At most `HubBuilder::max_active_jobs` jobs run at a time (10 by default). IoT Hub allows 1
//! on Free and S1, 5 on S2, 10 on S3, and refuses more with 429
//! `ThrottlingMaxActiveJobCountExceeded`; a local hub serving one developer's fleet is better
//! off queueing: a job whose start time came while every slot is taken waits `queued` and
//! runs when a slot frees, in the order the jobs came to wait. Creating a job never fails for
//! lack of a slot.
//!
//! # Layout
//! - `spec.rs`: checking a request; `book.rs`: jobs and rows in memory and in the store.
//! - `runner.rs`: a job's life in its task; `rows.rs`: its running phase; `device.rs`: one
//!   device's part and its row.
//! - `supervisor.rs`: starting tasks and pruning finished jobs.

mod book;
mod device;
mod rows;
mod runner;
mod spec;
pub(crate) mod supervisor;

use std::sync::Arc;

use iot_protocol::{DeviceJob, JobId, JobRequest, JobResponse, JobStatus, JobType};
use tokio::sync::oneshot;

pub(crate) use book::JobBook;

use crate::HubError;
use crate::core::{Core, now};
use book::{JobState, statistics};
use spec::{Action, JobSpec};

/// The hub's scheduled jobs: create, read, cancel and list them. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use iot_protocol::{JobRequest, JobStatus};
///
/// let hub = iot_hub::Hub::builder()
///     .mqtt_addr("127.0.0.1:0".parse()?)
///     .plain_tcp()
///     .start()
///     .await?;
/// let patch = serde_json::json!({"etag": "*", "tags": {"site": "north"}});
/// let request = JobRequest::twin_update("tag-all", "*", patch.as_object().unwrap().clone());
/// let job = hub.jobs().create(&request).await?;
/// assert_eq!(job.status, JobStatus::Queued);
/// hub.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Jobs {
    core: Arc<Core>,
}

impl Jobs {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Creates a job: `scheduleDeviceMethod` with `cloudToDeviceMethod`, or
    /// `scheduleUpdateTwin` with `updateTwin` (which must hold `"etag":"*"`), a
    /// `queryCondition` (a condition over device twins, or `*`), a start time (none: now) and
    /// a maximum execution time (none: an hour). Returns the job as created, `queued`.
    ///
    /// # Errors
    /// [`HubError::InvalidJob`] naming the field at fault, [`HubError::JobAlreadyExists`], or
    /// [`HubError::Store`].
    pub async fn create(&self, request: &JobRequest) -> Result<JobResponse, HubError> {
        let spec = JobSpec::from_request(request)?;
        let created = now();
        let (method, twin) = match &spec.action {
            Action::Method(_) => (request.cloud_to_device_method.clone(), None),
            Action::Twin(_) => (None, request.update_twin.clone()),
        };
        let job = JobResponse {
            job_id: spec.id.as_str().to_owned(),
            query_condition: request.query_condition.clone(),
            created_time: Some(created),
            start_time: Some(spec.start.unwrap_or(created)),
            end_time: None,
            max_execution_time_in_seconds: Some(spec.max_execution.as_secs()),
            job_type: spec.action.job_type(),
            cloud_to_device_method: method,
            update_twin: twin,
            status: JobStatus::Queued,
            failure_reason: None,
            status_message: None,
            device_job_statistics: None,
            device_id: None,
            parent_job_id: None,
        };
        let state = JobState {
            job: job.clone(),
            running_since: None,
        };
        self.core.jobs.create(&self.core.store, state).await?;
        tracing::info!(job_id = %spec.id, "job created");
        Ok(JobResponse {
            device_job_statistics: Some(statistics(std::iter::empty())),
            ..job
        })
    }

    /// The job with its statistics.
    ///
    /// # Errors
    /// [`HubError::JobNotFound`].
    pub fn get(&self, id: &JobId) -> Result<JobResponse, HubError> {
        self.core.jobs.get(id).ok_or_else(|| not_found(id))
    }

    /// Cancels a job and returns it once cancelled: a job not running yet ends at once; a
    /// running one starts no more devices, their rows become `canceled`, method calls in
    /// flight are abandoned (`canceled` too) and twin writes in flight finish. A finished job
    /// is returned as it is.
    ///
    /// # Errors
    /// [`HubError::JobNotFound`].
    pub async fn cancel(&self, id: &JobId) -> Result<JobResponse, HubError> {
        let job = self.get(id)?;
        if job.status.is_terminal() {
            return Ok(job);
        }
        let canceller = self.core.jobs.canceller(id).ok_or_else(|| not_found(id))?;
        let (request, done) = oneshot::channel();
        if canceller.send(request).is_ok() {
            // Without an answer the job ended (or the hub stopped) first: it is read as it is.
            let _ = done.await;
        }
        self.get(id)
    }

    /// The jobs of a type and status (any when `None`), oldest first.
    pub fn list(&self, job_type: Option<JobType>, status: Option<JobStatus>) -> Vec<JobResponse> {
        self.core.jobs.list(job_type, status)
    }

    /// A job's per-device rows, by device id.
    ///
    /// # Errors
    /// [`HubError::JobNotFound`].
    pub fn device_jobs(&self, id: &JobId) -> Result<Vec<DeviceJob>, HubError> {
        self.core.jobs.rows(id).ok_or_else(|| not_found(id))
    }
}

fn not_found(id: &JobId) -> HubError {
    HubError::JobNotFound { job_id: id.clone() }
}
