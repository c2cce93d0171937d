//! Per-device job rows: what `SELECT * FROM devices.jobs` returns.

use iot_methods::MethodResult;
use iot_twin::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{DeviceId, JobType};

/// One device's part in a job.
///
/// ```
/// use iot_protocol::{DeviceJob, DeviceJobStatus};
///
/// let row: DeviceJob = serde_json::from_str(r#"{"deviceId":"d1","jobId":"j1",
///     "jobType":"scheduleDeviceMethod","status":"completed",
///     "outcome":{"deviceMethodResponse":{"status":200,"payload":"Reboot started"}}}"#).unwrap();
/// assert_eq!(row.status, DeviceJobStatus::Completed);
/// assert_eq!(row.outcome.unwrap().device_method_response.unwrap().status(), 200);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceJob {
    /// The device.
    pub device_id: DeviceId,
    /// The job.
    pub job_id: String,
    /// What the job does (`scheduleDeviceMethod` or `scheduleUpdateTwin`).
    pub job_type: JobType,
    /// Where this device's part is.
    pub status: DeviceJobStatus,
    /// When this device's part started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time_utc: Option<Timestamp>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time_utc: Option<Timestamp>,
    /// When the row was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date_time_utc: Option<Timestamp>,
    /// When the row last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_date_time_utc: Option<Timestamp>,
    /// What happened, for method jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<DeviceJobOutcome>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DeviceJobError>,
}

/// The status of one device's part in a job. Note the single L of `canceled`, unlike the
/// job-level [`crate::JobStatus::Cancelled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeviceJobStatus {
    /// `pending`.
    Pending,
    /// `scheduled`.
    Scheduled,
    /// `running`.
    Running,
    /// `completed`.
    Completed,
    /// `failed`.
    Failed,
    /// `canceled`.
    Canceled,
}

/// The result of one device's part in a method job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceJobOutcome {
    /// The device's answer to the method, `{"status":...,"payload":...}`; `null` when the device
    /// did not answer.
    #[serde(default)]
    pub device_method_response: Option<MethodResult>,
}

/// Why one device's part in a job failed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceJobError {
    /// An error code, e.g. `DeviceNotOnline`.
    #[serde(default)]
    pub code: String,
    /// A description.
    #[serde(default)]
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn method_row_round_trips() {
        let value = json!({
            "deviceId": "d1",
            "jobId": "j1",
            "jobType": "scheduleDeviceMethod",
            "status": "completed",
            "startTimeUtc": "2026-11-26T10:04:26.7760180Z",
            "endTimeUtc": "2026-11-26T10:04:27.0000000Z",
            "createdDateTimeUtc": "2026-11-26T10:04:20.0000000Z",
            "lastUpdatedDateTimeUtc": "2026-11-26T10:04:27.0000000Z",
            "outcome": {"deviceMethodResponse": {"status": 200, "payload": {"ok": true}}}
        });
        let row: DeviceJob = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&row).unwrap(), value);
    }

    #[test]
    fn failed_and_canceled_rows() {
        let value = json!({
            "deviceId": "d2", "jobId": "j1", "jobType": "scheduleUpdateTwin", "status": "failed",
            "outcome": {"deviceMethodResponse": null},
            "error": {"code": "DeviceNotOnline", "description": "Timed out waiting for device to connect."}
        });
        let row: DeviceJob = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(row.error.as_ref().unwrap().code, "DeviceNotOnline");
        assert_eq!(serde_json::to_value(&row).unwrap(), value);
        let canceled: DeviceJobStatus = serde_json::from_value(json!("canceled")).unwrap();
        assert_eq!(canceled, DeviceJobStatus::Canceled);
        assert!(serde_json::from_value::<DeviceJobStatus>(json!("cancelled")).is_err());
    }
}
