//! [`QueryPage`]: one answer of `POST /devices/query`, its items and where the next page
//! starts.

use std::any::type_name;

use serde::de::DeserializeOwned;

use crate::ServiceError;
use crate::response::Response;

/// One page of query results: the items, the `x-ms-item-type` the hub gave them, and the
/// continuation token of the next page (`None` on the last page).
///
/// The token can be kept and handed to [`crate::QueryRequest::resume`] later to carry on from
/// here, for instance to page through results across requests of a web API.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage<T> {
    items: Vec<T>,
    continuation: Option<String>,
    item_type: Option<String>,
}

impl<T> QueryPage<T> {
    /// The items.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// The items, owned.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }

    /// How many items the page holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the page holds no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The token of the next page, or `None` when this is the last.
    pub fn continuation(&self) -> Option<&str> {
        self.continuation.as_deref()
    }

    /// The `x-ms-item-type` header: `Twin`, `DeviceJob`, `JobResponse` or `Raw`, if the hub
    /// sent one.
    pub fn item_type(&self) -> Option<&str> {
        self.item_type.as_deref()
    }
}

/// A page as received, items still JSON text: they are read once, straight into the
/// caller's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawPage {
    pub(crate) body: Vec<u8>,
    pub(crate) continuation: Option<String>,
    pub(crate) item_type: Option<String>,
}

impl RawPage {
    /// A page from a 2xx answer.
    pub(crate) fn from_response(response: Response) -> Self {
        Self {
            body: response.body,
            continuation: response
                .headers
                .continuation
                .filter(|token| !token.is_empty()),
            item_type: response.headers.item_type,
        }
    }

    /// The page with each item read as `T`; the body must be a JSON array.
    pub(crate) fn typed<T: DeserializeOwned>(self) -> Result<QueryPage<T>, ServiceError> {
        let items = serde_json::from_slice::<Vec<T>>(&self.body).map_err(|e| {
            ServiceError::protocol(format!(
                "the query page is not a JSON array of {}: {e}",
                type_name::<T>()
            ))
        })?;
        Ok(QueryPage {
            items,
            continuation: self.continuation,
            item_type: self.item_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::ResponseHeaders;
    use serde::Deserialize;
    use serde_json::{Value, json};

    fn response(body: &str, continuation: Option<&str>) -> Response {
        Response {
            status: 200,
            headers: ResponseHeaders {
                continuation: continuation.map(str::to_owned),
                item_type: Some("Raw".into()),
                ..ResponseHeaders::default()
            },
            body: body.as_bytes().to_vec(),
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Row {
        #[serde(rename = "deviceId")]
        device_id: String,
    }

    #[test]
    fn pages_read_items_and_headers() {
        let raw = RawPage::from_response(response(
            r#"[{"deviceId":"a"},{"deviceId":"b"}]"#,
            Some("t1"),
        ));
        let page = raw.clone().typed::<Row>().unwrap();
        assert_eq!(page.len(), 2);
        assert_eq!(
            page.items()[1],
            Row {
                device_id: "b".into()
            }
        );
        assert_eq!(
            (page.continuation(), page.item_type()),
            (Some("t1"), Some("Raw"))
        );
        let values = raw.typed::<Value>().unwrap();
        assert_eq!(values.into_items()[0], json!({"deviceId": "a"}));
    }

    #[test]
    fn an_empty_token_ends_the_query() {
        let raw = RawPage::from_response(response("[]", Some("")));
        assert_eq!(raw.continuation, None);
        assert!(raw.typed::<Value>().unwrap().is_empty());
    }

    #[test]
    fn bad_pages_and_items_are_protocol_errors() {
        let object = RawPage::from_response(response(r#"{"deviceId":"a"}"#, None));
        let error = object.typed::<Value>().unwrap_err();
        assert!(matches!(error, ServiceError::Protocol { .. }), "{error:?}");
        assert!(error.to_string().contains("JSON array"), "{error}");
        let mixed = RawPage::from_response(response(r#"[{"deviceId":"a"},{"id":1}]"#, None));
        let error = mixed.typed::<Row>().unwrap_err();
        assert!(error.to_string().contains("deviceId"), "{error}");
        assert!(error.to_string().contains("column 26"), "{error}");
    }
}
