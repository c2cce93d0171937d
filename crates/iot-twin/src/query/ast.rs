//! The syntax tree of a query, as the parser produces it and [`std::fmt::Display`] prints it.
//!
//! The tree keeps what was written where it matters to the reader (paths in their letter case,
//! `AS` names, parentheses only where they change the meaning) and forgets what does not (the
//! letter case of keywords and function names, `<>` versus `!=`, `STARTS_WITH` versus
//! `STARTSWITH`). Printing a tree gives query text that parses back to the same tree.

use super::name::{Name, PropertyPath};

/// A whole query: `SELECT [TOP n] ... FROM ... [WHERE ...] [GROUP BY ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `TOP n`: the most rows the query returns.
    pub top: Option<u32>,
    /// What each row holds.
    pub projection: Projection,
    /// The collection queried.
    pub from: Collection,
    /// `WHERE`: the condition a document must meet (evaluate to `true`) to be selected.
    pub filter: Option<Expr>,
    /// `GROUP BY`: the path whose values group the selected documents.
    pub group_by: Option<PropertyPath>,
}

/// The collection a query reads: device twins, module twins, or per-device job rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Collection {
    /// `devices`: device twins.
    Devices,
    /// `devices.modules`: module twins.
    Modules,
    /// `devices.jobs`: one row per device and job (PROTOCOL 8.3 shape).
    DeviceJobs,
}

impl Collection {
    /// The collection's name in a query.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Devices => "devices",
            Self::Modules => "devices.modules",
            Self::DeviceJobs => "devices.jobs",
        }
    }
}

/// The `SELECT` list.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    /// `SELECT *`: the documents themselves.
    All,
    /// One or more columns.
    Items(Vec<SelectItem>),
}

/// One column of the `SELECT` list, with its `AS` name.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    /// What the column holds.
    pub value: SelectValue,
    /// `AS name`.
    pub alias: Option<Name>,
}

/// What a column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectValue {
    /// The value at a path.
    Path(PropertyPath),
    /// `COUNT()`: the number of documents in the group.
    Count,
    /// `AVG(path)`, `SUM(path)`, `MIN(path)` or `MAX(path)`.
    Aggregate(Aggregate, PropertyPath),
}

/// An aggregate over a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregate {
    /// `AVG`
    Avg,
    /// `SUM`
    Sum,
    /// `MIN`
    Min,
    /// `MAX`
    Max,
}

impl Aggregate {
    /// The aggregate's name in a query.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Avg => "AVG",
            Self::Sum => "SUM",
            Self::Min => "MIN",
            Self::Max => "MAX",
        }
    }
}

/// An expression of a `WHERE` clause or a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Constant(Constant),
    /// The value at a path in the document.
    Path(PropertyPath),
    /// A built-in function applied to arguments.
    Call(Function, Vec<Self>),
    /// `NOT e`
    Not(Box<Self>),
    /// `-e`
    Negate(Box<Self>),
    /// `a AND b`
    And(Box<Self>, Box<Self>),
    /// `a OR b`
    Or(Box<Self>, Box<Self>),
    /// `a + b`, `a - b`, `a * b`, `a / b`, `a % b`
    Arithmetic(ArithmeticOp, Box<Self>, Box<Self>),
    /// `a = b`, `a != b`, `a < b`, ...
    Compare(CompareOp, Box<Self>, Box<Self>),
    /// `e IN [..]` or, when `negated`, `e NIN [..]`.
    In {
        /// The value looked up.
        value: Box<Self>,
        /// The constants it is compared with.
        list: Vec<Constant>,
        /// `NIN` rather than `IN`.
        negated: bool,
    },
}

impl Expr {
    /// The operands of a left-leaning chain of `AND` (or `OR`), leftmost first; just `self`
    /// for other expressions. Walks the chain in a loop, however long it is.
    pub(crate) fn chain(&self) -> Vec<&Self> {
        let mut rights = Vec::new();
        let mut at = self;
        while let (Self::And(..), Self::And(left, right)) | (Self::Or(..), Self::Or(left, right)) =
            (self, at)
        {
            rights.push(&**right);
            at = left;
        }
        rights.push(at);
        rights.reverse();
        rights
    }
}

/// A constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Constant {
    /// `undefined`: no value, as for a missing path.
    Undefined,
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array constant `[c, ...]`.
    Array(Vec<Self>),
}

/// A finite number, the only kind a query can write or compute.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Number(f64);

impl Number {
    /// The number, or `None` for NaN and the infinities.
    pub fn new(value: f64) -> Option<Self> {
        value.is_finite().then_some(Self(value))
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }

