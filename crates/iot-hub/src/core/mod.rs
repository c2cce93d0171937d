//! The hub's core: the working set of devices, the store, the telemetry fan-out and the
//! method-call driver. The in-process API ([`crate::Registry`], [`crate::Twins`],
//! [`crate::Hub`]) and the MQTT endpoint both call into it, so that every rule is applied in
//! one place whichever way a request arrives.

mod device;
mod load;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use iot_protocol::{DeviceId, HostName, SharedAccessPolicy};
use iot_twin::{Limits, Timestamp};
use tokio::sync::broadcast;

use crate::HubError;
use crate::configurations::ConfigBook;
use crate::jobs::JobBook;
use crate::methods::MethodsHandle;
use crate::store::Store;
use crate::telemetry::TelemetryMessage;

pub(crate) use device::{DeviceEntry, DeviceState};

/// Settings the core applies, fixed at start.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Twin limits.
    pub(crate) limits: Limits,
    /// The most cloud-to-device messages queued per device.
    pub(crate) max_queued_messages: usize,
    /// How long a cloud-to-device message without its own expiry stays queued.
    pub(crate) message_ttl: Duration,
    /// Capacity of each connection's outbound queue.
    pub(crate) outbound_capacity: usize,
    /// How long a new connection has to send CONNECT.
    pub(crate) connect_timeout: Duration,
    /// How many telemetry messages a slow subscriber may fall behind before losing some.
    pub(crate) telemetry_capacity: usize,
    /// How many devices one job works on at a time.
    pub(crate) job_concurrency: usize,
    /// How many jobs run at a time.
    pub(crate) max_active_jobs: usize,
    /// How long finished jobs are kept.
    pub(crate) job_retention: Duration,
    /// The longest time between two configuration evaluations.
    pub(crate) configuration_interval: Duration,
}

/// The shared state behind every handle.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) host: HostName,
    pub(crate) settings: Settings,
    pub(crate) store: Store,
    devices: RwLock<HashMap<DeviceId, Arc<DeviceEntry>>>,
    /// Serializes creating and deleting devices (rare; keeps two creates of one id apart).
    pub(crate) registry_lock: tokio::sync::Mutex<()>,
    pub(crate) policies: Vec<SharedAccessPolicy>,
    /// The telemetry fan-out; `None` once the hub has shut down, which ends every stream.
    pub(crate) telemetry: RwLock<Option<broadcast::Sender<TelemetryMessage>>>,
    pub(crate) methods: MethodsHandle,
    /// Scheduled jobs and their rows.
    pub(crate) jobs: JobBook,
    /// Automatic device management configurations.
    pub(crate) configurations: ConfigBook,
    next_connection: AtomicU64,
}

impl Core {
    /// The device's entry, or [`HubError::DeviceNotFound`].
    pub(crate) fn entry(&self, device_id: &DeviceId) -> Result<Arc<DeviceEntry>, HubError> {
        self.find(device_id)
            .ok_or_else(|| HubError::DeviceNotFound {
                device_id: device_id.clone(),
            })
    }

    /// The device's entry, if registered.
    pub(crate) fn find(&self, device_id: &DeviceId) -> Option<Arc<DeviceEntry>> {
        self.devices
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(device_id)
            .cloned()
    }

    /// Every registered device, in id order.
    pub(crate) fn entries(&self) -> Vec<(DeviceId, Arc<DeviceEntry>)> {
        let mut all: Vec<_> = self
            .devices
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(id, entry)| (id.clone(), Arc::clone(entry)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Adds a device to the working set (after its creation was committed).
    pub(crate) fn insert(&self, device_id: DeviceId, entry: Arc<DeviceEntry>) {
        self.devices
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(device_id, entry);
    }

    /// Removes a device from the working set (after its deletion was committed).
    pub(crate) fn remove(&self, device_id: &DeviceId) {
        self.devices
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(device_id);
    }

    /// A fresh connection id.
    pub(crate) fn next_connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }
}

/// The current time. The hub is the one place that reads the clock; the pure crates take it
/// as an argument.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A tracking id for an error answer: 32 random hex digits.
pub(crate) fn tracking_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
