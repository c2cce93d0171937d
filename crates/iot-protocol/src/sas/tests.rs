//! Tests of [`SasToken`] against every test vector of the official SDKs we know of.

use super::*;
use crate::{DeviceId, HostName, ModuleId};
use proptest::prelude::*;

/// Bytes 0x00..0x1f: the key of the extra vectors.
const EXTRA_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const EXTRA_DEVICE: &str = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1&sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1700000000";
const EXTRA_MODULE: &str = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1%2Fmodules%2Fmodule1&sig=aSJPNyCxfnEudzhZEU6yJNbVb8UQC0RdeXyc7OXVbi8%3D&se=1700000000";
const EXTRA_SERVICE: &str = "SharedAccessSignature sr=myhub.azure-devices.net&sig=iIzEw6hi6GK79RY5jNXO6QeQkSL%2FAx4zTmy44X2G1VY%3D&se=1700000000&skn=iothubowner";

fn key(text: &str) -> SharedAccessKey {
    SharedAccessKey::from_base64(text).unwrap()
}

fn host(text: &str) -> HostName {
    HostName::parse(text).unwrap()
}

fn device(text: &str) -> DeviceId {
    DeviceId::parse(text).unwrap()
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_seconds(secs).unwrap()
}

#[test]
fn v1_python_signing_mechanism() {
    let key = key("NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=");
    assert_eq!(
        key.sign(b"sign this message"),
        "8NJRMT83CcplGrAGaUVIUM/md5914KpWVNngSVoF9/M="
    );
}

#[test]
fn v2_node_common_tokens() {
    let key = key("cGFzc3dvcmQ=");
    let resource = ResourceUri::parse("uri").unwrap();
    let plain = SasToken::create(&resource, &key, None, 12345);
    assert_eq!(
        plain.to_secret_string(),
        "SharedAccessSignature sr=uri&sig=kcWxXAK2OAaAoq2oCkaGzX2NMqDB8nCyNuq2fPYCDhk%3D&se=12345"
    );
    let node_with_name = "SharedAccessSignature sr=uri&sig=kcWxXAK2OAaAoq2oCkaGzX2NMqDB8nCyNuq2fPYCDhk%3D&skn=encode%28%27Me%27%29&se=12345";
    let named = SasToken::create(&resource, &key, Some("encode('Me')"), 12345);
    let parsed = SasToken::parse(node_with_name).unwrap();
    assert_eq!(parsed, named);
    assert_eq!(parsed.policy_name(), Some("encode('Me')"));
    parsed.verify([&key], &resource, at(12344)).unwrap();
}

#[test]
fn v3_node_device_token_with_lenient_key() {
    let key = SharedAccessKey::from_base64_lenient("key").unwrap();
    let resource = ResourceUri::device(&host("host"), &device("device"));
    let expected = "SharedAccessSignature sr=host%2Fdevices%2Fdevice&sig=wM3XiP6gD960IxP7J5WHqnxQHEcWC6YaQCtoMT%2BkKHc%3D&se=12345";
    assert_eq!(
        SasToken::create(&resource, &key, None, 12345).to_secret_string(),
        expected
    );
    SasToken::parse(expected)
        .unwrap()
        .verify([&key], &resource, at(0))
        .unwrap();
}

#[test]
fn v4_node_authentication_provider() {
    let key = SharedAccessKey::from_base64_lenient("fakeKey").unwrap();
    let resource = ResourceUri::device(&host("fake.host.name"), &device("fakeDeviceId"));
    assert_eq!(
        SasToken::create(&resource, &key, None, 10).to_secret_string(),
        "SharedAccessSignature sr=fake.host.name%2Fdevices%2FfakeDeviceId&sig=bYz5R2IFTaejB6pgYOxns2mw6lcuA4VSy8kJbYQp0Sc%3D&se=10"
    );
}

#[test]
fn v5_embedded_c_assembly() {
    let hub = host("myiothub.azure-devices.net");
    let device_uri = ResourceUri::device(&hub, &device("my_device"));
    let module_uri = ResourceUri::module(
        &hub,
        &device("my_device"),
        &ModuleId::parse("my_module").unwrap(),
    );
    assert_eq!(
        string_to_sign(&device_uri.encoded(), "1578941692"),
        "myiothub.azure-devices.net%2Fdevices%2Fmy_device\n1578941692"
    );
    assert_eq!(
        string_to_sign(&module_uri.encoded(), "1578941692"),
        "myiothub.azure-devices.net%2Fdevices%2Fmy_device%2Fmodules%2Fmy_module\n1578941692"
    );
    let password = "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig=cS1eHM%2FlDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ&se=1578941692";
    for text in [password.to_owned(), format!("{password}&skn=iothubowner")] {
        let token = SasToken::parse(&text).unwrap();
        assert_eq!(token.resource(), &device_uri);
        assert_eq!(token.expiry(), 1_578_941_692);
        assert_eq!(token.to_secret_string(), text);
    }
    let named = SasToken::parse(&format!("{password}&skn=iothubowner")).unwrap();
    assert_eq!(named.policy_name(), Some("iothubowner"));
}

