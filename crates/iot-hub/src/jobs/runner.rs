//! [`JobTask`]: one job's life, from creation to its end, in its own task.
//!
//! ```text
//!  queued --(start time in the future)--> scheduled --(start time)--+
//!    |                                                               |
//!    +---------------------------------------------------------------+
//!    |                                        (no free running slot: queued)
//!    v
//!  running --(every row done, or the maximum execution time ran out)--> completed
//!    |
//!    +--(cancel)--> cancelled      (a cancel before running also ends in cancelled)
//!    +--(the job cannot run: its stored request or the store fails)--> failed
//! ```
//!
//! The task is the job's only writer: it commits each change and then installs it in the
//! [`super::book::JobBook`]. When the hub stops, the task stops where it is; after a restart a
//! new task resumes the job from what the store holds (see `rows.rs` for rows that were
//! running).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use iot_protocol::{DeviceId, DeviceJob, JobId, JobRequest, JobStatus};
use iot_twin::Timestamp;
use iot_twin::query::Condition;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tracing::Instrument;

use super::book::{CancelRequest, Inbox, JobState};
use super::device;
use super::spec::JobSpec;
use crate::HubError;
use crate::core::{Core, now};
use crate::twins::twin_view;

/// How a phase of the job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    /// Go on to the next phase.
    Continue,
    /// The job reached its end.
    Ended,
    /// The hub is stopping; the job stays as stored.
    Stopped,
}

/// A job's task.
#[derive(Debug)]
pub(crate) struct JobTask {
    pub(super) core: Arc<Core>,
    pub(super) id: JobId,
    pub(super) state: JobState,
    pub(super) rows: BTreeMap<DeviceId, DeviceJob>,
    pub(super) inbox: Inbox,
    pub(super) stop: watch::Receiver<bool>,
    /// Cancel requests to answer when the job ends.
    pub(super) waiting: Vec<CancelRequest>,
}

impl JobTask {
    /// The task of job `id`, unless another task has it already.
    pub(crate) fn new(core: Arc<Core>, id: &JobId, stop: watch::Receiver<bool>) -> Option<Self> {
        let (state, rows, inbox) = core.jobs.take_for_task(id)?;
        Some(Self {
            core,
            id: id.clone(),
            state,
            rows,
            inbox,
            stop,
            waiting: Vec::new(),
        })
    }

