//! [`Compiled`]: a configuration checked once (PROTOCOL 10.2), in the form evaluation runs
//! it: its target condition, its device content, and its metric queries.

use std::collections::BTreeMap;

use iot_protocol::{Configuration, ConfigurationContent, ConfigurationId};
use iot_twin::query::{Collection, Condition, Query};
use iot_twin::{DesiredContent, Limits, Patch, Section, SectionKind, Timestamp};
use serde_json::{Map, Value};

use crate::HubError;

/// The most custom metrics a configuration may have (IoT Hub's limit).
pub(crate) const MAX_METRICS: usize = 5;

/// The system metric counting the twins where the configuration is applied.
pub(crate) const APPLIED_COUNT: &str = "appliedCount";

/// The system metric counting the twins the configuration targets.
pub(crate) const TARGETED_COUNT: &str = "targetedCount";

/// A checked configuration.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Its id.
    pub(crate) id: ConfigurationId,
    /// Its priority; the higher wins per twin path.
    pub(crate) priority: i32,
    /// When it was created; between equal priorities the most recent wins.
    pub(crate) created: Timestamp,
    /// Which twins it targets.
    pub(crate) condition: Condition,
    /// The desired properties it sets on device twins (empty for module or edge content,
    /// which this hub, without module identities, applies to no twin).
    pub(crate) content: DesiredContent,
    /// Custom metrics.
    pub(crate) metrics: Vec<Metric>,
    /// System metrics: `appliedCount` and `targetedCount` with the queries IoT Hub generates.
    pub(crate) system: Vec<Metric>,
}

/// A metric: its name, its query text and the query.
#[derive(Debug)]
pub(crate) struct Metric {
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) query: Query,
}

impl Metric {
    fn parse(name: &str, text: &str) -> Result<Self, iot_twin::QueryError> {
        Ok(Self {
            name: name.to_owned(),
            text: text.to_owned(),
            query: Query::parse(text)?,
        })
    }
}

impl Compiled {
    /// Checks a configuration; `created` is its creation time (a tie-breaker between equal
    /// priorities).
    pub(crate) fn check(
        config: &Configuration,
        created: Timestamp,
        limits: &Limits,
    ) -> Result<Self, HubError> {
        let id =
            ConfigurationId::parse(&config.id).map_err(|e| HubError::InvalidConfiguration {
                field: "id",
                rule: e.to_string(),
            })?;
        let priority = config.priority.unwrap_or_default();
        if priority < 0 {
            return Err(HubError::InvalidConfiguration {
                field: "priority",
                rule: format!("must not be negative, found {priority}"),
            });
        }
        let condition = target_condition(config.target_condition.as_deref())?;
        let content = content(config.content.as_ref(), &condition, limits)?;
        let metrics = metrics(config.metrics.as_ref().map(|m| &m.queries))?;
        let system = system_queries(&id, &condition)?;
        Ok(Self {
            id,
            priority,
            created,
            condition,
            content,
            metrics,
            system,
        })
    }

    /// The query texts of the system metrics.
    pub(crate) fn system_texts(&self) -> BTreeMap<String, String> {
        self.system
            .iter()
            .map(|metric| (metric.name.clone(), metric.text.clone()))
            .collect()
    }
}

/// The target condition: required (`*` targets every device), parsed as a query condition.
fn target_condition(text: Option<&str>) -> Result<Condition, HubError> {
    let text = text.filter(|text| !text.trim().is_empty()).ok_or_else(|| {
        HubError::InvalidTargetCondition {
            reason: "targetCondition is required (`*` targets every device)".into(),
        }
    })?;
    Condition::parse(text).map_err(|e| HubError::InvalidTargetCondition {
        reason: e.to_string(),
    })
}

