//! Method handlers: the application code that answers a method call on a device.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;

use async_trait::async_trait;

use crate::{MethodRequest, MethodResponse};

/// Answers calls of a method on a device.
///
/// Implement it on a type with `#[async_trait]`, or pass an async closure
/// `|request| async move { ... }` straight to [`RouterBuilder::handle`](crate::RouterBuilder::handle):
/// every `Fn(MethodRequest) -> impl Future<Output = Result<MethodResponse, HandlerError>>` that is
/// `Send + Sync` is a handler.
///
/// Return `Ok` with any status to answer the call (a 400 for a bad payload is an answer, not an
/// error). Return `Err` when the handler itself failed: the router answers 500 for you.
///
/// ```
/// use async_trait::async_trait;
/// use iot_methods::{HandlerError, MethodHandler, MethodRequest, MethodResponse};
/// use serde_json::json;
///
/// struct Reboot;
///
/// #[async_trait]
/// impl MethodHandler for Reboot {
///     async fn handle(&self, _request: MethodRequest) -> Result<MethodResponse, HandlerError> {
///         Ok(MethodResponse::ok(json!("Reboot started")))
///     }
/// }
/// ```
#[async_trait]
pub trait MethodHandler: Send + Sync {
    /// Answers one call.
    async fn handle(&self, request: MethodRequest) -> Result<MethodResponse, HandlerError>;
}

#[async_trait]
impl<F, Fut> MethodHandler for F
where
    F: Fn(MethodRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Result<MethodResponse, HandlerError>> + Send,
{
    async fn handle(&self, request: MethodRequest) -> Result<MethodResponse, HandlerError> {
        self(request).await
    }
}

/// Why a handler could not answer a call. The router turns it into a 500 response whose
/// payload carries [`message`](Self::message), so the back end can see what went wrong on the
/// device; keep secrets out of it.
///
/// Any [`std::error::Error`] converts into it with `?`; the message is the error and its chain
/// of sources, joined by `": "`. (For that conversion to exist, `HandlerError` itself does not
/// implement `std::error::Error`.)
///
/// ```
/// use iot_methods::HandlerError;
///
/// fn parse(text: &str) -> Result<u32, HandlerError> {
///     Ok(text.parse::<u32>()?)
/// }
/// assert_eq!(parse("x").unwrap_err().message(), "invalid digit found in string");
/// assert_eq!(HandlerError::new("disk full").message(), "disk full");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    message: String,
}

impl HandlerError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<E: StdError> From<E> for HandlerError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self { message }
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[derive(Debug)]
    struct Outer(io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("cannot read firmware")
        }
    }

    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn conversion_keeps_the_source_chain() {
        let err = HandlerError::from(Outer(io::Error::other("disk full")));
        assert_eq!(err.message(), "cannot read firmware: disk full");
        assert_eq!(err.to_string(), "cannot read firmware: disk full");
    }
}
