//! JSON paths for error messages, built on the stack while walking a document.
//!
//! A path is rendered only when an error is reported, so walking a valid document allocates
//! nothing for paths.
//!
//! Rendering: keys are joined with `.` (`properties.reported.a.b`); a key that is empty, longer
//! than [`MAX_SEGMENT`] bytes, or holds a character other than ASCII letters, digits, `_` and `-`
//! is written as a bracketed JSON string (`a["b.c"]`); array elements are written `[3]`. Keys are
//! cut at [`MAX_SEGMENT`] bytes (marked with `…`) so an error message stays short even for a
//! multi-kilobyte key.

use std::fmt::Write;

/// Longest key, in bytes, written out in full in a path.
const MAX_SEGMENT: usize = 64;

/// A position in a JSON document: the root, a member of an object, or an element of an array.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    /// The document itself.
    Root,
    /// The member `key` of the object at the parent path.
    Key(&'a Self, &'a str),
    /// The element `index` of the array at the parent path.
    Index(&'a Self, usize),
}

impl<'a> Path<'a> {
    /// The path of member `key` below this one.
    pub(crate) fn key(&'a self, key: &'a str) -> Self {
        Self::Key(self, key)
    }

    /// The path of element `index` below this one.
    pub(crate) fn index(&'a self, index: usize) -> Self {
        Self::Index(self, index)
    }

    /// The rendered path; empty for the root.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        match self {
            Self::Root => {}
            Self::Key(parent, key) => {
                parent.render_into(out);
                push_key(out, key);
            }
            Self::Index(parent, index) => {
                parent.render_into(out);
                let _ = write!(out, "[{index}]");
            }
        }
    }
}

/// Appends one key to a rendered path.
pub(crate) fn push_key(out: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key.len() <= MAX_SEGMENT
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
        return;
    }
    let mut cut = key.len().min(MAX_SEGMENT);
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    let shown = key.get(..cut).unwrap_or_default();
    out.push('[');
    out.push_str(&serde_json::Value::from(shown).to_string());
    if cut < key.len() {
        out.push('…');
    }
    out.push(']');
}

/// Puts `prefix` (an already rendered path such as `properties.desired`) in front of `path`.
pub(crate) fn prefixed(prefix: &str, path: &str) -> String {
    if path.is_empty() {
        prefix.to_owned()
    } else if path.starts_with('[') || prefix.is_empty() {
        format!("{prefix}{path}")
    } else {
        format!("{prefix}.{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_plain_and_odd_keys() {
        let root = Path::Root;
        assert_eq!(root.render(), "");
        let a = root.key("a");
        let b = a.key("b-1_x");
        assert_eq!(b.render(), "a.b-1_x");
        let odd = b.key("c.d");
        assert_eq!(odd.render(), "a.b-1_x[\"c.d\"]");
        let element = odd.index(3);
        let deeper = element.key("e");
        assert_eq!(deeper.render(), "a.b-1_x[\"c.d\"][3].e");
        assert_eq!(root.key("").render(), "[\"\"]");
        assert_eq!(root.key("$version").render(), "[\"$version\"]");
        assert_eq!(root.key("tab\there").render(), "[\"tab\\there\"]");
    }

    #[test]
    fn long_keys_are_cut() {
        let long = "é".repeat(100);
        let root = Path::Root;
        let rendered = root.key(&long).render();
        assert!(rendered.ends_with("…]"), "{rendered}");
        assert!(rendered.len() < MAX_SEGMENT + 10, "{rendered}");
    }

    #[test]
    fn prefixes_join_cleanly() {
        assert_eq!(prefixed("tags", ""), "tags");
        assert_eq!(prefixed("tags", "a.b"), "tags.a.b");
        assert_eq!(prefixed("tags", "[\"a.b\"]"), "tags[\"a.b\"]");
        assert_eq!(prefixed("", "a"), "a");
    }
}
