//! [`ScheduledJob`] and [`JobBuilder`]: a device-method or twin-update job (PROTOCOL 9.2),
//! checked before it is sent.

use std::time::{Duration, SystemTime};

use iot_methods::MethodInvocation;
use iot_protocol::{JobId, JobRequest, JobType};
use iot_twin::{ServiceWrite, Timestamp};
use serde_json::{Map, Value};

use super::condition::{check_condition_text, condition_text};
use crate::{Filter, ServiceError, TwinUpdate};

/// How long a job may run when the builder is not told: an hour, the Node service SDK's
/// default.
pub const DEFAULT_MAX_EXECUTION_TIME: Duration = Duration::from_secs(3600);

/// A scheduled job, checked: a direct method to call or a twin update to apply on the devices
/// that match a condition, from a start time, for at most a maximum execution time.
///
/// Built with [`ScheduledJob::device_method`] or [`ScheduledJob::twin_update`] and sent with
/// [`crate::ServiceClient::schedule_job`]. A [`JobRequest`] read from elsewhere is checked
/// the same way by `ScheduledJob::try_from`, and [`ScheduledJob::to_request`] gives it back.
///
/// ```
/// use std::time::Duration;
/// use iot_methods::MethodInvocation;
/// use iot_service_sdk::{ScheduledJob, TwinUpdate, field};
/// use serde_json::json;
///
/// let reboot = MethodInvocation::new("reboot".parse()?, json!(null))?
///     .with_response_timeout(Duration::from_secs(15))?;
/// let job = ScheduledJob::device_method(reboot)
///     .id("reboot-building-43")
///     .condition(field("tags.building").eq("43"))
///     .max_execution_time(Duration::from_secs(600))
///     .build()?;
/// assert_eq!(job.id().as_str(), "reboot-building-43");
/// assert_eq!(job.condition(), "tags.building = '43'");
///
/// let twin = ScheduledJob::twin_update(TwinUpdate::new().tags(json!({"ring": "canary"})))
///     .condition("deviceId IN ['d1', 'd2']")
///     .build()?;
/// assert_eq!(twin.to_request().update_twin.unwrap()["etag"], "*");
///
/// // Every job names its devices; "*" is every device.
/// assert!(ScheduledJob::twin_update(TwinUpdate::new().tags(json!({"a": 1}))).build().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledJob {
    id: JobId,
    request: JobRequest,
}

impl ScheduledJob {
    /// A job calling `method` on each device; the method's timeouts and payload were checked
    /// when the invocation was made.
    pub fn device_method(method: MethodInvocation) -> JobBuilder {
        JobBuilder::new(Operation::Method(method))
    }

    /// A job merging `update` (tags and desired properties) into each device's twin.
    pub fn twin_update(update: TwinUpdate) -> JobBuilder {
        JobBuilder::new(Operation::Twin(update))
    }

    /// The job id.
    pub fn id(&self) -> &JobId {
        &self.id
    }

    /// What the job does: [`JobType::ScheduleDeviceMethod`] or [`JobType::ScheduleUpdateTwin`].
    pub fn job_type(&self) -> JobType {
        self.request.job_type
    }

    /// The devices' condition, as sent (`*` for every device).
    pub fn condition(&self) -> &str {
        self.request.query_condition.as_deref().unwrap_or("*")
    }

    /// When the job starts (`None`: as soon as the hub takes it).
    pub fn start_time(&self) -> Option<Timestamp> {
        self.request.start_time
    }

    /// How long the job may run.
    pub fn max_execution_time(&self) -> Duration {
        Duration::from_secs(
            self.request
                .max_execution_time_in_seconds
                .unwrap_or_default(),
        )
    }

    /// The body of `PUT /jobs/v2/{id}`.
    pub fn to_request(&self) -> JobRequest {
        self.request.clone()
    }

    /// The body, borrowed.
    pub(crate) fn request(&self) -> &JobRequest {
        &self.request
    }
}

impl TryFrom<JobRequest> for ScheduledJob {
    type Error = ServiceError;

