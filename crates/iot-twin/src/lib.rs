//! Device twin documents for the IoT Hub device-management model.
//!
//! A twin holds `tags` (service only), desired properties (service writes, device reads) and
//! reported properties (device writes, service reads). This crate holds every rule about them
//! once, for the hub, the service SDK and the device SDK alike: JSON merge patches and their
//! algebra, the limits IoT Hub enforces, `$version`, `$metadata`, etag and twin `version`
//! bookkeeping, and the JSON shapes of the REST API and the MQTT twin topics. It does no IO and
//! reads no clock: operations take the current time as an argument.
//!
//! ```
//! use iot_twin::{Limits, Patch, ServiceWrite, Timestamp, Twin, TwinState};
//!
//! let now = Timestamp::from_unix_seconds(1_700_000_000)?;
//! let limits = Limits::default();
//! let mut twin = Twin::new("pump-7", None, now);
//!
//! // The back end sets a desired property; the device is to be sent `note`.
//! let write = ServiceWrite::from_slice(br#"{"properties":{"desired":{"rpm":900}}}"#)?;
//! let note = twin.apply_service_patch(&write, &limits, now)?.desired;
//! assert_eq!(note.map(|n| n.version().get()), Some(2));
//!
//! // The device reports; an invalid key is refused and changes nothing.
//! twin.apply_reported_patch(&Patch::from_slice(br#"{"rpm":900}"#)?, &limits, now)?;
//! assert!(Patch::from_slice(br#"{"bad.key":1}"#).is_err());
//!
//! // What a device receives for a twin GET.
//! let body = serde_json::to_string(&twin.state())?;
//! assert_eq!(body, r#"{"desired":{"rpm":900,"$version":2},"reported":{"rpm":900,"$version":2}}"#);
//! assert_eq!(TwinState::from_slice(body.as_bytes())?, twin.state());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//!
//! - [`Twin`] (`twin.rs`): the REST twin document and the service and device write operations,
//!   with [`ServiceWrite`] (`service_write.rs`) for `PATCH`/`PUT` bodies and [`RegistryInfo`]
//!   and friends (`registry.rs`) for the identity fields it shows.
//! - [`Section`] (`section.rs`): tags, desired or reported content with `$version` and
//!   [`Metadata`] (`metadata.rs`); checked, atomic writes (`section/apply.rs`) and the JSON
//!   forms (`section/wire.rs`).
//! - [`Patch`] (`patch.rs`) and [`merge`], [`compose`], [`diff`] (`merge.rs`): validated merge
//!   patches and their algebra.
//! - [`Limits`] (`limits.rs`), with the rules themselves in `rules.rs`.
//! - MQTT bodies: [`TwinState`] (`state.rs`) for twin `GET`, [`DesiredNotification`]
//!   (`notification.rs`) for desired-property updates.
//! - Small types: [`TwinVersion`] (`version.rs`), [`Etag`] (`etag.rs`), [`Timestamp`]
//!   (`timestamp.rs`), and [`TwinError`] (`error.rs`).
//! - MQTT topics: [`DeviceTopic`], [`HubTopic`] and [`TwinSubscription`] (`topic.rs`), with
//!   [`RequestId`] and [`RequestIds`] (`request_id.rs`) and the `?$rid=...&k=v` property codec
//!   [`TopicProperties`] (`topic/properties.rs`). `iot-methods` builds its request ids and
//!   method topics on these, so every IoT Hub topic reads and writes its properties alike.
//! - Device-side sync (`sync.rs`): [`DesiredSync`] keeps desired properties in step with the
//!   hub, [`ReportedOutbox`] delivers reported properties.
//! - Automatic device management content (`configuration.rs`): [`DesiredContent`] with
//!   [`ContentPath`], and [`layer`] to combine the configurations that target a twin.
//! - The query language ([`query`], `query/`): [`Query`] for twin and job queries, [`Condition`]
//!   for job query conditions and configuration target conditions, [`QueryError`].
//!
//! # Paths in errors
//!
//! Errors that point into a document carry a path: keys joined with `.` (`properties.reported.a.b`),
//! array elements as `[3]`, and keys that are empty or hold characters other than ASCII letters,
//! digits, `_` and `-` as a bracketed JSON string (`a["odd.key"]`, `["$version"]`); keys longer
//! than 64 bytes are cut and marked `…`. Paths from [`Patch`] and [`Section`] start at the patch
//! or section; paths from [`Twin`], [`ServiceWrite`] and [`TwinState`] start at the document.
#![forbid(unsafe_code)]

mod configuration;
mod error;
mod etag;
mod limits;
mod merge;
mod metadata;
mod notification;
mod patch;
mod path;
pub mod query;
mod registry;
mod request_id;
mod rules;
mod section;
mod service_write;
mod state;
mod sync;
#[cfg(test)]
mod testing;
mod timestamp;
mod topic;
mod twin;
mod version;

pub use configuration::{ContentEntry, ContentPath, DesiredContent, Layered, layer};
pub use error::{ErrorClass, KeyRule, TwinError};
pub use etag::Etag;
pub use limits::Limits;
pub use merge::{compose, diff, merge};
pub use metadata::Metadata;
pub use notification::DesiredNotification;
pub use patch::Patch;
pub use query::{Condition, Query, QueryError};
pub use registry::{
    AuthenticationType, Capabilities, ConfigurationInfo, ConfigurationStatus, Configurations,
    ConnectionState, DeviceStatus, RegistryInfo, X509Thumbprint,
};
pub use request_id::{RequestId, RequestIds};
pub use section::{Replaced, Section, SectionKind};
pub use service_write::{SectionField, ServiceWrite};
pub use state::{PropertiesState, TwinState};
pub use sync::{
    DesiredChanged, DesiredSync, OutboxError, ReportOutcome, ReportedOutbox, SyncCommand,
    SyncError, SyncInput, SyncState, Ticket,
};
pub use timestamp::{Timestamp, TimestampError};
pub use topic::{
    DeviceTopic, HubTopic, PropertyError, TopicError, TopicProperties, TwinSubscription,
};
pub use twin::{ServiceWriteOutcome, Twin};
pub use version::TwinVersion;
