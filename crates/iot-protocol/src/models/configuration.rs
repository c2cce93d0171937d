//! Automatic device management configurations (`/configurations/{id}`).

use std::collections::BTreeMap;

use iot_twin::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::null_as_default;

/// A configuration: content applied to the twins its target condition selects, with metrics.
///
/// ```
/// use iot_protocol::Configuration;
///
/// let config: Configuration = serde_json::from_str(r#"{"id":"firmware285","priority":20,
///     "targetCondition":"tags.devicetype = 'chiller'",
///     "content":{"deviceContent":{"properties.desired.firmware":{"fwVersion":"2.8.5"}}}}"#).unwrap();
/// assert_eq!(config.priority, Some(20));
/// assert!(config.content.unwrap().device_content.unwrap().contains_key("properties.desired.firmware"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    /// The configuration id.
    pub id: String,
    /// The schema version (`1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    /// Labels describing the configuration.
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// What to apply. Immutable after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ConfigurationContent>,
    /// Which twins: a WHERE condition over tags and reported properties, or `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_condition: Option<String>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time_utc: Option<Timestamp>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_time_utc: Option<Timestamp>,
    /// Priority; the highest wins per twin path, ties go to the most recently created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// The metrics the hub defines (`appliedCount`, `targetedCount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_metrics: Option<ConfigurationMetrics>,
    /// The user's metrics (at most five queries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<ConfigurationMetrics>,
    /// The configuration's etag (e.g. `MQ==`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The content type (read by C#; its values are not documented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl Configuration {
    /// A configuration with only its id set.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            schema_version: None,
            labels: BTreeMap::new(),
            content: None,
            target_condition: None,
            created_time_utc: None,
            last_updated_time_utc: None,
            priority: None,
            system_metrics: None,
            metrics: None,
            etag: None,
            content_type: None,
        }
    }
}

/// What a configuration applies. Keys of `device_content` and `module_content` are twin paths
/// starting with `properties.desired`; values are the JSON to put there (`null` removes).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationContent {
    /// Content for device twins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_content: Option<Map<String, Value>>,
    /// Content for the modules of IoT Edge devices, by module id (`$edgeAgent`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules_content: Option<BTreeMap<String, Map<String, Value>>>,
    /// Content for module twins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_content: Option<Map<String, Value>>,
}

/// Metric queries and their latest results (the number of rows each query returned).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationMetrics {
    /// Metric name to query text.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queries: BTreeMap<String, String>,
    /// Metric name to count.
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: BTreeMap<String, i64>,
}

/// The body of `POST /configurations/testQueries`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationQueriesTestInput {
    /// The target condition to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_condition: Option<String>,
    /// Metric name to query text, to check.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_metric_queries: BTreeMap<String, String>,
}

/// The answer to `POST /configurations/testQueries`: the errors found, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationQueriesTestResponse {
    /// What is wrong with the target condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_condition_error: Option<String>,
    /// Metric name to what is wrong with its query.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_metric_query_errors: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A configuration shaped like the firmware tutorial's, as the hub returns it.
    fn firmware285() -> Value {
        json!({
            "id": "firmware285",
            "schemaVersion": "1.0",
            "labels": {"devicetype": "chiller"},
            "content": {
                "deviceContent": {
                    "properties.desired.firmware": {
                        "fwVersion": "2.8.5",
                        "fwPackageURI": "https://example.com/firmware/285",
                        "fwPackageCheckValue": "45cd"
                    }
                }
            },
            "targetCondition": "tags.devicetype = 'chiller'",
            "createdTimeUtc": "2026-01-05T10:00:00.0000000Z",
            "lastUpdatedTimeUtc": "2026-01-05T10:00:00.0000000Z",
            "priority": 20,
            "systemMetrics": {
                "queries": {
                    "appliedCount": "select deviceId from devices where configurations.[[firmware285]].status = 'Applied'",
                    "targetedCount": "select deviceId from devices where tags.devicetype = 'chiller'"
                },
                "results": {"appliedCount": 1, "targetedCount": 2}
            },
            "metrics": {
                "queries": {
                    "current": "SELECT deviceId FROM devices WHERE configurations.[[firmware285]].status='Applied' AND properties.reported.firmware.fwUpdateStatus='current'"
                },
                "results": {"current": 1}
            },
            "etag": "MQ=="
        })
    }

    #[test]
    fn firmware_configuration_round_trips() {
        let config: Configuration = serde_json::from_value(firmware285()).unwrap();
        assert_eq!(
            config.system_metrics.as_ref().unwrap().results["targetedCount"],
            2
        );
        assert_eq!(serde_json::to_value(&config).unwrap(), firmware285());
    }

    #[test]
    fn edge_and_module_content() {
        let value = json!({
            "id": "edge1",
            "labels": {},
            "content": {
                "modulesContent": {"$edgeAgent": {"properties.desired": {"schemaVersion": "1.1"}}},
                "moduleContent": {"properties.desired.x": 1}
            },
            "targetCondition": "from devices.modules where moduleId = 'm'"
        });
        let config: Configuration = serde_json::from_value(value.clone()).unwrap();
        assert!(
            config
                .content
                .as_ref()
                .unwrap()
                .modules_content
                .as_ref()
                .unwrap()
                .contains_key("$edgeAgent")
        );
        assert_eq!(serde_json::to_value(&config).unwrap(), value);
    }

    #[test]
    fn nulls_read_as_empty() {
        let config: Configuration = serde_json::from_value(json!({
            "id": "c", "labels": null, "metrics": {"queries": null, "results": null}
        }))
        .unwrap();
        assert!(config.labels.is_empty());
        assert_eq!(config.metrics, Some(ConfigurationMetrics::default()));
    }

    #[test]
    fn test_queries_bodies() {
        let input = json!({"targetCondition": "tags.a = 1", "customMetricQueries": {"m": "SELECT deviceId FROM devices"}});
        let parsed: ConfigurationQueriesTestInput = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), input);
        let output =
            json!({"targetConditionError": "bad", "customMetricQueryErrors": {"m": "bad too"}});
        let parsed: ConfigurationQueriesTestResponse =
            serde_json::from_value(output.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), output);
        assert_eq!(
            serde_json::to_value(ConfigurationQueriesTestResponse::default()).unwrap(),
            json!({"customMetricQueryErrors": {}})
        );
    }
}
