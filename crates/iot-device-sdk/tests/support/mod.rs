//! Helpers shared by the integration tests: an embedded hub on loopback, devices registered
//! on it, client options pointing at it, and bounded waits.
// Each test binary uses a subset of the helpers, and a helper that fails should fail the test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub mod proxy;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use iot_device_sdk::{
    ConnectionState, DeviceClient, DeviceOptions, DeviceOptionsBuilder, RetryPolicy,
};
use iot_hub::{DevCerts, DeviceOptions as HubDevice, Hub};
use iot_protocol::DeviceId;

/// How long a test waits for anything that should happen promptly.
pub const WAIT: Duration = Duration::from_secs(15);

/// A started in-memory hub on a free loopback port, plain TCP.
pub async fn hub() -> Hub {
    Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse().unwrap())
        .plain_tcp()
        .in_memory()
        .start()
        .await
        .unwrap()
}

/// A started hub on a free loopback port over TLS, with development certificates created
/// under `dir`.
pub async fn tls_hub(dir: &Path) -> (DevCerts, Hub) {
    let certs = DevCerts::load_or_create(dir).unwrap();
    let hub = Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse().unwrap())
        .tls(certs.tls_config().unwrap())
        .start()
        .await
        .unwrap();
    (certs, hub)
}

/// Registers `id` with generated keys.
pub async fn device(hub: &Hub, id: &str) -> DeviceId {
    let id: DeviceId = id.parse().unwrap();
    hub.registry()
        .create_device(&id, HubDevice::default())
        .await
        .unwrap();
    id
}

/// A quick retry policy for tests: 50 ms growing to 500 ms.
pub fn quick_retry() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_delay(Duration::from_millis(50))
        .max_delay(Duration::from_millis(500))
        .build()
        .unwrap()
}

/// Options for `id` on `hub` over plain TCP to `port` (the hub's, or a proxy's).
pub fn options_via(hub: &Hub, id: &DeviceId, port: u16) -> DeviceOptionsBuilder {
    let cs = hub.device_connection_string(id).unwrap().to_secret_string();
    DeviceOptions::from_connection_string(&cs)
        .endpoint("127.0.0.1", port)
        .insecure_plain_tcp()
        .retry_policy(quick_retry())
        .keep_alive(Duration::from_secs(2))
        .operation_timeout(WAIT)
        .connect_timeout(Duration::from_secs(5))
}

/// Options for `id` connecting straight to `hub`.
pub fn options(hub: &Hub, id: &DeviceId) -> DeviceOptionsBuilder {
    options_via(hub, id, hub.mqtt_addr().port())
}

/// A client of `id` connected with [`options`], within [`WAIT`].
pub async fn connect(hub: &Hub, id: &DeviceId) -> DeviceClient {
    within(
        "connect",
        DeviceClient::connect(options(hub, id).build().unwrap()),
    )
    .await
    .unwrap()
}

/// `future`, or a panic naming `what` after [`WAIT`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The next item of `stream`, within [`WAIT`].
pub async fn next<S: Stream + Unpin>(what: &str, stream: &mut S) -> S::Item {
    within(what, stream.next())
        .await
        .unwrap_or_else(|| panic!("the stream of {what} ended"))
}

/// Waits until `states` yields a state matching `pred`, and returns it.
pub async fn state_where<S>(
    states: &mut S,
    what: &str,
    pred: impl Fn(&ConnectionState) -> bool,
) -> ConnectionState
where
    S: Stream<Item = ConnectionState> + Unpin,
{
    within(what, async {
        loop {
            let state = states.next().await.expect("the state stream ended");
            if pred(&state) {
                return state;
            }
        }
    })
    .await
}

/// Polls `check` every 20 ms until it returns `Some`, within [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Stops the test's hub within [`WAIT`].
pub async fn stop(hub: Hub) {
    within("the hub to stop", hub.shutdown()).await;
}
