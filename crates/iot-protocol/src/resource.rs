//! SAS resource URIs (`sr`) and the scope rule that decides what a token grants.

use std::fmt;

use crate::encoding::quote;
use crate::{DeviceId, HostName, Identity, ModuleId, ProtocolError};

/// The resource a SAS token is scoped to, in decoded form: `{host}` for the whole hub (service
/// tokens), `{host}/devices/{deviceId}` for a device and
/// `{host}/devices/{deviceId}/modules/{moduleId}` for a module.
///
/// The same type describes what a request accesses, so that [`ResourceUri::covers`] can compare
/// the two.
///
/// ```
/// use iot_protocol::{DeviceId, HostName, ResourceUri};
///
/// let host: HostName = "myhub.azure-devices.net".parse().unwrap();
/// let device: DeviceId = "device1".parse().unwrap();
/// let uri = ResourceUri::device(&host, &device);
/// assert_eq!(uri.as_str(), "myhub.azure-devices.net/devices/device1");
/// assert_eq!(uri.encoded(), "myhub.azure-devices.net%2Fdevices%2Fdevice1");
/// assert!(ResourceUri::hub(&host).covers(&uri));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceUri(String);

impl ResourceUri {
    /// The whole hub: what service (policy) tokens are scoped to.
    pub fn hub(host: &HostName) -> Self {
        Self(host.as_str().to_owned())
    }

    /// One device: `{host}/devices/{deviceId}`.
    pub fn device(host: &HostName, device: &DeviceId) -> Self {
        Self(format!("{host}/devices/{device}"))
    }

    /// One module: `{host}/devices/{deviceId}/modules/{moduleId}`.
    pub fn module(host: &HostName, device: &DeviceId, module: &ModuleId) -> Self {
        Self(format!("{host}/devices/{device}/modules/{module}"))
    }

    /// The device or module resource of `identity`.
    pub fn for_identity(host: &HostName, identity: &Identity) -> Self {
        match identity.module_id() {
            None => Self::device(host, identity.device_id()),
            Some(module) => Self::module(host, identity.device_id(), module),
        }
    }

    /// Any other decoded resource (e.g. the `uri` of the Node SDK's test vectors). It must not be
    /// empty or contain control characters.
    pub fn parse(decoded: &str) -> Result<Self, ProtocolError> {
        if decoded.is_empty() {
            return Err(ProtocolError::Malformed {
                input: "resource URI",
                rule: "must not be empty",
            });
        }
        if decoded.chars().any(char::is_control) {
            return Err(ProtocolError::Malformed {
                input: "resource URI",
                rule: "must not contain control characters",
            });
        }
        Ok(Self(decoded.to_owned()))
    }

    /// The decoded resource.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The resource percent-encoded as the official SDKs put it into `sr`: Python's
    /// `quote(resource, safe="")`, upper-case hex.
    pub fn encoded(&self) -> String {
        quote(&self.0).to_string()
    }

    /// Whether a token scoped to `self` grants access to `accessed`: `self` must be a prefix of
    /// `accessed` by whole path segments (`a/b` covers `a/b` and `a/b/c`, not `a/bc`), compared
    /// ASCII case-insensitively because IoT Hub documents the resource as a lower-cased URI. A
    /// trailing `/` on either side is ignored.
    pub fn covers(&self, accessed: &Self) -> bool {
        let mut granted = segments(&self.0);
        let mut wanted = segments(&accessed.0);
        loop {
            match (granted.next(), wanted.next()) {
                (None, _) => return true,
                (Some(_), None) => return false,
                (Some(g), Some(w)) if g.eq_ignore_ascii_case(w) => {}
                (Some(_), Some(_)) => return false,
            }
        }
    }
}

/// The `/`-separated segments of a resource, ignoring one trailing `/`.
fn segments(resource: &str) -> std::str::Split<'_, char> {
    resource.strip_suffix('/').unwrap_or(resource).split('/')
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uri(text: &str) -> ResourceUri {
        ResourceUri::parse(text).unwrap()
    }

    #[test]
    fn builders_follow_the_documented_shapes() {
        let host = HostName::parse("h.example").unwrap();
        let device = DeviceId::parse("my_device").unwrap();
        let module = ModuleId::parse("my_module").unwrap();
        assert_eq!(ResourceUri::hub(&host).as_str(), "h.example");
        assert_eq!(
            ResourceUri::module(&host, &device, &module).encoded(),
            "h.example%2Fdevices%2Fmy_device%2Fmodules%2Fmy_module"
        );
        let identity = Identity::module(device.clone(), module.clone());
        assert_eq!(
            ResourceUri::for_identity(&host, &identity),
            ResourceUri::module(&host, &device, &module)
        );
    }

    #[test]
    fn scope_is_a_prefix_by_segment() {
        let device = uri("h/devices/d1");
        assert!(uri("h").covers(&device));
        assert!(uri("h/devices").covers(&device));
        assert!(uri("h/devices/d1").covers(&device));
        assert!(uri("h/devices/d1/").covers(&device));
        assert!(uri("h/devices/d1").covers(&uri("h/devices/d1/modules/m")));
        assert!(!uri("h/devices/d").covers(&device));
        assert!(!uri("h/devices/d1/modules/m").covers(&device));
        assert!(!uri("other").covers(&device));
        assert!(!uri("h2").covers(&device));
    }

    #[test]
    fn scope_ignores_ascii_case() {
        assert!(
            uri("MyHub.Azure-Devices.net/Devices/D1")
                .covers(&uri("myhub.azure-devices.net/devices/d1"))
        );
    }

    #[test]
    fn parse_rejects_empty_and_control() {
        assert!(ResourceUri::parse("").is_err());
        assert!(ResourceUri::parse("a\nb").is_err());
    }

    proptest! {
        #[test]
        fn every_resource_covers_its_extensions(
            base in "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,3}",
            tail in "(/[a-z0-9]{1,8}){0,3}",
        ) {
            let longer = uri(&format!("{base}{tail}"));
            prop_assert!(uri(&base).covers(&longer));
            prop_assert!(uri(&base.to_uppercase()).covers(&longer));
            let extended_segment = uri(&format!("{base}x"));
            prop_assert!(!extended_segment.covers(&uri(&base)));
        }
    }
}
