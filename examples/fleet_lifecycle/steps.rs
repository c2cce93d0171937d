//! The lifecycle's steps, from the back end, against the simulated fleet.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use iot_hub::Hub;
use iot_protocol::{Device, DeviceId, IfMatch, JobStatus};
use iot_service_sdk::patterns::{FleetOperation, ProgressOutcome, Rollout, RolloutHandle};
use iot_service_sdk::{ConfigurationCounts, ServiceClient, TwinUpdate, field};
use serde_json::{Value, json};

use super::device::{FACTORY_FIRMWARE, SimDevice};
use super::{Failure, StepReport, say, show_progress, step};

/// The firmware the demo rolls out.
const NEW_FIRMWARE: &str = "2.0";
/// How long a step may take.
const STEP_LIMIT: Duration = Duration::from_secs(40);
/// How often progress is read.
const EVERY: Duration = Duration::from_millis(250);
/// How many requests or connections the back end has under way at once.
const IN_FLIGHT: usize = 16;
/// The sites devices are tagged with.
const SITES: [&str; 3] = ["lyon", "oslo", "porto"];

/// The hub, the back end's client and the fleet.
pub(crate) struct Fleet {
    hub: Hub,
    service: ServiceClient,
    ids: Vec<DeviceId>,
    devices: Vec<SimDevice>,
    rollout: Option<RolloutHandle>,
}

impl Fleet {
    /// A fleet of `size` devices, not provisioned yet.
    pub(crate) fn new(hub: Hub, service: ServiceClient, size: usize) -> Self {
        let width = (size - 1).to_string().len().max(3);
        let ids = (0..size)
            .filter_map(|n| format!("sim-{n:0width$}").parse().ok())
            .collect();
        Self {
            hub,
            service,
            ids,
            devices: Vec::new(),
            rollout: None,
        }
    }

    /// The device whose battery is too low for a firmware update.
    fn low_battery(&self) -> usize {
        self.ids.len() / 2
    }

    /// The device that is factory-reset.
    fn reset_target(&self) -> &DeviceId {
        &self.ids[1]
    }

    /// How many devices are retired at the end: one in twenty, at least one.
    fn retired(&self) -> usize {
        (self.ids.len() / 20).max(1)
    }

    /// Every step in turn; stops at the first that fails.
    pub(crate) async fn walk(&mut self) -> Result<Vec<StepReport>, Failure> {
        Ok(vec![
            step("provision", STEP_LIMIT, self.provision()).await?,
            step("configure", STEP_LIMIT, self.configure()).await?,
            step("reboot", STEP_LIMIT, self.reboot()).await?,
            step("reset", STEP_LIMIT, self.reset()).await?,
            step("report", STEP_LIMIT, self.report()).await?,
            step("retire", STEP_LIMIT, self.retire()).await?,
        ])
    }

