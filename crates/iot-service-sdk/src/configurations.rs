//! Automatic device management configurations (PROTOCOL 10): create one
//! ([`ConfigurationBuilder`] with [`ConfigurationContent`]), read, update, delete and list them,
//! check their queries, and read their metrics ([`ConfigurationCounts`]).

mod builder;
mod content;
mod counts;

use iot_protocol::{
    Configuration, ConfigurationId, ConfigurationQueriesTestInput,
    ConfigurationQueriesTestResponse, IfMatch,
};

use crate::request::{Method, Request, Segment, path};
use crate::retry::Retry;
use crate::{ServiceClient, ServiceError};

pub use builder::{ConfigurationBuilder, MAX_CUSTOM_METRICS, check_configuration};
pub use content::ConfigurationContent;
pub use counts::{APPLIED_COUNT, ConfigurationCounts, TARGETED_COUNT};

fn configuration_path(id: &str) -> String {
    path(&[Segment::Literal("configurations"), Segment::Id(id)])
}

impl ServiceClient {
    /// Creates `configuration` (`PUT /configurations/{id}` without `If-Match`) and returns it
    /// as the hub stored it, with its etag and system metric queries. The hub applies it to
    /// the twins it targets when it next evaluates configurations.
    ///
    /// Checked first ([`check_configuration`]); not retried once sent.
    ///
    /// ```no_run
    /// # async fn run(client: iot_service_sdk::ServiceClient) -> Result<(), iot_service_sdk::ServiceError> {
    /// use iot_service_sdk::{ConfigurationBuilder, ConfigurationContent, ConfigurationCounts};
    /// use serde_json::json;
    ///
    /// let configuration = ConfigurationBuilder::new("telemetry-30s")
    ///     .target_condition("tags.site = 'lyon'")
    ///     .priority(10)
    ///     .content(ConfigurationContent::device().desired("properties.desired.telemetryInterval", 30))
    ///     .build()?;
    /// client.create_configuration(&configuration).await?;
    /// let stored = client.get_configuration(&"telemetry-30s".parse()?).await?;
    /// println!("{:?}", ConfigurationCounts::of(&stored));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// The errors of [`check_configuration`] before sending; [`ServiceError::AlreadyExists`]
    /// when the id is taken, [`ServiceError::BadRequest`] for a configuration the hub refuses
    /// (too many configurations, for instance), and the errors every call can have.
    pub async fn create_configuration(
        &self,
        configuration: &Configuration,
    ) -> Result<Configuration, ServiceError> {
        check_configuration(configuration)?;
        let id = ConfigurationId::parse(&configuration.id)?;
        let request = Request::new(Method::Put, configuration_path(id.as_str()))
            .configuration(&id)
            .json(configuration)?;
        self.execute_json(request, "configuration").await
    }

    /// Reads a configuration (`GET /configurations/{id}`), with its latest metric results.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when there is no such configuration.
    pub async fn get_configuration(
        &self,
        id: &ConfigurationId,
    ) -> Result<Configuration, ServiceError> {
        let request = Request::new(Method::Get, configuration_path(id.as_str())).configuration(id);
        self.execute_json(request, "configuration").await
    }

    /// Replaces a configuration (`PUT /configurations/{id}` with `If-Match`): with its etag
    /// (`IfMatch::etag(configuration.etag...)`) only if nobody changed it since it was read,
    /// with [`IfMatch::ANY`] regardless. IoT Hub lets the target condition, priority, labels and
    /// metrics change; the content is immutable.
    ///
    /// # Errors
    /// The errors of [`check_configuration`] before sending;
    /// [`ServiceError::PreconditionFailed`] for a stale etag, [`ServiceError::NotFound`],
    /// [`ServiceError::BadRequest`] for a change of content.
    pub async fn update_configuration(
        &self,
        configuration: &Configuration,
        if_match: IfMatch,
    ) -> Result<Configuration, ServiceError> {
        check_configuration(configuration)?;
        let id = ConfigurationId::parse(&configuration.id)?;
        let request = Request::new(Method::Put, configuration_path(id.as_str()))
            .configuration(&id)
            .if_match(if_match)
            .json(configuration)?;
        self.execute_json(request, "configuration").await
    }

    /// Deletes a configuration (`DELETE /configurations/{id}`): with an etag only if nobody
    /// changed it since it was read, with [`IfMatch::ANY`] regardless. Its content leaves the
    /// twins it was applied to, which fall back to the next configuration that targets them.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`ServiceError::PreconditionFailed`].
    pub async fn delete_configuration(
        &self,
        id: &ConfigurationId,
        if_match: IfMatch,
    ) -> Result<(), ServiceError> {
        let request = Request::new(Method::Delete, configuration_path(id.as_str()))
            .configuration(id)
            .if_match(if_match);
        self.execute(request).await.map(drop)
    }

    /// Lists configurations (`GET /configurations`), at most `top` of them (`None` lets the
    /// hub choose; IoT Hub holds at most 100).
    ///
    /// # Errors
    /// [`ServiceError::OutOfRange`] for a `top` of zero, before sending.
    pub async fn list_configurations(
        &self,
        top: Option<u32>,
    ) -> Result<Vec<Configuration>, ServiceError> {
        let mut request = Request::new(Method::Get, path(&[Segment::Literal("configurations")]));
        if let Some(top) = top {
            if top == 0 {
                return Err(ServiceError::out_of_range("top", "must be at least 1"));
            }
            request = request.param("top", top.to_string());
        }
        self.execute_json(request, "configuration list").await
    }

    /// Asks the hub to check a target condition and custom metric queries
    /// (`POST /configurations/testQueries`) without creating anything; the answer names the
    /// errors found, if any. A read, retried as one.
    ///
    /// # Errors
    /// The errors every call can have.
    pub async fn test_configuration_queries(
        &self,
        input: &ConfigurationQueriesTestInput,
    ) -> Result<ConfigurationQueriesTestResponse, ServiceError> {
        let request = Request::new(
            Method::Post,
            path(&[
                Segment::Literal("configurations"),
                Segment::Literal("testQueries"),
            ]),
        )
        .retry(Retry::Idempotent)
        .json(input)?;
        self.execute_json(request, "query test result").await
    }
}
