//! The identity registry over REST (PROTOCOL 11.1): `/devices`, `/devices/{id}` and
//! `/statistics/...`.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use iot_protocol::{Device, ErrorCode};
use serde::Deserialize;
use serde_json::Value;

use super::BODY_LIMIT;
use super::auth::{Authorized, RegistryRead, RegistryWrite};
use super::error::RestError;
use super::extract::{Condition, DevicePath, ModulePath, json_error, parse_json, read_body};
use super::response::{json, no_content};
use super::router::Api;
use crate::DeviceOptions;

/// The most devices `GET /devices` returns (IoT Hub's documented maximum for `top`).
pub(crate) const MAX_LIST: usize = 1000;

/// `GET /devices/{id}`: the device's registry record.
pub(crate) async fn get(
    _: Authorized<RegistryRead>,
    State(api): State<Api>,
    DevicePath(id): DevicePath,
) -> Result<Response, RestError> {
    Ok(json(&api.registry().get_device(&id)?))
}

/// `PUT /devices/{id}`: without `If-Match`, registers the device (keys generated when absent,
/// `null` or empty; 409 when it exists); with `If-Match`, updates its status and
/// authentication (404 when missing, 412 when the etag differs). Answers 200 with the record.
pub(crate) async fn put(
    _: Authorized<RegistryWrite>,
    State(api): State<Api>,
    DevicePath(id): DevicePath,
    Condition(condition): Condition,
    body: Body,
) -> Result<Response, RestError> {
    let device = device_body(&id, &read_body(body, BODY_LIMIT).await?)?;
    let device = match condition {
        None => {
            let options = DeviceOptions::from_device(&device)?;
            api.registry().create_device(&id, options).await?
        }
        Some(condition) => {
            api.registry()
                .update_device(&device, Some(&condition))
                .await?
        }
    };
    Ok(json(&device))
}

/// Reads a registry `PUT` body. `deviceId` may be left out (the path names the device); when
/// present it must be the path's id, as IoT Hub requires. Unknown fields are ignored.
fn device_body(id: &iot_protocol::DeviceId, body: &[u8]) -> Result<Device, RestError> {
    let mut value: Value = parse_json(body, "the device")?;
    let Some(fields) = value.as_object_mut() else {
        return Err(RestError::invalid("the device must be a JSON object"));
    };
    match fields.get("deviceId") {
        None | Some(Value::Null) => {
            fields.insert("deviceId".to_owned(), Value::String(id.to_string()));
        }
        Some(Value::String(named)) if named == id.as_str() => {}
        Some(other) => {
            return Err(RestError::invalid(format!(
                "the body's deviceId {other} is not the path's {id:?}"
            )));
        }
    }
    Device::deserialize(value).map_err(|e| json_error(&e, "the device"))
}

/// `DELETE /devices/{id}`, with an optional `If-Match`: 204.
pub(crate) async fn delete(
    _: Authorized<RegistryWrite>,
    State(api): State<Api>,
    DevicePath(id): DevicePath,
    Condition(condition): Condition,
) -> Result<Response, RestError> {
    api.registry()
        .delete_device(&id, condition.as_ref())
        .await?;
    Ok(no_content())
}

/// `GET /devices[?top=n]`: the registered devices in id order, at most `n` of them (1000 when
/// absent; IoT Hub caps `top` at 1000 and so do we, quietly, for larger values).
pub(crate) async fn list(
    _: Authorized<RegistryRead>,
    State(api): State<Api>,
    RawQuery(query): RawQuery,
) -> Result<Response, RestError> {
    let top = top(query.as_deref())?;
    let mut devices = api.registry().list_devices();
    devices.truncate(top);
    Ok(json(&devices))
}

/// The `top` query parameter: a non-negative integer.
fn top(query: Option<&str>) -> Result<usize, RestError> {
    let value = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(name, value)| (name == "top").then_some(value));
    let Some(value) = value else {
        return Ok(MAX_LIST);
    };
    value
        .parse::<usize>()
        .map(|top| top.min(MAX_LIST))
        .map_err(|_| {
            RestError::invalid(format!("top must be a non-negative integer, not {value:?}"))
        })
}

/// `GET /statistics/devices`.
pub(crate) async fn statistics(_: Authorized<RegistryRead>, State(api): State<Api>) -> Response {
    json(&api.registry().statistics())
}

/// `GET /statistics/service`.
pub(crate) async fn service_statistics(
    _: Authorized<RegistryRead>,
    State(api): State<Api>,
) -> Response {
    json(&api.registry().service_statistics())
}

/// `GET /devices/{id}/modules`: this hub registers no modules, so the list is empty (404 for
/// an unknown device).
pub(crate) async fn list_modules(
    _: Authorized<RegistryRead>,
    State(api): State<Api>,
    DevicePath(id): DevicePath,
) -> Result<Response, RestError> {
    api.registry().get_device(&id)?;
    Ok(json(&[] as &[Value]))
}

/// Any request on `/devices/{id}/modules/{mid}`: 404, as this hub registers no modules.
pub(crate) async fn module(
    _: Authorized<RegistryRead>,
    State(api): State<Api>,
    path: ModulePath,
) -> Result<Response, RestError> {
    Err(module_not_found(&api, &path))
}

/// 404 `DeviceNotFound` for an unknown device, else 404 `ModuleNotFound` saying that this hub
/// has no module identities.
pub(crate) fn module_not_found(api: &Api, path: &ModulePath) -> RestError {
    if let Err(error) = api.registry().get_device(&path.device_id) {
        return error.into();
    }
    RestError::new(
        ErrorCode::ModuleNotFound,
        format!(
            "device {} has no module {}: this hub registers device identities only",
            path.device_id, path.module_id
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_defaults_and_caps_at_a_thousand() {
        assert_eq!(top(None), Ok(MAX_LIST));
        assert_eq!(top(Some("api-version=2021-04-12")), Ok(MAX_LIST));
        assert_eq!(top(Some("top=5&api-version=2021-04-12")), Ok(5));
        assert_eq!(top(Some("api-version=x&top=0")), Ok(0));
        assert_eq!(top(Some("top=5000")), Ok(MAX_LIST));
        for bad in ["top=-1", "top=", "top=ten"] {
            let error = top(Some(bad)).expect_err(bad);
            assert_eq!(error.code(), ErrorCode::ArgumentInvalid);
        }
    }

    #[test]
    fn the_body_names_the_path_device_or_none() {
        let id = "d1".parse().expect("a valid id");
        let device = device_body(&id, br#"{"status":"disabled","unknown":1}"#).expect("valid");
        assert_eq!(device.device_id, id);
        assert!(device_body(&id, br#"{"deviceId":"d1"}"#).is_ok());
        let other = device_body(&id, br#"{"deviceId":"d2"}"#).expect_err("another id");
        assert_eq!(other.code(), ErrorCode::ArgumentInvalid);
        let array = device_body(&id, b"[]").expect_err("not an object");
        assert_eq!(array.code(), ErrorCode::ArgumentInvalid);
        let broken = device_body(&id, b"{").expect_err("not JSON");
        assert_eq!(broken.code(), ErrorCode::IotHubFormatError);
        let bad_key = br#"{"authentication":{"symmetricKey":{"primaryKey":"not base64!"}}}"#;
        let error = device_body(&id, bad_key).expect_err("a bad key");
        assert_eq!(error.code(), ErrorCode::ArgumentInvalid);
        assert!(!error.message().contains("not base64!"));
    }
}
