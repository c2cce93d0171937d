//! [`JobSpec`]: a job request, checked once, in the form the job's task runs it.

use std::time::Duration;

use iot_methods::MethodInvocation;
use iot_protocol::{JobId, JobRequest, JobType};
use iot_twin::query::{Collection, Condition};
use iot_twin::{ServiceWrite, Timestamp};
use serde_json::{Map, Value};

use crate::HubError;

/// `maxExecutionTimeInSeconds` when the request gives none: an hour, the Node service SDK's
/// default.
pub(crate) const DEFAULT_MAX_EXECUTION: Duration = Duration::from_secs(3600);

/// What a job does on each device it picks.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Calls a direct method, with the request's timeouts.
    Method(MethodInvocation),
    /// Merges a twin patch (tags and desired properties), as `PATCH /twins/{id}` does.
    Twin(ServiceWrite),
}

impl Action {
    /// The job type that does this.
    pub(crate) fn job_type(&self) -> JobType {
        match self {
            Self::Method(_) => JobType::ScheduleDeviceMethod,
            Self::Twin(_) => JobType::ScheduleUpdateTwin,
        }
    }
}

/// A checked job request.
#[derive(Debug, Clone)]
pub(crate) struct JobSpec {
    /// The job id.
    pub(crate) id: JobId,
    /// Which devices, evaluated over the twins when the job starts.
    pub(crate) condition: Condition,
    /// What to do on each.
    pub(crate) action: Action,
    /// When to start (`None`: at once).
    pub(crate) start: Option<Timestamp>,
    /// How long the job may run once it started running.
    pub(crate) max_execution: Duration,
}

impl JobSpec {
    /// Checks a request: a scheduled job type with its action (`cloudToDeviceMethod` or
    /// `updateTwin` with `"etag":"*"`), a `queryCondition` over devices, and a positive
    /// `maxExecutionTimeInSeconds`. Each error names the field and the rule.
    pub(crate) fn from_request(request: &JobRequest) -> Result<Self, HubError> {
        let id = request
            .job_id
            .as_deref()
            .ok_or_else(|| invalid("jobId", "is required".into()))?;
        let id = JobId::parse(id).map_err(|e| invalid("jobId", e.to_string()))?;
        let action = action(request)?;
        let condition = condition(request.query_condition.as_deref())?;
        let max_execution = match request.max_execution_time_in_seconds {
            None => DEFAULT_MAX_EXECUTION,
            Some(0) => {
                return Err(invalid(
                    "maxExecutionTimeInSeconds",
                    "must be at least 1".into(),
                ));
            }
            Some(seconds) => Duration::from_secs(seconds),
        };
        Ok(Self {
            id,
            condition,
            action,
            start: request.start_time,
            max_execution,
        })
    }
}

fn invalid(field: &'static str, rule: String) -> HubError {
    HubError::InvalidJob { field, rule }
}

