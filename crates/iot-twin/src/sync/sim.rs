//! Seeded simulations of the device-side machines against a model hub over a lossy channel.
//!
//! Each run is determined by its seed; a failing run names its seed, and re-running that seed
//! alone replays it exactly. Patches use a small pool of keys so updates overlap, nest, delete
//! and re-create members.

use serde_json::{Map, Value};

use crate::Patch;

mod desired;
mod outbox;

/// A small deterministic generator (SplitMix64): enough randomness for a simulation, and no
/// dependency.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `bound` (which must not be 0).
    pub(super) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// An index into a collection of `len` elements (which must not be empty).
    pub(super) fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap()
    }

    /// True with probability `percent` / 100.
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const KEYS: [&str; 5] = ["a", "b", "c", "d", "e"];

/// A random merge patch: nested objects up to three levels, scalars, small arrays and `null`s.
pub(super) fn random_patch(rng: &mut Rng, max_string: usize) -> Patch {
    Patch::from_map(random_object(rng, 0, max_string)).unwrap()
}

fn random_object(rng: &mut Rng, depth: usize, max_string: usize) -> Map<String, Value> {
    let mut map = Map::new();
    for _ in 0..=rng.below(3) {
        let key = KEYS[rng.index(KEYS.len())];
        map.insert(key.to_owned(), random_value(rng, depth + 1, max_string));
    }
    map
}

fn random_value(rng: &mut Rng, depth: usize, max_string: usize) -> Value {
    match rng.below(10) {
        0 | 1 => Value::Null,
        2 | 3 if depth < 3 => Value::Object(random_object(rng, depth, max_string)),
        4 => Value::Array(vec![Value::from(rng.below(5)), Value::Bool(rng.chance(50))]),
        5 => Value::Bool(rng.chance(50)),
        6 | 7 => {
            let len = rng.index(max_string + 1);
            Value::String("x".repeat(len))
        }
        _ => Value::from(rng.below(100)),
    }
}
