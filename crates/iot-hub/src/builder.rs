//! [`HubBuilder`]: the hub's settings, validated once in [`HubBuilder::start`].

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use iot_protocol::{HostName, SharedAccessPolicy};
use iot_twin::Limits;

use crate::core::Settings;
use crate::store::Durability;
use crate::{Hub, HubError, TlsConfig};

/// How the MQTT endpoint and the REST API are reached.
#[derive(Debug, Clone, Default)]
enum Transport {
    /// Not chosen: TLS is the default, so `start` asks for a certificate.
    #[default]
    Unset,
    Tls(TlsConfig),
    Plain,
}

/// Where the hub keeps its state.
#[derive(Debug, Clone, Default)]
enum Storage {
    /// Nothing survives the hub.
    #[default]
    Memory,
    /// SQLite in this directory.
    Dir(PathBuf),
}

/// Settings for a [`Hub`]; [`HubBuilder::start`] validates them and starts it.
///
/// Defaults follow IoT Hub: MQTT over TLS on `0.0.0.0:8883`, the REST API over HTTPS on
/// `0.0.0.0:443`, host name `localhost`, the five shared access policies of a new IoT hub, at
/// most 50 queued cloud-to-device messages per device kept for an hour, IoT Hub's twin limits,
/// finished jobs kept 30 days; state in memory until [`HubBuilder::data_dir`] is given. Where a
/// local hub is better off otherwise it says so: 10 jobs may run at once (IoT Hub S1: 1), each
/// on 16 devices at a time, and configurations are evaluated every 5 s (IoT Hub: 5 minutes).
///
/// ```no_run
/// # async fn run() -> Result<(), iot_hub::HubError> {
/// let hub = iot_hub::Hub::builder()
///     .mqtt_addr("127.0.0.1:0".parse().unwrap())
///     .rest_addr("127.0.0.1:0".parse().unwrap())
///     .plain_tcp()
///     .in_memory()
///     .start()
///     .await?;
/// println!("MQTT on {}, REST on {}", hub.mqtt_addr(), hub.rest_addr());
/// hub.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `start`"]
pub struct HubBuilder {
    mqtt_addr: SocketAddr,
    rest_addr: Option<SocketAddr>,
    transport: Transport,
    storage: Storage,
    durability: Durability,
    host_name: String,
    policies: Vec<SharedAccessPolicy>,
    settings: Settings,
}

/// Everything [`Hub::start`] needs, validated.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) host: HostName,
    pub(crate) settings: Settings,
    pub(crate) storage: Option<(PathBuf, Durability)>,
    pub(crate) mqtt_addr: SocketAddr,
    pub(crate) rest_addr: SocketAddr,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) policies: Vec<SharedAccessPolicy>,
}

impl Default for HubBuilder {
    fn default() -> Self {
        Self {
            mqtt_addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 8883)),
            rest_addr: None,
            transport: Transport::Unset,
            storage: Storage::Memory,
            durability: Durability::default(),
            host_name: "localhost".to_owned(),
            policies: Vec::new(),
            settings: Settings {
                limits: Limits::default(),
                max_queued_messages: 50,
                message_ttl: Duration::from_secs(3600),
                outbound_capacity: 256,
                connect_timeout: Duration::from_secs(30),
                telemetry_capacity: 1024,
                job_concurrency: 16,
                max_active_jobs: 10,
                job_retention: Duration::from_secs(30 * 24 * 3600),
                configuration_interval: Duration::from_secs(5),
            },
        }
    }
}

impl HubBuilder {
    /// The address the MQTT endpoint listens on (default `0.0.0.0:8883`; port 0 picks a free
    /// port, see [`Hub::mqtt_addr`]).
    pub fn mqtt_addr(mut self, addr: SocketAddr) -> Self {
        self.mqtt_addr = addr;
        self
    }

    /// The address the REST API listens on (see [`Hub::rest_addr`]).
    ///
    /// When it is not set, the REST API listens on the IP of [`HubBuilder::mqtt_addr`], on port
    /// 443 (where the Node service SDK expects it), so `0.0.0.0:443` by default; or on a free
    /// port when the MQTT address asks for one (port 0): a hub started on free ports for a test
    /// should not reach for a privileged, fixed one.
    pub fn rest_addr(mut self, addr: SocketAddr) -> Self {
        self.rest_addr = Some(addr);
        self
    }

