//! Twin queries over the hub's working set, one page at a time: what `POST /devices/query`
//! runs.
//!
//! Twins are read in device-id order, each converted to its REST JSON when the query reaches
//! it. A page of plain rows (no aggregate) ends where the twin of the next row was found, and
//! the next page resumes at that device ([`Resume::At`]): a page costs the twins it reads, not
//! every twin before it, and devices added or removed elsewhere between pages shift nothing.
//! Aggregated rows are computed over all twins for every page and resumed by their position
//! ([`Resume::Row`]).

use iot_protocol::DeviceId;
use iot_twin::query::{Collection, Query};
use serde_json::Value;

use crate::core::Core;
use crate::twins::twin_view;

/// Where a page of query rows starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resume {
    /// At the first row.
    Start,
    /// At this position of the row sequence (rows counted from 0, after `TOP`).
    Row(usize),
    /// At device `next` (or the first after it in id order, if it is gone), `emitted` rows
    /// having been returned already (which `TOP` counts).
    At {
        /// The device whose twin gave the row after the previous page's last.
        next: DeviceId,
        /// The rows returned by earlier pages.
        emitted: usize,
    },
}

/// One page of rows, and where the next page starts when more rows follow.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QueryPage {
    pub(crate) items: Vec<Value>,
    pub(crate) next: Option<Resume>,
}

impl Core {
    /// At most `limit` rows (at least 1) of `query` from `from` on. This hub registers no
    /// modules, so `devices.modules` has no rows; `devices.jobs` has one per device of each
    /// job, jobs oldest first.
    pub(crate) fn query_page(&self, query: &Query, from: &Resume, limit: usize) -> QueryPage {
        let limit = limit.max(1);
        match (query.collection(), from) {
            (Collection::Devices, Resume::At { next, emitted }) if !query.is_aggregate() => {
                self.stream_page(query, Some(next), *emitted, limit)
            }
            (Collection::Devices, Resume::Start) if !query.is_aggregate() => {
                self.stream_page(query, None, 0, limit)
            }
            (Collection::Devices, _) => {
                let entries = self.entries();
                let twins = entries.iter().filter_map(|(_, entry)| twin_json(entry));
                row_page(query, twins, from, limit)
            }
            (Collection::DeviceJobs, _) => row_page(query, self.jobs.all_rows_json(), from, limit),
            _ => row_page(query, std::iter::empty::<Value>(), from, limit),
        }
    }

    /// Plain rows from device `from` on (the first device if `None`), `emitted` rows having
    /// been returned.
    fn stream_page(
        &self,
        query: &Query,
        from: Option<&DeviceId>,
        emitted: usize,
        limit: usize,
    ) -> QueryPage {
        let left = query
            .statement()
            .top
            .map_or(usize::MAX, |top| usize::try_from(top).unwrap_or(usize::MAX))
            .saturating_sub(emitted);
        if left == 0 {
            return QueryPage {
                items: Vec::new(),
                next: None,
            };
        }
        let entries = self.entries();
        let start = from.map_or(0, |from| entries.partition_point(|(id, _)| id < from));
        let rest = entries.get(start..).unwrap_or_default();
        let mut read: usize = 0;
        let twins = rest.iter().filter_map(|(_, entry)| {
            read += 1;
            twin_json(entry)
        });
        let page = query.page(twins, 0, limit.min(left));
        let returned = emitted + page.items.len();
        // Telling whether more rows follow read exactly up to the twin of the next row.
        let next = page
            .next
            .filter(|_| returned < emitted + left)
            .and_then(|_| rest.get(read.checked_sub(1)?))
            .map(|(id, _)| Resume::At {
                next: id.clone(),
                emitted: returned,
            });
        QueryPage {
            items: page.items,
            next,
        }
    }
}

/// Rows by position over all of `documents`.
fn row_page<I>(query: &Query, documents: I, from: &Resume, limit: usize) -> QueryPage
where
    I: IntoIterator<Item = Value>,
{
    let offset = match from {
        Resume::Row(offset) => *offset,
        Resume::Start | Resume::At { .. } => 0,
    };
    let page = query.page(documents, offset, limit);
    QueryPage {
        items: page.items,
        next: page.next.map(Resume::Row),
    }
}

/// A twin's REST JSON, with its registry fields.
fn twin_json(entry: &crate::core::DeviceEntry) -> Option<Value> {
    let twin = twin_view(entry, &entry.read());
    serde_json::to_value(&twin).ok()
}