    /// Checks a job request as [`JobBuilder::build`] does: a valid id, a condition over
    /// devices, exactly the operation its type names (a twin patch with `etag` `*` or absent,
    /// tags and desired properties only), and a positive maximum execution time.
    fn try_from(request: JobRequest) -> Result<Self, Self::Error> {
        let id: JobId = request
            .job_id
            .as_deref()
            .ok_or_else(|| ServiceError::out_of_range("job id", "is missing"))?
            .parse()?;
        check_condition_text(request.query_condition.as_deref().unwrap_or_default())?;
        if request.max_execution_time_in_seconds == Some(0) {
            return Err(ServiceError::out_of_range(
                "max execution time",
                "must be at least 1 second",
            ));
        }
        match (
            request.job_type,
            &request.cloud_to_device_method,
            &request.update_twin,
        ) {
            (JobType::ScheduleDeviceMethod, Some(_), None) => {}
            (JobType::ScheduleUpdateTwin, None, Some(patch)) => {
                check_twin_patch(patch)?;
            }
            (job_type, _, _) => {
                return Err(ServiceError::out_of_range(
                    "job",
                    format!(
                        "a {job_type:?} job needs cloudToDeviceMethod for a method job or \
                         updateTwin for a twin job, and only that"
                    ),
                ));
            }
        }
        Ok(Self { id, request })
    }
}

impl From<ScheduledJob> for JobRequest {
    fn from(job: ScheduledJob) -> Self {
        job.request
    }
}

/// What a job does to each device.
#[derive(Debug, Clone)]
enum Operation {
    Method(MethodInvocation),
    Twin(TwinUpdate),
}

/// A job being built; see [`ScheduledJob`]. Nothing is checked until [`JobBuilder::build`],
/// and no setter panics.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build`"]
pub struct JobBuilder {
    operation: Operation,
    id: Option<String>,
    condition: Option<Filter>,
    start: Option<SystemTime>,
    max_execution_time: Duration,
}

impl JobBuilder {
    fn new(operation: Operation) -> Self {
        Self {
            operation,
            id: None,
            condition: None,
            start: None,
            max_execution_time: DEFAULT_MAX_EXECUTION_TIME,
        }
    }

    /// The job id (device id rules). Without one, `build` makes a random one.
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    /// Which devices: a condition over their twins, as text (`deviceId IN ['d1', 'd2']`, `*`
    /// for every device) or a [`Filter`]. Required.
    pub fn condition(mut self, condition: impl Into<Filter>) -> Self {
        self.condition = Some(condition.into());
        self
    }

    /// Starts the job at `time` rather than as soon as the hub takes it.
    pub fn start_at(mut self, time: SystemTime) -> Self {
        self.start = Some(time);
        self
    }

    /// How long the job may run before the hub stops it (at least a second; rounded up to
    /// whole seconds). [`DEFAULT_MAX_EXECUTION_TIME`] otherwise.
    pub fn max_execution_time(mut self, limit: Duration) -> Self {
        self.max_execution_time = limit;
        self
    }

    /// Checks the job and returns it.
    ///
    /// # Errors
    /// [`ServiceError::InvalidArgument`] for an invalid id, [`ServiceError::InvalidQuery`]
    /// for a condition that does not parse, [`ServiceError::InvalidTwinUpdate`] for a twin
    /// update that breaks a twin rule, [`ServiceError::OutOfRange`] for a missing condition,
    /// an empty twin update, a zero execution time or a start time out of range.
    pub fn build(self) -> Result<ScheduledJob, ServiceError> {
        let id: JobId = match &self.id {
            Some(id) => id.parse()?,
            None => random_id().parse()?,
        };
        let condition = self.condition.ok_or_else(|| {
            ServiceError::out_of_range(
                "condition",
                "is required: name the devices, or \"*\" for every device",
            )
        })?;
        let mut request = match self.operation {
            Operation::Method(method) => JobRequest::device_method(id.as_str(), "", method),
            Operation::Twin(update) => {
                JobRequest::twin_update(id.as_str(), "", twin_patch(&update)?)
            }
        };
        request.query_condition = Some(condition_text(condition)?);
        request.start_time = self.start.map(timestamp).transpose()?;
        request.max_execution_time_in_seconds = Some(whole_seconds(self.max_execution_time)?);
        Ok(ScheduledJob { id, request })
    }
}

