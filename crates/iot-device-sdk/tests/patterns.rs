//! The device-management pattern helpers against the embedded hub: reboot and factory reset
//! answer at once and report their progress; the configuration helper applies desired
//! sections, reports `applying`, `pending`, `applied` and `error` with the desired version,
//! never applies a stale version, and resumes after reconnects and restarts.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iot_device_sdk::DeviceClient;
use iot_device_sdk::patterns::{ApplyStatus, DesiredConfiguration, DeviceOperation};
use iot_hub::Hub;
use iot_methods::{MethodInvocation, MethodResult};
use iot_protocol::DeviceId;
use iot_twin::{Patch, Timestamp};
use serde_json::{Value, json};
use support::proxy::Proxy;
use support::{connect, device, eventually, hub, options_via, stop, within};
use tokio::sync::{Semaphore, oneshot};

async fn call(hub: &Hub, id: &DeviceId, method: &str) -> MethodResult {
    let invocation = MethodInvocation::new(method.parse().unwrap(), Value::Null)
        .unwrap()
        .with_connect_timeout(Duration::from_secs(5))
        .unwrap();
    within("the method call", hub.invoke_method(id, invocation))
        .await
        .unwrap()
}

/// The reported value at `pointer`, once it satisfies `accept`.
async fn reported_at(
    hub: &Hub,
    id: &DeviceId,
    pointer: &str,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    eventually(pointer, || async {
        let twin = hub.twins().get(id).unwrap();
        let reported = Value::Object(twin.reported().content().clone());
        reported.pointer(pointer).filter(|v| accept(v)).cloned()
    })
    .await
}

async fn set_desired(hub: &Hub, id: &DeviceId, value: Value) -> u64 {
    let twin = hub
        .twins()
        .update_desired(id, Patch::from_value(value).unwrap())
        .await
        .unwrap();
    twin.desired().version().unwrap().get()
}

fn timestamp(value: &Value) -> Timestamp {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn reboot_answers_at_once_reports_progress_and_refuses_a_second_one() {
    let hub = hub().await;
    let id = device(&hub, "reboot-1").await;
    let client = connect(&hub, &id).await;
    let (release, released) = oneshot::channel::<()>();
    let released = Arc::new(Mutex::new(Some(released)));
    let payloads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&payloads);
    DeviceOperation::reboot()
        .install(&client, move |payload| {
            seen.lock().unwrap().push(payload);
            let wait = released.lock().unwrap().take();
            async move {
                if let Some(wait) = wait {
                    let _ = wait.await;
                }
                Ok::<(), String>(())
            }
        })
        .unwrap();

    let answer = call(&hub, &id, "reboot").await;
    assert_eq!(
        (answer.status(), answer.payload()),
        (200, &json!("Reboot started"))
    );
    reported_at(&hub, &id, "/iothubDM/reboot/status", |s| s == "rebooting").await;
    let busy = call(&hub, &id, "reboot").await;
    assert_eq!(busy.status(), 409);

    release.send(()).unwrap();
    reported_at(&hub, &id, "/iothubDM/reboot/status", |s| s == "rebooted").await;
    let twin = hub.twins().get(&id).unwrap();
    let reboot = &twin.reported().content()["iothubDM"]["reboot"];
    assert!(timestamp(&reboot["lastReboot"]) >= timestamp(&reboot["startedRebootTime"]));
    assert_eq!(reboot["message"], Value::Null);
    assert_eq!(payloads.lock().unwrap().as_slice(), [Value::Null]);

    // Once done, a new reboot starts again.
    assert_eq!(call(&hub, &id, "reboot").await.status(), 200);
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn a_failed_factory_reset_reports_its_error_and_a_restart_completes_a_reboot() {
    let hub = hub().await;
    let id = device(&hub, "reset-1").await;
    let client = connect(&hub, &id).await;
    DeviceOperation::factory_reset()
        .install(&client, |_payload| async {
            Err::<(), _>("the data partition is read-only")
        })
        .unwrap();
    let answer = call(&hub, &id, "factoryReset").await;
    assert_eq!(answer.payload(), &json!("Factory reset started"));
    reported_at(&hub, &id, "/iothubDM/factoryReset/status", |s| s == "error").await;
    let message = reported_at(
        &hub,
        &id,
        "/iothubDM/factoryReset/message",
        Value::is_string,
    )
    .await;
    assert_eq!(message, "the data partition is read-only");

    // Nothing to resume while no reboot is under way; a reboot cut short is completed.
    let reboot = DeviceOperation::reboot();
    assert!(!reboot.resume(&client).await.unwrap());
    client
        .report(&json!({"iothubDM": {"reboot": {"status": "rebooting"}}}))
        .await
        .unwrap();
    assert!(reboot.resume(&client).await.unwrap());
    reported_at(&hub, &id, "/iothubDM/reboot/lastReboot", Value::is_string).await;
    let status = reported_at(&hub, &id, "/iothubDM/reboot/status", Value::is_string).await;
    assert_eq!(status, "rebooted");
    client.close().await;
    stop(hub).await;
}

/// A callback that records what it applies and fails for content with `"fail": true`.
fn recorder(
    applied: &Arc<Mutex<Vec<Value>>>,
) -> impl Fn(Value) -> std::future::Ready<Result<(), String>> + Send + Sync + 'static {
    let applied = Arc::clone(applied);
    move |content: Value| {
        applied.lock().unwrap().push(content.clone());
        let outcome = if content["fail"] == true {
            Err("the image does not verify".to_owned())
        } else {
            Ok(())
        };
        std::future::ready(outcome)
    }
}

