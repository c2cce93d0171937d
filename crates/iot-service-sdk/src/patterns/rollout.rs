//! [`Rollout`]: roll a desired section out to the fleet with a configuration whose metrics
//! count devices per reported status, and follow it ([`RolloutHandle`]).

use std::time::{Duration, Instant};

use iot_protocol::patterns::{ApplyStatus, DESIRED_VERSION, STATUS};
use iot_protocol::{Configuration, ConfigurationId, IfMatch};
use serde_json::Value;

use super::{ProgressQuery, ProgressStream};
use crate::{
    ConfigurationBuilder, ConfigurationContent, ConfigurationCounts, Filter, ServiceClient,
    ServiceError,
};

/// A configuration roll-out: desired section `properties.desired.<section>` set to a value on
/// every device a target condition selects, through an automatic device management
/// configuration, with one custom metric per reported status (`pending`, `applying`, `applied`,
/// `error`, as `iot_device_sdk::patterns::DesiredConfiguration` reports them).
///
/// A device counts for this roll-out when the hub has applied the configuration to its twin
/// (`configurations.[[id]].status = 'Applied'`) and its report is about its current desired
/// properties (`desiredVersion` equal to `properties.desired.$version`); until then it is
/// pending. Devices where a configuration of higher priority sets the same section stay pending.
///
/// ```no_run
/// # async fn run(client: iot_service_sdk::ServiceClient) -> Result<(), iot_service_sdk::ServiceError> {
/// use std::time::{Duration, Instant};
/// use iot_service_sdk::patterns::Rollout;
/// use serde_json::json;
///
/// let rollout = Rollout::builder("firmware-2-0", "firmware", json!({"version": "2.0"}))
///     .target_condition("tags.ring = 'canary'")
///     .priority(10)
///     .build()?;
/// let handle = rollout.start(&client).await?;
/// let deadline = Instant::now() + Duration::from_secs(600);
/// let last = handle.progress(Duration::from_secs(5), deadline)?.last().await?;
/// for failure in &last.failures {
///     println!("{}: {:?}", failure.device_id, failure.message);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    configuration: Configuration,
    reported: String,
}

impl Rollout {
    /// A roll-out named `id` (a configuration id) setting desired `section` (dotted:
    /// `firmware`, `settings.fan`) to `value`.
    pub fn builder(id: &str, section: &str, value: impl Into<Value>) -> RolloutBuilder {
        RolloutBuilder {
            id: id.to_owned(),
            section: section.to_owned(),
            value: value.into(),
            reported: None,
            target: None,
            priority: 0,
            labels: Vec::new(),
        }
    }

    /// The configuration it creates.
    pub fn configuration(&self) -> &Configuration {
        &self.configuration
    }

    /// Creates the configuration and returns the roll-out's handle.
    ///
    /// # Errors
    /// As [`ServiceClient::create_configuration`].
    pub async fn start(&self, client: &ServiceClient) -> Result<RolloutHandle, ServiceError> {
        let created = client.create_configuration(&self.configuration).await?;
        let id = ConfigurationId::parse(&created.id)?;
        Ok(RolloutHandle {
            client: client.clone(),
            id,
            target: created.target_condition.unwrap_or_else(|| "*".to_owned()),
            reported: self.reported.clone(),
        })
    }
}

/// A roll-out being built; see [`Rollout`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build`"]
pub struct RolloutBuilder {
    id: String,
    section: String,
    value: Value,
    reported: Option<String>,
    target: Option<Filter>,
    priority: i32,
    labels: Vec<(String, String)>,
}

impl RolloutBuilder {
    /// The devices: a condition over tags and reported properties, or `*`. Required.
    pub fn target_condition(mut self, condition: impl Into<Filter>) -> Self {
        self.target = Some(condition.into());
        self
    }

    /// The configuration's priority (0 unless set; the highest wins where configurations set
    /// the same section).
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Where devices report their status, when not under the section's own name.
    pub fn reported_path(mut self, path: &str) -> Self {
        self.reported = Some(path.to_owned());
        self
    }

