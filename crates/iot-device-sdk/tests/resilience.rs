//! The client through a proxy that cuts, resets and stalls connections and refuses new ones,
//! while the back end changes desired properties and the device reports: desired properties
//! converge without a version going back or repeating, reported updates made offline arrive
//! coalesced, methods called during an outage fail then succeed, and SAS tokens are renewed
//! without losing a desired update.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use iot_device_sdk::{ConnectionState, DesiredUpdate, DeviceClient, DisconnectReason, Message};
use iot_hub::{Hub, MethodCallError};
use iot_methods::{MethodInvocation, MethodRequest, MethodResponse};
use iot_protocol::DeviceId;
use iot_twin::{Patch, TwinVersion, merge};
use serde_json::{Map, Value, json};
use support::proxy::Proxy;
use support::{device, eventually, hub, options_via, state_where, stop, within};
use tokio::task::JoinHandle;
use tokio::time::sleep;

/// Collects every desired update until the client stops.
fn record(client: &DeviceClient) -> JoinHandle<Vec<DesiredUpdate>> {
    let mut changes = client.desired_changes();
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(update) = changes.next().await {
            seen.push(update);
        }
        seen
    })
}

/// Checks that `updates` strictly increase in version and that merging their patches in
/// order gives `last`.
fn check_updates(updates: &[DesiredUpdate], last: &Map<String, Value>, last_version: u64) {
    let mut merged = Map::new();
    let mut previous = 0;
    for update in updates {
        assert!(
            update.version().get() > previous,
            "version {} after {previous}",
            update.version()
        );
        previous = update.version().get();
        merge(&mut merged, update.patch());
        assert_eq!(
            &merged,
            update.properties().as_map(),
            "at version {previous}"
        );
    }
    assert_eq!(previous, last_version);
    assert_eq!(&merged, last);
}

/// Waits until the client's copy of desired properties is the hub's.
async fn converged(hub: &Hub, id: &DeviceId, client: &DeviceClient) -> (Map<String, Value>, u64) {
    eventually("desired properties to converge", || async {
        let twin = hub.twins().get(id).expect("the twin");
        let hub_version = twin.desired().version()?.get();
        let copy = client.desired_watch().current()?;
        (copy.version().get() == hub_version && copy.as_map() == twin.desired().content())
            .then(|| (copy.as_map().clone(), hub_version))
    })
    .await
}

async fn set_desired(hub: &Hub, id: &DeviceId, value: Value) {
    let patch = Patch::from_value(value).expect("a valid patch");
    hub.twins()
        .update_desired(id, patch)
        .await
        .expect("the hub takes the patch");
}

#[tokio::test]
async fn desired_properties_converge_through_cuts_resets_stalls_and_outages() {
    let hub = hub().await;
    let id = device(&hub, "resilience-desired").await;
    let proxy = Proxy::start(hub.mqtt_addr()).await;
    let options = options_via(&hub, &id, proxy.port())
        .keep_alive(Duration::from_secs(1))
        .build()
        .unwrap();
    let client = DeviceClient::start(options).unwrap();
    let recorder = record(&client);
    within("ready", client.ready()).await.unwrap();

    for round in 1..=24u64 {
        set_desired(
            &hub,
            &id,
            json!({ "round": round, format!("k{}", round % 5): round }),
        )
        .await;
        match round % 8 {
            1 => proxy.cut(),
            3 => proxy.reset(),
            5 => {
                // Long enough for keep-alive to notice that nothing moves.
                proxy.stall();
                sleep(Duration::from_millis(2500)).await;
                proxy.heal();
            }
            7 => {
                proxy.outage();
                set_desired(&hub, &id, json!({ "offline": round })).await;
                sleep(Duration::from_millis(300)).await;
                proxy.heal();
            }
            _ => sleep(Duration::from_millis(50)).await,
        }
    }
    let (last, version) = converged(&hub, &id, &client).await;
    assert!(proxy.accepted() > 4, "the faults forced reconnects");
    client.close().await;
    let updates = within("the recorder", recorder).await.unwrap();
    check_updates(&updates, &last, version);
    stop(hub).await;
}

#[tokio::test]
async fn reported_updates_made_during_an_outage_arrive_coalesced() {
    let hub = hub().await;
    let id = device(&hub, "resilience-reported").await;
    let proxy = Proxy::start(hub.mqtt_addr()).await;
    let client =
        DeviceClient::start(options_via(&hub, &id, proxy.port()).build().unwrap()).unwrap();
    within("ready", client.ready()).await.unwrap();
    let before = client.report(&json!({"state": "online"})).await.unwrap();

    proxy.outage();
    let mut states = client.state_changes();
    state_where(&mut states, "the outage", |s| {
        matches!(s, ConnectionState::Disconnected { .. })
    })
    .await;
    let updates = 12u64;
    let mut intended = json!({"state": "online"});
    let mut pending = Vec::new();
    for step in 1..=updates {
        let patch = json!({ "state": format!("step {step}"), "history": { format!("s{step}"): step }, "drop": null });
        merge_value(&mut intended, &patch);
        let client = client.clone();
        pending.push(tokio::spawn(async move { client.report(&patch).await }));
    }
    sleep(Duration::from_millis(200)).await;
    proxy.heal();

    let mut versions: Vec<TwinVersion> = Vec::new();
    for update in pending {
        versions.push(within("a reported update", update).await.unwrap().unwrap());
    }
    assert!(
        versions.windows(2).all(|pair| pair[0] <= pair[1]),
        "{versions:?}"
    );
    let last = *versions.last().unwrap();
    let advanced = last.get() - before.get();
    assert!(
        advanced >= 1 && advanced < updates,
        "the version advanced {advanced} times for {updates} updates"
    );
    let twin = hub.twins().get(&id).unwrap();
    assert_eq!(twin.reported().version(), Some(last));
    assert_eq!(Value::Object(twin.reported().content().clone()), intended);
    client.close().await;
    stop(hub).await;
}

