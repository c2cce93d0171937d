//! The device identity (`/devices/{id}`) and its authentication.

use iot_twin::{
    AuthenticationType, Capabilities, ConnectionState, DeviceStatus, Timestamp, X509Thumbprint,
};
use serde::{Deserialize, Serialize};

use crate::key::serde_option as key_serde;
use crate::{DeviceId, ProtocolError, SharedAccessKey};

/// The longest `statusReason` IoT Hub accepts, in characters (PROTOCOL 11.1).
pub const MAX_STATUS_REASON_LEN: usize = 128;

/// Checks a device's `statusReason` against IoT Hub's limit of [`MAX_STATUS_REASON_LEN`]
/// characters.
///
/// IoT Hub does not document how it counts characters; it is a .NET service, whose strings
/// count UTF-16 code units, so we count those (a character outside the Basic Multilingual
/// Plane, such as most emoji, counts twice).
///
/// ```
/// use iot_protocol::{MAX_STATUS_REASON_LEN, check_status_reason};
///
/// assert!(check_status_reason(&"a".repeat(MAX_STATUS_REASON_LEN)).is_ok());
/// let error = check_status_reason(&"a".repeat(MAX_STATUS_REASON_LEN + 1)).unwrap_err();
/// assert_eq!(error.to_string(), "device has an invalid statusReason: must be at most 128 characters");
/// ```
///
/// # Errors
/// [`ProtocolError::InvalidField`] naming `statusReason` when the reason is longer.
pub fn check_status_reason(reason: &str) -> Result<(), ProtocolError> {
    if reason.encode_utf16().count() <= MAX_STATUS_REASON_LEN {
        return Ok(());
    }
    Err(ProtocolError::InvalidField {
        input: "device",
        field: "statusReason".to_owned(),
        rule: "must be at most 128 characters",
    })
}

/// A device identity in the registry: the body of `PUT /devices/{id}` and of the hub's answers.
///
/// ```
/// use iot_protocol::{Device, DeviceId, DeviceStatus};
///
/// let device: Device = serde_json::from_str(r#"{"deviceId":"d1","status":"disabled","extra":1}"#).unwrap();
/// assert_eq!(device.device_id.as_str(), "d1");
/// assert_eq!(device.status, Some(DeviceStatus::Disabled));
/// assert_eq!(
///     serde_json::to_string(&Device::new("d2".parse().unwrap())).unwrap(),
///     r#"{"deviceId":"d2","statusReason":null}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// The device id.
    pub device_id: DeviceId,
    /// Distinguishes a re-created device from an earlier one with the same id (hub-generated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<String>,
    /// The identity's etag (see [`crate::DeviceEtag`]). Kept as text so that any client value
    /// is accepted on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Whether the device is connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    /// Whether the device may connect (`enabled` when omitted on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DeviceStatus>,
    /// Why the status was set, up to [`MAX_STATUS_REASON_LEN`] characters (see
    /// [`check_status_reason`]); written as `null` when unset, as the hub does.
    #[serde(default)]
    pub status_reason: Option<String>,
    /// When `connection_state` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state_updated_time: Option<Timestamp>,
    /// When `status` last changed (`0001-01-01T00:00:00Z` for never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_updated_time: Option<Timestamp>,
    /// When the device last connected, sent or received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_time: Option<Timestamp>,
    /// Cloud-to-device messages queued for the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_message_count: Option<u64>,
    /// How the device authenticates (`sas` with generated keys when omitted on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationMechanism>,
    /// What the device is (an IoT Edge device or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// The device's scope (edge devices and their children).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_scope: Option<String>,
    /// The scopes of the parent edge devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_scopes: Option<Vec<String>>,
}

impl Device {
    /// A device with only its id set: what a client sends to create it with defaults.
    pub fn new(device_id: DeviceId) -> Self {
        Self {
            device_id,
            generation_id: None,
            etag: None,
            connection_state: None,
            status: None,
            status_reason: None,
            connection_state_updated_time: None,
            status_updated_time: None,
            last_activity_time: None,
            cloud_to_device_message_count: None,
            authentication: None,
            capabilities: None,
            device_scope: None,
            parent_scopes: None,
        }
    }
}

/// How a device or module authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationMechanism {
    /// The keys, for `sas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symmetric_key: Option<SymmetricKey>,
    /// The certificate thumbprints, for `selfSigned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_thumbprint: Option<X509Thumbprint>,
    /// The kind of authentication (`sas` when omitted).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<AuthenticationType>,
}

