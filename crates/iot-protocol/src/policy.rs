//! Shared access policies: named key pairs with rights, and the check of service tokens against
//! them.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};
use std::str::FromStr;

use iot_twin::Timestamp;

use crate::{GENERATED_KEY_LEN, ProtocolError, ResourceUri, SasError, SasToken, SharedAccessKey};

/// The rights a shared access policy grants, as a small set.
///
/// Text form (as in the Azure portal and ARM): the names joined by `", "`, e.g.
/// `RegistryRead, RegistryWrite`; the empty set prints as the empty string.
///
/// ```
/// use iot_protocol::AccessRights;
///
/// let rights = AccessRights::REGISTRY_READ | AccessRights::REGISTRY_WRITE;
/// assert!(rights.contains(AccessRights::REGISTRY_READ));
/// assert!(!rights.contains(AccessRights::SERVICE_CONNECT));
/// assert_eq!(rights.to_string(), "RegistryRead, RegistryWrite");
/// assert_eq!("RegistryRead, RegistryWrite".parse::<AccessRights>().unwrap(), rights);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AccessRights(u8);

/// Each right with its name, in display order.
const NAMES: [(AccessRights, &str); 4] = [
    (AccessRights::REGISTRY_READ, "RegistryRead"),
    (AccessRights::REGISTRY_WRITE, "RegistryWrite"),
    (AccessRights::SERVICE_CONNECT, "ServiceConnect"),
    (AccessRights::DEVICE_CONNECT, "DeviceConnect"),
];

impl AccessRights {
    /// No rights.
    pub const NONE: Self = Self(0);
    /// Read the identity registry.
    pub const REGISTRY_READ: Self = Self(1);
    /// Write the identity registry.
    pub const REGISTRY_WRITE: Self = Self(1 << 1);
    /// Service endpoints: twins (tags, desired, read reported), queries, direct methods, C2D
    /// sends and feedback, jobs, configurations.
    pub const SERVICE_CONNECT: Self = Self(1 << 2);
    /// Device endpoints, acting as any device.
    pub const DEVICE_CONNECT: Self = Self(1 << 3);
    /// All four rights (the `iothubowner` policy).
    pub const ALL: Self = Self(0b1111);

    /// Whether every right in `other` is in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for AccessRights {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl BitOrAssign for AccessRights {
    fn bitor_assign(&mut self, other: Self) {
        self.0 |= other.0;
    }
}

impl fmt::Display for AccessRights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (right, name) in NAMES {
            if self.contains(right) {
                if !first {
                    f.write_str(", ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for AccessRights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessRights({self})")
    }
}

impl FromStr for AccessRights {
    type Err = ProtocolError;

    /// Parses names separated by commas (spaces around them ignored); names are
    /// case-sensitive, repeats are harmless.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut rights = Self::NONE;
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let (right, _) = NAMES.iter().find(|(_, n)| *n == name).ok_or_else(|| {
                ProtocolError::InvalidField {
                    input: "access rights",
                    field: name.to_owned(),
                    rule: "must be RegistryRead, RegistryWrite, ServiceConnect or DeviceConnect",
                }
            })?;
            rights |= *right;
        }
        Ok(rights)
    }
}

/// A shared access policy of a hub: a name, two keys and the rights a token signed with either
/// key gets.
///
/// `Debug` shows the name and rights but never the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedAccessPolicy {
    name: String,
    primary_key: SharedAccessKey,
    secondary_key: SharedAccessKey,
    rights: AccessRights,
}

