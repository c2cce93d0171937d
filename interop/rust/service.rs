//! `interop_service`: the back-end side of the interop scenarios, played by our service SDK,
//! driving a device agent (the official device SDK's `device_agent.py`, or `interop_device`).
//!
//! The steps and their names are those of `interop/python/service_driver.py`, which plays the
//! same part with the official service SDK; each prints one line, `PASS <pair> <step>` or
//! `FAIL <pair> <step>: <why>`, and the agent prints the device's own.
//!
//! usage: `interop_service --pair NAME --service CS --control URL --device-id ID --ca CA.pem
//!         [--skip jobs,configurations] -- <device agent command>`

#[path = "agent.rs"]
mod agent;
#[path = "common.rs"]
mod common;
#[path = "control.rs"]
mod control;
#[path = "service/fleet.rs"]
mod fleet;
#[path = "service/plan.rs"]
mod plan;
#[path = "service/registry.rs"]
mod registry;

use std::fmt::Display;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use agent::Agent;
use common::{check, contains};
use control::Control;
use iot_protocol::{DeviceId, IfMatch};
use iot_service_sdk::{ServiceClient, ServiceError};
use serde_json::json;

/// How long a device-side wait may take (desired updates, method calls, messages).
const DEVICE_WAIT: u64 = 20;
/// How long a job or a configuration may take to reach the device.
const JOB_WAIT: Duration = Duration::from_secs(60);
/// A property value with the characters property bags must encode (PROTOCOL 5).
const AWKWARD: &str = "a/b c&d=e%f";

/// The application properties of the telemetry message the device sends.
fn telemetry_properties(pair: &str) -> serde_json::Value {
    json!({"scenario": pair, "path": AWKWARD})
}

/// Reported patches the hub must refuse (PROTOCOL 7): a `$` key, and over 32 KB in all.
fn rejected_patches() -> [serde_json::Value; 2] {
    let big: serde_json::Map<String, serde_json::Value> = (0..9)
        .map(|n| (format!("big{n}"), json!("x".repeat(3900))))
        .collect();
    [json!({"$bad": 1}), serde_json::Value::Object(big)]
}

/// The cloud-to-device message the back end sends and the device must receive.
fn c2d_message(pair: &str) -> serde_json::Value {
    json!({
        "body": "reboot at noon",
        "properties": {"kind": "notice", "path": AWKWARD},
        "messageId": format!("{pair}-c2d-1"),
        "correlationId": format!("{pair}-correlation"),
        "contentType": "text/plain",
    })
}

/// The command line.
struct Args {
    pair: String,
    service: String,
    control: String,
    device_id: String,
    ca: String,
    skip: Vec<String>,
    agent: Vec<String>,
}

/// The service side of one pair.
struct Scenario {
    pair: String,
    device_id: DeviceId,
    client: ServiceClient,
    control: Control,
    temporary: Vec<DeviceId>,
    etag: String,
    stale_device_etag: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = match parse_args(&std::env::args().skip(1).collect::<Vec<_>>()) {
        Ok(args) => args,
        Err(why) => {
            let _ = writeln!(std::io::stderr(), "interop_service: {why}");
            return ExitCode::FAILURE;
        }
    };
    match run(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(why) => {
            let _ = writeln!(std::io::stderr(), "interop_service: {why}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(all: &[String]) -> Result<Args, String> {
    let split = all
        .iter()
        .position(|a| a == "--")
        .ok_or("no `--` before the agent command")?;
    let (ours, agent) = all.split_at(split);
    let value = |name: &str| {
        let at = ours
            .iter()
            .position(|a| a == name)
            .ok_or(format!("{name} is required"))?;
        ours.get(at + 1)
            .cloned()
            .ok_or(format!("{name} needs a value"))
    };
    let skip = value("--skip").unwrap_or_default();
    Ok(Args {
        pair: value("--pair")?,
        service: value("--service")?,
        control: value("--control")?,
        device_id: value("--device-id")?,
        ca: value("--ca")?,
        skip: skip
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        agent: agent.iter().skip(1).cloned().collect(),
    })
}

/// Runs every step; returns whether all passed.
async fn run(args: &Args) -> Result<bool, String> {
    let pem = std::fs::read(&args.ca).map_err(|e| format!("reading {}: {e}", args.ca))?;
    let client = ServiceClient::builder(&args.service)
        .trust_ca_pem(pem)
        .build()
        .map_err(|e| e.to_string())?;
    let mut scenario = Scenario {
        pair: args.pair.clone(),
        device_id: args
            .device_id
            .parse()
            .map_err(|e| format!("device id: {e}"))?,
        client,
        control: Control::new(&args.control),
        temporary: Vec::new(),
        etag: String::new(),
        stale_device_etag: String::new(),
    };
    let mut device = Agent::spawn(&args.pair, &args.agent)?;
    let mut passed = scenario.registry_and_twins(&mut device).await;
    passed &= scenario.messaging(&mut device).await;
    if args.skip.iter().any(|s| s == "jobs") {
        scenario.skip(&JOB_STEPS, "the hub has no /jobs/v2 endpoint");
    } else {
        passed &= scenario.jobs(&mut device).await;
    }
    if args.skip.iter().any(|s| s == "configurations") {
        scenario.skip(
            &CONFIGURATION_STEPS,
            "the hub has no /configurations endpoint",
        );
    } else {
        passed &= scenario.configurations(&mut device).await;
    }
    scenario.cleanup().await;
    device.close().await;
    Ok(passed)
}

/// The job steps, in order.
const JOB_STEPS: [&str; 7] = [
    "jobs.method",
    "device.method-from-job",
    "jobs.device-rows",
    "jobs.twin",
    "device.desired-from-job",
    "jobs.query",
    "jobs.cancel",
];

/// The configuration steps, in order.
const CONFIGURATION_STEPS: [&str; 5] = [
    "configurations.create",
    "configurations.applied",
    "device.desired-from-configuration",
    "configurations.update-etag",
    "configurations.delete",
];

/// The error of a call that had to fail with HTTP `status`.
fn expect_status<T>(
    result: Result<T, ServiceError>,
    status: u16,
    what: &str,
) -> Result<ServiceError, String> {
    match result {
        Ok(_) => Err(format!("{what} succeeded; expected status {status}")),
        Err(error) if error.status() == Some(status) => Ok(error),
        Err(error) => Err(format!(
            "{what}: {error} (status {:?}, not {status})",
            error.status()
        )),
    }
}

fn show(error: impl Display) -> String {
    error.to_string()
}

/// Calls `probe` every 200 ms until it finds something or `limit` passes.
async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe().await? {
            return Ok(found);
        }
        if Instant::now() >= deadline {
            return Err(format!("{what} within {} s", limit.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Scenario {
    fn skip(&self, steps: &[&str], why: &str) {
        for step in steps {
            let _ = writeln!(std::io::stdout().lock(), "SKIP {} {step}: {why}", self.pair);
        }
    }

    fn id(&self, suffix: &str) -> Result<DeviceId, String> {
        format!("{}-{suffix}", self.pair).parse().map_err(show)
    }

    /// Deletes the devices this scenario created (not a step: best effort).
    async fn cleanup(&self) {
        for id in &self.temporary {
            let _ = self.client.delete_device(id, IfMatch::ANY).await;
        }
    }
}
