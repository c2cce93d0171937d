//! [`ServiceWrite`]: the body of a service `PATCH` or `PUT` on `/twins/{id}`.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::{expect_object, type_name};
use crate::path::Path;
use crate::{Patch, TwinError};

/// What a service write body says about one section (`tags` or `properties.desired`).
///
/// The meaning depends on the method: with `PATCH`, [`SectionField::Object`] merges into the
/// section and [`SectionField::Absent`] leaves it alone; with `PUT`, [`SectionField::Object`]
/// replaces the section and [`SectionField::Absent`] empties it. [`SectionField::Null`] empties
/// the section with either method.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SectionField {
    /// The body does not mention the section.
    #[default]
    Absent,
    /// The body sets the section to `null`.
    Null,
    /// The body holds an object for the section.
    Object(Patch),
}

impl SectionField {
    fn parse(value: Option<Value>, path: &str) -> Result<Self, TwinError> {
        match value {
            None => Ok(Self::Absent),
            Some(Value::Null) => Ok(Self::Null),
            Some(Value::Object(map)) => Patch::from_map(map)
                .map(Self::Object)
                .map_err(|e| e.within(path)),
            Some(other) => Err(TwinError::WrongType {
                path: path.to_owned(),
                expected: "an object or null",
                found: type_name(&other),
            }),
        }
    }

    fn to_value(&self) -> Option<Value> {
        match self {
            Self::Absent => None,
            Self::Null => Some(Value::Null),
            Self::Object(patch) => Some(Value::Object(patch.as_map().clone())),
        }
    }
}

/// The body of a service write on a twin:
/// `{"tags":{...},"properties":{"desired":{...}}}`.
///
/// Parsing ignores every other member (`deviceId`, `etag`, ...), accepts
/// `"properties":{"reported":{}}`, and rejects any other value of `properties.reported`, which
/// only the device may write. Serializing produces the body a service client sends.
///
/// ```
/// use iot_twin::{Patch, SectionField, ServiceWrite};
/// use serde_json::json;
///
/// let body = br#"{"deviceId":"d1","tags":null,"properties":{"desired":{"fan":1},"reported":{}}}"#;
/// let write = ServiceWrite::from_slice(body).unwrap();
/// assert_eq!(write.tags(), &SectionField::Null);
/// assert!(matches!(write.desired(), SectionField::Object(p) if p.len() == 1));
///
/// let built = ServiceWrite::new().with_desired(SectionField::Object(Patch::new()));
/// assert_eq!(serde_json::to_value(&built).unwrap(), json!({"properties": {"desired": {}}}));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceWrite {
    tags: SectionField,
    desired: SectionField,
}

impl ServiceWrite {
    /// A body that mentions neither section.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same body with `tags` set to `field`.
    pub fn with_tags(mut self, field: SectionField) -> Self {
        self.tags = field;
        self
    }

    /// The same body with `properties.desired` set to `field`.
    pub fn with_desired(mut self, field: SectionField) -> Self {
        self.desired = field;
        self
    }

    /// What the body says about `tags`.
    pub fn tags(&self) -> &SectionField {
        &self.tags
    }

    /// What the body says about `properties.desired`.
    pub fn desired(&self) -> &SectionField {
        &self.desired
    }

    /// Parses a request body. Error paths start at the body (`tags.a`,
    /// `properties.desired.a`).
    pub fn from_slice(json: &[u8]) -> Result<Self, TwinError> {
        let value: Value = serde_json::from_slice(json).map_err(|e| TwinError::json(&e))?;
        Self::from_value(value)
    }

    /// Parses a request body from a JSON value.
    pub fn from_value(value: Value) -> Result<Self, TwinError> {
        let mut body = expect_object(value, &Path::Root)?;
        let tags = SectionField::parse(body.remove("tags"), "tags")?;
        let desired = match body.remove("properties") {
            None => SectionField::Absent,
            Some(properties) => {
                let mut properties = expect_object(properties, &Path::Root.key("properties"))?;
                check_reported(properties.remove("reported"))?;
                SectionField::parse(properties.remove("desired"), "properties.desired")?
            }
        };
        Ok(Self { tags, desired })
    }
}

