//! The two phases of a section write: checking it against the limits without touching the
//! section, then carrying it out (content and metadata in one walk).
//!
//! The check walks only the patch and the content it replaces or deletes, keeping the section's
//! size up to date by difference, so a small patch on a large section costs little.

use serde_json::{Map, Value};

use crate::merge::pruned;
use crate::metadata::Stamp;
use crate::path::Path;
use crate::rules::{check_key_len, check_member_value, check_object, string_size, value_size};
use crate::{Limits, Metadata, Patch, TwinError};

/// How much a patch adds to and removes from the section's size.
#[derive(Debug, Default)]
struct SizeChange {
    added: usize,
    removed: usize,
}

impl SizeChange {
    fn add(&mut self, size: usize) {
        self.added = self.added.saturating_add(size);
    }

    fn remove(&mut self, size: usize) {
        self.removed = self.removed.saturating_add(size);
    }
}

/// Checks `patch` against the limits as it would merge into `content` (of size `size`) and
/// returns the section's size afterwards.
pub(super) fn merged_size(
    content: &Map<String, Value>,
    size: usize,
    patch: &Patch,
    limits: &Limits,
) -> Result<usize, TwinError> {
    let mut change = SizeChange::default();
    check_merge(
        Some(content),
        patch.as_map(),
        0,
        &Path::Root,
        limits,
        &mut change,
    )?;
    Ok(size
        .saturating_add(change.added)
        .saturating_sub(change.removed))
}

/// Walks the patch object `patch` merging into `target` (`None`: a new object) at `depth`.
fn check_merge(
    target: Option<&Map<String, Value>>,
    patch: &Map<String, Value>,
    depth: usize,
    path: &Path<'_>,
    limits: &Limits,
    change: &mut SizeChange,
) -> Result<(), TwinError> {
    if depth > limits.max_depth() {
        return Err(TwinError::TooDeep {
            path: path.render(),
            depth,
            limit: limits.max_depth(),
        });
    }
    for (key, value) in patch {
        let member = path.key(key);
        check_key_len(key, &member, limits)?;
        let existing = target.and_then(|t| t.get(key));
        match value {
            Value::Null => {
                if let Some(old) = existing {
                    change.remove(string_size(key).saturating_add(value_size(old)));
                }
            }
            Value::Object(inner) => {
                let nested = match existing {
                    Some(Value::Object(old)) => Some(old),
                    Some(old) => {
                        change.remove(value_size(old));
                        None
                    }
                    None => {
                        change.add(string_size(key));
                        None
                    }
                };
                check_merge(nested, inner, depth + 1, &member, limits, change)?;
            }
            leaf => {
                change.add(check_member_value(leaf, depth + 1, &member, limits)?);
                match existing {
                    Some(old) => change.remove(value_size(old)),
                    None => change.add(string_size(key)),
                }
            }
        }
    }
    Ok(())
}

/// Checks a replacement content against the limits; returns it without `null`s, and its size.
pub(super) fn checked_content(
    content: &Patch,
    limits: &Limits,
) -> Result<(Map<String, Value>, usize), TwinError> {
    let size = check_object(content.as_map(), 0, &Path::Root, limits)?;
    Ok((pruned(content.as_map()), size))
}

/// Merges `patch` into `target` and stamps `meta`, the metadata of `target`: the object itself,
/// every member the patch writes and every object it merges into.
pub(super) fn merge_tracked(
    target: &mut Map<String, Value>,
    meta: &mut Metadata,
    patch: &Map<String, Value>,
    stamp: Stamp,
) {
    meta.touch(stamp);
    for (key, value) in patch {
        match value {
            Value::Null => {
                if target.remove(key).is_some() {
                    meta.remove_child(key);
                }
            }
            Value::Object(inner) => match target.get_mut(key) {
                Some(Value::Object(existing)) => match meta.child_mut(key) {
                    Some(child) => merge_tracked(existing, child, inner, stamp),
                    None => {
                        let mut child = Metadata::for_members(existing, stamp);
                        merge_tracked(existing, &mut child, inner, stamp);
                        meta.insert_child(key.clone(), child);
                    }
                },
                slot => {
                    let fresh = pruned(inner);
                    meta.set_child(key, Metadata::for_members(&fresh, stamp));
                    match slot {
                        Some(slot) => *slot = Value::Object(fresh),
                        None => {
                            target.insert(key.clone(), Value::Object(fresh));
                        }
                    }
                }
            },
            leaf => {
                match target.get_mut(key) {
                    Some(slot) => *slot = leaf.clone(),
                    None => {
                        target.insert(key.clone(), leaf.clone());
                    }
                }
                meta.set_child(key, Metadata::leaf(stamp));
            }
        }
    }
}

/// The patch that turns `old` into `new` for a merging reader: all of `new`, plus `null` for
/// every key of `old` that `new` lacks, at any depth where both hold an object.
pub(super) fn replacement_notice(old: &Map<String, Value>, new: &Map<String, Value>) -> Patch {
    Patch::from_trusted(notice_map(old, new))
}

fn notice_map(old: &Map<String, Value>, new: &Map<String, Value>) -> Map<String, Value> {
    let mut notice = Map::new();
    for (key, value) in new {
        let member = match (value, old.get(key)) {
            (Value::Object(new), Some(Value::Object(old))) => Value::Object(notice_map(old, new)),
            _ => value.clone(),
        };
        notice.insert(key.clone(), member);
    }
    for key in old.keys() {
        if !new.contains_key(key) {
            notice.insert(key.clone(), Value::Null);
        }
    }
    notice
}
