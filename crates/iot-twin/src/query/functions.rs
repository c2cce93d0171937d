//! The built-in functions.
//!
//! Type checks (`IS_*`) always give a Boolean (`false` for `undefined`, except that
//! `IS_DEFINED` is `true` for everything else, `null` included). The other functions give
//! `undefined` when an argument has the wrong type. IoT Hub leaves the corner cases open; here:
//!
//! - Strings are measured and cut in characters (Unicode scalar values): `LENGTH`, `INDEX_OF`
//!   and `SUBSTRING` count characters, not bytes or UTF-16 units.
//! - `SUBSTRING(s, start[, length])` takes whole numbers; a `start` below 0 counts as 0, a
//!   negative `length` gives `''`, and the range is cut at the end of the string.
//! - `LOWER` and `UPPER` map the full Unicode case tables; `STARTSWITH`, `ENDSWITH`,
//!   `CONTAINS` and `INDEX_OF` compare exactly (case-sensitive).
//! - `AS_NUMBER` accepts a number, or a string holding a JSON number (surrounding whitespace
//!   allowed).
//! - Math functions give `undefined` for results that are not finite numbers (`SQRT(-1)`);
//!   `ROUND` rounds halves away from zero; `SIGN` gives -1, 0 or 1.

use std::borrow::Cow;

use serde_json::Value;

use super::ast::Function;
use super::eval::Node;
use super::value::Val;

/// `function` applied to `args` (already checked for count) over `document`.
pub(crate) fn call<'a>(function: Function, args: &'a [Node], document: &'a Value) -> Val<'a> {
    let arg = |i: usize| args.get(i).map_or(Val::Undefined, |a| a.eval(document));
    match function {
        Function::Concat => concat(args, document),
        Function::Substring => {
            let length = args.get(2).map(|a| a.eval(document));
            substring(&arg(0), &arg(1), length.as_ref())
        }
        Function::StartsWith | Function::EndsWith | Function::Contains | Function::IndexOf => {
            strings(function, &arg(0), &arg(1))
        }
        Function::Power => match (arg(0), arg(1)) {
            (Val::Number(x), Val::Number(y)) => Val::number(x.powf(y)),
            _ => Val::Undefined,
        },
        _ => unary(function, arg(0)),
    }
}

/// Functions of one argument.
fn unary(function: Function, value: Val<'_>) -> Val<'_> {
    let composite = |check: fn(&Value) -> bool| matches!(value, Val::Composite(v) if check(v));
    match function {
        Function::IsDefined => Val::Bool(value != Val::Undefined),
        Function::IsNull => Val::Bool(value == Val::Null),
        Function::IsBool => Val::Bool(matches!(value, Val::Bool(_))),
        Function::IsNumber => Val::Bool(matches!(value, Val::Number(_))),
        Function::IsString => Val::Bool(matches!(value, Val::Str(_))),
        Function::IsObject => Val::Bool(composite(Value::is_object)),
        Function::IsArray => Val::Bool(composite(Value::is_array)),
        Function::IsPrimitive => Val::Bool(value.is_primitive()),
        Function::Lower => map_str(&value, str::to_lowercase),
        Function::Upper => map_str(&value, str::to_uppercase),
        Function::Length => match value.as_str() {
            Some(s) => count(s.chars().count()),
            None => Val::Undefined,
        },
        Function::AsNumber => as_number(value),
        _ => math(function, value.as_number()),
    }
}

fn math(function: Function, x: Option<f64>) -> Val<'static> {
    let Some(x) = x else {
        return Val::Undefined;
    };
    Val::number(match function {
        Function::Abs => x.abs(),
        Function::Ceiling => x.ceil(),
        Function::Floor => x.floor(),
        Function::Round => x.round(),
        Function::Exp => x.exp(),
        Function::Sign if x == 0.0 => 0.0,
        Function::Sign => x.signum(),
        Function::Sqrt => x.sqrt(),
        Function::Square => x * x,
        _ => f64::NAN,
    })
}

