//! [`DeviceOptions`]: everything a [`crate::DeviceClient`] needs, checked once by
//! [`DeviceOptionsBuilder::build`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use iot_methods::Router;
use iot_protocol::{HostName, Identity, ResourceUri};
use rustls::ClientConfig;

use crate::RetryPolicy;

mod auth;
mod builder;
mod endpoint;
mod tls;

pub(crate) use auth::Auth;
pub use builder::DeviceOptionsBuilder;

/// The port of IoT Hub's MQTT endpoint.
pub const DEFAULT_PORT: u16 = 8883;

/// The checked settings of a [`crate::DeviceClient`]: who the device is, how it
/// authenticates, where and how it connects, and how patient it is.
///
/// Made by [`DeviceOptions::from_connection_string`] or [`DeviceOptions::builder`], then
/// [`DeviceOptionsBuilder::build`]. Cheap to clone; `Debug` shows no secret.
///
/// ```
/// use std::time::Duration;
/// use iot_device_sdk::DeviceOptions;
///
/// let options = DeviceOptions::from_connection_string(
///     "HostName=myhub.azure-devices.net;DeviceId=pump-7;\
///      SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
/// )
/// .keep_alive(Duration::from_secs(120))
/// .operation_timeout(Duration::from_secs(10))
/// .build()?;
/// assert_eq!(options.identity().to_string(), "pump-7");
/// assert_eq!(options.endpoint(), ("myhub.azure-devices.net", 8883));
/// assert!(!format!("{options:?}").contains("AAEC"));
/// # Ok::<(), iot_device_sdk::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct DeviceOptions {
    pub(crate) host_name: HostName,
    pub(crate) identity: Identity,
    pub(crate) auth: Auth,
    pub(crate) endpoint_host: String,
    pub(crate) endpoint_port: u16,
    /// `None` for plain TCP.
    pub(crate) tls: Option<Arc<ClientConfig>>,
    pub(crate) username: String,
    pub(crate) keep_alive: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) operation_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) handlers: Router,
    pub(crate) message_queue: usize,
    pub(crate) request_queue: usize,
}

impl DeviceOptions {
    /// Starts options from a device or module connection string
    /// (`HostName=...;DeviceId=...;SharedAccessKey=...`, or with `SharedAccessSignature=...`,
    /// `x509=true`, `ModuleId=...`, `GatewayHostName=...`). The string is parsed by
    /// [`DeviceOptionsBuilder::build`].
    pub fn from_connection_string(connection_string: &str) -> DeviceOptionsBuilder {
        DeviceOptionsBuilder::from_connection_string(connection_string)
    }

    /// Starts options from parts: the hub's host name (`myhub.azure-devices.net`) and the
    /// device id. Give a credential with [`DeviceOptionsBuilder::shared_access_key`],
    /// [`DeviceOptionsBuilder::sas_token`] or [`DeviceOptionsBuilder::x509`].
    pub fn builder(host_name: &str, device_id: &str) -> DeviceOptionsBuilder {
        DeviceOptionsBuilder::from_parts(host_name, device_id)
    }

    /// The hub's host name: the one in the MQTT username and the SAS token's scope.
    pub fn host_name(&self) -> &HostName {
        &self.host_name
    }

    /// The device or module.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Where the TCP connection goes: host and port.
    pub fn endpoint(&self) -> (&str, u16) {
        (&self.endpoint_host, self.endpoint_port)
    }

    /// Whether the connection uses TLS (always, unless plain TCP was asked for).
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The MQTT username sent in CONNECT.
    pub fn mqtt_username(&self) -> &str {
        &self.username
    }

    /// The MQTT keep-alive interval.
    pub fn keep_alive(&self) -> Duration {
        self.keep_alive
    }

    /// The backoff between connection attempts and throttled requests.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// How long an operation may take, from the call to the hub's answer.
    pub fn operation_timeout(&self) -> Duration {
        self.operation_timeout
    }

    /// How long connecting and subscribing may take.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The SAS resource of the identity.
    pub(crate) fn resource(&self) -> ResourceUri {
        ResourceUri::for_identity(&self.host_name, &self.identity)
    }
}

impl fmt::Debug for DeviceOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceOptions")
            .field("host_name", &self.host_name)
            .field("identity", &self.identity)
            .field("auth", &self.auth)
            .field("endpoint", &self.endpoint())
            .field("tls", &self.uses_tls())
            .field("keep_alive", &self.keep_alive)
            .field("retry", &self.retry)
            .field("operation_timeout", &self.operation_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("methods", &self.handlers)
            .field("method_fallback", &self.handlers.has_fallback())
            .field("message_queue", &self.message_queue)
            .field("request_queue", &self.request_queue)
            .finish()
    }
}

#[cfg(test)]
mod tests;
