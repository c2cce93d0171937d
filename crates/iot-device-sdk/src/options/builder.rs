//! [`DeviceOptionsBuilder`]: collects settings and checks them all in
//! [`DeviceOptionsBuilder::build`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::DeviceOptions;
use super::endpoint;
use super::tls::TlsInputs;
use crate::methods::SharedHandler;
use crate::{ConfigError, RetryPolicy};
use iot_methods::MethodHandler;

mod check;

/// The `DeviceClientType` this crate reports in the MQTT username.
const USER_AGENT: &str = concat!("iot-device-sdk-rust/", env!("CARGO_PKG_VERSION"));
/// The longest keep-alive that helps: IoT Hub drops a silent client after 1.5 × keep-alive,
/// capped at 1767 s.
const MAX_KEEP_ALIVE: Duration = Duration::from_secs(1177);

/// Where the identity comes from.
#[derive(Clone)]
enum Source {
    ConnectionString(String),
    Parts { host: String, device: String },
}

/// A credential given to the builder, parsed in `build`.
#[derive(Clone)]
enum CredentialInput {
    Key(String),
    Token(String),
    X509 { chain: Vec<u8>, key: Vec<u8> },
}

/// Configures [`DeviceOptions`]. Setters never fail; [`DeviceOptionsBuilder::build`] checks
/// everything at once and names the first option at fault.
///
/// Defaults: port 8883 with TLS trusting the system's roots, keep-alive 60 s, operation timeout
/// 30 s, connect timeout 30 s, SAS tokens valid for an hour and renewed two minutes before
/// they expire, [`RetryPolicy::default`], queues of 64 requests and 64 cloud-to-device
/// messages.
///
/// ```
/// use std::time::Duration;
/// use iot_device_sdk::{DeviceOptions, RetryPolicy};
///
/// let options = DeviceOptions::builder("myhub.azure-devices.net", "pump-7")
///     .shared_access_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
///     .gateway_host_name("edge-gateway.local")
///     .sas_token_ttl(Duration::from_secs(900))
///     .retry_policy(RetryPolicy::builder().max_delay(Duration::from_secs(30)).build()?)
///     .build()?;
/// assert_eq!(options.endpoint(), ("edge-gateway.local", 8883));
/// assert!(options.mqtt_username().starts_with("myhub.azure-devices.net/pump-7/?api-version="));
///
/// let error = DeviceOptions::builder("myhub.azure-devices.net", "pump-7").build().unwrap_err();
/// assert_eq!(error.option(), "credential");
/// # Ok::<(), iot_device_sdk::ConfigError>(())
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `build`"]
pub struct DeviceOptionsBuilder {
    source: Source,
    module: Option<String>,
    credential: Option<CredentialInput>,
    sas_ttl: Duration,
    sas_margin: Duration,
    gateway: Option<String>,
    endpoint: Option<(String, u16)>,
    port: Option<u16>,
    tls: TlsInputs,
    plain_tcp: bool,
    keep_alive: Duration,
    retry: RetryPolicy,
    operation_timeout: Duration,
    connect_timeout: Duration,
    product_info: Option<String>,
    model_id: Option<String>,
    methods: Vec<(String, SharedHandler)>,
    fallback: Option<SharedHandler>,
    message_queue: usize,
    request_queue: usize,
}

impl DeviceOptionsBuilder {
    pub(super) fn from_connection_string(text: &str) -> Self {
        Self::new(Source::ConnectionString(text.to_owned()))
    }

    pub(super) fn from_parts(host: &str, device: &str) -> Self {
        Self::new(Source::Parts {
            host: host.to_owned(),
            device: device.to_owned(),
        })
    }

    fn new(source: Source) -> Self {
        Self {
            source,
            module: None,
            credential: None,
            sas_ttl: Duration::from_secs(3600),
            sas_margin: Duration::from_secs(120),
            gateway: None,
            endpoint: None,
            port: None,
            tls: TlsInputs {
                system_roots: true,
                ..TlsInputs::default()
            },
            plain_tcp: false,
            keep_alive: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            operation_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            product_info: None,
            model_id: None,
            methods: Vec::new(),
            fallback: None,
            message_queue: 64,
            request_queue: 64,
        }
    }

    /// Connects as module `module_id` of the device.
    pub fn module_id(mut self, module_id: &str) -> Self {
        self.module = Some(module_id.to_owned());
        self
    }

    /// Authenticates with a symmetric key (base64): every connection presents a fresh SAS token,
    /// renewed by reconnecting before it expires. Replaces a credential given before, including
    /// the connection string's.
    pub fn shared_access_key(mut self, key: &str) -> Self {
        self.credential = Some(CredentialInput::Key(key.to_owned()));
        self
    }

    /// Authenticates with a ready SAS token (`SharedAccessSignature sr=...`). The client cannot
    /// renew it: when it expires the client disconnects for good and reports
    /// [`crate::DisconnectReason::TokenExpired`].
    pub fn sas_token(mut self, token: &str) -> Self {
        self.credential = Some(CredentialInput::Token(token.to_owned()));
        self
    }

    /// Authenticates with an X.509 client certificate chain and its private key, both PEM. Needs
    /// TLS. Also what a connection string with `x509=true` needs.
    pub fn x509(
        mut self,
        certificate_chain_pem: impl Into<Vec<u8>>,
        private_key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.credential = Some(CredentialInput::X509 {
            chain: certificate_chain_pem.into(),
            key: private_key_pem.into(),
        });
        self
    }

    /// How long the SAS tokens made from a key are valid (default 1 hour; at least 2 s).
    pub fn sas_token_ttl(mut self, ttl: Duration) -> Self {
        self.sas_ttl = ttl;
        self
    }

