//! [`Twin`]: the whole twin document, with the hub's bookkeeping of etag and versions.

use serde_json::{Map, Value};

use crate::registry::{Configurations, RegistryInfo};
use crate::section::Planned;
use crate::state::PropertiesState;
use crate::{
    DesiredNotification, Etag, Limits, Patch, Section, SectionField, SectionKind, ServiceWrite,
    Timestamp, TwinError, TwinState, TwinVersion,
};

mod wire;

/// A device or module twin as the REST API shows it: identity and registry fields, `tags`,
/// `properties.desired`, `properties.reported` and `configurations`.
///
/// The operations keep the bookkeeping IoT Hub exhibits: a new twin has etag counter 1 and both
/// `$version`s at 1; every service write (tags and/or desired, `PATCH` or `PUT`) adds one to the
/// etag counter and, when it writes desired properties, one to desired `$version`; every device
/// reported patch adds one to reported `$version`; and the twin's `version` is the etag counter
/// plus reported `$version` (2 for a new twin). IoT Hub documents etag and `version` as opaque;
/// this model reproduces every twin it has been seen to return, and reads any other etag as
/// opaque text (see [`Etag`]).
///
/// Each operation is atomic across sections: nothing changes unless all of it is accepted.
/// Errors name the twin path (`tags.a`, `properties.desired.a`, `properties.reported.a`).
///
/// Serializes to the REST JSON (`tags` left out when empty, unknown members kept from parsing);
/// parse it back with [`Twin::from_slice`] or `Deserialize`.
///
/// ```
/// use iot_twin::{Limits, Patch, ServiceWrite, Timestamp, Twin};
/// use serde_json::json;
///
/// let now = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
/// let mut twin = Twin::new("thermostat-1", None, now);
/// let body = br#"{"properties":{"desired":{"target":21.5}}}"#;
/// let outcome = twin.apply_service_patch(&ServiceWrite::from_slice(body).unwrap(), &Limits::default(), now).unwrap();
/// let note = outcome.desired.unwrap();
/// assert_eq!(serde_json::to_value(&note).unwrap(), json!({"target": 21.5, "$version": 2}));
///
/// let reported = Patch::from_slice(br#"{"target":21.5}"#).unwrap();
/// assert_eq!(twin.apply_reported_patch(&reported, &Limits::default(), now).unwrap().get(), 2);
/// assert_eq!((twin.etag().counter(), twin.version()), (Some(2), 4));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Twin {
    device_id: String,
    module_id: Option<String>,
    etag: Etag,
    version: u64,
    registry: RegistryInfo,
    tags: Section,
    desired: Section,
    reported: Section,
    configurations: Configurations,
    extra: Map<String, Value>,
}

/// What a service write did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceWriteOutcome {
    /// Whether the write touched a section. A `PATCH` naming neither section, or only with
    /// empty objects, writes nothing and leaves etag and versions alone.
    pub written: bool,
    /// The twin's etag after the write.
    pub etag: Etag,
    /// The notification to send the device when desired properties were written.
    pub desired: Option<DesiredNotification>,
}

/// How a service write treats a [`SectionField`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// `PATCH`: merge objects, leave absent sections alone.
    Patch,
    /// `PUT`: replace with objects, empty absent sections.
    Put,
}

impl Twin {
    /// A new twin with empty sections stamped `now`, etag counter 1, `version` 2, and the
    /// registry fields of a newly created device ([`RegistryInfo::new_device`]).
    pub fn new(device_id: impl Into<String>, module_id: Option<String>, now: Timestamp) -> Self {
        let mut twin = Self {
            device_id: device_id.into(),
            module_id,
            etag: Etag::INITIAL,
            version: 0,
            registry: RegistryInfo::new_device(),
            tags: Section::new(SectionKind::Tags, now),
            desired: Section::new(SectionKind::Desired, now),
            reported: Section::new(SectionKind::Reported, now),
            configurations: Configurations::new(),
            extra: Map::new(),
        };
        twin.update_version();
        twin
    }

    /// `deviceId`.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// `moduleId`, for a module twin.
    pub fn module_id(&self) -> Option<&str> {
        self.module_id.as_deref()
    }

    /// `etag` (a cheap clone).
    pub fn etag(&self) -> Etag {
        self.etag.clone()
    }

    /// `version`.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The fields copied from the identity registry.
    pub fn registry(&self) -> &RegistryInfo {
        &self.registry
    }

    /// The fields copied from the identity registry, for the hub to update. They have no part
    /// in the etag or version bookkeeping.
    pub fn registry_mut(&mut self) -> &mut RegistryInfo {
        &mut self.registry
    }

    /// `tags`.
    pub fn tags(&self) -> &Section {
        &self.tags
    }

    /// `properties.desired`.
    pub fn desired(&self) -> &Section {
        &self.desired
    }

