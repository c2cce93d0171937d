//! Twins over REST (PROTOCOL 6): read, merge-patch and replace tags and desired properties,
//! with [`TwinUpdate`] building the body.

use iot_protocol::{DeviceId, IfMatch};
use iot_twin::{ServiceWrite, Twin, TwinError};
use serde_json::{Map, Value};

use crate::request::{Method, Request, Segment, path};
use crate::response::Response;
use crate::{ServiceClient, ServiceError};

/// The body of a twin update: tags and desired properties to merge (with
/// [`ServiceClient::update_twin`]) or to put in place of the current ones (with
/// [`ServiceClient::replace_twin`]).
///
/// Each section is a JSON object or `null`. In a merge, members are added or replaced, a
/// `null` member deletes, a `null` section clears the section and a section left out is left
/// alone; in a replacement, a section left out or `null` becomes empty. Reported properties
/// belong to the device and cannot be written here.
///
/// The setters never fail; the content is checked against IoT Hub's twin rules (key
/// characters, nesting depth, value types) by `iot_twin`, before anything is sent, and a
/// violation is a [`ServiceError::InvalidTwinUpdate`] naming the path.
///
/// ```
/// use iot_service_sdk::TwinUpdate;
/// use serde_json::json;
///
/// let update = TwinUpdate::new()
///     .desired(json!({"telemetryInterval": 30, "fan": null}))
///     .tags(json!({"location": {"plant": "Redmond43"}}));
/// assert_eq!(
///     update.to_json()?,
///     json!({"tags": {"location": {"plant": "Redmond43"}},
///            "properties": {"desired": {"telemetryInterval": 30, "fan": null}}})
/// );
///
/// let bad = TwinUpdate::new().desired(json!({"bad key": 1}));
/// assert!(bad.to_service_write().unwrap_err().to_string().contains("properties.desired"));
/// # Ok::<(), iot_service_sdk::ServiceError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TwinUpdate {
    tags: Option<Value>,
    desired: Option<Value>,
}

impl TwinUpdate {
    /// An update that mentions neither section.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the desired properties to merge or replace: an object, or `null` to clear them.
    pub fn desired(mut self, desired: Value) -> Self {
        self.desired = Some(desired);
        self
    }

    /// Sets the tags to merge or replace: an object, or `null` to clear them.
    pub fn tags(mut self, tags: Value) -> Self {
        self.tags = Some(tags);
        self
    }

    /// The body checked by IoT Hub's twin rules, as `iot_twin` models it.
    ///
    /// # Errors
    /// The first rule broken, with its path in the body (`properties.desired.a`, `tags.b`).
    pub fn to_service_write(&self) -> Result<ServiceWrite, TwinError> {
        let mut body = Map::new();
        if let Some(tags) = &self.tags {
            body.insert("tags".to_owned(), tags.clone());
        }
        if let Some(desired) = &self.desired {
            let mut properties = Map::new();
            properties.insert("desired".to_owned(), desired.clone());
            body.insert("properties".to_owned(), Value::Object(properties));
        }
        ServiceWrite::from_value(Value::Object(body))
    }

    /// The JSON body sent, after the checks of [`Self::to_service_write`].
    ///
    /// # Errors
    /// [`ServiceError::InvalidTwinUpdate`].
    pub fn to_json(&self) -> Result<Value, ServiceError> {
        let write = self.to_service_write()?;
        serde_json::to_value(&write).map_err(|e| ServiceError::protocol(e.to_string()))
    }
}

fn twin_path(id: &DeviceId) -> String {
    path(&[Segment::Literal("twins"), Segment::Id(id.as_str())])
}

/// Reads a twin from an answer.
pub(crate) fn read_twin(response: &Response) -> Result<Twin, ServiceError> {
    Twin::from_slice(&response.body)
        .map_err(|e| ServiceError::protocol(format!("the twin in the answer is not valid: {e}")))
}

