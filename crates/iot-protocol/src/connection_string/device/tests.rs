//! Tests of [`DeviceConnectionString`].

use super::*;
use proptest::prelude::*;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const TOKEN: &str = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1&sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1700000000";

fn parse(text: &str) -> DeviceConnectionString {
    DeviceConnectionString::parse(text).unwrap()
}

#[test]
fn device_with_key() {
    let text = format!("HostName=myhub.azure-devices.net;DeviceId=device1;SharedAccessKey={KEY}");
    let cs = parse(&text);
    assert_eq!(cs.host_name().as_str(), "myhub.azure-devices.net");
    assert_eq!(cs.identity().device_id().as_str(), "device1");
    assert_eq!(cs.identity().module_id(), None);
    assert_eq!(cs.connect_host(), cs.host_name());
    assert_eq!(cs.to_secret_string(), text);
    let token = cs.sas_token(1_700_000_000).unwrap();
    assert_eq!(token.to_secret_string(), TOKEN);
}

#[test]
fn module_with_key_and_gateway_in_any_order() {
    let cs = parse(&format!(
        "GatewayHostName=localhost;SharedAccessKey={KEY};ModuleId=module1;DeviceId=device1;HostName=myhub.azure-devices.net"
    ));
    assert_eq!(cs.identity().to_string(), "device1/module1");
    assert_eq!(cs.connect_host().as_str(), "localhost");
    assert_eq!(
        cs.resource_uri().as_str(),
        "myhub.azure-devices.net/devices/device1/modules/module1"
    );
    assert_eq!(
        cs.to_secret_string(),
        format!(
            "HostName=myhub.azure-devices.net;DeviceId=device1;ModuleId=module1;SharedAccessKey={KEY};GatewayHostName=localhost"
        )
    );
}

#[test]
fn policy_key_signs_with_skn() {
    let cs = parse(&format!(
        "HostName=myhub.azure-devices.net;DeviceId=device1;SharedAccessKeyName=device;SharedAccessKey={KEY}"
    ));
    let token = cs.sas_token(5).unwrap();
    assert_eq!(token.policy_name(), Some("device"));
}

#[test]
fn token_and_x509_forms() {
    let cs = parse(&format!(
        "HostName=myhub.azure-devices.net;DeviceId=device1;SharedAccessSignature={TOKEN}"
    ));
    assert_eq!(cs.sas_token(1).unwrap().to_secret_string(), TOKEN);
    let x509 = parse("HostName=h;DeviceId=d;x509=true");
    assert_eq!(x509.credential(), &DeviceCredential::X509);
    assert_eq!(x509.sas_token(1), None);
    assert_eq!(x509.to_string(), "HostName=h;DeviceId=d;x509=true");
    assert_eq!(
        parse("HostName=h;DeviceId=d;x509=True").to_secret_string(),
        "HostName=h;DeviceId=d;x509=true"
    );
}

