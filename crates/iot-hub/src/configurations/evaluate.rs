//! Evaluation: the periodic task that applies the configurations to the twins and counts
//! their metrics (see the module docs of `configurations` for the rules).

use std::collections::BTreeMap;
use std::sync::Arc;

use iot_protocol::DeviceId;
use iot_twin::query::Collection;
use iot_twin::{
    ConfigurationInfo, ConfigurationStatus, DesiredContent, Patch, SectionField, ServiceWrite,
    diff, layer,
};
use serde_json::Value;
use tokio::sync::watch;
use tracing::Instrument;

use super::book::{Counts, Snapshot};
use super::spec::{Compiled, Metric};
use crate::HubError;
use crate::core::{Core, DeviceEntry, now};
use crate::registry::twin_op;
use crate::twins::{notify_desired, twin_view};

/// How many devices are evaluated between two yields to other tasks.
const YIELD_EVERY: usize = 64;

/// Runs an evaluation at start (which recomputes everything after a restart), then after
/// every change to the configurations and at least every interval, until the hub stops.
pub(crate) async fn run(core: Arc<Core>, mut stop: watch::Receiver<bool>) {
    let mut runs: u64 = 0;
    loop {
        runs += 1;
        let span = tracing::info_span!("configurations", run = runs);
        evaluate(&core, &stop).instrument(span).await;
        tokio::select! {
            () = tokio::time::sleep(core.settings.configuration_interval) => {}
            () = core.configurations.wake.notified() => {}
            _ = stop.changed() => break,
        }
    }
}

/// What evaluating one twin did.
#[derive(Debug)]
enum Outcome {
    /// Nothing to look at: the device is deleted, or no configuration exists or existed.
    Skipped,
    /// The twin is in line; its JSON as evaluated.
    Unchanged(Value),
    /// The twin was written.
    Written,
}

/// One run: every twin, then the metrics, then forgetting deleted contents that no twin holds
/// any more.
async fn evaluate(core: &Arc<Core>, stop: &watch::Receiver<bool>) {
    let snapshot = core.configurations.snapshot();
    let entries = core.entries();
    let counting = !snapshot.live.is_empty();
    let mut twins = Vec::with_capacity(if counting { entries.len() } else { 0 });
    let (mut clean, mut written) = (true, 0);
    for (index, (id, entry)) in entries.iter().enumerate() {
        if *stop.borrow() {
            return;
        }
        let twin = match apply(core, id, entry, &snapshot).await {
            Ok(Outcome::Skipped) => None,
            Ok(Outcome::Unchanged(twin)) => Some(twin),
            Ok(Outcome::Written) => {
                written += 1;
                Some(twin_json(entry))
            }
            Err(error) => {
                clean = false;
                tracing::warn!(device_id = %id, %error, "configurations could not be applied");
                Some(twin_json(entry))
            }
        };
        if counting && let Some(twin) = twin {
            twins.push(twin);
        }
        if index % YIELD_EVERY == YIELD_EVERY - 1 {
            tokio::task::yield_now().await;
        }
    }
    let (live, counter) = (snapshot.live.clone(), Arc::clone(core));
    match tokio::task::spawn_blocking(move || count(&counter, &live, &twins)).await {
        Ok(counts) => {
            if let Err(error) = core.configurations.record(&core.store, counts).await {
                tracing::warn!(%error, "configuration metrics could not be stored");
            }
        }
        Err(error) => tracing::warn!(%error, "configuration metrics could not be counted"),
    }
    if clean {
        let seqs: Vec<u64> = snapshot.retired.iter().map(|retired| retired.seq).collect();
        if let Err(error) = core.configurations.forget(&core.store, &seqs).await {
            tracing::warn!(%error, "deleted configurations could not be forgotten");
        }
    }
    tracing::debug!(written, configurations = snapshot.live.len(), "evaluated");
}

/// A twin's REST JSON, as conditions and metric queries read it.
fn twin_json(entry: &DeviceEntry) -> Value {
    serde_json::to_value(twin_view(entry, &entry.read())).unwrap_or(Value::Null)
}

