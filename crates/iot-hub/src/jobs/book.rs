//! [`JobBook`]: every job and its per-device rows in memory, and the store writes that keep
//! them durable.
//!
//! Each job has one writer at a time: the request that creates it, then its task (see
//! `runner.rs`), which commits every change before installing it here; pruning removes only
//! finished jobs, which have no task. Readers copy what they need under a short lock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use iot_protocol::{
    DeviceId, DeviceJob, DeviceJobStatistics, DeviceJobStatus, JobId, JobResponse, JobStatus,
    JobType,
};
use iot_twin::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

use crate::HubError;
use crate::store::{Op, Store};

/// A cancel request to a job's task; the task answers once the job is cancelled or finished.
pub(crate) type CancelRequest = oneshot::Sender<()>;

/// The receiving end of a job's cancel requests, owned by its task.
pub(crate) type Inbox = mpsc::UnboundedReceiver<CancelRequest>;

/// A job as stored: the job as the REST API shows it (without statistics, which are counted
/// from the rows) and when it began running.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobState {
    /// The job.
    #[serde(flatten)]
    pub(crate) job: JobResponse,
    /// When the job began running; its maximum execution time counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) running_since: Option<Timestamp>,
}

/// One job in memory.
#[derive(Debug)]
struct JobEntry {
    state: JobState,
    rows: BTreeMap<DeviceId, DeviceJob>,
    cancels: mpsc::UnboundedSender<CancelRequest>,
    inbox: Option<Inbox>,
}

impl JobEntry {
    /// A job's entry; a finished job gets no inbox, so cancel requests to it fail at once.
    fn new(state: JobState, rows: BTreeMap<DeviceId, DeviceJob>) -> Self {
        let (cancels, inbox) = mpsc::unbounded_channel();
        let inbox = (!state.job.status.is_terminal()).then_some(inbox);
        Self {
            state,
            rows,
            cancels,
            inbox,
        }
    }

    /// The job with its statistics.
    fn response(&self) -> JobResponse {
        let mut job = self.state.job.clone();
        job.device_job_statistics = Some(statistics(self.rows.values()));
        job
    }
}

/// Every job, the jobs whose task is to start, and the running-job slots.
#[derive(Debug)]
pub(crate) struct JobBook {
    jobs: RwLock<BTreeMap<JobId, JobEntry>>,
    /// Serializes creations, so that two creations of one id cannot both find it free.
    create: tokio::sync::Mutex<()>,
    /// Jobs waiting for the supervisor to start their task.
    to_start: Mutex<Vec<JobId>>,
    /// Wakes the supervisor when `to_start` grows.
    pub(crate) wake: Notify,
    /// One permit per job allowed to run at a time.
    pub(crate) slots: Arc<Semaphore>,
}

impl JobBook {
    /// The jobs and rows the store holds; unfinished jobs are queued for their task.
    pub(crate) fn load(
        jobs: Vec<(String, String)>,
        rows: Vec<(String, String, String)>,
        max_active: usize,
    ) -> Result<Self, HubError> {
        let mut entries = BTreeMap::new();
        for (id, body) in jobs {
            let state: JobState =
                serde_json::from_str(&body).map_err(|e| corrupt("job", &id, e))?;
            let job_id = JobId::parse(&id).map_err(|e| corrupt("job", &id, e))?;
            entries.insert(job_id, JobEntry::new(state, BTreeMap::new()));
        }
        for (job_id, device_id, body) in rows {
            let row: DeviceJob =
                serde_json::from_str(&body).map_err(|e| corrupt("device job", &device_id, e))?;
            if let Some(entry) = entries.get_mut(job_id.as_str()) {
                entry.rows.insert(row.device_id.clone(), row);
            }
        }
        let to_start = entries
            .iter()
            .filter(|(_, entry)| !entry.state.job.status.is_terminal())
            .map(|(id, _)| id.clone())
            .collect();
        Ok(Self {
            jobs: RwLock::new(entries),
            create: tokio::sync::Mutex::new(()),
            to_start: Mutex::new(to_start),
            wake: Notify::new(),
            slots: Arc::new(Semaphore::new(max_active)),
        })
    }

    /// Stores a new job and queues its task; fails if the id is taken.
    pub(crate) async fn create(&self, store: &Store, state: JobState) -> Result<(), HubError> {
        let _create = self.create.lock().await;
        let id = JobId::parse(&state.job.job_id).map_err(|e| HubError::InvalidJob {
            field: "jobId",
            rule: e.to_string(),
        })?;
        if self.read().contains_key(&id) {
            return Err(HubError::JobAlreadyExists { job_id: id });
        }
        store.commit(vec![job_op(&state)?]).await?;
        self.write()
            .insert(id.clone(), JobEntry::new(state, BTreeMap::new()));
        lock(&self.to_start).push(id);
        self.wake.notify_one();
        Ok(())
    }

