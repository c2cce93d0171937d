//! Service (shared access policy) connection strings.

use std::fmt;
use std::str::FromStr;

use super::{REDACTED, split_fields};
use crate::{HostName, ProtocolError, ResourceUri, SasToken, SharedAccessKey, SharedAccessPolicy};

const INPUT: &str = "service connection string";

/// A service connection string:
/// `HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=...`.
///
/// All three keys are required; others and repeats are rejected. `Display` and `Debug` redact the
/// key; [`Self::to_secret_string`] gives the usable string, which parses back to an equal value.
///
/// ```
/// use iot_protocol::ServiceConnectionString;
///
/// let text = "HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;\
///             SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// let cs: ServiceConnectionString = text.parse().unwrap();
/// assert_eq!(
///     cs.sas_token(1_700_000_000).to_secret_string(),
///     "SharedAccessSignature sr=myhub.azure-devices.net\
///      &sig=iIzEw6hi6GK79RY5jNXO6QeQkSL%2FAx4zTmy44X2G1VY%3D&se=1700000000&skn=iothubowner"
/// );
/// assert!(!cs.to_string().contains("AAECAw"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConnectionString {
    host_name: HostName,
    policy_name: String,
    key: SharedAccessKey,
}

impl ServiceConnectionString {
    /// A connection string for the policy `policy_name` with `key` on the hub `host_name`.
    pub fn new(
        host_name: HostName,
        policy_name: &str,
        key: SharedAccessKey,
    ) -> Result<Self, ProtocolError> {
        Ok(Self {
            host_name,
            policy_name: check_policy_name(policy_name)?,
            key,
        })
    }

    /// The connection string of `policy`'s primary key on the hub `host_name`.
    pub fn for_policy(host_name: HostName, policy: &SharedAccessPolicy) -> Self {
        Self {
            host_name,
            policy_name: policy.name().to_owned(),
            key: policy.primary_key().clone(),
        }
    }

    /// Parses a connection string.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let [host, name, key] = split_fields(
            text,
            INPUT,
            ["HostName", "SharedAccessKeyName", "SharedAccessKey"],
        )?;
        Ok(Self {
            host_name: HostName::parse(host.ok_or(missing("HostName"))?)?,
            policy_name: check_policy_name(name.ok_or(missing("SharedAccessKeyName"))?)?,
            key: SharedAccessKey::from_base64(key.ok_or(missing("SharedAccessKey"))?)?,
        })
    }

    /// The hub's host name.
    pub fn host_name(&self) -> &HostName {
        &self.host_name
    }

    /// The shared access policy's name (`SharedAccessKeyName`).
    pub fn policy_name(&self) -> &str {
        &self.policy_name
    }

    /// The policy key.
    pub fn key(&self) -> &SharedAccessKey {
        &self.key
    }

    /// A hub-scoped token naming the policy, expiring at `expiry` (Unix seconds): the
    /// `Authorization` header of REST calls.
    pub fn sas_token(&self, expiry: u64) -> SasToken {
        SasToken::create(
            &ResourceUri::hub(&self.host_name),
            &self.key,
            Some(&self.policy_name),
            expiry,
        )
    }

    /// The usable connection string, key in clear.
    pub fn to_secret_string(&self) -> String {
        self.render(&self.key.to_secret_string())
    }

    fn render(&self, key: &str) -> String {
        format!(
            "HostName={};SharedAccessKeyName={};SharedAccessKey={key}",
            self.host_name, self.policy_name
        )
    }
}

fn missing(field: &'static str) -> ProtocolError {
    ProtocolError::MissingField {
        input: INPUT,
        field,
    }
}

/// A policy name must be non-empty and free of the separators of the connection string.
fn check_policy_name(name: &str) -> Result<String, ProtocolError> {
    if name.is_empty() || name.contains(';') || name.chars().any(char::is_control) {
        return Err(ProtocolError::InvalidField {
            input: INPUT,
            field: "SharedAccessKeyName".to_owned(),
            rule: "must be non-empty, without ';' or control characters",
        });
    }
    Ok(name.to_owned())
}

impl FromStr for ServiceConnectionString {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for ServiceConnectionString {
    /// The connection string with the key replaced by `<redacted>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(REDACTED))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccessRights;
    use proptest::prelude::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn parses_in_any_order() {
        let cs = ServiceConnectionString::parse(&format!(
            "SharedAccessKey={KEY};HostName=localhost:8443;SharedAccessKeyName=service"
        ))
        .unwrap();
        assert_eq!(cs.host_name().as_str(), "localhost:8443");
        assert_eq!(cs.policy_name(), "service");
        assert_eq!(
            cs.to_secret_string(),
            format!("HostName=localhost:8443;SharedAccessKeyName=service;SharedAccessKey={KEY}")
        );
        assert!(
            cs.sas_token(1)
                .to_secret_string()
                .contains("sr=localhost%3A8443&")
        );
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                format!("HostName=h;SharedAccessKey={KEY}"),
                missing("SharedAccessKeyName"),
            ),
            (
                "HostName=h;SharedAccessKeyName=p".to_owned(),
                missing("SharedAccessKey"),
            ),
            (
                format!("SharedAccessKeyName=p;SharedAccessKey={KEY}"),
                missing("HostName"),
            ),
            (
                format!("HostName=h;DeviceId=d;SharedAccessKeyName=p;SharedAccessKey={KEY}"),
                ProtocolError::UnknownField {
                    input: INPUT,
                    field: "DeviceId".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(ServiceConnectionString::parse(&text).unwrap_err(), expected);
        }
        let err = ServiceConnectionString::parse(
            "HostName=h;SharedAccessKeyName=p;SharedAccessKey=hunter2",
        )
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn from_policy_and_redaction() {
        let policy = SharedAccessPolicy::new(
            "iothubowner",
            SharedAccessKey::from_base64(KEY).unwrap(),
            SharedAccessKey::generate([0; 32]),
            AccessRights::ALL,
        )
        .unwrap();
        let cs = ServiceConnectionString::for_policy(
            HostName::parse("myhub.azure-devices.net").unwrap(),
            &policy,
        );
        assert_eq!(
            cs.to_string(),
            "HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=<redacted>"
        );
        assert!(!format!("{cs:?}").contains("AAECAw"));
        assert!(cs.to_secret_string().ends_with(KEY));
    }

    proptest! {
        #[test]
        fn secret_string_round_trip(
            host in "[a-z0-9.-]{1,30}(:[0-9]{1,5})?",
            name in "[A-Za-z0-9 ()'=_.-]{1,20}",
            key in proptest::collection::vec(any::<u8>(), 1..48),
        ) {
            let cs = ServiceConnectionString::new(
                HostName::parse(&host).unwrap(),
                &name,
                SharedAccessKey::from_bytes(key).unwrap(),
            ).unwrap();
            prop_assert_eq!(ServiceConnectionString::parse(&cs.to_secret_string()).unwrap(), cs);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,100}") {
            let _ = ServiceConnectionString::parse(&text);
        }
    }
}
