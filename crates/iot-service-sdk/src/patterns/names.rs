//! The reported property names and statuses of the device-management patterns, as the device
//! helpers of `iot_device_sdk::patterns` write them (PROTOCOL 15 where the official samples
//! name them).
//!
//! IoT Hub's samples name `iothubDM.reboot.lastReboot` and `startedRebootTime`; the statuses,
//! the factory-reset names and the configuration status object are this project's, written by
//! `iot-device-sdk` and read here.

/// One operation started by a direct method: its names on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OperationNames {
    /// The method called.
    pub(crate) method: &'static str,
    /// The reported section, below `properties.reported`.
    pub(crate) section: &'static str,
    /// The status while it runs.
    pub(crate) running: &'static str,
    /// The status once it succeeded.
    pub(crate) done: &'static str,
    /// When it started (written with the running status).
    pub(crate) started_time: &'static str,
    /// When it last succeeded.
    pub(crate) done_time: &'static str,
}

/// Reboot: method `reboot`, reported under `iothubDM.reboot`.
pub(crate) const REBOOT: OperationNames = OperationNames {
    method: "reboot",
    section: "iothubDM.reboot",
    running: "rebooting",
    done: "rebooted",
    started_time: "startedRebootTime",
    done_time: "lastReboot",
};

/// Factory reset: method `factoryReset`, reported under `iothubDM.factoryReset`.
pub(crate) const FACTORY_RESET: OperationNames = OperationNames {
    method: "factoryReset",
    section: "iothubDM.factoryReset",
    running: "resetting",
    done: "reset",
    started_time: "startedFactoryResetTime",
    done_time: "lastFactoryReset",
};

/// The status of a failed operation or configuration, with the reason in `message`.
pub const STATUS_ERROR: &str = "error";

/// Configuration statuses a device reports, in the order a device goes through them.
pub const CONFIGURATION_STATUSES: [&str; 4] = ["pending", "applying", "applied", STATUS_ERROR];

/// The configuration status of a device whose content is in effect.
pub const STATUS_APPLIED: &str = "applied";

/// The reported member holding the desired `$version` a configuration status is about.
pub const DESIRED_VERSION: &str = "desiredVersion";
