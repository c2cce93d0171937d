//! The checks of [`DeviceOptionsBuilder::build`], one per group of settings.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use iot_methods::Router;
use iot_protocol::{
    DeviceConnectionString, DeviceCredential, DeviceId, HostName, Identity, ModuleId, MqttUsername,
    ResourceUri, SasToken, SharedAccessKey,
};
use iot_twin::Timestamp;

use super::{CredentialInput, DeviceOptionsBuilder, MAX_KEEP_ALIVE, Source, USER_AGENT};
use crate::ConfigError;
use crate::methods::parse_name;
use crate::options::Auth;
use crate::options::tls::client_config;

impl DeviceOptionsBuilder {
    /// The hub, the identity, the connection string's credential and gateway.
    #[allow(clippy::type_complexity)]
    pub(super) fn identity(
        &self,
    ) -> Result<
        (
            HostName,
            Identity,
            Option<DeviceCredential>,
            Option<HostName>,
        ),
        ConfigError,
    > {
        let (host, device, credential, gateway) = match &self.source {
            Source::ConnectionString(text) => {
                let parsed = DeviceConnectionString::parse(text)
                    .map_err(|e| ConfigError::new("connection_string", e.to_string()))?;
                let identity = parsed.identity().clone();
                (
                    parsed.host_name().clone(),
                    identity,
                    Some(parsed.credential().clone()),
                    parsed.gateway_host_name().cloned(),
                )
            }
            Source::Parts { host, device } => {
                let host = HostName::parse(host)
                    .map_err(|e| ConfigError::new("host_name", e.to_string()))?;
                let device = DeviceId::parse(device)
                    .map_err(|e| ConfigError::new("device_id", e.to_string()))?;
                (host, Identity::device(device), None, None)
            }
        };
        let identity = match &self.module {
            None => device,
            Some(module) => {
                let module = ModuleId::parse(module)
                    .map_err(|e| ConfigError::new("module_id", e.to_string()))?;
                Identity::module(device.device_id().clone(), module)
            }
        };
        let gateway = match &self.gateway {
            Some(text) => Some(
                HostName::parse(text)
                    .map_err(|e| ConfigError::new("gateway_host_name", e.to_string()))?,
            ),
            None => gateway,
        };
        Ok((host, identity, credential, gateway))
    }

    /// The credential, checked: the builder's if given, else the connection string's.
    pub(super) fn auth(
        &self,
        from_string: Option<DeviceCredential>,
        host: &HostName,
        identity: &Identity,
    ) -> Result<Auth, ConfigError> {
        match (&self.credential, from_string) {
            (Some(CredentialInput::Key(key)), _) => {
                let key = SharedAccessKey::from_base64(key)
                    .map_err(|e| ConfigError::new("shared_access_key", e.to_string()))?;
                self.key_auth(key, None)
            }
            (Some(CredentialInput::Token(token)), _) => token_auth(token, host, identity),
            (Some(CredentialInput::X509 { .. }), _) => Ok(Auth::X509),
            (None, Some(DeviceCredential::SharedAccessKey { key, policy_name })) => {
                self.key_auth(key, policy_name)
            }
            (None, Some(DeviceCredential::SharedAccessSignature(token))) => {
                check_token(&token, host, identity)?;
                Ok(Auth::Token(token))
            }
            (None, Some(DeviceCredential::X509)) => Err(ConfigError::new(
                "x509",
                "the connection string says x509=true: give the certificate and key with x509(..)",
            )),
            (None, _) => Err(ConfigError::new(
                "credential",
                "no credential: give shared_access_key, sas_token or x509",
            )),
        }
    }

    fn key_auth(
        &self,
        key: SharedAccessKey,
        policy_name: Option<String>,
    ) -> Result<Auth, ConfigError> {
        if self.sas_ttl < Duration::from_secs(2) {
            return Err(ConfigError::new(
                "sas_token_ttl",
                format!("must be at least 2 s, not {:?}", self.sas_ttl),
            ));
        }
        if self.sas_margin.is_zero() || self.sas_margin >= self.sas_ttl {
            return Err(ConfigError::new(
                "sas_renewal_margin",
                format!(
                    "must be more than zero and less than the token lifetime ({:?}), not {:?}",
                    self.sas_ttl, self.sas_margin
                ),
            ));
        }
        Ok(Auth::Key {
            key,
            policy_name,
            ttl: self.sas_ttl,
            margin: self.sas_margin,
        })
    }