/// A primary and a secondary key. An empty string on input reads as no key, which asks the hub
/// to generate one (Node's service SDK sends `""`). `Debug` redacts the keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymmetricKey {
    /// The primary key.
    #[serde(default, with = "key_serde", skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<SharedAccessKey>,
    /// The secondary key.
    #[serde(default, with = "key_serde", skip_serializing_if = "Option::is_none")]
    pub secondary_key: Option<SharedAccessKey>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The device JSON of the real-hub fixture, with realistic keys.
    fn real_device() -> Value {
        json!({
            "deviceId": "Test_Device_1",
            "generationId": "637534345627501371",
            "etag": "ODgxNTgwOA==",
            "connectionState": "Disconnected",
            "status": "enabled",
            "statusReason": null,
            "connectionStateUpdatedTime": "2021-05-12T08:48:08.7205939Z",
            "statusUpdatedTime": "0001-01-01T00:00:00Z",
            "lastActivityTime": "2021-05-12T08:48:07.6903807Z",
            "cloudToDeviceMessageCount": 0,
            "authentication": {
                "symmetricKey": {
                    "primaryKey": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                    "secondaryKey": "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg="
                },
                "x509Thumbprint": {"primaryThumbprint": null, "secondaryThumbprint": null},
                "type": "sas"
            },
            "capabilities": {"iotEdge": false}
        })
    }

    #[test]
    fn status_reasons_up_to_128_utf16_units_pass() {
        for fits in [
            String::new(),
            "a".repeat(MAX_STATUS_REASON_LEN),
            "é".repeat(MAX_STATUS_REASON_LEN),
            "😀".repeat(MAX_STATUS_REASON_LEN / 2),
        ] {
            assert_eq!(check_status_reason(&fits), Ok(()), "{fits:?}");
        }
        for long in [
            "a".repeat(MAX_STATUS_REASON_LEN + 1),
            "😀".repeat(MAX_STATUS_REASON_LEN / 2 + 1),
            format!("{}😀", "a".repeat(MAX_STATUS_REASON_LEN - 1)),
        ] {
            let error = check_status_reason(&long).unwrap_err();
            assert!(
                matches!(&error, ProtocolError::InvalidField { field, rule, .. }
                    if field == "statusReason" && rule.contains(&MAX_STATUS_REASON_LEN.to_string())),
                "{error:?}"
            );
        }
    }

    #[test]
    fn real_device_round_trips_exactly() {
        let device: Device = serde_json::from_value(real_device()).unwrap();
        assert_eq!(device.connection_state, Some(ConnectionState::Disconnected));
        assert_eq!(device.status_updated_time, Some(Timestamp::MIN));
        let auth = device.authentication.as_ref().unwrap();
        assert_eq!(auth.kind, Some(AuthenticationType::Sas));
        assert!(auth.symmetric_key.as_ref().unwrap().primary_key.is_some());
        assert_eq!(serde_json::to_value(&device).unwrap(), real_device());
    }

    #[test]
    fn debug_does_not_show_keys() {
        let device: Device = serde_json::from_value(real_device()).unwrap();
        let shown = format!("{device:?}");
        assert!(
            !shown.contains("AAECAw") && !shown.contains("NMgJ"),
            "{shown}"
        );
    }

    #[test]
    fn node_create_body_asks_for_generated_keys() {
        let body = json!({
            "deviceId": "n1",
            "status": "enabled",
            "authentication": {"symmetricKey": {"primaryKey": "", "secondaryKey": ""},
                               "x509Thumbprint": {"primaryThumbprint": "", "secondaryThumbprint": ""}}
        });
        let device: Device = serde_json::from_value(body).unwrap();
        let keys = device.authentication.unwrap().symmetric_key.unwrap();
        assert_eq!(keys, SymmetricKey::default());
    }

    #[test]
    fn python_x509_create_body_has_no_secondary_thumbprint() {
        // What azure-iot-hub 2.7's `create_device_with_x509(id, primary, "", "enabled")` sends.
        let body = json!({
            "deviceId": "x1",
            "status": "enabled",
            "authentication": {
                "x509Thumbprint": {
                    "primaryThumbprint": "0123456789ABCDEF0123456789ABCDEF01234568",
                    "secondaryThumbprint": ""
                },
                "type": "selfSigned"
            },
            "capabilities": {"iotEdge": false}
        });
        let device: Device = serde_json::from_value(body).unwrap();
        let thumbprints = device.authentication.unwrap().x509_thumbprint.unwrap();
        assert_eq!(
            thumbprints.primary_thumbprint.as_deref(),
            Some("0123456789ABCDEF0123456789ABCDEF01234568")
        );
        assert_eq!(thumbprints.secondary_thumbprint, None);
        let written = serde_json::to_value(&thumbprints).unwrap();
        assert_eq!(written["secondaryThumbprint"], Value::Null);
    }

    #[test]
    fn rejects_invalid_values_without_echoing_keys() {
        let bad_id = json!({"deviceId": "a b"});
        assert!(serde_json::from_value::<Device>(bad_id).is_err());
        let bad_state = json!({"deviceId": "d", "connectionState": "connected"});
        assert!(serde_json::from_value::<Device>(bad_state).is_err());
        let bad_key =
            json!({"deviceId": "d", "authentication": {"symmetricKey": {"primaryKey": "s3cret!"}}});
        let err = serde_json::from_value::<Device>(bad_key).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
