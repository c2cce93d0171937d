//! Device and module connection strings.

use std::fmt;
use std::str::FromStr;

use super::{REDACTED, split_fields};
use crate::{
    DeviceId, HostName, Identity, ModuleId, ProtocolError, ResourceUri, SasToken, SharedAccessKey,
};

const INPUT: &str = "device connection string";

/// Every key a device connection string may contain, in the order we emit them.
const KEYS: [&str; 8] = [
    "HostName",
    "DeviceId",
    "ModuleId",
    "SharedAccessKeyName",
    "SharedAccessKey",
    "SharedAccessSignature",
    "x509",
    "GatewayHostName",
];

/// How a device or module proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceCredential {
    /// A symmetric key: the device's (or module's) own key, or, with `policy_name`, the key of a
    /// shared access policy with DeviceConnect, whose tokens name the policy in `skn`.
    SharedAccessKey {
        /// The key.
        key: SharedAccessKey,
        /// The policy the key belongs to (`SharedAccessKeyName`), if it is a policy key.
        policy_name: Option<String>,
    },
    /// A ready-made token (`SharedAccessSignature=SharedAccessSignature sr=...`), used until it
    /// expires.
    SharedAccessSignature(SasToken),
    /// An X.509 client certificate presented in TLS (`x509=true`); the MQTT CONNECT carries no
    /// password.
    X509,
}

/// A device or module connection string, e.g.
/// `HostName=myhub.azure-devices.net;DeviceId=d1;SharedAccessKey=...`.
///
/// Parsing follows the Python SDK's rules: pairs split on the first `=`, case-sensitive keys,
/// unknown and repeated keys rejected, exactly one credential (`SharedAccessKey`,
/// `SharedAccessSignature` or `x509=true`), `SharedAccessKeyName` only next to
/// `SharedAccessKey`. With `ModuleId` the string identifies that module. `GatewayHostName` is
/// where the TCP connection goes; `HostName` still appears in the username and the token.
///
/// `Display` and `Debug` redact the key and the token's signature; [`Self::to_secret_string`]
/// gives the usable string, which parses back to an equal value. Ids containing `;` cannot
/// travel in a connection string (the official SDKs split on it), although the registry allows
/// them.
///
/// ```
/// use iot_protocol::DeviceConnectionString;
///
/// let text = "HostName=myhub.azure-devices.net;DeviceId=d1;\
///             SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// let parsed: DeviceConnectionString = text.parse().unwrap();
/// assert_eq!(parsed.identity().to_string(), "d1");
/// assert_eq!(parsed.to_secret_string(), text);
/// assert_eq!(
///     parsed.to_string(),
///     "HostName=myhub.azure-devices.net;DeviceId=d1;SharedAccessKey=<redacted>"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConnectionString {
    host_name: HostName,
    identity: Identity,
    credential: DeviceCredential,
    gateway_host_name: Option<HostName>,
}

impl DeviceConnectionString {
    /// A connection string for `identity` on the hub `host_name`.
    pub fn new(host_name: HostName, identity: Identity, credential: DeviceCredential) -> Self {
        Self {
            host_name,
            identity,
            credential,
            gateway_host_name: None,
        }
    }

    /// The same, connecting through `gateway` (`GatewayHostName`).
    pub fn with_gateway(mut self, gateway: HostName) -> Self {
        self.gateway_host_name = Some(gateway);
        self
    }

