//! [`Patch`]: a validated JSON merge patch (RFC 7386) for a twin section.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::TwinError;
use crate::error::expect_object;
use crate::path::Path;
use crate::rules::{Nulls, check_document};

/// A JSON merge patch (RFC 7386) for a twin section: a JSON object whose members are added or
/// replaced, merged recursively when both sides are objects, and deleted when `null`.
///
/// Building one checks the rules that hold whatever the [`crate::Limits`]: the patch is an
/// object; no key anywhere contains a control character, `.`, `$` or a space; no array (or
/// object inside an array) holds `null`; nesting stays within 128 levels. Sizes, depth and value
/// ranges are checked against the limits when the patch is applied to a [`crate::Section`].
/// Error paths are relative to the patch (`a.b`).
///
/// The same type carries whole section contents (a `PUT` body, a desired-properties
/// notification): content is what a patch produces on an empty section.
///
/// ```
/// use iot_twin::Patch;
///
/// let patch = Patch::from_slice(br#"{"fan": {"speed": 3}, "old": null}"#).unwrap();
/// assert_eq!(patch.len(), 2);
/// assert!(Patch::from_slice(b"[1, 2]").is_err());
/// assert!(Patch::from_slice(br#"{"$version": 4}"#).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patch {
    map: Map<String, Value>,
}

impl Patch {
    /// The empty patch, which changes nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses and validates a patch from JSON text.
    pub fn from_slice(json: &[u8]) -> Result<Self, TwinError> {
        let value: Value = serde_json::from_slice(json).map_err(|e| TwinError::json(&e))?;
        Self::from_value(value)
    }

    /// Validates a JSON value as a patch.
    pub fn from_value(value: Value) -> Result<Self, TwinError> {
        Self::from_map(expect_object(value, &Path::Root)?)
    }

    /// Validates a JSON object as a patch.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, TwinError> {
        check_document(&map, &Path::Root, 0, Nulls::Delete)?;
        Ok(Self { map })
    }

    /// Wraps a map the crate built from validated parts.
    pub(crate) fn from_trusted(map: Map<String, Value>) -> Self {
        Self { map }
    }

    /// The patch's members.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// The patch's members, by value.
    pub fn into_map(self) -> Map<String, Value> {
        self.map
    }

    /// The patch as a JSON object.
    pub fn into_value(self) -> Value {
        Value::Object(self.map)
    }

    /// Whether the patch has no members (applying it changes no content).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The number of top-level members.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

impl TryFrom<Value> for Patch {
    type Error = TwinError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_value(value)
    }
}

impl From<Patch> for Value {
    fn from(patch: Patch) -> Self {
        patch.into_value()
    }
}

impl Serialize for Patch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Patch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = Map::deserialize(deserializer)?;
        Self::from_map(map).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyRule;
    use serde_json::json;

    #[test]
    fn accepts_objects_with_valid_keys() {
        let patch = Patch::from_value(json!({"a": {"b": null, "c": [1, {"d": true}]}})).unwrap();
        assert_eq!(patch.len(), 1);
        assert!(!patch.is_empty());
        assert!(Patch::new().is_empty());
        assert_eq!(
            patch.clone().into_value(),
            json!({"a": {"b": null, "c": [1, {"d": true}]}})
        );
        assert_eq!(Value::from(patch.clone()), patch.into_value());
    }

    #[test]
    fn rejects_non_objects_and_bad_json_clearly() {
        assert_eq!(
            Patch::from_value(json!("text")),
            Err(TwinError::WrongType {
                path: String::new(),
                expected: "an object",
                found: "a string"
            })
        );
        assert!(matches!(
            Patch::from_slice(b"{\"a\": }"),
            Err(TwinError::InvalidJson { reason }) if reason.contains("line 1")
        ));
        assert!(matches!(
            Patch::from_slice(b"null"),
            Err(TwinError::WrongType { .. })
        ));
        assert!(matches!(
            Patch::from_slice(b""),
            Err(TwinError::InvalidJson { .. })
        ));
    }

    #[test]
    fn rejects_reserved_and_invalid_keys() {
        assert_eq!(
            Patch::from_value(json!({"ok": {"$metadata": 1}})),
            Err(TwinError::InvalidKey {
                path: "ok[\"$metadata\"]".into(),
                rule: KeyRule::Dollar
            })
        );
        assert!(Patch::from_value(json!({"a b": 1})).is_err());
        assert!(Patch::from_value(json!({"a": [null]})).is_err());
    }

    #[test]
    fn serde_validates() {
        let patch: Patch = serde_json::from_str(r#"{"a": 1, "b": null}"#).unwrap();
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!({"a": 1, "b": null})
        );
        assert!(serde_json::from_str::<Patch>(r#"{"a.b": 1}"#).is_err());
        assert!(serde_json::from_str::<Patch>("[]").is_err());
        assert_eq!(Patch::try_from(json!({})), Ok(Patch::new()));
    }
}
