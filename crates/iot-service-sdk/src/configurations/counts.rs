//! [`ConfigurationCounts`]: a configuration's metric results, read by name.

use std::collections::BTreeMap;

use iot_protocol::Configuration;

/// The system metric counting the twins the target condition selects.
pub const TARGETED_COUNT: &str = "targetedCount";
/// The system metric counting the twins the configuration's content is applied to.
pub const APPLIED_COUNT: &str = "appliedCount";

/// The latest metric results of a configuration: how many twins it targets, to how many its
/// content is applied (both counted by the hub's system metrics), and each custom metric.
///
/// The hub evaluates metrics when it evaluates the configuration (IoT Hub: shortly after
/// creation, then every five minutes), so these trail the twins; a metric not yet evaluated is
/// `None`.
///
/// ```
/// use iot_service_sdk::ConfigurationCounts;
///
/// let configuration: iot_protocol::Configuration = serde_json::from_str(r#"{"id": "fw",
///     "systemMetrics": {"results": {"targetedCount": 10, "appliedCount": 8}},
///     "metrics": {"results": {"error": 2}}}"#)?;
/// let counts = ConfigurationCounts::of(&configuration);
/// assert_eq!((counts.targeted, counts.applied), (Some(10), Some(8)));
/// assert_eq!(counts.custom["error"], 2);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConfigurationCounts {
    /// Twins the target condition selects (`targetedCount`).
    pub targeted: Option<i64>,
    /// Twins the content is applied to, in whole or in part (`appliedCount`).
    pub applied: Option<i64>,
    /// The custom metrics' results, by name.
    pub custom: BTreeMap<String, i64>,
}

impl ConfigurationCounts {
    /// The counts of `configuration`, as the hub last computed them.
    pub fn of(configuration: &Configuration) -> Self {
        let system = configuration.system_metrics.as_ref();
        let system_result = |name: &str| system.and_then(|m| m.results.get(name).copied());
        Self {
            targeted: system_result(TARGETED_COUNT),
            applied: system_result(APPLIED_COUNT),
            custom: configuration
                .metrics
                .as_ref()
                .map(|m| m.results.clone())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_without_metrics_counts_nothing() {
        let counts = ConfigurationCounts::of(&Configuration::new("fw"));
        assert_eq!(counts, ConfigurationCounts::default());
    }
}
