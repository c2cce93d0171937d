//! The body of `POST /devices/query`.

use serde::{Deserialize, Serialize};

/// A query: `{"query": "SELECT * FROM devices WHERE ..."}`.
///
/// ```
/// use iot_protocol::QuerySpecification;
///
/// let spec: QuerySpecification = serde_json::from_str(r#"{"query":"SELECT * FROM devices"}"#).unwrap();
/// assert_eq!(spec.query, "SELECT * FROM devices");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuerySpecification {
    /// The query text.
    pub query: String,
}

impl QuerySpecification {
    /// A query specification for `query`.
    pub fn new(query: &str) -> Self {
        Self {
            query: query.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let spec = QuerySpecification::new(
            "SELECT * FROM devices WHERE tags.location.plant = 'Redmond43'",
        );
        let text = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            text,
            r#"{"query":"SELECT * FROM devices WHERE tags.location.plant = 'Redmond43'"}"#
        );
        assert_eq!(
            serde_json::from_str::<QuerySpecification>(&text).unwrap(),
            spec
        );
        assert!(serde_json::from_str::<QuerySpecification>("{}").is_err());
    }
}
