//! Successful answers: JSON bodies with IoT Hub's content type, and 204 without a body.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iot_protocol::ErrorCode;
use serde::Serialize;

use super::error::{JSON_CONTENT_TYPE, RestError};

/// `200 OK` with `value` as compact JSON and `Content-Type: application/json; charset=utf-8`.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Response {
    json_with(HeaderMap::new(), value)
}

/// `200 OK` with `value` as JSON and the extra `headers` (query paging headers).
pub(crate) fn json_with<T: Serialize + ?Sized>(mut headers: HeaderMap, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(JSON_CONTENT_TYPE),
            );
            (StatusCode::OK, headers, body).into_response()
        }
        Err(error) => RestError::new(
            ErrorCode::ServerError,
            format!("the answer could not be encoded: {error}"),
        )
        .into_response(),
    }
}

/// `204 No Content`, without a body.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_answers_carry_the_iot_hub_content_type() {
        let response = json(&json!({"a": 1}));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        let mut extra = HeaderMap::new();
        extra.insert("x-ms-item-type", HeaderValue::from_static("Twin"));
        let response = json_with(extra, &json!([]));
        assert_eq!(response.headers()["x-ms-item-type"], "Twin");
    }

    #[test]
    fn no_content_has_no_body_type() {
        let response = no_content();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(response.headers().get(header::CONTENT_TYPE).is_none());
    }
}