#[test]
fn extra_vectors_device_module_service() {
    let key = key(EXTRA_KEY);
    let hub = host("myhub.azure-devices.net");
    let d1 = device("device1");
    let m1 = ModuleId::parse("module1").unwrap();
    let cases = [
        (ResourceUri::device(&hub, &d1), None, EXTRA_DEVICE),
        (ResourceUri::module(&hub, &d1, &m1), None, EXTRA_MODULE),
        (ResourceUri::hub(&hub), Some("iothubowner"), EXTRA_SERVICE),
    ];
    for (resource, policy, expected) in cases {
        let token = SasToken::create(&resource, &key, policy, 1_700_000_000);
        assert_eq!(token.to_secret_string(), expected);
        let parsed = SasToken::parse(expected).unwrap();
        assert_eq!(parsed, token);
        parsed.verify([&key], &resource, at(1_699_999_999)).unwrap();
    }
}

#[test]
fn python_service_raw_slash_in_sig_verifies() {
    let raw_slash = EXTRA_SERVICE.replace("L%2FAx4z", "L/Ax4z");
    assert_ne!(raw_slash, EXTRA_SERVICE);
    let token = SasToken::parse(&raw_slash).unwrap();
    let hub = ResourceUri::hub(&host("myhub.azure-devices.net"));
    token.verify([&key(EXTRA_KEY)], &hub, at(0)).unwrap();
    assert_eq!(token.to_secret_string(), raw_slash);
}

#[test]
fn signature_covers_sr_as_received() {
    let key = key(EXTRA_KEY);
    let lower = "myhub.azure-devices.net%2fdevices%2fdevice1";
    let sig = key.sign(format!("{lower}\n1700000000").as_bytes());
    let text = format!(
        "SharedAccessSignature se=1700000000&sr={lower}&sig={}",
        quote(&sig)
    );
    let token = SasToken::parse(&text).unwrap();
    let accessed = ResourceUri::device(&host("myhub.azure-devices.net"), &device("device1"));
    token.verify([&key], &accessed, at(0)).unwrap();
    let upper = SasToken::parse(EXTRA_DEVICE).unwrap();
    assert_ne!(token.to_secret_string(), upper.to_secret_string());
}

#[test]
fn a_plus_in_sig_is_not_a_space() {
    let key = key(EXTRA_KEY);
    let resource = ResourceUri::parse("r").unwrap();
    let expiry = (0..200u64)
        .find(|se| key.sign(format!("r\n{se}").as_bytes()).contains('+'))
        .unwrap();
    let sig = key.sign(format!("r\n{expiry}").as_bytes());
    let text = format!("SharedAccessSignature sr=r&sig={sig}&se={expiry}");
    SasToken::parse(&text)
        .unwrap()
        .verify([&key], &resource, at(0))
        .unwrap();
}

#[test]
fn secondary_key_is_tried_after_primary() {
    let primary = SharedAccessKey::generate([1; 32]);
    let secondary = key(EXTRA_KEY);
    let token = SasToken::parse(EXTRA_DEVICE).unwrap();
    let accessed = token.resource().clone();
    token
        .verify([&primary, &secondary], &accessed, at(0))
        .unwrap();
    assert_eq!(
        token.verify([&primary], &accessed, at(0)),
        Err(SasError::SignatureMismatch)
    );
    assert_eq!(
        token.verify(std::iter::empty(), &accessed, at(0)),
        Err(SasError::SignatureMismatch)
    );
}

#[test]
fn expiry_is_exclusive() {
    let token = SasToken::parse(EXTRA_DEVICE).unwrap();
    let accessed = token.resource().clone();
    let key = key(EXTRA_KEY);
    token.verify([&key], &accessed, at(1_699_999_999)).unwrap();
    assert_eq!(
        token.verify([&key], &accessed, at(1_700_000_000)),
        Err(SasError::Expired {
            expiry: 1_700_000_000,
            now: 1_700_000_000
        })
    );
    assert_eq!(token.expires_at(), Some(at(1_700_000_000)));
}

