//! [`Hub`]: a running hub and its in-process API.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use iot_methods::{MethodInvocation, MethodResult};
use iot_protocol::{
    DeviceConnectionString, DeviceCredential, DeviceId, HostName, Identity,
    ServiceConnectionString, SharedAccessPolicy,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::builder::Plan;
use crate::core::Core;
use crate::mqtt::listener;
use crate::store::Store;
use crate::{
    CloudToDeviceMessage, Configurations, HubBuilder, HubError, Jobs, MethodCallError, Registry,
    TelemetryStream, Twins, configurations, jobs, methods, rest,
};

/// A running hub: the MQTT endpoint devices connect to, the REST API back ends call, and the
/// back end's in-process API.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use iot_hub::{DeviceOptions, Hub};
///
/// let hub = Hub::builder()
///     .mqtt_addr("127.0.0.1:0".parse()?)
///     .rest_addr("127.0.0.1:0".parse()?)
///     .plain_tcp()
///     .in_memory()
///     .start()
///     .await?;
/// let id = "sensor-1".parse()?;
/// hub.registry().create_device(&id, DeviceOptions::default()).await?;
/// let cs = hub.device_connection_string(&id)?;
/// assert!(cs.to_secret_string().starts_with("HostName=localhost;DeviceId=sensor-1;SharedAccessKey="));
/// hub.shutdown().await;
/// # Ok(())
/// # }
/// ```
///
/// Dropping the hub without [`Hub::shutdown`] still stops it, without waiting.
#[derive(Debug)]
pub struct Hub {
    core: Arc<Core>,
    mqtt_addr: SocketAddr,
    rest_addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Hub {
    /// Settings for a new hub.
    pub fn builder() -> HubBuilder {
        HubBuilder::default()
    }

    pub(crate) async fn start(plan: Plan) -> Result<Self, HubError> {
        let (store, snapshot) = match plan.storage {
            Some((dir, durability)) => Store::open(&dir, durability)?,
            None => Store::memory(),
        };
        let (methods, driver) = methods::channel();
        let (core, ops) = Core::load(
            plan.host,
            plan.settings,
            store,
            snapshot,
            methods,
            plan.policies,
        )?;
        let core = Arc::new(core);
        let bound = async {
            core.store.commit(ops).await?;
            let mqtt = listener::bind(plan.mqtt_addr).await?;
            let rest = rest::bind(plan.rest_addr).await?;
            Ok::<_, HubError>((mqtt, rest))
        };
        let (mqtt, rest) = match bound.await {
            Ok(listeners) => listeners,
            Err(error) => {
                core.store.close().await;
                return Err(error);
            }
        };
        let mqtt_addr = local_addr(&mqtt, plan.mqtt_addr)?;
        let rest_addr = local_addr(&rest, plan.rest_addr)?;
        let (stop, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(driver.run(Arc::downgrade(&core), stopped.clone())),
            tokio::spawn(listener::run(
                Arc::clone(&core),
                mqtt,
                plan.tls.clone(),
                stopped.clone(),
            )),
            tokio::spawn(rest::run(
                Arc::clone(&core),
                rest,
                plan.tls,
                stopped.clone(),
            )),
            tokio::spawn(jobs::supervisor::run(Arc::clone(&core), stopped.clone())),
            tokio::spawn(configurations::run(Arc::clone(&core), stopped)),
        ];
        tracing::info!(%mqtt_addr, %rest_addr, host = %core.host, "hub started");
        Ok(Self {
            core,
            mqtt_addr,
            rest_addr,
            stop,
            tasks: Mutex::new(tasks),
        })
    }

    /// The address the MQTT endpoint is bound to (with the actual port when port 0 was asked).
    pub fn mqtt_addr(&self) -> SocketAddr {
        self.mqtt_addr
    }

    /// The address the REST API is bound to (with the actual port when port 0 was asked).
    pub fn rest_addr(&self) -> SocketAddr {
        self.rest_addr
    }

    /// The hub's host name.
    pub fn host_name(&self) -> &HostName {
        &self.core.host
    }

    /// The identity registry.
    pub fn registry(&self) -> Registry {
        Registry::new(Arc::clone(&self.core))
    }

    /// Service-side twin operations.
    pub fn twins(&self) -> Twins {
        Twins::new(Arc::clone(&self.core))
    }

    /// Scheduled jobs.
    pub fn jobs(&self) -> Jobs {
        Jobs::new(Arc::clone(&self.core))
    }

    /// Automatic device management configurations.
    pub fn configurations(&self) -> Configurations {
        Configurations::new(Arc::clone(&self.core))
    }

    /// The connection string of a registered device: with its primary key for a device using
    /// shared access keys, with `x509=true` for a self-signed X.509 device.
    ///
    /// # Errors
    /// [`HubError::DeviceNotFound`].
    pub fn device_connection_string(
        &self,
        id: &DeviceId,
    ) -> Result<DeviceConnectionString, HubError> {
        let entry = self.core.entry(id)?;
        let key = entry
            .read()
            .device
            .authentication
            .as_ref()
            .and_then(|auth| auth.symmetric_key.as_ref())
            .and_then(|keys| keys.primary_key.clone());
        let credential = match key {
            Some(key) => DeviceCredential::SharedAccessKey {
                key,
                policy_name: None,
            },
            None => DeviceCredential::X509,
        };
        Ok(DeviceConnectionString::new(
            self.core.host.clone(),
            Identity::device(id.clone()),
            credential,
        ))
    }

    /// The connection string of the `iothubowner` policy, for back-end clients. `Some` for
    /// every hub: policies are only added or replaced by name, so `iothubowner` always exists.
    pub fn service_connection_string(&self) -> Option<ServiceConnectionString> {
        self.policy_connection_string("iothubowner")
    }

    /// The connection string of the shared access policy `name` (names compare exactly), or
    /// `None` when the hub has no such policy.
    pub fn policy_connection_string(&self, name: &str) -> Option<ServiceConnectionString> {
        self.core
            .policies
            .iter()
            .find(|policy| policy.name() == name)
            .map(|policy| ServiceConnectionString::for_policy(self.core.host.clone(), policy))
    }

    /// The hub's shared access policies: IoT Hub's five defaults and those set with
    /// [`HubBuilder::shared_access_policy`]. `Debug` never shows their keys.
    pub fn shared_access_policies(&self) -> &[SharedAccessPolicy] {
        &self.core.policies
    }

    /// Calls a direct method on a device and waits for its answer.
    ///
    /// The device must be connected and subscribed to `$iothub/methods/POST/#` within the
    /// invocation's connect timeout, and answer within its response timeout.
    ///
    /// # Errors
    /// [`MethodCallError::DeviceNotFound`], [`MethodCallError::DeviceNotOnline`],
    /// [`MethodCallError::Timeout`], or [`MethodCallError::Stopped`].
    pub async fn invoke_method(
        &self,
        id: &DeviceId,
        invocation: MethodInvocation,
    ) -> Result<MethodResult, MethodCallError> {
        self.core.invoke_method(id, invocation).await
    }

    /// Queues a cloud-to-device message; it is delivered while the device is connected and
    /// subscribed, and stays queued (and stored) until the device acknowledges it or it expires.
    ///
    /// # Errors
    /// [`HubError::DeviceNotFound`], [`HubError::MessageTooLarge`] over 64 KB,
    /// [`HubError::QueueFull`], or [`HubError::Store`].
    pub async fn send_cloud_to_device(
        &self,
        id: &DeviceId,
        message: CloudToDeviceMessage,
    ) -> Result<(), HubError> {
        self.core.send_cloud_to_device(id, message).await
    }

    /// A stream of the telemetry devices send from now on (see [`TelemetryStream`]).
    pub fn telemetry(&self) -> TelemetryStream {
        self.core.subscribe_telemetry()
    }

    /// Stops accepting connections, closes every connection, ends the telemetry streams,
    /// finishes pending commits and closes the store.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let tasks = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for task in tasks {
            // A task that panicked has nothing left to stop.
            let _ = task.await;
        }
        self.core.close_telemetry();
        self.core.store.close().await;
        tracing::info!("hub stopped");
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// The bound address of a listener.
fn local_addr(listener: &TcpListener, asked: SocketAddr) -> Result<SocketAddr, HubError> {
    listener.local_addr().map_err(|source| HubError::Bind {
        addr: asked,
        source,
        hint: "the socket has no local address",
    })
}
