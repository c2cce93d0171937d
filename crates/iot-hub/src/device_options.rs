//! [`DeviceOptions`]: how a new device authenticates and whether it may connect.

use iot_protocol::{
    AuthenticationMechanism, AuthenticationType, Device, DeviceEtag, DeviceId, DeviceStatus,
    GENERATED_KEY_LEN, ProtocolError, SharedAccessKey, SymmetricKey, X509Thumbprint,
    check_status_reason,
};
use iot_twin::Timestamp;

use crate::HubError;

/// The settings of a device to register: its authentication and status.
///
/// The default is an enabled device with shared access keys that the hub generates (32 random
/// bytes each, as IoT Hub does).
///
/// ```
/// use iot_hub::DeviceOptions;
///
/// let x509 = DeviceOptions::self_signed("9E5F8C0E3B0F4C1D2A3B4C5D6E7F8091A2B3C4D5", None)?;
/// let disabled = DeviceOptions::default().disabled();
/// # let _ = (x509, disabled);
/// # Ok::<(), iot_hub::HubError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct DeviceOptions {
    auth: Auth,
    status: Option<DeviceStatus>,
    status_reason: Option<String>,
}

#[derive(Debug, Clone, Default)]
enum Auth {
    #[default]
    GeneratedKeys,
    Keys(Option<SharedAccessKey>, Option<SharedAccessKey>),
    SelfSigned(String, Option<String>),
}

impl DeviceOptions {
    /// A device that signs SAS tokens with these keys.
    pub fn with_keys(primary: SharedAccessKey, secondary: SharedAccessKey) -> Self {
        Self {
            auth: Auth::Keys(Some(primary), Some(secondary)),
            ..Self::default()
        }
    }

    /// A device that authenticates with a self-signed X.509 certificate, matched by its
    /// thumbprint: the SHA-1 (40 hex digits) or SHA-256 (64 hex digits) of the certificate's DER
    /// encoding, in either case.
    ///
    /// # Errors
    /// [`HubError::InvalidDevice`] when a thumbprint is not 40 or 64 hex digits.
    pub fn self_signed(primary: &str, secondary: Option<&str>) -> Result<Self, HubError> {
        check_thumbprint("primaryThumbprint", primary)?;
        if let Some(secondary) = secondary {
            check_thumbprint("secondaryThumbprint", secondary)?;
        }
        Ok(Self {
            auth: Auth::SelfSigned(primary.to_owned(), secondary.map(str::to_owned)),
            ..Self::default()
        })
    }

    /// The same options for a device registered as disabled (it may not connect).
    pub fn disabled(mut self) -> Self {
        self.status = Some(DeviceStatus::Disabled);
        self.status_reason = None;
        self
    }

    /// The same options with this status and reason.
    ///
    /// # Errors
    /// [`HubError::InvalidDevice`] for a reason longer than IoT Hub allows
    /// ([`iot_protocol::MAX_STATUS_REASON_LEN`] characters).
    pub fn with_status(
        self,
        status: DeviceStatus,
        reason: Option<String>,
    ) -> Result<Self, HubError> {
        self.status(Some(status), reason)
    }

    /// The same options with this status (`None`: enabled) and reason, checked.
    fn status(
        mut self,
        status: Option<DeviceStatus>,
        reason: Option<String>,
    ) -> Result<Self, HubError> {
        if let Some(reason) = &reason {
            check_status_reason(reason).map_err(|error| invalid_device("statusReason", error))?;
        }
        self.status = status;
        self.status_reason = reason;
        Ok(self)
    }

    /// The options a registry `PUT` body asks for: its status and authentication. Absent or
    /// empty keys are generated (the Node service SDK sends `""`).
    ///
    /// # Errors
    /// [`HubError::InvalidDevice`] for a self-signed device without a valid primary thumbprint,
    /// for `certificateAuthority` and `none`, which this hub does not support, or for a
    /// `statusReason` longer than IoT Hub allows.
    pub fn from_device(device: &Device) -> Result<Self, HubError> {
        let mechanism = device.authentication.clone().unwrap_or_default();
        let options = match mechanism.kind.unwrap_or_default() {
            AuthenticationType::Sas => {
                let keys = mechanism.symmetric_key.unwrap_or_default();
                Self {
                    auth: Auth::Keys(keys.primary_key, keys.secondary_key),
                    ..Self::default()
                }
            }
            AuthenticationType::SelfSigned => {
                let thumbprints = mechanism.x509_thumbprint.unwrap_or_default();
                let primary = thumbprints.primary_thumbprint.unwrap_or_default();
                Self::self_signed(&primary, thumbprints.secondary_thumbprint.as_deref())?
            }
            other => {
                return Err(HubError::InvalidDevice {
                    field: "authentication.type",
                    rule: format!("{other:?} is not supported by this hub (use sas or selfSigned)"),
                });
            }
        };
        options.status(device.status, device.status_reason.clone())
    }

    /// The registry record of a new device `id`.
    pub(crate) fn into_device(self, id: &DeviceId, now: Timestamp) -> Device {
        let mut device = Device::new(id.clone());
        let generation: u64 = rand::random::<u64>() % 10_u64.pow(18);
        device.generation_id = Some(format!("{generation:018}"));
        device.etag = Some(DeviceEtag::from_counter(1).to_string());
        device.status = Some(self.status.unwrap_or(DeviceStatus::Enabled));
        device.status_reason = self.status_reason;
        device.status_updated_time = Some(Timestamp::MIN);
        device.connection_state_updated_time = Some(now);
        device.authentication = Some(self.auth.into_mechanism());
        device
    }

