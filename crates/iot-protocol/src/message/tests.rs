//! Tests of [`MessageProperties`] with the bags the official SDKs and the hub send.

use super::*;
use proptest::prelude::*;

#[test]
fn python_telemetry_bag() {
    let bag = "%24.mid=b36d0f5e-7f3c-4c5e-9a56-2a1e4d6f8a10&%24.ct=application%2Fjson&%24.ce=utf-8&scenario=py-device";
    let props = MessageProperties::parse(bag).unwrap();
    assert_eq!(
        props.message_id.as_deref(),
        Some("b36d0f5e-7f3c-4c5e-9a56-2a1e4d6f8a10")
    );
    assert_eq!(props.content_type.as_deref(), Some("application/json"));
    assert_eq!(props.content_encoding.as_deref(), Some("utf-8"));
    assert_eq!(props.app_property("scenario"), Some(Some("py-device")));
    assert_eq!(props.to_string(), bag);
}

#[test]
fn real_hub_c2d_bag() {
    let bag = "%24.mid=ee06e90f-2d5b-4a4e-8a39-98a7a8e9f3a1&%24.to=%2Fdevices%2FVxDev1%2Fmessages%2Fdevicebound&%24.ce=utf-8";
    let props = MessageProperties::parse(bag).unwrap();
    assert_eq!(
        props.to.as_deref(),
        Some("/devices/VxDev1/messages/devicebound")
    );
    let written = props.to_string();
    assert!(written.contains("%24.to=%2Fdevices%2FVxDev1%2Fmessages%2Fdevicebound"));
    assert!(!written.contains('/') && !written.contains('$'));
    assert_eq!(MessageProperties::parse(&written).unwrap(), props);
}

#[test]
fn raw_dollar_keys_decode_the_same() {
    let raw = MessageProperties::parse("$.ct=application%2Fjson&$.mid=1").unwrap();
    let encoded = MessageProperties::parse("%24.ct=application%2Fjson&%24.mid=1").unwrap();
    assert_eq!(raw, encoded);
}

#[test]
fn null_empty_and_plus() {
    let props = MessageProperties::parse("flag&empty=&sum=1+2&space=a%20b").unwrap();
    assert_eq!(props.app_property("flag"), Some(None));
    assert_eq!(props.app_property("empty"), Some(Some("")));
    assert_eq!(props.app_property("sum"), Some(Some("1+2")));
    assert_eq!(props.app_property("space"), Some(Some("a b")));
    assert_eq!(props.app_property("missing"), None);
    assert_eq!(props.to_string(), "flag&empty=&sum=1%2B2&space=a%20b");
}

#[test]
fn typed_system_properties() {
    let props = MessageProperties::parse(
        "%24.exp=2026-01-01T00%3A00%3A00Z&iothub-ack=full&%24.on=out1&%24.ifid=urn%3Ax&%24.sub=thermostat1&%24.diagctx=a%3Db&%24.foo=kept",
    )
    .unwrap();
    assert_eq!(props.expiry, Some("2026-01-01T00:00:00Z".parse().unwrap()));
    assert_eq!(props.ack, Some(Ack::Full));
    assert_eq!(props.output_name.as_deref(), Some("out1"));
    assert_eq!(props.interface_id.as_deref(), Some("urn:x"));
    assert_eq!(props.component.as_deref(), Some("thermostat1"));
    assert_eq!(props.diagnostic_context.as_deref(), Some("a=b"));
    assert_eq!(props.app_property("$.foo"), Some(Some("kept")));
}

#[test]
fn application_properties_keep_their_order_and_repeats() {
    let props = MessageProperties::parse("z=1&a=2&z=3").unwrap();
    let names: Vec<_> = props.application.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["z", "a", "z"]);
    assert_eq!(props.to_string(), "z=1&a=2&z=3");
}

#[test]
fn rejects_bad_system_properties() {
    for bad in [
        "%24.mid=1&%24.mid=2",
        "%24.mid",
        "%24.exp=tomorrow",
        "iothub-ack=sometimes",
        "=value",
        "a=%ff",
        "%ff=a",
    ] {
        assert!(MessageProperties::parse(bad).is_err(), "{bad}");
    }
    let err = MessageProperties::parse("%24.exp=tomorrow").unwrap_err();
    assert!(err.to_string().contains("$.exp"), "{err}");
}

#[test]
fn empty_bag() {
    assert!(MessageProperties::parse("").unwrap().is_empty());
    assert!(MessageProperties::parse("&&").unwrap().is_empty());
    assert_eq!(MessageProperties::new().to_string(), "");
    assert!(
        !MessageProperties::new()
            .with_app_property("a", "b")
            .is_empty()
    );
}

fn text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("\\PC{0,12}")
}

prop_compose! {
    fn properties()(
        texts in proptest::collection::vec(text(), 14),
        expiry in proptest::option::of(0i64..253_402_300_799),
        ack in proptest::option::of(prop_oneof![
            Just(Ack::None), Just(Ack::Positive), Just(Ack::Negative), Just(Ack::Full)
        ]),
        application in proptest::collection::vec(("[a-z]\\PC{0,8}", text()), 0..5),
    ) -> MessageProperties {
        let mut props = MessageProperties::new();
        for (field, value) in TEXT_FIELDS.iter().zip(texts) {
            *(field.get_mut)(&mut props) = value;
        }
        props.expiry = expiry.map(|s| Timestamp::from_unix_seconds(s).unwrap());
        props.ack = ack;
        props.application = application
            .into_iter()
            .map(|(name, value)| AppProperty { name, value })
            .collect();
        props
    }
}

proptest! {
    #[test]
    fn encode_decode_round_trip(props in properties()) {
        let bag = props.to_string();
        prop_assert!(!bag.contains('/') && !bag.contains('$') && !bag.contains(' '));
        prop_assert_eq!(MessageProperties::parse(&bag).unwrap(), props);
    }

    #[test]
    fn parse_never_panics(bag in "\\PC{0,60}") {
        let _ = MessageProperties::parse(&bag);
    }
}