    /// `properties.reported`.
    pub fn reported(&self) -> &Section {
        &self.reported
    }

    /// `configurations`: the automatic device management configurations targeting the twin.
    pub fn configurations(&self) -> &Configurations {
        &self.configurations
    }

    /// `configurations`, for the hub's configuration engine to update.
    pub fn configurations_mut(&mut self) -> &mut Configurations {
        &mut self.configurations
    }

    /// Top-level members this crate does not model, kept from parsing.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// The body of a twin `GET` over MQTT: desired and reported with their `$version`.
    pub fn state(&self) -> TwinState {
        TwinState::new(
            PropertiesState::of(&self.desired),
            PropertiesState::of(&self.reported),
        )
    }

    /// A service `PATCH`: merges `tags` and `properties.desired` of `write` into the twin;
    /// `null` clears a section, an absent or empty object leaves it alone.
    pub fn apply_service_patch(
        &mut self,
        write: &ServiceWrite,
        limits: &Limits,
        now: Timestamp,
    ) -> Result<ServiceWriteOutcome, TwinError> {
        self.service_write(write, Method::Patch, limits, now)
    }

    /// A service `PUT`: replaces `tags` and `properties.desired` with those of `write`; a
    /// section the body leaves out or sets to `null` becomes empty. Both sections count as
    /// written, and the device is sent the whole new desired content plus `null` for every
    /// key that disappeared, so a merging copy converges.
    pub fn apply_service_replace(
        &mut self,
        write: &ServiceWrite,
        limits: &Limits,
        now: Timestamp,
    ) -> Result<ServiceWriteOutcome, TwinError> {
        self.service_write(write, Method::Put, limits, now)
    }

    /// A device's reported-properties patch; returns the new reported `$version`. Every
    /// accepted patch counts as a write, even `{}`.
    pub fn apply_reported_patch(
        &mut self,
        patch: &Patch,
        limits: &Limits,
        now: Timestamp,
    ) -> Result<TwinVersion, TwinError> {
        let within = |e: TwinError| e.within(SectionKind::Reported.path());
        let planned = self.reported.plan_merge(patch, limits).map_err(within)?;
        let version = self.reported.commit(planned, now).version;
        self.update_version();
        version.ok_or(TwinError::CounterExhausted {
            counter: SectionKind::Reported.path(),
        })
    }

    fn service_write(
        &mut self,
        write: &ServiceWrite,
        method: Method,
        limits: &Limits,
        now: Timestamp,
    ) -> Result<ServiceWriteOutcome, TwinError> {
        let tags = plan(&self.tags, write.tags(), method, limits)?;
        let desired = plan(&self.desired, write.desired(), method, limits)?;
        if tags.is_none() && desired.is_none() {
            return Ok(ServiceWriteOutcome {
                written: false,
                etag: self.etag.clone(),
                desired: None,
            });
        }
        self.etag = self
            .etag
            .next()
            .ok_or(TwinError::CounterExhausted { counter: "etag" })?;
        if let Some(planned) = tags {
            self.tags.commit(planned, now);
        }
        let desired = desired.map(|planned| {
            let merged = match &planned {
                Planned::Merge { patch, .. } => Some((*patch).clone()),
                Planned::Replace { .. } => None,
            };
            let replaced = self.desired.commit(planned, now);
            let version = replaced.version.unwrap_or(TwinVersion::INITIAL);
            DesiredNotification::new(merged.unwrap_or(replaced.notification), version)
        });
        self.update_version();
        Ok(ServiceWriteOutcome {
            written: true,
            etag: self.etag.clone(),
            desired,
        })
    }

    /// `version` from the etag counter and reported `$version`; an opaque etag counts as 1 (a
    /// twin no service wrote), since its count of writes is unknown.
    fn update_version(&mut self) {
        let reported = self.reported.version().map_or(1, TwinVersion::get);
        self.version = self.etag.counter().unwrap_or(1).saturating_add(reported);
    }
}

/// The checked write `field` asks of `section` under `method`, or `None` when it asks for none.
fn plan<'a>(
    section: &Section,
    field: &'a SectionField,
    method: Method,
    limits: &Limits,
) -> Result<Option<Planned<'a>>, TwinError> {
    let planned = match (field, method) {
        (SectionField::Absent, Method::Patch) => return Ok(None),
        (SectionField::Object(patch), Method::Patch) if patch.is_empty() => return Ok(None),
        (SectionField::Object(patch), Method::Patch) => section.plan_merge(patch, limits),
        (SectionField::Object(content), Method::Put) => section.plan_replace(Some(content), limits),
        (SectionField::Null, _) | (SectionField::Absent, Method::Put) => {
            section.plan_replace(None, limits)
        }
    };
    planned
        .map(Some)
        .map_err(|e| e.within(section.kind().path()))
}

#[cfg(test)]
mod tests;
