//! [`Filter`] and [`field`]: `WHERE` conditions built from values rather than spliced text, so
//! that a value holding a quote stays a value.

use std::ops::Not;

use iot_twin::query::{CompareOp, Condition, Constant, Expr, Function, Number, PropertyPath};
use serde_json::Value;

use crate::ServiceError;

/// A `WHERE` condition: parsed from text ([`Filter::text`], or any `&str`) or built with
/// [`field`], and combined with [`Filter::and`], [`Filter::or`] and `!`.
///
/// Problems (a path or text that does not parse, an object used as a constant) are kept and
/// reported by [`crate::QueryBuilder::build`], so building never panics and never needs `?`
/// midway.
///
/// ```
/// use iot_service_sdk::{Query, field};
///
/// let query = Query::select_all()
///     .where_(field("tags.location.plant").eq("Redmond'43"))
///     .where_(field("properties.reported.connectivity.type").is_in(["cellular", "wifi"]))
///     .where_(!field("tags.retired").is_defined())
///     .build()?;
/// assert_eq!(
///     query.to_string(),
///     "SELECT * FROM devices WHERE tags.location.plant = 'Redmond\\'43' \
///      AND properties.reported.connectivity.type IN ['cellular', 'wifi'] \
///      AND NOT IS_DEFINED(tags.retired)"
/// );
/// # Ok::<(), iot_service_sdk::ServiceError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Filter(Result<Expr, ServiceError>);

impl Filter {
    /// A condition in query syntax, such as `tags.location.region = 'US'`, checked as IoT Hub
    /// checks a `WHERE` clause. `*` is the condition that always holds.
    pub fn text(condition: &str) -> Self {
        let parsed = Condition::parse(condition).map_err(ServiceError::from);
        Self(parsed.and_then(|condition| {
            if !condition.is_all() && condition.collection().as_str() != "devices" {
                return Err(ServiceError::out_of_range(
                    "condition",
                    "cannot name a collection; use QueryBuilder::from",
                ));
            }
            Ok(condition
                .filter()
                .cloned()
                .unwrap_or(Expr::Constant(Constant::Bool(true))))
        }))
    }

    /// Both conditions.
    pub fn and(self, other: impl Into<Self>) -> Self {
        self.combine(other.into(), |a, b| Expr::And(Box::new(a), Box::new(b)))
    }

    /// Either condition.
    pub fn or(self, other: impl Into<Self>) -> Self {
        self.combine(other.into(), |a, b| Expr::Or(Box::new(a), Box::new(b)))
    }

    fn combine(self, other: Self, join: impl FnOnce(Expr, Expr) -> Expr) -> Self {
        Self(self.0.and_then(|a| other.0.map(|b| join(a, b))))
    }

    /// The expression, or the first problem met building it.
    pub(crate) fn into_expr(self) -> Result<Expr, ServiceError> {
        self.0
    }
}

impl Not for Filter {
    type Output = Self;

    /// The condition's negation (`NOT`).
    fn not(self) -> Self {
        Self(self.0.map(|e| Expr::Not(Box::new(e))))
    }
}

impl From<&str> for Filter {
    fn from(condition: &str) -> Self {
        Self::text(condition)
    }
}

impl From<String> for Filter {
    fn from(condition: String) -> Self {
        Self::text(&condition)
    }
}

/// A twin path to compare, in query syntax: `tags.location.region`,
/// `properties.reported.firmware.[[fw-version]]`, `deviceId`.
pub fn field(path: &str) -> Field {
    Field(path.parse::<PropertyPath>().map_err(ServiceError::from))
}

/// A path in a [`Filter`] being built; see [`field`].
#[derive(Debug, Clone)]
pub struct Field(Result<PropertyPath, ServiceError>);

impl Field {
    /// `path = value`.
    pub fn eq(self, value: impl Into<Value>) -> Filter {
        self.compare(CompareOp::Eq, value.into())
    }

    /// `path != value`.
    pub fn ne(self, value: impl Into<Value>) -> Filter {
        self.compare(CompareOp::Ne, value.into())
    }

    /// `path < value`.
    pub fn lt(self, value: impl Into<Value>) -> Filter {
        self.compare(CompareOp::Lt, value.into())
    }

    /// `path <= value`.
    pub fn le(self, value: impl Into<Value>) -> Filter {
        self.compare(CompareOp::Le, value.into())
    }

    /// `path > value`.
    pub fn gt(self, value: impl Into<Value>) -> Filter {
        self.compare(CompareOp::Gt, value.into())
    }

    /// `path >= value`.
    pub fn ge(self, value: impl Into<Value>) -> Filter {
        self.compare(CompareOp::Ge, value.into())
    }

    /// `path IN [values]`.
    pub fn is_in<V: Into<Value>>(self, values: impl IntoIterator<Item = V>) -> Filter {
        self.membership(values, false)
    }

    /// `path NIN [values]`.
    pub fn not_in<V: Into<Value>>(self, values: impl IntoIterator<Item = V>) -> Filter {
        self.membership(values, true)
    }

    /// `IS_DEFINED(path)`: the path has a value (`null` included).
    pub fn is_defined(self) -> Filter {
        Filter(
            self.0
                .map(|p| Expr::Call(Function::IsDefined, vec![Expr::Path(p)])),
        )
    }

    /// `STARTSWITH(path, prefix)`.
    pub fn starts_with(self, prefix: &str) -> Filter {
        self.call(Function::StartsWith, prefix)
    }

