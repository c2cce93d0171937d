//! Compiled expressions ([`Node`]) and their evaluation over a JSON document.
//!
//! A node tree is built once per query: paths are split into keys (in wire spelling), chains
//! of `AND`/`OR` are flattened, string members of `IN` lists are sorted for binary search.
//! Evaluating borrows strings and subtrees from the document and the tree, so testing a
//! condition allocates nothing unless a string function builds a new string.
//!
//! Logic is three-valued, as in Cosmos DB whose query language IoT Hub's follows: `NOT` turns
//! `true` into `false` and back and leaves anything else `undefined`; `a AND b` is `false` when
//! either side is `false`, `true` when both are `true`, else `undefined`; `OR` likewise with the
//! roles swapped. Arithmetic takes numbers only; division or remainder by zero and results that
//! are not finite numbers are `undefined`. `v IN [...]` is `undefined` when `v` is not a
//! primitive, else whether some element equals it (same type, same value); `NIN` is its
//! negation.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::ast::{ArithmeticOp, CompareOp, Function};
use super::functions::call;
use super::value::{Val, compare};

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A constant.
    Const(Const),
    /// The value at a path: the keys to walk.
    Path(Box<[Box<str>]>),
    /// `NOT`
    Not(Box<Self>),
    /// Unary `-`
    Negate(Box<Self>),
    /// `AND` over two or more operands.
    And(Box<[Self]>),
    /// `OR` over two or more operands.
    Or(Box<[Self]>),
    /// `+ - * / %`
    Arithmetic(ArithmeticOp, Box<Self>, Box<Self>),
    /// `= != < <= > >=`
    Compare(CompareOp, Box<Self>, Box<Self>),
    /// `IN` (or `NIN` when the flag is set).
    In(Box<Self>, InList, bool),
    /// A function call.
    Call(Function, Box<[Self]>),
}

/// A compiled constant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Const {
    /// `undefined`
    Undefined,
    /// `null`
    Null,
    /// A Boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Str(Box<str>),
    /// An array constant, as JSON.
    Json(Value),
}

impl Const {
    /// The constant as a value borrowing from it.
    pub(crate) fn val(&self) -> Val<'_> {
        match self {
            Self::Undefined => Val::Undefined,
            Self::Null => Val::Null,
            Self::Bool(b) => Val::Bool(*b),
            Self::Number(n) => Val::Number(*n),
            Self::Str(s) => Val::Str(Cow::Borrowed(s)),
            Self::Json(v) => Val::Composite(v),
        }
    }
}

/// The constants of an `IN` list: strings sorted for binary search, the rest in a list.
#[derive(Debug, Clone)]
pub(crate) struct InList {
    strings: Box<[Box<str>]>,
    others: Box<[Const]>,
}

impl InList {
    /// A list of constants.
    pub(crate) fn new(constants: Vec<Const>) -> Self {
        let mut strings = Vec::new();
        let mut others = Vec::new();
        for constant in constants {
            match constant {
                Const::Str(s) => strings.push(s),
                other => others.push(other),
            }
        }
        strings.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Self {
            strings: strings.into(),
            others: others.into(),
        }
    }

    /// Whether `value` is in the list; `None` when `value` is not a primitive.
    fn contains(&self, value: &Val<'_>) -> Option<bool> {
        if let Val::Str(s) = value {
            let s = s.as_bytes();
            return Some(
                self.strings
                    .binary_search_by(|probe| probe.as_bytes().cmp(s))
                    .is_ok(),
            );
        }
        if !value.is_primitive() {
            return None;
        }
        Some(
            self.others
                .iter()
                .any(|c| compare(value, &c.val()) == Some(Ordering::Equal)),
        )
    }
}

/// The node at `path` in `document`, walking object members only.
pub(crate) fn lookup<'a>(document: &'a Value, path: &[Box<str>]) -> Option<&'a Value> {
    path.iter()
        .try_fold(document, |node, key| member(node.as_object()?, key))
}

/// Objects with at most this many members are searched by a scan comparing lengths first.
const SCAN_MEMBERS: usize = 32;

