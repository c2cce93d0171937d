//! The device-management lifecycle of a fleet, end to end: plan, provision, configure,
//! monitor, retire.
//!
//! Starts the embedded hub (plain TCP and HTTP on loopback, data in a temporary directory)
//! and a fleet of simulated devices, each running `iot-device-sdk` with its pattern helpers;
//! then walks the lifecycle from the back end with `iot-service-sdk` and its pattern helpers:
//!
//! 1. **provision**: register the devices, tag them, connect them;
//! 2. **configure**: roll firmware 2.0 out with an automatic configuration and follow it until
//!    every device applied it or failed (one device's battery is too low, on purpose);
//! 3. **reboot**: reboot the fleet with a job, follow it, check every `lastReboot`;
//! 4. **reset**: factory-reset one device;
//! 5. **report**: count devices per firmware, status and site with `GROUP BY` queries, and
//!    read the configuration's metrics;
//! 6. **retire**: disable some devices (which disconnects them), then delete them.
//!
//! It prints progress as it goes and a summary at the end, and exits with status 1 and the
//! reason if a step fails (every step has a deadline).
//!
//! ```text
//! cargo run --example fleet_lifecycle                  # 100 devices
//! cargo run --example fleet_lifecycle -- --devices 20
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "fleet_lifecycle/device.rs"]
mod device;
#[path = "fleet_lifecycle/steps.rs"]
mod steps;

use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use iot_hub::Hub;
use iot_service_sdk::ServiceClient;
use iot_service_sdk::patterns::{ProgressSnapshot, ProgressStream};

/// A step's failure, in words.
pub(crate) type Failure = Box<dyn std::error::Error + Send + Sync>;

/// How large a fleet to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Devices in the fleet.
    pub(crate) devices: usize,
}

impl Settings {
    /// The default fleet.
    pub(crate) const DEFAULT_DEVICES: usize = 100;
    /// The largest fleet the demo runs.
    pub(crate) const MAX_DEVICES: usize = 2000;

    /// Settings from the command line: nothing, or `--devices N`.
    pub(crate) fn from_args(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let usage = format!(
            "usage: fleet_lifecycle [--devices N]   (N from 2 to {}, {} by default)",
            Self::MAX_DEVICES,
            Self::DEFAULT_DEVICES
        );
        let mut settings = Self {
            devices: Self::DEFAULT_DEVICES,
        };
        while let Some(arg) = args.next() {
            let value = match arg.as_str() {
                "--devices" => args.next(),
                other => other.strip_prefix("--devices=").map(str::to_owned),
            };
            settings.devices = value
                .and_then(|v| v.parse().ok())
                .filter(|n| (2..=Self::MAX_DEVICES).contains(n))
                .ok_or_else(|| usage.clone())?;
        }
        Ok(settings)
    }
}

/// What a step did, for the summary.
#[derive(Debug, Clone)]
pub(crate) struct StepReport {
    /// The step's name.
    pub(crate) name: &'static str,
    /// What it did.
    pub(crate) what: String,
    /// How many devices it concerned.
    pub(crate) devices: usize,
    /// How long it took.
    pub(crate) took: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_args(std::env::args().skip(1)) {
        Ok(settings) => settings,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    match run(settings).await {
        Ok(reports) => {
            print_summary(&reports, started.elapsed());
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("fleet_lifecycle failed: {failure}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the whole demo and returns what each step did.
pub(crate) async fn run(settings: Settings) -> Result<Vec<StepReport>, Failure> {
    let data = tempfile::tempdir()?;
    let hub = Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse()?)
        .rest_addr("127.0.0.1:0".parse()?)
        .plain_tcp()
        .data_dir(data.path())
        .configuration_interval(Duration::from_secs(1))
        .start()
        .await?;
    let owner = hub
        .service_connection_string()
        .ok_or("the hub has no iothubowner policy")?;
    let service = ServiceClient::builder(&owner.to_secret_string())
        .endpoint_addr(hub.rest_addr())
        .plain_http()
        .build()?;
    println!(
        "fleet_lifecycle: {} simulated devices; hub on mqtt://{} and http://{}",
        settings.devices,
        hub.mqtt_addr(),
        hub.rest_addr()
    );
    let mut fleet = steps::Fleet::new(hub, service, settings.devices);
    let outcome = fleet.walk().await;
    fleet.shutdown().await;
    outcome
}

/// Runs a step within `limit`, timing it and printing its last line.
pub(crate) async fn step<F>(
    name: &'static str,
    limit: Duration,
    work: F,
) -> Result<StepReport, Failure>
where
    F: Future<Output = Result<(String, usize), Failure>>,
{
    let started = Instant::now();
    let (what, devices) = tokio::time::timeout(limit, work)
        .await
        .map_err(|_| format!("{name}: not done within {limit:?}"))?
        .map_err(|failure| format!("{name}: {failure}"))?;
    let took = started.elapsed();
    say(name, &format!("done: {what} ({:.1} s)", took.as_secs_f64()));
    Ok(StepReport {
        name,
        what,
        devices,
        took,
    })
}

/// Prints a progress line of step `name`.
pub(crate) fn say(name: &str, text: &str) {
    println!("[{name:<9}] {text}");
}

/// Follows `progress` to its end, printing a line when the counts change (at most every
/// 400 ms), and returns the last snapshot. `done` names the status of success.
pub(crate) async fn show_progress(
    name: &str,
    done: &str,
    mut progress: ProgressStream,
) -> Result<ProgressSnapshot, Failure> {
    let mut last: Option<ProgressSnapshot> = None;
    let mut printed: Option<Instant> = None;
    while let Some(snapshot) = progress.next().await {
        let snapshot = snapshot?;
        let last_one = snapshot.outcome.is_some();
        let quiet = printed.is_some_and(|at| at.elapsed() < Duration::from_millis(400));
        if last_one || !quiet {
            say(
                name,
                &format!(
                    "{} {done}, {} failed, {} pending of {}",
                    snapshot.succeeded, snapshot.failed, snapshot.pending, snapshot.targeted
                ),
            );
            printed = Some(Instant::now());
        }
        last = Some(snapshot);
    }
    last.ok_or_else(|| "no progress was read".into())
}

fn print_summary(reports: &[StepReport], total: Duration) {
    println!();
    println!(
        "{:<10} {:<58} {:>7} {:>8}",
        "step", "what", "devices", "time"
    );
    for report in reports {
        println!(
            "{:<10} {:<58} {:>7} {:>6.1} s",
            report.name,
            report.what,
            report.devices,
            report.took.as_secs_f64()
        );
    }
    println!("all steps passed in {:.1} s", total.as_secs_f64());
}
