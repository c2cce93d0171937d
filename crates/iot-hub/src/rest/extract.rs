//! Reading requests: ids from the path, `If-Match`, bodies with a size limit, and JSON with
//! IoT Hub's distinction between unparsable text (400006) and a wrong shape (400004).

use std::collections::HashMap;
use std::future::poll_fn;
use std::pin::Pin;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use bytes::BytesMut;
use iot_protocol::{DeviceId, ErrorCode, IfMatch, ModuleId};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::error::RestError;

/// The `{id}` segment of the path, as a device id (400 `ArgumentInvalid` when it is not one).
#[derive(Debug)]
pub(crate) struct DevicePath(pub(crate) DeviceId);

/// The `{id}` and `{mid}` segments of a module path.
#[derive(Debug)]
pub(crate) struct ModulePath {
    pub(crate) device_id: DeviceId,
    pub(crate) module_id: ModuleId,
}

impl<S: Send + Sync> FromRequestParts<S> for DevicePath {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, RestError> {
        let params = path_params(parts, state).await?;
        Ok(Self(device_id(&params)?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ModulePath {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, RestError> {
        let params = path_params(parts, state).await?;
        let module = params.get("mid").map_or("", String::as_str);
        let module_id = ModuleId::parse(module).map_err(|e| RestError::invalid(e.to_string()))?;
        Ok(Self {
            device_id: device_id(&params)?,
            module_id,
        })
    }
}

/// The path's parameters, percent-decoded.
async fn path_params<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<HashMap<String, String>, RestError> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|e| RestError::invalid(format!("request path: {}", e.body_text())))?;
    Ok(params)
}

fn device_id(params: &HashMap<String, String>) -> Result<DeviceId, RestError> {
    let id = params.get("id").map_or("", String::as_str);
    DeviceId::parse(id).map_err(|e| RestError::invalid(e.to_string()))
}

/// The request's `If-Match` condition, read by [`if_match`].
#[derive(Debug)]
pub(crate) struct Condition(pub(crate) Option<IfMatch>);

impl<S: Send + Sync> FromRequestParts<S> for Condition {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, RestError> {
        if_match(&parts.headers).map(Self)
    }
}

/// The `If-Match` header: `None` when absent or empty (IoT Hub documents no meaning for an
/// empty header; we treat it as no condition), else the parsed condition (quoted, unquoted,
/// `W/`, `*`; see [`IfMatch::parse`]), or 400 `ArgumentInvalid`.
fn if_match(headers: &HeaderMap) -> Result<Option<IfMatch>, RestError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| RestError::invalid("the If-Match header must be visible ASCII"))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    IfMatch::parse(text)
        .map(Some)
        .map_err(|e| RestError::invalid(e.to_string()))
}

/// The whole request body, or 413 `MessageTooLarge` as soon as it is known to be longer than
/// `limit` bytes (from `Content-Length`, or while reading a chunked body).
pub(crate) async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, RestError> {
    let too_large = || {
        RestError::new(
            ErrorCode::MessageTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
    };
    if body
        .size_hint()
        .exact()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large());
    }
    let mut read = BytesMut::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| RestError::invalid(format!("reading the body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if read.len() + data.len() > limit {
                return Err(too_large());
            }
            read.extend_from_slice(&data);
        }
    }
    Ok(read.freeze())
}

/// Parses a JSON body: 400 `IotHubFormatError` when it is not JSON, 400 `ArgumentInvalid`
/// when it is JSON of the wrong shape. `what` names the body in the message.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, RestError> {
    serde_json::from_slice(body).map_err(|e| json_error(&e, what))
}

/// The error for a body that `serde_json` refused.
pub(crate) fn json_error(error: &serde_json::Error, what: &str) -> RestError {
    let code = match error.classify() {
        Category::Syntax | Category::Eof => ErrorCode::IotHubFormatError,
        Category::Data | Category::Io => ErrorCode::ArgumentInvalid,
    };
    RestError::new(code, format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::Value;

    fn headers(if_match: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_MATCH,
            HeaderValue::from_str(if_match).expect("a valid header"),
        );
        headers
    }

    #[test]
    fn if_match_accepts_every_client_form() {
        assert_eq!(if_match(&HeaderMap::new()), Ok(None));
        assert_eq!(if_match(&headers("")), Ok(None));
        for any in ["*", "\"*\""] {
            assert_eq!(if_match(&headers(any)), Ok(Some(IfMatch::ANY)));
        }
        for etag in ["\"AAAAAAAAAAE=\"", "AAAAAAAAAAE=", "W/\"AAAAAAAAAAE=\""] {
            let condition = if_match(&headers(etag)).expect("valid").expect("present");
            assert!(condition.matches("AAAAAAAAAAE="), "{etag}");
            assert!(!condition.matches("AAAAAAAAAAI="), "{etag}");
        }
        let error = if_match(&headers("\"a,b\"")).expect_err("a list");
        assert_eq!(error.code(), ErrorCode::ArgumentInvalid);
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        assert_eq!(
            read_body(Body::from("12345"), 5)
                .await
                .expect("at the limit"),
            "12345"
        );
        let error = read_body(Body::from("123456"), 5).await.expect_err("over");
        assert_eq!(error.code(), ErrorCode::MessageTooLarge);
        let chunks = futures_util::stream::iter(["123", "456"].map(Ok::<_, std::io::Error>));
        let error = read_body(Body::from_stream(chunks), 5)
            .await
            .expect_err("over, chunked");
        assert_eq!(error.code(), ErrorCode::MessageTooLarge);
    }

    #[test]
    fn syntax_and_shape_errors_have_their_codes() {
        let syntax = parse_json::<Value>(b"{\"a\":", "the body").expect_err("cut short");
        assert_eq!(syntax.code(), ErrorCode::IotHubFormatError);
        let shape = parse_json::<Vec<u8>>(b"{}", "the body").expect_err("not an array");
        assert_eq!(shape.code(), ErrorCode::ArgumentInvalid);
        assert!(shape.message().starts_with("the body: "));
    }
}
