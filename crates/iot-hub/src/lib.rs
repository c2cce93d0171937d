//! A local IoT hub that speaks Azure IoT Hub's device protocol and service REST API, for
//! development, tests and small fleets: the official device and service SDKs and ours connect
//! to it unchanged.
//!
//! Devices connect over MQTT 3.1.1 (TLS, or plain TCP when asked for) with SAS tokens or
//! self-signed X.509 certificates, read and patch their twins, receive desired-property
//! notifications, answer direct methods, send telemetry and receive cloud-to-device messages.
//! Back ends call the REST API (HTTPS, or plain HTTP when asked for) with SAS tokens of the
//! hub's shared access policies: the identity registry, twins, direct methods, twin
//! queries, scheduled jobs and automatic device management configurations. In-process, the
//! same operations are [`Hub`]'s API: [`Registry`], [`Twins`], [`Jobs`], [`Configurations`],
//! [`Hub::invoke_method`], [`Hub::send_cloud_to_device`], [`Hub::telemetry`]. State lives in
//! memory or in SQLite; every acknowledged write is committed first.
//!
//! The protocol rules themselves (topics, twin merge and limits, SAS verification, property
//! bags, error codes) live in the pure crates `iot-twin`, `iot-methods` and `iot-protocol`;
//! this crate does the IO around them.
//!
//! # Layout
//! - [`Hub`] (`hub.rs`), [`HubBuilder`] (`builder.rs`), [`TlsConfig`] (`tls.rs`),
//!   [`DevCerts`] (`dev_certs.rs`): starting and stopping.
//! - [`Registry`] (`registry.rs`) with [`DeviceOptions`] (`device_options.rs`), [`Twins`]
//!   (`twins.rs`), cloud-to-device messages (`c2d.rs`), telemetry (`telemetry.rs`), the
//!   direct-method driver (`methods.rs`), twin queries page by page (`twin_query.rs`),
//!   scheduled jobs ([`Jobs`], `jobs/`), configurations ([`Configurations`],
//!   `configurations/`): the operations, shared by every front end.
//! - `core/`: the working set of devices; `session.rs`: MQTT sessions apart from connections;
//!   `store/`: SQLite with group commit; `mqtt/`: the MQTT endpoint; `rest/`: the REST API;
//!   `accept.rs`: binding, the accept loop and the TLS handshake both endpoints share.
//! - [`HubError`] and [`MethodCallError`] (`error.rs`).
#![forbid(unsafe_code)]

mod accept;
mod builder;
mod c2d;
mod configurations;
mod core;
mod dev_certs;
mod device_options;
mod error;
mod hub;
mod jobs;
mod methods;
mod mqtt;
mod registry;
mod rest;
mod session;
mod store;
mod telemetry;
mod tls;
mod twin_query;
mod twins;

pub use builder::HubBuilder;
pub use c2d::{CloudToDeviceMessage, MAX_MESSAGE_BYTES};
pub use configurations::Configurations;
pub use dev_certs::DevCerts;
pub use device_options::DeviceOptions;
pub use error::{HubError, MethodCallError};
pub use hub::Hub;
pub use jobs::Jobs;
pub use registry::Registry;
pub use store::Durability;
pub use telemetry::{MAX_TELEMETRY_BYTES, TelemetryLagged, TelemetryMessage, TelemetryStream};
pub use tls::TlsConfig;
pub use twins::Twins;
