//! The names and reported shapes of IoT Hub's device-management patterns (PROTOCOL 15), shared
//! by the device helpers that write them (`iot_device_sdk::patterns`) and the back-end helpers
//! that read them with twin queries (`iot_service_sdk::patterns`).
//!
//! IoT Hub's samples name the reboot method `reboot`, its answer `"Reboot started"` and the
//! reported `iothubDM.reboot.startedRebootTime` and `lastReboot`. They name no factory-reset
//! properties, no statuses and no configuration status object: those are this project's
//! choices, made to follow the reboot names, and defined here once.
//!
//! ```
//! use iot_protocol::patterns::{ApplyStatus, ConfigurationStatus, OperationNames, OperationReport};
//! use iot_twin::{Timestamp, TwinVersion};
//! use serde_json::json;
//!
//! let at = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
//! let reboot = OperationNames::REBOOT;
//! assert_eq!(reboot.section(), "iothubDM.reboot");
//! assert_eq!(
//!     reboot.patch(&OperationReport::Done { at: Some(at) }),
//!     json!({"iothubDM": {"reboot": {"status": "rebooted", "lastReboot": at.to_string()}}})
//! );
//!
//! let applied = ConfigurationStatus::new(ApplyStatus::Applied, TwinVersion::INITIAL);
//! assert_eq!(
//!     serde_json::to_value(&applied).unwrap(),
//!     json!({"status": "applied", "desiredVersion": 1, "message": null})
//! );
//! ```
//!
//! # Layout
//!
//! - [`OperationNames`], [`OperationReport`] (`operation.rs`): reboot and factory reset.
//! - [`ApplyStatus`], [`ConfigurationStatus`] (`configuration.rs`): the configuration pattern.

mod configuration;
mod operation;

pub use configuration::{ApplyStatus, ConfigurationStatus, DESIRED_VERSION};
pub use operation::{DM_SECTION, OperationNames, OperationReport};

/// The reported member holding a status, in every pattern's section.
pub const STATUS: &str = "status";

/// The reported member holding why an operation or a configuration failed.
pub const MESSAGE: &str = "message";

/// The status of a failed operation or configuration, with the reason in [`MESSAGE`].
pub const STATUS_ERROR: &str = "error";
