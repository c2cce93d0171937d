//! [`Query`]: a query checked locally before it is sent, written as text or built with
//! [`QueryBuilder`].

use std::fmt;
use std::str::FromStr;

use iot_twin::query::{
    Collection, ItemType, Name, Projection, PropertyPath, SelectItem, SelectValue, Statement,
};

use super::Filter;
use crate::ServiceError;

/// A query of IoT Hub's query language (PROTOCOL 8), parsed and checked by `iot_twin` before
/// it is sent, so a mistake is reported with its position instead of a 400 from the hub.
///
/// Text is sent as written; a [`QueryBuilder`] sends the canonical text of the query it built.
///
/// ```
/// use iot_service_sdk::{Collection, ItemType, Query, field};
///
/// let text = Query::parse("SELECT * FROM devices WHERE tags.location.region = 'US'")?;
/// assert_eq!(text.item_type(), ItemType::Twin);
///
/// let built = Query::select(["deviceId", "properties.reported.firmware.version"])
///     .top(100)
///     .where_(field("properties.reported.firmware.status").eq("error"))
///     .build()?;
/// assert_eq!(
///     built.to_string(),
///     "SELECT TOP 100 deviceId, properties.reported.firmware.version FROM devices \
///      WHERE properties.reported.firmware.status = 'error'"
/// );
/// assert_eq!(built.item_type(), ItemType::Raw);
///
/// let jobs = Query::select_all().from(Collection::DeviceJobs).build()?;
/// assert_eq!(jobs.to_string(), "SELECT * FROM devices.jobs");
///
/// let error = Query::parse("SELECT * FROM devices WHERE").unwrap_err();
/// assert!(error.to_string().contains("1:28"), "{error}");
/// # Ok::<(), iot_service_sdk::ServiceError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    text: String,
    parsed: iot_twin::query::Query,
}

impl Query {
    /// Parses and checks query text.
    ///
    /// # Errors
    /// [`ServiceError::InvalidQuery`] with the position and the rule.
    pub fn parse(text: &str) -> Result<Self, ServiceError> {
        Ok(Self {
            parsed: iot_twin::query::Query::parse(text)?,
            text: text.to_owned(),
        })
    }

    /// A query of whole twins: `SELECT * FROM devices`.
    pub fn select_all() -> QueryBuilder {
        QueryBuilder::new(Columns::All)
    }

    /// A query of some members of each twin, by path (`deviceId`,
    /// `properties.reported.firmware.version`): `SELECT a, b FROM devices`.
    pub fn select<S: AsRef<str>>(paths: impl IntoIterator<Item = S>) -> QueryBuilder {
        QueryBuilder::new(Columns::Paths(
            paths.into_iter().map(|p| p.as_ref().to_owned()).collect(),
        ))
    }

    /// A count of the twins that match: `SELECT COUNT() AS name FROM devices`, one row
    /// `{"name": n}` (per group with [`QueryBuilder::group_by`]).
    pub fn count(name: &str) -> QueryBuilder {
        QueryBuilder::new(Columns::Count(name.to_owned()))
    }

    /// The text sent to the hub.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What the query's items are: twins, raw objects (projections and aggregates) or
    /// `devices.jobs` rows.
    pub fn item_type(&self) -> ItemType {
        self.parsed.item_type()
    }

    /// The collection queried.
    pub fn collection(&self) -> Collection {
        self.parsed.collection()
    }

    /// The parsed query, to evaluate locally or inspect.
    pub fn parsed(&self) -> &iot_twin::query::Query {
        &self.parsed
    }
}

impl fmt::Display for Query {
    /// The text sent to the hub.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Query {
    type Err = ServiceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// What a built query selects.
#[derive(Debug, Clone, PartialEq)]
enum Columns {
    All,
    Paths(Vec<String>),
    Count(String),
}

/// A query being built; [`QueryBuilder::build`] checks it. Start with [`Query::select_all`],
/// [`Query::select`] or [`Query::count`].
///
/// ```
/// use iot_service_sdk::Query;
///
/// let query = Query::count("devices")
///     .where_("properties.reported.connectivity.type = 'cellular'")
///     .group_by("tags.location.plant")
///     .build()?;
/// assert_eq!(
///     query.as_str(),
///     "SELECT COUNT() AS devices FROM devices \
///      WHERE properties.reported.connectivity.type = 'cellular' GROUP BY tags.location.plant"
/// );
/// # Ok::<(), iot_service_sdk::ServiceError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build`"]
pub struct QueryBuilder {
    columns: Columns,
    top: Option<u32>,
    from: Collection,
    filter: Option<Filter>,
    group_by: Option<String>,
}

impl QueryBuilder {
    fn new(columns: Columns) -> Self {
        Self {
            columns,
            top: None,
            from: Collection::Devices,
            filter: None,
            group_by: None,
        }
    }

