//! Configurations over REST (PROTOCOL 10.1): `PUT`, `GET` and `DELETE /configurations/{id}`,
//! `GET /configurations[?top=n]` and `POST /configurations/testQueries`.
//!
//! `PUT` without `If-Match` creates (409 `ConfigurationAlreadyExists` when the id is taken)
//! and answers 200: PROTOCOL 10.1 allows 200 or 201, every official SDK takes 200, and the
//! registry's create answers 200 too. `PUT` with `If-Match` (quoted as Node sends it, raw as
//! Python does, or `*`) updates: 404 `ConfigurationNotFound`, 412 `PreconditionFailed`, 400
//! `CannotModifyImmutableConfigurationContent` when the content differs. Validation errors
//! carry IoT Hub's configuration codes (400401 target condition, 400402 content, 400404
//! metric queries; 400004 for the id and priority); over 100 configurations, 413101
//! `ConfigurationCountLimitExceeded`.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::response::Response;
use iot_protocol::{Configuration, ConfigurationId, ConfigurationQueriesTestInput};
use serde::Deserialize;
use serde_json::Value;

use super::BODY_LIMIT;
use super::auth::{Authorized, RegistryRead, RegistryWrite};
use super::error::RestError;
use super::extract::{Condition, json_error, parse_json, read_body};
use super::response::{json, no_content};
use super::router::Api;

/// The `{id}` segment of a configuration path.
#[derive(Debug)]
pub(crate) struct ConfigurationPath(pub(crate) ConfigurationId);

impl<S: Send + Sync> FromRequestParts<S> for ConfigurationPath {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, RestError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| RestError::invalid(format!("request path: {}", e.body_text())))?;
        ConfigurationId::parse(&id)
            .map(Self)
            .map_err(|e| RestError::invalid(e.to_string()))
    }
}

/// `PUT /configurations/{id}`: creates without `If-Match`, updates with it; 200 with the
/// configuration as stored.
pub(crate) async fn put(
    _: Authorized<RegistryWrite>,
    State(api): State<Api>,
    ConfigurationPath(id): ConfigurationPath,
    Condition(condition): Condition,
    body: Body,
) -> Result<Response, RestError> {
    let config = configuration(&id, &read_body(body, BODY_LIMIT).await?)?;
    let configurations = api.configurations();
    let stored = match condition {
        Some(condition) => configurations.update(&config, &condition).await?,
        None => configurations.create(&config).await?,
    };
    Ok(json(&stored))
}

/// Reads a configuration body. `id` may be left out (the path names the configuration); when
/// present it must be the path's id. Unknown fields are ignored.
fn configuration(id: &ConfigurationId, body: &[u8]) -> Result<Configuration, RestError> {
    let mut value: Value = parse_json(body, "the configuration")?;
    let Some(fields) = value.as_object_mut() else {
        return Err(RestError::invalid(
            "the configuration must be a JSON object",
        ));
    };
    match fields.get("id") {
        None | Some(Value::Null) => {
            fields.insert("id".to_owned(), Value::String(id.to_string()));
        }
        Some(Value::String(named)) if named == id.as_str() => {}
        Some(other) => {
            return Err(RestError::invalid(format!(
                "the body's id {other} is not the path's {:?}",
                id.as_str()
            )));
        }
    }
    Configuration::deserialize(value).map_err(|e| json_error(&e, "the configuration"))
}

/// `GET /configurations/{id}`.
pub(crate) async fn get(
    _: Authorized<RegistryRead>,
    State(api): State<Api>,
    ConfigurationPath(id): ConfigurationPath,
) -> Result<Response, RestError> {
    Ok(json(&api.configurations().get(&id)?))
}

/// `GET /configurations[?top=n]`: every configuration (at most 100 exist), or the first `n`
/// by id.
pub(crate) async fn list(
    _: Authorized<RegistryRead>,
    State(api): State<Api>,
    RawQuery(query): RawQuery,
) -> Result<Response, RestError> {
    Ok(json(&api.configurations().list(top(query.as_deref())?)))
}

/// The `top` query parameter, if given: a non-negative integer.
fn top(query: Option<&str>) -> Result<Option<usize>, RestError> {
    let value = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(name, value)| (name == "top").then_some(value));
    value
        .map(|value| {
            value.parse::<usize>().map_err(|_| {
                RestError::invalid(format!("top must be a non-negative integer, not {value:?}"))
            })
        })
        .transpose()
}

/// `DELETE /configurations/{id}`, with an optional `If-Match`: 204.
pub(crate) async fn delete(
    _: Authorized<RegistryWrite>,
    State(api): State<Api>,
    ConfigurationPath(id): ConfigurationPath,
    Condition(condition): Condition,
) -> Result<Response, RestError> {
    api.configurations().delete(&id, condition.as_ref()).await?;
    Ok(no_content())
}

/// `POST /configurations/testQueries`: 200 with the errors of the target condition and of each
/// custom metric query (none when all parse).
pub(crate) async fn test_queries(
    _: Authorized<RegistryRead>,
    State(api): State<Api>,
    body: Body,
) -> Result<Response, RestError> {
    let body = read_body(body, BODY_LIMIT).await?;
    let input: ConfigurationQueriesTestInput = parse_json(&body, "the queries to test")?;
    Ok(json(&api.configurations().test_queries(&input)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_protocol::ErrorCode;

    #[test]
    fn the_path_names_the_configuration() {
        let id: ConfigurationId = "c1".parse().unwrap();
        let config = configuration(&id, br#"{"priority":1,"unknown":true}"#).unwrap();
        assert_eq!(config.id, "c1");
        assert!(configuration(&id, br#"{"id":"c1"}"#).is_ok());
        let other = configuration(&id, br#"{"id":"c2"}"#).unwrap_err();
        assert_eq!(other.code(), ErrorCode::ArgumentInvalid);
        let broken = configuration(&id, b"{").unwrap_err();
        assert_eq!(broken.code(), ErrorCode::IotHubFormatError);
        let shape = configuration(&id, br#"{"priority":"high"}"#).unwrap_err();
        assert_eq!(shape.code(), ErrorCode::ArgumentInvalid);
    }

    #[test]
    fn top_is_optional() {
        assert_eq!(top(None), Ok(None));
        assert_eq!(top(Some("api-version=2021-04-12&top=3")), Ok(Some(3)));
        assert!(top(Some("top=-3")).is_err());
    }
}