/// The member `key` of `object`.
///
/// A map's keys are `String`s whose bytes live apart from the map's nodes, so the tree search
/// of `Map::get` follows a pointer for every key it compares, which for twins out of cache
/// costs a cache miss each. In small objects (twins have a few to a few dozen members per
/// level) a scan that compares the lengths held in the nodes first, and bytes only when they
/// match, reads far less memory.
fn member<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if object.len() > SCAN_MEMBERS {
        return object.get(key);
    }
    object
        .iter()
        .find(|(k, _)| k.len() == key.len() && k.as_str() == key)
        .map(|(_, v)| v)
}

impl Node {
    /// Whether `document` meets this condition (evaluates to Boolean `true`).
    pub(crate) fn test(&self, document: &Value) -> bool {
        self.eval(document).is_true()
    }

    /// The value of this expression over `document`.
    pub(crate) fn eval<'a>(&'a self, document: &'a Value) -> Val<'a> {
        match self {
            Self::Const(c) => c.val(),
            Self::Path(path) => Val::of(lookup(document, path)),
            Self::Not(operand) => match operand.eval(document) {
                Val::Bool(b) => Val::Bool(!b),
                _ => Val::Undefined,
            },
            Self::Negate(operand) => match operand.eval(document) {
                Val::Number(n) => Val::number(-n),
                _ => Val::Undefined,
            },
            Self::And(operands) => logic(operands, document, false),
            Self::Or(operands) => logic(operands, document, true),
            Self::Arithmetic(op, left, right) => {
                match (left.eval(document), right.eval(document)) {
                    (Val::Number(a), Val::Number(b)) => arithmetic(*op, a, b),
                    _ => Val::Undefined,
                }
            }
            Self::Compare(op, left, right) => {
                let ordering = compare(&left.eval(document), &right.eval(document));
                ordering.map_or(Val::Undefined, |o| Val::Bool(holds(*op, o)))
            }
            Self::In(value, list, negated) => list
                .contains(&value.eval(document))
                .map_or(Val::Undefined, |found| Val::Bool(found != *negated)),
            Self::Call(function, args) => call(*function, args, document),
        }
    }
}

/// `AND` (`decisive` = false) or `OR` (`decisive` = true): the decisive Boolean wins, all of the
/// other Boolean give it, anything else is `undefined`.
fn logic<'a>(operands: &'a [Node], document: &'a Value, decisive: bool) -> Val<'a> {
    let mut all_other = true;
    for operand in operands {
        match operand.eval(document) {
            Val::Bool(b) if b == decisive => return Val::Bool(decisive),
            Val::Bool(_) => {}
            _ => all_other = false,
        }
    }
    if all_other {
        Val::Bool(!decisive)
    } else {
        Val::Undefined
    }
}

fn arithmetic(op: ArithmeticOp, a: f64, b: f64) -> Val<'static> {
    match op {
        ArithmeticOp::Add => Val::number(a + b),
        ArithmeticOp::Subtract => Val::number(a - b),
        ArithmeticOp::Multiply => Val::number(a * b),
        ArithmeticOp::Divide if b != 0.0 => Val::number(a / b),
        ArithmeticOp::Remainder if b != 0.0 => Val::number(a % b),
        ArithmeticOp::Divide | ArithmeticOp::Remainder => Val::Undefined,
    }
}

