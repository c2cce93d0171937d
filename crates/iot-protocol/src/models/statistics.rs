//! Registry and service statistics, and the answer to a cloud-to-device queue purge.

use serde::{Deserialize, Serialize};

/// The answer to `GET /statistics/devices`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryStatistics {
    /// Devices in the registry.
    #[serde(default)]
    pub total_device_count: u64,
    /// Enabled devices.
    #[serde(default)]
    pub enabled_device_count: u64,
    /// Disabled devices.
    #[serde(default)]
    pub disabled_device_count: u64,
}

/// The answer to `GET /statistics/service`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatistics {
    /// Devices connected now.
    #[serde(default)]
    pub connected_device_count: u64,
}

/// The answer to `DELETE /devices/{id}/commands`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeMessageQueueResult {
    /// How many queued cloud-to-device messages were removed.
    #[serde(default)]
    pub total_messages_purged: u64,
    /// The device whose queue was purged.
    #[serde(default)]
    pub device_id: String,
    /// The module, if a module's queue was purged.
    #[serde(default)]
    pub module_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_names() {
        let stats = RegistryStatistics {
            total_device_count: 3,
            enabled_device_count: 2,
            disabled_device_count: 1,
        };
        let value =
            json!({"totalDeviceCount": 3, "enabledDeviceCount": 2, "disabledDeviceCount": 1});
        assert_eq!(serde_json::to_value(stats).unwrap(), value);
        assert_eq!(
            serde_json::from_value::<RegistryStatistics>(value).unwrap(),
            stats
        );
        let service = ServiceStatistics {
            connected_device_count: 7,
        };
        assert_eq!(
            serde_json::to_value(service).unwrap(),
            json!({"connectedDeviceCount": 7})
        );
        let purge = json!({"totalMessagesPurged": 2, "deviceId": "d1", "moduleId": null});
        let parsed: PurgeMessageQueueResult = serde_json::from_value(purge.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), purge);
    }
}
