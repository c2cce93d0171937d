//! The pattern helpers end to end: devices on the device SDK run `iot_device_sdk::patterns`,
//! the back end runs `iot_service_sdk::patterns` against the embedded hub. Reboots and factory
//! resets across a query show their progress through twin queries, an earlier run's status is
//! not taken for the current one, and a configuration roll-out reaches `applied` with the
//! failing device and its message in the progress stream.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use iot_device_sdk::patterns::{DesiredConfiguration, DeviceOperation};
use iot_device_sdk::{DeviceClient, DeviceOptions};
use iot_hub::Hub;
use iot_protocol::{DeviceId, IfMatch};
use iot_service_sdk::patterns::{
    ApplyStatus, FleetOperation, ProgressOutcome, ProgressSnapshot, ProgressStream, Rollout,
    STATUS_ERROR,
};
use iot_service_sdk::{ServiceClient, TwinUpdate};
use serde_json::{Value, json};
use support::{WAIT, create, hub_builder, owner, within};
use tokio::sync::Semaphore;

const EVERY: Duration = Duration::from_millis(50);

async fn hub() -> Hub {
    hub_builder()
        .configuration_interval(Duration::from_millis(100))
        .in_memory()
        .start()
        .await
        .unwrap()
}

/// Registers `id` with tag `ring` and connects it with the device SDK.
async fn device(hub: &Hub, service: &ServiceClient, id: &str, ring: &str) -> DeviceClient {
    let id = registered(service, id, ring).await;
    let connection_string = hub
        .device_connection_string(&id)
        .unwrap()
        .to_secret_string();
    let options = DeviceOptions::from_connection_string(&connection_string)
        .endpoint("127.0.0.1", hub.mqtt_addr().port())
        .insecure_plain_tcp()
        .operation_timeout(WAIT)
        .build()
        .unwrap();
    within(DeviceClient::connect(options)).await.unwrap()
}

async fn registered(service: &ServiceClient, id: &str, ring: &str) -> DeviceId {
    let id = create(service, id).await;
    let tags = TwinUpdate::new().tags(json!({"ring": ring}));
    service.update_twin(&id, &tags, IfMatch::ANY).await.unwrap();
    id
}

/// Every snapshot of `progress` to its end; counts of success never go down.
async fn follow(mut progress: ProgressStream) -> Vec<ProgressSnapshot> {
    let mut seen: Vec<ProgressSnapshot> = Vec::new();
    while let Some(snapshot) = within(progress.next()).await {
        let snapshot = snapshot.unwrap();
        if let Some(before) = seen.last() {
            assert!(snapshot.succeeded >= before.succeeded, "{snapshot:?}");
        }
        seen.push(snapshot);
    }
    seen
}

fn deadline() -> Instant {
    Instant::now() + WAIT
}

