use super::*;
use crate::registry::{ConfigurationInfo, ConfigurationStatus, ConnectionState};
use crate::testing::{document, patch, timestamp};
use crate::{ErrorClass, merge};
use proptest::prelude::*;
use serde_json::json;

const T0: &str = "2021-09-06T08:49:54.8803577Z";
const T1: &str = "2021-09-06T08:52:44.9300429Z";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn write(value: Value) -> ServiceWrite {
    ServiceWrite::from_value(value).unwrap()
}

fn p(value: Value) -> Patch {
    Patch::from_value(value).unwrap()
}

fn new_twin() -> Twin {
    Twin::new("VxDev1", None, at(T0))
}

#[test]
fn a_new_twin_has_the_documented_shape() {
    let twin = new_twin();
    let empty = json!({"$metadata": {"$lastUpdated": T0}, "$version": 1});
    assert_eq!(
        serde_json::to_value(&twin).unwrap(),
        json!({
            "deviceId": "VxDev1", "etag": "AAAAAAAAAAE=", "status": "enabled",
            "statusUpdateTime": "0001-01-01T00:00:00Z", "connectionState": "Disconnected",
            "lastActivityTime": "0001-01-01T00:00:00Z", "cloudToDeviceMessageCount": 0,
            "authenticationType": "sas",
            "x509Thumbprint": {"primaryThumbprint": null, "secondaryThumbprint": null},
            "modelId": "", "version": 2,
            "properties": {"desired": empty, "reported": empty},
            "capabilities": {"iotEdge": false},
        })
    );
    assert_eq!(
        serde_json::to_value(twin.state()).unwrap(),
        json!({"desired": {"$version": 1}, "reported": {"$version": 1}})
    );
    let module = Twin::new("edge", Some("sensor".into()), at(T0));
    assert_eq!(serde_json::to_value(&module).unwrap()["moduleId"], "sensor");
    assert_eq!(module.module_id(), Some("sensor"));
}

/// The twin IoT Hub returned in a published transcript (etag 4, desired 4, reported 7).
fn hub_sample() -> Value {
    json!({
        "deviceId": "VxDev1", "etag": "AAAAAAAAAAQ=", "deviceEtag": "NjU4ODE3NDIy", "status": "enabled",
        "statusUpdateTime": "0001-01-01T00:00:00Z", "connectionState": "Connected",
        "lastActivityTime": "2021-09-06T08:49:54.8803577Z", "cloudToDeviceMessageCount": 0,
        "authenticationType": "sas", "x509Thumbprint": {"primaryThumbprint": null, "secondaryThumbprint": null},
        "modelId": "", "version": 11,
        "properties": {
            "desired": {"device_count": 100,
                "$metadata": {"$lastUpdated": "2021-09-06T08:52:44.9300429Z", "$lastUpdatedVersion": 4,
                    "device_count": {"$lastUpdated": "2021-09-06T08:52:44.9300429Z", "$lastUpdatedVersion": 4}},
                "$version": 4},
            "reported": {"device_count": 100,
                "$metadata": {"$lastUpdated": "2021-09-06T08:52:44.9962991Z",
                    "device_count": {"$lastUpdated": "2021-09-06T08:52:44.9962991Z"}},
                "$version": 7}},
        "capabilities": {"iotEdge": false}
    })
}

#[test]
fn parses_and_reproduces_the_hub_sample() {
    let twin = Twin::from_value(hub_sample()).unwrap();
    assert_eq!(twin.etag().counter(), Some(4));
    assert_eq!(twin.version(), 11);
    assert_eq!(twin.desired().version(), TwinVersion::new(4));
    assert_eq!(twin.reported().version(), TwinVersion::new(7));
    assert_eq!(
        twin.registry().connection_state,
        Some(ConnectionState::Connected)
    );
    assert_eq!(serde_json::to_value(&twin).unwrap(), hub_sample());
    // The bookkeeping model predicts the sample's version.
    let mut without_version = hub_sample();
    without_version.as_object_mut().unwrap().remove("version");
    assert_eq!(Twin::from_value(without_version).unwrap().version(), 11);
}

#[test]
fn the_bookkeeping_reproduces_the_hub_sample() {
    let mut twin = new_twin();
    for count in [20, 50, 100] {
        twin.apply_service_patch(
            &write(json!({"properties": {"desired": {"device_count": count}}})),
            &Limits::IOT_HUB,
            at(T1),
        )
        .unwrap();
    }
    for count in [0, 10, 20, 40, 80, 100] {
        twin.apply_reported_patch(&p(json!({"device_count": count})), &Limits::IOT_HUB, at(T1))
            .unwrap();
    }
    assert_eq!((twin.etag().counter(), twin.version()), (Some(4), 11));
    assert_eq!(twin.desired().version(), TwinVersion::new(4));
    assert_eq!(twin.reported().version(), TwinVersion::new(7));
}

