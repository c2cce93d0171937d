//! [`ProgressSnapshot`]: where a fleet operation stands, counted from twin queries.

use std::collections::BTreeMap;
use std::time::Duration;

use iot_protocol::{DeviceId, DeviceJob};
use serde::Deserialize;
use serde_json::Value;

/// Why a progress stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProgressOutcome {
    /// Every targeted device succeeded or failed.
    Finished,
    /// The deadline came first.
    DeadlinePassed,
}

/// A device that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFailure {
    /// The device.
    pub device_id: DeviceId,
    /// The status it reported (`error`), or `job failed` when the job could not reach it.
    pub status: String,
    /// Its message: the error it reported, or the job's error.
    pub message: Option<String>,
}

/// Where an operation across the fleet stands: how many devices it targets, how many report
/// each status, which failed and why.
///
/// Counts come from twin queries, which IoT Hub documents as eventually consistent, so a
/// snapshot may trail the devices by a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProgressSnapshot {
    /// Devices the operation targets.
    pub targeted: u64,
    /// Targeted devices per status they report about this operation (devices that have not
    /// reported about it yet are not counted here).
    pub statuses: BTreeMap<String, u64>,
    /// Devices that succeeded.
    pub succeeded: u64,
    /// Devices that failed.
    pub failed: u64,
    /// Devices that have neither succeeded nor failed yet.
    pub pending: u64,
    /// The devices that failed, with their messages.
    pub failures: Vec<DeviceFailure>,
    /// Time since following started.
    pub elapsed: Duration,
    /// `Some` on the last snapshot of a stream: why it ended.
    pub outcome: Option<ProgressOutcome>,
}

impl ProgressSnapshot {
    /// Whether every targeted device succeeded or failed.
    pub fn is_done(&self) -> bool {
        self.succeeded + self.failed >= self.targeted
    }

    /// Whether every targeted device succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.succeeded >= self.targeted && self.failed == 0
    }

    /// The same counts, ignoring time: what makes a snapshot worth showing again.
    pub(crate) fn same_counts(&self, other: &Self) -> bool {
        (self.targeted, &self.statuses, &self.failures)
            == (other.targeted, &other.statuses, &other.failures)
            && self.outcome == other.outcome
    }
}

/// A row of the count-per-status query.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StatusRow {
    /// The status; absent for devices without one.
    #[serde(default)]
    pub(crate) status: Option<Value>,
    /// How many devices report it.
    #[serde(default)]
    pub(crate) devices: u64,
}

/// A row of the failures query.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FailureRow {
    #[serde(rename = "deviceId")]
    pub(crate) device_id: DeviceId,
    #[serde(default)]
    pub(crate) status: Option<Value>,
    #[serde(default)]
    pub(crate) message: Option<Value>,
}

/// What one round of queries found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Findings {
    pub(crate) targeted: u64,
    pub(crate) statuses: Vec<StatusRow>,
    pub(crate) failures: Vec<FailureRow>,
    pub(crate) failed_jobs: Vec<DeviceJob>,
}

/// The snapshot for `findings`, given which statuses count as success and failure.
pub(crate) fn assemble(
    findings: Findings,
    succeeded: &[String],
    failed: &[String],
    elapsed: Duration,
) -> ProgressSnapshot {
    let mut statuses = BTreeMap::new();
    for row in findings.statuses {
        if let Some(status) = row.status.as_ref().map(text) {
            *statuses.entry(status).or_insert(0) += row.devices;
        }
    }
    let count = |names: &[String]| -> u64 { names.iter().filter_map(|n| statuses.get(n)).sum() };
    let succeeded = count(succeeded);
    let mut failures: Vec<DeviceFailure> = findings.failures.into_iter().map(failure).collect();
    let reported_failed = count(failed).max(failures.len() as u64);
    let job_failures: Vec<DeviceFailure> = findings
        .failed_jobs
        .into_iter()
        .filter(|job| !failures.iter().any(|f| f.device_id == job.device_id))
        .map(job_failure)
        .collect();
    let failed = reported_failed + job_failures.len() as u64;
    failures.extend(job_failures);
    failures.sort_by(|a, b| a.device_id.cmp(&b.device_id));
    ProgressSnapshot {
        targeted: findings.targeted,
        statuses,
        succeeded,
        failed,
        pending: findings.targeted.saturating_sub(succeeded + failed),
        failures,
        elapsed,
        outcome: None,
    }
}