/// Merges a JSON merge patch into `target`, as the hub does.
fn merge_value(target: &mut Value, patch: &Value) {
    let Value::Object(target) = target else {
        unreachable!()
    };
    merge(
        target,
        &Patch::from_value(patch.clone()).expect("a valid patch"),
    );
}

#[tokio::test]
async fn a_method_called_during_an_outage_fails_then_succeeds_after_reconnecting() {
    let hub = hub().await;
    let id = device(&hub, "resilience-method").await;
    let proxy = Proxy::start(hub.mqtt_addr()).await;
    let options = options_via(&hub, &id, proxy.port())
        .method("ping", |_request: MethodRequest| async {
            Ok(MethodResponse::ok(json!("pong")))
        })
        .build()
        .unwrap();
    let client = within("connect", DeviceClient::connect(options))
        .await
        .unwrap();
    let invocation = || MethodInvocation::new("ping".parse().unwrap(), Value::Null).unwrap();
    assert_eq!(
        hub.invoke_method(&id, invocation()).await.unwrap().status(),
        200
    );

    proxy.outage();
    eventually("the hub to see the device offline", || async {
        let device = hub.registry().get_device(&id).unwrap();
        (device.connection_state == Some(iot_protocol::ConnectionState::Disconnected)).then_some(())
    })
    .await;
    assert_eq!(
        hub.invoke_method(&id, invocation()).await.unwrap_err(),
        MethodCallError::DeviceNotOnline
    );

    proxy.heal();
    within("ready again", client.ready()).await.unwrap();
    let result = within("the call", hub.invoke_method(&id, invocation()))
        .await
        .unwrap();
    assert_eq!((result.status(), result.payload()), (200, &json!("pong")));
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn short_lived_tokens_are_renewed_without_losing_a_desired_update() {
    let hub = hub().await;
    let id = device(&hub, "resilience-renewal").await;
    let options = options_via(&hub, &id, hub.mqtt_addr().port())
        .sas_token_ttl(Duration::from_secs(3))
        .sas_renewal_margin(Duration::from_millis(1500))
        .build()
        .unwrap();
    let client = DeviceClient::start(options).unwrap();
    let recorder = record(&client);
    let mut states = client.state_changes();
    let reasons = tokio::spawn(async move {
        let mut reasons = Vec::new();
        while let Some(state) = states.next().await {
            if let ConnectionState::Disconnected { reason, .. } = state {
                reasons.push(reason);
            }
        }
        reasons
    });
    within("ready", client.ready()).await.unwrap();

    // About 5 s of changes, across at least two renewals; the device reports as it goes.
    for round in 1..=25u64 {
        set_desired(&hub, &id, json!({ "round": round })).await;
        if round % 5 == 0 {
            within("a report", client.report(&json!({ "seen": round })))
                .await
                .unwrap();
        }
        sleep(Duration::from_millis(200)).await;
    }
    let (last, version) = converged(&hub, &id, &client).await;
    assert_eq!(last["round"], 25);
    client.close().await;
    let updates = within("the recorder", recorder).await.unwrap();
    check_updates(&updates, &last, version);
    let reasons = within("the state recorder", reasons).await.unwrap();
    assert!(
        reasons
            .iter()
            .filter(|r| **r == DisconnectReason::TokenRenewal)
            .count()
            >= 2,
        "{reasons:?}"
    );
    assert!(
        reasons.iter().all(|r| *r == DisconnectReason::TokenRenewal),
        "{reasons:?}"
    );
    let reported = hub.twins().get(&id).unwrap();
    assert_eq!(reported.reported().content()["seen"], 25);
    stop(hub).await;
}

#[tokio::test]
async fn a_full_request_queue_makes_callers_wait_and_nothing_deadlocks() {
    let hub = hub().await;
    let id = device(&hub, "resilience-backpressure").await;
    let proxy = Proxy::start(hub.mqtt_addr()).await;
    proxy.outage();
    let options = options_via(&hub, &id, proxy.port())
        .request_queue(2)
        .build()
        .unwrap();
    let client = DeviceClient::start(options).unwrap();
    let mut telemetry = hub.telemetry();
    let sends: Vec<_> = (0..30)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .send_telemetry(Message::json(&json!({ "n": n })).unwrap())
                    .await
            })
        })
        .collect();
    let mut states = client.state_changes();
    state_where(&mut states, "the refused connection", |s| {
        matches!(s, ConnectionState::Disconnected { .. })
    })
    .await;
    // Twin operations queue behind the telemetry too.
    let report = tokio::spawn({
        let client = client.clone();
        async move { client.report(&json!({"after": "outage"})).await }
    });
    sleep(Duration::from_millis(200)).await;
    proxy.heal();
    for send in sends {
        within("a send", send).await.unwrap().unwrap();
    }
    within("the report", report).await.unwrap().unwrap();
    let mut seen = Vec::new();
    while seen.len() < 30 {
        let message = support::next("telemetry", &mut telemetry).await.unwrap();
        let body: Value = serde_json::from_slice(message.body()).unwrap();
        seen.push(body["n"].as_u64().unwrap());
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 30);
    client.close().await;
    stop(hub).await;
}
