//! The merge-patch algebra: [`merge`], [`compose`] and [`diff`].
//!
//! All three work on plain JSON maps and never look at limits, versions or metadata; the
//! [`crate::Section`] operations build on them.

use serde_json::{Map, Value};

use crate::{Patch, TwinError};

/// Applies `patch` to `target` by the rules of RFC 7386: `null` members delete, object members
/// merge recursively into objects, anything else (including an object landing on a non-object)
/// replaces. `null`s nested in a new object create nothing, so `{"a": {"b": null}}` on a target
/// without `a` creates `"a": {}`.
///
/// This is the bare merge: no limits, no `$version`, no `$metadata`. It cannot fail.
///
/// ```
/// use iot_twin::{merge, Patch};
/// use serde_json::json;
///
/// let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}}).as_object().unwrap().clone();
/// let patch = Patch::from_value(json!({"a": null, "b": {"c": 20}, "e": {"f": null}})).unwrap();
/// merge(&mut doc, &patch);
/// assert_eq!(serde_json::Value::Object(doc), json!({"b": {"c": 20, "d": 3}, "e": {}}));
/// ```
pub fn merge(target: &mut Map<String, Value>, patch: &Patch) {
    merge_maps(target, patch.as_map());
}

pub(crate) fn merge_maps(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(inner) => match target.get_mut(key) {
                Some(Value::Object(existing)) => merge_maps(existing, inner),
                Some(slot) => *slot = Value::Object(pruned(inner)),
                None => {
                    target.insert(key.clone(), Value::Object(pruned(inner)));
                }
            },
            leaf => match target.get_mut(key) {
                Some(slot) => assign(slot, leaf),
                None => {
                    target.insert(key.clone(), leaf.clone());
                }
            },
        }
    }
}

/// Sets `slot` to a copy of `value`, reusing the string buffer when both are strings.
pub(crate) fn assign(slot: &mut Value, value: &Value) {
    match (slot, value) {
        (Value::String(old), Value::String(new)) if old.capacity() >= new.len() => {
            old.clone_from(new);
        }
        (slot, value) => *slot = value.clone(),
    }
}

/// A copy of `map` without `null` members at any object level: what merging it into an empty
/// object yields.
pub(crate) fn pruned(map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        match value {
            Value::Null => {}
            Value::Object(inner) => {
                out.insert(key.clone(), Value::Object(pruned(inner)));
            }
            other => {
                out.insert(key.clone(), other.clone());
            }
        }
    }
    out
}

/// One patch with the effect of applying `first` and then `second`, to any document; `None`
/// when no single merge patch has that effect.
///
/// Composition fails exactly where `second` puts an object on a path where `first` put `null`
/// or a non-object. After `first`, that path holds nothing or a scalar, so `second` installs its
/// object as is, dropping whatever object the document held there before `first`. A merge
/// patch cannot express "replace this object by that one": an object in a patch always merges
/// into an object it lands on, and it would have to list with `null` every key the document
/// might hold. Callers that coalesce patches (queued reported properties, for instance) keep
/// the two patches apart in that case.
///
/// ```
/// use iot_twin::{compose, Patch};
/// use serde_json::json;
///
/// let p = |v| Patch::from_value(v).unwrap();
/// let both = compose(&p(json!({"a": {"b": 1}, "c": 1})), &p(json!({"a": null, "d": 2})));
/// assert_eq!(both, Some(p(json!({"a": null, "c": 1, "d": 2}))));
/// // `a` deleted, then re-created: not expressible as one merge patch.
/// assert_eq!(compose(&p(json!({"a": null})), &p(json!({"a": {"b": 1}}))), None);
/// ```
pub fn compose(first: &Patch, second: &Patch) -> Option<Patch> {
    let mut out = first.as_map().clone();
    compose_into(&mut out, second.as_map())?;
    Some(Patch::from_trusted(out))
}

fn compose_into(out: &mut Map<String, Value>, next: &Map<String, Value>) -> Option<()> {
    for (key, value) in next {
        match (out.get_mut(key), value) {
            (Some(Value::Object(earlier)), Value::Object(later)) => compose_into(earlier, later)?,
            (Some(_), Value::Object(_)) => return None,
            (Some(slot), later) => *slot = later.clone(),
            (None, later) => {
                out.insert(key.clone(), later.clone());
            }
        }
    }
    Some(())
}

/// The smallest patch that turns `from` into `to`: merging it into `from` yields `to`.
///
/// Members of `to` that are `null` cannot be produced by a merge patch (a `null` deletes); the
/// result deletes them instead. Twin content never holds `null` members. Fails when the patch
/// would not be valid, that is when a key of `from` or `to` breaks the key rules or `to` holds
/// `null` inside an array.
///
/// ```
/// use iot_twin::diff;
/// use serde_json::json;
///
/// let from = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 4});
/// let to = json!({"a": 1, "b": {"c": 2, "d": 30}, "f": 5});
/// let patch = diff(from.as_object().unwrap(), to.as_object().unwrap()).unwrap();
/// assert_eq!(patch.into_value(), json!({"b": {"d": 30}, "e": null, "f": 5}));
/// ```
pub fn diff(from: &Map<String, Value>, to: &Map<String, Value>) -> Result<Patch, TwinError> {
    Patch::from_map(diff_maps(from, to))
}

fn diff_maps(from: &Map<String, Value>, to: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for key in from.keys() {
        if !to.contains_key(key) {
            out.insert(key.clone(), Value::Null);
        }
    }
    for (key, new) in to {
        match (from.get(key), new) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                let inner = diff_maps(old, new);
                if !inner.is_empty() {
                    out.insert(key.clone(), Value::Object(inner));
                }
            }
            (Some(old), new) if old == new => {}
            (_, new) => {
                out.insert(key.clone(), new.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