impl SharedAccessPolicy {
    /// The policies of a new IoT hub: `iothubowner` (all rights), `service` (ServiceConnect),
    /// `device` (DeviceConnect), `registryRead` (RegistryRead) and `registryReadWrite`
    /// (RegistryRead, RegistryWrite).
    pub const HUB_DEFAULTS: [(&'static str, AccessRights); 5] = [
        ("iothubowner", AccessRights::ALL),
        ("service", AccessRights::SERVICE_CONNECT),
        ("device", AccessRights::DEVICE_CONNECT),
        ("registryRead", AccessRights::REGISTRY_READ),
        (
            "registryReadWrite",
            AccessRights(AccessRights::REGISTRY_READ.0 | AccessRights::REGISTRY_WRITE.0),
        ),
    ];

    /// A policy. The name must be 1 to 64 characters without control characters; IoT Hub
    /// does not document its exact rule, so we only exclude what cannot travel in `skn`.
    pub fn new(
        name: &str,
        primary_key: SharedAccessKey,
        secondary_key: SharedAccessKey,
        rights: AccessRights,
    ) -> Result<Self, ProtocolError> {
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(ProtocolError::InvalidField {
                input: "shared access policy",
                field: "name".to_owned(),
                rule: "must be 1 to 64 characters without control characters",
            });
        }
        Ok(Self {
            name: name.to_owned(),
            primary_key,
            secondary_key,
            rights,
        })
    }

    /// The five policies of a new hub ([`Self::HUB_DEFAULTS`]), with keys generated from
    /// random bytes the caller draws (ten calls of `random`).
    pub fn hub_defaults(mut random: impl FnMut() -> [u8; GENERATED_KEY_LEN]) -> Vec<Self> {
        Self::HUB_DEFAULTS
            .iter()
            .map(|&(name, rights)| Self {
                name: name.to_owned(),
                primary_key: SharedAccessKey::generate(random()),
                secondary_key: SharedAccessKey::generate(random()),
                rights,
            })
            .collect()
    }

    /// The policy's name (the `skn` of its tokens).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The primary key.
    pub fn primary_key(&self) -> &SharedAccessKey {
        &self.primary_key
    }

    /// The secondary key.
    pub fn secondary_key(&self) -> &SharedAccessKey {
        &self.secondary_key
    }

    /// The rights the policy grants.
    pub fn rights(&self) -> AccessRights {
        self.rights
    }