#[test]
fn unknown_members_survive_a_round_trip() {
    let mut sample = hub_sample();
    sample["futureField"] = json!({"x": [1, 2]});
    sample["configurations"] =
        json!({"fw-1": {"status": "Applied"}, "fw-0": {"status": "Targeted"}});
    sample["tags"] = json!({"site": "north"});
    let twin: Twin = serde_json::from_value(sample.clone()).unwrap();
    assert_eq!(twin.extra()["futureField"], json!({"x": [1, 2]}));
    assert_eq!(
        twin.configurations()["fw-1"],
        ConfigurationInfo::new(ConfigurationStatus::Applied)
    );
    assert_eq!(serde_json::to_value(&twin).unwrap(), sample);
}

#[test]
fn a_twin_with_an_etag_of_another_form_reads_and_round_trips_verbatim() {
    for odd in [
        "NjU4ODE3NDIy",
        "W/\"datetime'2026-11-26T10%3A04%3A26Z'\"",
        "AAAAAAAAAAF=",
    ] {
        let mut sample = hub_sample();
        sample["etag"] = json!(odd);
        let twin = Twin::from_value(sample.clone()).unwrap();
        assert_eq!((twin.etag().as_str(), twin.etag().counter()), (odd, None));
        assert_eq!(twin.version(), 11, "a version that is present is kept");
        assert_eq!(serde_json::to_value(&twin).unwrap(), sample);
        let again: Twin = serde_json::from_slice(&serde_json::to_vec(&twin).unwrap()).unwrap();
        assert_eq!(again, twin);
    }
}

