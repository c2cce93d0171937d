//! Twin queries over REST (PROTOCOL 8.1): `POST /devices/query`.
//!
//! The body is `{"query": "..."}` in the IoT Hub query language (`iot_twin::query`); the
//! answer is a JSON array of rows with `x-ms-item-type` (`Twin` for `SELECT *` over devices,
//! `Raw` for projections and aggregates, `DeviceJob` for `devices.jobs`). Pages hold
//! `x-ms-max-item-count` rows (see [`page_size`]); when more follow, the answer carries
//! `x-ms-continuation` (see [`Continuation`]), which the client sends back for the next page.
//! The last page has no continuation.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use iot_protocol::{ErrorCode, QuerySpecification};
use iot_twin::query::Query;

use super::BODY_LIMIT;
use super::auth::{Authorized, ServiceConnect};
use super::continuation::Continuation;
use super::error::RestError;
use super::extract::{parse_json, read_body};
use super::response::json_with;
use super::router::Api;
use crate::twin_query::Resume;

/// Rows per page when the client does not say.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 100;

/// The most rows per page; larger requests get this many, as the REST reference allows ("the
/// service may use a different value").
pub(crate) const MAX_PAGE_SIZE: usize = 1000;

pub(crate) const MAX_ITEM_COUNT: HeaderName = HeaderName::from_static("x-ms-max-item-count");
pub(crate) const CONTINUATION: HeaderName = HeaderName::from_static("x-ms-continuation");
pub(crate) const ITEM_TYPE: HeaderName = HeaderName::from_static("x-ms-item-type");

/// `POST /devices/query`: one page of the query's rows.
pub(crate) async fn run(
    _: Authorized<ServiceConnect>,
    State(api): State<Api>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RestError> {
    let body = read_body(body, BODY_LIMIT).await?;
    let spec: QuerySpecification = parse_json(&body, "the query specification")?;
    let query = Query::parse(&spec.query)
        .map_err(|e| RestError::invalid(format!("the query is invalid: {e}")))?;
    let limit = page_size(&headers)?;
    let from = match header_text(&headers, &CONTINUATION)? {
        None => Resume::Start,
        Some(token) => Continuation::parse(token)?.resume_for(&query)?,
    };
    // A page may read many twins: it runs on the blocking pool, not on a worker thread that
    // MQTT connections share.
    let core = api.shared_core();
    let (query, page) = tokio::task::spawn_blocking(move || {
        let page = core.query_page(&query, &from, limit);
        (query, page)
    })
    .await
    .map_err(|e| RestError::new(ErrorCode::ServerError, format!("the query failed: {e}")))?;
    let mut answer = HeaderMap::new();
    answer.insert(
        ITEM_TYPE,
        HeaderValue::from_static(query.item_type().as_str()),
    );
    if let Some(next) = page.next {
        let token = Continuation::new(&query, next).to_string();
        if let Ok(value) = HeaderValue::from_str(&token) {
            answer.insert(CONTINUATION, value);
        }
    }
    Ok(json_with(answer, &page.items))
}

/// The page size from `x-ms-max-item-count`: [`DEFAULT_PAGE_SIZE`] when absent or 0, at most
/// [`MAX_PAGE_SIZE`]. The value is a decimal number, possibly in quotes; anything else is 400
/// `ArgumentInvalid`.
pub(crate) fn page_size(headers: &HeaderMap) -> Result<usize, RestError> {
    let Some(text) = header_text(headers, &MAX_ITEM_COUNT)? else {
        return Ok(DEFAULT_PAGE_SIZE);
    };
    let digits = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RestError::invalid(format!(
            "x-ms-max-item-count must be a positive integer, not {text:?}"
        )));
    }
    // Only a number too large for `usize` fails to parse here.
    match digits.parse::<usize>().unwrap_or(usize::MAX) {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size => Ok(size.min(MAX_PAGE_SIZE)),
    }
}

/// A header's trimmed text, `None` when absent or empty.
pub(crate) fn header_text<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h str>, RestError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| RestError::invalid(format!("{name} must be visible ASCII")))?
        .trim();
    Ok((!text.is_empty()).then_some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            MAX_ITEM_COUNT,
            HeaderValue::from_str(value).expect("a valid header"),
        );
        headers
    }

    #[test]
    fn page_sizes_default_clamp_and_accept_quotes() {
        assert_eq!(page_size(&HeaderMap::new()), Ok(DEFAULT_PAGE_SIZE));
        let cases = [
            ("7", 7),
            (" 7 ", 7),
            ("\"7\"", 7),
            ("0", DEFAULT_PAGE_SIZE),
            ("", DEFAULT_PAGE_SIZE),
            ("1000", 1000),
            ("1001", MAX_PAGE_SIZE),
            ("99999999999999999999", MAX_PAGE_SIZE),
        ];
        for (header, size) in cases {
            assert_eq!(page_size(&with(header)), Ok(size), "{header:?}");
        }
        for bad in ["-1", "ten", "1.5", "\"\""] {
            let error = page_size(&with(bad)).expect_err(bad);
            assert_eq!(error.code(), ErrorCode::ArgumentInvalid);
        }
    }
}
