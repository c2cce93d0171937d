//! The IoT Hub query language (PROTOCOL 8): parsing, printing and evaluation of twin queries,
//! job query conditions and configuration target conditions.
//!
//! ```text
//! SELECT [TOP n] * | column [AS name] {, column [AS name]}
//!   FROM devices | devices.modules | devices.jobs
//!   [WHERE condition]
//!   [GROUP BY path]
//! column := path | COUNT() | AVG(path) | SUM(path) | MIN(path) | MAX(path)
//! ```
//!
//! [`Query::parse`] reads, checks and compiles a query; [`Query::evaluate`] runs it over any
//! sequence of [`Document`]s (twins in their REST JSON shape, module twins, or `devices.jobs`
//! rows) and yields result rows lazily; [`Query::evaluate_json`] does the same over documents
//! stored as JSON text, reading only the members the query looks at; [`Query::page`] cuts the
//! rows into pages by position, and [`Query::item_type`] gives the response's `x-ms-item-type`. [`Condition`] is the
//! `WHERE`-only form used by jobs and configurations. The syntax tree ([`Statement`],
//! [`Expr`], ...) prints back to query text that parses to the same tree.
//!
//! Semantics follow IoT Hub's documentation (PROTOCOL 8.2) and, where it is silent, Cosmos DB,
//! whose query language IoT Hub's is derived from; each such choice is documented where it is
//! made:
//!
//! - Keywords, function names and collection names are matched in any letter case; so are the
//!   top-level fields of twins and job rows (`DeviceId` is `deviceId`), while other JSON keys
//!   and all string comparisons are case-sensitive (see `fields.rs`).
//! - A missing path is `undefined`; only Boolean `true` passes a condition; comparisons are
//!   defined only between primitives of the same type, anything else is `undefined` (see
//!   `value.rs` and `eval.rs`).
//! - Aggregates and groups: see `aggregate.rs`; column names: see `fields.rs`.
//!
//! # Limits
//!
//! - Query text: at most [`MAX_QUERY_CHARS`] characters, as on IoT Hub (PROTOCOL 7).
//! - Expression nesting: at most [`MAX_DEPTH`] levels, so no input can exhaust the stack.
//!   IoT Hub does not document a nesting limit; this one is far beyond hand-written queries.
//! - `TOP n`: `n` from 0 to [`MAX_TOP`]. IoT Hub does not document a bound; this is the
//!   largest 32-bit signed integer, as Cosmos DB takes.
//!
//! # Layout
//!
//! - [`Query`] (`prepared.rs`), [`Rows`] and [`Page`] (`rows.rs`), [`Document`]
//!   (`document.rs`), [`Condition`] (`condition.rs`), [`QueryError`] and [`Position`]
//!   (`error.rs`).
//! - Text input: [`JsonRows`] (`text.rs`), reading only what a query needs (`sparse.rs`) with
//!   a JSON scanner that checks what it skips (`scan.rs`).
//! - Syntax: tokens (`lexer.rs`), the parser (`parser.rs`, `parser/expr.rs`), the rules beyond
//!   the grammar (`validate.rs`), the tree ([`Statement`] and friends, `ast.rs`), names and
//!   paths ([`Name`], [`PropertyPath`], `name.rs`) and printing (`display.rs`).
//! - Evaluation: paths to keys and column names (`fields.rs`), compilation to a plan
//!   (`compile.rs`), values and comparisons (`value.rs`), expressions (`eval.rs`), built-in
//!   functions (`functions.rs`), and grouping (`aggregate.rs`).

mod aggregate;
mod ast;
mod compile;
mod condition;
mod display;
mod document;
mod error;
mod eval;
mod fields;
mod functions;
mod lexer;
mod name;
mod parser;
mod prepared;
mod rows;
mod scan;
mod sparse;
mod text;
mod validate;
mod value;

#[cfg(test)]
mod tests;

pub use ast::{
    Aggregate, ArithmeticOp, Collection, CompareOp, Constant, Expr, Function, Number, Projection,
    SelectItem, SelectValue, Statement,
};
pub use condition::Condition;
pub use document::Document;
pub use error::{Position, QueryError};
pub use name::{Name, PropertyPath};
pub use prepared::{ItemType, Query};
pub use rows::{Page, Rows};
pub use text::JsonRows;

/// Longest query text accepted, in characters (IoT Hub's documented limit).
pub const MAX_QUERY_CHARS: usize = 8192;

/// Deepest nesting of expressions accepted.
pub const MAX_DEPTH: usize = 64;

/// Largest `TOP` accepted.
pub const MAX_TOP: u32 = 2_147_483_647;