/// Brings one twin in line with the configurations.
async fn apply(
    core: &Core,
    id: &DeviceId,
    entry: &DeviceEntry,
    snapshot: &Snapshot,
) -> Result<Outcome, HubError> {
    let idle = snapshot.live.is_empty() && snapshot.retired.is_empty();
    if idle && entry.read().twin.configurations().is_empty() {
        return Ok(Outcome::Skipped);
    }
    let _write = entry.write.lock().await;
    let (document, twin) = {
        let state = entry.read();
        if state.deleted {
            return Ok(Outcome::Skipped);
        }
        let document = serde_json::to_value(twin_view(entry, &state)).unwrap_or(Value::Null);
        (document, state.twin.clone())
    };
    let targeted: Vec<&Compiled> = snapshot
        .live
        .iter()
        .filter(|config| config.condition.collection() == Collection::Devices)
        .filter(|config| config.condition.matches(&document))
        .map(Arc::as_ref)
        .collect();
    let withdrawn = withdrawn(twin.configurations(), &targeted, snapshot);
    let layers: Vec<&DesiredContent> = targeted.iter().map(|config| &config.content).collect();
    let desired = twin.desired().content().clone();
    let layered = layer(&desired, &withdrawn, &layers);
    let record = record(&targeted, &layered.applied);
    let patch = diff(&desired, &layered.desired).map_err(|source| twin_error(id, source))?;
    if patch.is_empty() && &record == twin.configurations() {
        return Ok(Outcome::Unchanged(document));
    }
    write(core, entry, id, twin, patch, record).await?;
    Ok(Outcome::Written)
}

/// The twin's `configurations`: each targeting configuration, `Applied` or `Targeted`.
fn record(targeted: &[&Compiled], applied: &[bool]) -> iot_twin::Configurations {
    targeted
        .iter()
        .zip(applied)
        .map(|(config, &applied)| {
            let status = if applied {
                ConfigurationStatus::Applied
            } else {
                ConfigurationStatus::Targeted
            };
            (config.id.to_string(), ConfigurationInfo::new(status))
        })
        .collect()
}

/// The contents to remove from a twin: of the configurations applied to it that no longer
/// target it, and of deleted configurations of the same ids.
fn withdrawn<'a>(
    record: &iot_twin::Configurations,
    targeted: &[&Compiled],
    snapshot: &'a Snapshot,
) -> Vec<&'a DesiredContent> {
    let applied = record
        .iter()
        .filter(|(_, info)| info.status == ConfigurationStatus::Applied)
        .map(|(id, _)| id.as_str());
    let mut out = Vec::new();
    for id in applied {
        let still = targeted.iter().any(|config| config.id.as_str() == id);
        let live = snapshot
            .live
            .iter()
            .filter(|config| !still && config.id.as_str() == id)
            .map(|config| &config.content);
        let retired = snapshot
            .retired
            .iter()
            .filter(|retired| retired.id == id)
            .map(|retired| retired.content.as_ref());
        out.extend(live.chain(retired));
    }
    out
}

/// Merges `patch` into the twin's desired properties (which reach the device if connected),
/// sets its `configurations`, commits and installs. The caller holds the device's write lock.
async fn write(
    core: &Core,
    entry: &DeviceEntry,
    id: &DeviceId,
    mut twin: iot_twin::Twin,
    patch: Patch,
    record: iot_twin::Configurations,
) -> Result<(), HubError> {
    let write = ServiceWrite::new().with_desired(SectionField::Object(patch));
    let outcome = twin
        .apply_service_patch(&write, &core.settings.limits, now())
        .map_err(|source| twin_error(id, source))?;
    *twin.configurations_mut() = record;
    core.store.commit(vec![twin_op(&twin)?]).await?;
    let mut state = entry.lock();
    state.set_twin(twin);
    if let Some(note) = outcome.desired {
        notify_desired(&state, &note);
    }
    Ok(())
}

fn twin_error(id: &DeviceId, source: iot_twin::TwinError) -> HubError {
    HubError::Twin {
        device_id: id.clone(),
        source,
    }
}

/// Counts every metric of every configuration over `twins` (and the job rows, for a query
/// over `devices.jobs`; this hub has no module twins).
fn count(core: &Core, live: &[Arc<Compiled>], twins: &[Value]) -> Vec<Counts> {
    let needs_jobs = live
        .iter()
        .flat_map(|config| config.metrics.iter().chain(&config.system))
        .any(|metric| metric.query.collection() == Collection::DeviceJobs);
    let jobs = if needs_jobs {
        core.jobs.all_rows_json()
    } else {
        Vec::new()
    };
    let rows = |metrics: &[Metric]| -> BTreeMap<String, i64> {
        metrics
            .iter()
            .map(|metric| {
                let documents: &[Value] = match metric.query.collection() {
                    Collection::Devices => twins,
                    Collection::DeviceJobs => &jobs,
                    _ => &[],
                };
                let count = metric.query.evaluate(documents).count();
                (
                    metric.name.clone(),
                    i64::try_from(count).unwrap_or(i64::MAX),
                )
            })
            .collect()
    };
    live.iter()
        .map(|config| Counts {
            id: config.id.clone(),
            custom: rows(&config.metrics),
            system: rows(&config.system),
        })
        .collect()
}