    /// Commits the job's new state (if given) and rows, then installs them.
    pub(crate) async fn save(
        &self,
        store: &Store,
        state: Option<&JobState>,
        job_id: &JobId,
        rows: Vec<DeviceJob>,
    ) -> Result<(), HubError> {
        let mut ops = Vec::with_capacity(rows.len() + 1);
        if let Some(state) = state {
            ops.push(job_op(state)?);
        }
        for row in &rows {
            ops.push(row_op(row)?);
        }
        store.commit(ops).await?;
        let mut jobs = self.write();
        let Some(entry) = jobs.get_mut(job_id) else {
            return Ok(());
        };
        if let Some(state) = state {
            entry.state = state.clone();
        }
        for row in rows {
            entry.rows.insert(row.device_id.clone(), row);
        }
        Ok(())
    }

    /// The jobs whose task is to start now.
    pub(crate) fn take_to_start(&self) -> Vec<JobId> {
        std::mem::take(&mut *lock(&self.to_start))
    }

    /// A job's state and rows, and its cancel inbox (which only its task takes, once).
    pub(crate) fn take_for_task(
        &self,
        id: &JobId,
    ) -> Option<(JobState, BTreeMap<DeviceId, DeviceJob>, Inbox)> {
        let mut jobs = self.write();
        let entry = jobs.get_mut(id)?;
        let inbox = entry.inbox.take()?;
        Some((entry.state.clone(), entry.rows.clone(), inbox))
    }

    /// Where to send a cancel request for a job, or `None` when there is no such job.
    pub(crate) fn canceller(&self, id: &JobId) -> Option<mpsc::UnboundedSender<CancelRequest>> {
        self.read().get(id).map(|entry| entry.cancels.clone())
    }

    /// A job with its statistics.
    pub(crate) fn get(&self, id: &JobId) -> Option<JobResponse> {
        self.read().get(id).map(JobEntry::response)
    }

    /// A job's rows, by device.
    pub(crate) fn rows(&self, id: &JobId) -> Option<Vec<DeviceJob>> {
        self.read()
            .get(id)
            .map(|entry| entry.rows.values().cloned().collect())
    }

    /// The jobs of this type and status (any when `None`), oldest first.
    pub(crate) fn list(
        &self,
        job_type: Option<JobType>,
        status: Option<JobStatus>,
    ) -> Vec<JobResponse> {
        let jobs = self.read();
        let mut found: Vec<JobResponse> = jobs
            .values()
            .filter(|entry| job_type.is_none_or(|t| entry.state.job.job_type == t))
            .filter(|entry| status.is_none_or(|s| entry.state.job.status == s))
            .map(JobEntry::response)
            .collect();
        found.sort_by(|a, b| (a.created_time, &a.job_id).cmp(&(b.created_time, &b.job_id)));
        found
    }

    /// Every row of every job as `devices.jobs` JSON, jobs oldest first, rows by device.
    pub(crate) fn all_rows_json(&self) -> Vec<Value> {
        let jobs = self.read();
        let mut entries: Vec<&JobEntry> = jobs.values().collect();
        entries.sort_by(|a, b| {
            (a.state.job.created_time, &a.state.job.job_id)
                .cmp(&(b.state.job.created_time, &b.state.job.job_id))
        });
        entries
            .iter()
            .flat_map(|entry| entry.rows.values())
            .filter_map(|row| serde_json::to_value(row).ok())
            .collect()
    }

