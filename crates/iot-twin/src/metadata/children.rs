//! The children of a metadata node: a vector sorted by key, searched from where the last
//! search ended.

use super::Metadata;

/// The children of a node, sorted by key in byte order (the order of `BTreeMap<String, _>`).
///
/// A write looks up one child per member it touches, in the patch's order. Patches are usually
/// sorted the same way, so each search starts where the previous one ended and gallops
/// forward: a run of neighbouring keys costs about two comparisons each instead of a full
/// binary search. Out-of-order keys fall back to a binary search over all entries. Contiguous
/// entries also keep small objects small (a B-tree node holds room for eleven).
#[derive(Debug, Clone, Default)]
pub(super) struct Children {
    entries: Vec<(String, Metadata)>,
    /// Where the next search starts; every entry before it sorts before the last key found.
    hint: usize,
}

impl PartialEq for Children {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for Children {}

impl Children {
    /// The entry of `key`, or where it would be inserted.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(probe, _)| probe.as_str().cmp(key))
    }

    /// [`Children::find`], starting from the hint when `key` sorts after the entry before it,
    /// and moving the hint past the result.
    fn locate(&mut self, key: &str) -> Result<usize, usize> {
        let start = self.hint.min(self.entries.len());
        let after_hint = match start.checked_sub(1).and_then(|i| self.entries.get(i)) {
            None => true,
            Some((before, _)) => before.as_str() < key,
        };
        let found = if after_hint {
            self.gallop(key, start)
        } else {
            self.find(key)
        };
        self.hint = match found {
            Ok(index) => index + 1,
            Err(index) => index,
        };
        found
    }

    /// Searches entries from `start` on, all before which sort before `key`: probes `start`,
    /// `start + 1`, `start + 3`, `start + 7`, ... until one sorts at or after `key`, then
    /// binary-searches the last gap.
    fn gallop(&self, key: &str, start: usize) -> Result<usize, usize> {
        let mut low = start;
        let mut step = 1;
        loop {
            let probe = low + step - 1;
            match self.entries.get(probe) {
                Some((entry, _)) if entry.as_str() < key => {
                    low = probe + 1;
                    step *= 2;
                }
                _ => {
                    let end = (probe + 1).min(self.entries.len());
                    let window = self.entries.get(low..end).unwrap_or_default();
                    return window
                        .binary_search_by(|(entry, _)| entry.as_str().cmp(key))
                        .map(|i| i + low)
                        .map_err(|i| i + low);
                }
            }
        }
    }

    /// The child `key`.
    pub(super) fn get(&self, key: &str) -> Option<&Metadata> {
        let index = self.find(key).ok()?;
        self.entries.get(index).map(|(_, node)| node)
    }

    /// The child `key`, for a write.
    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut Metadata> {
        let index = self.locate(key).ok()?;
        self.entries.get_mut(index).map(|(_, node)| node)
    }

    /// Sets the child `key` to `node`, or, when it exists, applies `update` to it.
    pub(super) fn upsert(
        &mut self,
        key: &str,
        node: impl FnOnce() -> Metadata,
        update: impl FnOnce(&mut Metadata),
    ) {
        match self.locate(key) {
            Ok(index) => {
                if let Some((_, existing)) = self.entries.get_mut(index) {
                    update(existing);
                }
            }
            // `binary_search` gives insertion points within `0..=len`.
            Err(index) => self.entries.insert(index, (key.to_owned(), node())),
        }
    }

    /// Inserts or replaces the child `key`.
    pub(super) fn insert(&mut self, key: String, node: Metadata) {
        match self.locate(&key) {
            Ok(index) => {
                if let Some(slot) = self.entries.get_mut(index) {
                    slot.1 = node;
                }
            }
            Err(index) => self.entries.insert(index, (key, node)),
        }
    }

    /// Inserts or replaces the child `key`, copying the key only when it is new.
    pub(super) fn set(&mut self, key: &str, node: Metadata) {
        match self.locate(key) {
            Ok(index) => {
                if let Some(slot) = self.entries.get_mut(index) {
                    slot.1 = node;
                }
            }
            Err(index) => self.entries.insert(index, (key.to_owned(), node)),
        }
    }

    /// Removes the child `key`.
    pub(super) fn remove(&mut self, key: &str) {
        if let Ok(index) = self.locate(key) {
            self.entries.remove(index);
            self.hint = index;
        }
    }

    /// The children in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &Metadata)> {
        self.entries.iter().map(|(key, node)| (key.as_str(), node))
    }

    /// Whether there are no children.
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every child.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.hint = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::metadata::Stamp;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn node(seconds: i64) -> Metadata {
        Metadata::leaf(Stamp {
            at: Timestamp::from_unix_seconds(seconds).unwrap(),
            version: None,
        })
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(String, i64),
        Remove(String),
        Touch(String, i64),
        Get(String),
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = "[a-f]{1,2}";
        prop_oneof![
            (key, 0i64..100).prop_map(|(k, t)| Op::Insert(k, t)),
            key.prop_map(Op::Remove),
            (key, 0i64..100).prop_map(|(k, t)| Op::Touch(k, t)),
            key.prop_map(Op::Get),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_sorted_map(ops in prop::collection::vec(op(), 0..60)) {
            let mut ours = Children::default();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(key, t) if t % 2 == 0 => {
                        ours.insert(key.clone(), node(t));
                        model.insert(key, node(t));
                    }
                    Op::Insert(key, t) => {
                        ours.set(&key, node(t));
                        model.insert(key, node(t));
                    }
                    Op::Remove(key) => {
                        ours.remove(&key);
                        model.remove(&key);
                    }
                    Op::Touch(key, t) => {
                        ours.upsert(&key, || node(t), |n| *n = node(t + 1));
                        match model.get_mut(&key) {
                            Some(n) => *n = node(t + 1),
                            None => {
                                model.insert(key, node(t));
                            }
                        }
                    }
                    Op::Get(key) => {
                        let expected = model.get(&key).cloned();
                        prop_assert_eq!(ours.get_mut(&key).map(|n| n.clone()), expected.clone());
                        prop_assert_eq!(ours.get(&key).cloned(), expected);
                    }
                }
                let listed: Vec<_> = ours.iter().map(|(k, n)| (k.to_owned(), n.clone())).collect();
                let expected: Vec<_> = model.iter().map(|(k, n)| (k.clone(), n.clone())).collect();
                prop_assert_eq!(listed, expected);
            }
        }
    }

    #[test]
    fn equality_ignores_the_hint() {
        let mut a = Children::default();
        a.insert("x".into(), node(1));
        a.insert("y".into(), node(2));
        let mut b = a.clone();
        let _ = b.get_mut("x");
        assert_eq!(a, b);
        b.clear();
        assert!(b.is_empty());
        assert_ne!(a, b);
    }
}
