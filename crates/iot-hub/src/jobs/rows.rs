//! The running phase of a job: each picked device's part, a bounded number at a time
//! (`HubBuilder::job_concurrency`), until every row is done, the job is cancelled, its maximum
//! execution time runs out, or the hub stops.
//!
//! - Cancel: rows not started become `canceled`; method calls in flight are abandoned and
//!   their rows `canceled` too; twin writes in flight finish (they do not wait on devices) and
//!   keep their result. The job ends `cancelled`.
//! - Maximum execution time: IoT Hub does not document what happens to the rows left; we end
//!   them `failed` with `GatewayTimeout` (so `deviceJobStatistics` still adds up), abandoning
//!   method calls in flight as for a cancel. The job ends `completed`, as every row is then
//!   done, with a `statusMessage` saying how many ran out of time.
//! - Hub stopping: method calls in flight are abandoned and their rows stay `running` in the
//!   store; twin writes in flight finish and are recorded. After a restart, see
//!   [`JobTask::resume_rows`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use iot_protocol::{DeviceId, DeviceJob, DeviceJobStatus, ErrorCode, JobStatus};
use tokio::task::{Id, JoinError, JoinSet};
use tracing::Instrument;

use super::device::{self, DeviceResult, error_of};
use super::runner::{Flow, JobTask};
use super::spec::{Action, JobSpec};
use crate::HubError;
use crate::core::now;

/// The device parts in flight, and which device each task works for.
#[derive(Debug, Default)]
struct Flight {
    tasks: JoinSet<DeviceResult>,
    devices: HashMap<Id, DeviceId>,
}

/// Why a job stops taking new rows before they are all done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Cancelled,
    TimedOut,
}

type Joined = Result<(Id, DeviceResult), JoinError>;

impl JobTask {
    /// After a restart, the rows that were `running` when the hub stopped. A twin write is
    /// retried (merging the same patch again gives the same twin), so its row is `pending`
    /// again. A method call may have reached the device and is not repeated (a reboot should
    /// not happen twice): its row fails with `ServiceUnavailable`.
    pub(super) async fn resume_rows(&mut self, spec: &JobSpec) -> Result<(), HubError> {
        let at = now();
        let changed: Vec<DeviceJob> = self
            .rows
            .values()
            .filter(|row| row.status == DeviceJobStatus::Running)
            .map(|row| match spec.action {
                Action::Twin(_) => {
                    let mut row = row.clone();
                    row.status = DeviceJobStatus::Pending;
                    row.start_time_utc = None;
                    row.last_updated_date_time_utc = Some(at);
                    row
                }
                Action::Method(_) => device::finished(row.clone(), DeviceResult::Interrupted, at),
            })
            .collect();
        if !changed.is_empty() {
            tracing::info!(
                rows = changed.len(),
                "rows interrupted by the hub's restart"
            );
            self.save(None, changed).await?;
        }
        Ok(())
    }