    /// The number with its sign flipped.
    pub(crate) fn negated(self) -> Self {
        Self(-self.0)
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithmeticOp {
    /// `+`
    Add,
    /// `-`
    Subtract,
    /// `*`
    Multiply,
    /// `/`
    Divide,
    /// `%`
    Remainder,
}

impl ArithmeticOp {
    /// The operator's symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Subtract => "-",
            Self::Multiply => "*",
            Self::Divide => "/",
            Self::Remainder => "%",
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=` (also written `<>`)
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator's symbol (`!=` for both spellings of "not equal").
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// A built-in function.
///
/// Twin and job queries on IoT Hub document `IS_DEFINED` and accept `STARTSWITH` and `ENDSWITH`
/// (PROTOCOL 8.2); the others are the functions IoT Hub documents for routing queries, which
/// this implementation also accepts in twin queries. Names are matched in any letter case;
/// `STARTS_WITH` and `ENDS_WITH` are read as `STARTSWITH` and `ENDSWITH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Function {
    /// `IS_DEFINED(x)`: whether `x` has a value, `null` included.
    IsDefined,
    /// `IS_NULL(x)`
    IsNull,
    /// `IS_BOOL(x)`
    IsBool,
    /// `IS_NUMBER(x)`
    IsNumber,
    /// `IS_STRING(x)`
    IsString,
    /// `IS_OBJECT(x)`
    IsObject,
    /// `IS_ARRAY(x)`
    IsArray,
    /// `IS_PRIMITIVE(x)`: string, number, Boolean or `null`.
    IsPrimitive,
    /// `STARTSWITH(s, prefix)`
    StartsWith,
    /// `ENDSWITH(s, suffix)`
    EndsWith,
    /// `CONTAINS(s, part)`
    Contains,
    /// `LOWER(s)`
    Lower,
    /// `UPPER(s)`
    Upper,
    /// `LENGTH(s)`: the number of characters.
    Length,
    /// `CONCAT(s, s, ...)`: two or more strings.
    Concat,
    /// `SUBSTRING(s, start[, length])`, zero-based, in characters.
    Substring,
    /// `INDEX_OF(s, part)`: the character position of `part` in `s`, or -1.
    IndexOf,
    /// `AS_NUMBER(x)`: a number, or a string holding a JSON number, as a number.
    AsNumber,
    /// `ABS(x)`
    Abs,
    /// `CEILING(x)`
    Ceiling,
    /// `FLOOR(x)`
    Floor,
    /// `ROUND(x)`: to the nearest integer, halves away from zero.
    Round,
    /// `EXP(x)`: e^x.
    Exp,
    /// `POWER(x, y)`: x^y.
    Power,
    /// `SIGN(x)`: -1, 0 or 1.
    Sign,
    /// `SQRT(x)`: the square root.
    Sqrt,
    /// `SQUARE(x)`: x * x.
    Square,
}

/// Every function with its printed name and the other spellings read as it.
const FUNCTIONS: [(Function, &str, &str); 27] = [
    (Function::IsDefined, "IS_DEFINED", ""),
    (Function::IsNull, "IS_NULL", ""),
    (Function::IsBool, "IS_BOOL", ""),
    (Function::IsNumber, "IS_NUMBER", ""),
    (Function::IsString, "IS_STRING", ""),
    (Function::IsObject, "IS_OBJECT", ""),
    (Function::IsArray, "IS_ARRAY", ""),
    (Function::IsPrimitive, "IS_PRIMITIVE", ""),
    (Function::StartsWith, "STARTSWITH", "STARTS_WITH"),
    (Function::EndsWith, "ENDSWITH", "ENDS_WITH"),
    (Function::Contains, "CONTAINS", ""),
    (Function::Lower, "LOWER", ""),
    (Function::Upper, "UPPER", ""),
    (Function::Length, "LENGTH", ""),
    (Function::Concat, "CONCAT", ""),
    (Function::Substring, "SUBSTRING", ""),
    (Function::IndexOf, "INDEX_OF", ""),
    (Function::AsNumber, "AS_NUMBER", ""),
    (Function::Abs, "ABS", ""),
    (Function::Ceiling, "CEILING", ""),
    (Function::Floor, "FLOOR", ""),
    (Function::Round, "ROUND", ""),
    (Function::Exp, "EXP", ""),
    (Function::Power, "POWER", ""),
    (Function::Sign, "SIGN", ""),
    (Function::Sqrt, "SQRT", ""),
    (Function::Square, "SQUARE", ""),
];

impl Function {
    /// The function for a name in any letter case, either spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        FUNCTIONS
            .iter()
            .find(|(_, printed, other)| {
                printed.eq_ignore_ascii_case(name)
                    || (!other.is_empty() && other.eq_ignore_ascii_case(name))
            })
            .map(|(function, _, _)| *function)
    }

    /// The name printed for the function.
    pub fn name(self) -> &'static str {
        FUNCTIONS
            .iter()
            .find(|(function, _, _)| *function == self)
            .map_or("", |(_, printed, _)| printed)
    }

    /// The smallest and largest number of arguments (`None`: no upper bound), and how an error
    /// message says it.
    pub(crate) fn arity(self) -> (usize, Option<usize>, &'static str) {
        match self {
            Self::StartsWith | Self::EndsWith | Self::Contains | Self::IndexOf | Self::Power => {
                (2, Some(2), "2 arguments")
            }
            Self::Concat => (2, None, "2 or more arguments"),
            Self::Substring => (2, Some(3), "2 or 3 arguments"),
            _ => (1, Some(1), "1 argument"),
        }
    }

    /// Every function, for tests and documentation.
    pub fn all() -> impl Iterator<Item = Self> {
        FUNCTIONS.iter().map(|(function, _, _)| *function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_found_by_either_spelling() {
        assert_eq!(
            Function::from_name("startswith"),
            Some(Function::StartsWith)
        );
        assert_eq!(
            Function::from_name("Starts_With"),
            Some(Function::StartsWith)
        );
        assert_eq!(Function::from_name("is_defined"), Some(Function::IsDefined));
        assert_eq!(Function::from_name("nope"), None);
        assert_eq!(Function::from_name(""), None);
        for function in Function::all() {
            assert_eq!(Function::from_name(function.name()), Some(function));
        }
        assert_eq!(Function::all().count(), FUNCTIONS.len());
    }

    #[test]
    fn numbers_are_finite() {
        assert_eq!(Number::new(1.5).map(Number::get), Some(1.5));
        assert!(Number::new(f64::NAN).is_none());
        assert!(Number::new(f64::NEG_INFINITY).is_none());
    }
}