    /// Runs the job to its end or until the hub stops.
    pub(crate) async fn run(mut self) {
        let span = tracing::info_span!(
            "job",
            job_id = %self.id,
            job_type = ?self.state.job.job_type,
        );
        async move {
            let result = match self.spec() {
                Ok(spec) => self.lifecycle(&spec).await,
                Err(error) => {
                    self.finish(JobStatus::Failed, Some(error.to_string()))
                        .await
                }
            };
            match result {
                Ok(flow) => {
                    tracing::debug!(?flow, status = ?self.state.job.status, "job task ends");
                }
                Err(error) => {
                    tracing::warn!(%error, "the job failed");
                    let reason = format!("the hub could not run the job: {error}");
                    if let Err(error) = self.finish(JobStatus::Failed, Some(reason)).await {
                        tracing::warn!(%error, "the job's failure could not be stored");
                    }
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// The job's request as stored, checked again.
    fn spec(&self) -> Result<JobSpec, HubError> {
        let job = &self.state.job;
        let request = JobRequest {
            job_id: Some(job.job_id.clone()),
            job_type: job.job_type,
            cloud_to_device_method: job.cloud_to_device_method.clone(),
            update_twin: job.update_twin.clone(),
            query_condition: job.query_condition.clone(),
            start_time: job.start_time,
            max_execution_time_in_seconds: job.max_execution_time_in_seconds,
        };
        JobSpec::from_request(&request)
    }

    async fn lifecycle(&mut self, spec: &JobSpec) -> Result<Flow, HubError> {
        if self.state.job.status != JobStatus::Running {
            let flow = self.wait_for_start().await?;
            if flow != Flow::Continue {
                return Ok(flow);
            }
        }
        let Some(slot) = self.wait_for_slot().await? else {
            let ended = self.state.job.status.is_terminal();
            return Ok(if ended { Flow::Ended } else { Flow::Stopped });
        };
        if self.state.job.status != JobStatus::Running {
            if self.cancel_requested() {
                return self.finish(JobStatus::Cancelled, None).await;
            }
            self.start_running(&spec.condition).await?;
        } else {
            self.resume_rows(spec).await?;
        }
        let flow = self.run_rows(spec).await?;
        drop(slot);
        Ok(flow)
    }

    /// Waits (`scheduled`) until the start time; a cancel meanwhile ends the job.
    async fn wait_for_start(&mut self) -> Result<Flow, HubError> {
        let start = self.state.job.start_time.unwrap_or(Timestamp::MIN);
        let Some(wait) = start.duration_since(now()).filter(|wait| !wait.is_zero()) else {
            return Ok(Flow::Continue);
        };
        self.set_status(JobStatus::Scheduled).await?;
        tokio::select! {
            () = tokio::time::sleep(wait) => Ok(Flow::Continue),
            Some(request) = self.inbox.recv() => {
                self.waiting.push(request);
                self.finish(JobStatus::Cancelled, None).await
            }
            _ = self.stop.changed() => Ok(Flow::Stopped),
        }
    }

    /// A running-job slot, waiting (`queued`) while every slot is taken; `None` when the hub
    /// stops or the job is cancelled meanwhile.
    async fn wait_for_slot(&mut self) -> Result<Option<OwnedSemaphorePermit>, HubError> {
        let slots = Arc::clone(&self.core.jobs.slots);
        if let Ok(slot) = Arc::clone(&slots).try_acquire_owned() {
            return Ok(Some(slot));
        }
        if self.state.job.status != JobStatus::Running {
            self.set_status(JobStatus::Queued).await?;
        }
        tokio::select! {
            slot = slots.acquire_owned() => Ok(slot.ok()),
            Some(request) = self.inbox.recv() => {
                self.waiting.push(request);
                self.finish(JobStatus::Cancelled, None).await.map(|_| None)
            }
            _ = self.stop.changed() => Ok(None),
        }
    }

    /// Whether a cancel request is waiting (it is then answered when the job ends).
    fn cancel_requested(&mut self) -> bool {
        let mut requested = false;
        while let Ok(request) = self.inbox.try_recv() {
            self.waiting.push(request);
            requested = true;
        }
        requested
    }

    /// Picks the devices (the twins as they are now) and stores their rows with the job's
    /// new status, in one commit.
    async fn start_running(&mut self, condition: &Condition) -> Result<(), HubError> {
        let core = Arc::clone(&self.core);
        let condition = condition.clone();
        let devices = tokio::task::spawn_blocking(move || pick(&core, &condition))
            .await
            .map_err(|e| HubError::store("select devices", e))?;
        let at = now();
        let rows: Vec<DeviceJob> = devices
            .into_iter()
            .map(|device| {
                device::pending(&self.state.job.job_id, self.state.job.job_type, device, at)
            })
            .collect();
        tracing::info!(devices = rows.len(), "job running");
        let mut state = self.state.clone();
        state.job.status = JobStatus::Running;
        state.running_since = Some(at);
        self.save(Some(state), rows).await
    }

    /// Sets the job's status and stores it.
    pub(super) async fn set_status(&mut self, status: JobStatus) -> Result<(), HubError> {
        if self.state.job.status == status {
            return Ok(());
        }
        let mut state = self.state.clone();
        state.job.status = status;
        self.save(Some(state), Vec::new()).await
    }

    /// Ends the job with `status` (and the reason of a failure), stores it, and answers the
    /// cancel requests.
    pub(super) async fn finish(
        &mut self,
        status: JobStatus,
        reason: Option<String>,
    ) -> Result<Flow, HubError> {
        let mut state = self.state.clone();
        state.job.status = status;
        state.job.end_time = Some(now());
        state.job.failure_reason = reason;
        self.save(Some(state), Vec::new()).await?;
        for request in self.waiting.drain(..) {
            // A caller that gave up no longer needs the answer.
            let _ = request.send(());
        }
        tracing::info!(?status, "job ended");
        Ok(Flow::Ended)
    }

    /// Commits the job's new state (if any) and rows, then keeps them.
    pub(super) async fn save(
        &mut self,
        state: Option<JobState>,
        rows: Vec<DeviceJob>,
    ) -> Result<(), HubError> {
        self.core
            .jobs
            .save(&self.core.store, state.as_ref(), &self.id, rows.clone())
            .await?;
        if let Some(state) = state {
            self.state = state;
        }
        for row in rows {
            self.rows.insert(row.device_id.clone(), row);
        }
        Ok(())
    }

    /// When the maximum execution time runs out, counted from when the job began running.
    pub(super) fn deadline(&self, spec: &JobSpec) -> Option<tokio::time::Instant> {
        let since = self.state.running_since?;
        let end = since.checked_add(spec.max_execution)?;
        let left = end.duration_since(now()).unwrap_or(Duration::ZERO);
        tokio::time::Instant::now().checked_add(left)
    }
}

/// The devices whose twin meets `condition` now, in id order.
fn pick(core: &Core, condition: &Condition) -> Vec<DeviceId> {
    core.entries()
        .into_iter()
        .filter(|(_, entry)| {
            condition.is_all()
                || serde_json::to_value(twin_view(entry, &entry.read()))
                    .is_ok_and(|twin| condition.matches(&twin))
        })
        .map(|(id, _)| id)
        .collect()
}
