//! Scheduled jobs over REST (PROTOCOL 9): `PUT`/`GET /jobs/v2/{id}`,
//! `POST /jobs/v2/{id}/cancel` and `GET /jobs/v2/query`.
//!
//! Errors: 400 `ArgumentInvalid` for a body that breaks a rule (the message names the field,
//! and for a `queryCondition` carries the parser's message), 400 `IotHubFormatError` for a
//! body that is not JSON, 404 `JobNotFound` (404002), 409 `JobAlreadyExists` (409104) for an
//! id in use, including by a finished job not yet pruned.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use iot_protocol::{JobId, JobRequest, JobResponse, JobStatus, JobType};
use iot_twin::query::ItemType;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::BODY_LIMIT;
use super::auth::{Authorized, ServiceConnect};
use super::error::RestError;
use super::extract::{json_error, parse_json, read_body};
use super::query::{CONTINUATION, ITEM_TYPE, MAX_ITEM_COUNT, header_text, page_size};
use super::response::{json, json_with};
use super::router::Api;

/// The `{id}` segment of a job path.
#[derive(Debug)]
pub(crate) struct JobPath(pub(crate) JobId);

impl<S: Send + Sync> FromRequestParts<S> for JobPath {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, RestError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| RestError::invalid(format!("request path: {}", e.body_text())))?;
        JobId::parse(&id)
            .map(Self)
            .map_err(|e| RestError::invalid(e.to_string()))
    }
}

/// `PUT /jobs/v2/{id}`: creates the job and answers 200 with it, `queued`.
pub(crate) async fn create(
    _: Authorized<ServiceConnect>,
    State(api): State<Api>,
    JobPath(id): JobPath,
    body: Body,
) -> Result<Response, RestError> {
    let body = read_body(body, BODY_LIMIT).await?;
    let request = job_request(&id, &body)?;
    let job = api.jobs().create(&request).await?;
    Ok(json(&job))
}

/// Reads a job request. `jobId` may be left out (the path names the job); when present it
/// must be the path's id. The Node service SDK may send it as a number, which is read as its
/// decimal text.
fn job_request(id: &JobId, body: &[u8]) -> Result<JobRequest, RestError> {
    let mut value: Value = parse_json(body, "the job request")?;
    let Some(fields) = value.as_object_mut() else {
        return Err(RestError::invalid("the job request must be a JSON object"));
    };
    let named = match fields.get("jobId") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        Some(other) => {
            return Err(RestError::invalid(format!(
                "jobId must be a string, not {other}"
            )));
        }
    };
    if let Some(named) = named.filter(|named| named != id.as_str()) {
        return Err(RestError::invalid(format!(
            "the body's jobId {named:?} is not the path's {:?}",
            id.as_str()
        )));
    }
    fields.insert("jobId".to_owned(), Value::String(id.as_str().to_owned()));
    JobRequest::deserialize(value).map_err(|e| json_error(&e, "the job request"))
}

/// `GET /jobs/v2/{id}`: the job with its statistics.
pub(crate) async fn get(
    _: Authorized<ServiceConnect>,
    State(api): State<Api>,
    JobPath(id): JobPath,
) -> Result<Response, RestError> {
    Ok(json(&api.jobs().get(&id)?))
}

/// `POST /jobs/v2/{id}/cancel`: cancels the job and answers 200 with it once cancelled (a
/// finished job as it is).
pub(crate) async fn cancel(
    _: Authorized<ServiceConnect>,
    State(api): State<Api>,
    JobPath(id): JobPath,
) -> Result<Response, RestError> {
    Ok(json(&api.jobs().cancel(&id).await?))
}

/// The query parameters of `GET /jobs/v2/query`. IoT Hub's jobs guide also documents
/// `pageSize` and `continuationToken` as parameters; the SDKs send them as the
/// `x-ms-max-item-count` and `x-ms-continuation` headers, which take precedence.
#[derive(Debug, Deserialize)]
pub(crate) struct JobFilter {
    #[serde(rename = "jobType")]
    job_type: Option<String>,
    #[serde(rename = "jobStatus")]
    job_status: Option<String>,
    #[serde(rename = "pageSize")]
    page_size: Option<String>,
    #[serde(rename = "continuationToken")]
    continuation_token: Option<String>,
}

/// The body the Python service SDK reads from a job query: the swagger's `QueryResult`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryResult<'a> {
    #[serde(rename = "type")]
    item_type: &'static str,
    items: &'a [&'a JobResponse],
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_token: Option<&'a str>,
}

/// The `User-Agent` part of the Python service SDK's generated REST client.
const PYTHON_CLIENT: &str = "iothubgatewayserviceapis/";

