//! Call ids and the hash map keyed by them.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// Identifies one call in a [`PendingCalls`](crate::PendingCalls) table. Unique per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub(crate) u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call {}", self.0)
    }
}

/// A hash map keyed by call ids.
pub(crate) type CallMap<V> = HashMap<CallId, V, BuildHasherDefault<CallIdHasher>>;

/// Hashes call ids with one multiplication (Fibonacci hashing).
///
/// The table assigns every id it stores from a counter, so no peer can choose keys that collide
/// and the flooding resistance of the default SipHash buys nothing here. Multiplying by an odd
/// constant maps consecutive ids to distinct low bits (the bucket) and well-mixed high bits (the
/// tag `hashbrown` compares).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CallIdHasher(u64);

/// 2^64 divided by the golden ratio, rounded to odd.
const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for CallIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(FIBONACCI);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(FIBONACCI);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn consecutive_ids_spread_over_buckets_and_tags() {
        let build = BuildHasherDefault::<CallIdHasher>::default();
        let hashes: Vec<u64> = (1..=1024).map(|n| build.hash_one(CallId(n))).collect();
        let buckets: HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        assert_eq!(buckets.len(), 1024);
        let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(tags.len() > 100, "only {} distinct tags", tags.len());
    }

    #[test]
    fn map_works_with_the_hasher() {
        let mut map = CallMap::default();
        for n in 0..100 {
            map.insert(CallId(n), n);
        }
        assert!((0..100).all(|n| map.get(&CallId(n)) == Some(&n)));
        assert_eq!(CallId(7).to_string(), "call 7");
    }
}
