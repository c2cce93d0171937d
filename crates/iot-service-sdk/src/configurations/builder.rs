//! [`ConfigurationBuilder`]: a new automatic device management configuration (PROTOCOL 10.2),
//! and the checks every configuration passes before it is sent.

use std::collections::BTreeMap;

use iot_protocol::{Configuration, ConfigurationId, ConfigurationMetrics};
use iot_twin::query::Collection;

use super::content::check_entries;
use crate::jobs::{check_condition_text, condition_text};
use crate::{ConfigurationContent, Filter, Query, ServiceError};

/// The most custom metrics a configuration may have (PROTOCOL 10.2).
pub const MAX_CUSTOM_METRICS: usize = 5;

/// The schema version of the configurations this crate writes (the one IoT Hub documents).
const SCHEMA_VERSION: &str = "1.0";

/// A configuration being built: its id, target condition, priority, content, labels and
/// custom metrics. [`Self::build`] checks all of them and returns the
/// [`Configuration`] to pass to [`crate::ServiceClient::create_configuration`].
///
/// ```
/// use iot_service_sdk::{ConfigurationBuilder, ConfigurationContent, field};
/// use serde_json::json;
///
/// let firmware = ConfigurationBuilder::new("firmware-2-0-0")
///     .target_condition(field("tags.devicetype").eq("chiller"))
///     .priority(20)
///     .content(ConfigurationContent::device().desired(
///         "properties.desired.firmware",
///         json!({"version": "2.0.0"}),
///     ))
///     .label("team", "plant-ops")
///     .metric(
///         "failed",
///         "SELECT deviceId FROM devices WHERE properties.reported.firmware.status = 'error'",
///     )
///     .build()?;
/// assert_eq!(firmware.target_condition.as_deref(), Some("tags.devicetype = 'chiller'"));
/// assert_eq!(firmware.priority, Some(20));
///
/// // Ids are lower case; a metric must be a query of devices.
/// assert!(ConfigurationBuilder::new("Firmware").target_condition("*").build().is_err());
/// # Ok::<(), iot_service_sdk::ServiceError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build`"]
pub struct ConfigurationBuilder {
    id: String,
    target: Option<Filter>,
    priority: i32,
    content: Option<ConfigurationContent>,
    labels: BTreeMap<String, String>,
    metrics: BTreeMap<String, String>,
}

impl ConfigurationBuilder {
    /// A configuration named `id` (lower-case letters, digits and `- + % _ * ! '`).
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            target: None,
            priority: 0,
            content: None,
            labels: BTreeMap::new(),
            metrics: BTreeMap::new(),
        }
    }

    /// The twins the configuration applies to: a condition over tags and reported properties,
    /// as text or a [`Filter`]; `*` for every device. Required. For module content
    /// ([`ConfigurationContent::module`]) the condition selects module twins and is sent as
    /// `FROM devices.modules WHERE ...`.
    pub fn target_condition(mut self, condition: impl Into<Filter>) -> Self {
        self.target = Some(condition.into());
        self
    }

    /// Where several configurations set the same path of a twin, the highest priority wins
    /// (ties: the most recently created). `0` unless set; IoT Hub documents priorities as
    /// non-negative.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// What to write into desired properties. Required; immutable once created.
    pub fn content(mut self, content: ConfigurationContent) -> Self {
        self.content = Some(content);
        self
    }

    /// A label, for people and tooling; setting a name twice keeps the last value.
    pub fn label(mut self, name: &str, value: &str) -> Self {
        self.labels.insert(name.to_owned(), value.to_owned());
        self
    }

    /// A custom metric: a query of devices whose number of rows the hub reports as `name`
    /// (`SELECT deviceId FROM devices WHERE ...`). At most [`MAX_CUSTOM_METRICS`].
    pub fn metric(mut self, name: &str, query: &str) -> Self {
        self.metrics.insert(name.to_owned(), query.to_owned());
        self
    }

    /// Checks the configuration and returns it.
    ///
    /// # Errors
    /// [`ServiceError::InvalidArgument`] for an invalid id, [`ServiceError::InvalidQuery`]
    /// for a target condition or metric that does not parse, [`ServiceError::InvalidTwinUpdate`]
    /// for content that breaks a twin rule, [`ServiceError::OutOfRange`] for what is missing or
    /// out of range (see [`check_configuration`]).
    pub fn build(self) -> Result<Configuration, ServiceError> {
        let target = self.target.ok_or_else(|| {
            ServiceError::out_of_range(
                "target condition",
                "is required: name the devices, or \"*\" for every device",
            )
        })?;
        let content = self
            .content
            .ok_or_else(|| ServiceError::out_of_range("content", "is required"))?;
        let mut configuration = Configuration::new(&self.id);
        configuration.schema_version = Some(SCHEMA_VERSION.to_owned());
        configuration.target_condition = Some(target_text(target, &content)?);
        configuration.priority = Some(self.priority);
        configuration.content = Some(content.to_wire()?);
        configuration.labels = self.labels;
        configuration.metrics = Some(ConfigurationMetrics {
            queries: self.metrics,
            results: BTreeMap::new(),
        });
        check_configuration(&configuration)?;
        Ok(configuration)
    }
}