#[tokio::test]
async fn configuration_reports_applied_error_and_follows_unrelated_versions() {
    let hub = hub().await;
    let id = device(&hub, "config-1").await;
    let client = connect(&hub, &id).await;
    let applied = Arc::new(Mutex::new(Vec::new()));
    let mut helper = DesiredConfiguration::new("firmware")
        .spawn(&client, recorder(&applied))
        .unwrap();

    let version = set_desired(&hub, &id, json!({"firmware": {"version": "2.0"}})).await;
    let status = within(
        "applied",
        helper.wait_for(|s| s.status == ApplyStatus::Applied),
    )
    .await
    .unwrap();
    assert_eq!(status.desired_version.get(), version);
    reported_at(&hub, &id, "/firmware/desiredVersion", |v| v == version).await;
    let reported = reported_at(&hub, &id, "/firmware/status", |s| s == "applied").await;
    assert_eq!(reported, "applied");

    // Desired properties change elsewhere: only the version moves on.
    let unrelated = set_desired(&hub, &id, json!({"telemetryInterval": 5})).await;
    reported_at(&hub, &id, "/firmware/desiredVersion", |v| v == unrelated).await;
    assert_eq!(applied.lock().unwrap().len(), 1);

    let failing = set_desired(
        &hub,
        &id,
        json!({"firmware": {"version": "2.1", "fail": true}}),
    )
    .await;
    reported_at(&hub, &id, "/firmware/status", |s| s == "error").await;
    let twin = hub.twins().get(&id).unwrap();
    let firmware = &twin.reported().content()["firmware"];
    assert_eq!(firmware["desiredVersion"], failing);
    assert_eq!(firmware["message"], "the image does not verify");
    assert_eq!(
        applied.lock().unwrap().as_slice(),
        [
            json!({"version": "2.0"}),
            json!({"version": "2.1", "fail": true})
        ]
    );
    helper.stop();
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn changes_during_an_apply_are_pending_and_only_the_latest_is_applied() {
    let hub = hub().await;
    let id = device(&hub, "config-2").await;
    let client = connect(&hub, &id).await;
    let gate = Arc::new(Semaphore::new(0));
    let applied = Arc::new(Mutex::new(Vec::new()));
    let (gate_for_apply, record) = (Arc::clone(&gate), Arc::clone(&applied));
    let mut helper = DesiredConfiguration::new("settings.fan")
        .reported_path("fanStatus")
        .spawn(&client, move |content| {
            record.lock().unwrap().push(content);
            let gate = Arc::clone(&gate_for_apply);
            async move {
                gate.acquire()
                    .await
                    .map(|permit| permit.forget())
                    .map_err(|e| e.to_string())
            }
        })
        .unwrap();

    set_desired(&hub, &id, json!({"settings": {"fan": 1}})).await;
    reported_at(&hub, &id, "/fanStatus/status", |s| s == "applying").await;
    set_desired(&hub, &id, json!({"settings": {"fan": 2}})).await;
    let last = set_desired(&hub, &id, json!({"settings": {"fan": 3}})).await;
    let pending = within(
        "pending",
        helper.wait_for(|s| s.desired_version.get() == last),
    )
    .await
    .unwrap();
    assert_eq!(pending.status, ApplyStatus::Pending);
    reported_at(&hub, &id, "/fanStatus/status", |s| s == "pending").await;

    gate.add_permits(2);
    within(
        "applied",
        helper.wait_for(|s| s.status == ApplyStatus::Applied),
    )
    .await
    .unwrap();
    reported_at(&hub, &id, "/fanStatus/desiredVersion", |v| v == last).await;
    assert_eq!(applied.lock().unwrap().as_slice(), [json!(1), json!(3)]);
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn configuration_resumes_after_an_outage_and_a_restart() {
    let hub = hub().await;
    let id = device(&hub, "config-3").await;
    let proxy = Proxy::start(hub.mqtt_addr()).await;
    let client = DeviceClient::connect(options_via(&hub, &id, proxy.port()).build().unwrap())
        .await
        .unwrap();
    let applied = Arc::new(Mutex::new(Vec::new()));
    let mut helper = DesiredConfiguration::new("firmware")
        .spawn(&client, recorder(&applied))
        .unwrap();
    set_desired(&hub, &id, json!({"firmware": {"version": "1"}})).await;
    within(
        "applied",
        helper.wait_for(|s| s.status == ApplyStatus::Applied),
    )
    .await
    .unwrap();

    // Two changes while the device is offline: only the second is applied afterwards.
    proxy.outage();
    set_desired(&hub, &id, json!({"firmware": {"version": "2"}})).await;
    let latest = set_desired(&hub, &id, json!({"firmware": {"version": "3"}})).await;
    proxy.heal();
    reported_at(&hub, &id, "/firmware/desiredVersion", |v| v == latest).await;
    reported_at(&hub, &id, "/firmware/status", |s| s == "applied").await;
    assert_eq!(
        applied.lock().unwrap().as_slice(),
        [json!({"version": "1"}), json!({"version": "3"})]
    );
    helper.stop();
    client.close().await;

    // A restarted device does not apply again what it reported applied at this version.
    let restarted = connect(&hub, &id).await;
    let again = Arc::new(Mutex::new(Vec::new()));
    let mut helper = DesiredConfiguration::new("firmware")
        .spawn(&restarted, recorder(&again))
        .unwrap();
    let status = within("resumed", helper.wait_for(|_| true)).await.unwrap();
    assert_eq!(
        (status.status, status.desired_version.get()),
        (ApplyStatus::Applied, latest)
    );
    let newer = set_desired(&hub, &id, json!({"firmware": {"version": "4"}})).await;
    within(
        "applied",
        helper.wait_for(|s| s.desired_version.get() == newer && s.status == ApplyStatus::Applied),
    )
    .await
    .unwrap();
    assert_eq!(again.lock().unwrap().as_slice(), [json!({"version": "4"})]);
    restarted.close().await;
    stop(hub).await;
}
