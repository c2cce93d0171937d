//! [`ServiceClientBuilder`]: the client's settings, validated once in
//! [`ServiceClientBuilder::build`].

use std::net::SocketAddr;
use std::time::Duration;

use iot_protocol::{HostName, SasToken, ServiceConnectionString};

use crate::ServiceError;
use crate::client::ServiceClient;
use crate::retry::RetryPolicy;
use crate::tls::Trust;
use crate::token::{Credentials, TokenCache};
use crate::transport::Http;

/// The shortest request timeout accepted.
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(1);
/// The longest request timeout accepted.
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);
/// The shortest SAS token lifetime accepted.
const MIN_TOKEN_TTL: Duration = Duration::from_secs(60);
/// The longest SAS token lifetime accepted.
const MAX_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// The SAS token lifetime when none is set: an hour, as the official SDKs sign them.
const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Settings for a [`ServiceClient`].
///
/// Defaults: HTTPS to the connection string's `HostName` (which may carry a port), trusting
/// the platform's certificate authorities; 30 s request timeout; [`RetryPolicy::default`];
/// SAS tokens that live one hour (as the official SDKs sign them) and are re-signed when a
/// quarter of that remains. Setters never fail; [`ServiceClientBuilder::build`] checks
/// everything once and names the setting at fault.
///
/// ```
/// use std::time::Duration;
/// use iot_service_sdk::{RetryPolicy, ServiceClient};
///
/// let client = ServiceClient::builder(
///     "HostName=localhost;SharedAccessKeyName=iothubowner;\
///      SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
/// )
/// .endpoint("127.0.0.1:8443")
/// .plain_http()
/// .request_timeout(Duration::from_secs(5))
/// .retry_policy(RetryPolicy::never())
/// .build()?;
/// assert_eq!(client.endpoint(), "http://127.0.0.1:8443");
///
/// let bad = ServiceClient::builder("HostName=localhost").build().unwrap_err();
/// assert!(bad.to_string().contains("connection string"));
/// # Ok::<(), iot_service_sdk::ServiceError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build`"]
pub struct ServiceClientBuilder {
    credential: Result<Credential, ServiceError>,
    endpoint: Option<String>,
    plain_http: bool,
    trust: Trust,
    request_timeout: Duration,
    retry: RetryPolicy,
    token_ttl: Option<Duration>,
}

/// What the client authenticates with, as given.
#[derive(Debug, Clone)]
enum Credential {
    /// A connection string: tokens are signed with its key.
    Key(ServiceConnectionString),
    /// A ready-made token.
    Token(SasToken),
}

impl ServiceClientBuilder {
    /// Settings for a client authenticating with `connection_string`'s shared access policy.
    pub fn new(connection_string: ServiceConnectionString) -> Self {
        Self::with(Ok(Credential::Key(connection_string)))
    }

    /// Settings for a client authenticating with a ready-made token scoped to a hub (see
    /// [`ServiceClient::from_sas_token`]).
    pub fn with_sas_token(token: SasToken) -> Self {
        Self::with(Ok(Credential::Token(token)))
    }

    /// Settings for a client with a connection string still to be parsed (errors surface in
    /// `build`).
    pub(crate) fn parse(connection_string: &str) -> Self {
        Self::with(
            ServiceConnectionString::parse(connection_string)
                .map(Credential::Key)
                .map_err(|e| ServiceError::config("connection string", e.to_string())),
        )
    }

    /// Settings for a client with a token still to be parsed (errors surface in `build`).
    pub(crate) fn parse_sas_token(token: &str) -> Self {
        Self::with(
            SasToken::parse(token)
                .map(Credential::Token)
                .map_err(|e| ServiceError::config("SAS token", e.to_string())),
        )
    }

    fn with(credential: Result<Credential, ServiceError>) -> Self {
        Self {
            credential,
            endpoint: None,
            plain_http: false,
            trust: Trust::default(),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            token_ttl: None,
        }
    }

    /// Connects to `host[:port]` (`127.0.0.1:8443`, `localhost:443`, `[::1]:8443`) instead of
    /// the connection string's `HostName`. Tokens are still scoped to `HostName`, and TLS
    /// checks that the server's certificate names this host.
    pub fn endpoint(mut self, host_and_port: impl Into<String>) -> Self {
        self.endpoint = Some(host_and_port.into());
        self
    }

