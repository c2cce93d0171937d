//! The back-end side of IoT Hub's device-management patterns (PROTOCOL 15): **reboot** and
//! **factory reset** across the fleet with a job ([`FleetOperation`]), **configuration**
//! roll-outs with an automatic device management configuration ([`Rollout`]), and **progress
//! and status** of both from twin queries ([`ProgressQuery`], [`ProgressStream`],
//! [`ProgressSnapshot`]).
//!
//! The devices run the matching helpers of `iot_device_sdk::patterns`, which report under the
//! names these read, defined once in `iot_protocol::patterns` ([`OperationNames`],
//! [`ApplyStatus`], [`STATUS_ERROR`], ...).
//!
//! ```no_run
//! # async fn run(client: iot_service_sdk::ServiceClient) -> Result<(), iot_service_sdk::ServiceError> {
//! use std::time::{Duration, Instant};
//! use iot_service_sdk::patterns::{FleetOperation, ProgressOutcome, Rollout};
//! use serde_json::json;
//!
//! let deadline = Instant::now() + Duration::from_secs(600);
//! let firmware = Rollout::builder("firmware-2-0", "firmware", json!({"version": "2.0"}))
//!     .target_condition("tags.ring = 'canary'")
//!     .build()?
//!     .start(&client)
//!     .await?;
//! let rolled_out = firmware.progress(Duration::from_secs(5), deadline)?.last().await?;
//! if rolled_out.outcome == Some(ProgressOutcome::Finished) && rolled_out.all_succeeded() {
//!     let reboot = FleetOperation::reboot().condition("tags.ring = 'canary'").start(&client).await?;
//!     reboot.progress(Duration::from_secs(2), deadline)?.last().await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`FleetOperation`] and [`OperationJob`] (`operation.rs`): reboot and factory reset.
//! - [`Rollout`], [`RolloutBuilder`], [`RolloutHandle`] (`rollout.rs`): configuration roll-outs.
//! - [`ProgressQuery`] (`progress.rs`), [`ProgressStream`] (`stream.rs`), [`ProgressSnapshot`]
//!   with [`DeviceFailure`] and [`ProgressOutcome`] (`snapshot.rs`): following progress.
//! - The names the device helpers report under, re-exported from `iot_protocol::patterns`.

mod operation;
mod progress;
mod rollout;
mod snapshot;
mod stream;

pub use iot_protocol::patterns::{
    ApplyStatus, ConfigurationStatus, DESIRED_VERSION, OperationNames, STATUS_ERROR,
};
pub use operation::{FleetOperation, OperationJob};
pub use progress::ProgressQuery;
pub use rollout::{Rollout, RolloutBuilder, RolloutHandle};
pub use snapshot::{DeviceFailure, ProgressOutcome, ProgressSnapshot};
pub use stream::ProgressStream;