/// The `updateTwin` body for `update`: its sections and `"etag": "*"`, which IoT Hub requires.
fn twin_patch(update: &TwinUpdate) -> Result<Map<String, Value>, ServiceError> {
    let Value::Object(mut patch) = update.to_json()? else {
        return Err(ServiceError::protocol("a twin update is not a JSON object"));
    };
    if patch.is_empty() {
        return Err(ServiceError::out_of_range(
            "twin update",
            "must change tags or desired properties",
        ));
    }
    patch.insert("etag".to_owned(), Value::from("*"));
    Ok(patch)
}

/// Checks a received `updateTwin` body: `etag` `*` (or none) and sections a service may write.
fn check_twin_patch(patch: &Map<String, Value>) -> Result<(), ServiceError> {
    let mut sections = patch.clone();
    match sections.remove("etag") {
        None => {}
        Some(Value::String(etag)) if etag == "*" => {}
        Some(other) => {
            return Err(ServiceError::out_of_range(
                "twin update",
                format!("etag must be \"*\", not {other}"),
            ));
        }
    }
    if let Some(Value::Object(properties)) = sections.get_mut("properties") {
        // The Node SDK sends `"reported": {}`; an empty reported section writes nothing.
        if properties.get("reported") == Some(&Value::Object(Map::new())) {
            properties.remove("reported");
        }
    }
    ServiceWrite::from_value(Value::Object(sections))?;
    Ok(())
}

fn timestamp(time: SystemTime) -> Result<Timestamp, ServiceError> {
    Timestamp::from_system_time(time)
        .map_err(|e| ServiceError::out_of_range("start time", e.to_string()))
}

fn whole_seconds(limit: Duration) -> Result<u64, ServiceError> {
    let rounded_up = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
    if rounded_up == 0 {
        return Err(ServiceError::out_of_range(
            "max execution time",
            "must be at least 1 second",
        ));
    }
    Ok(rounded_up)
}