#[test]
fn a_service_write_after_an_opaque_etag_gives_one_of_ours() {
    let mut sample = hub_sample();
    sample["etag"] = json!("NjU4ODE3NDIy");
    sample.as_object_mut().unwrap().remove("version");
    let mut twin = Twin::from_value(sample).unwrap();
    assert_eq!(
        twin.version(),
        1 + 7,
        "an opaque etag counts as a twin no service wrote"
    );
    let write = ServiceWrite::from_slice(br#"{"tags":{"a":1}}"#).unwrap();
    let outcome = twin
        .apply_service_patch(&write, &Limits::default(), Timestamp::MIN)
        .unwrap();
    assert_eq!(outcome.etag, Etag::from_counter(2));
    assert_eq!(
        (twin.etag(), twin.version()),
        (Etag::from_counter(2), 2 + 7)
    );
}

#[test]
fn parse_errors_name_the_field() {
    let mut sample = hub_sample();
    sample["properties"]["reported"]["$metadata"]["device_count"] = json!({});
    assert!(matches!(
        Twin::from_value(sample),
        Err(TwinError::InvalidMetadata { path, .. }) if path == "properties.reported[\"$metadata\"].device_count"
    ));
    let mut sample = hub_sample();
    sample.as_object_mut().unwrap().remove("deviceId");
    assert_eq!(
        Twin::from_value(sample),
        Err(TwinError::MissingMember {
            path: "deviceId".into()
        })
    );
    let mut sample = hub_sample();
    sample["properties"]
        .as_object_mut()
        .unwrap()
        .remove("desired");
    assert_eq!(
        Twin::from_value(sample),
        Err(TwinError::MissingMember {
            path: "properties.desired".into()
        })
    );
    let mut sample = hub_sample();
    sample["tags"] = json!({"a.b": 1});
    assert!(
        matches!(Twin::from_value(sample), Err(TwinError::InvalidKey { path, .. }) if path == "tags[\"a.b\"]")
    );
    assert!(Twin::from_slice(b"[]").is_err());
    assert!(serde_json::from_str::<Twin>("{}").is_err());
}

#[test]
fn service_patch_merges_and_notifies() {
    let mut twin = new_twin();
    let outcome = twin
        .apply_service_patch(
            &write(json!({"tags": {"site": "north"}, "properties": {"desired": {"fan": {"speed": 2}, "gone": null}}})),
            &Limits::IOT_HUB,
            at(T1),
        )
        .unwrap();
    assert!(outcome.written);
    assert_eq!(outcome.etag, Etag::from_counter(2));
    let note = outcome.desired.unwrap();
    assert_eq!(
        serde_json::to_value(&note).unwrap(),
        json!({"fan": {"speed": 2}, "gone": null, "$version": 2})
    );
    assert_eq!(
        twin.tags().content(),
        json!({"site": "north"}).as_object().unwrap()
    );
    assert_eq!(twin.version(), 3);
    // Tags only: etag moves, desired does not, no notification.
    let outcome = twin
        .apply_service_patch(
            &write(json!({"tags": {"floor": 3}})),
            &Limits::IOT_HUB,
            at(T1),
        )
        .unwrap();
    assert_eq!((outcome.etag.counter(), outcome.desired), (Some(3), None));
    assert_eq!(twin.desired().version(), TwinVersion::new(2));
    assert_eq!(
        serde_json::to_value(&twin).unwrap()["tags"],
        json!({"site": "north", "floor": 3})
    );
}

#[test]
fn service_patch_with_nothing_to_write_changes_nothing() {
    let mut twin = new_twin();
    let before = twin.clone();
    for body in [
        json!({}),
        json!({"deviceId": "x", "properties": {"desired": {}, "reported": {}}}),
        json!({"tags": {}}),
    ] {
        let outcome = twin
            .apply_service_patch(&write(body), &Limits::IOT_HUB, at(T1))
            .unwrap();
        assert!(!outcome.written);
        assert_eq!(outcome.etag, Etag::INITIAL);
        assert_eq!(twin, before);
    }
}

#[test]
fn null_clears_a_section_and_lists_removed_keys() {
    let mut twin = new_twin();
    twin.apply_service_patch(
        &write(json!({"tags": {"a": 1}, "properties": {"desired": {"x": 1, "y": {"z": 2}}}})),
        &Limits::IOT_HUB,
        at(T0),
    )
    .unwrap();
    let outcome = twin
        .apply_service_patch(
            &write(json!({"tags": null, "properties": {"desired": null}})),
            &Limits::IOT_HUB,
            at(T1),
        )
        .unwrap();
    let note = outcome.desired.unwrap();
    assert_eq!(
        note.to_value(),
        json!({"x": null, "y": null, "$version": 3})
    );
    assert!(twin.tags().is_empty() && twin.desired().is_empty());
    assert!(serde_json::to_value(&twin).unwrap().get("tags").is_none());
}

#[test]
fn service_replace_swaps_both_sections() {
    let mut twin = new_twin();
    twin.apply_service_patch(
        &write(
            json!({"tags": {"a": 1}, "properties": {"desired": {"x": 1, "y": {"z": 2, "w": 3}}}}),
        ),
        &Limits::IOT_HUB,
        at(T0),
    )
    .unwrap();
    let outcome = twin
        .apply_service_replace(
            &write(json!({"properties": {"desired": {"y": {"z": 5}, "n": true}}})),
            &Limits::IOT_HUB,
            at(T1),
        )
        .unwrap();
    assert_eq!(
        outcome.desired.unwrap().to_value(),
        json!({"x": null, "y": {"z": 5, "w": null}, "n": true, "$version": 3})
    );
    assert!(
        twin.tags().is_empty(),
        "an absent section is emptied by PUT"
    );
    assert_eq!(
        twin.desired().content(),
        json!({"y": {"z": 5}, "n": true}).as_object().unwrap()
    );
    assert_eq!((twin.etag().counter(), twin.version()), (Some(3), 4));
    // A PUT always writes both sections, even with an empty body.
    let outcome = twin
        .apply_service_replace(&ServiceWrite::new(), &Limits::IOT_HUB, at(T1))
        .unwrap();
    assert!(outcome.written);
    assert_eq!(
        outcome.desired.unwrap().version(),
        TwinVersion::new(4).unwrap()
    );
}

#[test]
fn service_writes_are_atomic_across_sections() {
    let mut twin = new_twin();
    let before = twin.clone();
    let body =
        write(json!({"tags": {"ok": 1}, "properties": {"desired": {"big": "x".repeat(5000)}}}));
    let error = twin
        .apply_service_patch(&body, &Limits::IOT_HUB, at(T1))
        .unwrap_err();
    assert!(
        matches!(&error, TwinError::StringTooLong { path, .. } if path == "properties.desired.big")
    );
    assert_eq!(twin, before);
    let tags = (0..3)
        .map(|i| (format!("t{i}"), json!("x".repeat(4000))))
        .collect::<Map<_, _>>();
    let body = ServiceWrite::new()
        .with_tags(SectionField::Object(Patch::from_map(tags).unwrap()))
        .with_desired(SectionField::Object(p(json!({"fine": 1}))));
    let error = twin
        .apply_service_replace(&body, &Limits::IOT_HUB, at(T1))
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::QuotaExceeded);
    assert_eq!(twin, before);
}

#[test]
fn reported_errors_carry_the_twin_path() {
    let mut twin = new_twin();
    let error = twin
        .apply_reported_patch(
            &p(json!({"a": {"n": 4_503_599_627_370_496_i64}})),
            &Limits::IOT_HUB,
            at(T1),
        )
        .unwrap_err();
    assert!(
        matches!(&error, TwinError::IntegerOutOfRange { path, .. } if path == "properties.reported.a.n")
    );
    assert_eq!(twin.reported().version(), Some(TwinVersion::INITIAL));
    assert_eq!(
        twin.apply_reported_patch(&Patch::new(), &Limits::IOT_HUB, at(T1)),
        TwinVersion::new(2).ok_or(error)
    );
}

