//! [`Resource`]: what a failed request was about, as errors name it.

use std::fmt;

use iot_protocol::{ConfigurationId, DeviceId, JobId};

/// The device, job or configuration a request was about, so that an error can say which
/// (`device "pump-7" not found`, `job "reboot-ring-b" not found`).
///
/// ```
/// use iot_service_sdk::Resource;
///
/// let job = Resource::Job("reboot-ring-b".parse().unwrap());
/// assert_eq!(job.to_string(), "job \"reboot-ring-b\"");
/// assert_eq!(job.device_id(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// A device (its identity, twin or methods).
    Device(DeviceId),
    /// A job.
    Job(JobId),
    /// An automatic device management configuration.
    Configuration(ConfigurationId),
}

impl Resource {
    /// The device, when the request was about one.
    pub fn device_id(&self) -> Option<&DeviceId> {
        match self {
            Self::Device(id) => Some(id),
            Self::Job(_) | Self::Configuration(_) => None,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Device(id) => write!(f, "device {:?}", id.as_str()),
            Self::Job(id) => write!(f, "job {:?}", id.as_str()),
            Self::Configuration(id) => write!(f, "configuration {:?}", id.as_str()),
        }
    }
}
