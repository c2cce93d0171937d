//! [`Request`]: what the client sends, described without the HTTP library's types, and the
//! URL rules (paths with encoded ids, `api-version`).

use std::time::Duration;

use iot_protocol::{ConfigurationId, DeviceId, IfMatch, JobId, ProtocolError};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::error::ErrorContext;
use crate::retry::Retry;
use crate::{Resource, ServiceError};

/// The REST API version this crate speaks (PROTOCOL 12.1), sent as `?api-version=` on every
/// request.
pub const API_VERSION: &str = "2021-04-12";

/// Everything but RFC 3986's unreserved characters is percent-encoded in a path segment, so
/// that ids holding `# ? % + / $` and the like reach the hub intact.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// `GET`
    Get,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

/// A request to the hub.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The method.
    pub(crate) method: Method,
    /// The path, segments already encoded, starting with `/`.
    pub(crate) path: String,
    /// Query parameters besides `api-version`, values unencoded.
    pub(crate) query: Vec<(&'static str, String)>,
    /// The `If-Match` condition.
    pub(crate) if_match: Option<IfMatch>,
    /// Other headers.
    pub(crate) headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub(crate) body: Option<Vec<u8>>,
    /// Which failures may be retried.
    pub(crate) retry: Retry,
    /// A timeout other than the client's request timeout.
    pub(crate) timeout: Option<Duration>,
    /// The device, job or configuration the request is about, for errors.
    pub(crate) resource: Option<Resource>,
    /// Whether this is a direct-method call (whose 504 is the device's silence).
    pub(crate) method_call: bool,
}

impl Request {
    /// A request with `method` on `path` (already encoded): retried as its method allows
    /// (reads and deletes are idempotent, other writes only until sent).
    pub(crate) fn new(method: Method, path: String) -> Self {
        let retry = match method {
            Method::Get | Method::Delete => Retry::Idempotent,
            Method::Put | Method::Patch | Method::Post => Retry::UnlessSent,
        };
        Self {
            method,
            path,
            query: Vec::new(),
            if_match: None,
            headers: Vec::new(),
            body: None,
            retry,
            timeout: None,
            resource: None,
            method_call: false,
        }
    }

    /// The same request with `body` as its JSON body.
    pub(crate) fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, ServiceError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ProtocolError::InvalidJson {
            input: "request body",
            detail: e.to_string(),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// The same request conditional on `if_match`. A `PUT` with `If-Match` is idempotent: the
    /// same replacement applied twice leaves the same state.
    pub(crate) fn if_match(mut self, if_match: IfMatch) -> Self {
        if self.method == Method::Put {
            self.retry = Retry::Idempotent;
        }
        self.if_match = Some(if_match);
        self
    }

    /// The same request about device `id`.
    pub(crate) fn device(self, id: &DeviceId) -> Self {
        self.about(Resource::Device(id.clone()))
    }

    /// The same request about job `id`.
    pub(crate) fn job(self, id: &JobId) -> Self {
        self.about(Resource::Job(id.clone()))
    }

    /// The same request about configuration `id`.
    pub(crate) fn configuration(self, id: &ConfigurationId) -> Self {
        self.about(Resource::Configuration(id.clone()))
    }

    fn about(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }

    /// The same request with another header.
    pub(crate) fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The same request with another query parameter.
    pub(crate) fn param(mut self, name: &'static str, value: String) -> Self {
        self.query.push((name, value));
        self
    }

    /// The same request with another retry rule.
    pub(crate) fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The full URL under `base` (`scheme://authority`).
    pub(crate) fn url(&self, base: &str) -> String {
        let mut url = format!("{base}{}?api-version={API_VERSION}", self.path);
        for (name, value) in &self.query {
            url.push('&');
            url.push_str(name);
            url.push('=');
            url.extend(utf8_percent_encode(value, SEGMENT));
        }
        url
    }

    /// What errors should say about this request.
    pub(crate) fn context(&self) -> ErrorContext<'_> {
        ErrorContext {
            resource: self.resource.as_ref(),
            if_match: self.if_match.as_ref(),
            method_call: self.method_call,
        }
    }
}

/// A path of literal segments and ids: literals as given, ids percent-encoded.
pub(crate) fn path(parts: &[Segment<'_>]) -> String {
    let mut path = String::new();
    for part in parts {
        path.push('/');
        match part {
            Segment::Literal(text) => path.push_str(text),
            Segment::Id(id) => path.extend(utf8_percent_encode(id, SEGMENT)),
        }
    }
    path
}

/// A piece of a path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Segment<'a> {
    /// A fixed segment, such as `devices`.
    Literal(&'static str),
    /// An identifier, encoded.
    Id(&'a str),
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::{Id, Literal};

    #[test]
    fn ids_are_encoded_in_paths() {
        assert_eq!(
            path(&[Literal("devices"), Id("a#b?c%d+e/f$g:h;i'j")]),
            "/devices/a%23b%3Fc%25d%2Be%2Ff%24g%3Ah%3Bi%27j"
        );
        assert_eq!(
            path(&[Literal("twins"), Id("d-1.x_y~"), Literal("methods")]),
            "/twins/d-1.x_y~/methods"
        );
    }

    #[test]
    fn urls_carry_the_api_version_and_params() {
        let request =
            Request::new(Method::Get, path(&[Literal("devices")])).param("top", "5".into());
        assert_eq!(
            request.url("https://hub:8443"),
            "https://hub:8443/devices?api-version=2021-04-12&top=5"
        );
    }

    #[test]
    fn retry_follows_the_method_and_if_match() {
        let get = Request::new(Method::Get, "/x".into());
        assert_eq!(get.retry, Retry::Idempotent);
        let create = Request::new(Method::Put, "/x".into());
        assert_eq!(create.retry, Retry::UnlessSent);
        assert_eq!(create.if_match(IfMatch::ANY).retry, Retry::Idempotent);
        let patch = Request::new(Method::Patch, "/x".into()).if_match(IfMatch::ANY);
        assert_eq!(patch.retry, Retry::UnlessSent);
        assert_eq!(Method::Delete.as_str(), "DELETE");
    }

    #[test]
    fn bodies_are_json() {
        let request = Request::new(Method::Post, "/x".into())
            .json(&serde_json::json!({"query": "SELECT * FROM devices"}))
            .unwrap();
        assert_eq!(
            request.body.unwrap(),
            br#"{"query":"SELECT * FROM devices"}"#
        );
    }
}
