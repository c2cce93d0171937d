//! `loadgen`: drives simulated devices and a back end against the hub and, in the same run,
//! against Mosquitto doing the nearest equivalent job, and prints throughput, latency
//! percentiles, the servers' CPU time and memory, and the ratios.
//!
//! ```sh
//! cargo build --release -p iot-hub --bin iot-hub
//! cargo run --release --example loadgen -- reported --devices 100 --depth 1 --seconds 10
//! cargo run --release --example loadgen -- all --runs 3
//! cargo run --release --example loadgen -- --smoke      # a few devices, a second each, embedded hub
//! ```
//!
//! The hub runs as its own process (`iot-hub serve --plain-tcp`, SQLite in a fresh data
//! directory with the default durability), Mosquitto with a generated configuration (no
//! persistence), each started fresh for every run. Devices speak raw MQTT 3.1.1 through
//! rumqttc's packet codec over their own TCP connections, spread over several loopback source
//! addresses; the back end uses HTTP/1.1 with keep-alive.
//!
//! # Layout
//! - `scenario.rs`: one run of each measurement against one server.
//! - `reported.rs`, `methods.rs`, `fanout.rs`, `idle.rs`: what devices and callers do.
//! - `servers.rs`: starting and stopping the hub and Mosquitto; `fleet.rs`: registering and
//!   connecting devices; `mqtt.rs`: the lean MQTT connection.
//! - `stats.rs`: latencies and `/proc` samples; `report.rs`: the tables.

mod fanout;
mod fleet;
mod idle;
mod methods;
mod mqtt;
mod report;
mod reported;
mod scenario;
mod servers;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::fleet::Setup;
use crate::report::say;
use crate::scenario::{Env, Load, Side};

/// Load generator for the hub, with Mosquitto as the baseline in the same run.
#[derive(Debug, Parser)]
#[command(name = "loadgen")]
struct Cli {
    /// A few devices for a second each against an embedded hub, no baseline: checks that
    /// every measurement still works.
    #[arg(long)]
    smoke: bool,
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    measure: Option<Measure>,
}

#[derive(Debug, Clone, Args)]
struct Common {
    /// The hub's binary, built in release.
    #[arg(long, default_value = "target/release/iot-hub", global = true)]
    hub_bin: PathBuf,
    /// Mosquitto's binary.
    #[arg(long, default_value = "mosquitto", global = true)]
    mosquitto: PathBuf,
    /// Runs of each server, alternating hub and baseline; the report gives medians.
    #[arg(long, default_value_t = 3, global = true)]
    runs: usize,
    /// Skip the Mosquitto baseline.
    #[arg(long, global = true)]
    no_baseline: bool,
    /// Run the hub with its state in memory instead of SQLite on disk, to see what durable
    /// commits cost.
    #[arg(long, global = true)]
    hub_in_memory: bool,
    /// Loopback source addresses (127.0.0.1 to 127.0.0.N) connections are spread over.
    #[arg(long, default_value_t = 4, global = true)]
    sources: usize,
    /// Worker threads of the generator's runtime.
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
}

