//! The back-end client of IoT Hub's service REST API: the identity registry, device twins,
//! direct methods, twin queries, scheduled jobs and configurations, for services that manage
//! fleets; with the device-management patterns on top ([`patterns`]).
//!
//! [`ServiceClient`] speaks to Azure IoT Hub and, unchanged, to the local `iot-hub`. Every
//! protocol rule comes from the pure crates: SAS tokens, connection strings, REST models and
//! error codes from `iot_protocol`, twins, their update rules and the query language from
//! `iot_twin`, method invocations from `iot_methods`. This crate adds the HTTP around them:
//! signing and re-signing tokens, retries with backoff, timeouts, paging, and typed errors.
//!
//! ```no_run
//! use iot_methods::MethodInvocation;
//! use iot_protocol::{Device, IfMatch};
//! use iot_service_sdk::{Query, ServiceClient, TwinUpdate, field};
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = ServiceClient::from_connection_string(
//!     "HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=...",
//! )?;
//!
//! // Provision a device; the hub generates its keys.
//! let device = client.create_device(&Device::new("chiller-7".parse()?)).await?;
//! let id = device.device_id;
//!
//! // Configure it through desired properties, and tag it for queries.
//! let update = TwinUpdate::new()
//!     .desired(json!({"waterTemperature": 12}))
//!     .tags(json!({"plant": "Redmond43"}));
//! client.update_twin(&id, &update, IfMatch::ANY).await?;
//!
//! // Reboot it with a direct method; the device answers with a status and a payload.
//! let reboot = MethodInvocation::new("reboot".parse()?, json!(null))?;
//! let answer = client.invoke_method(&id, &reboot).await?;
//! println!("reboot: {} {}", answer.status(), answer.payload());
//!
//! // Follow the plant's fleet with a query, page by page behind the scenes.
//! let plant = Query::select_all().where_(field("tags.plant").eq("Redmond43"));
//! let mut twins = client.query(plant)?.twins();
//! while let Some(twin) = twins.next().await {
//!     let twin = twin?;
//!     println!("{}: {:?}", twin.device_id(), twin.reported().content().get("waterTemperature"));
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`ServiceClient`] (`client.rs`) and [`ServiceClientBuilder`] (`builder.rs`); TLS trust
//!   (`tls.rs`), SAS token caching (`token.rs`), [`RetryPolicy`] (`retry.rs`).
//! - Operations: the registry (`registry.rs`), twins with [`TwinUpdate`] (`twin.rs`), direct
//!   methods (`methods.rs`), queries (`query/`: [`Query`], [`QueryBuilder`], [`Filter`],
//!   [`QueryRequest`], [`QueryPages`], [`QueryItems`], [`QueryPage`]).
//! - Scheduled jobs (`jobs.rs`, `jobs/`): [`ScheduledJob`] built with [`JobBuilder`], [`JobQuery`].
//! - Configurations (`configurations.rs`, `configurations/`): [`ConfigurationBuilder`],
//!   [`ConfigurationContent`], [`ConfigurationCounts`].
//! - [`patterns`]: reboot and factory reset across the fleet, configuration roll-outs, and
//!   their progress from twin queries.
//! - Requests and answers without the HTTP library's types (`request.rs`, `response.rs`), and
//!   the one module that sends them (`transport.rs`).
//! - [`ServiceError`] (`error.rs`), naming the [`Resource`] a failed request was about
//!   (`error/resource.rs`), and the mapping from the hub's error answers (`error/mapping.rs`).
#![forbid(unsafe_code)]

mod builder;
mod client;
mod configurations;
mod error;
mod jobs;
mod methods;
pub mod patterns;
mod query;
mod registry;
mod request;
mod response;
mod retry;
mod tls;
mod token;
mod transport;
mod twin;

pub use builder::ServiceClientBuilder;
pub use client::ServiceClient;
pub use configurations::{
    APPLIED_COUNT, ConfigurationBuilder, ConfigurationContent, ConfigurationCounts,
    MAX_CUSTOM_METRICS, TARGETED_COUNT, check_configuration,
};
pub use error::{Resource, ServiceError};
pub use iot_twin::query::{Collection, ItemType};
pub use jobs::{DEFAULT_MAX_EXECUTION_TIME, JobBuilder, JobQuery, ScheduledJob};
pub use query::{
    Field, Filter, IntoQuery, Query, QueryBuilder, QueryItems, QueryPage, QueryPages, QueryRequest,
    field,
};
pub use registry::MAX_LIST_DEVICES;
pub use request::API_VERSION;
pub use retry::RetryPolicy;
pub use twin::TwinUpdate;
