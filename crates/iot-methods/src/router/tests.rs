use super::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use async_trait::async_trait;
use serde_json::{Value, json};

fn request(name: &str, payload: Value) -> MethodRequest {
    MethodRequest::new(name.parse().unwrap(), "1".parse().unwrap(), payload)
}

/// Returns `Pending` once, then `Ready`: makes a handler cross an await point.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A handler implemented on a type, counting its calls.
struct Counter(AtomicUsize);

#[async_trait]
impl MethodHandler for Counter {
    async fn handle(&self, request: MethodRequest) -> Result<MethodResponse, HandlerError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        YieldOnce(false).await;
        Ok(MethodResponse::new(
            201,
            json!({"n": n, "echo": request.payload()}),
        ))
    }
}

/// A handler that panics in `handle` itself, before making a future.
struct PanicsEagerly;

impl MethodHandler for PanicsEagerly {
    fn handle<'a, 'b>(
        &'a self,
        _request: MethodRequest,
    ) -> Pin<Box<dyn Future<Output = Result<MethodResponse, HandlerError>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        panic!("eager panic")
    }
}

#[tokio::test]
async fn routes_by_exact_name() {
    let router = Router::builder()
        .handle("reboot", |req: MethodRequest| async move {
            Ok(MethodResponse::ok(json!({"got": req.payload()})))
        })
        .handle("count", Counter(AtomicUsize::new(0)))
        .build()
        .unwrap();
    assert_eq!(
        router.dispatch(request("reboot", json!(5))).await,
        MethodResponse::ok(json!({"got": 5}))
    );
    assert_eq!(
        router.dispatch(request("count", json!("x"))).await,
        MethodResponse::new(201, json!({"n": 1, "echo": "x"}))
    );
    assert_eq!(
        router
            .dispatch(request("Reboot", Value::Null))
            .await
            .status(),
        404
    );
    assert!(router.handles(&"count".parse().unwrap()));
    assert!(!router.handles(&"Count".parse().unwrap()));
}

#[tokio::test]
async fn unknown_method_gets_404_naming_it() {
    let router = Router::builder().build().unwrap();
    let response = router.dispatch(request("factoryReset", Value::Null)).await;
    assert_eq!(response.status(), NOT_IMPLEMENTED_STATUS);
    assert_eq!(
        response.payload(),
        &json!({
            "methodName": "factoryReset",
            "message": "method \"factoryReset\" is not implemented by this device"
        })
    );
}

#[tokio::test]
async fn fallback_can_be_replaced() {
    let router = Router::builder()
        .fallback(|req: MethodRequest| async move {
            Ok(MethodResponse::new(501, json!(req.name().as_str())))
        })
        .build()
        .unwrap();
    assert_eq!(
        router.dispatch(request("anything", Value::Null)).await,
        MethodResponse::new(501, json!("anything"))
    );
}

#[tokio::test]
async fn handler_error_becomes_500() {
    let router = Router::builder()
        .handle("read", |_req: MethodRequest| async move {
            YieldOnce(false).await;
            let delay: u32 = "soon".parse()?;
            Ok(MethodResponse::ok(json!(delay)))
        })
        .handle("explicit", |_req: MethodRequest| async move {
            Err(HandlerError::new("battery too low"))
        })
        .build()
        .unwrap();
    let response = router.dispatch(request("read", Value::Null)).await;
    assert_eq!(response.status(), HANDLER_FAILURE_STATUS);
    assert_eq!(
        response.payload()["message"],
        json!("handler failed: invalid digit found in string")
    );
    assert_eq!(
        router.dispatch(request("explicit", Value::Null)).await,
        MethodResponse::new(
            500,
            json!({"methodName": "explicit", "message": "handler failed: battery too low"})
        )
    );
}

#[tokio::test]
async fn handler_panic_becomes_500() {
    let router = Router::builder()
        .handle("now", |_req: MethodRequest| async move {
            panic!("boom {}", 1);
        })
        .handle("later", |_req: MethodRequest| async move {
            YieldOnce(false).await;
            panic!("static boom")
        })
        .handle("eager", PanicsEagerly)
        .fallback(|_req: MethodRequest| async move { std::panic::panic_any(7_u8) })
        .build()
        .unwrap();
    for (name, message) in [
        ("now", "handler panicked: boom 1"),
        ("later", "handler panicked: static boom"),
        ("eager", "handler panicked: eager panic"),
        ("other", "handler panicked: no message"),
    ] {
        assert_eq!(
            router.dispatch(request(name, Value::Null)).await,
            MethodResponse::new(500, json!({"methodName": name, "message": message})),
            "{name}"
        );
    }
}

