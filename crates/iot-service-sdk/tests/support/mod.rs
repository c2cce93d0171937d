//! Helpers shared by the integration tests: the embedded hub on loopback free ports, service
//! clients for its policies, and a device speaking MQTT with rumqttc as a plain MQTT client
//! (topics from the pure crates), so the service SDK is tested against a real device session.
// Each test binary uses a subset of the helpers, and a helper that fails should fail the test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod fake;

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iot_hub::{Hub, HubBuilder};
use iot_methods::RequestId as MethodRequestId;
use iot_methods::topic::{RequestTopic, ResponseTopic};
use iot_protocol::{Device, DeviceId, Identity, MqttUsername};
use iot_service_sdk::{RetryPolicy, ServiceClient, ServiceClientBuilder};
use iot_twin::{DeviceTopic, HubTopic, RequestId, TwinSubscription};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a test waits for anything that should happen promptly.
pub const WAIT: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test after [`WAIT`].
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

/// A builder for a plain-TCP, plain-HTTP hub on free loopback ports.
pub fn hub_builder() -> HubBuilder {
    Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse().unwrap())
        .rest_addr("127.0.0.1:0".parse().unwrap())
        .plain_tcp()
        .connect_timeout(Duration::from_secs(2))
}

/// A started in-memory hub.
pub async fn hub() -> Hub {
    hub_builder().in_memory().start().await.unwrap()
}

/// Client settings for `hub` as the shared access policy `policy`, over plain HTTP.
pub fn builder_for(hub: &Hub, policy: &str) -> ServiceClientBuilder {
    let connection_string = hub.policy_connection_string(policy).unwrap();
    ServiceClient::builder(&connection_string.to_secret_string())
        .endpoint_addr(hub.rest_addr())
        .plain_http()
        .request_timeout(WAIT)
        .retry_policy(
            RetryPolicy::new(2, Duration::from_millis(10), Duration::from_millis(100)).unwrap(),
        )
}

/// A client of `hub` as `iothubowner`.
pub fn owner(hub: &Hub) -> ServiceClient {
    builder_for(hub, "iothubowner").build().unwrap()
}

/// Registers `id` through the service SDK and returns it.
pub async fn create(client: &ServiceClient, id: &str) -> DeviceId {
    let id: DeviceId = id.parse().unwrap();
    client
        .create_device(&Device::new(id.clone()))
        .await
        .unwrap();
    id
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A device connected to `hub` over MQTT, subscribed to twin answers, desired-property
/// notifications and direct methods.
pub struct MqttDevice {
    client: AsyncClient,
    received: mpsc::UnboundedReceiver<Publish>,
    driver: JoinHandle<()>,
    next_rid: u32,
}

impl MqttDevice {
    /// Connects `id` with a token from its registered primary key and subscribes.
    pub async fn connect(hub: &Hub, id: &DeviceId) -> Self {
        let connection_string = hub.device_connection_string(id).unwrap();
        let token = connection_string.sas_token(unix_now() + 3600).unwrap();
        let username = MqttUsername::new(hub.host_name().clone(), Identity::device(id.clone()));
        let mut options = MqttOptions::new(id.as_str(), "127.0.0.1", hub.mqtt_addr().port());
        options.set_credentials(username.to_string(), token.to_secret_string());
        options.set_clean_session(false);
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (publishes, received) = mpsc::unbounded_channel();
        let (subscribed, mut acks) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            while let Ok(event) = eventloop.poll().await {
                match event {
                    Event::Incoming(Packet::Publish(publish)) => {
                        let _ = publishes.send(publish);
                    }
                    Event::Incoming(Packet::SubAck(_)) => {
                        let _ = subscribed.send(());
                    }
                    _ => {}
                }
            }
        });
        let filters = [
            TwinSubscription::Responses.as_str(),
            TwinSubscription::DesiredPatches.as_str(),
            "$iothub/methods/POST/#",
        ];
        for filter in filters {
            client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        }
        for _ in filters {
            within(acks.recv()).await.unwrap();
        }
        Self {
            client,
            received,
            driver,
            next_rid: 1,
        }
    }

    /// The next message the hub sends.
    pub async fn next(&mut self) -> Publish {
        within(self.received.recv()).await.unwrap()
    }

    /// The next desired-property notification: its version and body.
    pub async fn next_desired(&mut self) -> (u64, Value) {
        loop {
            let publish = self.next().await;
            if let Ok(HubTopic::DesiredPatch { version }) = publish.topic.parse::<HubTopic>() {
                return (
                    version.get(),
                    serde_json::from_slice(&publish.payload).unwrap(),
                );
            }
        }
    }

    /// The next method request: its name, payload and request id.
    pub async fn next_method(&mut self) -> (String, Value, MethodRequestId) {
        loop {
            let publish = self.next().await;
            if let Ok(topic) = publish.topic.parse::<RequestTopic>() {
                let payload = serde_json::from_slice(&publish.payload).unwrap();
                let (name, rid) = topic.into_parts();
                return (name.into_string(), payload, rid);
            }
        }
    }

    /// Answers method request `rid` with `status` and `payload`.
    pub async fn answer(&self, rid: MethodRequestId, status: i32, payload: &Value) {
        let topic = ResponseTopic::new(status, rid).to_string();
        self.client
            .publish(
                topic,
                QoS::AtLeastOnce,
                false,
                serde_json::to_vec(payload).unwrap(),
            )
            .await
            .unwrap();
    }

    /// Reports `patch` and waits for the hub's 204; returns the new reported version.
    pub async fn report(&mut self, patch: &Value) -> u64 {
        let rid: RequestId = self.next_rid.to_string().parse().unwrap();
        self.next_rid += 1;
        let topic = DeviceTopic::ReportedPatch {
            request_id: rid.clone(),
        };
        self.client
            .publish(
                topic.to_string(),
                QoS::AtLeastOnce,
                false,
                serde_json::to_vec(patch).unwrap(),
            )
            .await
            .unwrap();
        loop {
            let publish = self.next().await;
            if let Ok(HubTopic::Response {
                status,
                request_id,
                version,
            }) = publish.topic.parse::<HubTopic>()
            {
                if request_id == rid {
                    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&publish.payload));
                    return version.unwrap().get();
                }
            }
        }
    }

    /// Disconnects and waits for the connection to end.
    pub async fn disconnect(self) {
        self.client.disconnect().await.unwrap();
        let _ = within(self.driver).await;
    }
}