impl ServiceClient {
    /// Reads a device's twin (`GET /twins/{id}`): tags, desired and reported properties with
    /// their versions and metadata, the etag, and the registry fields.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when there is no such device.
    pub async fn get_twin(&self, id: &DeviceId) -> Result<Twin, ServiceError> {
        let request = Request::new(Method::Get, twin_path(id)).device(id);
        read_twin(&self.execute(request).await?)
    }

    /// Merges `update` into the twin (`PATCH /twins/{id}`) and returns the twin after the
    /// update. With [`IfMatch::ANY`] unconditionally; with the twin's etag
    /// (`twin.etag().into()`) only if nobody wrote it since. A change of desired properties
    /// reaches the device if it is connected.
    ///
    /// Not retried once sent.
    ///
    /// # Errors
    /// [`ServiceError::InvalidTwinUpdate`] before sending; [`ServiceError::PreconditionFailed`]
    /// for a stale etag; [`ServiceError::NotFound`]; [`ServiceError::BadRequest`] for content
    /// the hub refuses (for instance a section over its size limit).
    pub async fn update_twin(
        &self,
        id: &DeviceId,
        update: &TwinUpdate,
        if_match: IfMatch,
    ) -> Result<Twin, ServiceError> {
        self.write_twin(Method::Patch, id, update, if_match).await
    }

    /// Replaces the twin's tags and desired properties with `update`'s (`PUT /twins/{id}`);
    /// a section `update` leaves out becomes empty. Returns the twin after the replacement.
    /// Conditional as [`Self::update_twin`]; retried like every idempotent request.
    ///
    /// # Errors
    /// As [`Self::update_twin`].
    pub async fn replace_twin(
        &self,
        id: &DeviceId,
        update: &TwinUpdate,
        if_match: IfMatch,
    ) -> Result<Twin, ServiceError> {
        self.write_twin(Method::Put, id, update, if_match).await
    }

    async fn write_twin(
        &self,
        method: Method,
        id: &DeviceId,
        update: &TwinUpdate,
        if_match: IfMatch,
    ) -> Result<Twin, ServiceError> {
        let body = update.to_service_write()?;
        let request = Request::new(method, twin_path(id))
            .device(id)
            .if_match(if_match)
            .json(&body)?;
        read_twin(&self.execute(request).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_twin::SectionField;
    use serde_json::json;

    #[test]
    fn sections_map_to_the_body() {
        assert_eq!(TwinUpdate::new().to_json().unwrap(), json!({}));
        let clear = TwinUpdate::new().desired(Value::Null).tags(Value::Null);
        let write = clear.to_service_write().unwrap();
        assert_eq!(write.tags(), &SectionField::Null);
        assert_eq!(write.desired(), &SectionField::Null);
        assert_eq!(
            clear.to_json().unwrap(),
            json!({"tags": null, "properties": {"desired": null}})
        );
    }

    #[test]
    fn twin_rules_are_checked_with_paths() {
        let cases = [
            (
                TwinUpdate::new().desired(json!({"a": {"$b": 1}})),
                "properties.desired.a",
            ),
            (TwinUpdate::new().tags(json!({"x.y": 1})), "tags"),
            (TwinUpdate::new().tags(json!([1])), "tags"),
            (
                TwinUpdate::new().desired(json!("text")),
                "properties.desired",
            ),
        ];
        for (update, path) in cases {
            let error = ServiceError::from(update.to_service_write().unwrap_err());
            assert!(matches!(error, ServiceError::InvalidTwinUpdate(_)));
            assert!(error.to_string().contains(path), "{error}");
        }
    }

    #[test]
    fn twins_from_answers() {
        let now = iot_twin::Timestamp::from_unix_seconds(1_700_000_000).unwrap();
        let twin = Twin::new("d1", None, now);
        let response = Response {
            status: 200,
            body: serde_json::to_vec(&twin).unwrap(),
            ..Response::default()
        };
        assert_eq!(read_twin(&response).unwrap(), twin);
        let broken = Response {
            status: 200,
            body: b"[]".to_vec(),
            ..Response::default()
        };
        assert!(matches!(
            read_twin(&broken),
            Err(ServiceError::Protocol { .. })
        ));
    }
}
