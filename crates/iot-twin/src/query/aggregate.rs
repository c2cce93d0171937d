//! Aggregates and `GROUP BY`: one row per group, in the order groups first appear.
//!
//! Without `GROUP BY`, all selected documents form one group, so `SELECT COUNT() AS total FROM
//! devices` gives exactly one row (`[{"total": 0}]` over no documents). With `GROUP BY`,
//! documents group by the value at the path (equal strings, numbers, Booleans, `null`s, or
//! equal JSON for objects and arrays); documents where the path is missing form one more group
//! whose row leaves the path's column out. IoT Hub does not document the order of groups or
//! the aggregates' treatment of non-numbers; here:
//!
//! - `COUNT()` counts the group's documents.
//! - `SUM(p)` adds the numbers at `p`, skipping other values (0 when there are none).
//! - `AVG(p)` averages the numbers at `p`; the column is left out when there are none.
//! - `MIN(p)` and `MAX(p)` take the least or greatest primitive at `p` in the order `null`,
//!   Booleans, numbers, strings (objects, arrays and missing values are skipped); the column is
//!   left out when there are none.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};

use super::Document;
use super::ast::Aggregate;
use super::compile::{Groups, Measure};
use super::eval::{Const, Node, lookup};
use super::value::{Val, rank};

/// One group being accumulated.
#[derive(Debug)]
struct Group {
    /// The `GROUP BY` value ([`Const::Undefined`] for the group of documents without it).
    key: Const,
    /// Its documents.
    count: u64,
    /// One accumulator per column.
    measures: Vec<Accumulator>,
}

/// The running value of one column.
#[derive(Debug)]
enum Accumulator {
    /// The key or the count: nothing to keep.
    Nothing,
    /// Sum and number of numbers seen.
    Sum(f64, u64),
    /// The least or greatest value so far.
    Extreme(Option<Const>),
}

/// Groups the documents of `input` that pass `filter` and returns one row per group.
pub(crate) fn aggregate<I>(filter: Option<&Node>, groups: &Groups, input: I) -> Vec<Value>
where
    I: Iterator,
    I::Item: Document,
{
    let mut all: Vec<Group> = Vec::new();
    let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
    if groups.key.is_none() {
        all.push(new_group(Const::Undefined, groups));
    }
    for document in input {
        let document = document.json();
        if !filter.is_none_or(|f| f.test(document)) {
            continue;
        }
        let slot = match &groups.key {
            None => 0,
            Some(keys) => find_group(
                &mut all,
                &mut index,
                groups,
                &Val::of(lookup(document, keys)),
            ),
        };
        if let Some(group) = all.get_mut(slot) {
            accumulate(group, groups, document);
        }
    }
    all.iter().map(|group| row(group, groups)).collect()
}

fn new_group(key: Const, groups: &Groups) -> Group {
    let measures = groups
        .columns
        .iter()
        .map(|(_, measure)| match measure {
            Measure::Key | Measure::Count => Accumulator::Nothing,
            Measure::Of(Aggregate::Avg | Aggregate::Sum, _) => Accumulator::Sum(0.0, 0),
            Measure::Of(Aggregate::Min | Aggregate::Max, _) => Accumulator::Extreme(None),
        })
        .collect();
    Group {
        key,
        count: 0,
        measures,
    }
}

/// The index in `all` of the group for `key`, added when new. Allocates only for a new group.
fn find_group(
    all: &mut Vec<Group>,
    index: &mut HashMap<u64, Vec<usize>>,
    groups: &Groups,
    key: &Val<'_>,
) -> usize {
    let bucket = index.entry(hash(key)).or_default();
    if let Some(&slot) = bucket
        .iter()
        .find(|&&slot| all.get(slot).is_some_and(|g| same_key(&g.key, key)))
    {
        return slot;
    }
    let slot = all.len();
    all.push(new_group(owned(key), groups));
    bucket.push(slot);
    slot
}

fn hash(key: &Val<'_>) -> u64 {
    let mut hasher = DefaultHasher::new();
    match key {
        Val::Undefined => 0u8.hash(&mut hasher),
        Val::Null => 1u8.hash(&mut hasher),
        Val::Bool(b) => (2u8, b).hash(&mut hasher),
        // `+ 0.0` turns -0 into 0, which compares equal to it.
        Val::Number(n) => (3u8, (n + 0.0).to_bits()).hash(&mut hasher),
        Val::Str(s) => (4u8, s.as_ref()).hash(&mut hasher),
        Val::Composite(v) => (5u8, v.to_string()).hash(&mut hasher),
    }
    hasher.finish()
}

fn same_key(stored: &Const, key: &Val<'_>) -> bool {
    match (stored, key) {
        (Const::Undefined, Val::Undefined) | (Const::Null, Val::Null) => true,
        (Const::Bool(a), Val::Bool(b)) => a == b,
        (Const::Number(a), Val::Number(b)) => a == b,
        (Const::Str(a), Val::Str(b)) => **a == **b,
        (Const::Json(a), Val::Composite(b)) => a == *b,
        _ => false,
    }
}

/// An owned copy of a value.
fn owned(value: &Val<'_>) -> Const {
    match value {
        Val::Undefined => Const::Undefined,
        Val::Null => Const::Null,
        Val::Bool(b) => Const::Bool(*b),
        Val::Number(n) => Const::Number(*n),
        Val::Str(s) => Const::Str(s.as_ref().into()),
        Val::Composite(v) => Const::Json((*v).clone()),
    }
}

fn accumulate(group: &mut Group, groups: &Groups, document: &Value) {
    group.count += 1;
    for ((_, measure), accumulator) in groups.columns.iter().zip(&mut group.measures) {
        let Measure::Of(aggregate, keys) = measure else {
            continue;
        };
        let value = Val::of(lookup(document, keys));
        match accumulator {
            Accumulator::Sum(sum, n) => {
                if let Val::Number(x) = value {
                    *sum += x;
                    *n += 1;
                }
            }
            Accumulator::Extreme(best) => {
                let wanted = if *aggregate == Aggregate::Min {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                };
                let better = best
                    .as_ref()
                    .is_none_or(|b| rank(&value, &b.val()) == wanted);
                if value.is_primitive() && better {
                    *best = Some(owned(&value));
                }
            }
            Accumulator::Nothing => {}
        }
    }
}

fn row(group: &Group, groups: &Groups) -> Value {
    let mut row = Map::new();
    for ((name, measure), accumulator) in groups.columns.iter().zip(&group.measures) {
        let value = match (measure, accumulator) {
            (Measure::Key, _) => group.key.val().to_json(),
            (Measure::Count, _) => Some(Value::from(group.count)),
            (Measure::Of(Aggregate::Sum, _), Accumulator::Sum(sum, _)) => {
                Val::number(*sum).to_json()
            }
            (Measure::Of(_, _), Accumulator::Sum(sum, n)) if *n > 0 => {
                // Exact below 2^53 documents.
                #[allow(clippy::cast_precision_loss)]
                let n = *n as f64;
                Val::number(sum / n).to_json()
            }
            (_, Accumulator::Extreme(Some(best))) => best.val().to_json(),
            _ => None,
        };
        if let Some(value) = value {
            row.insert(name.to_string(), value);
        }
    }
    Value::Object(row)
}
