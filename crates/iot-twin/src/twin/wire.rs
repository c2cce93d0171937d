//! The REST JSON of a twin.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::Twin;
use crate::error::expect_object;
use crate::path::Path;
use crate::registry::{Configurations, RegistryInfo, take};
use crate::{Etag, Section, SectionKind, TwinError};

/// The twin as serialized: borrowed parts in the order IoT Hub writes them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TwinOut<'a> {
    device_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    module_id: Option<&'a str>,
    etag: &'a Etag,
    #[serde(flatten)]
    registry: &'a RegistryInfo,
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<&'a Section>,
    properties: PropertiesOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    configurations: Option<&'a Configurations>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

#[derive(Serialize)]
struct PropertiesOut<'a> {
    desired: &'a Section,
    reported: &'a Section,
}

impl Serialize for Twin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        TwinOut {
            device_id: &self.device_id,
            module_id: self.module_id.as_deref(),
            etag: &self.etag,
            registry: &self.registry,
            version: self.version,
            tags: (!self.tags.is_empty()).then_some(&self.tags),
            properties: PropertiesOut {
                desired: &self.desired,
                reported: &self.reported,
            },
            configurations: (!self.configurations.is_empty()).then_some(&self.configurations),
            extra: &self.extra,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Twin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = Map::deserialize(deserializer)?;
        Self::from_map(map).map_err(serde::de::Error::custom)
    }
}

impl Twin {
    /// Parses the REST JSON of a twin.
    ///
    /// `deviceId`, `etag` (any text, see [`Etag`]) and `properties` (with `desired` and
    /// `reported`, see [`Section::from_rest`]) are required; `tags` may be absent (empty). A missing `version`
    /// is computed from the etag and reported `$version`; a present one is kept as is. Members
    /// this crate does not model are kept in [`Twin::extra`] and written back out.
    pub fn from_slice(json: &[u8]) -> Result<Self, TwinError> {
        let value: Value = serde_json::from_slice(json).map_err(|e| TwinError::json(&e))?;
        Self::from_value(value)
    }

    /// Parses a twin from a JSON value.
    pub fn from_value(value: Value) -> Result<Self, TwinError> {
        Self::from_map(expect_object(value, &Path::Root)?)
    }

    fn from_map(mut map: Map<String, Value>) -> Result<Self, TwinError> {
        let device_id = take(&mut map, "deviceId")?.ok_or_else(|| missing("deviceId"))?;
        let module_id = take(&mut map, "moduleId")?;
        let etag = take_etag(&mut map)?;
        let version: Option<u64> = take(&mut map, "version")?;
        let tags = match map.remove("tags") {
            None | Some(Value::Null) => {
                Section::from_rest(SectionKind::Tags, Value::Object(Map::new()))
            }
            Some(value) => Section::from_rest(SectionKind::Tags, value),
        }
        .map_err(|e| e.within(SectionKind::Tags.path()))?;
        let (desired, reported) = take_properties(&mut map)?;
        let configurations = take(&mut map, "configurations")?.unwrap_or_default();
        let registry = RegistryInfo::take_from(&mut map)?;
        let mut twin = Self {
            device_id,
            module_id,
            etag,
            version: 0,
            registry,
            tags,
            desired,
            reported,
            configurations,
            extra: map,
        };
        match version {
            Some(version) => twin.version = version,
            None => twin.update_version(),
        }
        Ok(twin)
    }
}

fn missing(field: &str) -> TwinError {
    TwinError::MissingMember {
        path: field.to_owned(),
    }
}

fn take_etag(map: &mut Map<String, Value>) -> Result<Etag, TwinError> {
    let text: String = take(map, "etag")?.ok_or_else(|| missing("etag"))?;
    Ok(Etag::parse(&text))
}

fn take_properties(map: &mut Map<String, Value>) -> Result<(Section, Section), TwinError> {
    let properties = map
        .remove("properties")
        .ok_or_else(|| missing("properties"))?;
    let mut properties = expect_object(properties, &Path::Root.key("properties"))?;
    let mut section = |kind: SectionKind, name: &str| {
        let value = properties
            .remove(name)
            .ok_or_else(|| missing(kind.path()))?;
        Section::from_rest(kind, value).map_err(|e| e.within(kind.path()))
    };
    Ok((
        section(SectionKind::Desired, "desired")?,
        section(SectionKind::Reported, "reported")?,
    ))
}