    /// Parses a connection string.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let [
            host,
            device,
            module,
            key_name,
            key,
            signature,
            x509,
            gateway,
        ] = split_fields(text, INPUT, KEYS)?;
        let host_name = HostName::parse(host.ok_or(missing("HostName"))?)?;
        let device_id = DeviceId::parse(device.ok_or(missing("DeviceId"))?)?;
        let identity = match module {
            None => Identity::device(device_id),
            Some(module) => Identity::module(device_id, ModuleId::parse(module)?),
        };
        let credential = credential(key_name, key, signature, x509)?;
        let gateway_host_name = gateway.map(HostName::parse).transpose()?;
        Ok(Self {
            host_name,
            identity,
            credential,
            gateway_host_name,
        })
    }

    /// The hub's host name (`HostName`): used in the MQTT username and the token's resource.
    pub fn host_name(&self) -> &HostName {
        &self.host_name
    }

    /// The device or module this string identifies.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The credential.
    pub fn credential(&self) -> &DeviceCredential {
        &self.credential
    }

    /// The gateway (`GatewayHostName`), if any.
    pub fn gateway_host_name(&self) -> Option<&HostName> {
        self.gateway_host_name.as_ref()
    }

    /// Where to open the connection: the gateway if there is one, else the hub.
    pub fn connect_host(&self) -> &HostName {
        self.gateway_host_name.as_ref().unwrap_or(&self.host_name)
    }

    /// The SAS resource of this identity: `{host}/devices/{id}[/modules/{module}]`.
    pub fn resource_uri(&self) -> ResourceUri {
        ResourceUri::for_identity(&self.host_name, &self.identity)
    }

    /// The password for MQTT CONNECT: a fresh token expiring at `expiry` (Unix seconds) for a
    /// key credential, the given token for a `SharedAccessSignature` credential (whatever its
    /// expiry), and `None` for X.509.
    pub fn sas_token(&self, expiry: u64) -> Option<SasToken> {
        match &self.credential {
            DeviceCredential::SharedAccessKey { key, policy_name } => Some(SasToken::create(
                &self.resource_uri(),
                key,
                policy_name.as_deref(),
                expiry,
            )),
            DeviceCredential::SharedAccessSignature(token) => Some(token.clone()),
            DeviceCredential::X509 => None,
        }
    }

    /// The usable connection string, with the key or token in clear.
    pub fn to_secret_string(&self) -> String {
        self.render(true)
    }

    fn render(&self, secret: bool) -> String {
        let mut text = format!(
            "HostName={};DeviceId={}",
            self.host_name,
            self.identity.device_id()
        );
        if let Some(module) = self.identity.module_id() {
            text.push_str(&format!(";ModuleId={module}"));
        }
        text.push_str(&render_credential(&self.credential, secret));
        if let Some(gateway) = &self.gateway_host_name {
            text.push_str(&format!(";GatewayHostName={gateway}"));
        }
        text
    }
}

/// The credential's pairs, each preceded by `;`, with the secret in clear or redacted.
fn render_credential(credential: &DeviceCredential, secret: bool) -> String {
    match credential {
        DeviceCredential::SharedAccessKey { key, policy_name } => {
            let name = policy_name
                .as_ref()
                .map(|name| format!(";SharedAccessKeyName={name}"))
                .unwrap_or_default();
            let key = if secret {
                key.to_secret_string()
            } else {
                REDACTED.to_owned()
            };
            format!("{name};SharedAccessKey={key}")
        }
        DeviceCredential::SharedAccessSignature(token) => {
            let token = if secret {
                token.to_secret_string()
            } else {
                token.to_string()
            };
            format!(";SharedAccessSignature={token}")
        }
        DeviceCredential::X509 => ";x509=true".to_owned(),
    }
}

fn missing(field: &'static str) -> ProtocolError {
    ProtocolError::MissingField {
        input: INPUT,
        field,
    }
}

fn conflict(first: &'static str, second: &'static str) -> ProtocolError {
    ProtocolError::ConflictingFields {
        input: INPUT,
        first,
        second,
    }
}

/// Applies the credential rules to the four credential-related values.
fn credential(
    key_name: Option<&str>,
    key: Option<&str>,
    signature: Option<&str>,
    x509: Option<&str>,
) -> Result<DeviceCredential, ProtocolError> {
    if let Some(flag) = x509 {
        if !flag.eq_ignore_ascii_case("true") {
            return Err(ProtocolError::InvalidField {
                input: INPUT,
                field: "x509".to_owned(),
                rule: "must be true when present",
            });
        }
    }
    match (key, signature, x509.is_some()) {
        (Some(_), Some(_), _) => Err(conflict("SharedAccessKey", "SharedAccessSignature")),
        (Some(_), None, true) => Err(conflict("SharedAccessKey", "x509")),
        (None, Some(_), true) => Err(conflict("SharedAccessSignature", "x509")),
        (None, None, false) => Err(missing(
            "a credential (SharedAccessKey, SharedAccessSignature or x509=true)",
        )),
        (Some(key), None, false) => Ok(DeviceCredential::SharedAccessKey {
            key: SharedAccessKey::from_base64(key)?,
            policy_name: key_name.map(policy_name).transpose()?,
        }),
        (None, Some(token), false) if key_name.is_none() => Ok(
            DeviceCredential::SharedAccessSignature(SasToken::parse(token)?),
        ),
        (None, Some(_), false) => Err(conflict("SharedAccessKeyName", "SharedAccessSignature")),
        (None, None, true) if key_name.is_none() => Ok(DeviceCredential::X509),
        (None, None, true) => Err(conflict("SharedAccessKeyName", "x509")),
    }
}

fn policy_name(name: &str) -> Result<String, ProtocolError> {
    if name.is_empty() {
        return Err(ProtocolError::InvalidField {
            input: INPUT,
            field: "SharedAccessKeyName".to_owned(),
            rule: "must not be empty",
        });
    }
    Ok(name.to_owned())
}

impl FromStr for DeviceConnectionString {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for DeviceConnectionString {
    /// The connection string with the key or the token's signature replaced by `<redacted>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

#[cfg(test)]
mod tests;
