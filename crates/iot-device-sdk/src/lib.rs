//! A device client for the IoT Hub model: device twins, direct methods, telemetry and
//! cloud-to-device messages over MQTT, wire-compatible with Azure IoT Hub and with the local
//! `iot-hub`.
//!
//! A [`DeviceClient`] is a cheap handle on one connection, driven by a task of its own: it
//! connects, subscribes and reads the twin, reconnects with backoff (and reads the twin again)
//! when the connection drops, renews SAS tokens before they expire, and shows the application
//! where it stands through [`ConnectionState`]. Every operation the hub answers resolves with
//! the answer or a typed [`Error`]; nothing is fire-and-forget, and no operation waits longer
//! than its timeout.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use iot_device_sdk::{DeviceClient, DeviceOptions, Message, MethodResponse};
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let options = DeviceOptions::from_connection_string(
//!     "HostName=myhub.azure-devices.net;DeviceId=pump-7;SharedAccessKey=...",
//! )
//! .method("reboot", |_request| async { Ok(MethodResponse::ok(json!("Reboot started"))) })
//! .build()?;
//! let client = DeviceClient::connect(options).await?;
//!
//! // Desired properties in, reported status out.
//! let mut changes = client.desired_changes();
//! while let Some(update) = changes.next().await {
//!     if let Some(interval) = update.patch().as_map().get("telemetryInterval") {
//!         client.report(&json!({ "telemetryInterval": interval })).await?;
//!     }
//!     client.send_telemetry(Message::json(&json!({ "temperature": 21.5 }))?).await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The protocol rules come from the pure crates: `iot_twin` (twin topics, the desired-property
//! sync machine, the reported outbox, patches), `iot_methods` (method topics, routing and
//! payload rules), `iot_protocol` (connection strings, SAS tokens, usernames, property bags).
//! Their types that appear in this crate's API ([`Patch`], [`TwinState`], [`TwinVersion`],
//! [`MethodRequest`], [`MethodResponse`], [`MethodHandler`], [`HandlerError`],
//! [`MessageProperties`], [`Identity`], [`Timestamp`]) are re-exported here.
//! The MQTT transport is rumqttc with rustls (`ring`); none of their types appear in this
//! crate's API.
//!
//! # Layout
//!
//! - [`DeviceOptions`] and [`DeviceOptionsBuilder`] (`options.rs`, `options/`): identity,
//!   credentials, endpoint, TLS, timeouts; checked once by `build`.
//! - [`RetryPolicy`] (`retry.rs`): bounded exponential backoff with jitter.
//! - [`DeviceClient`] and [`WeakDeviceClient`] (`client.rs`): the application's handle.
//! - [`ConnectionState`], [`DisconnectReason`], [`StateChanges`] (`state.rs`).
//! - [`DesiredProperties`], [`DesiredWatch`], [`DesiredChanges`], [`DesiredUpdate`]
//!   (`desired.rs`).
//! - [`Message`], [`MessageBuilder`], [`CloudToDeviceMessage`], [`CloudToDeviceMessages`]
//!   (`message.rs`).
//! - [`Error`], [`ConfigError`], [`Operation`] (`error.rs`).
//! - [`patterns`]: the device-management patterns (reboot, factory reset, configuration).
//! - Inside: the driver task (`driver/`), the requests it takes (`command.rs`), and the method
//!   handler table (`methods.rs`).
#![forbid(unsafe_code)]

mod client;
mod command;
mod desired;
mod driver;
mod error;
mod message;
mod methods;
mod options;
pub mod patterns;
mod retry;
mod state;

pub use client::{DeviceClient, WeakDeviceClient};
pub use desired::{DesiredChanges, DesiredProperties, DesiredUpdate, DesiredWatch};
pub use error::{ConfigError, Error, Operation};
pub use iot_methods::{HandlerError, MethodHandler, MethodRequest, MethodResponse};
pub use iot_protocol::{Identity, MessageProperties};
pub use iot_twin::{Patch, Timestamp, TwinState, TwinVersion};
pub use message::{
    CloudToDeviceMessage, CloudToDeviceMessages, MAX_PROPERTY_BAG_BYTES, MAX_TELEMETRY_BYTES,
    Message, MessageBuilder,
};
pub use options::{DEFAULT_PORT, DeviceOptions, DeviceOptionsBuilder};
pub use retry::{RetryPolicy, RetryPolicyBuilder};
pub use state::{ConnectionState, DisconnectReason, StateChanges};
