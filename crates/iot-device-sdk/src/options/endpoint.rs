//! Where the TCP connection goes.

use iot_protocol::HostName;

use super::DEFAULT_PORT;
use crate::ConfigError;

/// The host and port to connect to: the explicit endpoint, else the gateway, else the hub; the
/// port from `port`, the endpoint, a `:port` at the end of the chosen host name, or 8883.
pub(super) fn resolve(
    explicit: Option<&(String, u16)>,
    port: Option<u16>,
    hub: &HostName,
    gateway: Option<&HostName>,
) -> Result<(String, u16), ConfigError> {
    let (host, own_port) = match explicit {
        Some((host, port)) => (host.clone(), Some(*port)),
        None => {
            let (host, port) = split_port(gateway.unwrap_or(hub).as_str());
            (host.to_owned(), port)
        }
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::new(
            "endpoint",
            format!("{host:?} is not a host"),
        ));
    }
    let port = port.or(own_port).unwrap_or(DEFAULT_PORT);
    if port == 0 {
        return Err(ConfigError::new("port", "must not be 0"));
    }
    Ok((host, port))
}

/// Splits `host:port` or `[v6]:port`. A bare IPv6 address, or a suffix that is not a port,
/// stays part of the host.
fn split_port(host: &str) -> (&str, Option<u16>) {
    let Some((name, port)) = host.rsplit_once(':') else {
        return (host, None);
    };
    let bare_v6 = name.contains(':') && !(name.starts_with('[') && name.ends_with(']'));
    match port.parse() {
        Ok(port) if !bare_v6 && !name.is_empty() => (name, Some(port)),
        _ => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_port_written_after_a_host_is_read_back(
            name in "[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?",
            v6 in "[0-9a-f]{1,4}(:[0-9a-f]{0,4}){2,7}",
            port in any::<u16>(),
        ) {
            let written = format!("{name}:{port}");
            prop_assert_eq!(split_port(&written), (name.as_str(), Some(port)));
            prop_assert_eq!(split_port(&name), (name.as_str(), None));
            let bracketed = format!("[{v6}]");
            let written = format!("{bracketed}:{port}");
            prop_assert_eq!(split_port(&written), (bracketed.as_str(), Some(port)));
            prop_assert_eq!(split_port(&v6), (v6.as_str(), None));
        }
    }

    fn host(text: &str) -> HostName {
        text.parse().unwrap()
    }

    #[test]
    fn splits_ports_off_names_and_bracketed_addresses() {
        assert_eq!(
            split_port("myhub.azure-devices.net"),
            ("myhub.azure-devices.net", None)
        );
        assert_eq!(split_port("localhost:18883"), ("localhost", Some(18883)));
        assert_eq!(split_port("[::1]:8883"), ("[::1]", Some(8883)));
        assert_eq!(split_port("::1"), ("::1", None));
        assert_eq!(split_port("[::1]"), ("[::1]", None));
        assert_eq!(split_port("host:http"), ("host:http", None));
        assert_eq!(split_port(":80"), (":80", None));
    }

    #[test]
    fn explicit_endpoint_then_gateway_then_hub() {
        let hub = host("myhub.azure-devices.net");
        let gateway = host("gateway:9000");
        let explicit = ("127.0.0.1".to_owned(), 1883);
        assert_eq!(
            resolve(Some(&explicit), None, &hub, Some(&gateway)).unwrap(),
            ("127.0.0.1".to_owned(), 1883)
        );
        assert_eq!(
            resolve(None, None, &hub, Some(&gateway)).unwrap(),
            ("gateway".to_owned(), 9000)
        );
        assert_eq!(
            resolve(None, Some(443), &hub, None).unwrap(),
            ("myhub.azure-devices.net".to_owned(), 443)
        );
        assert_eq!(
            resolve(None, None, &hub, None).unwrap(),
            ("myhub.azure-devices.net".to_owned(), 8883)
        );
    }

    #[test]
    fn refuses_empty_hosts_and_port_zero() {
        let hub = host("hub");
        let blank = (" ".to_owned(), 1);
        assert_eq!(
            resolve(Some(&blank), None, &hub, None)
                .unwrap_err()
                .option(),
            "endpoint"
        );
        assert_eq!(
            resolve(None, Some(0), &hub, None).unwrap_err().option(),
            "port"
        );
    }
}
