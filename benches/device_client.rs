//! The device client against the embedded hub over loopback MQTT (plain TCP, in memory), each
//! operation next to a baseline in the same run:
//!
//! - `baseline_rumqttc_publish`: a bare rumqttc client publishing at QoS 1 and waiting for the
//!   PUBACK, the floor of a telemetry round trip from this machine's MQTT stack;
//! - `send_telemetry`: the same through [`DeviceClient::send_telemetry`] (the request channel,
//!   the driver, the correlation of the PUBACK, the answer);
//! - `send_telemetry_100_concurrent`: 100 sends started together, resolved by their own
//!   PUBACKs;
//! - `update_reported`, `get_twin`: a reported patch answered with its version, and a twin read,
//!   through the hub's twin topics.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use iot_device_sdk::{DeviceClient, DeviceOptions, Message};
use iot_hub::{DeviceOptions as HubDevice, Hub};
use iot_protocol::{DeviceCredential, DeviceId, MqttUsername};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use tokio::sync::mpsc;

mod support;

async fn hub() -> Hub {
    support::loopback_hub().start().await.expect("a hub")
}

async fn device(hub: &Hub, name: &str) -> DeviceId {
    let id: DeviceId = name.parse().expect("an id");
    hub.registry()
        .create_device(&id, HubDevice::default())
        .await
        .expect("created");
    id
}

async fn client(hub: &Hub, id: &DeviceId) -> DeviceClient {
    let cs = hub
        .device_connection_string(id)
        .expect("a connection string");
    let options = DeviceOptions::from_connection_string(&cs.to_secret_string())
        .endpoint("127.0.0.1", hub.mqtt_addr().port())
        .insecure_plain_tcp()
        .build()
        .expect("options");
    DeviceClient::connect(options).await.expect("connected")
}

/// A bare rumqttc connection as the device, with the PUBACKs it receives.
struct Bare {
    client: AsyncClient,
    acks: mpsc::UnboundedReceiver<u16>,
}

impl Bare {
    async fn connect(hub: &Hub, id: &DeviceId) -> Self {
        let cs = hub
            .device_connection_string(id)
            .expect("a connection string");
        let DeviceCredential::SharedAccessKey { .. } = cs.credential() else {
            panic!("a key device");
        };
        let expiry = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            + 3600;
        let password = cs.sas_token(expiry).expect("a token").to_secret_string();
        let username = MqttUsername::new(cs.host_name().clone(), cs.identity().clone());
        let mut options = MqttOptions::new(id.as_str(), "127.0.0.1", hub.mqtt_addr().port());
        options.set_credentials(username.to_string(), password);
        options.set_clean_session(false);
        let (client, mut event_loop) = AsyncClient::new(options, 64);
        let (sender, acks) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(event) = event_loop.poll().await {
                if let Event::Incoming(Packet::PubAck(ack)) = event {
                    let _ = sender.send(ack.pkid);
                }
            }
        });
        Self { client, acks }
    }

    async fn publish(&mut self, topic: &str, body: &[u8]) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, body.to_vec())
            .await
            .expect("queued");
        self.acks.recv().await.expect("a PUBACK");
    }
}

fn bench(c: &mut Criterion) {
    let runtime = support::runtime();
    let hub = runtime.block_on(hub());
    let bare_id = runtime.block_on(device(&hub, "bench-bare"));
    let id = runtime.block_on(device(&hub, "bench-client"));
    let mut bare = runtime.block_on(Bare::connect(&hub, &bare_id));
    let client = runtime.block_on(client(&hub, &id));
    let body = br#"{"temperature":21.5,"humidity":40}"#;
    let topic = format!("devices/{bare_id}/messages/events/");
    let message = Message::builder(&body[..]).build().expect("a message");

    let mut group = c.benchmark_group("device_client");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("baseline_rumqttc_publish", |b| {
        b.iter(|| runtime.block_on(bare.publish(&topic, body)));
    });
    group.bench_function("send_telemetry", |b| {
        b.iter(|| {
            runtime
                .block_on(client.send_telemetry(message.clone()))
                .expect("sent");
        });
    });
    group.bench_function("send_telemetry_100_concurrent", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let sends = (0..100).map(|_| client.send_telemetry(message.clone()));
                for result in futures_util::future::join_all(sends).await {
                    result.expect("sent");
                }
            });
        });
    });
    let mut n = 0u64;
    group.bench_function("update_reported", |b| {
        b.iter(|| {
            n += 1;
            let version = runtime
                .block_on(client.report(&json!({ "counter": n })))
                .expect("reported");
            black_box(version);
        });
    });
    group.bench_function("get_twin", |b| {
        b.iter(|| black_box(runtime.block_on(client.get_twin()).expect("a twin")));
    });
    group.finish();
    runtime.block_on(client.close());
    runtime.block_on(hub.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