/// `GET /jobs/v2/query[?jobType=..][&jobStatus=..]`: one page of the jobs, oldest first, with
/// `x-ms-item-type: JobResponse` and, when more follow, `x-ms-continuation`.
///
/// The body is a JSON array of jobs, as for twin queries: what the Node, C# and Java service
/// SDKs read. The Python service SDK (azure-iot-hub 2.x) instead reads this answer as the
/// swagger's `QueryResult` object and fails on an array, so a client whose `User-Agent` names
/// its generated client gets `{"type":"jobResponse","items":[...],"continuationToken":...}`.
pub(crate) async fn query(
    _: Authorized<ServiceConnect>,
    State(api): State<Api>,
    filter: Result<Query<JobFilter>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, RestError> {
    let Query(filter) =
        filter.map_err(|e| RestError::invalid(format!("query parameters: {}", e.body_text())))?;
    let job_type: Option<JobType> = enum_parameter("jobType", filter.job_type.as_deref())?;
    let status: Option<JobStatus> = enum_parameter("jobStatus", filter.job_status.as_deref())?;
    let limit = match (headers.contains_key(MAX_ITEM_COUNT), &filter.page_size) {
        (false, Some(size)) => page_size_parameter(size)?,
        _ => page_size(&headers)?,
    };
    let token = header_text(&headers, &CONTINUATION)?.or(filter.continuation_token.as_deref());
    let offset = token.map(parse_token).transpose()?.unwrap_or(0);
    let jobs = api.jobs().list(job_type, status);
    let page: Vec<&JobResponse> = jobs.iter().skip(offset).take(limit).collect();
    let next = offset + page.len();
    let token = (next < jobs.len()).then(|| format!("{TOKEN_PREFIX}{next:x}"));
    let mut answer = HeaderMap::new();
    answer.insert(
        ITEM_TYPE,
        HeaderValue::from_static(ItemType::JobResponse.as_str()),
    );
    if let Some(value) = token.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        answer.insert(CONTINUATION, value);
    }
    if !from_python(&headers) {
        return Ok(json_with(answer, &page));
    }
    let result = QueryResult {
        item_type: "jobResponse",
        items: &page,
        continuation_token: token.as_deref(),
    };
    Ok(json_with(answer, &result))
}

/// Whether the request comes from the Python service SDK.
fn from_python(headers: &HeaderMap) -> bool {
    headers
        .get(USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
        .is_some_and(|agent| agent.contains(PYTHON_CLIENT))
}

/// A `pageSize` parameter, read like `x-ms-max-item-count`.
fn page_size_parameter(size: &str) -> Result<usize, RestError> {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(size)
        .map_err(|_| RestError::invalid(format!("pageSize {size:?} is not a number")))?;
    headers.insert(MAX_ITEM_COUNT, value);
    page_size(&headers)
}

/// Continuation tokens of job queries: the prefix and the position of the next job in
/// hexadecimal. Clients treat them as opaque.
const TOKEN_PREFIX: &str = "jobs.";

fn parse_token(token: &str) -> Result<usize, RestError> {
    token
        .strip_prefix(TOKEN_PREFIX)
        .filter(|hex| !hex.is_empty() && hex.len() <= 16)
        .and_then(|hex| usize::from_str_radix(hex, 16).ok())
        .ok_or_else(|| RestError::invalid("x-ms-continuation is not a job query token"))
}

/// A `jobType` or `jobStatus` value (absent or empty: any), by its wire name.
fn enum_parameter<T: DeserializeOwned>(
    name: &str,
    value: Option<&str>,
) -> Result<Option<T>, RestError> {
    let Some(value) = value.filter(|value| !value.is_empty()) else {
        return Ok(None);
    };
    serde_json::from_value(Value::String(value.to_owned()))
        .map(Some)
        .map_err(|_| RestError::invalid(format!("{name} {value:?} is not a known value")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_protocol::ErrorCode;

    #[test]
    fn the_path_names_the_job() {
        let id: JobId = "j1".parse().unwrap();
        let body = br#"{"type":"scheduleDeviceMethod","queryCondition":"*",
            "cloudToDeviceMethod":{"methodName":"m"}}"#;
        assert_eq!(
            job_request(&id, body).unwrap().job_id.as_deref(),
            Some("j1")
        );
        let numeric: JobId = "42".parse().unwrap();
        let body = br#"{"jobId":42,"type":"scheduleUpdateTwin","updateTwin":{"etag":"*"}}"#;
        assert_eq!(
            job_request(&numeric, body).unwrap().job_id.as_deref(),
            Some("42")
        );
        let other = job_request(&id, br#"{"jobId":"j2","type":"scheduleUpdateTwin"}"#);
        assert_eq!(other.unwrap_err().code(), ErrorCode::ArgumentInvalid);
        let unknown = job_request(&id, br#"{"type":"rebootEverything"}"#).unwrap_err();
        assert_eq!(unknown.code(), ErrorCode::ArgumentInvalid);
        assert!(
            unknown.message().contains("rebootEverything"),
            "{}",
            unknown.message()
        );
        let broken = job_request(&id, b"{").unwrap_err();
        assert_eq!(broken.code(), ErrorCode::IotHubFormatError);
    }

    #[test]
    fn filters_and_tokens() {
        assert_eq!(
            enum_parameter::<JobType>("jobType", Some("scheduleUpdateTwin")).unwrap(),
            Some(JobType::ScheduleUpdateTwin)
        );
        assert_eq!(
            enum_parameter::<JobStatus>("jobStatus", Some("")).unwrap(),
            None
        );
        let error = enum_parameter::<JobStatus>("jobStatus", Some("finished")).unwrap_err();
        assert!(error.message().contains("finished"));
        assert_eq!(parse_token("jobs.1f").unwrap(), 31);
        for bad in ["jobs.", "jobs.xyz", "r.1", "jobs.11111111111111111"] {
            assert!(parse_token(bad).is_err(), "{bad}");
        }
    }
}
