use std::time::Duration;

use iot_methods::{MethodRequest, MethodResponse};
use proptest::prelude::*;
use serde_json::json;

use super::*;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn key_string() -> String {
    format!("HostName=myhub.azure-devices.net;DeviceId=device1;SharedAccessKey={KEY}")
}

fn plain() -> DeviceOptionsBuilder {
    DeviceOptions::from_connection_string(&key_string()).insecure_plain_tcp()
}

#[test]
fn a_key_connection_string_gives_tls_on_8883_and_the_hubs_username() {
    let options = DeviceOptions::from_connection_string(&key_string())
        .trust_ca_pem(self_signed_pem())
        .use_system_roots(false)
        .build()
        .unwrap();
    assert_eq!(options.host_name().as_str(), "myhub.azure-devices.net");
    assert_eq!(
        options.endpoint(),
        ("myhub.azure-devices.net", DEFAULT_PORT)
    );
    assert!(options.uses_tls());
    assert!(
        options
            .mqtt_username()
            .starts_with("myhub.azure-devices.net/device1/?api-version=2021-04-12&DeviceClientType=iot-device-sdk-rust%2F")
    );
    assert!(matches!(options.auth, Auth::Key { ref policy_name, .. } if policy_name.is_none()));
    assert_eq!(options.keep_alive(), Duration::from_secs(60));
    assert_eq!(options.operation_timeout(), Duration::from_secs(30));
    assert_eq!(options.connect_timeout(), Duration::from_secs(30));
    assert_eq!(options.retry_policy(), &RetryPolicy::default());
}

#[test]
fn the_gateway_gets_the_connection_and_the_hub_keeps_the_username() {
    let text = format!("{};GatewayHostName=edge.local:18883", key_string());
    let options = DeviceOptions::from_connection_string(&text)
        .insecure_plain_tcp()
        .build()
        .unwrap();
    assert_eq!(options.endpoint(), ("edge.local", 18883));
    assert!(
        options
            .mqtt_username()
            .starts_with("myhub.azure-devices.net/device1/")
    );
    let moved = DeviceOptions::from_connection_string(&text)
        .insecure_plain_tcp()
        .endpoint("127.0.0.1", 1883)
        .port(1884)
        .build()
        .unwrap();
    assert_eq!(moved.endpoint(), ("127.0.0.1", 1884));
}

#[test]
fn parts_modules_product_info_and_model_id() {
    let options = DeviceOptions::builder("myhub.azure-devices.net", "gateway-7")
        .module_id("telemetry")
        .shared_access_key(KEY)
        .product_info("agent/2.1")
        .model_id("dtmi:com:example:Thermostat;1")
        .insecure_plain_tcp()
        .build()
        .unwrap();
    assert_eq!(options.identity().to_string(), "gateway-7/telemetry");
    let username = options.mqtt_username();
    assert!(
        username.starts_with("myhub.azure-devices.net/gateway-7/telemetry/?"),
        "{username}"
    );
    assert!(
        username.contains("%20agent%2F2.1&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1"),
        "{username}"
    );
    assert_eq!(
        options.resource().as_str(),
        "myhub.azure-devices.net/devices/gateway-7/modules/telemetry"
    );
}

#[test]
fn ready_tokens_are_checked_against_the_device_and_the_clock() {
    let future = 4_000_000_000u64;
    let token = |device: &str, expiry: u64| {
        let host: HostName = "myhub.azure-devices.net".parse().unwrap();
        let device: iot_protocol::DeviceId = device.parse().unwrap();
        let key: iot_protocol::SharedAccessKey = KEY.parse().unwrap();
        let resource = ResourceUri::device(&host, &device);
        iot_protocol::SasToken::create(&resource, &key, None, expiry).to_secret_string()
    };
    let builder =
        || DeviceOptions::builder("myhub.azure-devices.net", "device1").insecure_plain_tcp();
    let options = builder()
        .sas_token(&token("device1", future))
        .build()
        .unwrap();
    assert!(matches!(options.auth, Auth::Token(_)));
    assert!(!format!("{options:?}").contains("sig="));
    let other = builder()
        .sas_token(&token("device2", future))
        .build()
        .unwrap_err();
    assert_eq!(other.option(), "sas_token");
    let expired = builder()
        .sas_token(&token("device1", 1_000))
        .build()
        .unwrap_err();
    assert_eq!(expired.option(), "sas_token");
    assert!(expired.reason().contains("expired"), "{expired}");
    let text = format!(
        "HostName=myhub.azure-devices.net;DeviceId=device1;SharedAccessSignature={}",
        token("device1", future)
    );
    let from_string = DeviceOptions::from_connection_string(&text)
        .insecure_plain_tcp()
        .build()
        .unwrap();
    assert!(matches!(from_string.auth, Auth::Token(_)));
}

