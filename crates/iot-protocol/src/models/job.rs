//! Scheduled jobs (`/jobs/v2/{id}`): requests, responses, types, statuses and statistics.

use iot_methods::MethodInvocation;
use iot_twin::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body of `PUT /jobs/v2/{jobId}`: what to do, to which devices, and when.
///
/// `update_twin` is the twin patch as a JSON object (`{"etag":"*","tags":{...},
/// "properties":{"desired":{...}}}`); the twin crate interprets it.
///
/// ```
/// use iot_protocol::{JobRequest, JobType};
///
/// let request: JobRequest = serde_json::from_str(r#"{
///     "jobId": "job01", "type": "scheduleDeviceMethod",
///     "cloudToDeviceMethod": {"methodName": "reboot", "payload": null, "responseTimeoutInSeconds": 15},
///     "queryCondition": "deviceId IN ['d1', 'd2']", "startTime": "2026-11-26T10:04:26.776Z",
///     "maxExecutionTimeInSeconds": 3600
/// }"#).unwrap();
/// assert_eq!(request.job_type, JobType::ScheduleDeviceMethod);
/// assert_eq!(request.cloud_to_device_method.unwrap().method_name().as_str(), "reboot");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRequest {
    /// The job id (also in the path; clients repeat it here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// What the job does.
    #[serde(rename = "type")]
    pub job_type: JobType,
    /// The method to call, for `scheduleDeviceMethod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_method: Option<MethodInvocation>,
    /// The twin patch to apply, for `scheduleUpdateTwin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_twin: Option<Map<String, Value>>,
    /// Which devices: a WHERE condition such as `deviceId IN ['d1']`, or `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_condition: Option<String>,
    /// When to start (Node sends `null` for "now").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// How long the job may run before it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_execution_time_in_seconds: Option<u64>,
}

impl JobRequest {
    /// A job that calls `method` on the devices matching `query_condition`.
    pub fn device_method(job_id: &str, query_condition: &str, method: MethodInvocation) -> Self {
        Self {
            cloud_to_device_method: Some(method),
            ..Self::empty(job_id, JobType::ScheduleDeviceMethod, query_condition)
        }
    }

    /// A job that applies the twin `patch` to the devices matching `query_condition`.
    pub fn twin_update(job_id: &str, query_condition: &str, patch: Map<String, Value>) -> Self {
        Self {
            update_twin: Some(patch),
            ..Self::empty(job_id, JobType::ScheduleUpdateTwin, query_condition)
        }
    }

    fn empty(job_id: &str, job_type: JobType, query_condition: &str) -> Self {
        Self {
            job_id: Some(job_id.to_owned()),
            job_type,
            cloud_to_device_method: None,
            update_twin: None,
            query_condition: Some(query_condition.to_owned()),
            start_time: None,
            max_execution_time_in_seconds: None,
        }
    }
}

/// A job as the hub reports it: the answer to create, get, cancel and job queries.
///
/// ```
/// use iot_protocol::{JobResponse, JobStatus};
///
/// let job: JobResponse = serde_json::from_str(
///     r#"{"jobId":"job01","type":"scheduleDeviceMethod","status":"queued"}"#,
/// ).unwrap();
/// assert_eq!(job.status, JobStatus::Queued);
/// assert!(!job.status.is_terminal());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobResponse {
    /// The job id.
    pub job_id: String,
    /// Which devices the job targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_condition: Option<String>,
    /// When the job was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<Timestamp>,
    /// When the job starts or started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// When the job ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// How long the job may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_execution_time_in_seconds: Option<u64>,
    /// What the job does.
    #[serde(rename = "type")]
    pub job_type: JobType,
    /// The method it calls, for method jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_method: Option<MethodInvocation>,
    /// The twin patch it applies, for twin jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_twin: Option<Map<String, Value>>,
    /// Where the job is in its life.
    pub status: JobStatus,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A status message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// Per-device progress counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_job_statistics: Option<DeviceJobStatistics>,
    /// The device, for jobs about one device (read by C#).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The parent job, for child jobs (read by C#).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_job_id: Option<String>,
}

/// The kind of a job: every value of the service swagger. Only `scheduleDeviceMethod` and
/// `scheduleUpdateTwin` are scheduled jobs; the rest belong to import/export and internal jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JobType {
    /// `unknown`.
    Unknown,
    /// `export`.
    Export,
    /// `import`.
    Import,
    /// `backup`.
    Backup,
    /// `readDeviceProperties`.
    ReadDeviceProperties,
    /// `writeDeviceProperties`.
    WriteDeviceProperties,
    /// `updateDeviceConfiguration`.
    UpdateDeviceConfiguration,
    /// `rebootDevice`.
    RebootDevice,
    /// `factoryResetDevice`.
    FactoryResetDevice,
    /// `firmwareUpdate`.
    FirmwareUpdate,
    /// `scheduleDeviceMethod`: call a direct method on each device.
    ScheduleDeviceMethod,
    /// `scheduleUpdateTwin`: patch each device's twin.
    ScheduleUpdateTwin,
    /// `restoreFromBackup`.
    RestoreFromBackup,
    /// `failoverDataCopy`.
    FailoverDataCopy,
}