#[tokio::test]
async fn a_reboot_across_a_query_is_followed_to_its_end() {
    let hub = hub().await;
    let service = owner(&hub);
    let mut clients = Vec::new();
    for (id, fails) in [("r-1", false), ("r-2", false), ("r-3", true)] {
        let client = device(&hub, &service, id, "a").await;
        DeviceOperation::reboot()
            .install(&client, move |_payload| async move {
                if fails {
                    Err("the watchdog refused")
                } else {
                    Ok(())
                }
            })
            .unwrap();
        clients.push(client);
    }
    registered(&service, "r-offline", "a").await;
    let other = device(&hub, &service, "r-other", "b").await;

    let job = FleetOperation::reboot()
        .condition("tags.ring = 'a'")
        .start(&service)
        .await
        .unwrap();
    let seen = follow(job.progress(EVERY, deadline()).unwrap()).await;
    let last = seen.last().unwrap();
    assert_eq!(last.outcome, Some(ProgressOutcome::Finished), "{last:?}");
    assert_eq!(
        (last.targeted, last.succeeded, last.failed, last.pending),
        (4, 2, 2, 0)
    );
    assert_eq!(last.statuses["rebooted"], 2);
    let failures: Vec<(&str, &str, Option<&str>)> = last
        .failures
        .iter()
        .map(|f| {
            (
                f.device_id.as_str(),
                f.status.as_str(),
                f.message.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        failures[0],
        ("r-3", STATUS_ERROR, Some("the watchdog refused"))
    );
    assert_eq!(failures[1].0, "r-offline");
    assert!(
        failures[1].2.unwrap().contains("DeviceNotOnline"),
        "{failures:?}"
    );

    let twin = service.get_twin(&"r-1".parse().unwrap()).await.unwrap();
    assert!(twin.reported().content()["iothubDM"]["reboot"]["lastReboot"].is_string());
    let untouched = service.get_twin(&"r-other".parse().unwrap()).await.unwrap();
    assert!(untouched.reported().content().get("iothubDM").is_none());
    let done = job.wait(EVERY, deadline()).await.unwrap();
    assert_eq!(done.device_job_statistics.unwrap().device_count, 4);
    let rows = job.device_jobs().unwrap().collect_all().await.unwrap();
    assert_eq!(rows.len(), 4);

    for client in clients {
        client.close().await;
    }
    other.close().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn an_earlier_run_is_not_taken_for_the_current_one() {
    let hub = hub().await;
    let service = owner(&hub);
    let client = device(&hub, &service, "f-1", "a").await;
    let gate = Arc::new(Semaphore::new(1));
    let for_reset = Arc::clone(&gate);
    DeviceOperation::factory_reset()
        .install(&client, move |_payload| {
            let gate = Arc::clone(&for_reset);
            async move {
                let permit = gate.acquire().await.map_err(|e| e.to_string())?;
                permit.forget();
                Ok::<(), String>(())
            }
        })
        .unwrap();
    let first = FleetOperation::factory_reset()
        .condition("deviceId = 'f-1'")
        .start(&service)
        .await
        .unwrap();
    let last = first
        .progress(EVERY, deadline())
        .unwrap()
        .last()
        .await
        .unwrap();
    assert_eq!(
        (last.succeeded, last.outcome),
        (1, Some(ProgressOutcome::Finished))
    );

    // The second reset waits at the gate: the device reports `resetting` and stays pending,
    // although its twin still holds the first run's `reset`.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = FleetOperation::factory_reset()
        .condition("deviceId = 'f-1'")
        .start(&service)
        .await
        .unwrap();
    let mut progress = second.progress(EVERY, deadline()).unwrap();
    let running = within(async {
        loop {
            let snapshot = progress.next().await.unwrap().unwrap();
            if snapshot.statuses.get("resetting") == Some(&1) {
                return snapshot;
            }
            assert_eq!(snapshot.succeeded, 0, "{snapshot:?}");
        }
    })
    .await;
    assert_eq!((running.succeeded, running.pending), (0, 1));
    gate.add_permits(1);
    let snapshots = follow(progress).await;
    let last = snapshots.last().unwrap();
    assert_eq!(
        (last.succeeded, last.outcome),
        (1, Some(ProgressOutcome::Finished))
    );
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_rollout_reaches_applied_and_shows_the_device_that_failed() {
    let hub = hub().await;
    let service = owner(&hub);
    let mut clients = Vec::new();
    let mut helpers = Vec::new();
    for id in ["c-1", "c-2", "c-bad"] {
        let client = device(&hub, &service, id, "canary").await;
        let fails = id == "c-bad";
        let helper = DesiredConfiguration::new("firmware")
            .spawn(&client, move |wanted: Value| async move {
                if fails {
                    Err(format!("cannot verify {}", wanted["version"]))
                } else {
                    Ok(())
                }
            })
            .unwrap();
        clients.push(client);
        helpers.push(helper);
    }
    let bystander = device(&hub, &service, "c-main", "main").await;

    let rollout = Rollout::builder("firmware-2", "firmware", json!({"version": "2.0"}))
        .target_condition("tags.ring = 'canary'")
        .priority(5)
        .build()
        .unwrap()
        .start(&service)
        .await
        .unwrap();
    let seen = follow(rollout.progress(EVERY, deadline()).unwrap()).await;
    let last = seen.last().unwrap();
    assert_eq!(last.outcome, Some(ProgressOutcome::Finished), "{last:?}");
    assert_eq!((last.targeted, last.succeeded, last.failed), (3, 2, 1));
    assert_eq!(last.statuses[ApplyStatus::Applied.as_str()], 2);
    assert_eq!(last.failures.len(), 1);
    assert_eq!(last.failures[0].device_id.as_str(), "c-bad");
    assert_eq!(
        last.failures[0].message.as_deref(),
        Some("cannot verify \"2.0\"")
    );
    let first = seen.first().unwrap();
    assert!(first.pending > 0 || first.outcome.is_some(), "{first:?}");

    // The configuration's own metrics agree once the hub has evaluated them again.
    let counts = within(async {
        loop {
            let counts = rollout.counts().await.unwrap();
            if counts.custom.get(STATUS_ERROR) == Some(&1)
                && counts.custom.get(ApplyStatus::Applied.as_str()) == Some(&2)
            {
                return counts;
            }
            tokio::time::sleep(EVERY).await;
        }
    })
    .await;
    assert_eq!((counts.targeted, counts.applied), (Some(3), Some(3)));
    let untouched = service.get_twin(&"c-main".parse().unwrap()).await.unwrap();
    assert!(untouched.desired().content().get("firmware").is_none());

    for helper in &mut helpers {
        let status = helper.status().unwrap();
        assert!(matches!(
            status.status,
            ApplyStatus::Applied | ApplyStatus::Error
        ));
    }
    rollout.delete().await.unwrap();
    for client in clients {
        client.close().await;
    }
    bystander.close().await;
    hub.shutdown().await;
}