    /// Registers and tags every device, then connects the simulated devices.
    async fn provision(&mut self) -> Result<(String, usize), Failure> {
        let service = &self.service;
        let registered = stream::iter(self.ids.iter().enumerate())
            .map(|(n, id)| register(service, id, n))
            .buffer_unordered(IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        registered
            .into_iter()
            .collect::<Result<Vec<()>, Failure>>()?;
        say(
            "provision",
            &format!("{} devices registered and tagged", self.ids.len()),
        );
        let low = self.low_battery();
        let hub = &self.hub;
        let started = stream::iter(self.ids.iter().enumerate())
            .map(|(n, id)| SimDevice::start(hub, id, n, n == low))
            .buffered(IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        self.devices = started.into_iter().collect::<Result<_, _>>()?;
        let what = "register, tag and connect the devices".to_owned();
        Ok((what, self.devices.len()))
    }

    /// Rolls firmware 2.0 out with a configuration and follows it.
    async fn configure(&mut self) -> Result<(String, usize), Failure> {
        let rollout =
            Rollout::builder("firmware-2-0", "firmware", json!({"version": NEW_FIRMWARE}))
                .target_condition("*")
                .priority(10)
                .label("purpose", "fleet-lifecycle-demo")
                .build()?
                .start(&self.service)
                .await?;
        let progress = rollout.progress(EVERY, deadline())?;
        let last = show_progress("configure", "applied", progress).await?;
        for failure in &last.failures {
            let message = failure.message.as_deref().unwrap_or("no message");
            say(
                "configure",
                &format!("{} failed: {message}", failure.device_id),
            );
        }
        let expected = (self.ids.len() as u64 - 1, 1);
        if last.outcome != Some(ProgressOutcome::Finished)
            || (last.succeeded, last.failed) != expected
        {
            return Err(
                format!("expected {expected:?} devices applied and failed, saw {last:?}").into(),
            );
        }
        self.rollout = Some(rollout);
        let what = format!(
            "roll out firmware {NEW_FIRMWARE}: {} applied, {} failed",
            last.succeeded, last.failed
        );
        Ok((what, last.targeted as usize))
    }

    /// Reboots the fleet with a job, follows it, and checks every `lastReboot`.
    async fn reboot(&mut self) -> Result<(String, usize), Failure> {
        let job = FleetOperation::reboot()
            .job_id("reboot-the-fleet")
            .condition("*")
            .response_timeout(Duration::from_secs(10))
            .start(&self.service)
            .await?;
        say("reboot", &format!("job {} scheduled", job.id()));
        let last = show_progress("reboot", "rebooted", job.progress(EVERY, deadline())?).await?;
        let n = self.ids.len() as u64;
        if last.outcome != Some(ProgressOutcome::Finished) || last.succeeded != n {
            return Err(format!("expected {n} devices rebooted, saw {last:?}").into());
        }
        let finished = job.wait(EVERY, deadline()).await?;
        if finished.status != JobStatus::Completed {
            return Err(format!("the job ended {:?}", finished.status).into());
        }
        let since = job
            .scheduled()
            .created_time
            .ok_or("the job has no creation time")?;
        let condition =
            field("properties.reported.iothubDM.reboot.lastReboot").ge(since.to_string());
        let rebooted = self.count(condition).await?;
        if rebooted != n {
            return Err(
                format!("{rebooted} of {n} devices report a lastReboot after the job").into(),
            );
        }
        say(
            "reboot",
            &format!("{rebooted} devices report lastReboot after {since}"),
        );
        Ok((
            "reboot every device with a method job".to_owned(),
            n as usize,
        ))
    }

    /// Factory-resets one device.
    async fn reset(&mut self) -> Result<(String, usize), Failure> {
        let target = self.reset_target().clone();
        let job = FleetOperation::factory_reset()
            .job_id(&format!("factory-reset-{target}"))
            .condition(field("deviceId").eq(target.as_str()))
            .start(&self.service)
            .await?;
        let last = show_progress("reset", "reset", job.progress(EVERY, deadline())?).await?;
        if last.succeeded != 1 {
            return Err(format!("expected {target} reset, saw {last:?}").into());
        }
        let twin = self.service.get_twin(&target).await?;
        let when = twin
            .reported()
            .content()
            .get("iothubDM")
            .and_then(|dm| dm.pointer("/factoryReset/lastFactoryReset"))
            .and_then(Value::as_str)
            .ok_or("no lastFactoryReset reported")?
            .to_owned();
        say(
            "reset",
            &format!("{target} reports lastFactoryReset {when}"),
        );
        Ok((format!("factory-reset {target}"), 1))
    }

    /// Counts devices per firmware, status and site, and reads the configuration's metrics.
    async fn report(&mut self) -> Result<(String, usize), Failure> {
        let n = self.ids.len() as u64;
        let firmware = self
            .group("properties.reported.firmware.current", None)
            .await?;
        let statuses = self
            .group("properties.reported.firmware.status", None)
            .await?;
        let sites = self
            .group(
                "tags.site",
                Some(&format!(
                    "properties.reported.firmware.current = '{NEW_FIRMWARE}'"
                )),
            )
            .await?;
        say(
            "report",
            &format!("devices per firmware: {}", line(&firmware)),
        );
        say(
            "report",
            &format!("devices per firmware status: {}", line(&statuses)),
        );
        say(
            "report",
            &format!("devices on {NEW_FIRMWARE} per site: {}", line(&sites)),
        );
        let on_new = firmware.get(NEW_FIRMWARE).copied().unwrap_or_default();
        let on_old = firmware.get(FACTORY_FIRMWARE).copied().unwrap_or_default();
        if (on_new, on_old) != (n - 1, 1) || firmware.values().sum::<u64>() != n {
            return Err(format!("unexpected firmware counts: {firmware:?}").into());
        }
        let counts = self.metrics(n).await?;
        let per_status: BTreeMap<String, u64> = counts
            .custom
            .iter()
            .map(|(status, n)| (status.clone(), u64::try_from(*n).unwrap_or_default()))
            .collect();
        say(
            "report",
            &format!(
                "configuration metrics: {} targeted, {} applied to; devices per status: {}",
                counts.targeted.unwrap_or_default(),
                counts.applied.unwrap_or_default(),
                line(&per_status)
            ),
        );
        Ok((
            "count devices per firmware, status and site (GROUP BY)".to_owned(),
            n as usize,
        ))
    }

    /// Disables the last devices (the hub disconnects them), then deletes them.
    async fn retire(&mut self) -> Result<(String, usize), Failure> {
        let k = self.retired();
        let retiring: Vec<DeviceId> = self.ids.split_off(self.ids.len() - k);
        for id in &retiring {
            self.service.disable_device(id).await?;
        }
        let gone = field("status")
            .eq("disabled")
            .and(field("connectionState").eq("Disconnected"));
        let waiting = Instant::now();
        while self.count(gone.clone()).await? != k as u64 {
            if waiting.elapsed() > Duration::from_secs(10) {
                return Err("disabled devices are still connected".into());
            }
            tokio::time::sleep(EVERY).await;
        }
        say("retire", &format!("{k} devices disabled and disconnected"));
        for device in self.devices.split_off(self.devices.len() - k) {
            device.stop().await;
        }
        for id in &retiring {
            self.service.delete_device(id, IfMatch::ANY).await?;
        }
        let left = self.service.registry_statistics().await?.total_device_count;
        if left != self.ids.len() as u64 {
            return Err(format!(
                "{left} devices left in the registry, not {}",
                self.ids.len()
            )
            .into());
        }
        say(
            "retire",
            &format!("{k} devices deleted; {left} left in the registry"),
        );
        Ok(("disable, then delete devices".to_owned(), k))
    }

    /// Closes the devices and stops the hub.
    pub(crate) async fn shutdown(self) {
        for device in self.devices {
            device.stop().await;
        }
        self.hub.shutdown().await;
    }

    /// Devices that meet `condition`.
    async fn count(&self, condition: iot_service_sdk::Filter) -> Result<u64, Failure> {
        let query = iot_service_sdk::Query::count("devices").where_(condition);
        let rows: Vec<Value> = self.service.query(query)?.items().collect_all().await?;
        Ok(rows.iter().filter_map(|r| r["devices"].as_u64()).sum())
    }

    /// Devices per value at `path`, among those that meet `condition`.
    async fn group(
        &self,
        path: &str,
        condition: Option<&str>,
    ) -> Result<BTreeMap<String, u64>, Failure> {
        let filter = condition.map(|c| format!(" WHERE {c}")).unwrap_or_default();
        let text = format!(
            "SELECT {path} AS value, COUNT() AS devices FROM devices{filter} GROUP BY {path}"
        );
        let rows: Vec<Value> = self.service.query(text)?.items().collect_all().await?;
        Ok(rows
            .iter()
            .map(|row| {
                let value = row.get("value").map_or("(none)".to_owned(), text_of);
                (value, row["devices"].as_u64().unwrap_or_default())
            })
            .collect())
    }

    /// The configuration's metrics, once the hub has counted every device's latest status.
    async fn metrics(&self, n: u64) -> Result<ConfigurationCounts, Failure> {
        let rollout = self.rollout.as_ref().ok_or("no roll-out")?;
        let waiting = Instant::now();
        loop {
            let counts = rollout.counts().await?;
            if counts.custom.values().sum::<i64>() == n as i64 {
                return Ok(counts);
            }
            if waiting.elapsed() > Duration::from_secs(10) {
                return Err(
                    format!("the configuration's metrics do not add up: {counts:?}").into(),
                );
            }
            tokio::time::sleep(EVERY).await;
        }
    }
}

/// Registers device `id` (the `n`-th) and tags it with its ring and site.
async fn register(service: &ServiceClient, id: &DeviceId, n: usize) -> Result<(), Failure> {
    service.create_device(&Device::new(id.clone())).await?;
    let ring = if n % 10 == 0 { "canary" } else { "main" };
    let tags = json!({"ring": ring, "site": SITES[n % SITES.len()]});
    service
        .update_twin(id, &TwinUpdate::new().tags(tags), IfMatch::ANY)
        .await?;
    Ok(())
}

fn deadline() -> Instant {
    Instant::now() + STEP_LIMIT
}

/// `a × 3, b × 1`.
fn line(counts: &BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = counts
        .iter()
        .map(|(value, n)| format!("{value} × {n}"))
        .collect();
    parts.join(", ")
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