fn failure(row: FailureRow) -> DeviceFailure {
    DeviceFailure {
        device_id: row.device_id,
        status: row.status.as_ref().map(text).unwrap_or_default(),
        message: row.message.as_ref().filter(|m| !m.is_null()).map(text),
    }
}

fn job_failure(job: DeviceJob) -> DeviceFailure {
    DeviceFailure {
        device_id: job.device_id,
        status: "job failed".to_owned(),
        message: job.error.map(|e| format!("{}: {}", e.code, e.description)),
    }
}

/// A JSON value for people: strings without their quotes.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(value: Value) -> Vec<StatusRow> {
        serde_json::from_value(value).unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn counts_add_up_per_status() {
        let findings = Findings {
            targeted: 10,
            statuses: rows(json!([
                {"status": "applied", "devices": 6},
                {"status": "applying", "devices": 1},
                {"status": "error", "devices": 1},
                {"devices": 2}
            ])),
            failures: serde_json::from_value(json!([
                {"deviceId": "d3", "status": "error", "message": "bad image"}
            ]))
            .unwrap(),
            failed_jobs: Vec::new(),
        };
        let snapshot = assemble(
            findings,
            &names(&["applied"]),
            &names(&["error"]),
            Duration::ZERO,
        );
        assert_eq!(
            (snapshot.succeeded, snapshot.failed, snapshot.pending),
            (6, 1, 3)
        );
        assert_eq!(snapshot.statuses.len(), 3);
        assert_eq!(snapshot.failures[0].message.as_deref(), Some("bad image"));
        assert!(!snapshot.is_done());
    }

    #[test]
    fn devices_the_job_could_not_reach_fail_once() {
        let job = |id: &str| -> DeviceJob {
            serde_json::from_value(json!({"deviceId": id, "jobId": "j", "jobType": "scheduleDeviceMethod",
                "status": "failed", "error": {"code": "DeviceNotOnline", "description": "offline"}}))
            .unwrap()
        };
        let findings = Findings {
            targeted: 3,
            statuses: rows(
                json!([{"status": "rebooted", "devices": 1}, {"status": "error", "devices": 1}]),
            ),
            failures: serde_json::from_value(
                json!([{"deviceId": "b", "status": "error", "message": null}]),
            )
            .unwrap(),
            failed_jobs: vec![job("b"), job("c")],
        };
        let snapshot = assemble(
            findings,
            &names(&["rebooted"]),
            &names(&["error"]),
            Duration::ZERO,
        );
        assert_eq!(
            (snapshot.succeeded, snapshot.failed, snapshot.pending),
            (1, 2, 0)
        );
        assert!(snapshot.is_done() && !snapshot.all_succeeded());
        let ids: Vec<&str> = snapshot
            .failures
            .iter()
            .map(|f| f.device_id.as_str())
            .collect();
        assert_eq!(ids, ["b", "c"]);
        assert_eq!(snapshot.failures[0].message, None);
        assert_eq!(
            snapshot.failures[1].message.as_deref(),
            Some("DeviceNotOnline: offline")
        );
    }

    #[test]
    fn nothing_targeted_is_done() {
        let snapshot = assemble(Findings::default(), &[], &[], Duration::ZERO);
        assert!(snapshot.is_done() && snapshot.all_succeeded());
        let mut later = snapshot.clone();
        later.elapsed = Duration::from_secs(1);
        assert!(snapshot.same_counts(&later));
    }
}
