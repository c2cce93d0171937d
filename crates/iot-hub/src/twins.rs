//! [`Twins`]: service-side twin reads and writes, and the device-side reported patch, with
//! desired-property notifications to connected devices.

use std::sync::Arc;

use bytes::Bytes;
use iot_protocol::{DeviceId, IfMatch};
use iot_twin::{
    DesiredNotification, DeviceStatus, Patch, SectionField, ServiceWrite, Twin, TwinVersion,
};

use crate::HubError;
use crate::core::{Core, DeviceEntry, DeviceState, now};
use crate::mqtt::twin_topic;
use crate::registry::twin_op;
use crate::session::{Feed, Outbound};

/// Twin operations of the back end: read, merge (`PATCH`) and replace (`PUT`) tags and desired
/// properties. Desired changes are sent to the device when it is connected and subscribed, in
/// version order. Every write is committed before the call returns. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Twins {
    core: Arc<Core>,
}

/// How a service write treats the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Patch,
    Put,
}

impl Twins {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The device's twin with its identity fields (status, connection state, ...).
    ///
    /// # Errors
    /// [`HubError::DeviceNotFound`].
    pub fn get(&self, id: &DeviceId) -> Result<Twin, HubError> {
        let entry = self.core.entry(id)?;
        let state = entry.read();
        Ok(twin_view(&entry, &state))
    }

    /// Merges the body's `tags` and `properties.desired` into the twin (a twin `PATCH`).
    ///
    /// # Errors
    /// [`HubError::DeviceNotFound`], [`HubError::PreconditionFailed`] when `if_match` does not
    /// match the twin's etag, [`HubError::Twin`] when the result breaks a twin rule (nothing is
    /// changed), or [`HubError::Store`].
    pub async fn update(
        &self,
        id: &DeviceId,
        write: &ServiceWrite,
        if_match: Option<&IfMatch>,
    ) -> Result<Twin, HubError> {
        self.write(id, write, if_match, Method::Patch).await
    }

    /// Replaces the twin's tags and desired properties with the body's (a twin `PUT`); the
    /// device is sent the new desired content with `null` for every key that disappeared.
    ///
    /// # Errors
    /// As [`Twins::update`].
    pub async fn replace(
        &self,
        id: &DeviceId,
        write: &ServiceWrite,
        if_match: Option<&IfMatch>,
    ) -> Result<Twin, HubError> {
        self.write(id, write, if_match, Method::Put).await
    }

    /// Merges `patch` into the desired properties.
    ///
    /// # Errors
    /// As [`Twins::update`].
    pub async fn update_desired(&self, id: &DeviceId, patch: Patch) -> Result<Twin, HubError> {
        let write = ServiceWrite::new().with_desired(SectionField::Object(patch));
        self.update(id, &write, None).await
    }

    /// Merges `patch` into the tags.
    ///
    /// # Errors
    /// As [`Twins::update`].
    pub async fn update_tags(&self, id: &DeviceId, patch: Patch) -> Result<Twin, HubError> {
        let write = ServiceWrite::new().with_tags(SectionField::Object(patch));
        self.update(id, &write, None).await
    }

    async fn write(
        &self,
        id: &DeviceId,
        write: &ServiceWrite,
        if_match: Option<&IfMatch>,
        method: Method,
    ) -> Result<Twin, HubError> {
        let entry = self.core.entry(id)?;
        let _write = entry.write.lock().await;
        let mut twin = current_twin(&entry, id)?;
        if let Some(condition) = if_match
            && !condition.matches(twin.etag().as_str())
        {
            return Err(HubError::PreconditionFailed {
                resource: format!("twin of {id}"),
                current: twin.etag().as_str().to_owned(),
            });
        }
        let (limits, now) = (&self.core.settings.limits, now());
        let outcome = match method {
            Method::Patch => twin.apply_service_patch(write, limits, now),
            Method::Put => twin.apply_service_replace(write, limits, now),
        }
        .map_err(|source| HubError::Twin {
            device_id: id.clone(),
            source,
        })?;
        if outcome.written {
            self.core.store.commit(vec![twin_op(&twin)?]).await?;
            let mut state = entry.lock();
            state.set_twin(twin);
            if let Some(note) = outcome.desired {
                notify_desired(&state, &note);
            }
        }
        let state = entry.read();
        Ok(twin_view(&entry, &state))
    }
}

impl Core {
    /// A device's reported patch: applies, commits, installs; returns the new reported
    /// `$version`. The caller holds no lock; this takes the device's write lock.
    pub(crate) async fn apply_reported(
        &self,
        entry: &DeviceEntry,
        id: &DeviceId,
        patch: &Patch,
    ) -> Result<TwinVersion, HubError> {
        let _write = entry.write.lock().await;
        let mut twin = current_twin(entry, id)?;
        let version = twin
            .apply_reported_patch(patch, &self.settings.limits, now())
            .map_err(|source| HubError::Twin {
                device_id: id.clone(),
                source,
            })?;
        self.store.commit(vec![twin_op(&twin)?]).await?;
        entry.lock().set_twin(twin);
        Ok(version)
    }
}

/// A copy of the twin to change, or `DeviceNotFound` when the device was deleted meanwhile.
fn current_twin(entry: &DeviceEntry, id: &DeviceId) -> Result<Twin, HubError> {
    let state = entry.read();
    if state.deleted {
        return Err(HubError::DeviceNotFound {
            device_id: id.clone(),
        });
    }
    Ok(state.twin.clone())
}

/// Queues a desired-property notification to the device if it is connected and subscribed.
/// Called with the state locked, right after installing the change, so notifications leave in
/// version order.
pub(crate) fn notify_desired(state: &DeviceState, note: &DesiredNotification) {
    let Some(connection) = &state.session.connection else {
        return;
    };
    if !state.session.subscriptions.has(Feed::DesiredPatches) {
        return;
    }
    let Ok(body) = serde_json::to_vec(note) else {
        return;
    };
    connection.send(Outbound {
        topic: twin_topic::desired(note.version()),
        payload: Bytes::from(body),
        message: None,
    });
}

/// The twin as clients see it, with the identity fields filled in from the registry.
pub(crate) fn twin_view(entry: &DeviceEntry, state: &DeviceState) -> Twin {
    let mut twin = state.twin.clone();
    let device = &state.device;
    let info = twin.registry_mut();
    info.device_etag.clone_from(&device.etag);
    info.status = Some(device.status.unwrap_or(DeviceStatus::Enabled));
    info.status_reason.clone_from(&device.status_reason);
    info.status_update_time = device.status_updated_time;
    info.connection_state = Some(state.connection_state());
    info.last_activity_time = Some(entry.last_activity());
    info.cloud_to_device_message_count = Some(state.messages.len() as u64);
    let auth = device.authentication.clone().unwrap_or_default();
    info.authentication_type = Some(auth.kind.unwrap_or_default());
    info.x509_thumbprint = Some(auth.x509_thumbprint.unwrap_or_default());
    twin
}
