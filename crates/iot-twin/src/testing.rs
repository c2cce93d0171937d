//! Generators and a reference merge shared by the property tests.
//!
//! Keys come mostly from a four-letter pool so patches and documents overlap; values mix
//! scalars, arrays (of scalars and small objects) and nested objects, and patch values include
//! `null` at every level.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::{Patch, Timestamp};

/// A key: usually one of `a`..`d`, sometimes a short other word (non-ASCII included).
pub(crate) fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(String::from),
        1 => "[a-zé]{1,3}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        "[a-z]{0,4}".prop_map(Value::from),
        (-1e3f64..1e3).prop_map(|f| json!(f)),
    ]
}

fn array() -> impl Strategy<Value = Value> {
    let element = prop_oneof![
        3 => scalar(),
        1 => prop::collection::btree_map(key(), scalar(), 0..3).prop_map(object),
    ];
    prop::collection::vec(element, 0..3).prop_map(Value::Array)
}

fn object(members: std::collections::BTreeMap<String, Value>) -> Value {
    Value::Object(members.into_iter().collect())
}

/// A value of stored content: no `null` members anywhere.
pub(crate) fn document_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![3 => scalar(), 1 => array()];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop::collection::btree_map(key(), inner, 0..4).prop_map(object)
    })
}

/// Section content: an object without `null` members.
pub(crate) fn document() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(key(), document_value(), 0..5)
        .prop_map(|members| members.into_iter().collect())
}

/// A value of a patch member: may be `null` at any level.
fn patch_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![3 => scalar(), 1 => array(), 2 => Just(Value::Null)];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop::collection::btree_map(key(), inner, 0..4).prop_map(object)
    })
}

/// A valid patch with nested objects, nulls, arrays and overlapping keys.
pub(crate) fn patch() -> impl Strategy<Value = Patch> {
    prop::collection::btree_map(key(), patch_value(), 0..5)
        .prop_map(|members| Patch::from_map(members.into_iter().collect()).unwrap())
}

/// A timestamp within a few decades of 2020.
pub(crate) fn timestamp() -> impl Strategy<Value = Timestamp> {
    (1_500_000_000i64..1_900_000_000, 0u32..10_000_000).prop_map(|(secs, ticks)| {
        Timestamp::from_unix_nanos(i128::from(secs) * 1_000_000_000 + i128::from(ticks) * 100)
            .unwrap()
    })
}

/// RFC 7386's `MergePatch` pseudo-code, written as plainly as possible over owned values.
pub(crate) fn reference_merge(target: Value, patch: &Value) -> Value {
    let Value::Object(members) = patch else {
        return patch.clone();
    };
    let mut target = match target {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (name, value) in members {
        if value.is_null() {
            target.remove(name);
        } else {
            let current = target.remove(name).unwrap_or(Value::Null);
            target.insert(name.clone(), reference_merge(current, value));
        }
    }
    Value::Object(target)
}

/// [`reference_merge`] of a patch onto a map.
pub(crate) fn reference_apply(target: &Map<String, Value>, patch: &Patch) -> Map<String, Value> {
    match reference_merge(Value::Object(target.clone()), &patch.clone().into_value()) {
        Value::Object(map) => map,
        _ => unreachable!("merging an object patch yields an object"),
    }
}
