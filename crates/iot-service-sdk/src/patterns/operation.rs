//! [`FleetOperation`]: reboot or factory-reset the devices a condition selects, with a
//! device-method job, and follow it ([`OperationJob`]).

use std::time::{Duration, Instant, SystemTime};

use iot_methods::MethodInvocation;
use iot_protocol::patterns::OperationNames;
use iot_protocol::{DeviceJob, JobId, JobResponse};
use iot_twin::Timestamp;
use serde_json::Value;

use super::{ProgressQuery, ProgressStream};
use crate::{Filter, QueryItems, ScheduledJob, ServiceClient, ServiceError, field};

/// A reboot or factory reset across the fleet: a device-method job calls the method on every
/// device the condition selects; each device answers at once and reports its progress under
/// `iothubDM` (as `iot_device_sdk::patterns::DeviceOperation` does), which
/// [`OperationJob::progress`] follows with twin queries.
///
/// ```no_run
/// # async fn run(client: iot_service_sdk::ServiceClient) -> Result<(), iot_service_sdk::ServiceError> {
/// use std::time::{Duration, Instant};
/// use iot_service_sdk::patterns::FleetOperation;
///
/// let reboot = FleetOperation::reboot()
///     .condition("tags.building = '43'")
///     .start(&client)
///     .await?;
/// let deadline = Instant::now() + Duration::from_secs(300);
/// let mut progress = reboot.progress(Duration::from_secs(2), deadline)?;
/// while let Some(snapshot) = progress.next().await {
///     let snapshot = snapshot?;
///     println!("{} rebooted, {} failed, {} pending", snapshot.succeeded, snapshot.failed, snapshot.pending);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "an operation does nothing until started"]
pub struct FleetOperation {
    names: OperationNames,
    method: String,
    payload: Value,
    condition: Option<Filter>,
    response_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_execution_time: Option<Duration>,
    job_id: Option<String>,
}

impl FleetOperation {
    /// Reboot: method `reboot`, progress under `iothubDM.reboot` (`rebooting`, then
    /// `rebooted` with `lastReboot`, or `error`).
    pub fn reboot() -> Self {
        Self::new(OperationNames::REBOOT)
    }

    /// Factory reset: method `factoryReset`, progress under `iothubDM.factoryReset`
    /// (`resetting`, then `reset` with `lastFactoryReset`, or `error`).
    pub fn factory_reset() -> Self {
        Self::new(OperationNames::FACTORY_RESET)
    }

    fn new(names: OperationNames) -> Self {
        Self {
            names,
            method: names.method.to_owned(),
            payload: Value::Null,
            condition: None,
            response_timeout: None,
            connect_timeout: None,
            max_execution_time: None,
            job_id: None,
        }
    }

    /// Which devices: a condition over their twins, or `*` for every device. Required.
    pub fn condition(mut self, condition: impl Into<Filter>) -> Self {
        self.condition = Some(condition.into());
        self
    }

    /// Calls method `name` instead of the default (for devices that answer `rebootDevice`,
    /// say).
    pub fn method_name(mut self, name: &str) -> Self {
        self.method = name.to_owned();
        self
    }

    /// The method's payload (`null` unless set).
    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }

    /// How long each device has to answer the method (5 s to 5 min; 30 s unless set).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = Some(timeout);
        self
    }

    /// How long the hub waits for an offline device to connect (0 unless set: offline
    /// devices fail at once).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long the job may run ([`crate::DEFAULT_MAX_EXECUTION_TIME`] unless set).
    pub fn max_execution_time(mut self, limit: Duration) -> Self {
        self.max_execution_time = Some(limit);
        self
    }

    /// The job's id (random unless set).
    pub fn job_id(mut self, id: &str) -> Self {
        self.job_id = Some(id.to_owned());
        self
    }

    /// The job this operation schedules, checked.
    ///
    /// # Errors
    /// [`ServiceError::OutOfRange`] for a method name, payload or timeout the method rules
    /// refuse, and the errors of [`crate::JobBuilder::build`].
    pub fn to_job(&self) -> Result<ScheduledJob, ServiceError> {
        let out_of_range =
            |e: iot_methods::Error| ServiceError::out_of_range("method", e.to_string());
        let name = self.method.parse().map_err(out_of_range)?;
        let mut method = MethodInvocation::new(name, self.payload.clone()).map_err(out_of_range)?;
        if let Some(timeout) = self.response_timeout {
            method = method
                .with_response_timeout(timeout)
                .map_err(out_of_range)?;
        }
        if let Some(timeout) = self.connect_timeout {
            method = method.with_connect_timeout(timeout).map_err(out_of_range)?;
        }
        let mut job = ScheduledJob::device_method(method);
        if let Some(condition) = &self.condition {
            job = job.condition(condition.clone());
        }
        if let Some(limit) = self.max_execution_time {
            job = job.max_execution_time(limit);
        }
        if let Some(id) = &self.job_id {
            job = job.id(id);
        }
        job.build()
    }

    /// Schedules the job and returns its handle.
    ///
    /// # Errors
    /// The errors of [`Self::to_job`] before sending, and those of
    /// [`ServiceClient::schedule_job`].
    pub async fn start(&self, client: &ServiceClient) -> Result<OperationJob, ServiceError> {
        let job = self.to_job()?;
        let before = Timestamp::from_system_time(SystemTime::now()).ok();
        let response = client.schedule_job(&job).await?;
        let since = [before, response.created_time]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        Ok(OperationJob {
            client: client.clone(),
            id: job.id().clone(),
            condition: job.condition().to_owned(),
            names: self.names,
            since,
            scheduled: response,
        })
    }
}