fn map_str(value: &Val<'_>, f: fn(&str) -> String) -> Val<'static> {
    match value.as_str() {
        Some(s) => Val::Str(Cow::Owned(f(s))),
        None => Val::Undefined,
    }
}

/// A count or position as a number.
fn count(n: usize) -> Val<'static> {
    // Counts are below 2^53 for any string in memory.
    #[allow(clippy::cast_precision_loss)]
    Val::Number(n as f64)
}

fn as_number(value: Val<'_>) -> Val<'_> {
    match value {
        Val::Number(_) => value,
        Val::Str(s) => serde_json::from_str::<serde_json::Number>(&s)
            .ok()
            .and_then(|n| n.as_f64())
            .map_or(Val::Undefined, Val::number),
        _ => Val::Undefined,
    }
}

/// `STARTSWITH`, `ENDSWITH`, `CONTAINS` and `INDEX_OF`.
fn strings(function: Function, s: &Val<'_>, part: &Val<'_>) -> Val<'static> {
    let (Some(s), Some(part)) = (s.as_str(), part.as_str()) else {
        return Val::Undefined;
    };
    match function {
        Function::StartsWith => Val::Bool(s.starts_with(part)),
        Function::EndsWith => Val::Bool(s.ends_with(part)),
        Function::Contains => Val::Bool(s.contains(part)),
        _ => match s.find(part) {
            Some(byte) => count(s.get(..byte).unwrap_or_default().chars().count()),
            None => Val::Number(-1.0),
        },
    }
}

fn concat<'a>(args: &'a [Node], document: &'a Value) -> Val<'a> {
    let mut out = String::new();
    for arg in args {
        match arg.eval(document).as_str() {
            Some(s) => out.push_str(s),
            None => return Val::Undefined,
        }
    }
    Val::Str(Cow::Owned(out))
}

/// A whole number argument (`None` for anything else).
fn whole(value: &Val<'_>) -> Option<f64> {
    value.as_number().filter(|n| n.fract() == 0.0)
}