    /// Queries `collection` instead of `devices`: module twins or per-device job rows.
    pub fn from(mut self, collection: Collection) -> Self {
        self.from = collection;
        self
    }

    /// Returns at most `n` items (`TOP n`).
    pub fn top(mut self, n: u32) -> Self {
        self.top = Some(n);
        self
    }

    /// Keeps the items that meet `condition`: text in query syntax or a [`Filter`] built with
    /// [`crate::field`]. Several calls must all hold (`AND`).
    pub fn where_(mut self, condition: impl Into<Filter>) -> Self {
        let condition = condition.into();
        self.filter = Some(match self.filter {
            Some(earlier) => earlier.and(condition),
            None => condition,
        });
        self
    }

    /// Groups the items by the value at `path` (for [`Query::count`]).
    pub fn group_by(mut self, path: &str) -> Self {
        self.group_by = Some(path.to_owned());
        self
    }

    /// Checks the query as IoT Hub would and returns it.
    ///
    /// # Errors
    /// [`ServiceError::InvalidQuery`] for a path, condition or combination the language does
    /// not allow (such as `GROUP BY` with `SELECT *`); [`ServiceError::OutOfRange`] for a
    /// value with no query constant (an object).
    pub fn build(self) -> Result<Query, ServiceError> {
        let statement = Statement {
            top: self.top,
            projection: projection(self.columns)?,
            from: self.from,
            filter: self.filter.map(Filter::into_expr).transpose()?,
            group_by: self.group_by.as_deref().map(parse_path).transpose()?,
        };
        Query::parse(&statement.to_string())
    }
}

fn projection(columns: Columns) -> Result<Projection, ServiceError> {
    let item = |value| SelectItem { value, alias: None };
    Ok(match columns {
        Columns::All => Projection::All,
        Columns::Paths(paths) => Projection::Items(
            paths
                .iter()
                .map(|p| parse_path(p).map(|path| item(SelectValue::Path(path))))
                .collect::<Result<_, _>>()?,
        ),
        Columns::Count(name) => Projection::Items(vec![SelectItem {
            value: SelectValue::Count,
            alias: Some(Name::try_from(name.as_str())?),
        }]),
    })
}

fn parse_path(text: &str) -> Result<PropertyPath, ServiceError> {
    Ok(text.parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field;

    #[test]
    fn text_is_sent_as_written() {
        let text = "select deviceId from devices where STARTS_WITH(deviceId, 'a')";
        assert_eq!(Query::parse(text).unwrap().as_str(), text);
    }

    #[test]
    fn builders_produce_queries_that_parse_back() {
        let queries = [
            Query::select_all().build().unwrap(),
            Query::select_all().top(0).where_("*").build().unwrap(),
            Query::select(["deviceId", "tags.[[a-b]]"])
                .from(Collection::Modules)
                .build()
                .unwrap(),
            Query::count("n").group_by("tags.site").build().unwrap(),
            Query::select_all()
                .where_(field("tags.a").eq("it's"))
                .where_("tags.b = 1 OR tags.c = 2")
                .build()
                .unwrap(),
        ];
        for query in queries {
            let again = Query::parse(query.as_str()).unwrap();
            assert_eq!(again.parsed(), query.parsed(), "{query}");
        }
    }

    #[test]
    fn where_clauses_are_anded_with_their_own_grouping() {
        let query = Query::select_all()
            .where_("tags.b = 1 OR tags.c = 2")
            .where_(field("tags.a").eq(1))
            .build()
            .unwrap();
        assert_eq!(
            query.as_str(),
            "SELECT * FROM devices WHERE (tags.b = 1 OR tags.c = 2) AND tags.a = 1"
        );
        let all = Query::select_all().where_("*").build().unwrap();
        let filter = all.parsed().statement().filter.as_ref().unwrap();
        assert!(matches!(
            filter,
            iot_twin::query::Expr::Constant(iot_twin::query::Constant::Bool(true))
        ));
    }

    #[test]
    fn invalid_queries_are_refused_locally() {
        let cases = [
            Query::select_all().group_by("tags.site").build(),
            Query::select(["select.x"]).build(),
            Query::select(Vec::<String>::new()).build(),
            Query::count("a]]b").build(),
            Query::select(["deviceId"])
                .from(Collection::DeviceJobs)
                .build(),
        ];
        for result in cases {
            assert!(
                matches!(result, Err(ServiceError::InvalidQuery(_))),
                "{result:?}"
            );
        }
        assert!(matches!(
            "SELECT * FROM nowhere".parse::<Query>(),
            Err(ServiceError::InvalidQuery(_))
        ));
    }
}