#[test]
fn registry_and_configurations_are_editable() {
    let mut twin = new_twin();
    twin.registry_mut().connection_state = Some(ConnectionState::Connected);
    twin.registry_mut().last_activity_time = Some(at(T1));
    twin.configurations_mut().insert(
        "cfg".into(),
        ConfigurationInfo::new(ConfigurationStatus::Targeted),
    );
    let value = serde_json::to_value(&twin).unwrap();
    assert_eq!(value["connectionState"], "Connected");
    assert_eq!(value["lastActivityTime"], T1);
    assert_eq!(
        value["configurations"],
        json!({"cfg": {"status": "Targeted"}})
    );
    assert_eq!(
        twin.etag(),
        Etag::INITIAL,
        "registry edits are not twin writes"
    );
}

/// One operation on a twin, for the generated histories below.
#[derive(Debug, Clone)]
enum Op {
    Patch(ServiceWrite),
    Put(ServiceWrite),
    Reported(Patch),
}

fn field() -> impl Strategy<Value = SectionField> {
    prop_oneof![
        1 => Just(SectionField::Absent),
        1 => Just(SectionField::Null),
        4 => patch().prop_map(SectionField::Object),
    ]
}

fn service_write() -> impl Strategy<Value = ServiceWrite> {
    (field(), field())
        .prop_map(|(tags, desired)| ServiceWrite::new().with_tags(tags).with_desired(desired))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => service_write().prop_map(Op::Patch),
        1 => service_write().prop_map(Op::Put),
        3 => patch().prop_map(Op::Reported),
    ]
}

fn run(
    twin: &mut Twin,
    op: &Op,
    limits: &Limits,
    now: Timestamp,
) -> Result<Option<DesiredNotification>, TwinError> {
    match op {
        Op::Patch(write) => twin
            .apply_service_patch(write, limits, now)
            .map(|o| o.desired),
        Op::Put(write) => twin
            .apply_service_replace(write, limits, now)
            .map(|o| o.desired),
        Op::Reported(patch) => twin.apply_reported_patch(patch, limits, now).map(|_| None),
    }
}

proptest! {
    #[test]
    fn serde_round_trip_of_generated_twins(ops in prop::collection::vec((op(), timestamp()), 0..6), extra in document()) {
        let mut twin = new_twin();
        for (op, now) in &ops {
            run(&mut twin, op, &Limits::UNLIMITED, *now).unwrap();
        }
        twin.extra = extra.into_iter().map(|(k, v)| (format!("x_{k}"), v)).collect();
        let text = serde_json::to_string(&twin).unwrap();
        prop_assert_eq!(Twin::from_slice(text.as_bytes()).unwrap(), twin.clone());
        let state: TwinState = serde_json::from_str(&serde_json::to_string(&twin.state()).unwrap()).unwrap();
        prop_assert_eq!(state, twin.state());
    }

    #[test]
    fn versions_follow_the_bookkeeping(ops in prop::collection::vec(op(), 0..8), tight in any::<bool>()) {
        let limits = if tight { Limits::IOT_HUB.with_max_depth(2).with_max_section_bytes(SectionKind::Desired, 30) } else { Limits::UNLIMITED };
        let mut twin = new_twin();
        let mut service_writes = 0;
        let mut reported_writes = 0;
        for op in &ops {
            let before = twin.clone();
            match run(&mut twin, op, &limits, at(T1)) {
                Ok(_) => {
                    if twin.etag() != before.etag() { service_writes += 1; }
                    if matches!(op, Op::Reported(_)) { reported_writes += 1; }
                }
                Err(_) => prop_assert_eq!(&twin, &before),
            }
            prop_assert_eq!(twin.etag().counter(), Some(1 + service_writes));
            prop_assert_eq!(twin.reported().version().map(TwinVersion::get), Some(1 + reported_writes));
            prop_assert_eq!(Some(twin.version()), twin.etag().counter().map(|c| c + 1 + reported_writes));
            prop_assert!(twin.desired().version() >= before.desired().version());
        }
    }

    #[test]
    fn desired_notifications_converge_the_device(ops in prop::collection::vec(op(), 0..8)) {
        let mut twin = new_twin();
        let (mut copy, mut version) = twin.state().desired().clone().into_parts();
        for op in &ops {
            if let Some(note) = run(&mut twin, op, &Limits::UNLIMITED, at(T1)).unwrap() {
                prop_assert_eq!(Some(note.version()), version.next());
                version = note.version();
                merge(&mut copy, note.patch());
            }
            prop_assert_eq!(&copy, twin.desired().content());
            prop_assert_eq!(Some(version), twin.desired().version());
        }
    }
}