fn substring<'a>(s: &Val<'a>, start: &Val<'_>, length: Option<&Val<'_>>) -> Val<'a> {
    let (Some(text), Some(start)) = (s.as_str(), whole(start)) else {
        return Val::Undefined;
    };
    let length = match length {
        None => None,
        Some(value) => match whole(value) {
            Some(n) => Some(n),
            None => return Val::Undefined,
        },
    };
    // Saturating float-to-integer conversions: out-of-range values clamp.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (skip, take) = (
        start.max(0.0) as usize,
        length.map_or(usize::MAX, |l| l.max(0.0) as usize),
    );
    let mut chars = text.char_indices().skip(skip);
    let Some((from, _)) = chars.next() else {
        return Val::Str(Cow::Borrowed(""));
    };
    let to = if take == 0 {
        from
    } else {
        chars.nth(take - 1).map_or(text.len(), |(i, _)| i)
    };
    match s {
        Val::Str(Cow::Borrowed(b)) => Val::Str(Cow::Borrowed(b.get(from..to).unwrap_or_default())),
        _ => Val::Str(Cow::Owned(
            text.get(from..to).unwrap_or_default().to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::eval::Const;
    use serde_json::json;

    fn run(function: Function, args: &[Const]) -> Val<'static> {
        let nodes: Vec<Node> = args.iter().cloned().map(Node::Const).collect();
        let doc = json!({});
        match call(function, &nodes, &doc) {
            Val::Str(s) => Val::Str(Cow::Owned(s.into_owned())),
            Val::Composite(_) => panic!("no composite results"),
            Val::Undefined => Val::Undefined,
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(b),
            Val::Number(n) => Val::Number(n),
        }
    }

    fn s(text: &str) -> Const {
        Const::Str(text.into())
    }

    fn n(value: f64) -> Const {
        Const::Number(value)
    }

    fn text(value: &str) -> Val<'static> {
        Val::Str(Cow::Owned(value.to_owned()))
    }

    #[test]
    fn type_checks() {
        assert_eq!(run(Function::IsDefined, &[Const::Null]), Val::Bool(true));
        assert_eq!(
            run(Function::IsDefined, &[Const::Undefined]),
            Val::Bool(false)
        );
        assert_eq!(run(Function::IsNull, &[Const::Undefined]), Val::Bool(false));
        assert_eq!(
            run(Function::IsArray, &[Const::Json(json!([]))]),
            Val::Bool(true)
        );
        assert_eq!(
            run(Function::IsObject, &[Const::Json(json!([]))]),
            Val::Bool(false)
        );
        assert_eq!(run(Function::IsPrimitive, &[Const::Null]), Val::Bool(true));
        assert_eq!(run(Function::IsString, &[n(1.0)]), Val::Bool(false));
    }

    #[test]
    fn string_functions_count_characters() {
        assert_eq!(run(Function::Length, &[s("héllo")]), Val::Number(5.0));
        assert_eq!(
            run(Function::IndexOf, &[s("héllo"), s("l")]),
            Val::Number(2.0)
        );
        assert_eq!(
            run(Function::IndexOf, &[s("abc"), s("z")]),
            Val::Number(-1.0)
        );
        assert_eq!(
            run(Function::Substring, &[s("héllo"), n(1.0), n(3.0)]),
            text("éll")
        );
        assert_eq!(
            run(Function::Substring, &[s("héllo"), n(-2.0)]),
            text("héllo")
        );
        assert_eq!(run(Function::Substring, &[s("abc"), n(9.0)]), text(""));
        assert_eq!(
            run(Function::Substring, &[s("abc"), n(1.0), n(-1.0)]),
            text("")
        );
        assert_eq!(
            run(Function::Substring, &[s("abc"), n(0.5)]),
            Val::Undefined
        );
        assert_eq!(
            run(Function::Concat, &[s("a"), s("b"), s("c")]),
            text("abc")
        );
        assert_eq!(run(Function::Concat, &[s("a"), n(1.0)]), Val::Undefined);
        assert_eq!(run(Function::Upper, &[s("straße")]), text("STRASSE"));
        assert_eq!(
            run(Function::StartsWith, &[s("Abc"), s("a")]),
            Val::Bool(false)
        );
        assert_eq!(
            run(Function::EndsWith, &[s("abc"), s("bc")]),
            Val::Bool(true)
        );
        assert_eq!(run(Function::Contains, &[s("abc"), n(1.0)]), Val::Undefined);
    }

    #[test]
    fn numbers() {
        assert_eq!(run(Function::AsNumber, &[s(" 12.5 ")]), Val::Number(12.5));
        assert_eq!(run(Function::AsNumber, &[s("12a")]), Val::Undefined);
        assert_eq!(run(Function::AsNumber, &[n(3.0)]), Val::Number(3.0));
        assert_eq!(run(Function::Round, &[n(-2.5)]), Val::Number(-3.0));
        assert_eq!(run(Function::Sign, &[n(-0.0)]), Val::Number(0.0));
        assert_eq!(run(Function::Sign, &[n(-4.0)]), Val::Number(-1.0));
        assert_eq!(run(Function::Sqrt, &[n(-1.0)]), Val::Undefined);
        assert_eq!(
            run(Function::Power, &[n(2.0), n(10.0)]),
            Val::Number(1024.0)
        );
        assert_eq!(run(Function::Square, &[n(3.0)]), Val::Number(9.0));
        assert_eq!(run(Function::Abs, &[s("1")]), Val::Undefined);
        assert_eq!(run(Function::Ceiling, &[n(1.2)]), Val::Number(2.0));
        assert_eq!(run(Function::Floor, &[n(-1.2)]), Val::Number(-2.0));
        assert_eq!(run(Function::Exp, &[n(0.0)]), Val::Number(1.0));
    }
}
