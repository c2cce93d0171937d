use super::*;
use crate::rules::members_size;
use crate::testing::{document, patch, reference_apply, timestamp};
use proptest::prelude::*;
use serde_json::json;

const T0: &str = "2021-09-06T08:49:54.8803577Z";
const T1: &str = "2021-09-06T08:52:44.9300429Z";
const T2: &str = "2021-09-06T08:52:44.9962991Z";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn p(value: Value) -> Patch {
    Patch::from_value(value).unwrap()
}

fn applied(kind: SectionKind, patches: &[(Value, &str)]) -> Section {
    let mut section = Section::new(kind, at(T0));
    for (patch, time) in patches {
        section
            .apply(&p(patch.clone()), &Limits::IOT_HUB, at(time))
            .unwrap();
    }
    section
}

#[test]
fn new_sections_have_the_documented_shape() {
    let t = at(T0);
    let desired = Section::new(SectionKind::Desired, t);
    assert_eq!(
        desired.to_rest_value(),
        json!({"$metadata": {"$lastUpdated": T0}, "$version": 1})
    );
    assert_eq!(
        serde_json::to_value(&desired).unwrap(),
        desired.to_rest_value()
    );
    assert_eq!(desired.to_get_value(), json!({"$version": 1}));
    let reported = Section::new(SectionKind::Reported, t);
    assert_eq!(
        reported.to_rest_value(),
        json!({"$metadata": {"$lastUpdated": T0}, "$version": 1})
    );
    let tags = Section::new(SectionKind::Tags, t);
    assert_eq!(tags.to_rest_value(), json!({}));
    assert_eq!(tags.version(), None);
    assert_eq!(tags.metadata(), None);
    assert!(tags.is_empty());
}

#[test]
fn desired_matches_the_hub_sample() {
    let desired = applied(
        SectionKind::Desired,
        &[
            (json!({"device_count": 20}), T0),
            (json!({"device_count": 50}), T0),
            (json!({"device_count": 100}), T1),
        ],
    );
    let stamp = json!({"$lastUpdated": T1, "$lastUpdatedVersion": 4});
    assert_eq!(
        desired.to_rest_value(),
        json!({"device_count": 100, "$metadata": {"$lastUpdated": T1, "$lastUpdatedVersion": 4, "device_count": stamp}, "$version": 4})
    );
    assert_eq!(
        desired.to_get_value(),
        json!({"device_count": 100, "$version": 4})
    );
}

#[test]
fn reported_matches_the_hub_sample() {
    let mut patches: Vec<(Value, &str)> =
        (0..5).map(|n| (json!({"device_count": n}), T0)).collect();
    patches.push((json!({"device_count": 100}), T2));
    let reported = applied(SectionKind::Reported, &patches);
    assert_eq!(
        reported.to_rest_value(),
        json!({"device_count": 100, "$metadata": {"$lastUpdated": T2, "device_count": {"$lastUpdated": T2}}, "$version": 7})
    );
}

#[test]
fn metadata_stamps_touched_nodes_and_ancestors_only() {
    let reported = applied(
        SectionKind::Desired,
        &[
            (
                json!({"a": {"b": 1, "c": {"d": 2}}, "e": 3, "gone": {"x": 1}}),
                T0,
            ),
            (json!({"a": {"c": {"d": 20}}, "gone": null}), T1),
        ],
    );
    let old = |v: u64| json!({"$lastUpdated": T0, "$lastUpdatedVersion": v});
    let new = json!({"$lastUpdated": T1, "$lastUpdatedVersion": 3});
    assert_eq!(
        reported.to_rest_value(),
        json!({
            "a": {"b": 1, "c": {"d": 20}}, "e": 3,
            "$metadata": {
                "$lastUpdated": T1, "$lastUpdatedVersion": 3,
                "a": {"$lastUpdated": T1, "$lastUpdatedVersion": 3, "b": old(2),
                      "c": {"$lastUpdated": T1, "$lastUpdatedVersion": 3, "d": new}},
                "e": old(2),
            },
            "$version": 3,
        })
    );
}