/// The status of a job: every value of the service swagger (note the two Ls of `cancelled`,
/// unlike the per-device [`crate::DeviceJobStatus::Canceled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JobStatus {
    /// `unknown`.
    Unknown,
    /// `enqueued`.
    Enqueued,
    /// `running`.
    Running,
    /// `completed`.
    Completed,
    /// `failed`.
    Failed,
    /// `cancelled`.
    Cancelled,
    /// `scheduled`: waiting for its start time.
    Scheduled,
    /// `queued`: just created (the status create returns).
    Queued,
}

impl JobStatus {
    /// Whether the job has ended: `completed`, `failed` or `cancelled`.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// How many of a job's devices are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceJobStatistics {
    /// Devices the job targets.
    #[serde(default)]
    pub device_count: u64,
    /// Devices where it failed.
    #[serde(default)]
    pub failed_count: u64,
    /// Devices where it succeeded.
    #[serde(default)]
    pub succeeded_count: u64,
    /// Devices where it is running.
    #[serde(default)]
    pub running_count: u64,
    /// Devices where it has not started.
    #[serde(default)]
    pub pending_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_methods::MethodName;
    use serde_json::json;

    #[test]
    fn real_create_response_round_trips() {
        let text = r#"{"jobId":"job01","type":"scheduleDeviceMethod","status":"queued"}"#;
        let job: JobResponse = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&job).unwrap(), text);
    }

    #[test]
    fn full_response_round_trips() {
        let value = json!({
            "jobId": "fw-1",
            "queryCondition": "*",
            "createdTime": "2026-11-26T10:04:26.7760180Z",
            "startTime": "2026-11-26T10:05:00.0000000Z",
            "endTime": "2026-11-26T10:06:00.0000000Z",
            "maxExecutionTimeInSeconds": 3600,
            "type": "scheduleUpdateTwin",
            "updateTwin": {"etag": "*", "tags": {"state": "WA"}, "properties": {"desired": {}, "reported": {}}},
            "status": "completed",
            "statusMessage": "done",
            "deviceJobStatistics": {"deviceCount": 2, "failedCount": 0, "succeededCount": 2, "runningCount": 0, "pendingCount": 0}
        });
        let job: JobResponse = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(job.device_job_statistics.unwrap().succeeded_count, 2);
        assert!(job.status.is_terminal());
        assert_eq!(serde_json::to_value(&job).unwrap(), value);
    }

    #[test]
    fn requests_from_node_and_python() {
        let node = json!({
            "jobId": "j1", "type": "scheduleUpdateTwin", "queryCondition": "deviceId IN ['d1']",
            "updateTwin": {"etag": "*", "properties": {"desired": {"x": 1}, "reported": {}}},
            "startTime": null, "maxExecutionTimeInSeconds": 3600
        });
        let request: JobRequest = serde_json::from_value(node).unwrap();
        assert_eq!(request.start_time, None);
        assert_eq!(request.update_twin.as_ref().unwrap()["etag"], json!("*"));
        let python = json!({
            "jobId": "j2", "type": "scheduleDeviceMethod", "queryCondition": "*",
            "cloudToDeviceMethod": {"methodName": "reboot", "payload": {}, "responseTimeoutInSeconds": 30},
            "startTime": "2026-11-26T10:04:26.776018Z"
        });
        let request: JobRequest = serde_json::from_value(python).unwrap();
        assert_eq!(
            request.start_time.unwrap().to_string(),
            "2026-11-26T10:04:26.7760180Z"
        );
    }

    #[test]
    fn constructors_round_trip() {
        let method =
            MethodInvocation::new("reboot".parse::<MethodName>().unwrap(), Value::Null).unwrap();
        let request = JobRequest::device_method("j", "*", method);
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(serde_json::from_str::<JobRequest>(&text).unwrap(), request);
        let patch = json!({"etag": "*", "tags": {"a": 1}});
        let Value::Object(patch) = patch else {
            unreachable!()
        };
        let request = JobRequest::twin_update("j", "*", patch);
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(serde_json::from_str::<JobRequest>(&text).unwrap(), request);
    }

    #[test]
    fn every_swagger_value() {
        let types = [
            "unknown",
            "export",
            "import",
            "backup",
            "readDeviceProperties",
            "writeDeviceProperties",
            "updateDeviceConfiguration",
            "rebootDevice",
            "factoryResetDevice",
            "firmwareUpdate",
            "scheduleDeviceMethod",
            "scheduleUpdateTwin",
            "restoreFromBackup",
            "failoverDataCopy",
        ];
        for text in types {
            let kind: JobType = serde_json::from_value(json!(text)).unwrap();
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(text));
        }
        let statuses = [
            "unknown",
            "enqueued",
            "running",
            "completed",
            "failed",
            "cancelled",
            "scheduled",
            "queued",
        ];
        for text in statuses {
            let status: JobStatus = serde_json::from_value(json!(text)).unwrap();
            assert_eq!(serde_json::to_value(status).unwrap(), json!(text));
        }
        assert!(serde_json::from_value::<JobStatus>(json!("canceled")).is_err());
    }
}
