//! The MQTT CONNECT username: `{host}/{deviceId}/?{query}` or
//! `{host}/{deviceId}/{moduleId}/?{query}`.

use std::fmt;
use std::str::FromStr;

use crate::encoding::{quote, split_pair, unquote_lossy};
use crate::{DeviceId, HostName, Identity, ModuleId, ProtocolError};

const INPUT: &str = "MQTT username";

/// The MQTT username IoT Hub expects in CONNECT.
///
/// Ids go in verbatim (IoT Hub does not URL-decode them); the query is `key=value` pairs joined
/// by `&`. Building encodes query keys and values like the Python SDK (`quote(x, safe="")`).
/// Parsing is lenient, as a hub must be with every official SDK: any or no `api-version`,
/// unknown keys kept, keys and values percent-decoded (`+` stays `+`; bytes that are not UTF-8
/// become U+FFFD), a pair without `=` read as an empty value, and a missing `?` or query
/// accepted.
///
/// Ids cannot contain `/`, so the segments are unambiguous, except that a module id starting
/// with `?` would read as the query. IoT Hub does not say which wins; we read the query, so that
/// a raw `/` inside a query value (which raw-MQTT clients may send) still parses.
///
/// ```
/// use iot_protocol::MqttUsername;
///
/// let username: MqttUsername = "localhost/conf-node-8a81d9e3/?api-version=2021-04-12\
///     &DeviceClientType=azure-iot-device%2F1.18.4%20(node%20v20.20.2%3B%20Debian%2012%3B%20x64)"
///     .parse()
///     .unwrap();
/// assert_eq!(username.identity().to_string(), "conf-node-8a81d9e3");
/// assert_eq!(username.api_version(), Some("2021-04-12"));
/// assert_eq!(
///     username.device_client_type(),
///     Some("azure-iot-device/1.18.4 (node v20.20.2; Debian 12; x64)")
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttUsername {
    host: HostName,
    identity: Identity,
    query: Vec<(String, String)>,
}

impl MqttUsername {
    /// The api-version this crate speaks (the one the Node SDK and the docs use).
    pub const API_VERSION: &'static str = "2021-04-12";

    /// A username for `identity` on `host` with `api-version` set to [`Self::API_VERSION`].
    pub fn new(host: HostName, identity: Identity) -> Self {
        Self {
            host,
            identity,
            query: vec![("api-version".to_owned(), Self::API_VERSION.to_owned())],
        }
    }

    /// Sets `key` to `value`, replacing an earlier value of `key` in place or appending.
    pub fn with_param(mut self, key: &str, value: &str) -> Self {
        match self.query.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value.to_owned(),
            None => self.query.push((key.to_owned(), value.to_owned())),
        }
        self
    }

    /// Sets `api-version`.
    pub fn with_api_version(self, version: &str) -> Self {
        self.with_param("api-version", version)
    }

    /// Sets `DeviceClientType` (the SDK's user agent).
    pub fn with_device_client_type(self, user_agent: &str) -> Self {
        self.with_param("DeviceClientType", user_agent)
    }

    /// Sets `model-id` (an IoT Plug and Play model, e.g. `dtmi:com:example:Thermostat;1`).
    pub fn with_model_id(self, model_id: &str) -> Self {
        self.with_param("model-id", model_id)
    }

    /// Parses a username leniently (see the type's documentation).
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let (host, rest) = text.split_once('/').ok_or(malformed(
            "must be {host}/{deviceId}/?{query} or {host}/{deviceId}/{moduleId}/?{query}",
        ))?;
        let host = HostName::parse(host)?;
        let (device, rest) = rest.split_once('/').unwrap_or((rest, ""));
        let device = DeviceId::parse(device)?;
        let (identity, query) = match rest.split_once('/') {
            Some((module, query)) if !rest.starts_with('?') => {
                (Identity::module(device, ModuleId::parse(module)?), query)
            }
            _ => (Identity::device(device), rest),
        };
        let query = match query.strip_prefix('?') {
            Some(query) => parse_query(query),
            None if query.is_empty() => Vec::new(),
            None => return Err(malformed("the query must follow \"/?\"")),
        };
        Ok(Self {
            host,
            identity,
            query,
        })
    }

    /// The hub host name (the connection string's `HostName`, even behind a gateway).
    pub fn host(&self) -> &HostName {
        &self.host
    }

    /// The device or module connecting.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The decoded value of the first query parameter named `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All query parameters, decoded, in order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The `api-version` parameter, if sent.
    pub fn api_version(&self) -> Option<&str> {
        self.param("api-version")
    }

    /// The `DeviceClientType` parameter (the SDK's user agent), if sent.
    pub fn device_client_type(&self) -> Option<&str> {
        self.param("DeviceClientType")
    }

    /// The `model-id` parameter, if sent.
    pub fn model_id(&self) -> Option<&str> {
        self.param("model-id")
    }
}

fn malformed(rule: &'static str) -> ProtocolError {
    ProtocolError::Malformed { input: INPUT, rule }
}

/// Splits a query into decoded pairs, skipping empty segments.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = split_pair(pair);
            (
                unquote_lossy(key).into_owned(),
                unquote_lossy(value.unwrap_or("")).into_owned(),
            )
        })
        .collect()
}

