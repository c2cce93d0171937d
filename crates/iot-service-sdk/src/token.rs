//! The `Authorization` header: [`Credentials`] of a client, either a [`TokenCache`] signing
//! with the policy key and re-signing before expiry, or a ready-made token.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use iot_protocol::{HostName, SasToken, ServiceConnectionString};

/// How a client proves who it is.
pub(crate) enum Credentials {
    /// Tokens signed with a shared access policy's key, cached and renewed.
    Key(TokenCache),
    /// A token made elsewhere, sent as it is; never renewed (there is no key).
    Token {
        /// The hub the token is scoped to.
        host_name: HostName,
        /// The token.
        token: SasToken,
    },
}

impl Credentials {
    /// The `Authorization` header value at `now` (seconds since the Unix epoch).
    pub(crate) fn header(&self, now: u64) -> String {
        match self {
            Self::Key(cache) => cache.header(now),
            Self::Token { token, .. } => token.to_secret_string(),
        }
    }

    /// The hub's host name.
    pub(crate) fn host_name(&self) -> &HostName {
        match self {
            Self::Key(cache) => cache.connection_string.host_name(),
            Self::Token { host_name, .. } => host_name,
        }
    }

    /// The shared access policy the tokens name, if they name one.
    pub(crate) fn policy_name(&self) -> Option<&str> {
        match self {
            Self::Key(cache) => Some(cache.connection_string.policy_name()),
            Self::Token { token, .. } => token.policy_name(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(cache) => cache.fmt(f),
            Self::Token { token, .. } => f
                .debug_struct("Token")
                .field("policy", &token.policy_name())
                .field("expiry", &token.expiry())
                .finish_non_exhaustive(),
        }
    }
}

/// Signs SAS tokens for the hub with a shared access policy's key, and keeps the current one
/// until it comes within a margin of its expiry.
///
/// Node's service SDK signs a fresh token for every request, Python's one per session
/// (PROTOCOL 2.6). Signing is cheap, but a cached token keeps the header stable across the
/// requests of a burst; we re-sign once less than a quarter of the lifetime remains, so a
/// token is always valid for a good while after it is sent, whatever the request timeout.
pub(crate) struct TokenCache {
    connection_string: ServiceConnectionString,
    ttl: Duration,
    current: Mutex<Option<Token>>,
}

/// A signed header value and its expiry.
#[derive(Clone)]
struct Token {
    header: String,
    expiry: u64,
}

impl TokenCache {
    /// A cache signing tokens that live `ttl` (at least one second).
    pub(crate) fn new(connection_string: ServiceConnectionString, ttl: Duration) -> Self {
        Self {
            connection_string,
            ttl: ttl.max(Duration::from_secs(1)),
            current: Mutex::new(None),
        }
    }

    /// The `Authorization` header value at `now` (seconds since the Unix epoch).
    pub(crate) fn header(&self, now: u64) -> String {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        match &*current {
            Some(token) if !self.needs_renewal(token.expiry, now) => token.header.clone(),
            _ => {
                let token = self.sign(now);
                let header = token.header.clone();
                *current = Some(token);
                header
            }
        }
    }

    /// The margin before expiry at which a token is re-signed: a quarter of the lifetime.
    pub(crate) fn renewal_margin(&self) -> Duration {
        self.ttl / 4
    }

    fn needs_renewal(&self, expiry: u64, now: u64) -> bool {
        expiry.saturating_sub(now) <= self.renewal_margin().as_secs()
    }

    fn sign(&self, now: u64) -> Token {
        let expiry = now.saturating_add(self.ttl.as_secs());
        let token = self.connection_string.sas_token(expiry);
        tracing::debug!(
            expiry,
            policy = self.connection_string.policy_name(),
            "signed a SAS token"
        );
        Token {
            header: token.to_secret_string(),
            expiry,
        }
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("policy", &self.connection_string.policy_name())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_protocol::{ResourceUri, SasToken};
    use iot_twin::Timestamp;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn cache(ttl: u64) -> (TokenCache, ServiceConnectionString) {
        let cs: ServiceConnectionString = format!(
            "HostName=myhub.azure-devices.net;SharedAccessKeyName=service;SharedAccessKey={KEY}"
        )
        .parse()
        .unwrap();
        (TokenCache::new(cs.clone(), Duration::from_secs(ttl)), cs)
    }

    fn expiry(header: &str) -> u64 {
        header.parse::<SasToken>().unwrap().expiry()
    }

    #[test]
    fn tokens_verify_against_the_policy_key_and_hub() {
        let (cache, cs) = cache(3600);
        let token: SasToken = cache.header(1_700_000_000).parse().unwrap();
        assert_eq!(token.policy_name(), Some("service"));
        assert_eq!(token.expiry(), 1_700_003_600);
        let now = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
        let hub = ResourceUri::hub(cs.host_name());
        assert!(token.verify([cs.key()], &hub, now).is_ok());
    }

    #[test]
    fn a_token_is_reused_until_the_margin_then_renewed() {
        let (cache, _) = cache(3600);
        let first = cache.header(1000);
        assert_eq!(cache.renewal_margin(), Duration::from_secs(900));
        assert_eq!(cache.header(1000 + 2699), first);
        let renewed = cache.header(1000 + 2700);
        assert_ne!(renewed, first);
        assert_eq!(expiry(&renewed), 1000 + 2700 + 3600);
    }

    #[test]
    fn a_clock_that_jumps_gets_a_fresh_token() {
        let (cache, _) = cache(60);
        let first = cache.header(5000);
        assert_eq!(
            expiry(&cache.header(10)),
            expiry(&first),
            "backwards keeps the token"
        );
        assert_eq!(expiry(&cache.header(9000)), 9060);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let (cache, cs) = cache(60);
        let header = cache.header(1);
        let shown = format!("{cache:?}");
        assert!(
            !shown.contains(&header) && !shown.contains("sig="),
            "{shown}"
        );
        let token = cs.sas_token(99);
        let fixed = Credentials::Token {
            host_name: cs.host_name().clone(),
            token: token.clone(),
        };
        let shown = format!("{fixed:?}");
        assert!(
            !shown.contains(&token.to_secret_string()) && !shown.contains("sig="),
            "{shown}"
        );
    }

    #[test]
    fn a_ready_made_token_is_sent_as_it_is() {
        let (_, cs) = cache(60);
        let token = cs.sas_token(1_000);
        let fixed = Credentials::Token {
            host_name: cs.host_name().clone(),
            token: token.clone(),
        };
        assert_eq!(
            fixed.header(5_000),
            token.to_secret_string(),
            "even when expired"
        );
        assert_eq!(fixed.policy_name(), Some("service"));
        assert_eq!(fixed.host_name(), cs.host_name());
        let signed = Credentials::Key(TokenCache::new(cs, Duration::from_secs(60)));
        assert_eq!(signed.policy_name(), Some("service"));
        assert_ne!(signed.header(5_000), token.to_secret_string());
    }
}
