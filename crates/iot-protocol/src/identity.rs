//! The identity a client connects as: a device, or a module of a device.

use std::fmt;
use std::str::FromStr;

use crate::{DeviceId, ModuleId, ProtocolError};

/// A device, or one module of a device: who a connection, a token or a telemetry topic belongs
/// to.
///
/// It displays as the MQTT client id IoT Hub expects in CONNECT: `{deviceId}` for a device and
/// `{deviceId}/{moduleId}` for a module (ids verbatim, never percent-encoded), and parses back
/// from that form.
///
/// ```
/// use iot_protocol::Identity;
///
/// let module: Identity = "gateway-7/telemetry".parse().unwrap();
/// assert_eq!(module.device_id().as_str(), "gateway-7");
/// assert_eq!(module.module_id().unwrap().as_str(), "telemetry");
/// assert_eq!(module.to_string(), "gateway-7/telemetry");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    device_id: DeviceId,
    module_id: Option<ModuleId>,
}

impl Identity {
    /// The identity of a device.
    pub fn device(device_id: DeviceId) -> Self {
        Self {
            device_id,
            module_id: None,
        }
    }

    /// The identity of a module on a device.
    pub fn module(device_id: DeviceId, module_id: ModuleId) -> Self {
        Self {
            device_id,
            module_id: Some(module_id),
        }
    }

    /// The device, or the device the module belongs to.
    pub fn device_id(&self) -> &DeviceId {
        &self.device_id
    }

    /// The module, if this is a module identity.
    pub fn module_id(&self) -> Option<&ModuleId> {
        self.module_id.as_ref()
    }

    /// The MQTT client id for this identity (the same text as `Display`).
    pub fn client_id(&self) -> String {
        self.to_string()
    }

    /// Parses an MQTT client id: `{deviceId}` or `{deviceId}/{moduleId}`.
    pub fn parse_client_id(text: &str) -> Result<Self, ProtocolError> {
        match text.split_once('/') {
            None => Ok(Self::device(DeviceId::parse(text)?)),
            Some((device, module)) => Ok(Self::module(
                DeviceId::parse(device)?,
                ModuleId::parse(module)?,
            )),
        }
    }
}

impl From<DeviceId> for Identity {
    fn from(device_id: DeviceId) -> Self {
        Self::device(device_id)
    }
}

impl FromStr for Identity {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse_client_id(text)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.module_id {
            None => write!(f, "{}", self.device_id),
            Some(module) => write!(f, "{}/{}", self.device_id, module),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn client_ids_of_devices_and_modules() {
        let device = Identity::parse_client_id("conf-py-7b73b5f6").unwrap();
        assert_eq!(device.module_id(), None);
        assert_eq!(device.client_id(), "conf-py-7b73b5f6");
        let module = Identity::parse_client_id("d/m").unwrap();
        assert_eq!(module.module_id().map(ModuleId::as_str), Some("m"));
    }

    #[test]
    fn rejects_bad_client_ids() {
        for bad in ["", "/", "d/", "/m", "d/m/x", "a b"] {
            assert!(Identity::parse_client_id(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn client_id_round_trip(
            device in "[A-Za-z0-9\\-.+%_#*?!(),=@$':;]{1,20}",
            module in proptest::option::of("[A-Za-z0-9\\-.+%_#*?!(),=@$':;]{1,20}"),
        ) {
            let device = DeviceId::parse(&device).unwrap();
            let identity = match module {
                None => Identity::device(device),
                Some(m) => Identity::module(device, ModuleId::parse(&m).unwrap()),
            };
            prop_assert_eq!(Identity::parse_client_id(&identity.client_id()).unwrap(), identity);
        }
    }
}