fn action(request: &JobRequest) -> Result<Action, HubError> {
    match request.job_type {
        JobType::ScheduleDeviceMethod => request
            .cloud_to_device_method
            .clone()
            .map(Action::Method)
            .ok_or_else(|| {
                invalid(
                    "cloudToDeviceMethod",
                    "is required for scheduleDeviceMethod jobs".into(),
                )
            }),
        JobType::ScheduleUpdateTwin => {
            let patch = request.update_twin.as_ref().ok_or_else(|| {
                invalid(
                    "updateTwin",
                    "is required for scheduleUpdateTwin jobs".into(),
                )
            })?;
            twin_write(patch).map(Action::Twin)
        }
        other => Err(invalid(
            "type",
            format!(
                "{} is not a scheduled job type: scheduleDeviceMethod or scheduleUpdateTwin",
                serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        )),
    }
}

/// The twin patch of a twin job: IoT Hub requires `"etag":"*"` (a job writes every twin it
/// picks whatever its etag); `properties.reported` may only be empty.
fn twin_write(patch: &Map<String, Value>) -> Result<ServiceWrite, HubError> {
    match patch.get("etag") {
        Some(Value::String(etag)) if etag.trim_matches('"') == "*" => {}
        Some(_) => return Err(invalid("updateTwin.etag", "must be \"*\"".into())),
        None => {
            return Err(invalid(
                "updateTwin.etag",
                "is required and must be \"*\"".into(),
            ));
        }
    }
    ServiceWrite::from_value(Value::Object(patch.clone()))
        .map_err(|e| invalid("updateTwin", e.to_string()))
}

/// The `queryCondition`: a condition over devices, or `*`.
fn condition(text: Option<&str>) -> Result<Condition, HubError> {
    let text = text.filter(|text| !text.trim().is_empty()).ok_or_else(|| {
        invalid(
            "queryCondition",
            "is required (`*` picks every device)".into(),
        )
    })?;
    let condition = Condition::parse(text).map_err(|e| invalid("queryCondition", e.to_string()))?;
    if condition.collection() != Collection::Devices {
        return Err(invalid(
            "queryCondition",
            "must pick devices: jobs run on devices, not modules".into(),
        ));
    }
    Ok(condition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: Value) -> Result<JobSpec, HubError> {
        let request: JobRequest = serde_json::from_value(value).unwrap();
        JobSpec::from_request(&request)
    }

    fn field(value: Value) -> &'static str {
        match spec(value) {
            Err(HubError::InvalidJob { field, .. }) => field,
            other => panic!("expected an invalid job, got {other:?}"),
        }
    }

    #[test]
    fn method_and_twin_jobs_are_read() {
        let method = spec(json!({
            "jobId": "j1", "type": "scheduleDeviceMethod", "queryCondition": "deviceId IN ['d1']",
            "cloudToDeviceMethod": {"methodName": "reboot", "responseTimeoutInSeconds": 15},
        }))
        .unwrap();
        assert!(
            matches!(&method.action, Action::Method(m) if m.method_name().as_str() == "reboot")
        );
        assert_eq!(method.max_execution, DEFAULT_MAX_EXECUTION);
        assert_eq!(method.start, None);
        let twin = spec(json!({
            "jobId": "j2", "type": "scheduleUpdateTwin", "queryCondition": "*",
            "updateTwin": {"etag": "*", "tags": {"state": "WA"}, "properties": {"desired": {}, "reported": {}}},
            "maxExecutionTimeInSeconds": 60, "startTime": "2030-01-01T00:00:00Z",
        }))
        .unwrap();
        assert!(twin.condition.is_all());
        assert_eq!(twin.action.job_type(), JobType::ScheduleUpdateTwin);
        assert_eq!(twin.max_execution, Duration::from_secs(60));
        assert!(twin.start.is_some());
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        let method = json!({"methodName": "m"});
        let cases = [
            (
                json!({"type": "scheduleDeviceMethod", "queryCondition": "*", "cloudToDeviceMethod": method}),
                "jobId",
            ),
            (
                json!({"jobId": "a/b", "type": "scheduleDeviceMethod", "queryCondition": "*", "cloudToDeviceMethod": method}),
                "jobId",
            ),
            (
                json!({"jobId": "j", "type": "export", "queryCondition": "*"}),
                "type",
            ),
            (
                json!({"jobId": "j", "type": "scheduleDeviceMethod", "queryCondition": "*"}),
                "cloudToDeviceMethod",
            ),
            (
                json!({"jobId": "j", "type": "scheduleUpdateTwin", "queryCondition": "*"}),
                "updateTwin",
            ),
            (
                json!({"jobId": "j", "type": "scheduleUpdateTwin", "queryCondition": "*", "updateTwin": {"tags": {}}}),
                "updateTwin.etag",
            ),
            (
                json!({"jobId": "j", "type": "scheduleUpdateTwin", "queryCondition": "*", "updateTwin": {"etag": "AAAAAAAAAAE="}}),
                "updateTwin.etag",
            ),
            (
                json!({"jobId": "j", "type": "scheduleUpdateTwin", "queryCondition": "*", "updateTwin": {"etag": "*", "properties": {"reported": {"a": 1}}}}),
                "updateTwin",
            ),
            (
                json!({"jobId": "j", "type": "scheduleDeviceMethod", "cloudToDeviceMethod": method}),
                "queryCondition",
            ),
            (
                json!({"jobId": "j", "type": "scheduleDeviceMethod", "queryCondition": " ", "cloudToDeviceMethod": method}),
                "queryCondition",
            ),
            (
                json!({"jobId": "j", "type": "scheduleDeviceMethod", "queryCondition": "deviceId =", "cloudToDeviceMethod": method}),
                "queryCondition",
            ),
            (
                json!({"jobId": "j", "type": "scheduleDeviceMethod", "queryCondition": "FROM devices.modules", "cloudToDeviceMethod": method}),
                "queryCondition",
            ),
            (
                json!({"jobId": "j", "type": "scheduleDeviceMethod", "queryCondition": "*", "cloudToDeviceMethod": method, "maxExecutionTimeInSeconds": 0}),
                "maxExecutionTimeInSeconds",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(field(body.clone()), expected, "{body}");
        }
        let Err(error) = spec(json!({"jobId": "j", "type": "scheduleDeviceMethod",
            "queryCondition": "deviceId = ", "cloudToDeviceMethod": method}))
        else {
            panic!("a bad condition")
        };
        assert!(error.to_string().contains("expected a value"), "{error}");
    }
}
