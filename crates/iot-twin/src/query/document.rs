//! [`Document`]: what a query reads.

use std::borrow::Cow;

use serde_json::Value;

/// A document a query reads, owned or borrowed: a device or module twin in its REST JSON shape
/// (PROTOCOL 6.2), or a `devices.jobs` row (PROTOCOL 8.3).
///
/// Evaluation only looks at documents through [`Document::json`]; a row that returns a whole
/// document (`SELECT *`) takes it with [`Document::into_json`], which moves an owned document
/// and clones a borrowed one. So a query over borrowed twins copies only the twins it returns.
pub trait Document {
    /// The document's JSON.
    fn json(&self) -> &Value;

    /// The document's JSON, owned.
    fn into_json(self) -> Value;
}

impl Document for Value {
    fn json(&self) -> &Value {
        self
    }

    fn into_json(self) -> Value {
        self
    }
}

impl Document for &Value {
    fn json(&self) -> &Value {
        self
    }

    fn into_json(self) -> Value {
        self.clone()
    }
}

impl Document for Cow<'_, Value> {
    fn json(&self) -> &Value {
        self
    }

    fn into_json(self) -> Value {
        self.into_owned()
    }
}