#[tokio::test]
async fn oversized_response_becomes_500() {
    let router = Router::builder()
        .handle("dump", |_req: MethodRequest| async move {
            Ok(MethodResponse::ok(json!(
                "x".repeat(payload::MAX_PAYLOAD_BYTES)
            )))
        })
        .build()
        .unwrap();
    let response = router.dispatch(request("dump", Value::Null)).await;
    assert_eq!(response.status(), 500);
    let message = response.payload()["message"].as_str().unwrap();
    assert_eq!(
        message,
        "handler response rejected: method payload is 131074 bytes, the limit is 131072 bytes"
    );
}

#[test]
fn builder_reports_the_first_mistake() {
    let ok = |_req: MethodRequest| async move { Ok(MethodResponse::ok(Value::Null)) };
    let err = Router::builder()
        .handle("a", ok)
        .handle("a", ok)
        .handle("b/c", ok)
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::DuplicateHandler {
            name: "a".parse().unwrap()
        }
    );
    let err = Router::builder()
        .handle("", ok)
        .handle("a", ok)
        .build()
        .unwrap_err();
    assert_eq!(err, Error::EmptyMethodName);
}

#[test]
fn debug_lists_methods() {
    let ok = |_req: MethodRequest| async move { Ok(MethodResponse::ok(Value::Null)) };
    let router = Router::builder()
        .handle("b", ok)
        .handle("a", ok)
        .build()
        .unwrap();
    assert_eq!(
        format!("{router:?}"),
        r#"Router { methods: ["a", "b"], .. }"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_across_tasks() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let router = Arc::new(
        Router::builder()
            .handle("count", Counter(AtomicUsize::new(0)))
            .build()
            .unwrap(),
    );
    assert_send_sync(&router);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let router = Arc::clone(&router);
            tokio::spawn(async move { router.dispatch(request("count", Value::Null)).await })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        let response = task.await.unwrap();
        seen.push(response.payload()["n"].as_u64().unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=8).collect::<Vec<_>>());
}

#[tokio::test]
async fn handlers_change_at_runtime() {
    let answer = |status: i32| {
        move |_req: MethodRequest| async move { Ok(MethodResponse::new(status, Value::Null)) }
    };
    let name = |text: &str| text.parse::<MethodName>().unwrap();
    let status = |router: &Router, method: &str| {
        let router = router.clone();
        let method = method.to_owned();
        async move {
            router
                .dispatch(request(&method, Value::Null))
                .await
                .status()
        }
    };
    let mut router = Router::default();
    assert!(!router.insert(name("a"), answer(201)));
    assert!(router.insert(name("a"), answer(202)));
    let before = router.clone();
    let shared: Arc<dyn MethodHandler> = Arc::new(answer(203));
    assert!(!router.insert_shared(name("b"), Arc::clone(&shared)));
    assert_eq!(status(&router, "a").await, 202);
    assert_eq!(status(&router, "b").await, 203);
    assert_eq!(status(&before, "b").await, NOT_IMPLEMENTED_STATUS);
    assert!(router.remove(&name("a")));
    assert!(!router.remove(&name("a")));
    assert_eq!(status(&router, "a").await, NOT_IMPLEMENTED_STATUS);
    assert_eq!(status(&before, "a").await, 202);
    let mut methods: Vec<_> = router.methods().map(MethodName::as_str).collect();
    methods.sort_unstable();
    assert_eq!(methods, ["b"]);
}

#[tokio::test]
async fn fallback_changes_at_runtime() {
    let teapot = |_req: MethodRequest| async move { Ok(MethodResponse::new(418, Value::Null)) };
    let mut router = Router::builder().build().unwrap();
    assert!(!router.has_fallback());
    router.set_fallback(teapot);
    assert!(router.has_fallback());
    assert_eq!(
        router.dispatch(request("x", Value::Null)).await.status(),
        418
    );
    router.clear_fallback();
    assert!(!router.has_fallback());
    assert_eq!(
        router.dispatch(request("x", Value::Null)).await.status(),
        NOT_IMPLEMENTED_STATUS
    );
    router.set_shared_fallback(Arc::new(teapot));
    assert_eq!(
        router.dispatch(request("x", Value::Null)).await.status(),
        418
    );
}
