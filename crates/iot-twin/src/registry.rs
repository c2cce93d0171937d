//! The identity-registry fields a twin document shows next to its properties, and the value
//! types they share with the registry's REST models (`iot_protocol` re-exports them).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::{Timestamp, TwinError};

/// Whether the device or module may connect (`status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DeviceStatus {
    /// `"enabled"`.
    Enabled,
    /// `"disabled"`.
    Disabled,
}

/// Whether the device is connected (`connectionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ConnectionState {
    /// `"Connected"`.
    Connected,
    /// `"Disconnected"`.
    Disconnected,
}

/// How the device authenticates (`authenticationType`); `sas` when a registry body leaves it
/// out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum AuthenticationType {
    /// `"sas"`: shared access keys.
    #[default]
    Sas,
    /// `"selfSigned"`: an X.509 certificate identified by its thumbprint.
    SelfSigned,
    /// `"certificateAuthority"`: an X.509 certificate signed by a registered authority.
    CertificateAuthority,
    /// `"none"`: a module that authenticates through its edge device.
    None,
}

/// The X.509 thumbprints of a self-signed device (`x509Thumbprint`); both `null` otherwise.
///
/// Both are written even when `null`, as the hub does. An empty string on input reads as no
/// thumbprint: the official Python service SDK's `create_device_with_x509` sends `""` for a
/// secondary thumbprint not given, and Node's sends `""` for both. IoT Hub does not document
/// empty thumbprints; we read them as absent, as `iot_protocol` reads empty keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct X509Thumbprint {
    /// `primaryThumbprint`.
    #[serde(default, deserialize_with = "non_empty")]
    pub primary_thumbprint: Option<String>,
    /// `secondaryThumbprint`.
    #[serde(default, deserialize_with = "non_empty")]
    pub secondary_thumbprint: Option<String>,
}

impl X509Thumbprint {
    /// The thumbprints of a self-signed certificate and, optionally, of its successor.
    pub fn new(primary: Option<String>, secondary: Option<String>) -> Self {
        Self {
            primary_thumbprint: primary,
            secondary_thumbprint: secondary,
        }
    }
}

/// An optional string, with `""` read as none.
fn non_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    Ok(value.filter(|text| !text.is_empty()))
}

/// The device's capabilities (`capabilities`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Capabilities {
    /// `iotEdge`: the device is an IoT Edge device.
    #[serde(default)]
    pub iot_edge: bool,
}

/// Where a configuration stands on a twin it targets (`configurations.<id>.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ConfigurationStatus {
    /// `"Targeted"`: the configuration targets the twin but another one has priority.
    Targeted,
    /// `"Applied"`: the configuration's content was applied to the twin.
    Applied,
}

/// One entry of a twin's `configurations` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfigurationInfo {
    /// `status`.
    pub status: ConfigurationStatus,
}

impl ConfigurationInfo {
    /// An entry with the given status.
    pub fn new(status: ConfigurationStatus) -> Self {
        Self { status }
    }
}

/// A twin's `configurations`: configuration id to status.
pub type Configurations = BTreeMap<String, ConfigurationInfo>;

/// The fields a twin document copies from the identity registry. The hub keeps them up to date;
/// they have no rules of their own here, so they are plain public data. `None` fields are
/// left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RegistryInfo {
    /// `deviceEtag`: the identity's etag (e.g. `"NjU4ODE3NDIy"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_etag: Option<String>,
    /// `status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<DeviceStatus>,
    /// `statusReason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// `statusUpdateTime` ([`Timestamp::MIN`] when never changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_update_time: Option<Timestamp>,
    /// `connectionState`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    /// `lastActivityTime`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_activity_time: Option<Timestamp>,
    /// `cloudToDeviceMessageCount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_message_count: Option<u64>,
    /// `authenticationType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_type: Option<AuthenticationType>,
    /// `x509Thumbprint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x509_thumbprint: Option<X509Thumbprint>,
    /// `modelId` (`""` when the device announced none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// `capabilities`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// `deviceScope` (edge and nested devices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_scope: Option<String>,
    /// `parentScopes` (edge and nested devices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_scopes: Option<Vec<String>>,
}

impl RegistryInfo {
    /// The values IoT Hub shows for a device just created with shared access keys: enabled,
    /// disconnected, never active, no messages, no thumbprints, no model, not an edge device.
    pub fn new_device() -> Self {
        Self {
            device_etag: None,
            status: Some(DeviceStatus::Enabled),
            status_reason: None,
            status_update_time: Some(Timestamp::MIN),
            connection_state: Some(ConnectionState::Disconnected),
            last_activity_time: Some(Timestamp::MIN),
            cloud_to_device_message_count: Some(0),
            authentication_type: Some(AuthenticationType::Sas),
            x509_thumbprint: Some(X509Thumbprint::default()),
            model_id: Some(String::new()),
            capabilities: Some(Capabilities::default()),
            device_scope: None,
            parent_scopes: None,
        }
    }

