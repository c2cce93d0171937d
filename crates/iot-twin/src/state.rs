//! [`TwinState`]: the body of a `200` answer to `$iothub/twin/GET/?$rid=R`.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::expect_object;
use crate::path::Path;
use crate::rules::{Nulls, check_document};
use crate::version::{VERSION_KEY, take_version};
use crate::{Section, TwinError, TwinVersion};

/// The desired or reported properties a device sees: content and `$version`, no metadata.
///
/// The content follows the key rules and holds no `null` members, as section content does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertiesState {
    content: Map<String, Value>,
    version: TwinVersion,
}

impl PropertiesState {
    /// Properties with the given content and `$version`; fails if the content breaks the key
    /// rules or holds `null`.
    pub fn new(content: Map<String, Value>, version: TwinVersion) -> Result<Self, TwinError> {
        check_document(&content, &Path::Root, 0, Nulls::Reject)?;
        Ok(Self { content, version })
    }

    /// The state of a section (for tags, which have no version, version 1).
    pub fn of(section: &Section) -> Self {
        Self {
            content: section.content().clone(),
            version: section.version().unwrap_or(TwinVersion::INITIAL),
        }
    }

    /// The properties, without `$version`.
    pub fn content(&self) -> &Map<String, Value> {
        &self.content
    }

    /// The `$version`.
    pub fn version(&self) -> TwinVersion {
        self.version
    }

    /// The content and the version.
    pub fn into_parts(self) -> (Map<String, Value>, TwinVersion) {
        (self.content, self.version)
    }

    fn parse(value: Value, path: &Path<'_>) -> Result<Self, TwinError> {
        let mut content = expect_object(value, path)?;
        let version = take_version(&mut content, path)?;
        content.retain(|key, _| !key.starts_with('$'));
        check_document(&content, path, 0, Nulls::Reject)?;
        Ok(Self { content, version })
    }

    fn to_value(&self) -> Value {
        let mut map = self.content.clone();
        map.insert(VERSION_KEY.into(), Value::from(self.version.get()));
        Value::Object(map)
    }
}

impl Serialize for PropertiesState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in &self.content {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry(VERSION_KEY, &self.version)?;
        map.end()
    }
}

/// What a device gets from a twin `GET`:
/// `{"desired":{...,"$version":N},"reported":{...,"$version":M}}`.
///
/// Only the two property sections, without a `properties` wrapper, without `$metadata`, and
/// without tags, as IoT Hub sends it. The hub builds it with [`crate::Twin::state`]; a device
/// parses it with [`TwinState::from_slice`].
///
/// ```
/// use iot_twin::TwinState;
///
/// let state = TwinState::from_slice(
///     br#"{"desired":{"device_count":20,"$version":3},"reported":{"device_count":0,"$version":5}}"#,
/// ).unwrap();
/// assert_eq!(state.desired().version().get(), 3);
/// assert_eq!(state.reported().content()["device_count"], 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwinState {
    desired: PropertiesState,
    reported: PropertiesState,
}

impl TwinState {
    /// A state from its two sections.
    pub fn new(desired: PropertiesState, reported: PropertiesState) -> Self {
        Self { desired, reported }
    }

    /// Desired properties and their `$version`.
    pub fn desired(&self) -> &PropertiesState {
        &self.desired
    }

    /// Reported properties and their `$version`.
    pub fn reported(&self) -> &PropertiesState {
        &self.reported
    }

    /// Desired and reported.
    pub fn into_parts(self) -> (PropertiesState, PropertiesState) {
        (self.desired, self.reported)
    }

    /// Parses a `GET` response body. Both sections and their `$version` are required; other
    /// `$` members of a section (such as a `$metadata` a hub might add) are dropped, and other
    /// top-level members are ignored.
    pub fn from_slice(json: &[u8]) -> Result<Self, TwinError> {
        let value: Value = serde_json::from_slice(json).map_err(|e| TwinError::json(&e))?;
        Self::from_value(value)
    }

    /// Parses a `GET` response from a JSON value.
    pub fn from_value(value: Value) -> Result<Self, TwinError> {
        let mut map = expect_object(value, &Path::Root)?;
        let root = Path::Root;
        let mut section = |name: &'static str| {
            let path = root.key(name);
            let value = map.remove(name).ok_or_else(|| TwinError::MissingMember {
                path: path.render(),
            })?;
            PropertiesState::parse(value, &path)
        };
        Ok(Self {
            desired: section("desired")?,
            reported: section("reported")?,
        })
    }

    /// The body as a JSON value.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("desired".into(), self.desired.to_value());
        map.insert("reported".into(), self.reported.to_value());
        Value::Object(map)
    }
}

impl Serialize for TwinState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("desired", &self.desired)?;
        map.serialize_entry("reported", &self.reported)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for TwinState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_twin_shape() {
        let state =
            TwinState::from_value(json!({"desired": {"$version": 1}, "reported": {"$version": 1}}))
                .unwrap();
        assert!(state.desired().content().is_empty());
        assert_eq!(state.reported().version(), TwinVersion::INITIAL);
        assert_eq!(
            state.to_value(),
            json!({"desired": {"$version": 1}, "reported": {"$version": 1}})
        );
        assert_eq!(serde_json::to_value(&state).unwrap(), state.to_value());
    }

    #[test]
    fn errors_name_the_section() {
        assert_eq!(
            TwinState::from_value(json!({"desired": {"$version": 1}})),
            Err(TwinError::MissingMember {
                path: "reported".into()
            })
        );
        assert_eq!(
            TwinState::from_value(json!({"desired": {"a": 1}, "reported": {"$version": 1}})),
            Err(TwinError::MissingMember {
                path: "desired[\"$version\"]".into()
            })
        );
        assert!(matches!(
            TwinState::from_value(json!({"desired": {"$version": 1}, "reported": {"$version": 1, "a": null}})),
            Err(TwinError::WrongType { path, .. }) if path == "reported.a"
        ));
        assert!(matches!(
            TwinState::from_value(json!({"desired": [], "reported": {"$version": 1}})),
            Err(TwinError::WrongType { path, .. }) if path == "desired"
        ));
        assert!(TwinState::from_slice(b"\"x\"").is_err());
    }

    #[test]
    fn tolerates_metadata_and_extra_members() {
        let state = TwinState::from_value(json!({
            "desired": {"a": 1, "$version": 2, "$metadata": {"$lastUpdated": "2021-09-06T08:49:54.8803577Z"}},
            "reported": {"$version": 3},
            "tags": {"ignored": true},
        }))
        .unwrap();
        assert_eq!(
            state.to_value(),
            json!({"desired": {"a": 1, "$version": 2}, "reported": {"$version": 3}})
        );
        let back: TwinState = serde_json::from_value(state.to_value()).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn properties_state_validates_content() {
        let bad = json!({"a": null}).as_object().unwrap().clone();
        assert!(PropertiesState::new(bad, TwinVersion::INITIAL).is_err());
        let good = json!({"a": 1}).as_object().unwrap().clone();
        let state = PropertiesState::new(good.clone(), TwinVersion::INITIAL).unwrap();
        assert_eq!(state.into_parts(), (good, TwinVersion::INITIAL));
    }
}