/// Accepts an absent or empty `properties.reported`; anything else is a write to reported
/// properties.
fn check_reported(reported: Option<Value>) -> Result<(), TwinError> {
    match reported {
        None => Ok(()),
        Some(Value::Object(map)) if map.is_empty() => Ok(()),
        Some(_) => Err(TwinError::ReportedWriteByService),
    }
}

impl Serialize for ServiceWrite {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(tags) = self.tags.to_value() {
            map.serialize_entry("tags", &tags)?;
        }
        if let Some(desired) = self.desired.to_value() {
            let mut properties = Map::new();
            properties.insert("desired".into(), desired);
            map.serialize_entry("properties", &properties)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ServiceWrite {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyRule;
    use serde_json::json;

    fn parse(value: Value) -> Result<ServiceWrite, TwinError> {
        ServiceWrite::from_value(value)
    }

    fn p(value: Value) -> Patch {
        Patch::from_value(value).unwrap()
    }

    #[test]
    fn reads_both_sections_and_ignores_the_rest() {
        let write = parse(json!({
            "deviceId": "d1", "etag": "AAAAAAAAAAE=", "version": 3,
            "tags": {"site": "north"},
            "properties": {"desired": {"fan": null}},
        }))
        .unwrap();
        assert_eq!(
            write.tags(),
            &SectionField::Object(p(json!({"site": "north"})))
        );
        assert_eq!(
            write.desired(),
            &SectionField::Object(p(json!({"fan": null})))
        );
        assert_eq!(parse(json!({})).unwrap(), ServiceWrite::new());
        assert_eq!(
            parse(json!({"properties": {}})).unwrap().desired(),
            &SectionField::Absent
        );
    }

    #[test]
    fn null_clears() {
        let write = parse(json!({"tags": null, "properties": {"desired": null}})).unwrap();
        assert_eq!(write.tags(), &SectionField::Null);
        assert_eq!(write.desired(), &SectionField::Null);
    }

    #[test]
    fn reported_is_off_limits_unless_empty() {
        assert!(parse(json!({"properties": {"desired": {}, "reported": {}}})).is_ok());
        for reported in [json!({"a": 1}), json!(null), json!(5)] {
            let error = parse(json!({"properties": {"reported": reported}})).unwrap_err();
            assert_eq!(error, TwinError::ReportedWriteByService);
            assert_eq!(error.class(), crate::ErrorClass::Invalid);
        }
    }

    #[test]
    fn errors_carry_the_body_path() {
        assert_eq!(
            parse(json!({"properties": {"desired": {"a": {"b c": 1}}}})),
            Err(TwinError::InvalidKey {
                path: "properties.desired.a[\"b c\"]".into(),
                rule: KeyRule::Space
            })
        );
        assert!(matches!(
            parse(json!({"tags": [1]})),
            Err(TwinError::WrongType { path, .. }) if path == "tags"
        ));
        assert!(matches!(
            parse(json!({"properties": "x"})),
            Err(TwinError::WrongType { path, .. }) if path == "properties"
        ));
        assert!(
            matches!(parse(json!(1)), Err(TwinError::WrongType { path, .. }) if path.is_empty())
        );
        assert!(matches!(
            ServiceWrite::from_slice(b"{,}"),
            Err(TwinError::InvalidJson { .. })
        ));
    }

    #[test]
    fn serializes_what_it_parses() {
        let writes = [
            ServiceWrite::new(),
            ServiceWrite::new().with_tags(SectionField::Null),
            ServiceWrite::new()
                .with_tags(SectionField::Object(p(json!({"a": 1}))))
                .with_desired(SectionField::Object(p(json!({"b": {"c": null}})))),
            ServiceWrite::new().with_desired(SectionField::Null),
        ];
        for write in writes {
            let value = serde_json::to_value(&write).unwrap();
            assert_eq!(parse(value.clone()).unwrap(), write, "{value}");
            let back: ServiceWrite = serde_json::from_value(value).unwrap();
            assert_eq!(back, write);
        }
    }
}
