//! The twin rules as functions: key characters, `null` placement, sizes and limits.
//!
//! Two layers: [`check_document`] holds the protocol's fixed rules (checked once when a patch or
//! a section is parsed); [`check_member_value`] and [`check_key_len`] hold the configurable
//! [`Limits`] (checked when a write is applied).

use serde_json::{Map, Value};

use crate::path::Path;
use crate::{KeyRule, Limits, TwinError};

/// Nesting deeper than this is rejected before any other check, whatever the limits say.
///
/// It matches the depth serde_json's parser accepts, so every parsed document passes, and it
/// bounds the recursion of every walk in this crate.
pub(crate) const MAX_NESTING: usize = 128;

/// Whether members of objects may be `null` (they may in a patch, where `null` deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nulls {
    /// `null` members mean "delete".
    Delete,
    /// `null` members are an error (stored content never holds them).
    Reject,
}

/// The character rule `key` breaks, if any.
pub(crate) fn key_rule(key: &str) -> Option<KeyRule> {
    key.chars().find_map(|c| match c {
        '.' => Some(KeyRule::Dot),
        '$' => Some(KeyRule::Dollar),
        ' ' => Some(KeyRule::Space),
        c if c.is_control() => Some(KeyRule::ControlCharacter),
        _ => None,
    })
}

/// Checks the fixed rules on an object: valid key characters everywhere, no `null` in arrays or
/// in objects inside arrays, `null` members only where `nulls` allows, nesting at most
/// [`MAX_NESTING`].
pub(crate) fn check_document(
    map: &Map<String, Value>,
    path: &Path<'_>,
    depth: usize,
    nulls: Nulls,
) -> Result<(), TwinError> {
    if depth > MAX_NESTING {
        return Err(too_deep(path, depth, MAX_NESTING));
    }
    for (key, value) in map {
        let member = path.key(key);
        if let Some(rule) = key_rule(key) {
            return Err(TwinError::InvalidKey {
                path: member.render(),
                rule,
            });
        }
        match value {
            Value::Null if nulls == Nulls::Delete => {}
            Value::Null => {
                return Err(TwinError::WrongType {
                    path: member.render(),
                    expected: "a value other than null",
                    found: "null",
                });
            }
            Value::Object(inner) => check_document(inner, &member, depth + 1, nulls)?,
            Value::Array(items) => check_array(items, &member, depth + 1)?,
            _ => {}
        }
    }
    Ok(())
}

fn check_array(items: &[Value], path: &Path<'_>, depth: usize) -> Result<(), TwinError> {
    if depth > MAX_NESTING {
        return Err(too_deep(path, depth, MAX_NESTING));
    }
    for (index, item) in items.iter().enumerate() {
        let element = path.index(index);
        match item {
            Value::Null => {
                return Err(TwinError::NullInArray {
                    path: element.render(),
                });
            }
            Value::Object(inner) => {
                check_document(inner, &element, depth + 1, Nulls::Reject).map_err(|e| match e {
                    TwinError::WrongType {
                        path,
                        found: "null",
                        ..
                    } => TwinError::NullInArray { path },
                    other => other,
                })?;
            }
            Value::Array(inner) => check_array(inner, &element, depth + 1)?,
            _ => {}
        }
    }
    Ok(())
}

fn too_deep(path: &Path<'_>, depth: usize, limit: usize) -> TwinError {
    TwinError::TooDeep {
        path: path.render(),
        depth,
        limit,
    }
}

/// The documented size of a string: its UTF-8 bytes, minus control characters.
#[inline]
pub(crate) fn string_size(text: &str) -> usize {
    let bytes = text.as_bytes();
    // C0 controls and DEL are single bytes; counting them this way vectorizes.
    let c0 = bytes
        .iter()
        .fold(0, |n, &b| n + usize::from((b < 0x20) | (b == 0x7f)));
    // C1 controls (U+0080..U+009F) are the two bytes C2 80..C2 9F.
    let c1 = if text.is_ascii() {
        0
    } else {
        bytes
            .windows(2)
            .filter(|pair| matches!(pair, [0xc2, 0x80..=0x9f]))
            .count()
    };
    bytes.len().saturating_sub(c0).saturating_sub(2 * c1)
}