    /// Verifies a policy token against `policies` and returns the rights of the policy it names.
    ///
    /// The token must name a policy in `skn` (names compare exactly; IoT Hub does not document
    /// their case rule), be signed with that policy's primary or secondary key, be unexpired at
    /// `now`, and be scoped to cover `accessed`. Which right an operation needs is the caller's
    /// decision.
    pub fn authorize<'p>(
        policies: impl IntoIterator<Item = &'p Self>,
        token: &SasToken,
        accessed: &ResourceUri,
        now: Timestamp,
    ) -> Result<AccessRights, SasError> {
        let name = token.policy_name().ok_or(SasError::MissingPolicyName)?;
        let policy = policies
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| SasError::UnknownPolicy {
                name: name.to_owned(),
            })?;
        token.verify([&policy.primary_key, &policy.secondary_key], accessed, now)?;
        Ok(policy.rights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceId, HostName};
    use proptest::prelude::*;

    const OWNER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const OWNER_TOKEN: &str = "SharedAccessSignature sr=myhub.azure-devices.net&sig=iIzEw6hi6GK79RY5jNXO6QeQkSL%2FAx4zTmy44X2G1VY%3D&se=1700000000&skn=iothubowner";

    fn policies() -> Vec<SharedAccessPolicy> {
        let mut counter = 0u8;
        let mut policies = SharedAccessPolicy::hub_defaults(|| {
            counter += 1;
            [counter; GENERATED_KEY_LEN]
        });
        let owner = SharedAccessKey::from_base64(OWNER_KEY).unwrap();
        policies[0] = SharedAccessPolicy::new(
            "iothubowner",
            SharedAccessKey::generate([99; 32]),
            owner,
            AccessRights::ALL,
        )
        .unwrap();
        policies
    }

    fn hub() -> ResourceUri {
        ResourceUri::hub(&HostName::parse("myhub.azure-devices.net").unwrap())
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_seconds(secs).unwrap()
    }

    #[test]
    fn defaults_match_a_new_hub() {
        let policies = policies();
        let summary: Vec<_> = policies
            .iter()
            .map(|p| (p.name().to_owned(), p.rights().to_string()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "iothubowner",
                    "RegistryRead, RegistryWrite, ServiceConnect, DeviceConnect"
                ),
                ("service", "ServiceConnect"),
                ("device", "DeviceConnect"),
                ("registryRead", "RegistryRead"),
                ("registryReadWrite", "RegistryRead, RegistryWrite"),
            ]
            .map(|(n, r)| (n.to_owned(), r.to_owned()))
        );
        assert_ne!(policies[1].primary_key(), policies[1].secondary_key());
    }

    #[test]
    fn authorize_returns_the_policy_rights() {
        let token = SasToken::parse(OWNER_TOKEN).unwrap();
        let rights = SharedAccessPolicy::authorize(&policies(), &token, &hub(), at(0)).unwrap();
        assert_eq!(rights, AccessRights::ALL);
        let device = ResourceUri::device(
            &HostName::parse("myhub.azure-devices.net").unwrap(),
            &DeviceId::parse("d1").unwrap(),
        );
        assert!(SharedAccessPolicy::authorize(&policies(), &token, &device, at(0)).is_ok());
    }

    #[test]
    fn authorize_rejects_what_it_must() {
        let policies = policies();
        let token = SasToken::parse(OWNER_TOKEN).unwrap();
        let renamed = SasToken::parse(&OWNER_TOKEN.replace("iothubowner", "service")).unwrap();
        assert_eq!(
            SharedAccessPolicy::authorize(&policies, &renamed, &hub(), at(0)),
            Err(SasError::SignatureMismatch)
        );
        let unknown = SasToken::parse(&OWNER_TOKEN.replace("iothubowner", "nobody")).unwrap();
        assert_eq!(
            SharedAccessPolicy::authorize(&policies, &unknown, &hub(), at(0)),
            Err(SasError::UnknownPolicy {
                name: "nobody".into()
            })
        );
        let unnamed = SasToken::parse(&OWNER_TOKEN.replace("&skn=iothubowner", "")).unwrap();
        assert_eq!(
            SharedAccessPolicy::authorize(&policies, &unnamed, &hub(), at(0)),
            Err(SasError::MissingPolicyName)
        );
        assert!(matches!(
            SharedAccessPolicy::authorize(&policies, &token, &hub(), at(1_700_000_000)),
            Err(SasError::Expired { .. })
        ));
        let other_hub = ResourceUri::parse("otherhub.azure-devices.net").unwrap();
        assert!(matches!(
            SharedAccessPolicy::authorize(&policies, &token, &other_hub, at(0)),
            Err(SasError::WrongScope { .. })
        ));
    }

    #[test]
    fn policy_names_are_validated_and_keys_not_shown() {
        let key = SharedAccessKey::from_base64(OWNER_KEY).unwrap();
        assert!(SharedAccessPolicy::new("", key.clone(), key.clone(), AccessRights::NONE).is_err());
        assert!(
            SharedAccessPolicy::new("a\nb", key.clone(), key.clone(), AccessRights::NONE).is_err()
        );
        let policy =
            SharedAccessPolicy::new("p", key.clone(), key, AccessRights::SERVICE_CONNECT).unwrap();
        let shown = format!("{policy:?}");
        assert!(
            shown.contains("ServiceConnect") && !shown.contains("AAECAw"),
            "{shown}"
        );
    }

    #[test]
    fn rights_text_is_lenient_about_spaces() {
        assert_eq!(
            " ServiceConnect,DeviceConnect ,"
                .parse::<AccessRights>()
                .unwrap(),
            AccessRights::SERVICE_CONNECT | AccessRights::DEVICE_CONNECT
        );
        assert_eq!("".parse::<AccessRights>().unwrap(), AccessRights::NONE);
        assert!("serviceconnect".parse::<AccessRights>().is_err());
        assert!(AccessRights::NONE.is_empty());
    }

    proptest! {
        #[test]
        fn rights_round_trip(bits in 0u8..16) {
            let rights = AccessRights(bits);
            prop_assert_eq!(rights.to_string().parse::<AccessRights>().unwrap(), rights);
            prop_assert!(AccessRights::ALL.contains(rights));
            prop_assert!(rights.contains(AccessRights::NONE));
        }
    }
}