    /// Connects to `addr` instead of the connection string's `HostName` (see
    /// [`Self::endpoint`]); handy with a local hub's bound address.
    pub fn endpoint_addr(self, addr: SocketAddr) -> Self {
        self.endpoint(addr.to_string())
    }

    /// Speaks plain HTTP instead of HTTPS. Meant only for a local hub in tests: tokens and
    /// twins travel unencrypted. Cannot be combined with the TLS trust settings.
    pub fn plain_http(mut self) -> Self {
        self.plain_http = true;
        self
    }

    /// Trusts the certificate authorities in `pem` (one or more `CERTIFICATE` blocks), in
    /// addition to the platform's unless [`Self::without_platform_roots`] is set. May be called
    /// several times.
    pub fn trust_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.trust.ca_pems.push(pem.as_ref().to_vec());
        self
    }

    /// Trusts only the CAs given with [`Self::trust_ca_pem`], not the platform's.
    pub fn without_platform_roots(mut self) -> Self {
        self.trust.without_platform_roots = true;
        self
    }

    /// How long a request may take, from sending to the end of the answer (default 30 s;
    /// 1 ms to 1 hour). A direct-method call waits its own connect and response timeouts on
    /// top of this.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// When to retry (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long each SAS token signed from the connection string's key is valid (default 1
    /// hour; 1 minute to 365 days). Tokens are re-signed when a quarter of this remains. Not
    /// for a client with a ready-made token.
    pub fn sas_token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = Some(ttl);
        self
    }

    /// Checks the settings and builds the client.
    ///
    /// # Errors
    /// [`ServiceError::Configuration`] naming the setting: an unreadable connection string or
    /// token (or a token not scoped to a hub), an endpoint that is not `host[:port]`, TLS trust
    /// settings with plain HTTP, an unreadable CA PEM, platform roots that cannot be loaded, a
    /// timeout or token lifetime out of range, a token lifetime with a ready-made token.
    pub fn build(self) -> Result<ServiceClient, ServiceError> {
        check_range(
            "request timeout",
            self.request_timeout,
            MIN_REQUEST_TIMEOUT,
            MAX_REQUEST_TIMEOUT,
        )?;
        let credentials = credentials(self.credential?, self.token_ttl)?;
        let base = base_url(
            self.plain_http,
            self.endpoint.as_deref(),
            credentials.host_name(),
        )?;
        let tls = if self.plain_http {
            if !self.trust.ca_pems.is_empty() || self.trust.without_platform_roots {
                return Err(ServiceError::config(
                    "TLS trust",
                    "plain HTTP uses no TLS; drop the CA settings or plain_http",
                ));
            }
            Trust::none()?
        } else {
            self.trust.client_config()?
        };
        let http = Http::new(base, tls, self.plain_http, self.request_timeout)?;
        Ok(ServiceClient::new(credentials, http, self.retry))
    }
}

/// The credentials for `credential`, checking the token lifetime or the token's scope.
fn credentials(credential: Credential, ttl: Option<Duration>) -> Result<Credentials, ServiceError> {
    match credential {
        Credential::Key(connection_string) => {
            let ttl = ttl.unwrap_or(DEFAULT_TOKEN_TTL);
            check_range("SAS token lifetime", ttl, MIN_TOKEN_TTL, MAX_TOKEN_TTL)?;
            Ok(Credentials::Key(TokenCache::new(connection_string, ttl)))
        }
        Credential::Token(_) if ttl.is_some() => Err(ServiceError::config(
            "SAS token lifetime",
            "a ready-made token keeps its own expiry; the lifetime applies to tokens signed from a key",
        )),
        Credential::Token(token) => {
            let host_name = HostName::parse(token.resource().as_str()).map_err(|_| {
                ServiceError::config(
                    "SAS token",
                    format!(
                        "is scoped to {:?}, not to a hub (sr=<host name>)",
                        token.resource().as_str()
                    ),
                )
            })?;
            Ok(Credentials::Token { host_name, token })
        }
    }
}

fn check_range(
    setting: &'static str,
    value: Duration,
    min: Duration,
    max: Duration,
) -> Result<(), ServiceError> {
    if value < min || value > max {
        return Err(ServiceError::config(
            setting,
            format!("must be between {min:?} and {max:?}, not {value:?}"),
        ));
    }
    Ok(())
}

