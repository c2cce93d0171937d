//! The size and shape limits IoT Hub puts on twin sections.

use std::ops::RangeInclusive;

use crate::SectionKind;

/// The limits a write must respect, with IoT Hub's numbers as the default.
///
/// | Limit | IoT Hub |
/// |---|---|
/// | key length | 1024 bytes of UTF-8 |
/// | nesting depth | 10 levels of objects or arrays below the section |
/// | string value | 4096 bytes of UTF-8 |
/// | leaf property (string, number, boolean or array) | size 4096 |
/// | section size | tags 8192, desired 32768, reported 32768 |
/// | integers | -4503599627370496 ..= 4503599627370495 |
///
/// Sizes are measured the way IoT Hub documents it: the sum over all members of the key's size
/// plus the value's size, where a string counts its UTF-8 bytes minus control characters, a
/// number 8, a boolean 4, and an object or array the sum of what it contains. `$version` and
/// `$metadata` are not counted. IoT Hub's text says "counting all characters"; we count UTF-8
/// bytes, as its limits are stated in bytes and keys and values "are considered as UTF8-encoded
/// strings".
///
/// The rules about key characters (no control characters, `.`, `$` or space) and about `null`
/// inside arrays are part of the protocol and always apply; they are checked when a
/// [`crate::Patch`] is built. Every other rule is a limit here and can be changed, for instance
/// to match a hub configured differently. No setting makes any operation panic: a limit of 0 just
/// rejects everything it covers, and an empty integer range rejects every integer.
///
/// ```
/// use iot_twin::{Limits, SectionKind};
///
/// let limits = Limits::default().with_max_section_bytes(SectionKind::Tags, 16 * 1024);
/// assert_eq!(limits.max_section_bytes(SectionKind::Tags), 16 * 1024);
/// assert_eq!(limits.max_depth(), 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Limits {
    max_key_bytes: usize,
    max_depth: usize,
    max_string_bytes: usize,
    max_property_bytes: usize,
    max_tags_bytes: usize,
    max_desired_bytes: usize,
    max_reported_bytes: usize,
    min_integer: i64,
    max_integer: i64,
}

impl Limits {
    /// IoT Hub's limits (also [`Limits::default`]).
    pub const IOT_HUB: Self = Self {
        max_key_bytes: 1024,
        max_depth: 10,
        max_string_bytes: 4096,
        max_property_bytes: 4096,
        max_tags_bytes: 8 * 1024,
        max_desired_bytes: 32 * 1024,
        max_reported_bytes: 32 * 1024,
        min_integer: -4_503_599_627_370_496,
        max_integer: 4_503_599_627_370_495,
    };

    /// No limits at all, for a device that applies what the hub already accepted. The key
    /// character rules and the nesting cap of [`crate::Patch`] still apply.
    pub const UNLIMITED: Self = Self {
        max_key_bytes: usize::MAX,
        max_depth: usize::MAX,
        max_string_bytes: usize::MAX,
        max_property_bytes: usize::MAX,
        max_tags_bytes: usize::MAX,
        max_desired_bytes: usize::MAX,
        max_reported_bytes: usize::MAX,
        min_integer: i64::MIN,
        max_integer: i64::MAX,
    };

    /// Longest key, in UTF-8 bytes.
    pub const fn max_key_bytes(&self) -> usize {
        self.max_key_bytes
    }

    /// Deepest nesting of objects and arrays; a member of the section is at depth 1.
    pub const fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Longest string value, in UTF-8 bytes.
    pub const fn max_string_bytes(&self) -> usize {
        self.max_string_bytes
    }

    /// Largest leaf property (string, number, boolean or array), sized as described above.
    pub const fn max_property_bytes(&self) -> usize {
        self.max_property_bytes
    }

    /// Largest size of a whole section.
    pub const fn max_section_bytes(&self, kind: SectionKind) -> usize {
        match kind {
            SectionKind::Tags => self.max_tags_bytes,
            SectionKind::Desired => self.max_desired_bytes,
            SectionKind::Reported => self.max_reported_bytes,
        }
    }

    /// The integers a value may hold. Numbers with a fraction or exponent are not integers and
    /// are not checked against it.
    pub const fn integer_range(&self) -> RangeInclusive<i64> {
        self.min_integer..=self.max_integer
    }

    /// Sets [`Limits::max_key_bytes`].
    pub const fn with_max_key_bytes(mut self, bytes: usize) -> Self {
        self.max_key_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_depth`].
    pub const fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets [`Limits::max_string_bytes`].
    pub const fn with_max_string_bytes(mut self, bytes: usize) -> Self {
        self.max_string_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_property_bytes`].
    pub const fn with_max_property_bytes(mut self, bytes: usize) -> Self {
        self.max_property_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_section_bytes`] for one kind of section.
    pub const fn with_max_section_bytes(mut self, kind: SectionKind, bytes: usize) -> Self {
        match kind {
            SectionKind::Tags => self.max_tags_bytes = bytes,
            SectionKind::Desired => self.max_desired_bytes = bytes,
            SectionKind::Reported => self.max_reported_bytes = bytes,
        }
        self
    }

    /// Sets [`Limits::integer_range`]; with `min > max` no integer is accepted.
    pub const fn with_integer_range(mut self, min: i64, max: i64) -> Self {
        self.min_integer = min;
        self.max_integer = max;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::IOT_HUB
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_iot_hub() {
        let limits = Limits::default();
        assert_eq!(limits, Limits::IOT_HUB);
        assert_eq!(limits.max_key_bytes(), 1024);
        assert_eq!(limits.max_depth(), 10);
        assert_eq!(limits.max_string_bytes(), 4096);
        assert_eq!(limits.max_property_bytes(), 4096);
        assert_eq!(limits.max_section_bytes(SectionKind::Tags), 8192);
        assert_eq!(limits.max_section_bytes(SectionKind::Desired), 32768);
        assert_eq!(limits.max_section_bytes(SectionKind::Reported), 32768);
        assert_eq!(
            limits.integer_range(),
            -4_503_599_627_370_496..=4_503_599_627_370_495
        );
    }

    #[test]
    fn setters_change_one_limit_each() {
        let limits = Limits::IOT_HUB
            .with_max_key_bytes(1)
            .with_max_depth(2)
            .with_max_string_bytes(3)
            .with_max_property_bytes(4)
            .with_max_section_bytes(SectionKind::Desired, 5)
            .with_integer_range(-6, 7);
        assert_eq!(limits.max_key_bytes(), 1);
        assert_eq!(limits.max_depth(), 2);
        assert_eq!(limits.max_string_bytes(), 3);
        assert_eq!(limits.max_property_bytes(), 4);
        assert_eq!(limits.max_section_bytes(SectionKind::Desired), 5);
        assert_eq!(limits.max_section_bytes(SectionKind::Reported), 32768);
        assert_eq!(limits.integer_range(), -6..=7);
    }
}
