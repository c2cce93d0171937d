//! The hub's jobs and configurations over a fleet of 1000 twins, in memory, next to a
//! baseline in the same run:
//!
//! - `baseline_twin_writes`: the same 1000 tag writes through the in-process twin API, 16 at a
//!   time: the floor of what a twin job does;
//! - `twin_job`: a `scheduleUpdateTwin` job over the 1000 twins, from creation until the job
//!   is `completed` (picking the devices, a row per device through `pending`, `running` and
//!   `completed`, the writes);
//! - `configuration_applied`: a configuration targeting the 1000 twins, from creation until
//!   the last twin (in evaluation order) holds its content;
//! - `evaluation_idle`: an evaluation run that changes nothing (every twin already in line
//!   with two configurations), measured as the time from a configuration update that changes
//!   no content to its metrics being counted.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::StreamExt;
use iot_hub::{DeviceOptions, Hub};
use iot_protocol::{Configuration, DeviceId, IfMatch, JobRequest, JobStatus};
use iot_twin::{Patch, SectionField, ServiceWrite};
use serde_json::{Value, json};

mod support;

const FLEET: usize = 1000;
const CONCURRENCY: usize = 16;

fn id(n: usize) -> DeviceId {
    format!("dev-{n:04}").parse().expect("an id")
}

/// A hub in memory with `FLEET` devices, which evaluates configurations only when they change.
async fn hub() -> Hub {
    let hub = support::loopback_hub()
        .job_concurrency(CONCURRENCY)
        .configuration_interval(Duration::from_secs(3600))
        .start()
        .await
        .expect("a hub");
    for n in 0..FLEET {
        hub.registry()
            .create_device(&id(n), DeviceOptions::default())
            .await
            .expect("created");
    }
    hub
}

fn tags(value: &Value) -> ServiceWrite {
    let patch = Patch::from_value(json!({ "bench": value })).expect("a patch");
    ServiceWrite::new().with_tags(SectionField::Object(patch))
}

async fn baseline(hub: &Hub, round: u64) {
    let write = tags(&json!(round));
    futures_util::stream::iter(0..FLEET)
        .for_each_concurrent(CONCURRENCY, |n| {
            let (twins, write) = (hub.twins(), &write);
            async move {
                twins.update(&id(n), write, None).await.expect("written");
            }
        })
        .await;
}

async fn twin_job(hub: &Hub, round: u64) {
    let patch = json!({"etag": "*", "tags": {"job": round}});
    let Value::Object(patch) = patch else {
        unreachable!("an object literal")
    };
    let job_id = format!("job-{round}");
    let request = JobRequest::twin_update(&job_id, "*", patch);
    hub.jobs().create(&request).await.expect("created");
    let id = job_id.parse().expect("a job id");
    while hub.jobs().get(&id).expect("the job").status != JobStatus::Completed {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn configuration(id: &str, priority: i32, value: u64) -> Configuration {
    serde_json::from_value(json!({
        "id": id, "priority": priority, "targetCondition": "*",
        "content": {"deviceContent": {"properties.desired.bench": {"value": value}}},
        "metrics": {"queries": {"high": "SELECT deviceId FROM devices WHERE properties.desired.bench.value > 10"}},
    }))
    .expect("a configuration")
}

/// Waits until the last twin's desired `bench.value` is `value` (`None`: absent).
async fn last_twin_holds(hub: &Hub, value: Option<u64>) {
    let last = id(FLEET - 1);
    loop {
        let twin = hub.twins().get(&last).expect("the twin");
        let held = twin
            .desired()
            .content()
            .get("bench")
            .map(|b| b["value"].as_u64());
        if held.flatten() == value {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One configuration created, applied to every twin, deleted and removed; the time until
/// applied.
async fn configuration_round(hub: &Hub, round: u64) -> Duration {
    let configurations = hub.configurations();
    let config_id = format!("bench-{round}");
    let started = Instant::now();
    configurations
        .create(&configuration(&config_id, 1, round))
        .await
        .expect("created");
    last_twin_holds(hub, Some(round)).await;
    let elapsed = started.elapsed();
    let id = config_id.parse().expect("an id");
    configurations.delete(&id, None).await.expect("deleted");
    last_twin_holds(hub, None).await;
    elapsed
}

/// An update that changes no content, until its metrics are counted again.
async fn idle_round(hub: &Hub, round: u64) -> Duration {
    let configurations = hub.configurations();
    let id = "idle".parse().expect("an id");
    let mut config = configurations.get(&id).expect("the configuration");
    let query =
        format!("SELECT deviceId FROM devices WHERE properties.desired.bench.value > {round}");
    config.metrics =
        Some(serde_json::from_value(json!({"queries": {"high": query}})).expect("metrics"));
    let started = Instant::now();
    configurations
        .update(&config, &IfMatch::ANY)
        .await
        .expect("updated");
    loop {
        let counted = configurations.get(&id).expect("the configuration");
        let high = counted.metrics.and_then(|m| m.results.get("high").copied());
        if high == Some(if round < 7 { FLEET as i64 } else { 0 }) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn jobs(c: &mut Criterion) {
    let rt = support::runtime();
    let hub = rt.block_on(hub());
    let mut group = c.benchmark_group("jobs");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    let mut round = 0;
    group.bench_function("baseline_twin_writes", |b| {
        b.iter(|| {
            round += 1;
            rt.block_on(baseline(&hub, round));
        });
    });
    group.bench_function("twin_job", |b| {
        b.iter(|| {
            round += 1;
            rt.block_on(twin_job(&hub, round));
        });
    });
    group.finish();

    let mut group = c.benchmark_group("configurations");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("configuration_applied", |b| {
        b.iter_custom(|iterations| {
            (0..iterations)
                .map(|_| {
                    round += 1;
                    rt.block_on(configuration_round(&hub, round))
                })
                .sum()
        });
    });
    rt.block_on(async {
        hub.configurations()
            .create(&configuration("idle", 1, 7))
            .await
            .expect("created");
        last_twin_holds(&hub, Some(7)).await;
    });
    let mut toggle = 1;
    group.bench_function("evaluation_idle", |b| {
        b.iter_custom(|iterations| {
            (0..iterations)
                .map(|_| {
                    toggle = (toggle + 1) % 2;
                    rt.block_on(idle_round(&hub, 6 + toggle * 2))
                })
                .sum()
        });
    });
    group.finish();
    rt.block_on(hub.shutdown());
}

criterion_group!(benches, jobs);
criterion_main!(benches);
