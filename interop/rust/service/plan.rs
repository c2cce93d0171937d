//! The order of `interop_service`'s steps, the service's and the device's interleaved; the
//! same order and names as `interop/python/service_driver.py`.

use serde_json::{Value, json};

use super::agent::Agent;
use super::common::report;
use super::{
    CONFIGURATION_STEPS, DEVICE_WAIT, JOB_STEPS, JOB_WAIT, Scenario, c2d_message, rejected_patches,
    telemetry_properties,
};

/// Runs one step and prints its line.
macro_rules! step {
    ($scenario:expr, $name:expr, $call:expr) => {{
        let outcome = $call.await;
        report(&$scenario.pair, $name, &outcome)
    }};
}

/// `arguments` with the device-side timeout added.
fn waiting(mut arguments: Value) -> Value {
    arguments["timeout"] = json!(DEVICE_WAIT);
    arguments
}

impl Scenario {
    pub(super) async fn registry_and_twins(&mut self, device: &mut Agent) -> bool {
        let desired = json!({"greeting": format!("hello {}", self.pair), "mode": "replaced"});
        let reported = json!({"interop": {"pair": self.pair}});
        let mut passed = step!(self, "registry.create", self.registry_create());
        passed &= step!(self, "registry.list", self.registry_list());
        passed &= step!(self, "registry.get", self.registry_get());
        passed &= step!(self, "registry.update", self.registry_update());
        passed &= step!(self, "registry.delete", self.registry_delete());
        passed &= step!(self, "twin.get", self.twin_get());
        passed &= step!(self, "twin.update-etag", self.twin_update());
        passed &= step!(self, "twin.replace", self.twin_replace());
        passed &= device.step("device.connect", "connect", json!({})).await;
        let twin = json!({"desired": desired});
        passed &= device.step("device.get-twin", "get_twin", twin).await;
        let patch = json!({"patch": reported});
        passed &= device.step("device.report", "report", patch).await;
        passed &= step!(self, "twin.reported", self.twin_reported());
        let [invalid, oversize] = rejected_patches();
        let (invalid, oversize) = (json!({"patch": invalid}), json!({"patch": oversize}));
        passed &= device
            .step("device.report-invalid-key", "report_rejected", invalid)
            .await;
        passed &= device
            .step("device.report-too-large", "report_rejected", oversize)
            .await;
        passed &= step!(self, "twin.rejected-not-stored", self.rejected_not_stored());
        passed & self.desired_updates(device).await
    }

    async fn desired_updates(&mut self, device: &mut Agent) -> bool {
        let (first, second) = (json!({"setpoint": 21}), json!({"setpoint": 22}));
        let mut passed = step!(self, "twin.desired", self.set_desired(first.clone()));
        let wait = waiting(json!({"desired": first}));
        passed &= device.step("device.desired", "wait_desired", wait).await;
        passed &= device
            .step("device.disconnect", "disconnect", json!({}))
            .await;
        passed &= step!(
            self,
            "twin.desired-offline",
            self.set_desired(second.clone())
        );
        passed &= device.step("device.reconnect", "connect", json!({})).await;
        let wait = waiting(json!({"desired": second}));
        passed &= device
            .step("device.desired-after-reconnect", "wait_desired", wait)
            .await;
        let removal = json!({"mode": null});
        passed &= step!(self, "twin.desired-remove", self.set_desired(removal));
        let wait = waiting(json!({"keys": ["mode"]}));
        passed &= device
            .step("device.desired-removed", "wait_desired_absent", wait)
            .await;
        passed
    }

    pub(super) async fn messaging(&mut self, device: &mut Agent) -> bool {
        let mut passed = step!(self, "methods.invoke", self.methods_invoke());
        let call = waiting(json!({"name": "echo", "payload": {"n": 7}}));
        passed &= device.step("device.method", "expect_method", call).await;
        passed &= step!(self, "methods.invoke-null", self.methods_invoke_null());
        passed &= step!(self, "methods.device-not-online", self.methods_not_online());
        passed &= step!(
            self,
            "methods.unknown-device",
            self.methods_unknown_device()
        );
        passed &= step!(self, "methods.response-timeout", self.methods_timeout());
        let late = waiting(json!({"name": "slow", "payload": {"seconds": 8}}));
        passed &= device
            .step("device.method-late", "expect_method", late)
            .await;
        let telemetry = json!({
            "body": "{\"temperature\": 21.5}",
            "properties": telemetry_properties(&self.pair),
            "messageId": format!("{}-telemetry-1", self.pair),
        });
        passed &= device
            .step("device.telemetry", "send_telemetry", telemetry)
            .await;
        passed &= step!(self, "telemetry.received", self.telemetry_received());
        passed &= step!(self, "c2d.send", self.c2d_send());
        let c2d = waiting(c2d_message(&self.pair));
        passed &= device.step("device.c2d", "wait_c2d", c2d).await;
        passed & step!(self, "query.paging", self.query_paging())
    }

    pub(super) async fn jobs(&mut self, device: &mut Agent) -> bool {
        let [method, method_seen, rows, twin, twin_seen, query, cancel] = JOB_STEPS;
        let call = waiting(json!({"name": "jobEcho", "payload": {"job": self.pair}}));
        let desired = waiting(json!({"desired": {"fromJob": self.pair}}));
        let mut passed = step!(self, method, self.jobs_method());
        passed &= device.step(method_seen, "expect_method", call).await;
        passed &= step!(self, rows, self.jobs_device_rows());
        passed &= step!(self, twin, self.jobs_twin());
        passed &= device.step(twin_seen, "wait_desired", desired).await;
        passed &= step!(self, query, self.jobs_query());
        passed & step!(self, cancel, self.jobs_cancel())
    }

    pub(super) async fn configurations(&mut self, device: &mut Agent) -> bool {
        let [create, applied, desired, update, delete] = CONFIGURATION_STEPS;
        let content = json!({"fromConfiguration": {"pair": self.pair}});
        let wait = json!({"desired": content, "timeout": JOB_WAIT.as_secs()});
        let mut passed = step!(self, create, self.configurations_create());
        passed &= step!(self, applied, self.configurations_applied());
        passed &= device.step(desired, "wait_desired", wait).await;
        passed &= step!(self, update, self.configurations_update());
        passed & step!(self, delete, self.configurations_delete())
    }
}