    /// A label on the configuration.
    pub fn label(mut self, name: &str, value: &str) -> Self {
        self.labels.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Checks the roll-out and returns it.
    ///
    /// # Errors
    /// As [`ConfigurationBuilder::build`].
    pub fn build(self) -> Result<Rollout, ServiceError> {
        let reported = self.reported.unwrap_or_else(|| self.section.clone());
        let content = ConfigurationContent::device()
            .desired(&format!("properties.desired.{}", self.section), self.value);
        let mut builder = ConfigurationBuilder::new(&self.id)
            .priority(self.priority)
            .content(content);
        if let Some(target) = self.target {
            builder = builder.target_condition(target);
        }
        for (name, value) in &self.labels {
            builder = builder.label(name, value);
        }
        for status in ApplyStatus::ALL.map(ApplyStatus::as_str) {
            builder = builder.metric(status, &metric_query(&self.id, &reported, status));
        }
        Ok(Rollout {
            configuration: builder.build()?,
            reported,
        })
    }
}

/// The condition that a device's report is about configuration `id` at its current desired
/// version.
fn current(id: &str, reported: &str) -> String {
    format!(
        "configurations.[[{id}]].status = 'Applied' \
         AND properties.reported.{reported}.{DESIRED_VERSION} = properties.desired.$version"
    )
}

/// The custom metric counting the devices that report `status` for configuration `id`.
fn metric_query(id: &str, reported: &str, status: &str) -> String {
    format!(
        "SELECT deviceId FROM devices WHERE {} AND properties.reported.{reported}.{STATUS} = '{status}'",
        current(id, reported)
    )
}

/// A roll-out under way: its configuration's metrics, and its progress in the devices'
/// reports.
#[derive(Debug, Clone)]
pub struct RolloutHandle {
    client: ServiceClient,
    id: ConfigurationId,
    target: String,
    reported: String,
}

impl RolloutHandle {
    /// The configuration's id.
    pub fn id(&self) -> &ConfigurationId {
        &self.id
    }

    /// How progress is counted (see [`Rollout`]): devices of the target condition, succeeded
    /// when they report `applied`, failed when they report `error`.
    pub fn progress_query(&self) -> ProgressQuery {
        ProgressQuery::new(&self.reported)
            .scope(Filter::text(&self.target))
            .current(Filter::text(&current(self.id.as_str(), &self.reported)))
            .succeeded([ApplyStatus::Applied.as_str()])
    }

    /// Follows the devices' progress (see [`ProgressStream`]).
    ///
    /// # Errors
    /// [`ServiceError::OutOfRange`] for a zero `interval`; [`ServiceError::InvalidQuery`] if
    /// the target condition read back from the hub does not parse.
    pub fn progress(
        &self,
        interval: Duration,
        deadline: Instant,
    ) -> Result<ProgressStream, ServiceError> {
        self.progress_query()
            .follow(&self.client, interval, deadline)
    }

    /// The configuration's metrics as the hub last computed them: targeted, applied, and the
    /// number of devices per status.
    ///
    /// # Errors
    /// As [`ServiceClient::get_configuration`].
    pub async fn counts(&self) -> Result<ConfigurationCounts, ServiceError> {
        let configuration = self.client.get_configuration(&self.id).await?;
        Ok(ConfigurationCounts::of(&configuration))
    }

    /// Deletes the configuration: its content leaves the devices, which fall back to the next
    /// configuration that sets the section.
    ///
    /// # Errors
    /// As [`ServiceClient::delete_configuration`].
    pub async fn delete(&self) -> Result<(), ServiceError> {
        self.client
            .delete_configuration(&self.id, IfMatch::ANY)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Query;
    use serde_json::json;

    #[test]
    fn roll_outs_are_configurations_with_a_metric_per_status() {
        let rollout = Rollout::builder("fw-2", "firmware", json!({"version": "2"}))
            .target_condition("tags.ring = 'a'")
            .priority(5)
            .label("owner", "ops")
            .build()
            .unwrap();
        let configuration = rollout.configuration();
        assert_eq!(configuration.priority, Some(5));
        let content = configuration.content.as_ref().unwrap();
        assert_eq!(
            content.device_content.as_ref().unwrap()["properties.desired.firmware"],
            json!({"version": "2"})
        );
        let queries = &configuration.metrics.as_ref().unwrap().queries;
        assert_eq!(queries.len(), 4);
        let error = Query::parse(&queries["error"]).unwrap();
        let twin = json!({
            "deviceId": "d",
            "configurations": {"fw-2": {"status": "Applied"}},
            "properties": {"desired": {"$version": 4},
                "reported": {"firmware": {"status": "error", "desiredVersion": 4}}}
        });
        assert!(error.parsed().matches(&twin));
        let applied = Query::parse(&queries["applied"]).unwrap();
        assert!(!applied.parsed().matches(&twin));
        let mut stale = twin;
        stale["properties"]["desired"]["$version"] = json!(5);
        assert!(!error.parsed().matches(&stale));
    }

    #[test]
    fn missing_targets_and_bad_sections_are_refused() {
        assert!(Rollout::builder("fw", "firmware", 1).build().is_err());
        assert!(
            Rollout::builder("fw", "a b", 1)
                .target_condition("*")
                .build()
                .is_err()
        );
        assert!(
            Rollout::builder("FW", "firmware", 1)
                .target_condition("*")
                .build()
                .is_err()
        );
    }
}