impl FromStr for MqttUsername {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for MqttUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/", self.host, self.identity.device_id())?;
        if let Some(module) = self.identity.module_id() {
            write!(f, "{module}/")?;
        }
        f.write_str("?")?;
        for (i, (key, value)) in self.query.iter().enumerate() {
            let separator = if i == 0 { "" } else { "&" };
            write!(f, "{separator}{}={}", quote(key), quote(value))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PYTHON: &str = "localhost/conf-py-7b73b5f6/?api-version=2019-10-01&DeviceClientType=azure-iot-device-iothub-py%2F2.14.0%283.11.7%3BLinux%20%231%20SMP%20PREEMPT_DYNAMIC%20%400%3Bx86_64%29";
    const NODE: &str = "localhost/conf-node-8a81d9e3/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4%20(node%20v20.20.2%3B%20Debian%2012%3B%20x64)";

    #[test]
    fn captured_python_username() {
        let username = MqttUsername::parse(PYTHON).unwrap();
        assert_eq!(username.host().as_str(), "localhost");
        assert_eq!(username.identity().device_id().as_str(), "conf-py-7b73b5f6");
        assert_eq!(username.api_version(), Some("2019-10-01"));
        assert_eq!(
            username.device_client_type(),
            Some(
                "azure-iot-device-iothub-py/2.14.0(3.11.7;Linux #1 SMP PREEMPT_DYNAMIC @0;x86_64)"
            )
        );
        assert_eq!(username.to_string(), PYTHON);
    }

    #[test]
    fn captured_node_username() {
        let username = MqttUsername::parse(NODE).unwrap();
        assert_eq!(username.identity().module_id(), None);
        assert_eq!(username.model_id(), None);
        let rebuilt = MqttUsername::parse(&username.to_string()).unwrap();
        assert_eq!(rebuilt, username);
    }

    #[test]
    fn module_usernames_and_model_ids() {
        let text = "h/d/m/?api-version=2020-09-30&DeviceClientType=azsdk-c%2f1.0&model-id=dtmi:com:example:Thermostat;1";
        let username = MqttUsername::parse(text).unwrap();
        assert_eq!(username.identity().to_string(), "d/m");
        assert_eq!(username.device_client_type(), Some("azsdk-c/1.0"));
        assert_eq!(username.model_id(), Some("dtmi:com:example:Thermostat;1"));
    }

    #[test]
    fn lenient_about_the_query() {
        for (text, params) in [
            ("h/d/?", vec![]),
            ("h/d/", vec![]),
            ("h/d", vec![]),
            (
                "h/d/?foo&bar=1+2&&x=%ff",
                vec![("foo", ""), ("bar", "1+2"), ("x", "\u{fffd}")],
            ),
            (
                "h/d/?api-version=1999-01-01&api-version=2",
                vec![("api-version", "1999-01-01"), ("api-version", "2")],
            ),
        ] {
            let username = MqttUsername::parse(text).unwrap();
            assert_eq!(username.params().collect::<Vec<_>>(), params, "{text}");
        }
        assert_eq!(MqttUsername::parse("h/d/?").unwrap().api_version(), None);
    }

    #[test]
    fn ids_are_verbatim() {
        let username = MqttUsername::parse("h/a%2Fb/?").unwrap();
        assert_eq!(username.identity().device_id().as_str(), "a%2Fb");
        let question = MqttUsername::parse("h/?odd/?api-version=1").unwrap();
        assert_eq!(question.identity().device_id().as_str(), "?odd");
        let raw_slash = MqttUsername::parse("h/d/?DeviceClientType=raw/1.0").unwrap();
        assert_eq!(raw_slash.identity().module_id(), None);
        assert_eq!(raw_slash.device_client_type(), Some("raw/1.0"));
    }

    #[test]
    fn rejects_what_cannot_be_read() {
        for bad in [
            "",
            "h",
            "/d/?",
            "h//?",
            "h/d/m/x/?",
            "h/d/m/junk",
            "h/a b/?",
            "h/d/m",
        ] {
            assert!(MqttUsername::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn builder_sets_and_replaces_params() {
        let username = MqttUsername::new(
            HostName::parse("myhub.azure-devices.net").unwrap(),
            Identity::module(DeviceId::parse("d").unwrap(), ModuleId::parse("m").unwrap()),
        )
        .with_device_client_type("iot-device-sdk/0.1 (rust)")
        .with_model_id("dtmi:x;1")
        .with_api_version("2020-09-30");
        assert_eq!(
            username.to_string(),
            "myhub.azure-devices.net/d/m/?api-version=2020-09-30&DeviceClientType=iot-device-sdk%2F0.1%20%28rust%29&model-id=dtmi%3Ax%3B1"
        );
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(
            device in "[A-Za-z0-9\\-.+%_#*!(),=@$':;]{1,20}",
            module in proptest::option::of("[A-Za-z0-9\\-.+%_#*!(),=@$':;]{1,20}"),
            params in proptest::collection::vec(("\\PC{1,10}", "\\PC{0,20}"), 0..4),
        ) {
            let device = DeviceId::parse(&device).unwrap();
            let identity = match module {
                None => Identity::device(device),
                Some(m) => Identity::module(device, ModuleId::parse(&m).unwrap()),
            };
            let username = MqttUsername {
                host: HostName::parse("myhub.azure-devices.net").unwrap(),
                identity,
                query: params,
            };
            prop_assert_eq!(MqttUsername::parse(&username.to_string()).unwrap(), username);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,80}") {
            let _ = MqttUsername::parse(&text);
        }
    }
}