/// Checks the content: device content (for a condition over devices) or module content (for
/// one over modules), each key a path under `properties.desired` whose value fits the twin
/// limits; edge content (`modulesContent`) takes module ids to such paths.
fn content(
    content: Option<&ConfigurationContent>,
    condition: &Condition,
    limits: &Limits,
) -> Result<DesiredContent, HubError> {
    let Some(content) = content else {
        return Ok(DesiredContent::default());
    };
    let invalid = |reason: String| HubError::InvalidConfigurationContent { reason };
    let modules = condition.collection() == Collection::Modules;
    if content.device_content.is_some() && modules {
        return Err(invalid(
            "deviceContent needs a targetCondition over devices, not devices.modules".into(),
        ));
    }
    if content.module_content.is_some() && !modules {
        return Err(invalid(
            "moduleContent needs a targetCondition FROM devices.modules".into(),
        ));
    }
    for (module, paths) in content.modules_content.iter().flatten() {
        desired(paths, limits).map_err(|e| invalid(format!("modulesContent.{module}: {e}")))?;
    }
    if let Some(paths) = &content.module_content {
        desired(paths, limits).map_err(|e| invalid(format!("moduleContent: {e}")))?;
    }
    match &content.device_content {
        Some(paths) => desired(paths, limits).map_err(|e| invalid(format!("deviceContent: {e}"))),
        None => Ok(DesiredContent::default()),
    }
}

/// Checks one content map: its paths, and each value against the twin limits as if written
/// alone to an empty desired section.
fn desired(paths: &Map<String, Value>, limits: &Limits) -> Result<DesiredContent, String> {
    let content = DesiredContent::from_map(paths).map_err(|e| e.to_string())?;
    for entry in content.entries() {
        let mut nested = entry.value().clone();
        for key in entry.path().keys().iter().rev() {
            let mut map = Map::new();
            map.insert(key.clone(), nested);
            nested = Value::Object(map);
        }
        let patch = Patch::from_value(nested).map_err(|e| e.to_string())?;
        let mut section = Section::new(SectionKind::Desired, Timestamp::MIN);
        section
            .apply(&patch, limits, Timestamp::MIN)
            .map_err(|e| format!("properties.desired: {e}"))?;
    }
    Ok(content)
}

