//! [`Registry`]: the identity registry's operations, as the REST API and the in-process API
//! use them.

use std::sync::Arc;

use iot_protocol::{
    ConnectionState, Device, DeviceEtag, DeviceId, DeviceStatus, IfMatch, RegistryStatistics,
    ServiceStatistics,
};
use iot_twin::Twin;

use crate::core::{Core, DeviceEntry, DeviceState, now};
use crate::session::{CloseReason, Session};
use crate::store::Op;
use crate::{DeviceOptions, HubError};

/// The hub's identity registry: create, read, update, delete and enable or disable devices.
///
/// Creating a device creates its twin; deleting it deletes the twin, its session and its queued
/// messages. Disabling or deleting a connected device disconnects it. Every change is committed
/// to the store before the call returns. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Registry {
    core: Arc<Core>,
}

impl Registry {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Registers device `id`; keys are generated unless `options` gives them.
    ///
    /// # Errors
    /// [`HubError::DeviceAlreadyExists`], or [`HubError::Store`] when the commit fails.
    pub async fn create_device(
        &self,
        id: &DeviceId,
        options: DeviceOptions,
    ) -> Result<Device, HubError> {
        let _registry = self.core.registry_lock.lock().await;
        if self.core.find(id).is_some() {
            return Err(HubError::DeviceAlreadyExists {
                device_id: id.clone(),
            });
        }
        let now = now();
        let device = options.into_device(id, now);
        let twin = Twin::new(id.as_str(), None, now);
        self.core
            .store
            .commit(vec![device_op(&device)?, twin_op(&twin)?])
            .await?;
        let state = DeviceState::new(device, twin, Session::default());
        let entry = Arc::new(DeviceEntry::new(state));
        let view = device_view(&entry, &entry.read());
        self.core.insert(id.clone(), entry);
        Ok(view)
    }

    /// The device's registry record, with its connection state.
    ///
    /// # Errors
    /// [`HubError::DeviceNotFound`].
    pub fn get_device(&self, id: &DeviceId) -> Result<Device, HubError> {
        let entry = self.core.entry(id)?;
        let state = entry.read();
        Ok(device_view(&entry, &state))
    }

    /// Every registered device, in id order.
    pub fn list_devices(&self) -> Vec<Device> {
        self.core
            .entries()
            .iter()
            .map(|(_, entry)| device_view(entry, &entry.read()))
            .collect()
    }

    /// How many devices are registered, enabled and disabled (`GET /statistics/devices`).
    pub fn statistics(&self) -> RegistryStatistics {
        let mut statistics = RegistryStatistics::default();
        for (_, entry) in self.core.entries() {
            statistics.total_device_count += 1;
            if entry.read().device.status == Some(DeviceStatus::Disabled) {
                statistics.disabled_device_count += 1;
            } else {
                statistics.enabled_device_count += 1;
            }
        }
        statistics
    }

    /// How many devices are connected now (`GET /statistics/service`).
    pub fn service_statistics(&self) -> ServiceStatistics {
        let connected = self
            .core
            .entries()
            .iter()
            .filter(|(_, entry)| entry.read().connection_state() == ConnectionState::Connected)
            .count();
        ServiceStatistics {
            connected_device_count: connected as u64,
        }
    }

    /// Replaces a device's status and authentication with those of `device` (a registry `PUT`
    /// with `If-Match`); its etag advances. Absent keys are generated.
    ///
    /// # Errors
    /// [`HubError::DeviceNotFound`], [`HubError::PreconditionFailed`] when `if_match` does not
    /// match, [`HubError::InvalidDevice`], or [`HubError::Store`].
    pub async fn update_device(
        &self,
        device: &Device,
        if_match: Option<&IfMatch>,
    ) -> Result<Device, HubError> {
        let options = DeviceOptions::from_device(device)?;
        self.modify(&device.device_id, if_match, |record, now| {
            options.apply_to(record, now);
        })
        .await
    }

    /// Enables or disables a device; disabling disconnects it.
    ///
    /// # Errors
    /// [`HubError::DeviceNotFound`] or [`HubError::Store`].
    pub async fn set_status(
        &self,
        id: &DeviceId,
        status: DeviceStatus,
    ) -> Result<Device, HubError> {
        self.modify(id, None, |record, now| {
            if record.status != Some(status) {
                record.status_updated_time = Some(now);
            }
            record.status = Some(status);
        })
        .await
    }