    /// Takes the registry fields out of a twin's top-level members.
    pub(crate) fn take_from(map: &mut Map<String, Value>) -> Result<Self, TwinError> {
        Ok(Self {
            device_etag: take(map, "deviceEtag")?,
            status: take(map, "status")?,
            status_reason: take(map, "statusReason")?,
            status_update_time: take(map, "statusUpdateTime")?,
            connection_state: take(map, "connectionState")?,
            last_activity_time: take(map, "lastActivityTime")?,
            cloud_to_device_message_count: take(map, "cloudToDeviceMessageCount")?,
            authentication_type: take(map, "authenticationType")?,
            x509_thumbprint: take(map, "x509Thumbprint")?,
            model_id: take(map, "modelId")?,
            capabilities: take(map, "capabilities")?,
            device_scope: take(map, "deviceScope")?,
            parent_scopes: take(map, "parentScopes")?,
        })
    }
}

/// Removes and parses the optional member `field`; `null` counts as absent.
pub(crate) fn take<T: DeserializeOwned>(
    map: &mut Map<String, Value>,
    field: &'static str,
) -> Result<Option<T>, TwinError> {
    match map.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            serde_json::from_value(value)
                .map(Some)
                .map_err(|e| TwinError::InvalidField {
                    field,
                    reason: e.to_string(),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn enums_use_the_wire_spellings() {
        let cases = [
            (
                serde_json::to_value(DeviceStatus::Enabled).unwrap(),
                json!("enabled"),
            ),
            (
                serde_json::to_value(DeviceStatus::Disabled).unwrap(),
                json!("disabled"),
            ),
            (
                serde_json::to_value(ConnectionState::Connected).unwrap(),
                json!("Connected"),
            ),
            (
                serde_json::to_value(ConnectionState::Disconnected).unwrap(),
                json!("Disconnected"),
            ),
            (
                serde_json::to_value(AuthenticationType::Sas).unwrap(),
                json!("sas"),
            ),
            (
                serde_json::to_value(AuthenticationType::SelfSigned).unwrap(),
                json!("selfSigned"),
            ),
            (
                serde_json::to_value(AuthenticationType::CertificateAuthority).unwrap(),
                json!("certificateAuthority"),
            ),
            (
                serde_json::to_value(AuthenticationType::None).unwrap(),
                json!("none"),
            ),
            (
                serde_json::to_value(ConfigurationStatus::Targeted).unwrap(),
                json!("Targeted"),
            ),
            (
                serde_json::to_value(ConfigurationStatus::Applied).unwrap(),
                json!("Applied"),
            ),
        ];
        for (ours, wire) in cases {
            assert_eq!(ours, wire);
        }
        assert!(serde_json::from_value::<DeviceStatus>(json!("Enabled")).is_err());
    }

    #[test]
    fn new_device_matches_the_hub() {
        let wire = serde_json::to_value(RegistryInfo::new_device()).unwrap();
        assert_eq!(
            wire,
            json!({
                "status": "enabled", "statusUpdateTime": "0001-01-01T00:00:00Z",
                "connectionState": "Disconnected", "lastActivityTime": "0001-01-01T00:00:00Z",
                "cloudToDeviceMessageCount": 0, "authenticationType": "sas",
                "x509Thumbprint": {"primaryThumbprint": null, "secondaryThumbprint": null},
                "modelId": "", "capabilities": {"iotEdge": false},
            })
        );
        let mut map = wire.as_object().unwrap().clone();
        map.insert("other".into(), json!(1));
        assert_eq!(
            RegistryInfo::take_from(&mut map).unwrap(),
            RegistryInfo::new_device()
        );
        assert_eq!(map, json!({"other": 1}).as_object().unwrap().clone());
    }

    #[test]
    fn empty_thumbprints_read_as_absent() {
        let sent = json!({"primaryThumbprint": "AB12", "secondaryThumbprint": ""});
        let read: X509Thumbprint = serde_json::from_value(sent).unwrap();
        assert_eq!(read, X509Thumbprint::new(Some("AB12".into()), None));
        let both_empty = json!({"primaryThumbprint": "", "secondaryThumbprint": ""});
        let read: X509Thumbprint = serde_json::from_value(both_empty).unwrap();
        assert_eq!(read, X509Thumbprint::default());
        assert_eq!(
            serde_json::to_value(read).unwrap(),
            json!({"primaryThumbprint": null, "secondaryThumbprint": null})
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let mut map = json!({"status": "sleeping"}).as_object().unwrap().clone();
        assert!(matches!(
            RegistryInfo::take_from(&mut map),
            Err(TwinError::InvalidField {
                field: "status",
                ..
            })
        ));
        let mut nulls = json!({"statusReason": null}).as_object().unwrap().clone();
        assert_eq!(
            RegistryInfo::take_from(&mut nulls).unwrap(),
            RegistryInfo::default()
        );
    }
}