/// A reboot or factory reset under way: its job, and its progress in the devices' reports.
#[derive(Debug, Clone)]
pub struct OperationJob {
    client: ServiceClient,
    id: JobId,
    condition: String,
    names: OperationNames,
    since: Timestamp,
    scheduled: JobResponse,
}

impl OperationJob {
    /// The job's id.
    pub fn id(&self) -> &JobId {
        &self.id
    }

    /// The job as the hub answered when it was scheduled.
    pub fn scheduled(&self) -> &JobResponse {
        &self.scheduled
    }

    /// How progress is counted: devices of the job's condition, whose reported
    /// `started...Time` is at or after the job's creation (so an earlier run's status is not
    /// taken for this one), succeeded when they report `rebooted` (`reset`), failed when they
    /// report `error` or the job could not reach them.
    ///
    /// The times compared come from two clocks, the hub's (or the back end's) and the
    /// device's; a device clock running behind by more than the time between scheduling and
    /// its report keeps it pending.
    pub fn progress_query(&self) -> ProgressQuery {
        let section = self.names.section();
        let started = format!("properties.reported.{section}.{}", self.names.started_time);
        ProgressQuery::new(&section)
            .scope(Filter::text(&self.condition))
            .current(field(&started).ge(self.since.to_string()))
            .succeeded([self.names.done])
            .job(self.id.clone())
    }

    /// Follows the devices' progress (see [`Self::progress_query`] and [`ProgressStream`]).
    ///
    /// # Errors
    /// [`ServiceError::OutOfRange`] for a zero `interval`.
    pub fn progress(
        &self,
        interval: Duration,
        deadline: Instant,
    ) -> Result<ProgressStream, ServiceError> {
        self.progress_query()
            .follow(&self.client, interval, deadline)
    }

    /// Waits for the job to end (see [`ServiceClient::wait_for_completion`]).
    ///
    /// # Errors
    /// As [`ServiceClient::wait_for_completion`].
    pub async fn wait(
        &self,
        poll_interval: Duration,
        deadline: Instant,
    ) -> Result<JobResponse, ServiceError> {
        self.client
            .wait_for_completion(&self.id, poll_interval, deadline)
            .await
    }

    /// Cancels the job (see [`ServiceClient::cancel_job`]).
    ///
    /// # Errors
    /// As [`ServiceClient::cancel_job`].
    pub async fn cancel(&self) -> Result<JobResponse, ServiceError> {
        self.client.cancel_job(&self.id).await
    }

    /// Each device's part in the job: whether the method reached it and what it answered.
    ///
    /// # Errors
    /// As [`ServiceClient::device_jobs`].
    pub fn device_jobs(&self) -> Result<QueryItems<DeviceJob>, ServiceError> {
        self.client.device_jobs(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_become_method_jobs() {
        let job = FleetOperation::factory_reset()
            .condition("tags.ring = 'b'")
            .payload(json!({"keepNetwork": true}))
            .response_timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .job_id("reset-b")
            .to_job()
            .unwrap();
        let request = job.to_request();
        let method = request.cloud_to_device_method.unwrap();
        assert_eq!(method.method_name().as_str(), "factoryReset");
        assert_eq!(method.payload(), &json!({"keepNetwork": true}));
        assert_eq!(method.response_timeout(), Duration::from_secs(10));
        assert_eq!(method.connect_timeout(), Duration::from_secs(5));
        assert_eq!(
            (job.id().as_str(), job.condition()),
            ("reset-b", "tags.ring = 'b'")
        );
    }

    #[test]
    fn bad_methods_and_missing_conditions_are_refused() {
        let cases = [
            FleetOperation::reboot().to_job(),
            FleetOperation::reboot()
                .condition("*")
                .method_name("a/b")
                .to_job(),
            FleetOperation::reboot()
                .condition("*")
                .response_timeout(Duration::from_secs(1))
                .to_job(),
        ];
        for result in cases {
            assert!(
                matches!(result, Err(ServiceError::OutOfRange { .. })),
                "{result:?}"
            );
        }
    }
}
