//! One device's part in a job: the method call or twin write, and the row that records it
//! (PROTOCOL 8.3).

use std::sync::Arc;

use iot_methods::MethodResult;
use iot_protocol::{
    DeviceId, DeviceJob, DeviceJobError, DeviceJobOutcome, DeviceJobStatus, ErrorCode, JobType,
};
use iot_twin::Timestamp;

use super::spec::Action;
use crate::core::Core;
use crate::{HubError, MethodCallError, Twins};

/// How one device's part ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DeviceResult {
    /// Done: the device's answer for a method job, nothing for a twin job. A method the device
    /// answered with an error status still succeeded as far as the job is concerned: the
    /// status is in the outcome.
    Succeeded(Option<MethodResult>),
    /// Failed, with IoT Hub's error code name and a description.
    Failed(DeviceJobError),
    /// The hub stopped before the part ended; its outcome is unknown.
    Interrupted,
}

/// Runs `action` on `device` through the same operations as the REST API.
pub(crate) async fn execute(core: Arc<Core>, device: DeviceId, action: Action) -> DeviceResult {
    match action {
        Action::Method(invocation) => match core.invoke_method(&device, invocation).await {
            Ok(result) => DeviceResult::Succeeded(Some(result)),
            Err(MethodCallError::Stopped) => DeviceResult::Interrupted,
            Err(error) => DeviceResult::Failed(error_of(error.code(), &error)),
        },
        Action::Twin(write) => match Twins::new(core).update(&device, &write, None).await {
            Ok(_) => DeviceResult::Succeeded(None),
            Err(HubError::Stopped) => DeviceResult::Interrupted,
            Err(error) => {
                let code = error.code().unwrap_or(ErrorCode::ServerError);
                DeviceResult::Failed(error_of(code, &error))
            }
        },
    }
}

/// A row's error: the IoT Hub error code's name and the description.
pub(crate) fn error_of(code: ErrorCode, description: &dyn std::fmt::Display) -> DeviceJobError {
    DeviceJobError {
        code: code.name().to_owned(),
        description: description.to_string(),
    }
}

/// A device's row when the job picks it.
pub(crate) fn pending(
    job_id: &str,
    job_type: JobType,
    device: DeviceId,
    now: Timestamp,
) -> DeviceJob {
    DeviceJob {
        device_id: device,
        job_id: job_id.to_owned(),
        job_type,
        status: DeviceJobStatus::Pending,
        start_time_utc: None,
        end_time_utc: None,
        created_date_time_utc: Some(now),
        last_updated_date_time_utc: Some(now),
        outcome: None,
        error: None,
    }
}

/// The row once the device's part started.
pub(crate) fn running(mut row: DeviceJob, now: Timestamp) -> DeviceJob {
    row.status = DeviceJobStatus::Running;
    row.start_time_utc = Some(now);
    row.last_updated_date_time_utc = Some(now);
    row
}

/// The row once the device's part ended with `status` (completed, failed or canceled).
/// Method rows carry `outcome.deviceMethodResponse`, `null` when the device gave no answer.
pub(crate) fn ended(
    mut row: DeviceJob,
    status: DeviceJobStatus,
    answer: Option<MethodResult>,
    error: Option<DeviceJobError>,
    now: Timestamp,
) -> DeviceJob {
    row.status = status;
    row.end_time_utc = Some(now);
    row.last_updated_date_time_utc = Some(now);
    if row.job_type == JobType::ScheduleDeviceMethod {
        row.outcome = Some(DeviceJobOutcome {
            device_method_response: answer,
        });
    }
    row.error = error;
    row
}

/// The row for a finished part.
pub(crate) fn finished(row: DeviceJob, result: DeviceResult, now: Timestamp) -> DeviceJob {
    match result {
        DeviceResult::Succeeded(answer) => {
            ended(row, DeviceJobStatus::Completed, answer, None, now)
        }
        DeviceResult::Failed(error) => ended(row, DeviceJobStatus::Failed, None, Some(error), now),
        DeviceResult::Interrupted => {
            let error = error_of(
                ErrorCode::ServiceUnavailable,
                &"the hub stopped while this device's part was in progress; its outcome is unknown",
            );
            ended(row, DeviceJobStatus::Failed, None, Some(error), now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds).unwrap()
    }

    #[test]
    fn rows_follow_pending_running_and_an_end() {
        let device: DeviceId = "d1".parse().unwrap();
        let row = pending("j", JobType::ScheduleDeviceMethod, device, at(1));
        assert_eq!(row.status, DeviceJobStatus::Pending);
        let row = running(row, at(2));
        assert_eq!(
            (row.status, row.start_time_utc),
            (DeviceJobStatus::Running, Some(at(2)))
        );
        let answer = MethodResult::new(200, json!("ok"));
        let done = finished(
            row.clone(),
            DeviceResult::Succeeded(Some(answer.clone())),
            at(3),
        );
        assert_eq!(done.status, DeviceJobStatus::Completed);
        assert_eq!(done.outcome.unwrap().device_method_response, Some(answer));
        let offline = error_of(
            ErrorCode::DeviceNotOnline,
            &MethodCallError::DeviceNotOnline,
        );
        let failed = finished(row.clone(), DeviceResult::Failed(offline), at(3));
        let value = serde_json::to_value(&failed).unwrap();
        assert_eq!(value["status"], "failed");
        assert_eq!(value["outcome"], json!({"deviceMethodResponse": null}));
        assert_eq!(value["error"]["code"], "DeviceNotOnline");
        let interrupted = finished(row, DeviceResult::Interrupted, at(4));
        assert_eq!(interrupted.error.unwrap().code, "ServiceUnavailable");
    }

    #[test]
    fn twin_rows_have_no_outcome() {
        let device: DeviceId = "d1".parse().unwrap();
        let row = running(
            pending("j", JobType::ScheduleUpdateTwin, device, at(1)),
            at(1),
        );
        let done = finished(row, DeviceResult::Succeeded(None), at(2));
        assert_eq!(done.status, DeviceJobStatus::Completed);
        assert!(done.outcome.is_none() && done.error.is_none());
    }
}