/// The target condition of `content`: the filter's text, within `FROM devices.modules` for
/// module content.
fn target_text(target: Filter, content: &ConfigurationContent) -> Result<String, ServiceError> {
    let text = condition_text(target)?;
    Ok(match (content.is_module_content(), text.as_str()) {
        (false, _) => text,
        (true, "*") => "FROM devices.modules".to_owned(),
        (true, _) => format!("FROM devices.modules WHERE {text}"),
    })
}

/// Checks a configuration as the hub would before creating or updating it: a valid id, a
/// target condition over devices (or module twins, for module content), a non-negative
/// priority, content under `properties.desired`, at most [`MAX_CUSTOM_METRICS`] custom metrics
/// that are queries of twins, and no metric name that is empty.
///
/// # Errors
/// As [`ConfigurationBuilder::build`].
pub fn check_configuration(configuration: &Configuration) -> Result<(), ServiceError> {
    ConfigurationId::parse(&configuration.id)?;
    let target = configuration
        .target_condition
        .as_deref()
        .ok_or_else(|| ServiceError::out_of_range("target condition", "is required"))?;
    check_target(target, configuration)?;
    if configuration.priority.is_some_and(|p| p < 0) {
        return Err(ServiceError::out_of_range(
            "priority",
            "must not be negative",
        ));
    }
    if let Some(content) = &configuration.content {
        for entries in [&content.device_content, &content.module_content]
            .into_iter()
            .flatten()
        {
            check_entries(entries)?;
        }
    }
    if let Some(metrics) = &configuration.metrics {
        check_metrics(&metrics.queries)?;
    }
    Ok(())
}

/// Module content goes with a `FROM devices.modules` target; device content with one over
/// devices.
fn check_target(target: &str, configuration: &Configuration) -> Result<(), ServiceError> {
    let for_modules = configuration
        .content
        .as_ref()
        .is_some_and(|c| c.module_content.is_some());
    if !for_modules {
        check_condition_text(target)?;
        return Ok(());
    }
    let condition = iot_twin::Condition::parse(target)?;
    if condition.collection() != Collection::Modules {
        return Err(ServiceError::out_of_range(
            "target condition",
            "module content needs a target of the form FROM devices.modules WHERE ...",
        ));
    }
    Ok(())
}

