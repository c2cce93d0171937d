//! [`Metadata`]: the `$metadata` tree of a desired or reported section.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::path::Path;
use crate::{Timestamp, TwinError, TwinVersion};

mod children;

use children::Children;

/// Wire name of the timestamp member.
const LAST_UPDATED: &str = "$lastUpdated";
/// Wire name of the version member (desired properties only).
const LAST_UPDATED_VERSION: &str = "$lastUpdatedVersion";

/// When a node was last written: the time, and for desired properties the section's
/// `$version` after that write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) at: Timestamp,
    pub(crate) version: Option<TwinVersion>,
}

/// One node of a `$metadata` tree.
///
/// The tree mirrors the section's content: the section itself and every object and leaf in it
/// has a node, an object's node has one child per member, and arrays are leaves (IoT Hub does
/// not document metadata inside arrays). Each node records `$lastUpdated`, and in desired
/// properties `$lastUpdatedVersion`, of the last write that touched it: one that set it, or
/// merged into it, or changed anything below it. Deleted members lose their node.
///
/// Serializes as on the wire:
/// `{"$lastUpdated":"...","$lastUpdatedVersion":4,"member":{"$lastUpdated":"..."}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    last_updated: Timestamp,
    last_updated_version: Option<TwinVersion>,
    children: Children,
}

impl Metadata {
    /// When the node was last written.
    pub fn last_updated(&self) -> Timestamp {
        self.last_updated
    }

    /// The desired `$version` of the last write to the node (`None` in reported properties).
    pub fn last_updated_version(&self) -> Option<TwinVersion> {
        self.last_updated_version
    }

    /// The node of member `key`, if this node is an object's and has that member.
    pub fn get(&self, key: &str) -> Option<&Self> {
        self.children.get(key)
    }

    /// The nodes of the object's members, by key.
    pub fn children(&self) -> impl Iterator<Item = (&str, &Self)> {
        self.children.iter()
    }

    /// The node as a JSON value, as it appears under `$metadata`.
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        out.insert(
            LAST_UPDATED.into(),
            Value::String(self.last_updated.to_string()),
        );
        if let Some(version) = self.last_updated_version {
            out.insert(LAST_UPDATED_VERSION.into(), Value::from(version.get()));
        }
        for (key, child) in self.children.iter() {
            out.insert(key.to_owned(), child.to_value());
        }
        Value::Object(out)
    }

    /// A node without children, stamped.
    pub(crate) fn leaf(stamp: Stamp) -> Self {
        Self {
            last_updated: stamp.at,
            last_updated_version: stamp.version,
            children: Children::default(),
        }
    }

    /// The tree for a freshly written object, every node stamped.
    pub(crate) fn for_members(map: &Map<String, Value>, stamp: Stamp) -> Self {
        let mut node = Self::leaf(stamp);
        for (key, value) in map {
            node.children
                .insert(key.clone(), Self::for_value(value, stamp));
        }
        node
    }

    fn for_value(value: &Value, stamp: Stamp) -> Self {
        match value {
            Value::Object(map) => Self::for_members(map, stamp),
            _ => Self::leaf(stamp),
        }
    }

    /// Records a write to this node.
    pub(crate) fn touch(&mut self, stamp: Stamp) {
        self.last_updated = stamp.at;
        self.last_updated_version = stamp.version;
    }

    /// The child `key`, for a write that merges into it.
    pub(crate) fn child_mut(&mut self, key: &str) -> Option<&mut Self> {
        self.children.get_mut(key)
    }

    /// Makes the child `key` a leaf stamped `stamp`, reusing the existing node when there is
    /// one.
    pub(crate) fn set_leaf(&mut self, key: &str, stamp: Stamp) {
        self.children.upsert(
            key,
            || Self::leaf(stamp),
            |existing| {
                existing.touch(stamp);
                if !existing.children.is_empty() {
                    existing.children.clear();
                }
            },
        );
    }

    /// Sets the child `key`, reusing its key allocation when it exists.
    pub(crate) fn set_child(&mut self, key: &str, node: Self) {
        self.children.set(key, node);
    }

    /// Inserts the child `key`.
    pub(crate) fn insert_child(&mut self, key: String, node: Self) {
        self.children.insert(key, node);
    }

    /// Removes the child `key`.
    pub(crate) fn remove_child(&mut self, key: &str) {
        self.children.remove(key);
    }

    /// Parses the node of an object with members `content` from its wire form, checking that
    /// every member has a node. Other `$`-prefixed members are ignored, as are members that
    /// the content does not have and the contents of leaf nodes beyond the stamp.
    pub(crate) fn parse(
        value: &Value,
        content: &Map<String, Value>,
        path: &Path<'_>,
    ) -> Result<Self, TwinError> {
        let node = as_node(value, path)?;
        let mut parsed = parse_stamp(node, path)?;
        for (key, member) in content {
            let child_path = path.key(key);
            let child = node.get(key).ok_or_else(|| TwinError::InvalidMetadata {
                path: child_path.render(),
                reason: "a member of the section has no metadata",
            })?;
            let child = match member {
                Value::Object(inner) => Self::parse(child, inner, &child_path)?,
                _ => parse_stamp(as_node(child, &child_path)?, &child_path)?,
            };
            parsed.children.insert(key.clone(), child);
        }
        Ok(parsed)
    }
}

