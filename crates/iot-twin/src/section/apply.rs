//! The two phases of a section write: checking it against the limits without touching the
//! section, then carrying it out in one walk that updates content, metadata and size.
//!
//! The check looks at the patch alone and bounds how much it can grow the section (each added
//! member counted in full, nothing counted as removed). Only when that bound could cross the
//! section limit does it walk the content to compute the exact size; a small patch on a section
//! well under its limit costs no content lookups before the write.

use serde_json::{Map, Value};

use crate::merge::{assign, pruned};
use crate::metadata::Stamp;
use crate::path::Path;
use crate::rules::{check_object, members_size, string_size, value_size};
use crate::{Limits, Metadata, Patch, TwinError};

/// How much a write adds to and removes from the section's size.
#[derive(Debug, Default)]
pub(super) struct SizeChange {
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

    /// The size after the change of a section of size `size`.
    pub(super) fn applied_to(&self, size: usize) -> usize {
        size.saturating_add(self.added).saturating_sub(self.removed)
    }
}

/// Checks the values of `patch` against the limits; returns an upper bound of the size it can
/// add to a section.
pub(super) fn check_patch(patch: &Patch, limits: &Limits) -> Result<usize, TwinError> {
    check_object(patch.as_map(), 0, &Path::Root, limits)
}

/// The exact size of `content` (of size `size`) after merging `patch`, without merging it.
pub(super) fn size_after_merge(content: &Map<String, Value>, size: usize, patch: &Patch) -> usize {
    let mut change = SizeChange::default();
    measure_merge(Some(content), patch.as_map(), &mut change);
    change.applied_to(size)
}

fn measure_merge(
    target: Option<&Map<String, Value>>,
    patch: &Map<String, Value>,
    change: &mut SizeChange,
) {
    for (key, value) in patch {
        let existing = target.and_then(|t| t.get(key));
        match (value, existing) {
            (Value::Null, Some(old)) => {
                change.remove(string_size(key).saturating_add(value_size(old)));
            }
            (Value::Null, None) => {}
            (Value::Object(inner), Some(Value::Object(old))) => {
                measure_merge(Some(old), inner, change);
            }
            (Value::Object(inner), _) => {
                replace_size(key, existing, change);
                measure_merge(None, inner, change);
            }
            (leaf, _) => {
                replace_size(key, existing, change);
                change.add(value_size(leaf));
            }
        }
    }
}

/// Counts out the old value of a member being replaced, or counts in the key of a new one.
fn replace_size(key: &str, existing: Option<&Value>, change: &mut SizeChange) {
    match existing {
        Some(old) => change.remove(value_size(old)),
        None => change.add(string_size(key)),
    }
}

/// Checks a replacement content against the limits; returns it without `null`s, and its size.
pub(super) fn checked_content(
    content: &Patch,
    limits: &Limits,
) -> Result<(Map<String, Value>, usize), TwinError> {
    check_object(content.as_map(), 0, &Path::Root, limits)?;
    let content = pruned(content.as_map());
    let size = members_size(&content);
    Ok((content, size))
}

/// What a merge records besides content: the `$metadata` tree, or nothing (tags).
pub(super) trait Tracker {
    /// The node was merged into.
    fn touch(&mut self, stamp: Stamp);
    /// Member `key` was deleted.
    fn remove(&mut self, key: &str);
    /// Member `key` was set to a leaf.
    fn set_leaf(&mut self, key: &str, stamp: Stamp);
    /// Member `key` was set to the new object `fresh`.
    fn set_object(&mut self, key: &str, fresh: &Map<String, Value>, stamp: Stamp);
    /// Runs `merge` on the tracker of member `key`, the object `existing`.
    fn merge_child(
        &mut self,
        key: &str,
        existing: &mut Map<String, Value>,
        stamp: Stamp,
        merge: impl FnOnce(&mut Self, &mut Map<String, Value>),
    );
}

impl Tracker for Metadata {
    fn touch(&mut self, stamp: Stamp) {
        Self::touch(self, stamp);
    }

    fn remove(&mut self, key: &str) {
        self.remove_child(key);
    }

    fn set_leaf(&mut self, key: &str, stamp: Stamp) {
        Self::set_leaf(self, key, stamp);
    }

    fn set_object(&mut self, key: &str, fresh: &Map<String, Value>, stamp: Stamp) {
        self.set_child(key, Self::for_members(fresh, stamp));
    }

    fn merge_child(
        &mut self,
        key: &str,
        existing: &mut Map<String, Value>,
        stamp: Stamp,
        merge: impl FnOnce(&mut Self, &mut Map<String, Value>),
    ) {
        match self.child_mut(key) {
            Some(child) => merge(child, existing),
            None => {
                let mut child = Self::for_members(existing, stamp);
                merge(&mut child, existing);
                self.insert_child(key.to_owned(), child);
            }
        }
    }
}

/// Tracks nothing: tags have no metadata.
#[derive(Debug)]
pub(super) struct Untracked;

impl Tracker for Untracked {
    fn touch(&mut self, _: Stamp) {}

    fn remove(&mut self, _: &str) {}

    fn set_leaf(&mut self, _: &str, _: Stamp) {}

    fn set_object(&mut self, _: &str, _: &Map<String, Value>, _: Stamp) {}

    fn merge_child(
        &mut self,
        _: &str,
        existing: &mut Map<String, Value>,
        _: Stamp,
        merge: impl FnOnce(&mut Self, &mut Map<String, Value>),
    ) {
        merge(self, existing);
    }
}

/// Merges `patch` into `target` (RFC 7386), records what changed in `tracker` (the object
/// itself, every member written and every object merged into), and counts the size change.
pub(super) fn merge_into<T: Tracker>(
    target: &mut Map<String, Value>,
    tracker: &mut T,
    patch: &Map<String, Value>,
    stamp: Stamp,
    change: &mut SizeChange,
) {
    tracker.touch(stamp);
    for (key, value) in patch {
        match value {
            Value::Null => {
                if let Some(old) = target.remove(key) {
                    change.remove(string_size(key).saturating_add(value_size(&old)));
                    tracker.remove(key);
                }
            }
            Value::Object(inner) => match target.get_mut(key) {
                Some(Value::Object(existing)) => {
                    tracker.merge_child(key, existing, stamp, |child, existing| {
                        merge_into(existing, child, inner, stamp, change);
                    });
                }
                slot => {
                    let fresh = pruned(inner);
                    change.add(members_size(&fresh));
                    tracker.set_object(key, &fresh, stamp);
                    match slot {
                        Some(slot) => {
                            change.remove(value_size(slot));
                            *slot = Value::Object(fresh);
                        }
                        None => {
                            change.add(string_size(key));
                            target.insert(key.clone(), Value::Object(fresh));
                        }
                    }
                }
            },
            leaf => {
                change.add(value_size(leaf));
                match target.get_mut(key) {
                    Some(slot) => {
                        change.remove(value_size(slot));
                        assign(slot, leaf);
                    }
                    None => {
                        change.add(string_size(key));
                        target.insert(key.clone(), leaf.clone());
                    }
                }
                tracker.set_leaf(key, stamp);
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
