//! The device side of IoT Hub's device-management patterns (PROTOCOL 15): **reboot** and
//! **factory reset** started by a direct method, with progress in reported properties
//! ([`DeviceOperation`]), and **configuration** from desired properties, with the status
//! reported back ([`DesiredConfiguration`]).
//!
//! The application says what a reboot, a reset or applying a configuration means with async
//! callbacks; the helpers do the protocol: answering the method at once, reporting each step
//! under the names the official samples use, and following desired properties across
//! reconnects without ever applying a stale version. The back end follows the same
//! properties with twin queries (`iot_service_sdk::patterns`).
//!
//! ```no_run
//! use iot_device_sdk::{DeviceClient, DeviceOptions};
//! use iot_device_sdk::patterns::{DesiredConfiguration, DeviceOperation};
//!
//! # async fn run(connection_string: &str) -> Result<(), iot_device_sdk::Error> {
//! let client = DeviceClient::connect(DeviceOptions::from_connection_string(connection_string).build()?).await?;
//! DeviceOperation::reboot().install(&client, |_payload| async { Ok::<(), String>(()) })?;
//! DeviceOperation::factory_reset().install(&client, |_payload| async { Ok::<(), String>(()) })?;
//! let _firmware = DesiredConfiguration::new("firmware").spawn(&client, |wanted| async move {
//!     println!("installing {wanted}");
//!     Ok::<(), String>(())
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`DeviceOperation`] (`operation.rs`): reboot and factory reset.
//! - [`DesiredConfiguration`], [`ConfigurationHandle`] (`configuration.rs`), with the
//!   helper's task and state machine in `configuration/watcher.rs`.
//! - [`PropertyPath`] (`path.rs`): dotted paths into properties.
//! - The names and reported shapes, from `iot_protocol::patterns` ([`ApplyStatus`],
//!   [`ConfigurationStatus`], [`OperationNames`], [`STATUS_ERROR`]), which the back end's
//!   helpers read too.

mod configuration;
mod operation;
mod path;

pub use configuration::{ConfigurationHandle, DesiredConfiguration};
pub use iot_protocol::patterns::{ApplyStatus, ConfigurationStatus, OperationNames, STATUS_ERROR};
pub use operation::DeviceOperation;
pub use path::PropertyPath;
