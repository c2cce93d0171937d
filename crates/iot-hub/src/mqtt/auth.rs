//! Deciding a CONNECT: who the client is and whether it may connect (PROTOCOL 1.2, 1.4, 1.7).
//!
//! | Situation | CONNACK |
//! |---|---|
//! | client id is not a device id (or `device/module`) | 2 identifier rejected |
//! | username missing or unparsable, other host or other identity than the client id | 5 |
//! | unknown device, module identity (this hub registers devices only) | 5 |
//! | bad signature, expired token, token for another resource, policy without DeviceConnect | 5 |
//! | no password and no matching client certificate | 5 |
//! | credentials valid but the device is disabled | 3 server unavailable |
//!
//! Credentials are checked before the device's status, so that a disabled device's status is
//! only revealed to a client holding its credentials.

use std::sync::Arc;

use iot_protocol::{
    AccessRights, AuthenticationType, Device, DeviceId, DeviceStatus, Identity, MqttUsername,
    ResourceUri, SasToken, SharedAccessPolicy,
};
use iot_twin::Timestamp;
use ring::digest;
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode};

use crate::core::{Core, DeviceEntry};

/// A client that may connect.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) device_id: DeviceId,
    pub(crate) identity: Arc<Identity>,
    pub(crate) entry: Arc<DeviceEntry>,
    /// When the SAS token expires (the connection is closed then); `None` for X.509.
    pub(crate) expiry: Option<Timestamp>,
}

/// A refused CONNECT: the return code and, for the log, why.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) code: ConnectReturnCode,
    pub(crate) reason: String,
}

fn refuse(code: ConnectReturnCode, reason: impl Into<String>) -> Refusal {
    Refusal {
        code,
        reason: reason.into(),
    }
}

fn unauthorized(reason: impl Into<String>) -> Refusal {
    refuse(ConnectReturnCode::NotAuthorized, reason)
}

/// Decides a CONNECT. `client_cert` is the DER leaf certificate the client presented in TLS.
pub(crate) fn admit(
    core: &Core,
    connect: &Connect,
    client_cert: Option<&[u8]>,
    now: Timestamp,
) -> Result<Admitted, Refusal> {
    let identity = Identity::parse_client_id(&connect.client_id)
        .map_err(|e| refuse(ConnectReturnCode::BadClientId, format!("client id: {e}")))?;
    check_username(core, connect, &identity)?;
    if identity.module_id().is_some() {
        return Err(unauthorized(
            "module identities are not registered in this hub",
        ));
    }
    let device_id = identity.device_id().clone();
    let entry = core
        .find(&device_id)
        .ok_or_else(|| unauthorized(format!("device {device_id} is not registered")))?;
    let device = entry.read().device.clone();
    let password = connect
        .login
        .as_ref()
        .map_or("", |login| login.password.as_str());
    let expiry = if password.is_empty() {
        check_certificate(&device, client_cert)?;
        None
    } else {
        Some(check_token(core, &device, &identity, password, now)?)
    };
    if device.status == Some(DeviceStatus::Disabled) {
        return Err(refuse(
            ConnectReturnCode::ServiceUnavailable,
            format!("device {device_id} is disabled"),
        ));
    }
    Ok(Admitted {
        device_id,
        identity: Arc::new(identity),
        entry,
        expiry,
    })
}

/// The username must parse, name our host (case-insensitively) and the client id's identity.
fn check_username(core: &Core, connect: &Connect, identity: &Identity) -> Result<(), Refusal> {
    let text = connect
        .login
        .as_ref()
        .map(|login| login.username.as_str())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| unauthorized("no username"))?;
    let username = MqttUsername::parse(text).map_err(|e| unauthorized(format!("username: {e}")))?;
    if !username
        .host()
        .as_str()
        .eq_ignore_ascii_case(core.host.as_str())
    {
        return Err(unauthorized(format!(
            "username names host {}, this hub is {}",
            username.host(),
            core.host
        )));
    }
    if username.identity() != identity {
        return Err(unauthorized(format!(
            "username names {}, the client id is {identity}",
            username.identity()
        )));
    }
    Ok(())
}

/// Verifies a SAS token signed with the device's key, or with a policy that grants
/// DeviceConnect; returns its expiry.
fn check_token(
    core: &Core,
    device: &Device,
    identity: &Identity,
    password: &str,
    now: Timestamp,
) -> Result<Timestamp, Refusal> {
    let token = SasToken::parse(password).map_err(|e| unauthorized(format!("password: {e}")))?;
    let accessed = ResourceUri::for_identity(&core.host, identity);
    if token.policy_name().is_some() {
        let rights = SharedAccessPolicy::authorize(&core.policies, &token, &accessed, now)
            .map_err(|e| unauthorized(format!("token: {e}")))?;
        if !rights.contains(AccessRights::DEVICE_CONNECT) {
            return Err(unauthorized(
                "the token's policy does not grant DeviceConnect",
            ));
        }
    } else {
        let keys = device
            .authentication
            .as_ref()
            .and_then(|auth| auth.symmetric_key.as_ref())
            .ok_or_else(|| unauthorized("the device has no shared access keys"))?;
        let keys = [&keys.primary_key, &keys.secondary_key];
        token
            .verify(keys.into_iter().flatten(), &accessed, now)
            .map_err(|e| unauthorized(format!("token: {e}")))?;
    }
    Ok(token.expires_at().unwrap_or(Timestamp::MAX))
}

/// A device registered as self-signed must present a certificate with one of its thumbprints.
fn check_certificate(device: &Device, client_cert: Option<&[u8]>) -> Result<(), Refusal> {
    let auth = device.authentication.clone().unwrap_or_default();
    if auth.kind != Some(AuthenticationType::SelfSigned) {
        return Err(unauthorized(
            "no password, and the device is not registered for X.509",
        ));
    }
    let cert = client_cert.ok_or_else(|| unauthorized("no password and no client certificate"))?;
    let registered = auth.x509_thumbprint.unwrap_or_default();
    let presented = thumbprints(cert);
    let matches = [
        registered.primary_thumbprint,
        registered.secondary_thumbprint,
    ]
    .into_iter()
    .flatten()
    .any(|known| presented.iter().any(|p| p.eq_ignore_ascii_case(&known)));
    if matches {
        Ok(())
    } else {
        Err(unauthorized(
            "the client certificate matches no registered thumbprint",
        ))
    }
}

/// The SHA-1 and SHA-256 thumbprints of a DER certificate, in upper-case hex.
pub(crate) fn thumbprints(der: &[u8]) -> [String; 2] {
    let hex = |algorithm| {
        digest::digest(algorithm, der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    };
    [hex(&digest::SHA1_FOR_LEGACY_USE_ONLY), hex(&digest::SHA256)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_are_sha1_and_sha256_hex() {
        let [sha1, sha256] = thumbprints(b"abc");
        assert_eq!(sha1, "A9993E364706816ABA3E25717850C26C9CD0D89D");
        assert_eq!(
            sha256,
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        );
    }
}
