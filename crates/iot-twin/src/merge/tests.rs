use super::*;
use crate::testing::{document, patch, reference_apply};
use proptest::prelude::*;
use serde_json::json;

fn p(value: Value) -> Patch {
    Patch::from_value(value).unwrap()
}

fn doc(value: &Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn merged(target: Value, patch: Value) -> Value {
    let Value::Object(mut target) = target else {
        panic!("target is not an object")
    };
    merge(&mut target, &p(patch));
    Value::Object(target)
}

#[test]
fn follows_rfc_7386() {
    assert_eq!(
        merged(json!({"a": "b"}), json!({"a": "c"})),
        json!({"a": "c"})
    );
    assert_eq!(
        merged(json!({"a": "b"}), json!({"b": "c"})),
        json!({"a": "b", "b": "c"})
    );
    assert_eq!(merged(json!({"a": "b"}), json!({"a": null})), json!({}));
    assert_eq!(
        merged(json!({"a": "b", "b": "c"}), json!({"a": null})),
        json!({"b": "c"})
    );
    assert_eq!(
        merged(json!({"a": ["b"]}), json!({"a": "c"})),
        json!({"a": "c"})
    );
    assert_eq!(
        merged(json!({"a": "c"}), json!({"a": ["b"]})),
        json!({"a": ["b"]})
    );
    assert_eq!(
        merged(
            json!({"a": {"b": "c"}}),
            json!({"a": {"b": "d", "c": null}})
        ),
        json!({"a": {"b": "d"}})
    );
    assert_eq!(
        merged(json!({"a": [{"b": "c"}]}), json!({"a": [1]})),
        json!({"a": [1]})
    );
    assert_eq!(
        merged(json!({"e": null}), json!({"a": 1})),
        json!({"e": null, "a": 1})
    );
    assert_eq!(
        merged(json!({"a": "foo"}), json!({"a": {"bb": {"ccc": null}}})),
        json!({"a": {"bb": {}}})
    );
    assert_eq!(merged(json!({}), json!({})), json!({}));
}

#[test]
fn null_edge_cases_seen_on_iot_hub() {
    // Patching a missing key with null creates nothing.
    assert_eq!(
        merged(json!({"x": 1}), json!({"missing": null})),
        json!({"x": 1})
    );
    // `{a: {b: null}}` on a document without `a` creates an empty `a`.
    assert_eq!(
        merged(json!({}), json!({"a": {"b": null}})),
        json!({"a": {}})
    );
}

#[test]
fn compose_handles_nulls() {
    // Set, then delete: the delete wins.
    assert_eq!(
        compose(&p(json!({"a": {"b": 1}})), &p(json!({"a": null}))),
        Some(p(json!({"a": null})))
    );
    // Nested objects compose member by member, nulls included.
    assert_eq!(
        compose(
            &p(json!({"a": {"b": null, "c": 1}})),
            &p(json!({"a": {"c": null, "d": 2}}))
        ),
        Some(p(json!({"a": {"b": null, "c": null, "d": 2}})))
    );
    // A scalar after an object replaces it.
    assert_eq!(
        compose(&p(json!({"a": {"b": 1}})), &p(json!({"a": 5}))),
        Some(p(json!({"a": 5})))
    );
    assert_eq!(
        compose(&p(json!({"a": 1})), &p(json!({}))),
        Some(p(json!({"a": 1})))
    );
}

#[test]
fn compose_refuses_what_one_patch_cannot_say() {
    for (first, second) in [
        (json!({"a": null}), json!({"a": {"c": 1}})),
        (json!({"a": null}), json!({"a": {}})),
        (json!({"a": 5}), json!({"a": {"c": 1}})),
        (json!({"a": [1]}), json!({"a": {"c": 1}})),
        (json!({"x": {"a": null}}), json!({"x": {"a": {"c": 1}}})),
    ] {
        assert_eq!(
            compose(&p(first.clone()), &p(second.clone())),
            None,
            "{first} then {second}"
        );
    }
    // Why: applied one after the other, the patches re-create `a` from scratch, dropping what it
    // held; `{"a": {"c": 1}}` alone would keep `d`.
    let mut sequential = doc(&json!({"a": {"d": 4}}));
    merge(&mut sequential, &p(json!({"a": null})));
    merge(&mut sequential, &p(json!({"a": {"c": 1}})));
    assert_eq!(Value::Object(sequential), json!({"a": {"c": 1}}));
    assert_eq!(
        merged(json!({"a": {"d": 4}}), json!({"a": {"c": 1}})),
        json!({"a": {"c": 1, "d": 4}})
    );
}

#[test]
fn diff_produces_nulls_and_nested_changes() {
    let from = doc(
        &json!({"same": 1, "gone": 2, "obj": {"x": 1, "y": 2}, "to_obj": 3, "to_leaf": {"z": 1}}),
    );
    let to = doc(
        &json!({"same": 1, "obj": {"x": 1, "y": 3}, "to_obj": {}, "to_leaf": [1], "new": {"n": true}}),
    );
    let patch = diff(&from, &to).unwrap();
    assert_eq!(
        patch.clone().into_value(),
        json!({"gone": null, "obj": {"y": 3}, "to_obj": {}, "to_leaf": [1], "new": {"n": true}})
    );
    let mut applied = from;
    merge(&mut applied, &patch);
    assert_eq!(applied, to);
    assert!(diff(&to, &to).unwrap().is_empty());
}

#[test]
fn diff_rejects_invalid_keys() {
    let from = doc(&json!({"$bad": 1}));
    assert!(matches!(
        diff(&from, &Map::new()),
        Err(TwinError::InvalidKey { .. })
    ));
}

/// A key the generators never produce.
const EXTRA: &str = "extra_key";

fn skeleton(patch: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(EXTRA.into(), json!(0));
    for (key, value) in patch {
        if let Value::Object(inner) = value {
            out.insert(key.clone(), Value::Object(skeleton(inner)));
        }
    }
    out
}

fn forgets_extra_key(result: &Map<String, Value>, patch: &Map<String, Value>) -> bool {
    !result.contains_key(EXTRA)
        || patch
            .iter()
            .any(|(key, value)| match (value, result.get(key)) {
                (Value::Object(inner), Some(Value::Object(nested))) => {
                    forgets_extra_key(nested, inner)
                }
                _ => false,
            })
}

proptest! {
    #[test]
    fn merge_matches_the_reference(x in document(), patch in patch()) {
        let mut ours = x.clone();
        merge(&mut ours, &patch);
        prop_assert_eq!(ours, reference_apply(&x, &patch));
    }

    #[test]
    fn merge_is_idempotent(x in document(), patch in patch()) {
        let mut once = x;
        merge(&mut once, &patch);
        let mut twice = once.clone();
        merge(&mut twice, &patch);
        prop_assert_eq!(twice, once);
    }

    #[test]
    fn compose_law(x in document(), first in patch(), second in patch()) {
        let mut sequential = x.clone();
        merge(&mut sequential, &first);
        merge(&mut sequential, &second);
        if let Some(both) = compose(&first, &second) {
            let mut composed = x;
            merge(&mut composed, &both);
            prop_assert_eq!(composed, sequential);
        }
    }

    #[test]
    fn compose_law_on_overlapping_documents(first in patch(), second in patch()) {
        // Documents shaped like the patches make every key overlap.
        let x = reference_apply(&Map::new(), &first);
        let y = reference_apply(&Map::new(), &second);
        for base in [x, y] {
            let mut sequential = base.clone();
            merge(&mut sequential, &first);
            merge(&mut sequential, &second);
            if let Some(both) = compose(&first, &second) {
                let mut composed = base;
                merge(&mut composed, &both);
                prop_assert_eq!(composed, sequential);
            }
        }
    }

    #[test]
    fn compose_refuses_exactly_when_the_sequence_forgets(first in patch(), second in patch()) {
        // Give the document an object with an extra key at every place `second` writes an
        // object. A single patch mentions no such key, so it keeps all of them; applied in
        // sequence, the two patches drop one exactly when they cannot be composed.
        let x = skeleton(second.as_map());
        let mut sequential = x;
        merge(&mut sequential, &first);
        merge(&mut sequential, &second);
        let forgets = forgets_extra_key(&sequential, second.as_map());
        prop_assert_eq!(compose(&first, &second).is_none(), forgets);
    }

    #[test]
    fn compose_is_associative_where_defined(a in patch(), b in patch(), c in patch()) {
        let left = compose(&a, &b).and_then(|ab| compose(&ab, &c));
        let right = compose(&b, &c).and_then(|bc| compose(&a, &bc));
        if let (Some(left), Some(right)) = (left, right) {
            prop_assert_eq!(left, right);
        }
    }

    #[test]
    fn compose_with_empty_is_identity(patch in patch()) {
        prop_assert_eq!(compose(&patch, &Patch::new()), Some(patch.clone()));
        prop_assert_eq!(compose(&Patch::new(), &patch), Some(patch));
    }

    #[test]
    fn diff_law(from in document(), to in document()) {
        let patch = diff(&from, &to).unwrap();
        let mut applied = from;
        merge(&mut applied, &patch);
        prop_assert_eq!(applied, to);
    }

    #[test]
    fn diff_of_equal_documents_is_empty(x in document()) {
        prop_assert!(diff(&x, &x).unwrap().is_empty());
    }
}
