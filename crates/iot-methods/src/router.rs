//! Routing method calls on a device to their handlers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::json;

use crate::catch_panic::{CatchPanic, panic_message};
use crate::{
    Error, HandlerError, MethodHandler, MethodName, MethodRequest, MethodResponse, payload,
};

/// The status the router answers with when a handler fails, panics or returns a payload over
/// the limit.
pub const HANDLER_FAILURE_STATUS: i32 = 500;
/// The status the default fallback answers with for a method that has no handler.
pub const NOT_IMPLEMENTED_STATUS: i32 = 404;

/// Routes each method call to the handler registered for its name.
///
/// [`dispatch`](Self::dispatch) always produces a response that fits on the wire:
/// - a method without a handler goes to the fallback, by default a 404 with payload
///   `{"methodName": "...", "message": "method \"...\" is not implemented by this device"}`;
/// - a handler that returns an error or panics, or whose payload exceeds
///   [`payload::MAX_PAYLOAD_BYTES`], yields a 500 with payload
///   `{"methodName": "...", "message": "..."}` describing the failure.
///
/// Panics are caught while polling the handler's future (the default panic hook still reports
/// them); this needs the default `panic = "unwind"`, as with `abort` there is nothing to catch.
/// IoT Hub does not prescribe any of these answers; 404 for an unknown method follows the
/// official samples, and 500 is the conventional status for a failure on the device.
///
/// The router is `Send + Sync`: share it (in an `Arc`) between the tasks that answer calls.
///
/// ```
/// use iot_methods::{MethodRequest, MethodResponse, Router};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let router = Router::builder()
///     .handle("reboot", |_request: MethodRequest| async move {
///         Ok(MethodResponse::ok(json!("Reboot started")))
///     })
///     .build()
///     .unwrap();
///
/// let request = MethodRequest::from_publish("$iothub/methods/POST/reboot/?$rid=1", b"null").unwrap();
/// assert_eq!(router.dispatch(request).await, MethodResponse::ok(json!("Reboot started")));
///
/// let request = MethodRequest::from_publish("$iothub/methods/POST/reset/?$rid=2", b"").unwrap();
/// assert_eq!(router.dispatch(request).await.status(), 404);
/// # }
/// ```
pub struct Router {
    handlers: HashMap<MethodName, Box<dyn MethodHandler>>,
    fallback: Box<dyn MethodHandler>,
}

impl Router {
    /// Starts configuring a router.
    pub fn builder() -> RouterBuilder {
        RouterBuilder {
            handlers: HashMap::new(),
            fallback: None,
            error: None,
        }
    }

    /// Whether a handler (other than the fallback) is registered for `name`.
    pub fn handles(&self, name: &MethodName) -> bool {
        self.handlers.contains_key(name)
    }

    /// Answers `request` with its handler, or the fallback. Never panics; see [`Router`] for
    /// the answers given when a handler fails.
    pub async fn dispatch(&self, request: MethodRequest) -> MethodResponse {
        let (name, handler) = match self.handlers.get_key_value(request.name()) {
            Some((name, handler)) => (Cow::Borrowed(name), handler.as_ref()),
            None => (Cow::Owned(request.name().clone()), self.fallback.as_ref()),
        };
        let response = match call_guarded(handler, request).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => failure(&name, &format!("handler failed: {error}")),
            Err(panic) => failure(
                &name,
                &format!("handler panicked: {}", panic_message(&panic)),
            ),
        };
        match payload::check(response.payload()) {
            Ok(()) => response,
            Err(error) => failure(&name, &format!("handler response rejected: {error}")),
        }
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut methods: Vec<_> = self.handlers.keys().map(MethodName::as_str).collect();
        methods.sort_unstable();
        f.debug_struct("Router")
            .field("methods", &methods)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Router`]; validates everything once, in [`build`](Self::build).
pub struct RouterBuilder {
    handlers: HashMap<MethodName, Box<dyn MethodHandler>>,
    fallback: Option<Box<dyn MethodHandler>>,
    /// The first mistake made while configuring, reported by `build`.
    error: Option<Error>,
}

impl RouterBuilder {
    /// Registers `handler` for the method `name` (names are case-sensitive).
    pub fn handle(mut self, name: impl AsRef<str>, handler: impl MethodHandler + 'static) -> Self {
        if self.error.is_some() {
            return self;
        }
        match name.as_ref().parse::<MethodName>() {
            Ok(name) if self.handlers.contains_key(&name) => {
                self.error = Some(Error::DuplicateHandler { name });
            }
            Ok(name) => {
                self.handlers.insert(name, Box::new(handler));
            }
            Err(error) => self.error = Some(error),
        }
        self
    }

    /// Replaces the default fallback (a 404) with `handler`, which then answers every method
    /// that has no handler of its own.
    pub fn fallback(mut self, handler: impl MethodHandler + 'static) -> Self {
        self.fallback = Some(Box::new(handler));
        self
    }

    /// The configured router.
    ///
    /// # Errors
    /// The first mistake made while configuring: an invalid method name (see [`MethodName`])
    /// or [`Error::DuplicateHandler`].
    pub fn build(self) -> Result<Router, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        Ok(Router {
            handlers: self.handlers,
            fallback: self.fallback.unwrap_or_else(|| Box::new(not_implemented)),
        })
    }
}

impl fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut methods: Vec<_> = self.handlers.keys().map(MethodName::as_str).collect();
        methods.sort_unstable();
        f.debug_struct("RouterBuilder")
            .field("methods", &methods)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// Runs `handler` on `request`, catching a panic in `handle` itself or in its future.
async fn call_guarded(
    handler: &dyn MethodHandler,
    request: MethodRequest,
) -> Result<Result<MethodResponse, HandlerError>, crate::catch_panic::PanicPayload> {
    let future = catch_unwind(AssertUnwindSafe(|| handler.handle(request)))?;
    CatchPanic::new(future).await
}

/// The default fallback: 404 naming the method.
async fn not_implemented(request: MethodRequest) -> Result<MethodResponse, HandlerError> {
    let name = request.name().as_str();
    Ok(MethodResponse::new(
        NOT_IMPLEMENTED_STATUS,
        json!({
            "methodName": name,
            "message": format!("method {name:?} is not implemented by this device"),
        }),
    ))
}

/// A 500 response describing a handler failure.
fn failure(name: &MethodName, message: &str) -> MethodResponse {
    MethodResponse::new(
        HANDLER_FAILURE_STATUS,
        json!({ "methodName": name.as_str(), "message": message }),
    )
}

#[cfg(test)]
mod tests;