/// A random job id in the UUID layout the official samples use.
pub(crate) fn random_id() -> String {
    let bits: u128 = rand::random();
    let hex = format!("{bits:032x}");
    let part = |range: std::ops::Range<usize>| hex.get(range).unwrap_or_default().to_owned();
    format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field;
    use proptest::prelude::*;
    use serde_json::json;

    fn reboot() -> MethodInvocation {
        MethodInvocation::new("reboot".parse().unwrap(), Value::Null).unwrap()
    }

    #[test]
    fn method_jobs_carry_their_invocation_and_limits() {
        let job = ScheduledJob::device_method(reboot())
            .id("j1")
            .condition("*")
            .max_execution_time(Duration::from_millis(1500))
            .build()
            .unwrap();
        let body = serde_json::to_value(job.request()).unwrap();
        assert_eq!(
            body,
            json!({
                "jobId": "j1",
                "type": "scheduleDeviceMethod",
                "cloudToDeviceMethod": {"methodName": "reboot", "payload": null,
                    "responseTimeoutInSeconds": 30, "connectTimeoutInSeconds": 0},
                "queryCondition": "*",
                "maxExecutionTimeInSeconds": 2
            })
        );
        assert_eq!(job.max_execution_time(), Duration::from_secs(2));
        assert_eq!(job.start_time(), None);
    }

    #[test]
    fn twin_jobs_send_etag_star() {
        let update = TwinUpdate::new()
            .desired(json!({"interval": 5}))
            .tags(json!({"ring": "b"}));
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let job = ScheduledJob::twin_update(update)
            .condition(field("tags.ring").eq("a"))
            .start_at(start)
            .build()
            .unwrap();
        let patch = job.to_request().update_twin.unwrap();
        assert_eq!(
            Value::Object(patch),
            json!({"etag": "*", "tags": {"ring": "b"}, "properties": {"desired": {"interval": 5}}})
        );
        assert_eq!(job.start_time().unwrap().unix_seconds(), 1_800_000_000);
        assert_eq!(job.id().as_str().len(), 36);
    }

    #[test]
    fn mistakes_are_refused_with_their_argument() {
        let cases = [
            (ScheduledJob::device_method(reboot()).build(), "condition"),
            (
                ScheduledJob::device_method(reboot())
                    .condition("*")
                    .max_execution_time(Duration::ZERO)
                    .build(),
                "max execution time",
            ),
            (
                ScheduledJob::twin_update(TwinUpdate::new())
                    .condition("*")
                    .build(),
                "twin update",
            ),
        ];
        for (result, argument) in cases {
            let error = result.unwrap_err();
            assert!(
                matches!(error, ServiceError::OutOfRange { argument: a, .. } if a == argument),
                "{error}"
            );
        }
        let bad_id = ScheduledJob::device_method(reboot())
            .id("a/b")
            .condition("*")
            .build();
        assert!(matches!(bad_id, Err(ServiceError::InvalidArgument(_))));
        let bad_condition = ScheduledJob::device_method(reboot())
            .condition("deviceId IN")
            .build();
        assert!(matches!(bad_condition, Err(ServiceError::InvalidQuery(_))));
        let bad_twin = ScheduledJob::twin_update(TwinUpdate::new().desired(json!({"a.b": 1})))
            .condition("*")
            .build();
        assert!(matches!(bad_twin, Err(ServiceError::InvalidTwinUpdate(_))));
    }

    #[test]
    fn requests_from_other_clients_are_checked() {
        let node = json!({
            "jobId": "j1", "type": "scheduleUpdateTwin", "queryCondition": "deviceId IN ['d1']",
            "updateTwin": {"etag": "*", "properties": {"desired": {"x": 1}, "reported": {}}},
            "startTime": null, "maxExecutionTimeInSeconds": 3600
        });
        let request: JobRequest = serde_json::from_value(node).unwrap();
        assert!(ScheduledJob::try_from(request).is_ok());
        let refused = [
            json!({"type": "scheduleDeviceMethod", "queryCondition": "*",
                   "cloudToDeviceMethod": {"methodName": "m", "responseTimeoutInSeconds": 30}}),
            json!({"jobId": "j", "type": "scheduleDeviceMethod", "queryCondition": "*"}),
            json!({"jobId": "j", "type": "export", "queryCondition": "*"}),
            json!({"jobId": "j", "type": "scheduleUpdateTwin", "queryCondition": "*",
                   "updateTwin": {"etag": "AAA", "tags": {}}}),
            json!({"jobId": "j", "type": "scheduleUpdateTwin", "queryCondition": "*",
                   "updateTwin": {"properties": {"reported": {"x": 1}}}}),
            json!({"jobId": "j", "type": "scheduleUpdateTwin",
                   "updateTwin": {"tags": {"x": 1}}}),
        ];
        for body in refused {
            let request: JobRequest = serde_json::from_value(body.clone()).unwrap();
            assert!(ScheduledJob::try_from(request).is_err(), "{body}");
        }
    }

    #[test]
    fn random_ids_are_job_ids() {
        let a = random_id();
        assert!(a.parse::<JobId>().is_ok());
        assert_eq!(a.matches('-').count(), 4);
        assert_ne!(a, random_id());
    }

    fn builder() -> impl Strategy<Value = JobBuilder> {
        let id = "[a-zA-Z0-9_-]{1,20}";
        let devices = proptest::collection::vec("[a-z0-9-]{1,8}", 0..4);
        let seconds = 1u64..100_000;
        let start = proptest::option::of(0u64..4_000_000_000);
        let method = any::<bool>();
        (id, devices, seconds, start, method).prop_map(|(id, devices, seconds, start, method)| {
            let builder = if method {
                ScheduledJob::device_method(reboot())
            } else {
                ScheduledJob::twin_update(TwinUpdate::new().desired(json!({"n": seconds})))
            };
            let condition = if devices.is_empty() {
                Filter::text("*")
            } else {
                field("deviceId").is_in(devices)
            };
            let builder = builder
                .id(&id)
                .condition(condition)
                .max_execution_time(Duration::from_secs(seconds));
            match start {
                Some(s) => builder.start_at(SystemTime::UNIX_EPOCH + Duration::from_secs(s)),
                None => builder,
            }
        })
    }

    proptest! {
        #[test]
        fn built_jobs_round_trip_through_json(builder in builder()) {
            let job = builder.build().unwrap();
            let text = serde_json::to_string(job.request()).unwrap();
            let request: JobRequest = serde_json::from_str(&text).unwrap();
            let again = ScheduledJob::try_from(request).unwrap();
            prop_assert_eq!(again, job);
        }
    }
}
