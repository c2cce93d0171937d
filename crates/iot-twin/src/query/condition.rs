//! [`Condition`]: the `WHERE`-only form of job `queryCondition`s and configuration
//! `targetCondition`s.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::QueryError;
use super::ast::{Collection, Expr};
use super::compile::compile_expr;
use super::eval::Node;
use super::parser::parse_condition;

/// A condition that picks documents: a job's `queryCondition` (PROTOCOL 9.2) or a
/// configuration's `targetCondition` (PROTOCOL 10.2).
///
/// The text is `*` (every device), a condition (`deviceId IN ['d1', 'd2']`,
/// `tags.devicetype = 'chiller'`), or, for module configurations, `FROM devices.modules` with
/// an optional `WHERE` condition. Conditions follow the same rules as a query's `WHERE`
/// clause: a document is picked only when the condition is Boolean `true`.
///
/// ```
/// use iot_twin::query::{Collection, Condition};
/// use serde_json::json;
///
/// let condition = Condition::parse("deviceId IN ['d1', 'd2']")?;
/// assert!(condition.matches(&json!({"deviceId": "d2"})));
/// assert!(!condition.matches(&json!({"deviceId": "d3"})));
///
/// let all = Condition::parse("*")?;
/// assert!(all.is_all() && all.matches(&json!({})));
///
/// let modules = Condition::parse("from devices.modules where moduleId = 'edge'")?;
/// assert_eq!(modules.collection(), Collection::Modules);
/// assert_eq!(modules.to_string(), "FROM devices.modules WHERE moduleId = 'edge'");
/// # Ok::<(), iot_twin::query::QueryError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Condition {
    collection: Collection,
    filter: Option<Expr>,
    node: Option<Node>,
}

impl Condition {
    /// Parses condition text (see the type's docs).
    ///
    /// # Errors
    ///
    /// A [`QueryError`] naming the position and what was expected.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let (collection, filter) = parse_condition(text)?;
        let node = filter.as_ref().map(|f| compile_expr(f, collection));
        Ok(Self {
            collection,
            filter,
            node,
        })
    }

    /// The condition `*`: every device.
    pub fn all() -> Self {
        Self {
            collection: Collection::Devices,
            filter: None,
            node: None,
        }
    }

    /// The collection whose documents the condition picks from.
    pub fn collection(&self) -> Collection {
        self.collection
    }

    /// The condition's expression; `None` when it picks every document.
    pub fn filter(&self) -> Option<&Expr> {
        self.filter.as_ref()
    }

    /// Whether the condition picks every document.
    pub fn is_all(&self) -> bool {
        self.filter.is_none()
    }

    /// Whether the condition picks `document`.
    pub fn matches(&self, document: &Value) -> bool {
        self.node.as_ref().is_none_or(|n| n.test(document))
    }
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.collection == other.collection && self.filter == other.filter
    }
}

impl fmt::Display for Condition {
    /// `*`, the condition, or `FROM collection [WHERE condition]` for collections other than
    /// `devices`; parses back to an equal condition.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.collection, &self.filter) {
            (Collection::Devices, None) => f.write_str("*"),
            (Collection::Devices, Some(filter)) => write!(f, "{filter}"),
            (collection, None) => write!(f, "FROM {collection}"),
            (collection, Some(filter)) => write!(f, "FROM {collection} WHERE {filter}"),
        }
    }
}

impl FromStr for Condition {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<Self, QueryError> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_round_trip() {
        for (text, printed) in [
            ("*", "*"),
            ("  * ", "*"),
            ("FROM devices", "*"),
            ("from devices where tags.a = 1", "tags.a = 1"),
            ("FROM devices.modules", "FROM devices.modules"),
            ("deviceId IN ['d1','d2']", "deviceId IN ['d1', 'd2']"),
        ] {
            let condition = Condition::parse(text).unwrap();
            assert_eq!(condition.to_string(), printed, "{text}");
            assert_eq!(Condition::parse(printed).unwrap(), condition);
        }
        assert_eq!(Condition::parse("*").unwrap(), Condition::all());
    }

    #[test]
    fn bad_conditions_are_refused() {
        for bad in [
            "",
            "* AND x",
            "SELECT * FROM devices",
            "FROM devices WHERE",
            "a =",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad:?}");
        }
        let error = Condition::parse("deviceId = ").unwrap_err();
        assert!(error.to_string().contains("expected a value"), "{error}");
    }

    #[test]
    fn module_conditions_read_module_twins() {
        let condition: Condition = "FROM devices.modules WHERE devices.modules.moduleId = 'm'"
            .parse()
            .unwrap();
        assert!(condition.matches(&json!({"deviceId": "d", "moduleId": "m"})));
        assert!(!condition.matches(&json!({"deviceId": "d", "moduleId": "n"})));
        assert!(!condition.is_all());
        assert!(condition.filter().is_some());
    }
}
