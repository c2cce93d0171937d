//! The JSON forms of a section: REST (with `$metadata` and `$version`) and MQTT twin `GET`
//! (with `$version` only).

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::{Section, SectionKind, Tracking};
use crate::error::expect_object;
use crate::path::Path;
use crate::rules::{Nulls, check_document, members_size};
use crate::version::{VERSION_KEY, take_version};
use crate::{Metadata, TwinError, TwinVersion};

/// Wire name of the metadata member.
const METADATA_KEY: &str = "$metadata";

impl Section {
    /// The REST form: the content, then `$metadata` and `$version` for desired and reported;
    /// the bare content for tags. Same as serializing the section.
    pub fn to_rest_value(&self) -> Value {
        let mut out = self.content.clone();
        if let Some(tracking) = &self.tracking {
            out.insert(METADATA_KEY.into(), tracking.metadata.to_value());
            out.insert(VERSION_KEY.into(), Value::from(tracking.version.get()));
        }
        Value::Object(out)
    }

    /// The form in an MQTT twin `GET` response: the content and `$version`, no `$metadata`
    /// (the bare content for tags, which devices never see).
    pub fn to_get_value(&self) -> Value {
        let mut out = self.content.clone();
        if let Some(version) = self.version() {
            out.insert(VERSION_KEY.into(), Value::from(version.get()));
        }
        Value::Object(out)
    }

    /// Parses the REST form of a section of the given kind.
    ///
    /// For desired and reported, `$version` and `$metadata` are required and `$metadata` must
    /// have a node for every member (see [`Metadata`]). For tags, both are ignored if present.
    /// Other top-level `$` members are reserved for the hub and dropped. The content must
    /// follow the key rules and hold no `null`; limits are not checked, so a section stored
    /// under other limits still loads. Error paths are relative to the section.
    pub fn from_rest(kind: SectionKind, value: Value) -> Result<Self, TwinError> {
        let mut content = expect_object(value, &Path::Root)?;
        let metadata = content.remove(METADATA_KEY);
        let version = take_version(&mut content, &Path::Root);
        content.retain(|key, _| !key.starts_with('$'));
        check_document(&content, &Path::Root, 0, Nulls::Reject)?;
        let tracking = if kind.is_versioned() {
            Some(parse_tracking(&content, version?, metadata)?)
        } else {
            None
        };
        Ok(Self {
            kind,
            size: members_size(&content),
            content,
            tracking,
        })
    }
}

fn parse_tracking(
    content: &Map<String, Value>,
    version: TwinVersion,
    metadata: Option<Value>,
) -> Result<Tracking, TwinError> {
    let root = Path::Root;
    let path = root.key(METADATA_KEY);
    let metadata = metadata.ok_or_else(|| TwinError::MissingMember {
        path: path.render(),
    })?;
    Ok(Tracking {
        version,
        metadata: Metadata::parse(&metadata, content, &path)?,
    })
}

impl Serialize for Section {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in &self.content {
            map.serialize_entry(key, value)?;
        }
        if let Some(tracking) = &self.tracking {
            map.serialize_entry(METADATA_KEY, &tracking.metadata)?;
            map.serialize_entry(VERSION_KEY, &tracking.version)?;
        }
        map.end()
    }
}
