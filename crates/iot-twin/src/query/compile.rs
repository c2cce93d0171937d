//! From a syntax tree to a [`Plan`]: paths resolved to keys, constants converted, columns named.

use serde_json::Value;

use super::ast::{
    Aggregate, Collection, Constant, Expr, Projection, SelectItem, SelectValue, Statement,
};
use super::eval::{Const, InList, Node};
use super::fields::{column_names, resolve};
use super::name::PropertyPath;
use super::value::number_json;

/// Keys to walk from the document root.
pub(crate) type Keys = Box<[Box<str>]>;

/// A compiled query.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The `WHERE` condition.
    pub(crate) filter: Option<Node>,
    /// What rows hold.
    pub(crate) output: Output,
    /// `TOP n`.
    pub(crate) top: Option<usize>,
}

/// What the rows of a query hold.
#[derive(Debug, Clone)]
pub(crate) enum Output {
    /// `SELECT *`: the documents.
    Documents,
    /// One object per document with these columns.
    Columns(Box<[Column]>),
    /// One object per group.
    Groups(Groups),
}

/// A column: its key in the row and the path of its value.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: Box<str>,
    pub(crate) keys: Keys,
}

/// Grouping: the `GROUP BY` path (`None`: one group of all selected documents) and the
/// columns of each group's row.
#[derive(Debug, Clone)]
pub(crate) struct Groups {
    pub(crate) key: Option<Keys>,
    pub(crate) columns: Box<[(Box<str>, Measure)]>,
}

/// What a column of a group's row holds.
#[derive(Debug, Clone)]
pub(crate) enum Measure {
    /// The group's `GROUP BY` value.
    Key,
    /// `COUNT()`
    Count,
    /// `AVG`, `SUM`, `MIN` or `MAX` of a path.
    Of(Aggregate, Keys),
}

/// The plan for a statement the parser accepted.
pub(crate) fn compile_statement(statement: &Statement) -> Plan {
    let from = statement.from;
    let output = match &statement.projection {
        Projection::All => Output::Documents,
        Projection::Items(items) => compile_items(items, statement.group_by.as_ref(), from),
    };
    Plan {
        filter: statement.filter.as_ref().map(|e| compile_expr(e, from)),
        output,
        top: statement
            .top
            .map(|top| usize::try_from(top).unwrap_or(usize::MAX)),
    }
}

fn compile_items(
    items: &[SelectItem],
    group_by: Option<&PropertyPath>,
    from: Collection,
) -> Output {
    let names = column_names(items, from).into_iter().map(Box::from);
    let grouped = group_by.is_some()
        || items
            .iter()
            .any(|i| !matches!(i.value, SelectValue::Path(_)));
    if !grouped {
        let columns = names
            .zip(items)
            .filter_map(|(name, item)| match &item.value {
                SelectValue::Path(path) => Some(Column {
                    name,
                    keys: keys(path, from),
                }),
                _ => None,
            });
        return Output::Columns(columns.collect());
    }
    let columns = names.zip(items).map(|(name, item)| {
        let measure = match &item.value {
            SelectValue::Path(_) => Measure::Key,
            SelectValue::Count => Measure::Count,
            SelectValue::Aggregate(aggregate, path) => Measure::Of(*aggregate, keys(path, from)),
        };
        (name, measure)
    });
    Output::Groups(Groups {
        key: group_by.map(|path| keys(path, from)),
        columns: columns.collect(),
    })
}

/// The keys a path walks in documents of `from`.
pub(crate) fn keys(path: &PropertyPath, from: Collection) -> Keys {
    resolve(path, from).into_iter().map(Box::from).collect()
}

/// The node for an expression. Recursion follows the parser's depth limit, except along chains
/// of `AND` and `OR`, which are walked in a loop and flattened.
pub(crate) fn compile_expr(expr: &Expr, from: Collection) -> Node {
    let compile = |e: &Expr| Box::new(compile_expr(e, from));
    match expr {
        Expr::Constant(c) => Node::Const(compile_constant(c)),
        Expr::Path(path) => Node::Path(keys(path, from)),
        Expr::Call(function, args) => Node::Call(
            *function,
            args.iter().map(|a| compile_expr(a, from)).collect(),
        ),
        Expr::Not(operand) => Node::Not(compile(operand)),
        Expr::Negate(operand) => Node::Negate(compile(operand)),
        Expr::And(..) => Node::And(flatten(expr, from)),
        Expr::Or(..) => Node::Or(flatten(expr, from)),
        Expr::Arithmetic(op, left, right) => Node::Arithmetic(*op, compile(left), compile(right)),
        Expr::Compare(op, left, right) => Node::Compare(*op, compile(left), compile(right)),
        Expr::In {
            value,
            list,
            negated,
        } => Node::In(
            compile(value),
            InList::new(list.iter().map(compile_constant).collect()),
            *negated,
        ),
    }
}

/// The operands of an `AND` (or `OR`) chain, with nested chains of the same operator spliced in.
fn flatten(expr: &Expr, from: Collection) -> Box<[Node]> {
    let and = matches!(expr, Expr::And(..));
    let mut out = Vec::new();
    for operand in expr.chain() {
        match (and, compile_expr(operand, from)) {
            (true, Node::And(inner)) | (false, Node::Or(inner)) => out.extend(inner.into_vec()),
            (_, other) => out.push(other),
        }
    }
    out.into_boxed_slice()
}

/// The compiled form of a constant.
pub(crate) fn compile_constant(constant: &Constant) -> Const {
    match constant {
        Constant::Undefined => Const::Undefined,
        Constant::Null => Const::Null,
        Constant::Bool(b) => Const::Bool(*b),
        Constant::Number(n) => Const::Number(n.get()),
        Constant::String(s) => Const::Str(s.as_str().into()),
        Constant::Array(items) => Const::Json(Value::Array(
            items.iter().filter_map(constant_json).collect(),
        )),
    }
}

/// A constant as JSON; `None` for `undefined`, which JSON cannot hold (so array constants
/// leave `undefined` elements out).
fn constant_json(constant: &Constant) -> Option<Value> {
    Some(match constant {
        Constant::Undefined => return None,
        Constant::Null => Value::Null,
        Constant::Bool(b) => Value::Bool(*b),
        Constant::Number(n) => number_json(n.get()),
        Constant::String(s) => Value::String(s.clone()),
        Constant::Array(items) => Value::Array(items.iter().filter_map(constant_json).collect()),
    })
}