#[test]
fn scope_is_checked_after_the_signature() {
    let token = SasToken::parse(EXTRA_DEVICE).unwrap();
    let other = ResourceUri::device(&host("myhub.azure-devices.net"), &device("device10"));
    let err = token.verify([&key(EXTRA_KEY)], &other, at(0)).unwrap_err();
    assert!(matches!(err, SasError::WrongScope { .. }), "{err:?}");
    let module = ResourceUri::parse("myhub.azure-devices.net/devices/device1/modules/m").unwrap();
    token.verify([&key(EXTRA_KEY)], &module, at(0)).unwrap();
}

#[test]
fn parse_errors_name_the_problem() {
    let cases: &[(&str, ProtocolError)] = &[
        (
            "sr=a&sig=AA%3D%3D&se=1",
            ProtocolError::Malformed {
                input: INPUT,
                rule: "must start with \"SharedAccessSignature \"",
            },
        ),
        ("SharedAccessSignature sig=AA%3D%3D&se=1", missing("sr")),
        ("SharedAccessSignature sr=a&se=1", missing("sig")),
        ("SharedAccessSignature sr=a&sig=AA%3D%3D", missing("se")),
        (
            "SharedAccessSignature sr=a&sig=AA%3D%3D&se=1&x=2",
            ProtocolError::UnknownField {
                input: INPUT,
                field: "x".into(),
            },
        ),
        (
            "SharedAccessSignature sr=a&sr=b&sig=AA%3D%3D&se=1",
            ProtocolError::DuplicateField {
                input: INPUT,
                field: "sr".into(),
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(&SasToken::parse(text).unwrap_err(), expected, "{text}");
    }
    for bad in [
        "SharedAccessSignature sr=a&sig=AA%3D%3D&se=1.5",
        "SharedAccessSignature sr=a&sig=AA%3D%3D&se=",
        "SharedAccessSignature sr=a&sig=AA%3D%3D&se=99999999999999999999999",
        "SharedAccessSignature sr=a&sig=!!&se=1",
        "SharedAccessSignature sr=&sig=AA%3D%3D&se=1",
        "SharedAccessSignature sr=a&sig=AA%3D%3D&se=1&skn=",
        "SharedAccessSignature sr=%ff&sig=AA%3D%3D&se=1",
        "SharedAccessSignature sr=a&sig&se=1",
        "SharedAccessSignature sr=a&sig=AA%3D%3D&se=1&",
    ] {
        assert!(SasToken::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn debug_and_display_redact_the_signature() {
    let token = SasToken::parse(EXTRA_SERVICE).unwrap();
    for shown in [
        format!("{token}"),
        format!("{token:?}"),
        format!("{token:#?}"),
    ] {
        assert!(!shown.contains("iIzEw6hi"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
    assert_eq!(
        token.to_string(),
        "SharedAccessSignature sr=myhub.azure-devices.net&sig=<redacted>&se=1700000000&skn=iothubowner"
    );
}

proptest! {
    #[test]
    fn create_parse_round_trip(
        resource in "[a-zA-Z0-9./ +%()'-]{1,40}",
        policy in proptest::option::of("[a-zA-Z0-9 ()'&=-]{1,16}"),
        expiry in any::<u64>(),
        key_bytes in proptest::collection::vec(any::<u8>(), 1..40),
    ) {
        let key = SharedAccessKey::from_bytes(key_bytes).unwrap();
        let resource = ResourceUri::parse(&resource).unwrap();
        let token = SasToken::create(&resource, &key, policy.as_deref(), expiry);
        let parsed = SasToken::parse(&token.to_secret_string()).unwrap();
        prop_assert_eq!(&parsed, &token);
        prop_assert_eq!(parsed.policy_name(), policy.as_deref());
        prop_assert!(parsed.verify_signature([&key]).is_ok());
        prop_assert!(parsed.verify_scope(&resource).is_ok());
    }

    #[test]
    fn field_order_does_not_matter(order in Just(["sr=a%2Fb", "sig=AAECAw%3D%3D", "se=42", "skn=p"]).prop_shuffle()) {
        let text = format!("SharedAccessSignature {}", order.join("&"));
        let token = SasToken::parse(&text).unwrap();
        prop_assert_eq!(token.to_secret_string(), "SharedAccessSignature sr=a%2Fb&sig=AAECAw%3D%3D&se=42&skn=p");
    }

    #[test]
    fn parse_never_panics(text in "SharedAccessSignature \\PC{0,80}") {
        let _ = SasToken::parse(&text);
    }
}
