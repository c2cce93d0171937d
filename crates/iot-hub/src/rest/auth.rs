//! Authorizing requests: the `Authorization: SharedAccessSignature ...` header, verified
//! against the hub's shared access policies, and the right each operation needs
//! (PROTOCOL 2.5, 12.1).
//!
//! | Operation | Right |
//! |---|---|
//! | reading the registry (`GET /devices...`, `/statistics/...`) | RegistryRead |
//! | reading configurations (`GET /configurations...`, `testQueries`) | RegistryRead |
//! | writing the registry (`PUT`/`DELETE /devices/{id}`) | RegistryWrite |
//! | writing configurations (`PUT`/`DELETE /configurations/{id}`) | RegistryWrite |
//! | twins, direct methods, queries, scheduled jobs | ServiceConnect |
//!
//! Every refusal is 401 `IotHubUnauthorizedAccess` (401002): no header, a malformed, expired
//! or badly signed token, a token scoped to something other than the hub, a token without a
//! policy name, and a valid token whose policy lacks the right. IoT Hub answers the last case
//! with 401 too (`ErrorCode:IotHubUnauthorizedAccess;Unauthorized` when a device's
//! credentials are used on a service endpoint), not 403. The message says which check failed;
//! it never repeats the token.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use iot_protocol::{AccessRights, HostName, ResourceUri, SasToken, SharedAccessPolicy};
use iot_twin::Timestamp;

use super::error::RestError;
use super::router::Api;
use crate::core::now;

/// A right an operation needs.
pub(crate) trait Right {
    /// The right.
    const RIGHT: AccessRights;
}

/// Reading the identity registry.
#[derive(Debug)]
pub(crate) struct RegistryRead;

/// Writing the identity registry.
#[derive(Debug)]
pub(crate) struct RegistryWrite;

/// Twins, direct methods and queries.
#[derive(Debug)]
pub(crate) struct ServiceConnect;

impl Right for RegistryRead {
    const RIGHT: AccessRights = AccessRights::REGISTRY_READ;
}

impl Right for RegistryWrite {
    const RIGHT: AccessRights = AccessRights::REGISTRY_WRITE;
}

impl Right for ServiceConnect {
    const RIGHT: AccessRights = AccessRights::SERVICE_CONNECT;
}

/// Proof that the request carries a valid token granting `R`. As a handler's first argument
/// it is checked before anything else is read.
#[derive(Debug)]
pub(crate) struct Authorized<R>(PhantomData<R>);

impl<R: Right> FromRequestParts<Api> for Authorized<R> {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, RestError> {
        let header = parts.headers.get(header::AUTHORIZATION);
        let core = api.core();
        authorize(&core.host, &core.policies, header, R::RIGHT, now())?;
        Ok(Self(PhantomData))
    }
}

/// Checks an `Authorization` header at `now`: a policy token for this hub, valid, and whose
/// policy grants `needed`.
pub(crate) fn authorize(
    host: &HostName,
    policies: &[SharedAccessPolicy],
    header: Option<&HeaderValue>,
    needed: AccessRights,
    now: Timestamp,
) -> Result<(), RestError> {
    let header = header.ok_or_else(|| {
        RestError::unauthorized("the request has no Authorization header with a SAS token")
    })?;
    let text = header
        .to_str()
        .map_err(|_| RestError::unauthorized("the Authorization header is not visible ASCII"))?;
    let token = SasToken::parse(text)
        .map_err(|e| RestError::unauthorized(format!("the Authorization header: {e}")))?;
    let accessed = hub_resource(host, &token);
    let rights = SharedAccessPolicy::authorize(policies, &token, &accessed, now)
        .map_err(|e| RestError::unauthorized(format!("the SAS token: {e}")))?;
    if rights.contains(needed) {
        return Ok(());
    }
    Err(RestError::unauthorized(format!(
        "the shared access policy {:?} does not grant {needed}",
        token.policy_name().unwrap_or_default()
    )))
}

