//! [`Rows`]: the results of a query, produced as the input is read; and [`Page`].

use std::vec;

use serde_json::{Map, Value};

use super::Document;
use super::aggregate::aggregate;
use super::compile::{Column, Output, Plan};
use super::eval::lookup;

/// The rows of a query over a sequence of documents, from [`crate::query::Query::evaluate`].
///
/// Without aggregates, rows are produced lazily: each call to `next` reads documents until one
/// meets the condition, and stops reading after `TOP n` rows. Skipping rows (`nth`, and so
/// `Iterator::skip`) tests documents without building the skipped rows. With aggregates or
/// `GROUP BY`, the first call reads the whole input and the groups' rows follow.
///
/// Rows are JSON values: the documents themselves for `SELECT *`, otherwise objects with one
/// member per column (left out when the path is missing in the document; `null` is kept).
#[derive(Debug)]
pub struct Rows<'q, I> {
    plan: &'q Plan,
    input: I,
    state: State<'q>,
}

#[derive(Debug)]
enum State<'q> {
    /// Filtering and projecting one document at a time; `left` rows may still be produced.
    Stream {
        left: usize,
        columns: Option<&'q [Column]>,
    },
    /// Grouping not started yet.
    Grouping,
    /// The rows are computed.
    Done(vec::IntoIter<Value>),
}

impl<'q, I> Rows<'q, I>
where
    I: Iterator,
    I::Item: Document,
{
    /// The rows of `plan` over `input`.
    pub(crate) fn new(plan: &'q Plan, input: I) -> Self {
        let left = plan.top.unwrap_or(usize::MAX);
        let state = match &plan.output {
            Output::Documents => State::Stream {
                left,
                columns: None,
            },
            Output::Columns(columns) => State::Stream {
                left,
                columns: Some(columns),
            },
            Output::Groups(_) => State::Grouping,
        };
        Self { plan, input, state }
    }

    /// The input, as far as it has been read.
    pub(crate) fn input_mut(&mut self) -> &mut I {
        &mut self.input
    }

    /// Skips `n` rows, then returns the next one, built only when `build` is set (else an empty
    /// object stands for it). `None` when the rows ran out.
    fn advance(&mut self, n: usize, build: bool) -> Option<Value> {
        if let State::Grouping = self.state {
            self.group();
        }
        match &mut self.state {
            State::Stream { left, columns } => {
                let filter = self.plan.filter.as_ref();
                let mut skip = n;
                while *left > 0 {
                    let document = self.input.next()?;
                    if !filter.is_none_or(|f| f.test(document.json())) {
                        continue;
                    }
                    *left -= 1;
                    if skip == 0 {
                        return Some(if build {
                            project(*columns, document)
                        } else {
                            Value::Object(Map::new())
                        });
                    }
                    skip -= 1;
                }
                None
            }
            State::Grouping => None,
            State::Done(rows) => rows.nth(n),
        }
    }

    /// Reads the whole input and computes the groups' rows.
    fn group(&mut self) {
        let mut rows = match &self.plan.output {
            Output::Groups(groups) => {
                aggregate(self.plan.filter.as_ref(), groups, self.input.by_ref())
            }
            _ => Vec::new(),
        };
        if let Some(top) = self.plan.top {
            rows.truncate(top);
        }
        self.state = State::Done(rows.into_iter());
    }

    /// Whether another row follows, consuming it without building it.
    pub(crate) fn has_more(&mut self) -> bool {
        self.advance(0, false).is_some()
    }
}

/// The row for a document that met the condition.
fn project<D: Document>(columns: Option<&[Column]>, document: D) -> Value {
    let Some(columns) = columns else {
        return document.into_json();
    };
    let json = document.json();
    let mut row = Map::new();
    for column in columns {
        if let Some(value) = lookup(json, &column.keys) {
            row.insert(column.name.to_string(), value.clone());
        }
    }
    Value::Object(row)
}

impl<I> Iterator for Rows<'_, I>
where
    I: Iterator,
    I::Item: Document,
{
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        self.advance(0, true)
    }

    fn nth(&mut self, n: usize) -> Option<Value> {
        self.advance(n, true)
    }
}

/// One page of results, for the hub's `x-ms-max-item-count` / `x-ms-continuation` paging.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// The rows of the page.
    pub items: Vec<Value>,
    /// The position of the next page's first row, when more rows follow (the hub's
    /// continuation); `None` on the last page.
    pub next: Option<usize>,
}