#[test]
fn null_edge_cases_seen_on_iot_hub() {
    let mut section = applied(SectionKind::Reported, &[(json!({"x": 1}), T0)]);
    section
        .apply(&p(json!({"missing": null})), &Limits::IOT_HUB, at(T1))
        .unwrap();
    assert_eq!(section.content(), json!({"x": 1}).as_object().unwrap());
    section
        .apply(&p(json!({"a": {"b": null}})), &Limits::IOT_HUB, at(T2))
        .unwrap();
    assert_eq!(
        section.content(),
        json!({"x": 1, "a": {}}).as_object().unwrap()
    );
    assert_eq!(
        section.metadata().unwrap().get("a").unwrap().to_value(),
        json!({"$lastUpdated": T2})
    );
    assert_eq!(section.version().map(TwinVersion::get), Some(4));
}

#[test]
fn objects_and_leaves_replace_each_other() {
    let mut section = applied(
        SectionKind::Reported,
        &[(json!({"a": {"b": 1}, "c": 2}), T0)],
    );
    section
        .apply(
            &p(json!({"a": 5, "c": {"d": null, "e": 1}})),
            &Limits::IOT_HUB,
            at(T1),
        )
        .unwrap();
    let leaf = json!({"$lastUpdated": T1});
    assert_eq!(
        section.to_rest_value(),
        json!({"a": 5, "c": {"e": 1}, "$metadata": {"$lastUpdated": T1, "a": leaf, "c": {"$lastUpdated": T1, "e": leaf}}, "$version": 3})
    );
}

