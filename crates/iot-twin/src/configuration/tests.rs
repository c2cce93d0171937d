use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::KeyRule;

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn content(value: Value) -> DesiredContent {
    DesiredContent::from_map(&map(value)).unwrap()
}

fn content_error(value: Value) -> TwinError {
    DesiredContent::from_map(&map(value)).unwrap_err()
}

/// The value at `keys`, if any.
fn at<'a>(map: &'a Map<String, Value>, keys: &[String]) -> Option<&'a Value> {
    let (last, parents) = keys.split_last()?;
    let mut current = map;
    for key in parents {
        current = current.get(key)?.as_object()?;
    }
    current.get(last)
}

#[test]
fn paths_parse_and_print() {
    let whole = ContentPath::parse("properties.desired").unwrap();
    assert!(whole.keys().is_empty());
    assert_eq!(whole.to_string(), "properties.desired");
    let path = ContentPath::parse("properties.desired.chiller-water.temperature").unwrap();
    assert_eq!(path.keys(), ["chiller-water", "temperature"]);
    assert!(whole.covers(&path) && path.covers(&path));
    for bad in [
        "",
        "properties",
        "properties.desiredx",
        "properties.reported.a",
        "tags.a",
        "properties.desired.",
        "properties.desired..a",
        "Properties.desired.a",
    ] {
        let error = ContentPath::parse(bad).unwrap_err();
        assert!(
            matches!(error, TwinError::InvalidContent { .. }),
            "{bad:?}: {error}"
        );
        assert_eq!(error.path(), Some(bad));
    }
    let error = ContentPath::parse("properties.desired.a b").unwrap_err();
    assert!(matches!(
        error,
        TwinError::InvalidKey {
            rule: KeyRule::Space,
            ..
        }
    ));
    let error = ContentPath::parse("properties.desired.$version").unwrap_err();
    assert_eq!(error.class(), crate::ErrorClass::Invalid);
}

#[test]
fn content_checks_keys_values_and_overlaps() {
    let firmware = content(json!({
        "properties.desired.firmware": {"fwVersion": "2.8.5", "old": null},
        "properties.desired": {"interval": 30},
    }));
    let paths: Vec<String> = firmware
        .entries()
        .iter()
        .map(|e| e.path().to_string())
        .collect();
    assert_eq!(
        paths,
        ["properties.desired.firmware", "properties.desired.interval"]
    );
    assert_eq!(
        firmware.entries()[0].value(),
        &json!({"fwVersion": "2.8.5"})
    );

    let cases = [
        (
            json!({"properties.desired.a": {"b$": 1}}),
            "properties.desired.a",
        ),
        (
            json!({"properties.desired.a": [1, null]}),
            "properties.desired.a[1]",
        ),
        (json!({"properties.desired": 5}), "properties.desired"),
        (
            json!({"properties.desired": {"a b": 1}}),
            "properties.desired.a b",
        ),
        (
            json!({"properties.desired.a": 1, "properties.desired": {"a": 2}}),
            "properties.desired.a",
        ),
        (
            json!({"properties.desired.a.b": 1, "properties.desired.a": 2}),
            "properties.desired.a.b",
        ),
    ];
    for (value, path) in cases {
        let error = content_error(value.clone());
        assert!(
            error.path().is_some_and(|p| p.starts_with(path)),
            "{value}: {error}"
        );
    }
    assert!(DesiredContent::from_map(&Map::new()).unwrap().is_empty());
}

#[test]
fn higher_layers_win_per_path_and_lower_ones_fill_in() {
    let low = content(json!({
        "properties.desired.a": {"x": 1, "y": 1},
        "properties.desired.b": 1,
    }));
    let high = content(json!({"properties.desired.a.x": 2}));
    let desired = map(json!({"keep": true, "b": 0}));
    let layered = layer(&desired, &[], &[&low, &high]);
    assert_eq!(
        Value::Object(layered.desired),
        json!({"keep": true, "a": {"x": 2, "y": 1}, "b": 1})
    );
    assert_eq!(layered.applied, [true, true]);

    // A higher layer above the lower one's paths takes them all.
    let top = content(json!({"properties.desired": {"a": "flat", "b": 9}}));
    let layered = layer(&desired, &[], &[&low, &high, &top]);
    assert_eq!(
        Value::Object(layered.desired),
        json!({"keep": true, "a": "flat", "b": 9})
    );
    assert_eq!(layered.applied, [false, false, true]);
}