/// The documented size of a value.
#[inline]
pub(crate) fn value_size(value: &Value) -> usize {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 4,
        Value::Number(_) => 8,
        Value::String(text) => string_size(text),
        Value::Array(items) => items_size(items),
        Value::Object(map) => members_size(map),
    }
}

fn items_size(items: &[Value]) -> usize {
    items
        .iter()
        .fold(0, |sum, item| sum.saturating_add(value_size(item)))
}

/// The documented size of an object's members: keys plus values.
pub(crate) fn members_size(map: &Map<String, Value>) -> usize {
    map.iter().fold(0, |sum, (key, value)| {
        sum.saturating_add(string_size(key))
            .saturating_add(value_size(value))
    })
}

/// Checks a key's length against the limits.
pub(crate) fn check_key_len(key: &str, path: &Path<'_>, limits: &Limits) -> Result<(), TwinError> {
    if key.len() > limits.max_key_bytes() {
        return Err(TwinError::KeyTooLong {
            path: path.render(),
            length: key.len(),
            limit: limits.max_key_bytes(),
        });
    }
    Ok(())
}

/// Checks the value of a member at `depth` (a member of the section is at depth 1) against the
/// limits and returns an upper bound of its size once merged (see [`size_bound`]; `null`s
/// create nothing and count 0).
pub(crate) fn check_member_value(
    value: &Value,
    depth: usize,
    path: &Path<'_>,
    limits: &Limits,
) -> Result<usize, TwinError> {
    match value {
        Value::Null => Ok(0),
        Value::Object(map) => check_object(map, depth, path, limits),
        leaf => {
            check_leaf(leaf, depth, path, limits)?;
            let bound = size_bound(leaf);
            if bound > limits.max_property_bytes() {
                let size = value_size(leaf);
                if size > limits.max_property_bytes() {
                    return Err(TwinError::PropertyTooLarge {
                        path: path.render(),
                        size,
                        limit: limits.max_property_bytes(),
                    });
                }
            }
            Ok(bound)
        }
    }
}

/// Checks an object at `depth` and everything in it against the limits and returns an upper
/// bound of its size once merged into nothing (members that are `null` count 0, keys
/// included).
pub(crate) fn check_object(
    map: &Map<String, Value>,
    depth: usize,
    path: &Path<'_>,
    limits: &Limits,
) -> Result<usize, TwinError> {
    if depth > limits.max_depth() {
        return Err(too_deep(path, depth, limits.max_depth()));
    }
    let mut bound: usize = 0;
    for (key, value) in map {
        let member = path.key(key);
        check_key_len(key, &member, limits)?;
        let value_bound = check_member_value(value, depth + 1, &member, limits)?;
        if !value.is_null() {
            bound = bound.saturating_add(key.len()).saturating_add(value_bound);
        }
    }
    Ok(bound)
}

/// An upper bound of [`value_size`] that takes constant time for strings: their length in
/// bytes, control characters included.
fn size_bound(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len(),
        Value::Array(items) => items
            .iter()
            .fold(0, |sum, item| sum.saturating_add(size_bound(item))),
        Value::Object(map) => map.iter().fold(0, |sum, (key, value)| {
            sum.saturating_add(key.len())
                .saturating_add(size_bound(value))
        }),
        other => value_size(other),
    }
}