#[test]
fn errors_name_the_field() {
    let cases: Vec<(String, ProtocolError)> = vec![
        (
            format!("DeviceId=d;SharedAccessKey={KEY}"),
            missing("HostName"),
        ),
        (
            format!("HostName=h;SharedAccessKey={KEY}"),
            missing("DeviceId"),
        ),
        (
            "HostName=h;DeviceId=d".to_owned(),
            missing("a credential (SharedAccessKey, SharedAccessSignature or x509=true)"),
        ),
        (
            format!("HostName=h;DeviceId=d;SharedAccessKey={KEY};x509=true"),
            conflict("SharedAccessKey", "x509"),
        ),
        (
            format!("HostName=h;DeviceId=d;SharedAccessKey={KEY};SharedAccessSignature={TOKEN}"),
            conflict("SharedAccessKey", "SharedAccessSignature"),
        ),
        (
            format!("HostName=h;DeviceId=d;SharedAccessKeyName=p;SharedAccessSignature={TOKEN}"),
            conflict("SharedAccessKeyName", "SharedAccessSignature"),
        ),
        (
            "HostName=h;DeviceId=d;SharedAccessKeyName=p;x509=true".to_owned(),
            conflict("SharedAccessKeyName", "x509"),
        ),
        (
            format!("HostName=h;DeviceId=d;SharedAccessKey={KEY};Extra=1"),
            ProtocolError::UnknownField {
                input: INPUT,
                field: "Extra".into(),
            },
        ),
        (
            format!("HostName=h;hostname=h;DeviceId=d;SharedAccessKey={KEY}"),
            ProtocolError::UnknownField {
                input: INPUT,
                field: "hostname".into(),
            },
        ),
        (
            format!("HostName=h;DeviceId=d;DeviceId=e;SharedAccessKey={KEY}"),
            ProtocolError::DuplicateField {
                input: INPUT,
                field: "DeviceId".into(),
            },
        ),
        (
            "HostName=h;DeviceId=d;x509=false".to_owned(),
            ProtocolError::InvalidField {
                input: INPUT,
                field: "x509".into(),
                rule: "must be true when present",
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            DeviceConnectionString::parse(&text).unwrap_err(),
            expected,
            "{text}"
        );
    }
    assert!(DeviceConnectionString::parse("HostName=h;DeviceId=a b;x509=true").is_err());
    assert!(DeviceConnectionString::parse("HostName=h;DeviceId=d;ModuleId=;x509=true").is_err());
}

#[test]
fn bad_key_error_does_not_show_the_key() {
    let err =
        DeviceConnectionString::parse("HostName=h;DeviceId=d;SharedAccessKey=s3cr3t!").unwrap_err();
    assert!(matches!(err, ProtocolError::InvalidKey { .. }));
    assert!(!err.to_string().contains("s3cr3t"));
}

#[test]
fn display_and_debug_redact() {
    let with_key = parse(&format!("HostName=h;DeviceId=d;SharedAccessKey={KEY}"));
    let with_token = parse(&format!(
        "HostName=h;DeviceId=d;SharedAccessSignature={TOKEN}"
    ));
    for shown in [
        with_key.to_string(),
        format!("{with_key:?}"),
        with_token.to_string(),
        format!("{with_token:?}"),
    ] {
        assert!(
            !shown.contains("AAECAw") && !shown.contains("gFSfLGMX"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"), "{shown}");
    }
    assert_eq!(
        with_key.to_string(),
        "HostName=h;DeviceId=d;SharedAccessKey=<redacted>"
    );
}

fn id_strategy() -> impl Strategy<Value = String> {
    "[A-Za-z0-9\\-.+%_#*?!(),=@$':]{1,24}"
}

fn credential_strategy() -> impl Strategy<Value = DeviceCredential> {
    prop_oneof![
        (
            proptest::collection::vec(any::<u8>(), 1..48),
            proptest::option::of("[A-Za-z0-9_-]{1,12}")
        )
            .prop_map(|(bytes, policy_name)| DeviceCredential::SharedAccessKey {
                key: SharedAccessKey::from_bytes(bytes).unwrap(),
                policy_name,
            }),
        Just(DeviceCredential::SharedAccessSignature(
            SasToken::parse(TOKEN).unwrap()
        )),
        Just(DeviceCredential::X509),
    ]
}

proptest! {
    #[test]
    fn secret_string_round_trip(
        device in id_strategy(),
        module in proptest::option::of(id_strategy()),
        credential in credential_strategy(),
        gateway in proptest::option::of("[a-z0-9.-]{1,20}"),
    ) {
        let device = DeviceId::parse(&device).unwrap();
        let identity = match module {
            None => Identity::device(device),
            Some(m) => Identity::module(device, ModuleId::parse(&m).unwrap()),
        };
        let mut cs = DeviceConnectionString::new(
            HostName::parse("myhub.azure-devices.net").unwrap(),
            identity,
            credential,
        );
        if let Some(gateway) = gateway {
            cs = cs.with_gateway(HostName::parse(&gateway).unwrap());
        }
        prop_assert_eq!(DeviceConnectionString::parse(&cs.to_secret_string()).unwrap(), cs);
    }

    #[test]
    fn parse_never_panics(text in "\\PC{0,120}") {
        let _ = DeviceConnectionString::parse(&text);
    }
}