#[test]
fn null_removes_and_scalars_give_way_to_objects() {
    let remove = content(json!({"properties.desired.old": null}));
    let nested = content(json!({"properties.desired.n.deep": 1}));
    let desired = map(json!({"old": 1, "n": 5}));
    let layered = layer(&desired, &[], &[&remove, &nested]);
    assert_eq!(Value::Object(layered.desired), json!({"n": {"deep": 1}}));
    assert_eq!(layered.applied, [true, true]);
    let empty = DesiredContent::default();
    assert_eq!(layer(&desired, &[], &[&empty]).applied, [true]);
}

#[test]
fn withdrawn_paths_are_removed_before_layers_apply() {
    let gone = content(json!({"properties.desired.a.b": 1, "properties.desired.c": 2}));
    let stays = content(json!({"properties.desired.c": 3}));
    let desired = map(json!({"a": {"b": 1, "z": 0}, "c": 2, "other": 4}));
    let layered = layer(&desired, &[&gone], &[&stays]);
    assert_eq!(
        Value::Object(layered.desired),
        json!({"a": {"z": 0}, "c": 3, "other": 4})
    );
    // Withdrawing paths that are not there changes nothing.
    let empty = Map::new();
    assert!(layer(&empty, &[&gone], &[]).desired.is_empty());
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c"]).prop_map(str::to_owned)
}

fn keys() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(key(), 1..4)
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0..5i64).prop_map(Value::from),
        Just(Value::Null),
        (0..5i64).prop_map(|n| json!({"v": n})),
    ]
}

/// A content from random paths; overlapping draws are dropped until none overlap.
fn any_content() -> impl Strategy<Value = DesiredContent> {
    prop::collection::vec((keys(), leaf()), 0..4).prop_map(|entries| {
        let mut kept: Vec<ContentEntry> = Vec::new();
        for (keys, value) in entries {
            let path = ContentPath { keys };
            let clash = kept
                .iter()
                .any(|e| e.path.covers(&path) || path.covers(&e.path));
            if !clash {
                kept.push(entry(path, &value).unwrap());
            }
        }
        kept.sort_by(|a, b| a.path.cmp(&b.path));
        DesiredContent { entries: kept }
    })
}

fn any_desired() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((keys(), (0..5i64).prop_map(Value::from)), 0..4).prop_map(|sets| {
        let mut out = Map::new();
        for (keys, value) in sets {
            set(&mut out, &keys, &value);
        }
        out
    })
}

proptest! {
    #[test]
    fn paths_round_trip(keys in prop::collection::vec("[a-zA-Z0-9_\\-é]{1,8}", 0..5)) {
        let text = ContentPath { keys: keys.clone() }.to_string();
        let parsed = ContentPath::parse(&text).unwrap();
        prop_assert_eq!(parsed.keys(), &keys[..]);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn parse_never_panics(text in "properties\\.desired[\\PC.]{0,20}") {
        let _ = ContentPath::parse(&text);
    }

    #[test]
    fn entries_in_effect_hold_their_values(
        desired in any_desired(),
        withdrawn in prop::collection::vec(any_content(), 0..3),
        layers in prop::collection::vec(any_content(), 0..4),
    ) {
        let withdrawn: Vec<&DesiredContent> = withdrawn.iter().collect();
        let layers: Vec<&DesiredContent> = layers.iter().collect();
        let layered = layer(&desired, &withdrawn, &layers);
        for (index, content) in layers.iter().enumerate() {
            let later = &layers[index + 1..];
            let untouched = |e: &&ContentEntry| {
                !later.iter().flat_map(|c| c.entries()).any(|other| {
                    other.path.covers(&e.path) || e.path.covers(&other.path)
                })
            };
            for entry in content.entries().iter().filter(untouched) {
                let expected = (!entry.value().is_null()).then_some(entry.value());
                prop_assert_eq!(at(&layered.desired, entry.path().keys()), expected);
            }
        }
        // Layering again on its own result changes nothing.
        let again = layer(&layered.desired, &[], &layers);
        prop_assert_eq!(&again.desired, &layered.desired);
        prop_assert_eq!(again.applied, layered.applied);
    }

    #[test]
    fn withdrawn_paths_no_layer_names_are_gone(
        desired in any_desired(),
        withdrawn in any_content(),
    ) {
        let layered = layer(&desired, &[&withdrawn], &[]);
        for entry in withdrawn.entries() {
            prop_assert_eq!(at(&layered.desired, entry.path().keys()), None);
        }
    }
}
