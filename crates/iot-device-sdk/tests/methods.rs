//! Direct methods: handlers set at build time and at runtime, the fallback, failing and
//! panicking handlers, and handlers running side by side.

mod support;

use std::sync::Arc;
use std::time::Duration;

use iot_device_sdk::{DeviceClient, Error};
use iot_hub::Hub;
use iot_methods::{HandlerError, MethodInvocation, MethodRequest, MethodResponse, MethodResult};
use iot_protocol::DeviceId;
use serde_json::{Value, json};
use support::{connect, device, hub, options, stop, within};
use tokio::sync::Barrier;

async fn call(hub: &Hub, id: &DeviceId, name: &str, payload: Value) -> MethodResult {
    let invocation = MethodInvocation::new(name.parse().expect("a method name"), payload)
        .and_then(|invocation| invocation.with_response_timeout(Duration::from_secs(10)))
        .expect("a valid invocation");
    within("the method call", hub.invoke_method(id, invocation))
        .await
        .expect("an answer from the device")
}

async fn echo(request: MethodRequest) -> Result<MethodResponse, HandlerError> {
    Ok(MethodResponse::ok(json!({ "echo": request.payload() })))
}

#[tokio::test]
async fn handlers_answer_and_unknown_methods_get_404() {
    let hub = hub().await;
    let id = device(&hub, "methods-basic").await;
    let options = options(&hub, &id)
        .method("echo", echo)
        .method("reboot", |_request: MethodRequest| async {
            Ok(MethodResponse::ok(json!("Reboot started")))
        })
        .build()
        .unwrap();
    let client = within("connect", DeviceClient::connect(options))
        .await
        .unwrap();

    let result = call(&hub, &id, "echo", json!({"n": 1})).await;
    assert_eq!(
        (result.status(), result.payload()),
        (200, &json!({"echo": {"n": 1}}))
    );
    let result = call(&hub, &id, "reboot", Value::Null).await;
    assert_eq!(
        (result.status(), result.payload()),
        (200, &json!("Reboot started"))
    );
    let result = call(&hub, &id, "selfDestruct", Value::Null).await;
    assert_eq!(result.status(), 404);
    assert_eq!(result.payload()["methodName"], "selfDestruct");
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn failing_and_panicking_handlers_answer_500() {
    let hub = hub().await;
    let id = device(&hub, "methods-failing").await;
    let options = options(&hub, &id)
        .method("fail", |_request: MethodRequest| async {
            Err::<MethodResponse, _>(HandlerError::new("disk full"))
        })
        .method("panic", |_request: MethodRequest| async {
            if true {
                panic!("handler bug");
            }
            Ok::<_, HandlerError>(MethodResponse::ok(Value::Null))
        })
        .build()
        .unwrap();
    let client = within("connect", DeviceClient::connect(options))
        .await
        .unwrap();
    let failed = call(&hub, &id, "fail", Value::Null).await;
    assert_eq!(failed.status(), 500);
    assert_eq!(failed.payload()["message"], "handler failed: disk full");
    let panicked = call(&hub, &id, "panic", Value::Null).await;
    assert_eq!(panicked.status(), 500);
    assert_eq!(
        panicked.payload()["message"],
        "handler panicked: handler bug"
    );
    // The client is unharmed.
    assert_eq!(
        client.report(&json!({"alive": true})).await.unwrap().get(),
        2
    );
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn handlers_and_the_fallback_change_at_runtime() {
    let hub = hub().await;
    let id = device(&hub, "methods-runtime").await;
    let client = connect(&hub, &id).await;
    assert_eq!(call(&hub, &id, "echo", Value::Null).await.status(), 404);
    client.set_method_handler("echo", echo).unwrap();
    assert_eq!(
        call(&hub, &id, "echo", json!(7)).await.payload(),
        &json!({"echo": 7})
    );
    client.set_method_fallback(|request: MethodRequest| async move {
        Ok(MethodResponse::new(501, json!(request.name().as_str())))
    });
    let other = call(&hub, &id, "other", Value::Null).await;
    assert_eq!((other.status(), other.payload()), (501, &json!("other")));
    assert!(client.remove_method_handler("echo"));
    assert!(!client.remove_method_handler("echo"));
    assert_eq!(call(&hub, &id, "echo", Value::Null).await.status(), 501);
    client.clear_method_fallback();
    assert_eq!(call(&hub, &id, "echo", Value::Null).await.status(), 404);
    let error = client.set_method_handler("bad/name", echo).unwrap_err();
    assert!(
        matches!(error, Error::InvalidMethodName { .. }),
        "{error:?}"
    );
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn handlers_run_concurrently_and_may_use_the_client() {
    let hub = hub().await;
    let id = device(&hub, "methods-concurrent").await;
    let client = connect(&hub, &id).await;
    // Both calls must be in their handlers at once to pass the barrier.
    let barrier = Arc::new(Barrier::new(2));
    let weak = client.downgrade();
    client
        .set_method_handler("meet", move |request: MethodRequest| {
            let barrier = Arc::clone(&barrier);
            let weak = weak.clone();
            async move {
                barrier.wait().await;
                let client = weak
                    .upgrade()
                    .ok_or_else(|| HandlerError::new("client gone"))?;
                let version = client
                    .report(&json!({ "met": request.payload() }))
                    .await
                    .map_err(HandlerError::from)?;
                Ok(MethodResponse::ok(json!(version.get())))
            }
        })
        .unwrap();
    let (a, b) = tokio::join!(
        call(&hub, &id, "meet", json!("a")),
        call(&hub, &id, "meet", json!("b"))
    );
    assert_eq!((a.status(), b.status()), (200, 200));
    let mut versions = [a.payload().as_u64().unwrap(), b.payload().as_u64().unwrap()];
    versions.sort_unstable();
    assert!(versions[1] > 1);
    client.close().await;
    stop(hub).await;
}