    /// `ENDSWITH(path, suffix)`.
    pub fn ends_with(self, suffix: &str) -> Filter {
        self.call(Function::EndsWith, suffix)
    }

    fn compare(self, op: CompareOp, value: Value) -> Filter {
        Filter(self.0.and_then(|path| {
            let constant = constant(value)?;
            Ok(Expr::Compare(
                op,
                Box::new(Expr::Path(path)),
                Box::new(Expr::Constant(constant)),
            ))
        }))
    }

    fn membership<V: Into<Value>>(
        self,
        values: impl IntoIterator<Item = V>,
        negated: bool,
    ) -> Filter {
        let list: Result<Vec<_>, _> = values.into_iter().map(|v| constant(v.into())).collect();
        Filter(self.0.and_then(|path| {
            Ok(Expr::In {
                value: Box::new(Expr::Path(path)),
                list: list?,
                negated,
            })
        }))
    }

    fn call(self, function: Function, text: &str) -> Filter {
        let argument = Expr::Constant(Constant::String(text.to_owned()));
        Filter(
            self.0
                .map(|p| Expr::Call(function, vec![Expr::Path(p), argument])),
        )
    }
}

/// A JSON value as a query constant: objects have no constant form.
fn constant(value: Value) -> Result<Constant, ServiceError> {
    Ok(match value {
        Value::Null => Constant::Null,
        Value::Bool(b) => Constant::Bool(b),
        Value::Number(n) => Constant::Number(
            n.as_f64()
                .and_then(Number::new)
                .ok_or_else(|| ServiceError::out_of_range("constant", "numbers must be finite"))?,
        ),
        Value::String(s) => Constant::String(s),
        Value::Array(items) => {
            Constant::Array(items.into_iter().map(constant).collect::<Result<_, _>>()?)
        }
        Value::Object(_) => {
            return Err(ServiceError::out_of_range(
                "constant",
                "objects cannot be compared in a query",
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Query;
    use proptest::prelude::*;
    use serde_json::json;

    fn shown(filter: Filter) -> String {
        filter.into_expr().unwrap().to_string()
    }

    #[test]
    fn comparisons_print_as_query_text() {
        assert_eq!(shown(field("deviceId").eq("d1")), "deviceId = 'd1'");
        assert_eq!(
            shown(field("properties.reported.temp").gt(21.5)),
            "properties.reported.temp > 21.5"
        );
        assert_eq!(shown(field("tags.n").le(3)), "tags.n <= 3");
        assert_eq!(shown(field("tags.x").ne(Value::Null)), "tags.x != null");
        assert_eq!(shown(field("tags.x").not_in([1, 2])), "tags.x NIN [1, 2]");
        assert_eq!(
            shown(field("deviceId").starts_with("pump-")),
            "STARTSWITH(deviceId, 'pump-')"
        );
        assert_eq!(
            shown(field("deviceId").ends_with("-7")),
            "ENDSWITH(deviceId, '-7')"
        );
        assert_eq!(
            shown(field("tags.[[odd-key]]").lt(json!(1))),
            "tags.[[odd-key]] < 1"
        );
    }

    #[test]
    fn combinations_keep_their_grouping() {
        let filter = field("tags.a")
            .eq(1)
            .or(field("tags.b").eq(2))
            .and("tags.c = 3");
        assert_eq!(shown(filter), "(tags.a = 1 OR tags.b = 2) AND tags.c = 3");
        assert_eq!(shown(!field("tags.a").eq(1)), "NOT tags.a = 1");
        assert_eq!(shown(Filter::text("*")), "true");
    }

    #[test]
    fn problems_surface_when_built() {
        let cases = [
            field("tags.").eq(1),
            field("tags.a").eq(json!({"x": 1})),
            field("tags.a").is_in([json!([{"x": 1}])]),
            Filter::text("tags.a = "),
            Filter::text("FROM devices.modules WHERE moduleId = 'm'"),
            field("tags.a").eq(1).and(field("select").eq(2)),
        ];
        for filter in cases {
            assert!(filter.into_expr().is_err());
        }
    }

    /// Strings with quotes, backslashes, control characters and any Unicode; finite numbers;
    /// Booleans.
    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<String>().prop_map(Value::from),
            "[a-z'\\\\\"\\n ]{0,12}".prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            (-1.0e12f64..1.0e12).prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ]
    }

    proptest! {
        #[test]
        fn values_stay_values_through_the_query_text(value in scalar(), other in scalar()) {
            let query = Query::select_all()
                .where_(field("tags.a").eq(value.clone()))
                .build()
                .unwrap();
            let reparsed = Query::parse(query.as_str()).unwrap();
            prop_assert_eq!(reparsed.parsed(), query.parsed());
            let with_value = json!({"tags": {"a": value}});
            prop_assert!(query.parsed().matches(&with_value));
            let same_number = value.as_f64().is_some() && value.as_f64() == other.as_f64();
            if other != value && !same_number {
                let with_other = json!({"tags": {"a": other}});
                prop_assert!(!query.parsed().matches(&with_other));
            }
        }

        #[test]
        fn lists_stay_lists(values in proptest::collection::vec(scalar(), 1..5), pick in any::<prop::sample::Index>()) {
            let query = Query::select_all()
                .where_(field("tags.a").is_in(values.clone()))
                .build()
                .unwrap();
            let member = pick.get(&values).clone();
            let with_member = json!({"tags": {"a": member}});
            prop_assert!(query.parsed().matches(&with_member));
        }
    }
}
