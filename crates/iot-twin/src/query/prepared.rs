//! [`Query`]: a parsed and compiled query, ready to run over documents any number of times.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::ast::{Collection, Projection, Statement};
use super::compile::{Output, Plan, compile_statement};
use super::parser::parse_statement;
use super::rows::{Page, Rows};
use super::sparse::Needs;
use super::text::JsonRows;
use super::{Document, QueryError};

/// A query of the IoT Hub query language, parsed, checked and compiled.
///
/// ```
/// use iot_twin::query::{ItemType, Query};
/// use serde_json::json;
///
/// let twins = vec![
///     json!({"deviceId": "d1", "tags": {"location": {"region": "US"}}}),
///     json!({"deviceId": "d2", "tags": {"location": {"region": "EU"}}}),
///     json!({"deviceId": "d3", "tags": {"location": {"region": "US"}}}),
/// ];
/// let query = Query::parse("SELECT DeviceId FROM devices WHERE tags.location.region = 'US'")?;
/// assert_eq!(query.item_type(), ItemType::Raw);
/// let rows: Vec<_> = query.evaluate(&twins).collect();
/// assert_eq!(rows, [json!({"deviceId": "d1"}), json!({"deviceId": "d3"})]);
///
/// let count = Query::parse("SELECT COUNT() AS total FROM devices")?;
/// assert_eq!(count.evaluate(&twins).collect::<Vec<_>>(), [json!({"total": 3})]);
///
/// // Pages by position, as the hub's continuation tokens do.
/// let all = Query::parse("SELECT * FROM devices")?;
/// let page = all.page(&twins, 0, 2);
/// assert_eq!((page.items.len(), page.next), (2, Some(2)));
/// assert_eq!(all.page(&twins, 2, 2).next, None);
/// # Ok::<(), iot_twin::query::QueryError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Query {
    statement: Statement,
    plan: Plan,
    needs: Needs,
}

/// What kind of items a query returns: the `x-ms-item-type` header of a query response
/// (PROTOCOL 8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ItemType {
    /// Device or module twins (`SELECT *` from `devices` or `devices.modules`).
    Twin,
    /// `devices.jobs` rows.
    DeviceJob,
    /// Jobs, as the jobs query endpoint returns them (not produced by query text).
    JobResponse,
    /// Projected or aggregated objects.
    Raw,
}

impl ItemType {
    /// The header value: `Twin`, `DeviceJob`, `JobResponse` or `Raw`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Twin => "Twin",
            Self::DeviceJob => "DeviceJob",
            Self::JobResponse => "JobResponse",
            Self::Raw => "Raw",
        }
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Query {
    /// Parses, checks and compiles query text.
    ///
    /// # Errors
    ///
    /// A [`QueryError`] naming the position and what was expected or which rule is broken.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let statement = parse_statement(text)?;
        let plan = compile_statement(&statement);
        let needs = Needs::of(&plan);
        Ok(Self {
            statement,
            plan,
            needs,
        })
    }

    /// The syntax tree.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// The collection queried.
    pub fn collection(&self) -> Collection {
        self.statement.from
    }

    /// The kind of items the query returns.
    pub fn item_type(&self) -> ItemType {
        match (&self.statement.projection, self.statement.from) {
            (Projection::All, Collection::DeviceJobs) => ItemType::DeviceJob,
            (Projection::All, _) => ItemType::Twin,
            (Projection::Items(_), _) => ItemType::Raw,
        }
    }

    /// Whether the query aggregates (`COUNT`, `AVG`, ... or `GROUP BY`), and so reads its whole
    /// input before producing rows.
    pub fn is_aggregate(&self) -> bool {
        matches!(self.plan.output, Output::Groups(_))
    }

    /// Whether `document` meets the `WHERE` condition (always, without one).
    pub fn matches(&self, document: &Value) -> bool {
        self.plan.filter.as_ref().is_none_or(|f| f.test(document))
    }

    /// The rows of the query over `documents` (see [`Rows`]).
    pub fn evaluate<I>(&self, documents: I) -> Rows<'_, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Document,
    {
        Rows::new(&self.plan, documents.into_iter())
    }

    /// The rows of the query over documents given as JSON text (see [`JsonRows`]): for
    /// documents stored as text, this reads each one only as far as the query needs.
    pub fn evaluate_json<I>(&self, texts: I) -> JsonRows<'_, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        JsonRows::new(&self.plan, &self.needs, texts.into_iter())
    }

    /// What the query reads from each document.
    #[cfg(test)]
    pub(crate) fn needs(&self) -> &Needs {
        &self.needs
    }

    /// The rows from position `offset` (counted in rows, after `TOP`), at most `limit` of them
    /// (a `limit` of 0 counts as 1), and the position of the next page when more rows follow.
    /// Rows before `offset` are not built; to tell whether more follow, documents are read up
    /// to the next row.
    pub fn page<I>(&self, documents: I, offset: usize, limit: usize) -> Page
    where
        I: IntoIterator,
        I::Item: Document,
    {
        let mut rows = self.evaluate(documents);
        let mut items: Vec<Value> = rows.nth(offset).into_iter().collect();
        if !items.is_empty() {
            items.extend(rows.by_ref().take(limit.max(1) - 1));
        }
        let more = !items.is_empty() && rows.has_more();
        Page {
            next: more.then_some(offset + items.len()),
            items,
        }
    }
}

impl PartialEq for Query {
    /// Queries are equal when their syntax trees are.
    fn eq(&self, other: &Self) -> bool {
        self.statement == other.statement
    }
}

impl fmt::Display for Query {
    /// The query in canonical text, which parses back to the same query.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.statement.fmt(f)
    }
}

impl FromStr for Query {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<Self, QueryError> {
        Self::parse(text)
    }
}