#[derive(Debug, Clone, Subcommand)]
enum Measure {
    /// Reported-patch round trips (publish -> 204) against QoS 1 publish -> PUBACK.
    Reported(Timed),
    /// Direct-method round trips (REST -> device -> REST) against request/response topics.
    Methods(Timed),
    /// Desired-property writes reaching each device against publishes to each device.
    Fanout {
        #[command(flatten)]
        timed: Timed,
        /// Rounds over the whole fleet.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Idle connections: server memory per connection.
    Idle(IdleArgs),
    /// Every measurement with its defaults.
    All,
}

#[derive(Debug, Clone, Copy, Args)]
struct Timed {
    /// Simulated devices.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// In flight per device (reported), or concurrent callers/writers (methods, fan-out).
    #[arg(long, default_value_t = 1)]
    depth: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Warm-up seconds before the measured window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
}

#[derive(Debug, Clone, Copy, Args)]
struct IdleArgs {
    /// Idle connections.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Seconds to hold them open (pings every half keep-alive).
    #[arg(long, default_value_t = 5.0)]
    hold: f64,
}

impl Timed {
    fn load(self) -> Load {
        Load {
            devices: self.devices.max(1),
            depth: self.depth.max(1),
            warmup: Duration::from_secs_f64(self.warmup.max(0.0)),
            window: Duration::from_secs_f64(self.seconds.max(0.1)),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.common.threads.max(1))
        .enable_all()
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => Err(format!("runtime: {error}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            say(format_args!("loadgen: {error}"));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    if cli.smoke {
        return smoke().await;
    }
    check_file_limit()?;
    let env = env(&cli.common, false)?;
    let plan = Plan {
        runs: cli.common.runs.max(1),
        baseline: !cli.common.no_baseline,
    };
    let measures = match cli.measure.unwrap_or(Measure::All) {
        Measure::All => all_measures(),
        one => vec![one],
    };
    say(format_args!("machine: {}", machine()));
    for measure in measures {
        measure_runs(&env, plan, &measure).await?;
    }
    say(format_args!(
        "\nload average at the end: {}",
        load_average()
    ));
    Ok(())
}

/// Every measurement with its defaults.
fn all_measures() -> Vec<Measure> {
    let timed = |devices, depth| Timed {
        devices,
        depth,
        seconds: 10.0,
        warmup: 2.0,
    };
    vec![
        Measure::Reported(timed(100, 1)),
        Measure::Reported(timed(100, 8)),
        Measure::Methods(timed(100, 16)),
        Measure::Fanout {
            timed: timed(1000, 16),
            rounds: 3,
        },
        Measure::Idle(IdleArgs {
            connections: 10_000,
            hold: 5.0,
        }),
    ]
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    runs: usize,
    baseline: bool,
}

async fn measure_runs(env: &Env, plan: Plan, measure: &Measure) -> Result<(), String> {
    say(format_args!("\nload average before: {}", load_average()));
    if let Measure::Idle(args) = measure {
        return idle_runs(env, plan, *args).await;
    }
    let (mut hub, mut baseline) = (Vec::new(), Vec::new());
    for run in 0..plan.runs {
        // Alternate which server goes first, so that drift in the machine's load does not
        // always favour the same one.
        let order: &[Side] = match (plan.baseline, run % 2) {
            (false, _) => &[Side::Hub],
            (true, 0) => &[Side::Hub, Side::Mosquitto],
            (true, _) => &[Side::Mosquitto, Side::Hub],
        };
        for &side in order {
            let outcome = timed_once(env, side, measure).await?;
            match side {
                Side::Hub => hub.push(outcome),
                Side::Mosquitto => baseline.push(outcome),
            }
        }
    }
    report::timed(&title(measure), &hub, &baseline);
    Ok(())
}

async fn timed_once(env: &Env, side: Side, measure: &Measure) -> Result<stats::Outcome, String> {
    match measure {
        Measure::Reported(timed) => scenario::reported(env, side, timed.load()).await,
        Measure::Methods(timed) => scenario::methods(env, side, timed.load()).await,
        Measure::Fanout { timed, rounds } => {
            scenario::fanout(env, side, timed.load(), *rounds).await
        }
        Measure::Idle(_) | Measure::All => Err("not a timed measurement".into()),
    }
}

async fn idle_runs(env: &Env, plan: Plan, args: IdleArgs) -> Result<(), String> {
    let hold = Duration::from_secs_f64(args.hold.max(0.0));
    let (mut hub, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..plan.runs {
        hub.push(scenario::idle(env, Side::Hub, args.connections, hold).await?);
        if plan.baseline {
            baseline.push(scenario::idle(env, Side::Mosquitto, args.connections, hold).await?);
        }
    }
    let title = format!(
        "{} idle connections (CONNECT only, pings)",
        args.connections
    );
    report::idle(&title, &hub, &baseline);
    Ok(())
}

fn title(measure: &Measure) -> String {
    match measure {
        Measure::Reported(t) => format!(
            "Reported-patch round trips: {} devices, {} in flight each, {} s",
            t.devices, t.depth, t.seconds
        ),
        Measure::Methods(t) => format!(
            "Direct-method round trips: {} devices, {} concurrent callers, {} s",
            t.devices, t.depth, t.seconds
        ),
        Measure::Fanout { timed, rounds } => format!(
            "Desired fan-out: {} devices, {} concurrent writers, {rounds} rounds",
            timed.devices, timed.depth
        ),
        Measure::Idle(_) | Measure::All => String::new(),
    }
}

fn env(common: &Common, embedded: bool) -> Result<Env, String> {
    Ok(Env {
        hub_bin: common.hub_bin.clone(),
        mosquitto: common.mosquitto.clone(),
        embedded,
        durable: !common.hub_in_memory,
        setup: Setup {
            concurrency: 64,
            sources: common.sources.max(1),
            keep_alive: 60,
        },
        http: fleet::http_client()?,
    })
}

/// Every measurement, small and short, against the embedded hub; fails when one completes no
/// round trip or loses a connection.
async fn smoke() -> Result<(), String> {
    let common = Common {
        hub_bin: PathBuf::new(),
        mosquitto: PathBuf::new(),
        runs: 1,
        no_baseline: true,
        hub_in_memory: false,
        sources: 2,
        threads: 2,
    };
    let env = env(&common, true)?;
    let load = Load {
        devices: 4,
        depth: 2,
        warmup: Duration::from_millis(200),
        window: Duration::from_secs(1),
    };
    let outcomes = [
        scenario::reported(&env, Side::Hub, load).await?,
        scenario::methods(&env, Side::Hub, load).await?,
        scenario::fanout(&env, Side::Hub, load, 2).await?,
    ];
    report::timed("smoke", &outcomes, &[]);
    if let Some(empty) = outcomes.iter().find(|o| o.ops == 0) {
        return Err(format!("no round trip completed: {}", empty.label));
    }
    let idle = scenario::idle(&env, Side::Hub, 16, Duration::ZERO).await?;
    report::idle("smoke", std::slice::from_ref(&idle), &[]);
    match idle.alive == idle.asked {
        true => Ok(()),
        false => Err(format!(
            "{} of {} idle connections alive",
            idle.alive, idle.asked
        )),
    }
}

/// Fails early when the file limit cannot hold the connections of a full run.
fn check_file_limit() -> Result<(), String> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|soft| soft.parse::<u64>().ok());
    match soft {
        Some(limit) if limit < 12_000 => Err(format!(
            "the open-file limit is {limit}; raise it with `ulimit -n 20000` (10,000 \
             connections need one descriptor each)"
        )),
        _ => Ok(()),
    }
}

/// Cores and memory of this machine.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let total = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .map_or("?".to_owned(), |kib| kib.trim().to_owned());
    format!("{cores} cores, {total} memory")
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smoke run, so that the generator cannot rot: every measurement against the embedded
    /// hub with a few devices.
    #[test]
    fn smoke_run_completes_round_trips_of_every_kind() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(smoke()).expect("the smoke run");
    }

    #[test]
    fn every_measurement_has_a_title_and_defaults_are_timed() {
        for measure in all_measures() {
            match measure {
                Measure::Idle(_) => {}
                timed => assert!(!title(&timed).is_empty()),
            }
        }
    }
}