/// `scheme://authority` for the endpoint override or the hub's host name.
fn base_url(
    plain_http: bool,
    endpoint: Option<&str>,
    host_name: &HostName,
) -> Result<String, ServiceError> {
    let authority = match endpoint {
        Some(text) => HostName::parse(text)
            .map_err(|e| ServiceError::config("endpoint", format!("{e}; give host[:port]")))?,
        None => host_name.clone(),
    };
    let scheme = if plain_http { "http" } else { "https" };
    let base = format!("{scheme}://{authority}");
    let url = reqwest::Url::parse(&base).map_err(|e| {
        ServiceError::config("endpoint", format!("{authority:?} is not host[:port]: {e}"))
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ServiceError::config(
            "endpoint",
            format!("{authority:?} has no host"),
        ));
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CS: &str = "HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;\
                      SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn plain() -> ServiceClientBuilder {
        ServiceClientBuilder::parse(CS).plain_http()
    }

    fn setting(error: ServiceError) -> &'static str {
        match error {
            ServiceError::Configuration { setting, .. } => setting,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn endpoints_default_to_the_host_name() {
        let host: HostName = "myhub.azure-devices.net".parse().unwrap();
        assert_eq!(
            base_url(false, None, &host).unwrap(),
            "https://myhub.azure-devices.net"
        );
        assert_eq!(
            base_url(true, Some("127.0.0.1:9"), &host).unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            base_url(false, Some("[::1]:443"), &host).unwrap(),
            "https://[::1]:443"
        );
        for bad in ["http://x", "a/b", "", "host:notaport", "a:1:2"] {
            assert_eq!(
                setting(base_url(false, Some(bad), &host).unwrap_err()),
                "endpoint",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn build_names_the_setting_at_fault() {
        let cases = [
            (
                ServiceClientBuilder::parse("HostName=h"),
                "connection string",
            ),
            (plain().request_timeout(Duration::ZERO), "request timeout"),
            (
                plain().request_timeout(Duration::from_secs(3601)),
                "request timeout",
            ),
            (
                plain().sas_token_ttl(Duration::from_secs(59)),
                "SAS token lifetime",
            ),
            (plain().endpoint("a b"), "endpoint"),
            (plain().trust_ca_pem("x"), "TLS trust"),
            (plain().without_platform_roots(), "TLS trust"),
            (
                ServiceClientBuilder::parse(CS).without_platform_roots(),
                "TLS trust",
            ),
            (ServiceClientBuilder::parse_sas_token("sig=x"), "SAS token"),
            (
                ServiceClientBuilder::parse_sas_token(&device_token()).plain_http(),
                "SAS token",
            ),
            (
                ServiceClientBuilder::parse_sas_token(&hub_token())
                    .plain_http()
                    .sas_token_ttl(Duration::from_secs(600)),
                "SAS token lifetime",
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(setting(builder.build().unwrap_err()), expected);
        }
    }

    fn hub_token() -> String {
        let cs = ServiceConnectionString::parse(CS).unwrap();
        cs.sas_token(1_700_000_000).to_secret_string()
    }

    fn device_token() -> String {
        let cs = ServiceConnectionString::parse(CS).unwrap();
        let resource = iot_protocol::ResourceUri::device(cs.host_name(), &"d1".parse().unwrap());
        SasToken::create(&resource, cs.key(), None, 1_700_000_000).to_secret_string()
    }

    #[test]
    fn a_ready_made_token_names_the_hub() {
        let client = ServiceClientBuilder::parse_sas_token(&hub_token())
            .plain_http()
            .build()
            .unwrap();
        assert_eq!(client.host_name().as_str(), "myhub.azure-devices.net");
        assert_eq!(client.endpoint(), "http://myhub.azure-devices.net");
        assert_eq!(client.policy_name(), Some("iothubowner"));
    }

    #[test]
    fn errors_never_show_the_key() {
        let error =
            ServiceClientBuilder::parse("HostName=h;SharedAccessKeyName=p;SharedAccessKey=s3cr3t!")
                .build()
                .unwrap_err();
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
        assert!(!format!("{:?}", plain()).contains("AAECAw"));
    }

    #[test]
    fn a_plain_client_builds_without_tls_roots() {
        let client = plain()
            .endpoint_addr("127.0.0.1:1".parse().unwrap())
            .build()
            .unwrap();
        assert_eq!(client.endpoint(), "http://127.0.0.1:1");
        assert_eq!(client.host_name().as_str(), "myhub.azure-devices.net");
        assert_eq!(client.policy_name(), Some("iothubowner"));
    }
}
