//! Device twins over REST (PROTOCOL 6): `GET`, `PATCH` (merge) and `PUT` (replace) on
//! `/twins/{id}`.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use iot_protocol::ErrorCode;
use iot_twin::ServiceWrite;

use super::BODY_LIMIT;
use super::auth::{Authorized, ServiceConnect};
use super::error::RestError;
use super::extract::{Condition, DevicePath, ModulePath, read_body};
use super::registry::module_not_found;
use super::response::json;
use super::router::Api;

/// `GET /twins/{id}`: the twin with its registry fields.
pub(crate) async fn get(
    _: Authorized<ServiceConnect>,
    State(api): State<Api>,
    DevicePath(id): DevicePath,
) -> Result<Response, RestError> {
    Ok(json(&api.twins().get(&id)?))
}

/// `PATCH /twins/{id}`: merges `tags` and `properties.desired` (optional `If-Match`; 412 when
/// it differs) and answers 200 with the whole twin. A desired change reaches the device if
/// it is connected and subscribed.
pub(crate) async fn patch(
    _: Authorized<ServiceConnect>,
    State(api): State<Api>,
    DevicePath(id): DevicePath,
    Condition(condition): Condition,
    body: Body,
) -> Result<Response, RestError> {
    let write = service_write(&read_body(body, BODY_LIMIT).await?)?;
    Ok(json(
        &api.twins().update(&id, &write, condition.as_ref()).await?,
    ))
}

/// `PUT /twins/{id}`: replaces `tags` and `properties.desired`, otherwise as `PATCH`.
pub(crate) async fn replace(
    _: Authorized<ServiceConnect>,
    State(api): State<Api>,
    DevicePath(id): DevicePath,
    Condition(condition): Condition,
    body: Body,
) -> Result<Response, RestError> {
    let write = service_write(&read_body(body, BODY_LIMIT).await?)?;
    Ok(json(
        &api.twins().replace(&id, &write, condition.as_ref()).await?,
    ))
}

/// Reads a twin write body; the error code follows the broken rule (400006 for text that is
/// not a JSON object, 400004 for a bad key or value), the message names its JSON path.
fn service_write(body: &[u8]) -> Result<ServiceWrite, RestError> {
    ServiceWrite::from_slice(body)
        .map_err(|e| RestError::new(ErrorCode::for_twin_error(&e), format!("the twin body: {e}")))
}

/// Any request on a module twin or its methods: 404, as this hub registers no modules.
pub(crate) async fn module(
    _: Authorized<ServiceConnect>,
    State(api): State<Api>,
    path: ModulePath,
) -> Result<Response, RestError> {
    Err(module_not_found(&api, &path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_bodies_map_to_the_hubs_codes() {
        assert!(service_write(br#"{"tags":{"a":1},"deviceId":"x"}"#).is_ok());
        let cases: [(&[u8], ErrorCode); 4] = [
            (b"{", ErrorCode::IotHubFormatError),
            (b"[]", ErrorCode::IotHubFormatError),
            (br#"{"tags":{"a.b":1}}"#, ErrorCode::ArgumentInvalid),
            (
                br#"{"properties":{"reported":{"a":1}}}"#,
                ErrorCode::ArgumentInvalid,
            ),
        ];
        for (body, code) in cases {
            let error = service_write(body).expect_err("refused");
            assert_eq!(error.code(), code, "{}", error.message());
        }
    }
}