/// Checks a string, number, boolean or array (an array's elements included).
fn check_leaf(
    value: &Value,
    depth: usize,
    path: &Path<'_>,
    limits: &Limits,
) -> Result<(), TwinError> {
    match value {
        Value::String(text) if text.len() > limits.max_string_bytes() => {
            Err(TwinError::StringTooLong {
                path: path.render(),
                length: text.len(),
                limit: limits.max_string_bytes(),
            })
        }
        Value::Number(number) => check_integer(number, path, limits),
        Value::Array(items) => {
            if depth > limits.max_depth() {
                return Err(too_deep(path, depth, limits.max_depth()));
            }
            for (index, item) in items.iter().enumerate() {
                let element = path.index(index);
                match item {
                    Value::Object(map) => {
                        check_object(map, depth + 1, &element, limits)?;
                    }
                    other => check_leaf(other, depth + 1, &element, limits)?,
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_integer(
    number: &serde_json::Number,
    path: &Path<'_>,
    limits: &Limits,
) -> Result<(), TwinError> {
    let range = limits.integer_range();
    let in_range = if let Some(n) = number.as_i64() {
        range.contains(&n)
    } else if number.is_u64() {
        // Larger than i64::MAX, so above any range of i64.
        false
    } else {
        return Ok(());
    };
    if in_range {
        Ok(())
    } else {
        Err(TwinError::IntegerOutOfRange {
            path: path.render(),
            min: *range.start(),
            max: *range.end(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn check(value: Value, nulls: Nulls) -> Result<(), TwinError> {
        check_document(&map(value), &Path::Root, 0, nulls)
    }

    fn limit(value: Value, limits: &Limits) -> Result<(), TwinError> {
        check_object(&map(value), 0, &Path::Root, limits).map(drop)
    }

    #[test]
    fn key_characters() {
        assert_eq!(key_rule("fine_Key-1#é€"), None);
        assert_eq!(key_rule(""), None);
        assert_eq!(key_rule("a.b"), Some(KeyRule::Dot));
        assert_eq!(key_rule("$version"), Some(KeyRule::Dollar));
        assert_eq!(key_rule("a b"), Some(KeyRule::Space));
        assert_eq!(key_rule("a\tb"), Some(KeyRule::ControlCharacter));
        assert_eq!(key_rule("a\u{7f}"), Some(KeyRule::ControlCharacter));
        assert_eq!(key_rule("a\u{85}"), Some(KeyRule::ControlCharacter));
        assert_eq!(
            key_rule("Aa"),
            None,
            "keys are case-sensitive, not restricted"
        );
    }

    #[test]
    fn document_rules_name_the_path() {
        assert_eq!(
            check(json!({"a": {"b": [1, {"c": 2}]}}), Nulls::Reject),
            Ok(())
        );
        assert_eq!(
            check(json!({"a": {"b.c": 1}}), Nulls::Delete),
            Err(TwinError::InvalidKey {
                path: "a[\"b.c\"]".into(),
                rule: KeyRule::Dot
            })
        );
        assert_eq!(
            check(json!({"a": [[1, {"$x": 1}]]}), Nulls::Delete),
            Err(TwinError::InvalidKey {
                path: "a[0][1][\"$x\"]".into(),
                rule: KeyRule::Dollar
            })
        );
        assert_eq!(check(json!({"a": {"b": null}}), Nulls::Delete), Ok(()));
        assert!(matches!(
            check(json!({"a": {"b": null}}), Nulls::Reject),
            Err(TwinError::WrongType { path, .. }) if path == "a.b"
        ));
        assert_eq!(
            check(json!({"a": [1, null]}), Nulls::Delete),
            Err(TwinError::NullInArray {
                path: "a[1]".into()
            })
        );
        assert_eq!(
            check(json!({"a": [{"b": null}]}), Nulls::Delete),
            Err(TwinError::NullInArray {
                path: "a[0].b".into()
            })
        );
    }

    #[test]
    fn nesting_is_capped_whatever_the_limits() {
        let mut value = json!(1);
        for _ in 0..=MAX_NESTING {
            value = json!({ "k": value });
        }
        assert_eq!(check(value.clone(), Nulls::Delete), Ok(()));
        value = json!({ "k": value });
        assert!(matches!(
            check(value, Nulls::Delete),
            Err(TwinError::TooDeep {
                limit: MAX_NESTING,
                ..
            })
        ));
    }

    #[test]
    fn sizes_follow_the_documented_rules() {
        assert_eq!(string_size("abc"), 3);
        assert_eq!(string_size("é"), 2);
        assert_eq!(string_size("a\tb\u{7f}\u{85}c"), 3);
        assert_eq!(value_size(&json!(true)), 4);
        assert_eq!(value_size(&json!(1)), 8);
        assert_eq!(value_size(&json!(1.5)), 8);
        assert_eq!(value_size(&json!([1, "ab"])), 10);
        assert_eq!(value_size(&json!({"ab": {"c": false}})), 2 + 1 + 4);
        assert_eq!(members_size(&map(json!({"device_count": 100}))), 12 + 8);
    }

    #[test]
    fn depth_counts_objects_and_arrays_below_the_section() {
        // The example IoT Hub documents as valid: `one` to `ten` nested, `ten` holding a leaf.
        let mut below_one = json!({"property": "value"});
        for name in [
            "ten", "nine", "eight", "seven", "six", "five", "four", "three", "two",
        ] {
            below_one = json!({ name: below_one });
        }
        let ok = json!({ "one": below_one });
        assert_eq!(limit(ok, &Limits::IOT_HUB), Ok(()));
        let too_deep = json!({ "one": { "extra": below_one } });
        assert!(matches!(
            limit(too_deep, &Limits::IOT_HUB),
            Err(TwinError::TooDeep {
                depth: 11,
                limit: 10,
                ..
            })
        ));
        let arrays = json!({"a": [[[[[[[[[[[1]]]]]]]]]]]});
        assert!(matches!(
            limit(arrays, &Limits::IOT_HUB),
            Err(TwinError::TooDeep { depth: 11, .. })
        ));
        assert_eq!(
            limit(json!({"a": [[[[[[[[[[1]]]]]]]]]]}), &Limits::IOT_HUB),
            Ok(())
        );
    }

    #[test]
    fn value_limits() {
        let limits = Limits::IOT_HUB;
        let max = 4_503_599_627_370_495_i64;
        assert_eq!(
            limit(json!({"i": max, "j": -max - 1, "f": 1e300}), &limits),
            Ok(())
        );
        for bad in [json!(max + 1), json!(-max - 2), json!(u64::MAX)] {
            assert!(matches!(
                limit(json!({"a": {"i": bad}}), &limits),
                Err(TwinError::IntegerOutOfRange { path, .. }) if path == "a.i"
            ));
        }
        assert_eq!(limit(json!({"s": "x".repeat(4096)}), &limits), Ok(()));
        assert!(matches!(
            limit(json!({"s": "x".repeat(4097)}), &limits),
            Err(TwinError::StringTooLong { length: 4097, .. })
        ));
        assert!(matches!(
            limit(json!({"s": ["x".repeat(4097)]}), &limits),
            Err(TwinError::StringTooLong { path, .. }) if path == "s[0]"
        ));
        assert!(matches!(
            limit(json!({"big": vec![1; 513]}), &limits),
            Err(TwinError::PropertyTooLarge {
                size: 4104,
                limit: 4096,
                ..
            })
        ));
        assert_eq!(limit(json!({"ok": vec![1; 512]}), &limits), Ok(()));
        assert!(matches!(
            limit(json!({ "k".repeat(1025): 1 }), &limits),
            Err(TwinError::KeyTooLong { length: 1025, .. })
        ));
        assert!(matches!(
            limit(json!({"a": [{ "k".repeat(1025): 1 }]}), &limits),
            Err(TwinError::KeyTooLong { .. })
        ));
    }

    #[test]
    fn checked_bound_ignores_nulls_and_covers_the_size() {
        let patch = map(json!({"ab": {"c": null, "d": 1}, "gone": null}));
        assert_eq!(
            check_object(&patch, 0, &Path::Root, &Limits::IOT_HUB),
            Ok(2 + 1 + 8)
        );
        let controls = map(json!({"s": "a\tb\u{85}", "t": ["x\u{1}"]}));
        let bound = check_object(&controls, 0, &Path::Root, &Limits::IOT_HUB).unwrap();
        assert_eq!(bound, 1 + 5 + 1 + 2);
        assert_eq!(members_size(&controls), 1 + 2 + 1 + 1);
    }

    #[test]
    fn property_size_is_exact_even_when_the_bound_is_over() {
        // 4097 bytes, one of them a control character: size 4096, within the limit.
        let text = format!("{}\t", "x".repeat(4096));
        let limits = Limits::IOT_HUB.with_max_string_bytes(5000);
        assert_eq!(limit(json!({ "s": text }), &limits), Ok(()));
        let over = format!("{}\t", "x".repeat(4097));
        assert!(matches!(
            limit(json!({ "s": over }), &limits),
            Err(TwinError::PropertyTooLarge { size: 4097, .. })
        ));
    }

    #[test]
    fn unlimited_accepts_large_documents() {
        let big = json!({"s": "x".repeat(100_000), "i": i64::MIN, "u": u64::MAX});
        let result = limit(big, &Limits::UNLIMITED);
        // u64::MAX does not fit i64, the widest range a limit can state.
        assert!(matches!(result, Err(TwinError::IntegerOutOfRange { path, .. }) if path == "u"));
        assert_eq!(
            limit(
                json!({"s": "x".repeat(100_000), "i": i64::MIN}),
                &Limits::UNLIMITED
            ),
            Ok(())
        );
    }
}