/// Whether `ordering` satisfies `op`.
fn holds(op: CompareOp, ordering: Ordering) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(keys: &[&str]) -> Box<Node> {
        Box::new(Node::Path(keys.iter().map(|k| Box::from(*k)).collect()))
    }

    fn constant(c: Const) -> Box<Node> {
        Box::new(Node::Const(c))
    }

    #[test]
    fn three_valued_logic() {
        let doc = json!({});
        let t = Node::Const(Const::Bool(true));
        let f = Node::Const(Const::Bool(false));
        let u = Node::Const(Const::Undefined);
        let and = |a: &Node, b: &Node| Node::And(vec![a.clone(), b.clone()].into());
        let or = |a: &Node, b: &Node| Node::Or(vec![a.clone(), b.clone()].into());
        assert_eq!(and(&u, &f).eval(&doc), Val::Bool(false));
        assert_eq!(and(&u, &t).eval(&doc), Val::Undefined);
        assert_eq!(and(&t, &t).eval(&doc), Val::Bool(true));
        assert_eq!(or(&u, &t).eval(&doc), Val::Bool(true));
        assert_eq!(or(&u, &f).eval(&doc), Val::Undefined);
        assert_eq!(or(&f, &f).eval(&doc), Val::Bool(false));
        assert_eq!(Node::Not(Box::new(u)).eval(&doc), Val::Undefined);
    }

    #[test]
    fn comparisons_and_membership() {
        let doc = json!({"a": {"b": "x"}, "n": 2, "z": null});
        let eq = Node::Compare(
            CompareOp::Eq,
            path(&["a", "b"]),
            constant(Const::Str("x".into())),
        );
        assert!(eq.test(&doc));
        let mixed = Node::Compare(
            CompareOp::Ne,
            path(&["n"]),
            constant(Const::Str("2".into())),
        );
        assert_eq!(mixed.eval(&doc), Val::Undefined);
        let missing = Node::Compare(CompareOp::Ne, path(&["a", "c"]), constant(Const::Null));
        assert_eq!(missing.eval(&doc), Val::Undefined);
        let null = Node::Compare(CompareOp::Eq, path(&["z"]), constant(Const::Null));
        assert!(null.test(&doc));
        let list = || {
            InList::new(vec![
                Const::Str("y".into()),
                Const::Str("x".into()),
                Const::Number(2.0),
            ])
        };
        assert!(Node::In(path(&["a", "b"]), list(), false).test(&doc));
        assert!(Node::In(path(&["n"]), list(), false).test(&doc));
        assert!(!Node::In(path(&["n"]), list(), true).test(&doc));
        assert!(Node::In(path(&["z"]), list(), true).test(&doc));
        assert_eq!(
            Node::In(path(&["a"]), list(), true).eval(&doc),
            Val::Undefined
        );
        assert_eq!(
            Node::In(path(&["q"]), list(), true).eval(&doc),
            Val::Undefined
        );
    }

    #[test]
    fn arithmetic_stays_finite() {
        let doc = json!({"n": 7});
        let op = |op, b: f64| Node::Arithmetic(op, path(&["n"]), constant(Const::Number(b)));
        assert_eq!(
            op(ArithmeticOp::Remainder, 4.0).eval(&doc),
            Val::Number(3.0)
        );
        assert_eq!(op(ArithmeticOp::Divide, 2.0).eval(&doc), Val::Number(3.5));
        assert_eq!(op(ArithmeticOp::Divide, 0.0).eval(&doc), Val::Undefined);
        assert_eq!(op(ArithmeticOp::Remainder, 0.0).eval(&doc), Val::Undefined);
        assert_eq!(op(ArithmeticOp::Multiply, 1e308).eval(&doc), Val::Undefined);
        let negate = Node::Negate(path(&["n"]));
        assert_eq!(negate.eval(&doc), Val::Number(-7.0));
        assert_eq!(Node::Negate(path(&["q"])).eval(&doc), Val::Undefined);
    }

    #[test]
    fn members_are_found_in_small_and_large_objects() {
        for size in [0, 1, SCAN_MEMBERS, SCAN_MEMBERS + 1, 200] {
            let object: Map<String, Value> =
                (0..size).map(|i| (format!("k{i}"), json!(i))).collect();
            for i in 0..size {
                assert_eq!(member(&object, &format!("k{i}")), Some(&json!(i)));
            }
            assert_eq!(member(&object, "k"), None);
            assert_eq!(member(&object, &format!("k{size}")), None);
        }
    }

    #[test]
    fn lookup_walks_objects_only() {
        let doc = json!({"a": {"b": [1, 2]}, "s": "t"});
        assert_eq!(
            lookup(&doc, &["a".into(), "b".into()]),
            Some(&json!([1, 2]))
        );
        assert_eq!(lookup(&doc, &["s".into(), "x".into()]), None);
        assert_eq!(lookup(&doc, &[]), Some(&doc));
    }
}
