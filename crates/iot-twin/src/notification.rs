//! [`DesiredNotification`]: the body of `$iothub/twin/PATCH/properties/desired/?$version=N`.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::expect_object;
use crate::path::Path;
use crate::version::{VERSION_KEY, take_version};
use crate::{Patch, TwinError, TwinVersion};

/// A desired-properties change as sent to a device: the patch the back end applied, with
/// `null` for removed members, plus the new desired `$version`.
///
/// On the wire it is one JSON object, the patch's members and `"$version": N`
/// (`{"device_count":100,"$version":4}`); the hub also puts `N` in the topic. Some device SDKs
/// read the version from the body, others from the topic, so the hub sends both.
///
/// ```
/// use iot_twin::{DesiredNotification, Patch, TwinVersion};
/// use serde_json::json;
///
/// let patch = Patch::from_value(json!({"device_count": 100})).unwrap();
/// let note = DesiredNotification::new(patch, TwinVersion::new(4).unwrap());
/// let body = serde_json::to_vec(&note).unwrap();
/// assert_eq!(body, br#"{"device_count":100,"$version":4}"#);
/// assert_eq!(DesiredNotification::from_slice(&body).unwrap(), note);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredNotification {
    patch: Patch,
    version: TwinVersion,
}

impl DesiredNotification {
    /// A notification of `patch` bringing desired properties to `version`.
    pub fn new(patch: Patch, version: TwinVersion) -> Self {
        Self { patch, version }
    }

    /// The change to merge into the device's copy of desired properties.
    pub fn patch(&self) -> &Patch {
        &self.patch
    }

    /// The desired `$version` after the change.
    pub fn version(&self) -> TwinVersion {
        self.version
    }

    /// The patch and the version.
    pub fn into_parts(self) -> (Patch, TwinVersion) {
        (self.patch, self.version)
    }

    /// Parses a notification body. `$version` is required; other top-level `$` members are
    /// reserved and dropped.
    pub fn from_slice(json: &[u8]) -> Result<Self, TwinError> {
        let value: Value = serde_json::from_slice(json).map_err(|e| TwinError::json(&e))?;
        Self::from_value(value)
    }

    /// Parses a notification from a JSON value.
    pub fn from_value(value: Value) -> Result<Self, TwinError> {
        let mut map = expect_object(value, &Path::Root)?;
        let version = take_version(&mut map, &Path::Root)?;
        map.retain(|key, _| !key.starts_with('$'));
        Ok(Self {
            patch: Patch::from_map(map)?,
            version,
        })
    }

    /// The body as a JSON value.
    pub fn to_value(&self) -> Value {
        let mut map: Map<String, Value> = self.patch.as_map().clone();
        map.insert(VERSION_KEY.into(), Value::from(self.version.get()));
        Value::Object(map)
    }
}

impl Serialize for DesiredNotification {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.patch.as_map() {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry(VERSION_KEY, &self.version)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for DesiredNotification {
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
    fn parses_the_hub_sample() {
        let note =
            DesiredNotification::from_slice(br#"{"device_count":100,"$version":4}"#).unwrap();
        assert_eq!(note.version().get(), 4);
        assert_eq!(
            note.patch().as_map(),
            json!({"device_count": 100}).as_object().unwrap()
        );
        assert_eq!(note.to_value(), json!({"device_count": 100, "$version": 4}));
        let cleared = DesiredNotification::from_value(json!({"a": null, "$version": 9})).unwrap();
        assert_eq!(cleared.into_parts().0.into_value(), json!({"a": null}));
    }

    #[test]
    fn requires_a_version_and_a_valid_patch() {
        assert_eq!(
            DesiredNotification::from_value(json!({"a": 1})),
            Err(TwinError::MissingMember {
                path: "[\"$version\"]".into()
            })
        );
        assert_eq!(
            DesiredNotification::from_value(json!({"$version": "4"})),
            Err(TwinError::InvalidVersion {
                path: "[\"$version\"]".into()
            })
        );
        assert!(matches!(
            DesiredNotification::from_value(json!({"$version": 2, "a b": 1})),
            Err(TwinError::InvalidKey { .. })
        ));
        assert!(DesiredNotification::from_slice(b"[]").is_err());
        assert!(DesiredNotification::from_slice(b"{").is_err());
        let with_reserved = json!({"$version": 2, "$metadata": {}, "a": 1});
        assert_eq!(
            DesiredNotification::from_value(with_reserved)
                .unwrap()
                .patch()
                .len(),
            1
        );
    }

    #[test]
    fn serde_agrees_with_to_value() {
        let note =
            DesiredNotification::from_value(json!({"x": {"y": [1]}, "$version": 3})).unwrap();
        assert_eq!(serde_json::to_value(&note).unwrap(), note.to_value());
        let back: DesiredNotification = serde_json::from_value(note.to_value()).unwrap();
        assert_eq!(back, note);
    }
}