fn as_node<'v>(value: &'v Value, path: &Path<'_>) -> Result<&'v Map<String, Value>, TwinError> {
    value.as_object().ok_or_else(|| TwinError::InvalidMetadata {
        path: path.render(),
        reason: "a metadata node must be an object",
    })
}

/// Reads `$lastUpdated` (required) and `$lastUpdatedVersion` (optional) of a node.
fn parse_stamp(node: &Map<String, Value>, path: &Path<'_>) -> Result<Metadata, TwinError> {
    let invalid = |reason| TwinError::InvalidMetadata {
        path: path.render(),
        reason,
    };
    let last_updated = node
        .get(LAST_UPDATED)
        .ok_or_else(|| invalid("$lastUpdated is missing"))?
        .as_str()
        .and_then(|text| text.parse::<Timestamp>().ok())
        .ok_or_else(|| invalid("$lastUpdated is not a timestamp"))?;
    let last_updated_version = match node.get(LAST_UPDATED_VERSION) {
        None => None,
        Some(value) => Some(
            value
                .as_u64()
                .and_then(TwinVersion::new)
                .ok_or_else(|| invalid("$lastUpdatedVersion is not a version"))?,
        ),
    };
    Ok(Metadata {
        last_updated,
        last_updated_version,
        children: Children::default(),
    })
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(LAST_UPDATED, &self.last_updated)?;
        if let Some(version) = self.last_updated_version {
            map.serialize_entry(LAST_UPDATED_VERSION, &version)?;
        }
        for (key, child) in self.children.iter() {
            map.serialize_entry(key, child)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn stamp(version: Option<u64>) -> Stamp {
        Stamp {
            at: at("2021-09-06T08:52:44.9300429Z"),
            version: version.and_then(TwinVersion::new),
        }
    }

    #[test]
    fn mirrors_the_content() {
        let content = json!({"a": {"b": 1, "c": {}}, "d": [1, {"e": 2}]});
        let tree = Metadata::for_members(content.as_object().unwrap(), stamp(Some(4)));
        let t = "2021-09-06T08:52:44.9300429Z";
        let node = json!({"$lastUpdated": t, "$lastUpdatedVersion": 4});
        let expected = json!({
            "$lastUpdated": t, "$lastUpdatedVersion": 4,
            "a": {"$lastUpdated": t, "$lastUpdatedVersion": 4, "b": node, "c": node},
            "d": node,
        });
        assert_eq!(tree.to_value(), expected);
        assert_eq!(serde_json::to_value(&tree).unwrap(), expected);
        assert_eq!(
            tree.get("a")
                .and_then(|a| a.get("b"))
                .map(Metadata::last_updated_version),
            Some(TwinVersion::new(4))
        );
        assert_eq!(
            tree.children().map(|(k, _)| k).collect::<Vec<_>>(),
            ["a", "d"]
        );
    }

    #[test]
    fn parse_round_trips_and_checks_shape() {
        let content = json!({"a": {"b": 1}, "d": [1]});
        let content = content.as_object().unwrap();
        let tree = Metadata::for_members(content, stamp(None));
        let parsed = Metadata::parse(&tree.to_value(), content, &Path::Root).unwrap();
        assert_eq!(parsed, tree);

        let mut missing = tree.to_value();
        missing["a"].as_object_mut().unwrap().remove("b");
        assert_eq!(
            Metadata::parse(&missing, content, &Path::Root),
            Err(TwinError::InvalidMetadata {
                path: "a.b".into(),
                reason: "a member of the section has no metadata"
            })
        );
        let mut bad_time = tree.to_value();
        bad_time["d"]["$lastUpdated"] = json!("yesterday");
        assert!(matches!(
            Metadata::parse(&bad_time, content, &Path::Root),
            Err(TwinError::InvalidMetadata { path, .. }) if path == "d"
        ));
        let mut bad_version = tree.to_value();
        bad_version["$lastUpdatedVersion"] = json!(0);
        assert!(Metadata::parse(&bad_version, content, &Path::Root).is_err());
        assert!(Metadata::parse(&json!([]), content, &Path::Root).is_err());
    }

    #[test]
    fn parse_tolerates_what_it_does_not_model() {
        let content = json!({"arr": [1, 2]});
        let content = content.as_object().unwrap();
        let t = "2021-09-06T08:52:44.9300429Z";
        let wire = json!({
            "$lastUpdated": t, "$lastUpdatedBy": "config-1",
            "arr": {"$lastUpdated": t, "0": {"$lastUpdated": t}},
            "stale": {"$lastUpdated": t},
        });
        let parsed = Metadata::parse(&wire, content, &Path::Root).unwrap();
        assert_eq!(parsed, Metadata::for_members(content, stamp(None)));
    }
}
