//! [`QueryRequest`]: a query on its way to the hub (`POST /devices/query`, PROTOCOL 8.1), with
//! its page size and starting point.

use std::sync::Arc;

use iot_protocol::QuerySpecification;
use iot_twin::Twin;
use iot_twin::query::ItemType;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::page::RawPage;
use super::stream::{Expected, PageFuture, PageSource, QueryItems, QueryPages};
use super::{Query, QueryBuilder};
use crate::request::{Method, Request, Segment, path};
use crate::response::header;
use crate::retry::Retry;
use crate::{ServiceClient, ServiceError};

mod sealed {
    pub trait Sealed {}
}

/// What [`ServiceClient::query`] accepts: query text (checked when passed), a [`Query`], or a
/// [`QueryBuilder`] (built when passed).
pub trait IntoQuery: sealed::Sealed {
    /// The checked query.
    ///
    /// # Errors
    /// [`ServiceError::InvalidQuery`] and the errors of [`QueryBuilder::build`].
    fn into_query(self) -> Result<Query, ServiceError>;
}

impl sealed::Sealed for &str {}
impl IntoQuery for &str {
    fn into_query(self) -> Result<Query, ServiceError> {
        Query::parse(self)
    }
}

impl sealed::Sealed for String {}
impl IntoQuery for String {
    fn into_query(self) -> Result<Query, ServiceError> {
        Query::parse(&self)
    }
}

impl sealed::Sealed for &String {}
impl IntoQuery for &String {
    fn into_query(self) -> Result<Query, ServiceError> {
        Query::parse(self)
    }
}

impl sealed::Sealed for Query {}
impl IntoQuery for Query {
    fn into_query(self) -> Result<Query, ServiceError> {
        Ok(self)
    }
}

impl sealed::Sealed for &Query {}
impl IntoQuery for &Query {
    fn into_query(self) -> Result<Query, ServiceError> {
        Ok(self.clone())
    }
}

impl sealed::Sealed for QueryBuilder {}
impl IntoQuery for QueryBuilder {
    fn into_query(self) -> Result<Query, ServiceError> {
        self.build()
    }
}

/// A query ready to run: choose a page size or a starting token, then read the results as
/// pages ([`Self::pages`]), items ([`Self::items`]), items of your own type
/// ([`Self::items_as`]) or twins ([`Self::twins`]).
///
/// Each page is one `POST /devices/query` with `x-ms-max-item-count` and, after the first,
/// `x-ms-continuation`; the results end when the hub sends no continuation token. Queries are
/// reads and are retried like every idempotent request.
///
/// ```no_run
/// # async fn run(client: iot_service_sdk::ServiceClient) -> Result<(), iot_service_sdk::ServiceError> {
/// use iot_service_sdk::{Query, field};
///
/// let query = Query::select_all().where_(field("tags.location.plant").eq("Redmond43"));
/// let mut twins = client.query(query)?.page_size(100).twins();
/// while let Some(twin) = twins.next().await {
///     let twin = twin?;
///     println!("{} at desired version {:?}", twin.device_id(), twin.desired().version());
/// }
///
/// #[derive(serde::Deserialize)]
/// struct Row {
///     #[serde(rename = "deviceId")]
///     device_id: String,
/// }
/// let rows: Vec<Row> = client
///     .query("SELECT deviceId FROM devices WHERE status = 'disabled'")?
///     .items_as::<Row>()
///     .collect_all()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a query runs when its pages or items are read"]
pub struct QueryRequest {
    client: ServiceClient,
    query: Query,
    page_size: Option<u32>,
    continuation: Option<String>,
}

impl QueryRequest {
    /// Asks the hub for pages of up to `size` items (`x-ms-max-item-count`); the hub may use
    /// a smaller size. `0` leaves the size to the hub (IoT Hub documents 100 as usual and 1000
    /// as the largest).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = (size > 0).then_some(size);
        self
    }

    /// Starts at the page of a continuation token from an earlier [`crate::QueryPage`] of the
    /// same query instead of the first page.
    pub fn resume(mut self, continuation: impl Into<String>) -> Self {
        self.continuation = Some(continuation.into());
        self
    }

    /// The query.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The results page by page, items as JSON.
    pub fn pages(self) -> QueryPages<Value> {
        self.pages_as()
    }

    /// The results page by page, each item read as `T`.
    pub fn pages_as<T: DeserializeOwned>(self) -> QueryPages<T> {
        self.into_pages(Expected(None))
    }

    /// The results item by item, as JSON.
    pub fn items(self) -> QueryItems<Value> {
        self.items_as()
    }

    /// The results item by item, each read as `T` (a struct matching a projection, for
    /// instance).
    pub fn items_as<T: DeserializeOwned>(self) -> QueryItems<T> {
        QueryItems::new(self.pages_as())
    }

    /// The results as twins, for `SELECT *` over `devices` or `devices.modules`. For another
    /// query the stream yields one [`ServiceError::OutOfRange`] and ends, without sending.
    pub fn twins(self) -> QueryItems<Twin> {
        if self.query.item_type() != ItemType::Twin {
            let error = ServiceError::OutOfRange {
                argument: "query",
                reason: format!(
                    "`{}` returns {} items, not twins; read them with items() or items_as()",
                    self.query,
                    self.query.item_type()
                ),
            };
            return QueryItems::new(QueryPages::failed(self.source(), error));
        }
        QueryItems::new(self.into_pages(Expected(Some(ItemType::Twin.as_str()))))
    }

    fn into_pages<T: DeserializeOwned>(self, expected: Expected) -> QueryPages<T> {
        let continuation = self.continuation.clone();
        QueryPages::new(self.source(), continuation, expected)
    }

    fn source(&self) -> Arc<dyn PageSource> {
        Arc::new(HubPages {
            client: self.client.clone(),
            text: self.query.as_str().to_owned(),
            page_size: self.page_size,
        })
    }
}

/// Pages fetched from the hub.
struct HubPages {
    client: ServiceClient,
    text: String,
    page_size: Option<u32>,
}

impl PageSource for HubPages {
    fn fetch(&self, continuation: Option<String>) -> PageFuture {
        let client = self.client.clone();
        let text = self.text.clone();
        let page_size = self.page_size;
        Box::pin(async move { client.query_page(&text, page_size, continuation).await })
    }
}

impl ServiceClient {
    /// Prepares a query of twins, module twins or device jobs. Text is checked here, before
    /// anything is sent; see [`QueryRequest`] for reading the results.
    ///
    /// # Errors
    /// [`ServiceError::InvalidQuery`] with the position of the mistake.
    pub fn query(&self, query: impl IntoQuery) -> Result<QueryRequest, ServiceError> {
        Ok(QueryRequest {
            client: self.clone(),
            query: query.into_query()?,
            page_size: None,
            continuation: None,
        })
    }

    /// Fetches one page of `text`.
    async fn query_page(
        &self,
        text: &str,
        page_size: Option<u32>,
        continuation: Option<String>,
    ) -> Result<RawPage, ServiceError> {
        let mut request = Request::new(
            Method::Post,
            path(&[Segment::Literal("devices"), Segment::Literal("query")]),
        )
        .retry(Retry::Idempotent)
        .json(&QuerySpecification::new(text))?;
        if let Some(size) = page_size {
            request = request.header(header::MAX_ITEM_COUNT, size.to_string());
        }
        if let Some(token) = continuation {
            request = request.header(header::CONTINUATION, token);
        }
        Ok(RawPage::from_response(self.execute(request).await?))
    }
}
