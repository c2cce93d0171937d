//! The device's method handlers: registered at build time or at runtime, routed by an
//! [`iot_methods::Router`] rebuilt on every change.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use iot_methods::{MethodHandler, MethodName, MethodRequest, Router};

use crate::Error;

/// A handler shared between the registry and the routers built from it.
pub(crate) type SharedHandler = Arc<dyn MethodHandler>;

/// The handlers registered by name, and the fallback for every other method.
#[derive(Clone, Default)]
pub(crate) struct Handlers {
    by_name: BTreeMap<MethodName, SharedHandler>,
    fallback: Option<SharedHandler>,
}

impl Handlers {
    /// Registers `handler` for `name`, replacing an earlier one.
    pub(crate) fn insert(&mut self, name: &str, handler: SharedHandler) -> Result<(), Error> {
        let name = parse_name(name)?;
        self.by_name.insert(name, handler);
        Ok(())
    }

    /// Removes the handler of `name`; returns whether there was one.
    pub(crate) fn remove(&mut self, name: &str) -> bool {
        parse_name(name).is_ok_and(|name| self.by_name.remove(&name).is_some())
    }

    /// Sets (or, with `None`, removes) the fallback.
    pub(crate) fn set_fallback(&mut self, handler: Option<SharedHandler>) {
        self.fallback = handler;
    }

    /// The names with a handler, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(MethodName::as_str)
    }

    /// A router over these handlers: a 404 for methods without one unless there is a
    /// fallback, a 500 for a handler that fails or panics.
    fn router(&self) -> Result<Router, Error> {
        let mut builder = Router::builder();
        for (name, handler) in &self.by_name {
            builder = builder.handle(name.as_str(), share(Arc::clone(handler)));
        }
        if let Some(fallback) = &self.fallback {
            builder = builder.fallback(share(Arc::clone(fallback)));
        }
        builder.build().map_err(|error| Error::InvalidMethodName {
            name: String::new(),
            reason: error.to_string(),
        })
    }
}

impl fmt::Debug for Handlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handlers")
            .field("methods", &self.names().collect::<Vec<_>>())
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

/// A handler for the router that calls a shared one.
fn share(handler: SharedHandler) -> impl MethodHandler + 'static {
    move |request: MethodRequest| {
        let handler = Arc::clone(&handler);
        async move { handler.handle(request).await }
    }
}

fn parse_name(name: &str) -> Result<MethodName, Error> {
    name.parse::<MethodName>()
        .map_err(|error| Error::InvalidMethodName {
            name: name.to_owned(),
            reason: error.to_string(),
        })
}

/// The live handler table a client and its driver share: changes rebuild the router, which
/// calls in progress keep using until they finish.
pub(crate) struct MethodTable {
    handlers: Mutex<Handlers>,
    router: RwLock<Arc<Router>>,
}

impl MethodTable {
    /// A table with `handlers`.
    pub(crate) fn new(handlers: Handlers) -> Result<Self, Error> {
        let router = handlers.router()?;
        Ok(Self {
            handlers: Mutex::new(handlers),
            router: RwLock::new(Arc::new(router)),
        })
    }

    /// The router to dispatch a call with.
    pub(crate) fn router(&self) -> Arc<Router> {
        Arc::clone(&self.router.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Changes the handlers with `change` and installs the new router; returns what `change`
    /// returned.
    pub(crate) fn update<T>(
        &self,
        change: impl FnOnce(&mut Handlers) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut handlers = self.handlers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut changed = handlers.clone();
        let result = change(&mut changed)?;
        let router = changed.router()?;
        *handlers = changed;
        *self.router.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(router);
        Ok(result)
    }
}

impl fmt::Debug for MethodTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let handlers = self.handlers.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("MethodTable")
            .field("handlers", &*handlers)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_methods::{HandlerError, MethodResponse};
    use serde_json::json;

    fn request(name: &str) -> MethodRequest {
        let topic = format!("$iothub/methods/POST/{name}/?$rid=1");
        MethodRequest::from_publish(&topic, b"null").unwrap()
    }

    fn answer(status: i32) -> SharedHandler {
        Arc::new(move |_request: MethodRequest| async move {
            Ok::<_, HandlerError>(MethodResponse::new(status, json!(null)))
        })
    }

    #[tokio::test]
    async fn changes_take_effect_for_new_calls() {
        let table = MethodTable::new(Handlers::default()).unwrap();
        assert_eq!(
            table.router().dispatch(request("reboot")).await.status(),
            404
        );
        table.update(|h| h.insert("reboot", answer(200))).unwrap();
        let before_fallback = table.router();
        table
            .update(|h| {
                h.set_fallback(Some(answer(418)));
                Ok(())
            })
            .unwrap();
        assert_eq!(
            table.router().dispatch(request("reboot")).await.status(),
            200
        );
        assert_eq!(
            table.router().dispatch(request("other")).await.status(),
            418
        );
        assert_eq!(
            before_fallback.dispatch(request("other")).await.status(),
            404
        );
        assert!(table.update(|h| Ok(h.remove("reboot"))).unwrap());
        assert!(!table.update(|h| Ok(h.remove("reboot"))).unwrap());
        assert_eq!(
            table.router().dispatch(request("reboot")).await.status(),
            418
        );
    }

    #[test]
    fn invalid_names_change_nothing() {
        let table = MethodTable::new(Handlers::default()).unwrap();
        let error = table
            .update(|h| h.insert("no/slash", answer(200)))
            .unwrap_err();
        assert!(matches!(error, Error::InvalidMethodName { ref name, .. } if name == "no/slash"));
        assert!(format!("{table:?}").contains("methods: []"));
    }
}
