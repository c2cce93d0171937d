//! The device's method handlers: registered at build time or at runtime, in an
//! [`iot_methods::Router`] changed in place.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use iot_methods::{MethodHandler, MethodName, Router};

use crate::Error;

/// A handler shared between the options and the routers made from them.
pub(crate) type SharedHandler = Arc<dyn MethodHandler>;

/// `name` as a method name.
pub(crate) fn parse_name(name: &str) -> Result<MethodName, Error> {
    name.parse::<MethodName>()
        .map_err(|error| Error::InvalidMethodName {
            name: name.to_owned(),
            reason: error.to_string(),
        })
}

/// The live router a client and its driver share. A change copies the router only while a
/// call in progress still holds it (calls keep the router they started with until they
/// finish); handlers themselves are shared, never copied.
pub(crate) struct MethodTable {
    router: RwLock<Arc<Router>>,
}

impl MethodTable {
    /// A table answering with `router`.
    pub(crate) fn new(router: Router) -> Self {
        Self {
            router: RwLock::new(Arc::new(router)),
        }
    }

    /// The router to dispatch a call with.
    pub(crate) fn router(&self) -> Arc<Router> {
        Arc::clone(&self.router.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Changes the router with `change`, for the calls that arrive from now on; returns what
    /// `change` returned.
    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut Router) -> T) -> T {
        let mut router = self.router.write().unwrap_or_else(PoisonError::into_inner);
        change(Arc::make_mut(&mut router))
    }
}

impl fmt::Debug for MethodTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MethodTable")
            .field("router", &self.router())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_methods::{HandlerError, MethodRequest, MethodResponse};
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
        let table = MethodTable::new(Router::default());
        let reboot = parse_name("reboot").unwrap();
        assert_eq!(
            table.router().dispatch(request("reboot")).await.status(),
            404
        );
        assert!(!table.update(|r| r.insert_shared(reboot.clone(), answer(200))));
        let before_fallback = table.router();
        table.update(|r| r.set_shared_fallback(answer(418)));
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
        assert!(table.update(|r| r.remove(&reboot)));
        assert!(!table.update(|r| r.remove(&reboot)));
        assert_eq!(
            table.router().dispatch(request("reboot")).await.status(),
            418
        );
    }

    #[test]
    fn invalid_names_are_refused() {
        let error = parse_name("no/slash").unwrap_err();
        assert!(matches!(error, Error::InvalidMethodName { ref name, .. } if name == "no/slash"));
        let table = MethodTable::new(Router::default());
        assert!(format!("{table:?}").contains("methods: []"));
    }
}