#[test]
fn x509_needs_a_certificate_and_tls() {
    let text = "HostName=myhub.azure-devices.net;DeviceId=device1;x509=true";
    let missing = DeviceOptions::from_connection_string(text)
        .build()
        .unwrap_err();
    assert_eq!(missing.option(), "x509");
    let (cert, key) = self_signed();
    let plain = DeviceOptions::from_connection_string(text)
        .x509(cert.clone(), key.clone())
        .insecure_plain_tcp()
        .build()
        .unwrap_err();
    assert_eq!(plain.option(), "insecure_plain_tcp");
    let options = DeviceOptions::from_connection_string(text)
        .x509(cert.clone(), key)
        .trust_ca_pem(cert)
        .use_system_roots(false)
        .build()
        .unwrap();
    assert!(matches!(options.auth, Auth::X509));
}

#[test]
fn every_invalid_setting_is_named() {
    let cases: Vec<(DeviceOptionsBuilder, &str)> = vec![
        (
            DeviceOptions::from_connection_string("HostName=h;DeviceId=d"),
            "connection_string",
        ),
        (
            DeviceOptions::from_connection_string("nonsense"),
            "connection_string",
        ),
        (
            DeviceOptions::builder("bad host", "d").shared_access_key(KEY),
            "host_name",
        ),
        (
            DeviceOptions::builder("h", "").shared_access_key(KEY),
            "device_id",
        ),
        (DeviceOptions::builder("h", "d"), "credential"),
        (
            DeviceOptions::builder("h", "d").shared_access_key("not base64!"),
            "shared_access_key",
        ),
        (
            DeviceOptions::builder("h", "d").sas_token("SharedAccessSignature nonsense"),
            "sas_token",
        ),
        (plain().module_id("a/b"), "module_id"),
        (plain().gateway_host_name("a b"), "gateway_host_name"),
        (plain().endpoint("", 1), "endpoint"),
        (plain().port(0), "port"),
        (
            plain().sas_token_ttl(Duration::from_secs(1)),
            "sas_token_ttl",
        ),
        (
            plain().sas_renewal_margin(Duration::ZERO),
            "sas_renewal_margin",
        ),
        (
            plain().sas_renewal_margin(Duration::from_secs(3600)),
            "sas_renewal_margin",
        ),
        (plain().keep_alive(Duration::ZERO), "keep_alive"),
        (
            plain().keep_alive(Duration::from_millis(1500)),
            "keep_alive",
        ),
        (plain().keep_alive(Duration::from_secs(1178)), "keep_alive"),
        (
            plain().operation_timeout(Duration::ZERO),
            "operation_timeout",
        ),
        (plain().connect_timeout(Duration::ZERO), "connect_timeout"),
        (plain().message_queue(0), "message_queue"),
        (plain().request_queue(0), "request_queue"),
        (plain().trust_ca_pem("x"), "insecure_plain_tcp"),
        (plain().method("no/slash", answer), "method"),
        (
            DeviceOptions::from_connection_string(&key_string()).use_system_roots(false),
            "trust_ca_pem",
        ),
    ];
    for (builder, option) in cases {
        let described = format!("{builder:?}");
        let error = builder.build().unwrap_err();
        assert_eq!(error.option(), option, "{described}: {error}");
        assert!(!error.to_string().contains(KEY));
        assert!(!described.contains(KEY));
    }
}

#[test]
fn methods_registered_at_build_time_are_kept() {
    let options = plain()
        .method("reboot", answer)
        .method("reset", answer)
        .method_fallback(answer)
        .build()
        .unwrap();
    let mut names: Vec<&str> = options
        .handlers
        .methods()
        .map(|name| name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["reboot", "reset"]);
    assert!(format!("{options:?}").contains("method_fallback: true"));
}

async fn answer(_request: MethodRequest) -> Result<MethodResponse, iot_methods::HandlerError> {
    Ok(MethodResponse::ok(json!(null)))
}

fn self_signed() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["device1".to_owned()]).unwrap();
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

fn self_signed_pem() -> String {
    self_signed().0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn build_accepts_exactly_the_documented_ranges(
        keep_alive_ms in 0u64..2_000_000,
        operation_ms in 0u64..100,
        connect_ms in 0u64..100,
        ttl_ms in 0u64..10_000,
        margin_ms in 0u64..10_000,
        queues in (0usize..3, 0usize..3),
    ) {
        let result = plain()
            .keep_alive(Duration::from_millis(keep_alive_ms))
            .operation_timeout(Duration::from_millis(operation_ms))
            .connect_timeout(Duration::from_millis(connect_ms))
            .sas_token_ttl(Duration::from_millis(ttl_ms))
            .sas_renewal_margin(Duration::from_millis(margin_ms))
            .message_queue(queues.0)
            .request_queue(queues.1)
            .build();
        let valid = keep_alive_ms % 1000 == 0
            && (1_000..=1_177_000).contains(&keep_alive_ms)
            && operation_ms >= 1
            && connect_ms >= 1
            && ttl_ms >= 2_000
            && margin_ms > 0
            && margin_ms < ttl_ms
            && queues.0 > 0
            && queues.1 > 0;
        prop_assert_eq!(result.is_ok(), valid, "{:?}", result.err());
    }
}
