//! Automatic device management configurations (PROTOCOL 10): desired properties applied to
//! the twins a target condition selects, highest priority first, with metrics counted by
//! queries.
//!
//! [`Configurations`] is the in-process API and what `/configurations/...` calls. An
//! evaluation runs when the hub starts, right after each create, update or delete, and at
//! least every `HubBuilder::configuration_interval` (5 s by default; IoT Hub evaluates every
//! 5 minutes, too slow for a hub developers test against). Each run:
//!
//! 1. For every device twin, takes the configurations whose target condition it meets, lowest
//!    precedence first (priority, then creation time: between equal priorities the most
//!    recently created wins), and applies their device content with [`iot_twin::layer`]:
//!    every content path holds exactly the value of the highest configuration that names it
//!    or a path above it.
//! 2. Removes what configurations put on the twin that no longer apply to it: a configuration
//!    recorded `Applied` in the twin's `configurations` that stopped targeting it, or was
//!    deleted, gives up every path of its content (the property is removed), and the next
//!    configuration that names the path, if any, puts its value back. A configuration owns
//!    exactly its content paths: `properties.desired.a.b` owns `a.b` and all below it, and
//!    other desired properties are never touched. The content of a deleted configuration is
//!    stored until a run has removed it from every twin, so a restart in between loses
//!    nothing.
//! 3. Writes the twin once if its desired properties or its `configurations` changed: a
//!    desired-property change (with its `$version`) that reaches the device if connected, and
//!    `{"<id>": {"status": "Applied" | "Targeted"}}` for every configuration targeting it
//!    (`Targeted` when higher ones override all its paths).
//! 4. Counts the system metrics (`appliedCount`, `targetedCount`, with the queries IoT Hub
//!    generates) and the custom metrics: the number of rows each query returns.
//!
//! IoT Hub does not document what happens when the service writes a path a configuration
//! owns; here the configuration wins: the next run (at most an interval later) writes its
//! value back. Write other paths, or change the configuration, to change such a property.
//!
//! Configurations are stored; the evaluation's results live in the twins and the stored
//! metrics, and are recomputed by the first run after a restart.
//!
//! # Layout
//! - `spec.rs`: checking a configuration; `book.rs`: the configurations in memory and in the
//!   store; `evaluate.rs`: the evaluation task.

mod book;
mod evaluate;
mod spec;

use std::sync::Arc;

use iot_protocol::{
    Configuration, ConfigurationId, ConfigurationQueriesTestInput,
    ConfigurationQueriesTestResponse, IfMatch,
};
use iot_twin::query::{Condition, Query};

pub(crate) use book::ConfigBook;
pub(crate) use evaluate::run;

use crate::HubError;
use crate::core::Core;

/// The hub's configurations: create, read, update, delete, list, and check queries. Cheap to
/// clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use iot_protocol::Configuration;
///
/// let hub = iot_hub::Hub::builder()
///     .mqtt_addr("127.0.0.1:0".parse()?)
///     .plain_tcp()
///     .start()
///     .await?;
/// let config: Configuration = serde_json::from_value(serde_json::json!({
///     "id": "chiller4000x", "priority": 20,
///     "targetCondition": "properties.reported.chillerProperties.model = '4000x'",
///     "content": {"deviceContent": {"properties.desired.chiller-water": {"temperature": 66}}},
/// }))?;
/// let created = hub.configurations().create(&config).await?;
/// assert_eq!(created.etag.as_deref(), Some("MQ=="));
/// hub.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Configurations {
    core: Arc<Core>,
}

impl Configurations {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Creates a configuration: its id (lower-case letters, digits and `-+%_*!'`), a target
    /// condition (`*` for every device), a priority (0 or more, 0 when absent), device content
    /// (paths under `properties.desired`), at most 5 custom metric queries. Returns it as
    /// stored, with etag `MQ==`, its times and its system metric queries.
    ///
    /// # Errors
    /// [`HubError::InvalidConfiguration`], [`HubError::InvalidTargetCondition`],
    /// [`HubError::InvalidConfigurationContent`], [`HubError::InvalidMetricQuery`],
    /// [`HubError::ConfigurationAlreadyExists`], [`HubError::TooManyConfigurations`] (100), or
    /// [`HubError::Store`].
    pub async fn create(&self, configuration: &Configuration) -> Result<Configuration, HubError> {
        let core = &self.core;
        core.configurations
            .create(&core.store, configuration, &core.settings.limits)
            .await
    }

    /// Updates a configuration's labels, target condition, priority and metric queries when
    /// `if_match` matches its etag (or is `*`); its content is fixed at creation (a body
    /// without content keeps it). The etag advances.
    ///
    /// # Errors
    /// As [`Configurations::create`], and [`HubError::ConfigurationNotFound`],
    /// [`HubError::PreconditionFailed`], [`HubError::ImmutableConfigurationContent`].
    pub async fn update(
        &self,
        configuration: &Configuration,
        if_match: &IfMatch,
    ) -> Result<Configuration, HubError> {
        let core = &self.core;
        core.configurations
            .update(&core.store, configuration, if_match, &core.settings.limits)
            .await
    }

    /// A configuration with its latest metric counts.
    ///
    /// # Errors
    /// [`HubError::ConfigurationNotFound`].
    pub fn get(&self, id: &ConfigurationId) -> Result<Configuration, HubError> {
        self.core
            .configurations
            .get(id)
            .ok_or_else(|| HubError::ConfigurationNotFound { id: id.clone() })
    }

    /// At most `top` configurations (all when `None`), by id.
    pub fn list(&self, top: Option<usize>) -> Vec<Configuration> {
        self.core.configurations.list(top.unwrap_or(usize::MAX))
    }

    /// Deletes a configuration if `if_match` (when given) matches its etag; the next
    /// evaluation removes its content from the twins.
    ///
    /// # Errors
    /// [`HubError::ConfigurationNotFound`], [`HubError::PreconditionFailed`], or
    /// [`HubError::Store`].
    pub async fn delete(
        &self,
        id: &ConfigurationId,
        if_match: Option<&IfMatch>,
    ) -> Result<(), HubError> {
        let core = &self.core;
        core.configurations.delete(&core.store, id, if_match).await
    }

    /// Checks a target condition and custom metric queries without creating anything: the
    /// answer holds the parser's message for each that does not parse.
    pub fn test_queries(
        &self,
        input: &ConfigurationQueriesTestInput,
    ) -> ConfigurationQueriesTestResponse {
        let target_condition_error = input
            .target_condition
            .as_deref()
            .and_then(|text| Condition::parse(text).err())
            .map(|error| error.to_string());
        let custom_metric_query_errors = input
            .custom_metric_queries
            .iter()
            .filter_map(|(name, text)| {
                let error = Query::parse(text).err()?;
                Some((name.clone(), error.to_string()))
            })
            .collect();
        ConfigurationQueriesTestResponse {
            target_condition_error,
            custom_metric_query_errors,
        }
    }
}
