//! How the device proves who it is, and the MQTT password that follows for each connection.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iot_protocol::{ResourceUri, SasToken, SharedAccessKey};

/// The device's credential, checked.
#[derive(Clone)]
pub(crate) enum Auth {
    /// A symmetric key: every connection presents a fresh token valid for `ttl`, and the client
    /// reconnects `margin` before it expires.
    Key {
        key: SharedAccessKey,
        /// The shared access policy the key belongs to, named in `skn`.
        policy_name: Option<String>,
        ttl: Duration,
        margin: Duration,
    },
    /// A ready-made token, presented until it expires.
    Token(SasToken),
    /// A TLS client certificate; CONNECT carries no password.
    X509,
}

/// What one connection presents, and how long it may last.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// The MQTT password: a SAS token, or none for X.509.
    pub(crate) password: Option<String>,
    /// When to reconnect with a fresh token, counted from the connection's start.
    pub(crate) renew_after: Option<Duration>,
    /// When the presented token expires for good (a ready-made token), counted likewise.
    pub(crate) expires_after: Option<Duration>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("renew_after", &self.renew_after)
            .field("expires_after", &self.expires_after)
            .finish()
    }
}

impl Auth {
    /// The credentials for a connection opened at `now` to `resource`, or `None` when the
    /// ready-made token has expired.
    pub(crate) fn credentials(
        &self,
        resource: &ResourceUri,
        now: SystemTime,
    ) -> Option<Credentials> {
        let now_secs = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        match self {
            Self::Key {
                key,
                policy_name,
                ttl,
                margin,
            } => {
                let until = now_secs.saturating_add(*ttl);
                let expiry = until.as_secs() + u64::from(until.subsec_nanos() > 0);
                let token = SasToken::create(resource, key, policy_name.as_deref(), expiry);
                Some(Credentials {
                    password: Some(token.to_secret_string()),
                    renew_after: Some(ttl.saturating_sub(*margin)),
                    expires_after: None,
                })
            }
            Self::Token(token) => {
                let left = Duration::from_secs(token.expiry()).checked_sub(now_secs)?;
                if left.is_zero() {
                    return None;
                }
                Some(Credentials {
                    password: Some(token.to_secret_string()),
                    renew_after: None,
                    expires_after: Some(left),
                })
            }
            Self::X509 => Some(Credentials {
                password: None,
                renew_after: None,
                expires_after: None,
            }),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key {
                policy_name,
                ttl,
                margin,
                ..
            } => f
                .debug_struct("Key")
                .field("key", &"<redacted>")
                .field("policy_name", policy_name)
                .field("ttl", ttl)
                .field("margin", margin)
                .finish(),
            Self::Token(token) => f.debug_tuple("Token").field(token).finish(),
            Self::X509 => f.write_str("X509"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_protocol::{DeviceId, HostName};

    fn resource() -> ResourceUri {
        let host: HostName = "myhub.azure-devices.net".parse().unwrap();
        let device: DeviceId = "device1".parse().unwrap();
        ResourceUri::device(&host, &device)
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn keys_mint_a_token_per_connection() {
        let auth = Auth::Key {
            key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
                .parse()
                .unwrap(),
            policy_name: None,
            ttl: Duration::from_secs(3600),
            margin: Duration::from_secs(120),
        };
        let credentials = auth.credentials(&resource(), at(1_699_996_400)).unwrap();
        assert_eq!(
            credentials.password.as_deref(),
            Some(
                "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1\
                 &sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1700000000"
            )
        );
        assert_eq!(credentials.renew_after, Some(Duration::from_secs(3480)));
        assert_eq!(credentials.expires_after, None);
        assert!(!format!("{auth:?}{credentials:?}").contains("AAEC"));
        assert!(!format!("{credentials:?}").contains("sig="));
    }

    #[test]
    fn ready_tokens_last_until_their_expiry() {
        let token: SasToken =
            "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1\
                               &sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1700000000"
                .parse()
                .unwrap();
        let auth = Auth::Token(token);
        let credentials = auth.credentials(&resource(), at(1_699_999_990)).unwrap();
        assert_eq!(credentials.expires_after, Some(Duration::from_secs(10)));
        assert_eq!(credentials.renew_after, None);
        assert!(auth.credentials(&resource(), at(1_700_000_000)).is_none());
        assert!(auth.credentials(&resource(), at(1_800_000_000)).is_none());
    }

    #[test]
    fn certificates_send_no_password() {
        let credentials = Auth::X509.credentials(&resource(), at(0)).unwrap();
        assert_eq!(credentials.password, None);
        assert_eq!(format!("{:?}", Auth::X509), "X509");
    }
}
