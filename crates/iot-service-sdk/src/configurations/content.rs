//! [`ConfigurationContent`]: what a configuration writes into the desired properties of the
//! twins it targets, built path by path and checked by `iot_twin`'s content rules.

use iot_twin::DesiredContent;
use serde_json::{Map, Value};

use crate::ServiceError;

/// Which twins the content is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Twins {
    /// Device twins (`deviceContent`).
    Devices,
    /// Module twins (`moduleContent`).
    Modules,
}

/// The content of a configuration (PROTOCOL 10.2): twin paths under `properties.desired` and
/// the values they get on every twin the configuration applies to.
///
/// A path is `properties.desired` followed by keys (`properties.desired.firmware`,
/// `properties.desired.settings.fan`); `properties.desired` alone takes an object whose members
/// are each set. A value may be any JSON the twin rules allow; `null` removes the property. No
/// two paths may hold one another. Setting a path twice keeps the last value.
///
/// The setters never fail; [`Self::to_wire`] (called by
/// [`crate::ConfigurationBuilder::build`]) checks everything and names the path at fault.
///
/// ```
/// use iot_service_sdk::ConfigurationContent;
/// use serde_json::json;
///
/// let content = ConfigurationContent::device()
///     .desired("properties.desired.firmware", json!({"version": "2.0.0", "url": "https://fw/2.0.0"}))
///     .desired("properties.desired.telemetryInterval", 30);
/// let wire = content.to_wire()?;
/// assert_eq!(wire.device_content.unwrap()["properties.desired.telemetryInterval"], 30);
///
/// let bad = ConfigurationContent::device().desired("properties.reported.x", 1);
/// assert!(bad.to_wire().unwrap_err().to_string().contains("properties.reported.x"));
/// # Ok::<(), iot_service_sdk::ServiceError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigurationContent {
    twins: Twins,
    entries: Map<String, Value>,
}

impl ConfigurationContent {
    /// Content for device twins (`deviceContent`).
    pub fn device() -> Self {
        Self::new(Twins::Devices)
    }

    /// Content for module twins (`moduleContent`), for configurations whose target condition
    /// is `FROM devices.modules ...`.
    pub fn module() -> Self {
        Self::new(Twins::Modules)
    }

    fn new(twins: Twins) -> Self {
        Self {
            twins,
            entries: Map::new(),
        }
    }

    /// Sets `path` (`properties.desired...`) to `value` on every twin.
    pub fn desired(mut self, path: &str, value: impl Into<Value>) -> Self {
        self.entries.insert(path.to_owned(), value.into());
        self
    }

    /// Whether the content is for module twins.
    pub fn is_module_content(&self) -> bool {
        self.twins == Twins::Modules
    }

    /// The paths and their values, as set.
    pub fn entries(&self) -> &Map<String, Value> {
        &self.entries
    }

    /// The wire form, checked.
    ///
    /// # Errors
    /// [`ServiceError::InvalidTwinUpdate`] naming the path: a path outside
    /// `properties.desired`, a key or value the twin rules refuse, two paths that overlap;
    /// [`ServiceError::OutOfRange`] for content that sets nothing.
    pub fn to_wire(&self) -> Result<iot_protocol::ConfigurationContent, ServiceError> {
        check_entries(&self.entries)?;
        let entries = Some(self.entries.clone());
        Ok(match self.twins {
            Twins::Devices => iot_protocol::ConfigurationContent {
                device_content: entries,
                ..Default::default()
            },
            Twins::Modules => iot_protocol::ConfigurationContent {
                module_content: entries,
                ..Default::default()
            },
        })
    }
}

/// Checks one content map (device or module content) by IoT Hub's rules.
pub(crate) fn check_entries(entries: &Map<String, Value>) -> Result<(), ServiceError> {
    if DesiredContent::from_map(entries)?.is_empty() {
        return Err(ServiceError::out_of_range(
            "content",
            "must set at least one desired property",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn device_and_module_content_go_to_their_members() {
        let device = ConfigurationContent::device()
            .desired("properties.desired.a", 1)
            .desired("properties.desired.a", 2)
            .to_wire()
            .unwrap();
        assert_eq!(
            serde_json::to_value(device).unwrap(),
            json!({"deviceContent": {"properties.desired.a": 2}})
        );
        let module =
            ConfigurationContent::module().desired("properties.desired", json!({"b": true}));
        assert!(module.is_module_content());
        assert_eq!(
            serde_json::to_value(module.to_wire().unwrap()).unwrap(),
            json!({"moduleContent": {"properties.desired": {"b": true}}})
        );
    }

    #[test]
    fn broken_content_names_the_path() {
        let cases = [
            (
                ConfigurationContent::device()
                    .desired("properties.desired.a.b", 1)
                    .desired("properties.desired.a", 2),
                "properties.desired.a.b",
            ),
            (
                ConfigurationContent::device()
                    .desired("properties.desired.x", json!({"bad key": 1})),
                "properties.desired.x",
            ),
            (
                ConfigurationContent::device().desired("tags.x", 1),
                "tags.x",
            ),
        ];
        for (content, path) in cases {
            let error = content.to_wire().unwrap_err();
            assert!(
                matches!(error, ServiceError::InvalidTwinUpdate(_)),
                "{error:?}"
            );
            assert!(error.to_string().contains(path), "{error}");
        }
        let empty = ConfigurationContent::device().to_wire().unwrap_err();
        assert!(matches!(
            empty,
            ServiceError::OutOfRange {
                argument: "content",
                ..
            }
        ));
        let empty_section = ConfigurationContent::device().desired("properties.desired", json!({}));
        assert!(empty_section.to_wire().is_err());
    }
}
