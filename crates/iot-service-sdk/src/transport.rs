//! [`Http`]: sends a [`Request`] with reqwest and reads the answer into a [`Response`]. The
//! only module that sees reqwest's types.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, IF_MATCH};

use crate::ServiceError;
use crate::request::{Method, Request};
use crate::response::{Response, ResponseHeaders, header, parse_retry_after};

/// The largest response body read, in bytes. A query page of 1000 twins at IoT Hub's largest
/// twin size stays well below it; anything larger is not an IoT Hub answer.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// How long an idle keep-alive connection is kept for the next request.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The user agent sent with every request.
const USER_AGENT: &str = concat!("iot-service-sdk/", env!("CARGO_PKG_VERSION"));

/// An HTTP/1.1 client bound to one hub endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    /// `scheme://authority`, without a trailing `/`.
    base: String,
    request_timeout: Duration,
}

impl Http {
    /// A client for `base` with `tls`; `plain` allows `http` URLs (and only those).
    pub(crate) fn new(
        base: String,
        tls: rustls::ClientConfig,
        plain: bool,
        request_timeout: Duration,
    ) -> Result<Self, ServiceError> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(!plain)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .user_agent(USER_AGENT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| ServiceError::config("HTTP client", describe(&e)))?;
        Ok(Self {
            client,
            base,
            request_timeout,
        })
    }

    /// The base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The client's request timeout.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Sends `request` once with `authorization` and reads the whole answer, whatever its
    /// status.
    pub(crate) async fn send(
        &self,
        request: &Request,
        authorization: &str,
    ) -> Result<Response, ServiceError> {
        let timeout = request.timeout.unwrap_or(self.request_timeout);
        let mut builder = self
            .client
            .request(method(request.method), request.url(&self.base))
            .timeout(timeout)
            .headers(self.headers(request, authorization)?);
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let mut response = builder.send().await.map_err(|e| self.error(&e, timeout))?;
        let status = response.status().as_u16();
        let headers = read_headers(response.headers());
        let expected = response.content_length().unwrap_or(0);
        let mut body = Vec::with_capacity(
            usize::try_from(expected)
                .unwrap_or(0)
                .min(MAX_RESPONSE_BYTES),
        );
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.error(&e, timeout))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ServiceError::protocol(format!(
                    "the answer's body is over {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    fn headers(&self, request: &Request, authorization: &str) -> Result<HeaderMap, ServiceError> {
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(authorization)
            .map_err(|_| ServiceError::config("SAS token", "not a valid header value"))?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if request.body.is_some() {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
        }
        if let Some(condition) = &request.if_match {
            headers.insert(IF_MATCH, header_value("If-Match", &condition.to_string())?);
        }
        for (name, value) in &request.headers {
            headers.insert(*name, header_value(name, value)?);
        }
        Ok(headers)
    }

    fn error(&self, error: &reqwest::Error, timeout: Duration) -> ServiceError {
        if error.is_timeout() {
            ServiceError::RequestTimeout { after: timeout }
        } else if error.is_connect() {
            ServiceError::Connect {
                endpoint: self.base.clone(),
                detail: describe(error),
            }
        } else {
            ServiceError::Transport {
                detail: describe(error),
            }
        }
    }
}

fn method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Post => reqwest::Method::POST,
        Method::Delete => reqwest::Method::DELETE,
    }
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue, ServiceError> {
    HeaderValue::from_str(value)
        .map_err(|_| ServiceError::out_of_range("header", format!("{name} must be visible ASCII")))
}

fn read_headers(headers: &HeaderMap) -> ResponseHeaders {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    ResponseHeaders {
        error_code: text(header::ERROR_CODE),
        retry_after: text(header::RETRY_AFTER)
            .as_deref()
            .and_then(parse_retry_after),
        continuation: text(header::CONTINUATION),
        item_type: text(header::ITEM_TYPE),
    }
}

/// The error and its causes, joined: reqwest's own message says only which stage failed.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text
}
