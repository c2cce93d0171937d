//! The bounded buffer of desired-property notifications that arrived ahead of their turn.

use std::collections::BTreeMap;

use crate::{Patch, TwinVersion};

/// Notifications whose version is more than one above the device's, kept until the versions
/// below them are known.
///
/// At most `limit` notifications are kept: the lowest versions, which are the first to become
/// applicable. When one has to go, the highest version is dropped and remembered, so the
/// machine knows it has to ask the hub again instead of waiting for a notification that will
/// not come.
#[derive(Debug, Clone)]
pub(super) struct Buffer {
    entries: BTreeMap<TwinVersion, Patch>,
    limit: usize,
    /// The highest version dropped for lack of room.
    dropped: Option<TwinVersion>,
}

impl Buffer {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            limit,
            dropped: None,
        }
    }

    pub(super) fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        while self.entries.len() > limit {
            if let Some((version, _)) = self.entries.pop_last() {
                self.note_dropped(version);
            }
        }
    }

    /// Keeps `patch` for `version`. A version already held keeps its first patch: IoT Hub sends
    /// one change per version, so a second copy is a duplicate.
    pub(super) fn insert(&mut self, version: TwinVersion, patch: Patch) {
        if self.entries.contains_key(&version) {
            return;
        }
        if self.entries.len() >= self.limit {
            match self.entries.last_key_value() {
                Some((&highest, _)) if highest > version => {
                    self.entries.remove(&highest);
                    self.note_dropped(highest);
                }
                _ => {
                    self.note_dropped(version);
                    return;
                }
            }
        }
        self.entries.insert(version, patch);
    }

    /// Takes the notification for `version`, if held.
    pub(super) fn take(&mut self, version: TwinVersion) -> Option<Patch> {
        self.entries.remove(&version)
    }

    /// Forgets every notification at or below `version`: the device's state already holds
    /// them.
    pub(super) fn discard_through(&mut self, version: TwinVersion) {
        match version.next() {
            Some(above) => self.entries = self.entries.split_off(&above),
            None => self.entries.clear(),
        }
        if self.dropped.is_some_and(|dropped| dropped <= version) {
            self.dropped = None;
        }
    }

    /// Whether a change above `version` is known to exist but cannot be applied: a
    /// notification is held (so the one right after `version` is missing), or one was dropped.
    pub(super) fn is_ahead_of(&self, version: TwinVersion) -> bool {
        !self.entries.is_empty() || self.dropped.is_some_and(|dropped| dropped > version)
    }

    /// The number of notifications held.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    fn note_dropped(&mut self, version: TwinVersion) {
        self.dropped = self.dropped.max(Some(version));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: u64) -> TwinVersion {
        TwinVersion::new(n).unwrap()
    }

    fn held(buffer: &Buffer) -> Vec<u64> {
        buffer.entries.keys().map(|v| v.get()).collect()
    }

    #[test]
    fn keeps_the_lowest_versions_and_remembers_what_it_dropped() {
        let mut buffer = Buffer::new(2);
        buffer.insert(v(5), Patch::new());
        buffer.insert(v(7), Patch::new());
        buffer.insert(v(6), Patch::new());
        assert_eq!(held(&buffer), [5, 6]);
        buffer.insert(v(9), Patch::new());
        assert_eq!(held(&buffer), [5, 6]);
        assert_eq!(buffer.dropped, Some(v(9)));
        assert!(buffer.take(v(5)).is_some());
        assert!(buffer.take(v(5)).is_none());
        buffer.discard_through(v(6));
        assert_eq!(buffer.len(), 0);
        assert!(buffer.is_ahead_of(v(8)));
        buffer.discard_through(v(9));
        assert!(!buffer.is_ahead_of(v(9)));
    }

    #[test]
    fn duplicates_keep_the_first_copy() {
        let mut buffer = Buffer::new(4);
        let first = Patch::from_value(serde_json::json!({"a": 1})).unwrap();
        buffer.insert(v(3), first.clone());
        buffer.insert(v(3), Patch::new());
        assert_eq!(buffer.take(v(3)), Some(first));
    }

    #[test]
    fn a_zero_limit_holds_nothing_and_shrinking_drops_the_highest() {
        let mut buffer = Buffer::new(0);
        buffer.insert(v(3), Patch::new());
        assert_eq!(buffer.len(), 0);
        assert!(buffer.is_ahead_of(v(1)));
        let mut buffer = Buffer::new(3);
        for n in [4, 5, 6] {
            buffer.insert(v(n), Patch::new());
        }
        buffer.set_limit(1);
        assert_eq!(held(&buffer), [4]);
        assert_eq!(buffer.dropped, Some(v(6)));
        buffer.discard_through(TwinVersion::new(u64::MAX).unwrap());
        assert!(!buffer.is_ahead_of(v(1)));
    }
}
