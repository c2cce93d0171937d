//! The module identity (`/devices/{id}/modules/{moduleId}`).

use iot_twin::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{AuthenticationMechanism, ConnectionState, DeviceId, ModuleId};

/// A module identity on a device: the body of `PUT /devices/{id}/modules/{moduleId}` and of the
/// hub's answers.
///
/// ```
/// use iot_protocol::Module;
///
/// let module: Module = serde_json::from_str(r#"{"deviceId":"d1","moduleId":"m1","managedBy":"IotEdge"}"#).unwrap();
/// assert_eq!(module.module_id.as_str(), "m1");
/// assert_eq!(module.managed_by.as_deref(), Some("IotEdge"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    /// The module id.
    pub module_id: ModuleId,
    /// Who manages the module (`IotEdge` for modules the edge runtime owns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// The device the module belongs to.
    pub device_id: DeviceId,
    /// Distinguishes a re-created module from an earlier one with the same id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<String>,
    /// The identity's etag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Whether the module is connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    /// When `connection_state` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state_updated_time: Option<Timestamp>,
    /// When the module last connected, sent or received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_time: Option<Timestamp>,
    /// Cloud-to-module messages queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_message_count: Option<u64>,
    /// How the module authenticates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationMechanism>,
}

impl Module {
    /// A module with only its ids set: what a client sends to create it with defaults.
    pub fn new(device_id: DeviceId, module_id: ModuleId) -> Self {
        Self {
            module_id,
            managed_by: None,
            device_id,
            generation_id: None,
            etag: None,
            connection_state: None,
            connection_state_updated_time: None,
            last_activity_time: None,
            cloud_to_device_message_count: None,
            authentication: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthenticationType;
    use serde_json::{Value, json};

    fn sample() -> Value {
        json!({
            "moduleId": "telemetry",
            "deviceId": "gateway-7",
            "generationId": "637534345627501372",
            "etag": "MQ==",
            "connectionState": "Connected",
            "connectionStateUpdatedTime": "2021-05-12T08:48:08.7205939Z",
            "lastActivityTime": "2021-05-12T08:48:07.6903807Z",
            "cloudToDeviceMessageCount": 0,
            "authentication": {
                "symmetricKey": {
                    "primaryKey": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                    "secondaryKey": "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg="
                },
                "x509Thumbprint": {"primaryThumbprint": null, "secondaryThumbprint": null},
                "type": "sas"
            }
        })
    }

    #[test]
    fn round_trips_the_registry_shape() {
        let module: Module = serde_json::from_value(sample()).unwrap();
        assert_eq!(module.connection_state, Some(ConnectionState::Connected));
        assert_eq!(
            module.authentication.as_ref().and_then(|a| a.kind),
            Some(AuthenticationType::Sas)
        );
        assert_eq!(serde_json::to_value(&module).unwrap(), sample());
    }

    #[test]
    fn minimal_create_body() {
        let module = Module::new("d".parse().unwrap(), "m".parse().unwrap());
        assert_eq!(
            serde_json::to_value(&module).unwrap(),
            json!({"moduleId": "m", "deviceId": "d"})
        );
        assert!(serde_json::from_value::<Module>(json!({"moduleId": "m"})).is_err());
    }
}
