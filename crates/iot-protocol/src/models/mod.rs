//! The JSON bodies of the service REST API (`api-version=2021-04-12`).
//!
//! Field names are exactly those on the wire. Unknown fields are ignored on input; fields a
//! client may omit are `Option`s, left out of the output when `None` (except where the real hub
//! writes an explicit `null`, noted on the field). Times are [`iot_twin::Timestamp`]s, written
//! as the hub prints them.

mod configuration;
mod device;
mod device_job;
mod job;
mod module;
mod query;
mod statistics;

pub use configuration::{
    Configuration, ConfigurationContent, ConfigurationMetrics, ConfigurationQueriesTestInput,
    ConfigurationQueriesTestResponse,
};
pub use device::{
    AuthenticationMechanism, Device, MAX_STATUS_REASON_LEN, SymmetricKey, check_status_reason,
};
pub use device_job::{DeviceJob, DeviceJobError, DeviceJobOutcome, DeviceJobStatus};
pub use job::{DeviceJobStatistics, JobRequest, JobResponse, JobStatus, JobType};
pub use module::Module;
pub use query::QuerySpecification;
pub use statistics::{PurgeMessageQueueResult, RegistryStatistics, ServiceStatistics};

use serde::{Deserialize, Deserializer};

/// Reads `null` as the type's default (an empty map), as lenient clients may send it.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
