//! The IoT Hub wire contract shared by the device SDK, the service SDK and the local hub:
//! identities, connection strings, SAS tokens, MQTT usernames, message property bags and
//! topics, `If-Match`, REST models and error codes.
//!
//! The crate is pure: no I/O, no clock (times are arguments), no random numbers (callers pass
//! random bytes in). Every parser has an emitter and they round-trip; secrets never appear in
//! `Debug` or `Display`.
//!
//! ```
//! use iot_protocol::{DeviceConnectionString, MqttUsername, ResourceUri, SasToken, SharedAccessKey};
//! use iot_twin::Timestamp;
//!
//! // A device builds its MQTT CONNECT from its connection string...
//! let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
//! let cs: DeviceConnectionString =
//!     format!("HostName=myhub.azure-devices.net;DeviceId=device1;SharedAccessKey={key}")
//!         .parse()
//!         .unwrap();
//! let username = MqttUsername::new(cs.host_name().clone(), cs.identity().clone());
//! let password = cs.sas_token(1_700_000_000).unwrap().to_secret_string();
//! assert_eq!(username.to_string(), "myhub.azure-devices.net/device1/?api-version=2021-04-12");
//!
//! // ...and the hub checks both with the same code.
//! let username: MqttUsername = username.to_string().parse().unwrap();
//! let token: SasToken = password.parse().unwrap();
//! let registered: SharedAccessKey = key.parse().unwrap();
//! let accessed = ResourceUri::for_identity(username.host(), username.identity());
//! let now = Timestamp::from_unix_seconds(1_699_999_000).unwrap();
//! assert!(token.verify([&registered], &accessed, now).is_ok());
//! ```
//!
//! # Layout
//!
//! - Identities: [`DeviceId`], [`ModuleId`], [`Identity`] (also the MQTT client id),
//!   [`HostName`]; [`JobId`] and [`ConfigurationId`] for jobs and configurations.
//! - Secrets and tokens: [`SharedAccessKey`], [`SasToken`], [`ResourceUri`],
//!   [`SharedAccessPolicy`] with [`AccessRights`].
//! - Connection strings: [`DeviceConnectionString`] with [`DeviceCredential`],
//!   [`ServiceConnectionString`].
//! - MQTT: [`MqttUsername`], [`MessageProperties`], [`MessageTopic`].
//! - REST: [`IfMatch`], [`DeviceEtag`], the models ([`Device`], [`Module`], [`JobRequest`],
//!   [`JobResponse`], [`DeviceJob`], [`Configuration`], [`QuerySpecification`], statistics)
//!   and the device rule they carry ([`check_status_reason`]),
//!   [`ErrorCode`], [`ErrorBody`], [`ErrorDetail`]. The registry's value types
//!   ([`DeviceStatus`], [`ConnectionState`], [`AuthenticationType`], [`X509Thumbprint`],
//!   [`Capabilities`]) are `iot_twin`'s, re-exported: twins and identities share them.
//! - Device management: [`patterns`], the names and reported shapes of the reboot,
//!   factory-reset and configuration patterns.
//! - Errors: [`ProtocolError`] for input that breaks a format, [`SasError`] for tokens that
//!   parse but do not grant access.
#![forbid(unsafe_code)]

mod configuration_id;
mod connection_string;
mod encoding;
mod error;
mod error_body;
mod error_code;
mod etag;
mod host;
mod id;
mod identity;
mod if_match;
mod key;
mod message;
mod models;
pub mod patterns;
mod policy;
mod resource;
mod sas;
mod topic;
mod username;

pub use configuration_id::ConfigurationId;
pub use connection_string::{DeviceConnectionString, DeviceCredential, ServiceConnectionString};
pub use error::{ProtocolError, SasError};
pub use error_body::{ErrorBody, ErrorDetail};
pub use error_code::ErrorCode;
pub use etag::DeviceEtag;
pub use host::HostName;
pub use id::{DeviceId, JobId, MAX_ID_LEN, ModuleId};
pub use identity::Identity;
pub use if_match::IfMatch;
/// The registry's value types, defined once in `iot_twin` (a twin document shows them too).
pub use iot_twin::{
    AuthenticationType, Capabilities, ConnectionState, DeviceStatus, X509Thumbprint,
};
pub use key::{GENERATED_KEY_LEN, SharedAccessKey};
pub use message::{Ack, AppProperty, MessageProperties};
pub use models::{
    AuthenticationMechanism, Configuration, ConfigurationContent, ConfigurationMetrics,
    ConfigurationQueriesTestInput, ConfigurationQueriesTestResponse, Device, DeviceJob,
    DeviceJobError, DeviceJobOutcome, DeviceJobStatistics, DeviceJobStatus, JobRequest,
    JobResponse, JobStatus, JobType, MAX_STATUS_REASON_LEN, Module, PurgeMessageQueueResult,
    QuerySpecification, RegistryStatistics, ServiceStatistics, SymmetricKey, check_status_reason,
};
pub use policy::{AccessRights, SharedAccessPolicy};
pub use resource::ResourceUri;
pub use sas::SasToken;
pub use topic::MessageTopic;
pub use username::MqttUsername;