fn check_metrics(queries: &BTreeMap<String, String>) -> Result<(), ServiceError> {
    if queries.len() > MAX_CUSTOM_METRICS {
        return Err(ServiceError::out_of_range(
            "metrics",
            format!(
                "at most {MAX_CUSTOM_METRICS} custom metrics, not {}",
                queries.len()
            ),
        ));
    }
    for (name, text) in queries {
        if name.is_empty() {
            return Err(ServiceError::out_of_range(
                "metrics",
                "a metric name must not be empty",
            ));
        }
        let query = Query::parse(text)?;
        if query.collection() == Collection::DeviceJobs {
            return Err(ServiceError::out_of_range(
                "metrics",
                format!("metric {name:?} must query twins, not devices.jobs"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn firmware() -> ConfigurationContent {
        ConfigurationContent::device()
            .desired("properties.desired.firmware", json!({"version": "2.0.0"}))
    }

    #[test]
    fn built_configurations_have_the_wire_shape() {
        let configuration = ConfigurationBuilder::new("fw")
            .target_condition("*")
            .content(firmware())
            .metric("ok", "SELECT deviceId FROM devices WHERE properties.reported.firmware.status = 'applied'")
            .build()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&configuration).unwrap(),
            json!({
                "id": "fw",
                "schemaVersion": "1.0",
                "labels": {},
                "content": {"deviceContent": {"properties.desired.firmware": {"version": "2.0.0"}}},
                "targetCondition": "*",
                "priority": 0,
                "metrics": {
                    "queries": {"ok": "SELECT deviceId FROM devices WHERE properties.reported.firmware.status = 'applied'"},
                    "results": {}
                }
            })
        );
    }

    #[test]
    fn mistakes_are_refused_before_sending() {
        let base = || {
            ConfigurationBuilder::new("fw")
                .target_condition("*")
                .content(firmware())
        };
        let mut too_many = base();
        for n in 0..=MAX_CUSTOM_METRICS {
            too_many = too_many.metric(&format!("m{n}"), "SELECT deviceId FROM devices");
        }
        let out_of_range = [
            (
                ConfigurationBuilder::new("fw").content(firmware()).build(),
                "target condition",
            ),
            (
                ConfigurationBuilder::new("fw")
                    .target_condition("*")
                    .build(),
                "content",
            ),
            (base().priority(-1).build(), "priority"),
            (too_many.build(), "metrics"),
            (
                base().metric("", "SELECT deviceId FROM devices").build(),
                "metrics",
            ),
            (
                base().metric("jobs", "SELECT * FROM devices.jobs").build(),
                "metrics",
            ),
        ];
        for (result, argument) in out_of_range {
            let error = result.unwrap_err();
            assert!(
                matches!(error, ServiceError::OutOfRange { argument: a, .. } if a == argument),
                "{argument}: {error}"
            );
        }
        assert!(matches!(
            ConfigurationBuilder::new("Fw")
                .target_condition("*")
                .content(firmware())
                .build(),
            Err(ServiceError::InvalidArgument(_))
        ));
        assert!(matches!(
            base().metric("m", "SELECT deviceId FROM").build(),
            Err(ServiceError::InvalidQuery(_))
        ));
        assert!(matches!(
            base().target_condition("tags.a = ").build(),
            Err(ServiceError::InvalidQuery(_))
        ));
    }

    #[test]
    fn module_content_targets_module_twins() {
        let content = ConfigurationContent::module().desired("properties.desired.x", 1);
        let some = ConfigurationBuilder::new("m")
            .target_condition("moduleId = 'sensor'")
            .content(content.clone())
            .build()
            .unwrap();
        assert_eq!(
            some.target_condition.as_deref(),
            Some("FROM devices.modules WHERE moduleId = 'sensor'")
        );
        let all = ConfigurationBuilder::new("m")
            .target_condition("*")
            .content(content)
            .build()
            .unwrap();
        assert_eq!(
            all.target_condition.as_deref(),
            Some("FROM devices.modules")
        );
        let mut mixed = some;
        mixed.target_condition = Some("*".to_owned());
        assert!(matches!(
            check_configuration(&mixed),
            Err(ServiceError::OutOfRange {
                argument: "target condition",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn built_configurations_round_trip_through_json(
            id in "[a-z0-9_-]{1,30}",
            priority in 0..1000i32,
            version in "[0-9.]{1,8}",
            floor in 0..100i32,
        ) {
            let configuration = ConfigurationBuilder::new(&id)
                .target_condition(crate::field("tags.floor").ge(floor))
                .priority(priority)
                .content(ConfigurationContent::device().desired("properties.desired.firmware.version", version))
                .build()
                .unwrap();
            let text = serde_json::to_string(&configuration).unwrap();
            let again: Configuration = serde_json::from_str(&text).unwrap();
            check_configuration(&again).unwrap();
            prop_assert_eq!(again, configuration);
        }
    }
}