    /// Deletes the jobs that ended before `cutoff`, with their rows.
    pub(crate) async fn prune(&self, store: &Store, cutoff: Timestamp) -> Result<usize, HubError> {
        let old: Vec<JobId> = self
            .read()
            .iter()
            .filter(|(_, entry)| {
                entry.state.job.status.is_terminal()
                    && entry.state.job.end_time.is_some_and(|end| end < cutoff)
            })
            .map(|(id, _)| id.clone())
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        let ops = old
            .iter()
            .map(|id| Op::DeleteJob {
                id: id.as_str().to_owned(),
            })
            .collect();
        store.commit(ops).await?;
        let mut jobs = self.write();
        for id in &old {
            jobs.remove(id);
        }
        Ok(old.len())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<JobId, JobEntry>> {
        self.jobs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<JobId, JobEntry>> {
        self.jobs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Rows counted by state: `pending` and `scheduled` rows are pending, `completed` ones
/// succeeded; `canceled` rows count only in `deviceCount` (IoT Hub's statistics have no
/// field for them).
pub(crate) fn statistics<'a>(rows: impl Iterator<Item = &'a DeviceJob>) -> DeviceJobStatistics {
    let mut counts = DeviceJobStatistics::default();
    for row in rows {
        counts.device_count += 1;
        match row.status {
            DeviceJobStatus::Pending | DeviceJobStatus::Scheduled => counts.pending_count += 1,
            DeviceJobStatus::Running => counts.running_count += 1,
            DeviceJobStatus::Completed => counts.succeeded_count += 1,
            DeviceJobStatus::Failed => counts.failed_count += 1,
            DeviceJobStatus::Canceled => {}
        }
    }
    counts
}

fn job_op(state: &JobState) -> Result<Op, HubError> {
    Ok(Op::PutJob {
        id: state.job.job_id.clone(),
        body: serde_json::to_string(state).map_err(|e| HubError::store("encode", e))?,
    })
}

fn row_op(row: &DeviceJob) -> Result<Op, HubError> {
    Ok(Op::PutDeviceJob {
        job_id: row.job_id.clone(),
        device_id: row.device_id.as_str().to_owned(),
        body: serde_json::to_string(row).map_err(|e| HubError::store("encode", e))?,
    })
}

fn corrupt(what: &str, id: &str, reason: impl std::fmt::Display) -> HubError {
    HubError::store(
        "load",
        format!("stored {what} {id:?} is unreadable: {reason}"),
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(device: &str, status: DeviceJobStatus) -> DeviceJob {
        DeviceJob {
            device_id: device.parse().unwrap(),
            job_id: "j".into(),
            job_type: JobType::ScheduleDeviceMethod,
            status,
            start_time_utc: None,
            end_time_utc: None,
            created_date_time_utc: None,
            last_updated_date_time_utc: None,
            outcome: None,
            error: None,
        }
    }

    fn state(id: &str, status: JobStatus, created: i64) -> JobState {
        JobState {
            job: JobResponse {
                job_id: id.into(),
                query_condition: Some("*".into()),
                created_time: Timestamp::from_unix_seconds(created).ok(),
                start_time: None,
                end_time: None,
                max_execution_time_in_seconds: Some(60),
                job_type: JobType::ScheduleUpdateTwin,
                cloud_to_device_method: None,
                update_twin: None,
                status,
                failure_reason: None,
                status_message: None,
                device_job_statistics: None,
                device_id: None,
                parent_job_id: None,
            },
            running_since: None,
        }
    }

    #[test]
    fn statistics_count_rows_by_state() {
        use DeviceJobStatus::*;
        let rows = [
            row("a", Pending),
            row("b", Scheduled),
            row("c", Running),
            row("d", Completed),
            row("e", Failed),
            row("f", Canceled),
        ];
        let counts = statistics(rows.iter());
        assert_eq!(
            counts,
            DeviceJobStatistics {
                device_count: 6,
                failed_count: 1,
                succeeded_count: 1,
                running_count: 1,
                pending_count: 2,
            }
        );
    }

    #[tokio::test]
    async fn jobs_load_list_and_prune() {
        let (store, _) = Store::memory();
        let stored = |s: &JobState| serde_json::to_string(s).unwrap();
        let mut done = state("done", JobStatus::Completed, 10);
        done.job.end_time = Timestamp::from_unix_seconds(20).ok();
        let jobs = vec![
            ("done".into(), stored(&done)),
            ("live".into(), stored(&state("live", JobStatus::Running, 5))),
        ];
        let rows = vec![(
            "live".into(),
            "d1".into(),
            serde_json::to_string(&row("d1", DeviceJobStatus::Running)).unwrap(),
        )];
        let book = JobBook::load(jobs, rows, 1).unwrap();
        let live: JobId = "live".parse().unwrap();
        assert_eq!(book.take_to_start(), std::slice::from_ref(&live));
        let listed: Vec<String> = book
            .list(None, None)
            .into_iter()
            .map(|j| j.job_id)
            .collect();
        assert_eq!(listed, ["live", "done"]);
        assert_eq!(book.list(None, Some(JobStatus::Completed)).len(), 1);
        assert!(
            book.list(Some(JobType::ScheduleDeviceMethod), None)
                .is_empty()
        );
        let statistics = book.get(&live).unwrap().device_job_statistics.unwrap();
        assert_eq!(statistics.running_count, 1);
        assert_eq!(book.all_rows_json().len(), 1);

        let error = book
            .create(&store, state("live", JobStatus::Queued, 30))
            .await;
        assert!(matches!(error, Err(HubError::JobAlreadyExists { .. })));
        assert!(book.take_for_task(&live).is_some());
        assert!(
            book.take_for_task(&live).is_none(),
            "the inbox is taken once"
        );

        let cutoff = Timestamp::from_unix_seconds(21).unwrap();
        assert_eq!(book.prune(&store, cutoff).await.unwrap(), 1);
        assert!(book.get(&"done".parse().unwrap()).is_none());
        assert!(book.get(&live).is_some());
    }
}