    pub(super) fn check_timing(&self) -> Result<(), ConfigError> {
        let keep_alive = self.keep_alive;
        if keep_alive.subsec_nanos() != 0
            || !(Duration::from_secs(1)..=MAX_KEEP_ALIVE).contains(&keep_alive)
        {
            return Err(ConfigError::new(
                "keep_alive",
                format!("must be whole seconds from 1 s to 1177 s, not {keep_alive:?}"),
            ));
        }
        let positive = [
            ("operation_timeout", self.operation_timeout),
            ("connect_timeout", self.connect_timeout),
        ];
        for (option, value) in positive {
            if value < Duration::from_millis(1) {
                return Err(ConfigError::new(
                    option,
                    format!("must be at least 1 ms, not {value:?}"),
                ));
            }
        }
        for (option, value) in [
            ("message_queue", self.message_queue),
            ("request_queue", self.request_queue),
        ] {
            if value == 0 {
                return Err(ConfigError::new(option, "must hold at least 1"));
            }
        }
        Ok(())
    }

    /// The TLS configuration, or `None` for plain TCP.
    pub(super) fn tls(
        &self,
        auth: &Auth,
    ) -> Result<Option<Arc<rustls::ClientConfig>>, ConfigError> {
        if self.plain_tcp {
            if matches!(auth, Auth::X509) {
                return Err(ConfigError::new(
                    "insecure_plain_tcp",
                    "X.509 authentication needs TLS",
                ));
            }
            if !self.tls.ca_pems.is_empty() {
                return Err(ConfigError::new(
                    "insecure_plain_tcp",
                    "a CA to trust was given, but plain TCP has no TLS",
                ));
            }
            return Ok(None);
        }
        let mut inputs = self.tls.clone();
        if let Some(CredentialInput::X509 { chain, key }) = &self.credential {
            inputs.client = Some((chain.clone(), key.clone()));
        }
        client_config(&inputs).map(Some)
    }

    pub(super) fn username(&self, host: &HostName, identity: &Identity) -> String {
        let agent = match &self.product_info {
            Some(info) => format!("{USER_AGENT} {info}"),
            None => USER_AGENT.to_owned(),
        };
        let mut username =
            MqttUsername::new(host.clone(), identity.clone()).with_device_client_type(&agent);
        if let Some(model) = &self.model_id {
            username = username.with_model_id(model);
        }
        username.to_string()
    }

    /// The router of the methods registered so far; a later handler for a name replaces an
    /// earlier one.
    pub(super) fn handlers(&self) -> Result<Router, ConfigError> {
        let mut router = Router::default();
        for (name, handler) in &self.methods {
            let name = parse_name(name).map_err(|e| ConfigError::new("method", e.to_string()))?;
            router.insert_shared(name, Arc::clone(handler));
        }
        if let Some(fallback) = &self.fallback {
            router.set_shared_fallback(Arc::clone(fallback));
        }
        Ok(router)
    }
}

/// A ready token, checked against the identity and the clock.
fn token_auth(text: &str, host: &HostName, identity: &Identity) -> Result<Auth, ConfigError> {
    let token = SasToken::parse(text).map_err(|e| ConfigError::new("sas_token", e.to_string()))?;
    check_token(&token, host, identity)?;
    Ok(Auth::Token(token))
}

fn check_token(token: &SasToken, host: &HostName, identity: &Identity) -> Result<(), ConfigError> {
    let resource = ResourceUri::for_identity(host, identity);
    token
        .verify_scope(&resource)
        .map_err(|e| ConfigError::new("sas_token", e.to_string()))?;
    let now = Timestamp::from_system_time(SystemTime::now())
        .map_err(|e| ConfigError::new("sas_token", e.to_string()))?;
    token
        .verify_expiry(now)
        .map_err(|e| ConfigError::new("sas_token", e.to_string()))
}
