//! Query text from a syntax tree: [`fmt::Display`] for the tree's types.
//!
//! Keywords and function names are printed in upper case, strings in single quotes, and
//! parentheses only where precedence needs them, so that the text parses back to the same tree.
//! Chains of `AND` and `OR` are walked in a loop, so a long chain does not deepen the stack.

use std::fmt::{self, Write};

use super::ast::{
    ArithmeticOp, Collection, Constant, Expr, Number, Projection, SelectItem, SelectValue,
    Statement,
};

/// Binding strength of an expression's outermost operator: higher binds tighter.
fn precedence(expr: &Expr) -> u8 {
    match expr {
        Expr::Or(..) => 1,
        Expr::And(..) => 2,
        Expr::Not(_) => 3,
        Expr::Compare(..) | Expr::In { .. } => 4,
        Expr::Arithmetic(ArithmeticOp::Add | ArithmeticOp::Subtract, ..) => 5,
        Expr::Arithmetic(..) => 6,
        Expr::Negate(_) => 7,
        Expr::Constant(_) | Expr::Path(_) | Expr::Call(..) => 8,
    }
}

/// Writes `expr`, in parentheses when its precedence is below `min`.
fn write_operand(f: &mut fmt::Formatter<'_>, expr: &Expr, min: u8) -> fmt::Result {
    if precedence(expr) < min {
        write!(f, "({expr})")
    } else {
        write!(f, "{expr}")
    }
}

fn write_chain(f: &mut fmt::Formatter<'_>, expr: &Expr, keyword: &str) -> fmt::Result {
    let own = precedence(expr);
    for (i, operand) in expr.chain().into_iter().enumerate() {
        if i == 0 {
            write_operand(f, operand, own)?;
        } else {
            write!(f, " {keyword} ")?;
            write_operand(f, operand, own + 1)?;
        }
    }
    Ok(())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Constant(constant) => write!(f, "{constant}"),
            Self::Path(path) => write!(f, "{path}"),
            Self::Call(function, args) => {
                write!(f, "{}(", function.name())?;
                write_list(f, args)?;
                f.write_char(')')
            }
            Self::Not(operand) => {
                f.write_str("NOT ")?;
                write_operand(f, operand, 3)
            }
            Self::Negate(operand) => {
                f.write_char('-')?;
                // `-(1)` keeps a negated literal apart from the literal `-1`.
                let literal = matches!(**operand, Self::Constant(Constant::Number(_)));
                write_operand(f, operand, if literal { 9 } else { 7 })
            }
            Self::And(..) => write_chain(f, self, "AND"),
            Self::Or(..) => write_chain(f, self, "OR"),
            Self::Arithmetic(op, left, right) => {
                let own = precedence(self);
                write_operand(f, left, own)?;
                write!(f, " {} ", op.as_str())?;
                write_operand(f, right, own + 1)
            }
            Self::Compare(op, left, right) => {
                write_operand(f, left, 5)?;
                write!(f, " {} ", op.as_str())?;
                write_operand(f, right, 5)
            }
            Self::In {
                value,
                list,
                negated,
            } => {
                write_operand(f, value, 5)?;
                f.write_str(if *negated { " NIN " } else { " IN " })?;
                write_array(f, list)
            }
        }
    }
}

fn write_list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// `[a, b]`, with a space after `[` when the first element is an array (`[[` quotes a name).
fn write_array(f: &mut fmt::Formatter<'_>, items: &[Constant]) -> fmt::Result {
    f.write_char('[')?;
    if matches!(items.first(), Some(Constant::Array(_))) {
        f.write_char(' ')?;
    }
    write_list(f, items)?;
    f.write_char(']')
}

impl fmt::Display for Constant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Undefined => f.write_str("undefined"),
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => write_string(f, s),
            Self::Array(items) => write_array(f, items),
        }
    }
}

/// A single-quoted string literal; control characters are written as `\uXXXX` so the text stays
/// on one line.
fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

/// Largest magnitude printed as an integer rather than in `f64` notation.
const PLAIN_INTEGER_LIMIT: f64 = 1e15;

impl fmt::Display for Number {
    /// Integers below 10^15 without a fraction (`42`), other numbers in the shortest form that
    /// reads back to the same `f64` (`0.1`, `1e300`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.get();
        if value.fract() == 0.0 && value.abs() < PLAIN_INTEGER_LIMIT {
            // Exact: an integer below 10^15 fits an i64.
            #[allow(clippy::cast_possible_truncation)]
            let integer = value as i64;
            write!(f, "{integer}")
        } else {
            write!(f, "{value:?}")
        }
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for SelectValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(path) => write!(f, "{path}"),
            Self::Count => f.write_str("COUNT()"),
            Self::Aggregate(aggregate, path) => write!(f, "{}({path})", aggregate.as_str()),
        }
    }
}

impl fmt::Display for SelectItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)?;
        match &self.alias {
            Some(alias) => write!(f, " AS {alias}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Projection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_char('*'),
            Self::Items(items) => write_list(f, items),
        }
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        if let Some(top) = self.top {
            write!(f, "TOP {top} ")?;
        }
        write!(f, "{} FROM {}", self.projection, self.from)?;
        if let Some(filter) = &self.filter {
            write!(f, " WHERE {filter}")?;
        }
        if let Some(group_by) = &self.group_by {
            write!(f, " GROUP BY {group_by}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::ast::CompareOp;
    use crate::query::name::PropertyPath;

    fn path(text: &str) -> Box<Expr> {
        Box::new(Expr::Path(text.parse::<PropertyPath>().unwrap()))
    }

    fn number(value: f64) -> Box<Expr> {
        Box::new(Expr::Constant(Constant::Number(
            Number::new(value).unwrap(),
        )))
    }

    #[test]
    fn parentheses_only_where_needed() {
        let or = Expr::Or(path("a"), path("b"));
        let and = Expr::And(Box::new(or), path("c"));
        assert_eq!(and.to_string(), "(a OR b) AND c");
        let right = Expr::And(path("c"), Box::new(Expr::And(path("a"), path("b"))));
        assert_eq!(right.to_string(), "c AND (a AND b)");
        let left = Expr::And(Box::new(Expr::And(path("a"), path("b"))), path("c"));
        assert_eq!(left.to_string(), "a AND b AND c");
        let not = Expr::Compare(CompareOp::Eq, Box::new(Expr::Not(path("a"))), path("b"));
        assert_eq!(not.to_string(), "(NOT a) = b");
        let sub = Expr::Arithmetic(
            ArithmeticOp::Subtract,
            path("a"),
            Box::new(Expr::Arithmetic(
                ArithmeticOp::Subtract,
                path("b"),
                number(-1.0),
            )),
        );
        assert_eq!(sub.to_string(), "a - (b - -1)");
        assert_eq!(Expr::Negate(number(1.0)).to_string(), "-(1)");
        assert_eq!(Expr::Negate(path("x")).to_string(), "-x");
    }

    #[test]
    fn constants_print_as_literals() {
        let s = Constant::String("it's a\\b\n".into());
        assert_eq!(s.to_string(), r"'it\'s a\\b\u000a'");
        let nested = Constant::Array(vec![Constant::Array(vec![]), Constant::Null]);
        assert_eq!(nested.to_string(), "[ [], null]");
        let n = |v: f64| Number::new(v).unwrap().to_string();
        assert_eq!(n(42.0), "42");
        assert_eq!(n(-0.0), "0");
        assert_eq!(n(0.1), "0.1");
        assert_eq!(n(1e300), "1e300");
        assert_eq!(n(-2.5), "-2.5");
    }
}
