//! [`Val`]: what an expression evaluates to, borrowing from the document and the plan, and the
//! comparison rules of the language.
//!
//! Comparisons are defined only between primitives of the same type: numbers with numbers,
//! strings with strings (ordinal, by UTF-8 bytes, case-sensitive), Booleans with Booleans
//! (`false < true`) and `null` with `null` (equal). Anything else, `undefined` or an object or
//! array included, compares as `undefined`, which no condition accepts.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    /// No value: a missing path, or an operation outside its domain.
    Undefined,
    /// `null`
    Null,
    /// A Boolean.
    Bool(bool),
    /// A finite number.
    Number(f64),
    /// A string, borrowed from the document or plan when it can be.
    Str(Cow<'a, str>),
    /// An object or array of the document or plan.
    Composite(&'a Value),
}

impl<'a> Val<'a> {
    /// The value of a JSON node; `None` (a missing path) is [`Val::Undefined`].
    pub(crate) fn of(value: Option<&'a Value>) -> Self {
        match value {
            None => Self::Undefined,
            Some(Value::Null) => Self::Null,
            Some(Value::Bool(b)) => Self::Bool(*b),
            Some(Value::Number(n)) => n.as_f64().map_or(Self::Undefined, Self::Number),
            Some(Value::String(s)) => Self::Str(Cow::Borrowed(s)),
            Some(composite) => Self::Composite(composite),
        }
    }

    /// A computed number: [`Val::Undefined`] when it is NaN or infinite.
    pub(crate) fn number(value: f64) -> Self {
        if value.is_finite() {
            Self::Number(value)
        } else {
            Self::Undefined
        }
    }

    /// Whether this is Boolean `true`, the only value a condition accepts.
    pub(crate) fn is_true(&self) -> bool {
        matches!(self, Self::Bool(true))
    }

    /// The string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub(crate) fn as_number(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Whether this is `null`, a Boolean, a number or a string.
    pub(crate) fn is_primitive(&self) -> bool {
        matches!(
            self,
            Self::Null | Self::Bool(_) | Self::Number(_) | Self::Str(_)
        )
    }

    /// The JSON for this value; `None` for [`Val::Undefined`].
    pub(crate) fn to_json(&self) -> Option<Value> {
        match self {
            Self::Undefined => None,
            Self::Null => Some(Value::Null),
            Self::Bool(b) => Some(Value::Bool(*b)),
            Self::Number(n) => Some(number_json(*n)),
            Self::Str(s) => Some(Value::String(s.clone().into_owned())),
            Self::Composite(v) => Some((*v).clone()),
        }
    }
}

/// Largest magnitude below which every integer is exact in an `f64` (2^53).
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// A computed number as JSON: an integer when it has no fraction and is exact (so counts and
/// sums of integers print as `3`, not `3.0`), a float otherwise.
pub(crate) fn number_json(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() <= EXACT_INTEGERS {
        // Exact by the bound above.
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(value as i64);
    }
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// The order of two values, when the language defines one (see the module docs).
pub(crate) fn compare(a: &Val<'_>, b: &Val<'_>) -> Option<Ordering> {
    match (a, b) {
        (Val::Null, Val::Null) => Some(Ordering::Equal),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
        (Val::Number(a), Val::Number(b)) => a.partial_cmp(b),
        (Val::Str(a), Val::Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        _ => None,
    }
}

/// A total order over primitives of any type, for `MIN` and `MAX`: `null`, then `false` and
/// `true`, then numbers, then strings, as Cosmos DB orders mixed types. IoT Hub does not
/// document `MIN` and `MAX` over mixed types.
pub(crate) fn rank(a: &Val<'_>, b: &Val<'_>) -> Ordering {
    fn class(v: &Val<'_>) -> u8 {
        match v {
            Val::Null => 0,
            Val::Bool(_) => 1,
            Val::Number(_) => 2,
            Val::Str(_) => 3,
            Val::Undefined | Val::Composite(_) => 4,
        }
    }
    compare(a, b).unwrap_or_else(|| class(a).cmp(&class(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_same_typed_primitives_compare() {
        let s = |t: &'static str| Val::Str(Cow::Borrowed(t));
        assert_eq!(
            compare(&Val::Number(1.0), &Val::Number(2.0)),
            Some(Ordering::Less)
        );
        assert_eq!(compare(&s("B"), &s("a")), Some(Ordering::Less));
        assert_eq!(
            compare(&Val::Bool(false), &Val::Bool(true)),
            Some(Ordering::Less)
        );
        assert_eq!(compare(&Val::Null, &Val::Null), Some(Ordering::Equal));
        assert_eq!(compare(&Val::Number(1.0), &s("1")), None);
        assert_eq!(compare(&Val::Undefined, &Val::Undefined), None);
        let object = json!({"a": 1});
        assert_eq!(
            compare(&Val::Composite(&object), &Val::Composite(&object)),
            None
        );
    }

    #[test]
    fn rank_orders_types_then_values() {
        let s = Val::Str(Cow::Borrowed("a"));
        assert_eq!(rank(&Val::Null, &Val::Bool(false)), Ordering::Less);
        assert_eq!(rank(&Val::Bool(true), &Val::Number(-5.0)), Ordering::Less);
        assert_eq!(rank(&Val::Number(9.0), &s), Ordering::Less);
        assert_eq!(
            rank(&Val::Number(9.0), &Val::Number(3.0)),
            Ordering::Greater
        );
    }

    #[test]
    fn values_come_from_and_go_to_json() {
        let doc = json!({"n": 3, "f": 1.5, "s": "x", "o": {}, "z": null});
        let at = |k: &str| Val::of(doc.get(k));
        assert_eq!(at("n"), Val::Number(3.0));
        assert_eq!(at("missing"), Val::Undefined);
        assert_eq!(at("z"), Val::Null);
        assert!(matches!(at("o"), Val::Composite(_)));
        assert_eq!(at("n").to_json(), Some(json!(3)));
        assert_eq!(at("f").to_json(), Some(json!(1.5)));
        assert_eq!(Val::Undefined.to_json(), None);
        assert_eq!(Val::number(f64::NAN), Val::Undefined);
        assert_eq!(number_json(1e300), json!(1e300));
        assert!(at("s").is_primitive() && !at("o").is_primitive());
        assert_eq!(at("s").as_str(), Some("x"));
        assert_eq!(at("f").as_number(), Some(1.5));
    }
}