    /// How long before a token made from a key expires the client reconnects with a fresh one
    /// (default 2 minutes; more than zero and less than the token's lifetime).
    pub fn sas_renewal_margin(mut self, margin: Duration) -> Self {
        self.sas_margin = margin;
        self
    }

    /// Connects through a gateway (an IoT Edge device): TCP goes to `host`, while the username
    /// and tokens keep the hub's host name. Like `GatewayHostName` in a connection string.
    pub fn gateway_host_name(mut self, host: &str) -> Self {
        self.gateway = Some(host.to_owned());
        self
    }

    /// Connects to `host` and `port`, whatever the host names say (a local hub, a proxy). The
    /// username and tokens keep the hub's host name; TLS checks `host`.
    pub fn endpoint(mut self, host: &str, port: u16) -> Self {
        self.endpoint = Some((host.to_owned(), port));
        self
    }

    /// Connects to `port` instead of 8883 (or the port in the host name).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Trusts the CA certificates in `pem` as well (a local hub, a private CA).
    pub fn trust_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca_pems.push(pem.into());
        self
    }

    /// Whether to trust the operating system's root certificates (default yes). Turn it off to
    /// trust only the CAs given with [`DeviceOptionsBuilder::trust_ca_pem`].
    pub fn use_system_roots(mut self, enabled: bool) -> Self {
        self.tls.system_roots = enabled;
        self
    }

    /// Connects over plain TCP, without TLS: keys, tokens and data cross the network in the
    /// clear. Only for a local hub on loopback in development and tests; IoT Hub accepts TLS
    /// only.
    pub fn insecure_plain_tcp(mut self) -> Self {
        self.plain_tcp = true;
        self
    }

    /// The MQTT keep-alive (default 60 s; whole seconds from 1 s to 1177 s, beyond which IoT
    /// Hub's own timeout makes it useless). A hub that answers no ping within one more interval
    /// is taken as gone.
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = interval;
        self
    }

    /// The backoff between connection attempts and between retries of throttled twin requests.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long each operation may take from the call to the hub's answer, waiting for a
    /// connection included (default 30 s).
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// How long one connection attempt may take: TCP, TLS, CONNECT and SUBSCRIBE (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Text added to the `DeviceClientType` the hub sees, to identify the application.
    pub fn product_info(mut self, info: &str) -> Self {
        self.product_info = Some(info.to_owned());
        self
    }

    /// The IoT Plug and Play model the device implements (`dtmi:...`), sent as `model-id`.
    pub fn model_id(mut self, model_id: &str) -> Self {
        self.model_id = Some(model_id.to_owned());
        self
    }

    /// Answers direct method `name` with `handler`, from the first connection on. Handlers
    /// can also be set while the client runs ([`crate::DeviceClient::set_method_handler`]).
    pub fn method(mut self, name: &str, handler: impl MethodHandler + 'static) -> Self {
        self.methods.push((name.to_owned(), Arc::new(handler)));
        self
    }

    /// Answers every method without a handler of its own with `handler`, instead of a 404.
    pub fn method_fallback(mut self, handler: impl MethodHandler + 'static) -> Self {
        self.fallback = Some(Arc::new(handler));
        self
    }

    /// How many cloud-to-device messages wait for the application (default 64). A message
    /// beyond that is left unacknowledged, and the hub delivers it again after a reconnect.
    pub fn message_queue(mut self, capacity: usize) -> Self {
        self.message_queue = capacity;
        self
    }

    /// How many operations may wait for the client's driver before callers wait in turn
    /// (default 64).
    pub fn request_queue(mut self, capacity: usize) -> Self {
        self.request_queue = capacity;
        self
    }

    /// Checks every setting and returns the options.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first setting at fault: an unparsable connection string
    /// (`connection_string`), host name or id, a missing or unusable credential (`credential`,
    /// `sas_token`, `x509`), durations or sizes out of range, unreadable PEM, or no trusted
    /// root.
    pub fn build(self) -> Result<DeviceOptions, ConfigError> {
        let (host_name, identity, credential, gateway) = self.identity()?;
        let auth = self.auth(credential, &host_name, &identity)?;
        self.check_timing()?;
        let (endpoint_host, endpoint_port) = endpoint::resolve(
            self.endpoint.as_ref(),
            self.port,
            &host_name,
            gateway.as_ref(),
        )?;
        let tls = self.tls(&auth)?;
        Ok(DeviceOptions {
            username: self.username(&host_name, &identity),
            host_name,
            identity,
            auth,
            endpoint_host,
            endpoint_port,
            tls,
            keep_alive: self.keep_alive,
            retry: self.retry,
            operation_timeout: self.operation_timeout,
            connect_timeout: self.connect_timeout,
            handlers: self.handlers()?,
            message_queue: self.message_queue,
            request_queue: self.request_queue,
        })
    }
}

impl fmt::Debug for DeviceOptionsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::ConnectionString(_) => "connection string".to_owned(),
            Source::Parts { host, device } => format!("{host}/{device}"),
        };
        let credential = self.credential.as_ref().map(|c| match c {
            CredentialInput::Key(_) => "shared access key",
            CredentialInput::Token(_) => "SAS token",
            CredentialInput::X509 { .. } => "X.509",
        });
        f.debug_struct("DeviceOptionsBuilder")
            .field("source", &source)
            .field("module", &self.module)
            .field("credential", &credential)
            .field("gateway", &self.gateway)
            .field("endpoint", &self.endpoint)
            .field("plain_tcp", &self.plain_tcp)
            .field(
                "methods",
                &self
                    .methods
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}