    /// Runs the pending rows (see the module docs) and ends the job.
    pub(super) async fn run_rows(&mut self, spec: &JobSpec) -> Result<Flow, HubError> {
        let mut pending: VecDeque<DeviceId> = self
            .rows
            .values()
            .filter(|row| {
                matches!(
                    row.status,
                    DeviceJobStatus::Pending | DeviceJobStatus::Scheduled
                )
            })
            .map(|row| row.device_id.clone())
            .collect();
        let mut flight = Flight::default();
        let mut ending = None;
        let mut late = 0;
        let deadline = self.deadline(spec);
        let method = matches!(spec.action, Action::Method(_));
        loop {
            if ending.is_none() {
                self.launch(spec, &mut pending, &mut flight).await?;
            }
            if flight.tasks.is_empty() && pending.is_empty() {
                break;
            }
            let expiry = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(joined) = flight.tasks.join_next_with_id() => {
                    let mut done = vec![joined];
                    while let Some(more) = flight.tasks.try_join_next_with_id() {
                        done.push(more);
                    }
                    late += self.land(done, &mut flight, ending).await?;
                }
                Some(request) = self.inbox.recv() => {
                    self.waiting.push(request);
                    if ending.is_none() {
                        ending = Some(Ending::Cancelled);
                        self.end_rows(&mut pending, &mut flight, Ending::Cancelled, method)
                            .await?;
                    }
                }
                () = expiry, if ending.is_none() => {
                    ending = Some(Ending::TimedOut);
                    late += self
                        .end_rows(&mut pending, &mut flight, Ending::TimedOut, method)
                        .await?;
                }
                _ = self.stop.changed() => return self.stop_rows(flight, method).await,
            }
        }
        self.end_job(ending, late, spec).await
    }

    /// Starts as many pending rows as there is room for, after storing them as `running`.
    async fn launch(
        &mut self,
        spec: &JobSpec,
        pending: &mut VecDeque<DeviceId>,
        flight: &mut Flight,
    ) -> Result<(), HubError> {
        let room = self
            .core
            .settings
            .job_concurrency
            .saturating_sub(flight.tasks.len());
        let batch: Vec<DeviceId> = (0..room).map_while(|_| pending.pop_front()).collect();
        if batch.is_empty() {
            return Ok(());
        }
        let at = now();
        let rows = batch
            .iter()
            .filter_map(|id| self.rows.get(id).cloned())
            .map(|row| device::running(row, at))
            .collect();
        self.save(None, rows).await?;
        for id in batch {
            let work = device::execute(Arc::clone(&self.core), id.clone(), spec.action.clone());
            let handle = flight.tasks.spawn(work.in_current_span());
            flight.devices.insert(handle.id(), id);
        }
        Ok(())
    }

    /// Records finished parts and returns how many were abandoned. A part abandoned by a
    /// cancel or the deadline ends as the module docs say; one abandoned because the hub
    /// stops, or interrupted by it, keeps its stored `running` row.
    async fn land(
        &mut self,
        done: Vec<Joined>,
        flight: &mut Flight,
        ending: Option<Ending>,
    ) -> Result<usize, HubError> {
        let at = now();
        let stopping = *self.stop.borrow();
        let mut rows = Vec::with_capacity(done.len());
        let mut abandoned_parts = 0;
        for joined in done {
            let (task, result) = match joined {
                Ok((task, result)) => (task, Some(result)),
                Err(error) if error.is_panic() => {
                    let panicked = error_of(ErrorCode::ServerError, &"the device's part panicked");
                    (error.id(), Some(DeviceResult::Failed(panicked)))
                }
                Err(error) => (error.id(), None),
            };
            let Some(id) = flight.devices.remove(&task) else {
                continue;
            };
            let Some(row) = self.rows.get(&id).cloned() else {
                continue;
            };
            let row = match (result, ending) {
                (Some(DeviceResult::Interrupted), _) if stopping => continue,
                (Some(result), _) => device::finished(row, result, at),
                (None, Some(ending)) => {
                    abandoned_parts += 1;
                    abandoned(row, ending, true, at)
                }
                (None, None) => continue,
            };
            rows.push(row);
        }
        self.save(None, rows).await?;
        Ok(abandoned_parts)
    }

    /// Ends the rows not started, abandons method calls in flight, and returns how many rows
    /// it ended.
    async fn end_rows(
        &mut self,
        pending: &mut VecDeque<DeviceId>,
        flight: &mut Flight,
        ending: Ending,
        method: bool,
    ) -> Result<usize, HubError> {
        if method {
            flight.tasks.abort_all();
        }
        let at = now();
        let rows: Vec<DeviceJob> = pending
            .drain(..)
            .filter_map(|id| self.rows.get(&id).cloned())
            .map(|row| abandoned(row, ending, false, at))
            .collect();
        let ended = rows.len();
        self.save(None, rows).await?;
        Ok(ended)
    }

    /// The hub stops: abandons method calls, lets twin writes finish and records them.
    async fn stop_rows(&mut self, mut flight: Flight, method: bool) -> Result<Flow, HubError> {
        if method {
            flight.tasks.abort_all();
        }
        let mut done = Vec::new();
        while let Some(joined) = flight.tasks.join_next_with_id().await {
            done.push(joined);
        }
        self.land(done, &mut flight, None).await?;
        Ok(Flow::Stopped)
    }

    /// Ends the job once no row is left to run; `late` rows were ended by the deadline.
    async fn end_job(
        &mut self,
        ending: Option<Ending>,
        late: usize,
        spec: &JobSpec,
    ) -> Result<Flow, HubError> {
        match ending {
            Some(Ending::Cancelled) => self.finish(JobStatus::Cancelled, None).await,
            Some(Ending::TimedOut) => {
                self.state.job.status_message = Some(format!(
                    "maxExecutionTimeInSeconds ({}) ran out with {late} of {} devices unfinished",
                    spec.max_execution.as_secs(),
                    self.rows.len()
                ));
                self.finish(JobStatus::Completed, None).await
            }
            None => self.finish(JobStatus::Completed, None).await,
        }
    }
}

/// A row that a cancel or the deadline ended; `started` tells whether its part was in flight.
fn abandoned(row: DeviceJob, ending: Ending, started: bool, at: iot_twin::Timestamp) -> DeviceJob {
    match ending {
        Ending::Cancelled => device::ended(row, DeviceJobStatus::Canceled, None, None, at),
        Ending::TimedOut => {
            let description = if started {
                "the job's maximum execution time ran out before the device's part ended"
            } else {
                "the job's maximum execution time ran out before the device's part started"
            };
            let error = error_of(ErrorCode::GatewayTimeout, &description);
            device::ended(row, DeviceJobStatus::Failed, None, Some(error), at)
        }
    }
}