    /// Deletes a device, its twin, session and queued messages, and disconnects it.
    ///
    /// # Errors
    /// [`HubError::DeviceNotFound`], [`HubError::PreconditionFailed`], or [`HubError::Store`].
    pub async fn delete_device(
        &self,
        id: &DeviceId,
        if_match: Option<&IfMatch>,
    ) -> Result<(), HubError> {
        let _registry = self.core.registry_lock.lock().await;
        let entry = self.core.entry(id)?;
        let _write = entry.write.lock().await;
        check_etag(&entry.read().device, if_match)?;
        self.core
            .store
            .commit(vec![Op::DeleteDevice {
                id: id.as_str().to_owned(),
            }])
            .await?;
        let connection = {
            let mut state = entry.lock();
            state.deleted = true;
            state.session.connection.take()
        };
        if let Some(connection) = connection {
            connection.close(CloseReason::Revoked);
            self.core.methods.offline(id.clone());
        }
        self.core.remove(id);
        Ok(())
    }

    /// Applies `change` to the record under the device's write lock, advances the etag, commits,
    /// installs, and disconnects the device if it is now disabled.
    async fn modify(
        &self,
        id: &DeviceId,
        if_match: Option<&IfMatch>,
        change: impl FnOnce(&mut Device, iot_twin::Timestamp),
    ) -> Result<Device, HubError> {
        let entry = self.core.entry(id)?;
        let _write = entry.write.lock().await;
        let mut record = entry.read().device.clone();
        if entry.read().deleted {
            return Err(HubError::DeviceNotFound {
                device_id: id.clone(),
            });
        }
        check_etag(&record, if_match)?;
        change(&mut record, now());
        record.etag = Some(next_etag(&record).to_string());
        self.core.store.commit(vec![device_op(&record)?]).await?;
        let disabled = record.status == Some(DeviceStatus::Disabled);
        let connection = {
            let mut state = entry.lock();
            state.device = record;
            if disabled {
                state.session.connection.take()
            } else {
                None
            }
        };
        if let Some(connection) = connection {
            connection.close(CloseReason::Revoked);
            self.core.methods.offline(id.clone());
        }
        Ok(device_view(&entry, &entry.read()))
    }
}

/// The record as clients see it: with connection state, last activity and queue length.
pub(crate) fn device_view(entry: &DeviceEntry, state: &DeviceState) -> Device {
    let mut device = state.device.clone();
    device.connection_state = Some(state.connection_state());
    device.last_activity_time = Some(entry.last_activity());
    device.cloud_to_device_message_count = Some(state.messages.len() as u64);
    device
}

fn check_etag(device: &Device, if_match: Option<&IfMatch>) -> Result<(), HubError> {
    let current = device.etag.clone().unwrap_or_default();
    match if_match {
        Some(condition) if !condition.matches(&current) => Err(HubError::PreconditionFailed {
            resource: format!("device {}", device.device_id),
            current,
        }),
        _ => Ok(()),
    }
}

fn next_etag(device: &Device) -> DeviceEtag {
    device
        .etag
        .as_deref()
        .and_then(|etag| DeviceEtag::parse(etag).ok())
        .unwrap_or_else(|| DeviceEtag::from_counter(0))
        .next()
}

pub(crate) fn device_op(device: &Device) -> Result<Op, HubError> {
    let body = serde_json::to_string(device).map_err(|e| HubError::store("encode", e))?;
    Ok(Op::PutDevice {
        id: device.device_id.as_str().to_owned(),
        body,
    })
}

/// The first allocation for a twin's stored JSON: room for a small twin with its metadata, so
/// that encoding one does not grow the buffer four times from serde_json's 128 bytes.
const TWIN_BODY_CAPACITY: usize = 1024;

pub(crate) fn twin_op(twin: &Twin) -> Result<Op, HubError> {
    let mut body = Vec::with_capacity(TWIN_BODY_CAPACITY);
    serde_json::to_writer(&mut body, twin).map_err(|e| HubError::store("encode", e))?;
    let body = String::from_utf8(body).map_err(|e| HubError::store("encode", e))?;
    Ok(Op::PutTwin {
        id: twin.device_id().to_owned(),
        body,
    })
}