#[test]
fn rejected_patches_change_nothing() {
    let before = applied(SectionKind::Reported, &[(json!({"a": {"b": 1}}), T0)]);
    let cases = [
        (
            json!({"a": {"b": 2}, "s": "x".repeat(4097)}),
            "StringTooLong",
        ),
        (
            json!({"a": {"b": 2}, "i": 4_503_599_627_370_496_i64}),
            "IntegerOutOfRange",
        ),
        (json!({"a": {"b": 2}, "k".repeat(1025): 1}), "KeyTooLong"),
        (
            json!({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": {"l": 1}}}}}}}}}}}}),
            "TooDeep",
        ),
    ];
    for (patch, expected) in cases {
        let mut section = before.clone();
        let error = section
            .apply(&p(patch), &Limits::IOT_HUB, at(T1))
            .unwrap_err();
        assert!(format!("{error:?}").starts_with(expected), "{error:?}");
        assert_eq!(error.class(), crate::ErrorClass::Invalid);
        assert_eq!(section, before);
    }
}

#[test]
fn section_sizes_are_enforced_per_kind() {
    let big = "x".repeat(4000);
    let fill = |n: usize| -> Value {
        (0..n)
            .map(|i| (format!("k{i:02}"), json!(big)))
            .collect::<Map<_, _>>()
            .into()
    };
    // Eight 4003-byte members fit in 32 KB; the ninth does not.
    let mut reported = Section::new(SectionKind::Reported, at(T0));
    reported
        .apply(&p(fill(8)), &Limits::IOT_HUB, at(T0))
        .unwrap();
    assert_eq!(reported.size(), 8 * 4003);
    let error = reported
        .apply(&p(json!({"k99": big})), &Limits::IOT_HUB, at(T1))
        .unwrap_err();
    assert_eq!(
        error,
        TwinError::SectionTooLarge {
            section: SectionKind::Reported,
            size: 9 * 4003,
            limit: 32768
        }
    );
    assert_eq!(error.class(), crate::ErrorClass::QuotaExceeded);
    // Replacing a value by a larger one counts the difference only.
    reported
        .apply(
            &p(json!({"k00": "y".repeat(4096)})),
            &Limits::IOT_HUB,
            at(T1),
        )
        .unwrap();
    assert_eq!(reported.size(), 7 * 4003 + 3 + 4096);
    let mut tags = Section::new(SectionKind::Tags, at(T0));
    assert!(matches!(
        tags.apply(&p(fill(3)), &Limits::IOT_HUB, at(T0)),
        Err(TwinError::SectionTooLarge { limit: 8192, .. })
    ));
    tags.apply(&p(fill(2)), &Limits::IOT_HUB, at(T0)).unwrap();
}

#[test]
fn an_oversized_section_can_still_shrink() {
    let mut section = Section::new(SectionKind::Desired, at(T0));
    section
        .apply(
            &p(json!({"a": "x".repeat(100), "b": "y".repeat(100)})),
            &Limits::IOT_HUB,
            at(T0),
        )
        .unwrap();
    let tight = Limits::IOT_HUB.with_max_section_bytes(SectionKind::Desired, 50);
    assert!(section.apply(&p(json!({"c": 1})), &tight, at(T1)).is_err());
    section
        .apply(&p(json!({"a": null})), &tight, at(T1))
        .unwrap();
    assert_eq!(section.size(), 101);
}

#[test]
fn replace_installs_content_and_notifies_removed_keys() {
    let mut desired = applied(
        SectionKind::Desired,
        &[(json!({"a": 1, "b": {"c": 2}}), T0)],
    );
    let replaced = desired
        .replace(
            &p(json!({"b": {"d": 3, "e": null}, "f": true})),
            &Limits::IOT_HUB,
            at(T1),
        )
        .unwrap();
    assert_eq!(replaced.version, TwinVersion::new(3));
    assert_eq!(
        replaced.notification.into_value(),
        json!({"a": null, "b": {"c": null, "d": 3}, "f": true})
    );
    let stamp = json!({"$lastUpdated": T1, "$lastUpdatedVersion": 3});
    assert_eq!(
        desired.to_rest_value(),
        json!({"b": {"d": 3}, "f": true, "$metadata": {"$lastUpdated": T1, "$lastUpdatedVersion": 3, "b": {"$lastUpdated": T1, "$lastUpdatedVersion": 3, "d": stamp}, "f": stamp}, "$version": 3})
    );
    assert_eq!(desired.size(), members_size(desired.content()));
    let too_big = p(json!({"s": "x".repeat(5000)}));
    let before = desired.clone();
    assert!(desired.replace(&too_big, &Limits::IOT_HUB, at(T2)).is_err());
    assert_eq!(desired, before);
}

#[test]
fn clear_removes_everything() {
    let mut desired = applied(
        SectionKind::Desired,
        &[(json!({"a": 1, "b": {"c": 2}}), T0)],
    );
    let cleared = desired.clear(at(T1)).unwrap();
    assert_eq!(
        cleared.notification.into_value(),
        json!({"a": null, "b": null})
    );
    assert_eq!(
        desired.to_rest_value(),
        json!({"$metadata": {"$lastUpdated": T1, "$lastUpdatedVersion": 3}, "$version": 3})
    );
    assert_eq!(desired.size(), 0);
    let mut tags = Section::new(SectionKind::Tags, at(T0));
    tags.apply(&p(json!({"site": "north"})), &Limits::IOT_HUB, at(T0))
        .unwrap();
    assert_eq!(tags.clear(at(T1)).unwrap().version, None);
    assert!(tags.is_empty());
}

#[test]
fn parses_the_rest_form() {
    let desired = applied(
        SectionKind::Desired,
        &[(json!({"a": {"b": [1, 2]}, "c": "x"}), T1)],
    );
    let parsed = Section::from_rest(SectionKind::Desired, desired.to_rest_value()).unwrap();
    assert_eq!(parsed, desired);
    let mut extra = desired.to_rest_value();
    extra["$etag"] = json!("ignored");
    assert_eq!(
        Section::from_rest(SectionKind::Desired, extra).unwrap(),
        desired
    );
    let tags =
        Section::from_rest(SectionKind::Tags, json!({"site": "north", "$version": 3})).unwrap();
    assert_eq!(
        tags.content(),
        json!({"site": "north"}).as_object().unwrap()
    );
    assert_eq!(tags.size(), 9);
}

#[test]
fn rest_form_errors_name_the_problem() {
    let kind = SectionKind::Reported;
    assert_eq!(
        Section::from_rest(kind, json!({"$metadata": {"$lastUpdated": T0}})),
        Err(TwinError::MissingMember {
            path: "[\"$version\"]".into()
        })
    );
    assert_eq!(
        Section::from_rest(
            kind,
            json!({"$version": 0, "$metadata": {"$lastUpdated": T0}})
        ),
        Err(TwinError::InvalidVersion {
            path: "[\"$version\"]".into()
        })
    );
    assert_eq!(
        Section::from_rest(kind, json!({"$version": 1})),
        Err(TwinError::MissingMember {
            path: "[\"$metadata\"]".into()
        })
    );
    assert!(matches!(
        Section::from_rest(kind, json!({"a": 1, "$version": 1, "$metadata": {"$lastUpdated": T0}})),
        Err(TwinError::InvalidMetadata { path, .. }) if path == "[\"$metadata\"].a"
    ));
    assert!(matches!(
        Section::from_rest(kind, json!({"a": null, "$version": 1, "$metadata": {"$lastUpdated": T0}})),
        Err(TwinError::WrongType { path, .. }) if path == "a"
    ));
    assert!(matches!(
        Section::from_rest(kind, json!([])),
        Err(TwinError::WrongType { .. })
    ));
    assert!(matches!(
        Section::from_rest(SectionKind::Tags, json!({"a b": 1})),
        Err(TwinError::InvalidKey { .. })
    ));
}

#[test]
fn tags_are_not_versioned() {
    let mut tags = Section::new(SectionKind::Tags, at(T0));
    assert_eq!(
        tags.apply(&p(json!({"a": 1})), &Limits::IOT_HUB, at(T1)),
        Ok(None)
    );
    assert_eq!(tags.to_rest_value(), json!({"a": 1}));
    assert_eq!(tags.to_get_value(), json!({"a": 1}));
}

fn kind() -> impl Strategy<Value = SectionKind> {
    prop_oneof![
        Just(SectionKind::Tags),
        Just(SectionKind::Desired),
        Just(SectionKind::Reported)
    ]
}

/// Every content node has a metadata node and every metadata child is a content member.
fn mirrors(content: &Map<String, Value>, meta: &Metadata) -> bool {
    content.len() == meta.children().count()
        && content
            .iter()
            .all(|(key, value)| match (value, meta.get(key)) {
                (Value::Object(inner), Some(node)) => mirrors(inner, node),
                (_, Some(node)) => node.children().next().is_none(),
                (_, None) => false,
            })
}

proptest! {
    #[test]
    fn apply_matches_the_reference_merge(kind in kind(), patches in prop::collection::vec((patch(), timestamp()), 1..5)) {
        let mut section = Section::new(kind, at(T0));
        let mut model = Map::new();
        for (patch, now) in &patches {
            section.apply(patch, &Limits::UNLIMITED, *now).unwrap();
            model = reference_apply(&model, patch);
            prop_assert_eq!(section.content(), &model);
            prop_assert_eq!(section.size(), members_size(&model));
            if let Some(meta) = section.metadata() {
                prop_assert!(mirrors(&model, meta));
                prop_assert_eq!(meta.last_updated(), *now);
            }
        }
    }

    #[test]
    fn versions_strictly_increase(kind in prop_oneof![Just(SectionKind::Desired), Just(SectionKind::Reported)],
                                  patches in prop::collection::vec(patch(), 1..6), tight in any::<bool>()) {
        let limits = if tight { Limits::IOT_HUB.with_max_depth(2).with_max_section_bytes(kind, 40) } else { Limits::IOT_HUB };
        let mut section = Section::new(kind, at(T0));
        for patch in &patches {
            let before = section.version().unwrap();
            match section.apply(patch, &limits, at(T1)) {
                Ok(after) => {
                    prop_assert_eq!(after, before.next());
                    prop_assert_eq!(section.version(), after);
                }
                Err(_) => prop_assert_eq!(section.version(), Some(before)),
            }
        }
    }

    #[test]
    fn applying_twice_leaves_the_content_as_once(kind in kind(), start in patch(), patch in patch()) {
        let mut section = Section::new(kind, at(T0));
        section.apply(&start, &Limits::UNLIMITED, at(T0)).unwrap();
        section.apply(&patch, &Limits::UNLIMITED, at(T1)).unwrap();
        let once = section.content().clone();
        section.apply(&patch, &Limits::UNLIMITED, at(T2)).unwrap();
        prop_assert_eq!(section.content(), &once);
    }

    #[test]
    fn rejected_patches_leave_the_section_identical(kind in kind(), start in document(), patch in patch(),
                                                   depth in 1usize..4, bytes in 0usize..80, string in 0usize..5) {
        let mut section = Section::new(kind, at(T0));
        section.replace(&Patch::from_map(start).unwrap(), &Limits::UNLIMITED, at(T0)).unwrap();
        let limits = Limits::IOT_HUB.with_max_depth(depth).with_max_section_bytes(kind, bytes).with_max_string_bytes(string);
        let before = serde_json::to_string(&section).unwrap();
        let snapshot = section.clone();
        if section.apply(&patch, &limits, at(T1)).is_err() {
            prop_assert_eq!(serde_json::to_string(&section).unwrap(), before);
            prop_assert_eq!(&section, &snapshot);
        } else {
            // An accepted write respects every limit, or shrank an oversized section.
            prop_assert!(section.size() <= bytes.max(snapshot.size()));
        }
    }

    #[test]
    fn planned_size_matches_the_result(kind in kind(), start in document(), patch in patch()) {
        let mut section = Section::new(kind, at(T0));
        section.replace(&Patch::from_map(start).unwrap(), &Limits::UNLIMITED, at(T0)).unwrap();
        prop_assert_eq!(section.size(), members_size(section.content()));
        section.apply(&patch, &Limits::UNLIMITED, at(T1)).unwrap();
        prop_assert_eq!(section.size(), members_size(section.content()));
    }

    #[test]
    fn measured_size_matches_the_merge(kind in kind(), start in document(), patch in patch()) {
        let mut section = Section::new(kind, at(T0));
        section.replace(&Patch::from_map(start).unwrap(), &Limits::UNLIMITED, at(T0)).unwrap();
        let measured = apply::size_after_merge(section.content(), section.size(), &patch);
        section.apply(&patch, &Limits::UNLIMITED, at(T1)).unwrap();
        prop_assert_eq!(measured, section.size());
        prop_assert_eq!(measured, members_size(section.content()));
    }

    #[test]
    fn replace_notification_converges_a_merging_copy(kind in kind(), start in document(), next in patch()) {
        let mut section = Section::new(kind, at(T0));
        section.replace(&Patch::from_map(start).unwrap(), &Limits::UNLIMITED, at(T0)).unwrap();
        let mut copy = section.content().clone();
        let replaced = section.replace(&next, &Limits::UNLIMITED, at(T1)).unwrap();
        crate::merge(&mut copy, &replaced.notification);
        prop_assert_eq!(&copy, section.content());
        if let Some(meta) = section.metadata() {
            prop_assert!(mirrors(section.content(), meta));
        }
    }

    #[test]
    fn rest_form_round_trips(kind in kind(), patches in prop::collection::vec((patch(), timestamp()), 0..4)) {
        let mut section = Section::new(kind, at(T0));
        for (patch, now) in &patches {
            section.apply(patch, &Limits::UNLIMITED, *now).unwrap();
        }
        let text = serde_json::to_string(&section).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&value, &section.to_rest_value());
        prop_assert_eq!(Section::from_rest(kind, value).unwrap(), section);
    }
}
