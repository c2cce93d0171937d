//! A naive reference for conditions, written from the documented rules alone: its own little
//! condition tree, printed to query text by hand and evaluated straight over
//! `serde_json::Value`. It shares no code with the implementation.

use std::cmp::Ordering;

use serde_json::Value;

/// A value in a condition.
#[derive(Debug, Clone)]
pub(super) enum Term {
    /// Keys from the document root.
    Path(Vec<String>),
    /// A string literal.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// A Boolean literal.
    Bool(bool),
    /// `null`
    Null,
    /// `undefined`
    Undefined,
    /// `path + n`
    Plus(Vec<String>, i64),
}

/// A comparison operator, with its query spelling.
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A condition.
#[derive(Debug, Clone)]
pub(super) enum Cond {
    Compare(Op, Term, Term),
    In(Term, Vec<Term>, bool),
    Defined(Term),
    StartsWith(Term, Term),
    Not(Box<Self>),
    And(Box<Self>, Box<Self>),
    Or(Box<Self>, Box<Self>),
}

/// What a value is during reference evaluation.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Missing,
    Json(Value),
}

fn path_text(path: &[String]) -> String {
    path.iter()
        .map(|k| format!("[[{k}]]"))
        .collect::<Vec<_>>()
        .join(".")
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl Term {
    fn text(&self) -> String {
        match self {
            Self::Path(p) => path_text(p),
            Self::Str(s) => quote(s),
            Self::Int(i) => i.to_string(),
            Self::Bool(b) => if *b { "TRUE" } else { "false" }.to_owned(),
            Self::Null => "NULL".to_owned(),
            Self::Undefined => "undefined".to_owned(),
            Self::Plus(p, n) => format!("({} + {n})", path_text(p)),
        }
    }

    fn value(&self, doc: &Value) -> Seen {
        match self {
            Self::Path(p) => walk(doc, p),
            Self::Str(s) => Seen::Json(Value::from(s.as_str())),
            Self::Int(i) => Seen::Json(Value::from(*i)),
            Self::Bool(b) => Seen::Json(Value::from(*b)),
            Self::Null => Seen::Json(Value::Null),
            Self::Undefined => Seen::Missing,
            Self::Plus(p, n) => match walk(doc, p) {
                Seen::Json(Value::Number(x)) => {
                    Seen::Json(serde_json::json!(x.as_f64().unwrap() + *n as f64))
                }
                _ => Seen::Missing,
            },
        }
    }
}

/// Walks object members; the first key matches `deviceId` in any letter case, as documented
/// for top-level twin fields.
fn walk(doc: &Value, path: &[String]) -> Seen {
    let mut at = doc;
    for (i, key) in path.iter().enumerate() {
        let key = if i == 0 && key.eq_ignore_ascii_case("deviceid") {
            "deviceId"
        } else {
            key.as_str()
        };
        match at.get(key) {
            Some(next) if at.is_object() => at = next,
            _ => return Seen::Missing,
        }
    }
    Seen::Json(at.clone())
}

/// The documented order: same-typed primitives only.
fn order(a: &Seen, b: &Seen) -> Option<Ordering> {
    match (a, b) {
        (Seen::Json(Value::Null), Seen::Json(Value::Null)) => Some(Ordering::Equal),
        (Seen::Json(Value::Bool(x)), Seen::Json(Value::Bool(y))) => Some(x.cmp(y)),
        (Seen::Json(Value::Number(x)), Seen::Json(Value::Number(y))) => {
            x.as_f64().unwrap().partial_cmp(&y.as_f64().unwrap())
        }
        (Seen::Json(Value::String(x)), Seen::Json(Value::String(y))) => Some(x.cmp(y)),
        _ => None,
    }
}

fn primitive(v: &Seen) -> bool {
    matches!(
        v,
        Seen::Json(Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))
    )
}

impl Cond {
    /// Query text for the condition, parenthesized throughout.
    pub(super) fn text(&self) -> String {
        match self {
            Self::Compare(op, a, b) => {
                let op = match op {
                    Op::Eq => "=",
                    Op::Ne => "<>",
                    Op::Lt => "<",
                    Op::Le => "<=",
                    Op::Gt => ">",
                    Op::Ge => ">=",
                };
                format!("{} {op} {}", a.text(), b.text())
            }
            Self::In(a, list, negated) => {
                let items: Vec<String> = list.iter().map(Term::text).collect();
                let keyword = if *negated { "nin" } else { "IN" };
                format!("{} {keyword} [{}]", a.text(), items.join(","))
            }
            Self::Defined(a) => format!("is_defined({})", a.text()),
            Self::StartsWith(a, b) => format!("STARTSWITH({}, {})", a.text(), b.text()),
            Self::Not(c) => format!("NOT ({})", c.text()),
            Self::And(a, b) => format!("({}) AND ({})", a.text(), b.text()),
            Self::Or(a, b) => format!("({}) or ({})", a.text(), b.text()),
        }
    }

    /// `Some(bool)` or `None` for undefined.
    pub(super) fn eval(&self, doc: &Value) -> Option<bool> {
        match self {
            Self::Compare(op, a, b) => {
                let o = order(&a.value(doc), &b.value(doc))?;
                Some(match op {
                    Op::Eq => o == Ordering::Equal,
                    Op::Ne => o != Ordering::Equal,
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Gt => o == Ordering::Greater,
                    Op::Ge => o != Ordering::Less,
                })
            }
            Self::In(a, list, negated) => {
                let v = a.value(doc);
                if !primitive(&v) {
                    return None;
                }
                let found = list
                    .iter()
                    .any(|t| order(&v, &t.value(doc)) == Some(Ordering::Equal));
                Some(found != *negated)
            }
            Self::Defined(a) => Some(a.value(doc) != Seen::Missing),
            Self::StartsWith(a, b) => match (a.value(doc), b.value(doc)) {
                (Seen::Json(Value::String(x)), Seen::Json(Value::String(y))) => {
                    Some(x.starts_with(&y))
                }
                _ => None,
            },
            Self::Not(c) => c.eval(doc).map(|b| !b),
            Self::And(a, b) => match (a.eval(doc), b.eval(doc)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Self::Or(a, b) => match (a.eval(doc), b.eval(doc)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
        }
    }

    /// Whether the condition selects `doc`.
    pub(super) fn selects(&self, doc: &Value) -> bool {
        self.eval(doc) == Some(true)
    }
}