/// The custom metric queries: at most [`MAX_METRICS`], each a valid query.
fn metrics(queries: Option<&BTreeMap<String, String>>) -> Result<Vec<Metric>, HubError> {
    let Some(queries) = queries else {
        return Ok(Vec::new());
    };
    if queries.len() > MAX_METRICS {
        return Err(HubError::InvalidMetricQuery {
            metric: String::new(),
            reason: format!(
                "a configuration has at most {MAX_METRICS} custom metrics, found {}",
                queries.len()
            ),
        });
    }
    queries
        .iter()
        .map(|(name, text)| {
            Metric::parse(name, text).map_err(|e| HubError::InvalidMetricQuery {
                metric: name.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// The system metric queries, in the text IoT Hub generates (PROTOCOL 10.2).
fn system_queries(id: &ConfigurationId, condition: &Condition) -> Result<Vec<Metric>, HubError> {
    let collection = condition.collection();
    let applied = format!(
        "select deviceId from {collection} where configurations.[[{id}]].status = 'Applied'"
    );
    let targeted = match condition.filter() {
        Some(filter) => format!("select deviceId from {collection} where {filter}"),
        None => format!("select deviceId from {collection}"),
    };
    [(APPLIED_COUNT, applied), (TARGETED_COUNT, targeted)]
        .into_iter()
        .map(|(name, text)| {
            Metric::parse(name, &text).map_err(|e| HubError::InvalidTargetCondition {
                reason: format!("its targetedCount query does not parse: {e}"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: Value) -> Result<Compiled, HubError> {
        let config: Configuration = serde_json::from_value(value).unwrap();
        Compiled::check(&config, Timestamp::MIN, &Limits::default())
    }

    #[test]
    fn a_firmware_configuration_compiles_with_its_system_queries() {
        let compiled = check(json!({
            "id": "firmware285", "priority": 20, "targetCondition": "tags.devicetype = 'chiller'",
            "content": {"deviceContent": {"properties.desired.firmware": {"fwVersion": "2.8.5"}}},
            "metrics": {"queries": {"current": "SELECT deviceId FROM devices WHERE configurations.[[firmware285]].status='Applied'"}},
        }))
        .unwrap();
        assert_eq!(compiled.priority, 20);
        assert_eq!(compiled.content.entries().len(), 1);
        assert_eq!(compiled.metrics[0].name, "current");
        // The generated queries run: the applied count reads the twin's configurations.
        let twin = json!({"deviceId": "d1", "tags": {"devicetype": "chiller"},
                          "configurations": {"firmware285": {"status": "Applied"}}});
        for metric in &compiled.system {
            assert_eq!(metric.query.evaluate([&twin]).count(), 1, "{}", metric.text);
        }
        let texts = compiled.system_texts();
        assert_eq!(
            texts[APPLIED_COUNT],
            "select deviceId from devices where configurations.[[firmware285]].status = 'Applied'"
        );
        assert_eq!(
            texts[TARGETED_COUNT],
            "select deviceId from devices where tags.devicetype = 'chiller'"
        );
        let all = check(json!({"id": "all", "targetCondition": "*"})).unwrap();
        assert_eq!(
            all.system_texts()[TARGETED_COUNT],
            "select deviceId from devices"
        );
        assert_eq!(all.priority, 0);
    }

    #[test]
    fn each_rule_has_its_error() {
        let content = |c: Value| json!({"id": "c", "targetCondition": "*", "content": c});
        let cases = [
            (
                json!({"id": "Upper", "targetCondition": "*"}),
                "ArgumentInvalid",
            ),
            (
                json!({"id": "c", "targetCondition": "*", "priority": -1}),
                "ArgumentInvalid",
            ),
            (json!({"id": "c"}), "InvalidConfigurationTargetCondition"),
            (
                json!({"id": "c", "targetCondition": "tags.a ="}),
                "InvalidConfigurationTargetCondition",
            ),
            (
                content(json!({"deviceContent": {"tags.a": 1}})),
                "InvalidConfigurationContent",
            ),
            (
                content(json!({"deviceContent": {"properties.desired.a b": 1}})),
                "InvalidConfigurationContent",
            ),
            (
                content(json!({"deviceContent": {"properties.desired.a": "x".repeat(5000)}})),
                "InvalidConfigurationContent",
            ),
            (
                content(json!({"moduleContent": {"properties.desired.a": 1}})),
                "InvalidConfigurationContent",
            ),
            (
                content(json!({"modulesContent": {"$edgeAgent": {"properties.reported": {}}}})),
                "InvalidConfigurationContent",
            ),
            (
                json!({"id": "c", "targetCondition": "*", "metrics": {"queries": {"m": "SELECT"}}}),
                "InvalidConfigurationCustomMetricsQuery",
            ),
            (
                json!({"id": "c", "targetCondition": "*", "metrics": {"queries": {
                "a": "SELECT * FROM devices", "b": "SELECT * FROM devices", "c": "SELECT * FROM devices",
                "d": "SELECT * FROM devices", "e": "SELECT * FROM devices", "f": "SELECT * FROM devices"}}}),
                "InvalidConfigurationCustomMetricsQuery",
            ),
        ];
        for (body, code) in cases {
            let error = check(body.clone()).expect_err("refused");
            assert_eq!(error.code().unwrap().name(), code, "{body}: {error}");
        }
        let modules = check(
            json!({"id": "m", "targetCondition": "FROM devices.modules WHERE moduleId = 'x'",
            "content": {"moduleContent": {"properties.desired.x": 1}}}),
        )
        .unwrap();
        assert!(modules.content.is_empty());
    }
}
