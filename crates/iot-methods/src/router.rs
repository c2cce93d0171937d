//! Routing method calls on a device to their handlers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

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
/// Handlers can be added and removed later ([`insert`](Self::insert),
/// [`remove`](Self::remove)); cloning is cheap (the handlers are shared), so a device can change
/// a copy and swap it in while calls in progress finish with the old one.
///
/// ```
/// use iot_methods::{MethodRequest, MethodResponse, Router};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut router = Router::builder()
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
/// assert_eq!(router.dispatch(request.clone()).await.status(), 404);
///
/// router.insert("reset".parse().unwrap(), |_request: MethodRequest| async move {
///     Ok(MethodResponse::new(202, json!(null)))
/// });
/// assert_eq!(router.dispatch(request).await.status(), 202);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Router {
    handlers: HashMap<MethodName, SharedHandler>,
    /// `None` for the default fallback, a 404.
    fallback: Option<SharedHandler>,
}

/// A handler the router and its clones share.
type SharedHandler = Arc<dyn MethodHandler>;

impl Router {
    /// Starts configuring a router.
    pub fn builder() -> RouterBuilder {
        RouterBuilder {
            router: Self::default(),
            error: None,
        }
    }

    /// Whether a handler (other than the fallback) is registered for `name`.
    pub fn handles(&self, name: &MethodName) -> bool {
        self.handlers.contains_key(name)
    }

    /// The methods with a handler of their own, in no particular order.
    pub fn methods(&self) -> impl Iterator<Item = &MethodName> {
        self.handlers.keys()
    }

    /// Whether a fallback replaces the default 404.
    pub fn has_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    /// Registers `handler` for the method `name`, replacing an earlier one; returns whether
    /// there was one.
    pub fn insert(&mut self, name: MethodName, handler: impl MethodHandler + 'static) -> bool {
        self.insert_shared(name, Arc::new(handler))
    }

    /// Registers a handler shared with other routers for the method `name`, replacing an
    /// earlier one; returns whether there was one.
    pub fn insert_shared(&mut self, name: MethodName, handler: Arc<dyn MethodHandler>) -> bool {
        self.handlers.insert(name, handler).is_some()
    }

    /// Removes the handler of `name`, so the fallback answers it; returns whether there was one.
    pub fn remove(&mut self, name: &MethodName) -> bool {
        self.handlers.remove(name).is_some()
    }

    /// Answers every method that has no handler of its own with `handler`.
    pub fn set_fallback(&mut self, handler: impl MethodHandler + 'static) {
        self.set_shared_fallback(Arc::new(handler));
    }

    /// Answers every method that has no handler of its own with a handler shared with other
    /// routers.
    pub fn set_shared_fallback(&mut self, handler: Arc<dyn MethodHandler>) {
        self.fallback = Some(handler);
    }

    /// Goes back to the default fallback, a 404.
    pub fn clear_fallback(&mut self) {
        self.fallback = None;
    }

    /// Answers `request` with its handler, or the fallback. Never panics; see [`Router`] for
    /// the answers given when a handler fails.
    pub async fn dispatch(&self, request: MethodRequest) -> MethodResponse {
        let (name, handler) = match self.handlers.get_key_value(request.name()) {
            Some((name, handler)) => (Cow::Borrowed(name), handler.as_ref()),
            None => (
                Cow::Owned(request.name().clone()),
                self.fallback.as_deref().unwrap_or(&not_implemented),
            ),
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

    /// The method names, sorted, for `Debug`.
    fn sorted_methods(&self) -> Vec<&str> {
        let mut methods: Vec<_> = self.handlers.keys().map(MethodName::as_str).collect();
        methods.sort_unstable();
        methods
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("methods", &self.sorted_methods())
            .finish_non_exhaustive()
    }
}

/// Configures a [`Router`]; validates everything once, in [`build`](Self::build).
pub struct RouterBuilder {
    router: Router,
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
            Ok(name) if self.router.handles(&name) => {
                self.error = Some(Error::DuplicateHandler { name });
            }
            Ok(name) => {
                self.router.insert(name, handler);
            }
            Err(error) => self.error = Some(error),
        }
        self
    }

    /// Replaces the default fallback (a 404) with `handler`, which then answers every method
    /// that has no handler of its own.
    pub fn fallback(mut self, handler: impl MethodHandler + 'static) -> Self {
        self.router.set_fallback(handler);
        self
    }

    /// The configured router.
    ///
    /// # Errors
    /// The first mistake made while configuring: an invalid method name (see [`MethodName`])
    /// or [`Error::DuplicateHandler`].
    pub fn build(self) -> Result<Router, Error> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.router),
        }
    }
}

impl fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("methods", &self.router.sorted_methods())
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