    /// Applies these options to an existing record (an update): authentication and status.
    pub(crate) fn apply_to(self, device: &mut Device, now: Timestamp) {
        let status = self.status.unwrap_or(DeviceStatus::Enabled);
        if device.status != Some(status) {
            device.status_updated_time = Some(now);
        }
        device.status = Some(status);
        device.status_reason = self.status_reason;
        device.authentication = Some(self.auth.into_mechanism());
    }
}

impl Auth {
    fn into_mechanism(self) -> AuthenticationMechanism {
        let generate = || SharedAccessKey::generate(rand::random::<[u8; GENERATED_KEY_LEN]>());
        match self {
            Self::GeneratedKeys => keys(generate(), generate()),
            Self::Keys(primary, secondary) => keys(
                primary.unwrap_or_else(generate),
                secondary.unwrap_or_else(generate),
            ),
            Self::SelfSigned(primary, secondary) => AuthenticationMechanism {
                symmetric_key: None,
                x509_thumbprint: Some(X509Thumbprint::new(Some(primary), secondary)),
                kind: Some(AuthenticationType::SelfSigned),
            },
        }
    }
}

fn keys(primary: SharedAccessKey, secondary: SharedAccessKey) -> AuthenticationMechanism {
    AuthenticationMechanism {
        symmetric_key: Some(SymmetricKey {
            primary_key: Some(primary),
            secondary_key: Some(secondary),
        }),
        x509_thumbprint: Some(X509Thumbprint::default()),
        kind: Some(AuthenticationType::Sas),
    }
}

/// A device rule of `iot_protocol` broken by `field`, as the hub reports it.
fn invalid_device(field: &'static str, error: ProtocolError) -> HubError {
    let rule = match error {
        ProtocolError::InvalidField { rule, .. } => rule.to_owned(),
        other => other.to_string(),
    };
    HubError::InvalidDevice { field, rule }
}

fn check_thumbprint(field: &'static str, thumbprint: &str) -> Result<(), HubError> {
    let hex = thumbprint.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && matches!(thumbprint.len(), 40 | 64) {
        return Ok(());
    }
    Err(HubError::InvalidDevice {
        field,
        rule: "must be a SHA-1 (40 hex digits) or SHA-256 (64 hex digits) thumbprint".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_protocol::MAX_STATUS_REASON_LEN;

    fn id() -> DeviceId {
        "d1".parse().unwrap()
    }

    #[test]
    fn default_generates_two_distinct_keys() {
        let device = DeviceOptions::default().into_device(&id(), Timestamp::MIN);
        let auth = device.authentication.unwrap();
        let keys = auth.symmetric_key.unwrap();
        assert_ne!(keys.primary_key, keys.secondary_key);
        assert_eq!(auth.kind, Some(AuthenticationType::Sas));
        assert_eq!(device.status, Some(DeviceStatus::Enabled));
    }

    #[test]
    fn empty_keys_in_a_put_body_are_generated() {
        let body = r#"{"deviceId":"d1","authentication":{"symmetricKey":{"primaryKey":"","secondaryKey":""}}}"#;
        let device: Device = serde_json::from_str(body).unwrap();
        let options = DeviceOptions::from_device(&device).unwrap();
        let created = options.into_device(&id(), Timestamp::MIN);
        let keys = created.authentication.unwrap().symmetric_key.unwrap();
        assert!(keys.primary_key.is_some() && keys.secondary_key.is_some());
    }

    #[test]
    fn status_reasons_follow_iot_hubs_limit() {
        let longest = "r".repeat(MAX_STATUS_REASON_LEN);
        let options = DeviceOptions::default()
            .with_status(DeviceStatus::Disabled, Some(longest.clone()))
            .unwrap();
        let device = options.into_device(&id(), Timestamp::MIN);
        assert_eq!(device.status_reason, Some(longest));

        let long = "r".repeat(MAX_STATUS_REASON_LEN + 1);
        let error = DeviceOptions::default()
            .with_status(DeviceStatus::Disabled, Some(long.clone()))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid device definition: statusReason must be at most 128 characters"
        );
        let mut device = Device::new(id());
        device.status_reason = Some(long);
        let error = DeviceOptions::from_device(&device).unwrap_err();
        assert!(
            matches!(
                error,
                HubError::InvalidDevice {
                    field: "statusReason",
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn thumbprints_must_be_sha1_or_sha256_hex() {
        assert!(DeviceOptions::self_signed(&"a".repeat(40), None).is_ok());
        assert!(DeviceOptions::self_signed(&"B".repeat(64), Some(&"c".repeat(40))).is_ok());
        for bad in ["", "xyz", &"a".repeat(41), &"g".repeat(40)] {
            let error = DeviceOptions::self_signed(bad, None).unwrap_err();
            assert!(error.to_string().contains("primaryThumbprint"), "{error}");
        }
        let mut device = Device::new(id());
        device.authentication = Some(AuthenticationMechanism {
            kind: Some(AuthenticationType::CertificateAuthority),
            ..AuthenticationMechanism::default()
        });
        assert!(DeviceOptions::from_device(&device).is_err());
    }
}