    /// Serves MQTT and the REST API over TLS with this certificate (the default transport).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.transport = Transport::Tls(tls);
        self
    }

    /// Serves MQTT over plain TCP and the REST API over plain HTTP. An explicit choice, for
    /// tests and loopback use: the official SDKs connect only over TLS.
    pub fn plain_tcp(mut self) -> Self {
        self.transport = Transport::Plain;
        self
    }

    /// Keeps all state in memory (the default).
    pub fn in_memory(mut self) -> Self {
        self.storage = Storage::Memory;
        self
    }

    /// Keeps state in an SQLite database in `dir` (created if missing), which one hub at a
    /// time may use.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage = Storage::Dir(dir.into());
        self
    }

    /// How much an acknowledged write survives (default [`Durability::Process`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The hub's host name: `HostName` in connection strings, the host devices put in their
    /// MQTT username and the scope of SAS tokens (default `localhost`).
    pub fn host_name(mut self, host_name: impl Into<String>) -> Self {
        self.host_name = host_name.into();
        self
    }

    /// Sets a shared access policy, replacing the hub's policy of the same name or adding one.
    ///
    /// A new hub has IoT Hub's five default policies with generated keys (see
    /// [`SharedAccessPolicy::HUB_DEFAULTS`]); policies are stored, so one set here stays after
    /// a restart on the same data directory even without this call. At most 16 policies.
    pub fn shared_access_policy(mut self, policy: SharedAccessPolicy) -> Self {
        self.policies.retain(|p| p.name() != policy.name());
        self.policies.push(policy);
        self
    }

    /// How long an undelivered cloud-to-device message without its own expiry stays queued
    /// (default one hour).
    pub fn message_ttl(mut self, ttl: Duration) -> Self {
        self.settings.message_ttl = ttl;
        self
    }

    /// The most cloud-to-device messages queued per device (default 50, IoT Hub's limit).
    pub fn max_queued_messages(mut self, max: usize) -> Self {
        self.settings.max_queued_messages = max;
        self
    }

    /// How many messages the hub queues for one connection before it disconnects the device as
    /// too slow (default 256).
    pub fn outbound_queue(mut self, capacity: usize) -> Self {
        self.settings.outbound_capacity = capacity;
        self
    }

    /// How long a new connection has to send CONNECT (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// The twin limits (default IoT Hub's).
    pub fn twin_limits(mut self, limits: Limits) -> Self {
        self.settings.limits = limits;
        self
    }

    /// How many telemetry messages a subscriber may fall behind before it loses the oldest
    /// (default 1024).
    pub fn telemetry_buffer(mut self, capacity: usize) -> Self {
        self.settings.telemetry_capacity = capacity;
        self
    }

    /// How many devices one job works on at a time (default 16): how many method calls or
    /// twin writes of a job are in flight together.
    pub fn job_concurrency(mut self, devices: usize) -> Self {
        self.settings.job_concurrency = devices;
        self
    }

    /// How many jobs run at a time (default 10, IoT Hub's S3 limit; S1 allows 1). A job whose
    /// start time comes while as many run waits, `queued`, for one to end.
    pub fn max_active_jobs(mut self, jobs: usize) -> Self {
        self.settings.max_active_jobs = jobs;
        self
    }

    /// How long a finished job and its device rows are kept (default 30 days, as on IoT Hub).
    pub fn job_retention(mut self, retention: Duration) -> Self {
        self.settings.job_retention = retention;
        self
    }

    /// The longest time between two evaluations of the configurations (default 5 s). An
    /// evaluation also runs right after a configuration is created, updated or deleted; IoT
    /// Hub evaluates every 5 minutes.
    pub fn configuration_interval(mut self, interval: Duration) -> Self {
        self.settings.configuration_interval = interval;
        self
    }

    /// Validates the settings, opens the store, binds the MQTT and REST ports and starts
    /// serving.
    ///
    /// # Errors
    /// [`HubError::InvalidConfig`] for an invalid setting (an unparsable host name, no
    /// transport chosen, a zero limit, more than 16 policies), [`HubError::Store`] when the
    /// data directory cannot be used, [`HubError::Bind`] when a port cannot be bound.
    pub async fn start(self) -> Result<Hub, HubError> {
        let host = HostName::parse(&self.host_name).map_err(|e| HubError::InvalidConfig {
            setting: "host_name",
            rule: e.to_string(),
        })?;
        let tls = match self.transport {
            Transport::Tls(tls) => Some(tls),
            Transport::Plain => None,
            Transport::Unset => {
                return Err(HubError::InvalidConfig {
                    setting: "transport",
                    rule: "must be chosen: TLS with `tls(..)` (IoT Hub's only transport) or \
                           `plain_tcp()`"
                        .into(),
                });
            }
        };
        check_settings(&self.settings)?;
        let storage = match self.storage {
            Storage::Memory => None,
            Storage::Dir(dir) => Some((dir, self.durability)),
        };
        let rest_addr = self
            .rest_addr
            .unwrap_or_else(|| default_rest_addr(self.mqtt_addr));
        Hub::start(Plan {
            host,
            settings: self.settings,
            storage,
            mqtt_addr: self.mqtt_addr,
            rest_addr,
            tls,
            policies: self.policies,
        })
        .await
    }
}

/// The REST address when none is set: the MQTT address's IP, port 443, or a free port when
/// MQTT takes a free port.
fn default_rest_addr(mqtt_addr: SocketAddr) -> SocketAddr {
    let port = if mqtt_addr.port() == 0 { 0 } else { 443 };
    SocketAddr::new(mqtt_addr.ip(), port)
}

fn check_settings(settings: &Settings) -> Result<(), HubError> {
    let positive = [
        ("max_queued_messages", settings.max_queued_messages),
        ("outbound_queue", settings.outbound_capacity),
        ("telemetry_buffer", settings.telemetry_capacity),
        ("job_concurrency", settings.job_concurrency),
        ("max_active_jobs", settings.max_active_jobs),
    ];
    for (setting, value) in positive {
        if value == 0 {
            return Err(HubError::InvalidConfig {
                setting,
                rule: "must be at least 1".into(),
            });
        }
    }
    if settings.connect_timeout.is_zero()
        || settings.message_ttl.is_zero()
        || settings.configuration_interval.is_zero()
    {
        return Err(HubError::InvalidConfig {
            setting: "connect_timeout / message_ttl / configuration_interval",
            rule: "must be longer than zero".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("a valid address")
    }

    #[test]
    fn rest_takes_the_mqtt_ip_and_443_or_a_free_port() {
        assert_eq!(default_rest_addr(addr("0.0.0.0:8883")), addr("0.0.0.0:443"));
        assert_eq!(
            default_rest_addr(addr("127.0.0.1:18883")),
            addr("127.0.0.1:443")
        );
        assert_eq!(default_rest_addr(addr("127.0.0.1:0")), addr("127.0.0.1:0"));
        assert_eq!(default_rest_addr(addr("[::1]:0")), addr("[::1]:0"));
    }
}