/// The resource a service token must cover: the hub, `{host}`.
///
/// A token whose `sr` names this host with a port (`localhost:8443`, which Python's service
/// SDK signs when the connection string's `HostName` carries the port it must connect to) is
/// held to `{host}:{port}` instead. IoT Hub host names never carry a port, so it documents no
/// rule here; we let the port stand, as it does not change which hub is meant.
fn hub_resource(host: &HostName, token: &SasToken) -> ResourceUri {
    let first = token
        .resource()
        .as_str()
        .split('/')
        .next()
        .unwrap_or_default();
    let with_port = first.rsplit_once(':').is_some_and(|(name, port)| {
        name.eq_ignore_ascii_case(host.as_str())
            && !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
    });
    if with_port && let Ok(resource) = ResourceUri::parse(first) {
        return resource;
    }
    ResourceUri::hub(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_protocol::{ErrorCode, GENERATED_KEY_LEN};

    const NOW: i64 = 1_700_000_000;

    fn policies() -> Vec<SharedAccessPolicy> {
        let mut byte = 0u8;
        SharedAccessPolicy::hub_defaults(|| {
            byte += 1;
            [byte; GENERATED_KEY_LEN]
        })
    }

    fn host() -> HostName {
        "localhost".parse().expect("a valid host")
    }

    fn token(policy: &str, resource: &str, expiry: u64) -> HeaderValue {
        let policies = policies();
        let policy = policies
            .iter()
            .find(|p| p.name() == policy)
            .expect("a default policy");
        let resource = ResourceUri::parse(resource).expect("a valid resource");
        let token = SasToken::create(&resource, policy.primary_key(), Some(policy.name()), expiry);
        HeaderValue::from_str(&token.to_secret_string()).expect("an ASCII token")
    }

    fn check(header: Option<&HeaderValue>, needed: AccessRights) -> Result<(), RestError> {
        let now = Timestamp::from_unix_seconds(NOW).expect("a valid time");
        authorize(&host(), &policies(), header, needed, now)
    }

    const LATER: u64 = NOW as u64 + 3600;

    #[test]
    fn each_default_policy_grants_its_rights() {
        let cases = [
            ("iothubowner", AccessRights::ALL),
            ("service", AccessRights::SERVICE_CONNECT),
            ("registryRead", AccessRights::REGISTRY_READ),
            (
                "registryReadWrite",
                AccessRights::REGISTRY_READ | AccessRights::REGISTRY_WRITE,
            ),
            ("device", AccessRights::NONE),
        ];
        let needs = [
            AccessRights::REGISTRY_READ,
            AccessRights::REGISTRY_WRITE,
            AccessRights::SERVICE_CONNECT,
        ];
        for (policy, granted) in cases {
            let header = token(policy, "localhost", LATER);
            for needed in needs {
                let result = check(Some(&header), needed);
                assert_eq!(
                    result.is_ok(),
                    granted.contains(needed),
                    "{policy} {needed}"
                );
                if let Err(error) = result {
                    assert_eq!(error.code(), ErrorCode::IotHubUnauthorizedAccess);
                    assert!(error.message().contains(policy), "{}", error.message());
                }
            }
        }
    }

    #[test]
    fn bad_tokens_are_unauthorized() {
        let owner = token("iothubowner", "localhost", LATER);
        let forged = HeaderValue::from_str(
            &owner
                .to_str()
                .expect("ASCII")
                .replace("skn=iothubowner", "skn=service"),
        )
        .expect("ASCII");
        let cases = [
            None,
            Some(HeaderValue::from_static("Bearer abc")),
            Some(HeaderValue::from_static(
                "SharedAccessSignature sr=localhost",
            )),
            Some(token("iothubowner", "localhost", NOW as u64)),
            Some(token("iothubowner", "otherhost", LATER)),
            Some(token("iothubowner", "localhost/devices/d1", LATER)),
            Some(forged),
        ];
        for header in cases {
            let error = check(header.as_ref(), AccessRights::REGISTRY_READ).expect_err("refused");
            assert_eq!(error.code(), ErrorCode::IotHubUnauthorizedAccess);
            let secret = owner.to_str().expect("ASCII");
            let signature = secret
                .split("sig=")
                .nth(1)
                .expect("a sig")
                .split('&')
                .next();
            assert!(!error.message().contains(signature.expect("a sig")));
        }
    }

    #[test]
    fn the_host_may_carry_a_port_and_any_case() {
        for resource in ["localhost:8443", "LOCALHOST", "Localhost:443"] {
            let header = token("service", resource, LATER);
            assert!(
                check(Some(&header), AccessRights::SERVICE_CONNECT).is_ok(),
                "{resource}"
            );
        }
        for resource in ["localhost:", "localhost:x1", "localhostx:1", "other:8443"] {
            let header = token("service", resource, LATER);
            assert!(
                check(Some(&header), AccessRights::SERVICE_CONNECT).is_err(),
                "{resource}"
            );
        }
    }
}
