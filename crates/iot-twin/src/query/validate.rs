//! The rules a parsed statement must meet beyond the grammar (PROTOCOL 8.2):
//!
//! - `devices.jobs` takes only `SELECT *`: no columns, aggregates or `GROUP BY`.
//! - `GROUP BY` needs a column list, not `*`.
//! - When a query has aggregates or `GROUP BY`, every plain path column must be the `GROUP BY`
//!   path (compared after [`resolve`], so `DeviceId` and `deviceId` are the same path).
//! - Column names (see [`column_names`]) are unique. IoT Hub does not document what it does
//!   with two columns of the same name; refusing the query, with a hint to use `AS`, keeps
//!   result rows unambiguous.

use super::QueryError;
use super::ast::{Collection, Projection, SelectItem, SelectValue, Statement};
use super::error::{Position, quote};
use super::fields::{column_names, resolve};

/// Where the parts of a statement that rules point at start, as byte offsets.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    /// Each `SELECT` item.
    pub(crate) items: Vec<usize>,
    /// The collection after `FROM`.
    pub(crate) from: usize,
    /// The `GROUP` keyword.
    pub(crate) group_by: Option<usize>,
}

/// Checks `statement` (parsed from `text`, with `spans`) against the rules above.
pub(crate) fn validate_statement(
    statement: &Statement,
    spans: &Spans,
    text: &str,
) -> Result<(), QueryError> {
    let fail = |offset: usize, rule: String| QueryError::Unsupported {
        position: Position::locate(text, offset),
        rule,
    };
    let group_at = spans.group_by.unwrap_or(spans.from);
    if statement.from == Collection::DeviceJobs
        && (statement.projection != Projection::All || statement.group_by.is_some())
    {
        let at = spans.items.first().copied().unwrap_or(group_at);
        return Err(fail(
            at,
            "devices.jobs queries take only SELECT * (no columns, aggregates or GROUP BY)".into(),
        ));
    }
    let Projection::Items(items) = &statement.projection else {
        return match statement.group_by {
            Some(_) => Err(fail(
                group_at,
                "GROUP BY needs a list of columns, not `*`".into(),
            )),
            None => Ok(()),
        };
    };
    check_grouping(statement, items, spans).map_err(|(at, rule)| fail(at, rule))?;
    let names = column_names(items, statement.from);
    for (i, name) in names.iter().enumerate() {
        if names.get(..i).is_some_and(|before| before.contains(name)) {
            let at = spans.items.get(i).copied().unwrap_or_default();
            return Err(fail(
                at,
                format!(
                    "two columns are named {}; give one another name with AS",
                    quote(name)
                ),
            ));
        }
    }
    Ok(())
}

/// Checks that plain path columns are the `GROUP BY` path when the query aggregates.
fn check_grouping(
    statement: &Statement,
    items: &[SelectItem],
    spans: &Spans,
) -> Result<(), (usize, String)> {
    let aggregates = items
        .iter()
        .any(|item| !matches!(item.value, SelectValue::Path(_)));
    let group = statement
        .group_by
        .as_ref()
        .map(|path| resolve(path, statement.from));
    if !aggregates && group.is_none() {
        return Ok(());
    }
    for (i, item) in items.iter().enumerate() {
        let SelectValue::Path(path) = &item.value else {
            continue;
        };
        if group.as_ref() != Some(&resolve(path, statement.from)) {
            let at = spans.items.get(i).copied().unwrap_or_default();
            let rule = format!(
                "column {} must be the GROUP BY path or inside an aggregate",
                quote(&path.to_string())
            );
            return Err((at, rule));
        }
    }
    Ok(())
}
