//! One run of each measurement against one server: start it, register and connect the fleet,
//! drive the load, sample the server, stop it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::fanout::{self, Writer};
use crate::fleet::{self, Setup};
use crate::idle::{self, IdleOutcome};
use crate::methods;
use crate::mqtt::{Conn, Login};
use crate::reported::{self, Window};
use crate::servers::{HubServer, Mosquitto};
use crate::stats::{Latencies, Outcome, ProcSample, Sampler, Samples};

/// How often the server's memory is sampled during a run.
const SAMPLE_PERIOD: Duration = Duration::from_millis(250);

/// Which server a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Our hub.
    Hub,
    /// The Mosquitto baseline.
    Mosquitto,
}

/// What every run needs.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    /// `iot-hub` built in release.
    pub(crate) hub_bin: PathBuf,
    /// The `mosquitto` executable.
    pub(crate) mosquitto: PathBuf,
    /// Run the hub inside this process instead (smoke runs).
    pub(crate) embedded: bool,
    /// Keep the hub's state in SQLite on disk (the default) rather than in memory.
    pub(crate) durable: bool,
    /// How fleets connect.
    pub(crate) setup: Setup,
    /// The REST client.
    pub(crate) http: reqwest::Client,
}

/// The size of a timed run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    /// Simulated devices.
    pub(crate) devices: usize,
    /// Round trips in flight per device (reported) or callers/writers (methods, fan-out).
    pub(crate) depth: usize,
    /// Not measured, before the window.
    pub(crate) warmup: Duration,
    /// Measured.
    pub(crate) window: Duration,
}

/// A started server.
#[derive(Debug)]
enum Target {
    Hub(Box<HubServer>),
    Mosquitto(Mosquitto),
}

impl Target {
    async fn start(side: Side, env: &Env) -> Result<Self, String> {
        match side {
            Side::Hub if env.embedded => {
                HubServer::embedded().await.map(|h| Self::Hub(Box::new(h)))
            }
            Side::Hub => HubServer::spawn(&env.hub_bin, env.durable)
                .await
                .map(|h| Self::Hub(Box::new(h))),
            Side::Mosquitto => Mosquitto::spawn(&env.mosquitto).await.map(Self::Mosquitto),
        }
    }

    fn mqtt(&self) -> SocketAddr {
        match self {
            Self::Hub(hub) => hub.mqtt,
            Self::Mosquitto(broker) => broker.addr,
        }
    }

    fn pid(&self) -> u32 {
        match self {
            Self::Hub(hub) => hub.pid,
            Self::Mosquitto(broker) => broker.pid,
        }
    }

    /// The fleet's logins: registered devices on the hub, anonymous clients on Mosquitto.
    async fn logins(&self, env: &Env, ids: &[String]) -> Result<Vec<Login>, String> {
        match self {
            Self::Hub(hub) => fleet::register(hub, &env.http, ids).await,
            Self::Mosquitto(_) => Ok(fleet::anonymous(ids)),
        }
    }

    /// Registers and connects `count` devices named `{prefix}-n`.
    async fn fleet(&self, env: &Env, prefix: &str, count: usize) -> Result<Fleet, String> {
        let ids = fleet::device_ids(prefix, count);
        let logins = self.logins(env, &ids).await?;
        let conns = fleet::connect_all(self.mqtt(), &logins, env.setup).await?;
        Ok(Fleet { ids, conns })
    }

    async fn stop(self) {
        match self {
            Self::Hub(hub) => (*hub).stop().await,
            Self::Mosquitto(broker) => broker.stop().await,
        }
    }
}

/// Connected devices, in id order.
#[derive(Debug)]
struct Fleet {
    ids: Vec<String>,
    conns: Vec<Conn>,
}

/// Reported-patch round trips on the hub, QoS 1 publish round trips on Mosquitto.
pub(crate) async fn reported(env: &Env, side: Side, load: Load) -> Result<Outcome, String> {
    let target = Target::start(side, env).await?;
    let result = reported_on(&target, env, side, load).await;
    target.stop().await;
    result.map(|outcome| labelled(outcome, env, side))
}

async fn reported_on(
    target: &Target,
    env: &Env,
    side: Side,
    load: Load,
) -> Result<Outcome, String> {
    let (kind, label) = match side {
        Side::Hub => (reported::Kind::ReportedPatch, "hub: reported patch -> 204"),
        Side::Mosquitto => (
            reported::Kind::Publish,
            "mosquitto: QoS 1 publish -> PUBACK",
        ),
    };
    let mut fleet = target.fleet(env, "rp", load.devices).await?;
    for conn in &mut fleet.conns {
        reported::prepare(conn, kind).await?;
    }
    let window = Window::after(load.warmup, load.window);
    let sampling = sample_window(target.pid(), window);
    let mut devices = JoinSet::new();
    for (conn, id) in fleet.conns.into_iter().zip(fleet.ids) {
        devices.spawn(reported::device(conn, id, kind, load.depth, window));
    }
    let latencies = join_latencies(devices).await?;
    let server = sampling.await.map_err(|e| format!("sampler: {e}"))?;
    Ok(Outcome::new(label, latencies, load.window, server))
}

/// Direct-method round trips on the hub, request/response through a responder on Mosquitto.
pub(crate) async fn methods(env: &Env, side: Side, load: Load) -> Result<Outcome, String> {
    let target = Target::start(side, env).await?;
    let result = methods_on(&target, env, side, load).await;
    target.stop().await;
    result.map(|outcome| labelled(outcome, env, side))
}

async fn methods_on(target: &Target, env: &Env, side: Side, load: Load) -> Result<Outcome, String> {
    let (kind, label) = match side {
        Side::Hub => (
            methods::Kind::DirectMethod,
            "hub: REST direct method -> device -> 200",
        ),
        Side::Mosquitto => (
            methods::Kind::Topics,
            "mosquitto: request -> responder -> response",
        ),
    };
    let mut fleet = target.fleet(env, "dm", load.devices).await?;
    for (conn, id) in fleet.conns.iter_mut().zip(&fleet.ids) {
        methods::prepare(conn, kind, id).await?;
    }
    let (stop, stopped) = watch::channel(false);
    let mut responders = JoinSet::new();
    for conn in fleet.conns {
        responders.spawn(methods::responder(conn, kind, stopped.clone()));
    }
    let window = Window::after(load.warmup, load.window);
    let sampling = sample_window(target.pid(), window);
    let callers = spawn_callers(target, env, &fleet.ids, load.depth, window).await?;
    let latencies = join_latencies(callers).await;
    stop.send_replace(true);
    while let Some(done) = responders.join_next().await {
        done.map_err(|e| format!("responder: {e}"))??;
    }
    let server = sampling.await.map_err(|e| format!("sampler: {e}"))?;
    Ok(Outcome::new(label, latencies?, load.window, server))
}

async fn spawn_callers(
    target: &Target,
    env: &Env,
    ids: &[String],
    callers: usize,
    window: Window,
) -> Result<JoinSet<Result<Latencies, String>>, String> {
    let mut tasks = JoinSet::new();
    for caller in 0..callers.max(1) {
        let mut rotated = ids.to_vec();
        rotated.rotate_left(caller % ids.len().max(1));
        match target {
            Target::Hub(hub) => {
                let urls = rotated
                    .iter()
                    .map(|id| format!("{}/twins/{id}/methods?api-version=2021-04-12", hub.rest))
                    .collect();
                let call =
                    methods::rest_caller(env.http.clone(), urls, hub.service_token(), window);
                tasks.spawn(call);
            }
            Target::Mosquitto(broker) => {
                let conn = caller_conn(broker.addr, "caller", caller, env.setup).await?;
                tasks.spawn(methods::topic_caller(conn, caller, rotated, window));
            }
        }
    }
    Ok(tasks)
}

/// An anonymous Mosquitto client for a caller or writer.
async fn caller_conn(addr: SocketAddr, role: &str, n: usize, setup: Setup) -> Result<Conn, String> {
    let login = Login {
        client_id: format!("{role}-{n}"),
        credentials: None,
    };
    Conn::connect(
        fleet::route(addr, n, setup.sources),
        &login,
        setup.keep_alive,
    )
    .await
}

/// Desired writes reaching each device on the hub, publishes to each device on Mosquitto;
/// `rounds` rounds over the whole fleet.
pub(crate) async fn fanout(
    env: &Env,
    side: Side,
    load: Load,
    rounds: usize,
) -> Result<Outcome, String> {
    let target = Target::start(side, env).await?;
    let result = fanout_on(&target, env, side, load, rounds).await;
    target.stop().await;
    result.map(|outcome| labelled(outcome, env, side))
}

async fn fanout_on(
    target: &Target,
    env: &Env,
    side: Side,
    load: Load,
    rounds: usize,
) -> Result<Outcome, String> {
    let (kind, label) = match side {
        Side::Hub => (
            fanout::Kind::DesiredPatch,
            "hub: PATCH desired -> device notified",
        ),
        Side::Mosquitto => (fanout::Kind::Publish, "mosquitto: QoS 1 publish -> device"),
    };
    let mut fleet = target.fleet(env, "fo", load.devices).await?;
    for (conn, id) in fleet.conns.iter_mut().zip(&fleet.ids) {
        fanout::prepare(conn, kind, id).await?;
    }
    let (sender, mut received) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let mut receivers = JoinSet::new();
    for (index, conn) in fleet.conns.into_iter().enumerate() {
        receivers.spawn(fanout::receiver(
            conn,
            index,
            sender.clone(),
            stopped.clone(),
        ));
    }
    let mut writers = writers(target, env, load.depth).await?;
    let samples = Samples::start(target.pid());
    let sampler = Sampler::start(target.pid(), SAMPLE_PERIOD);
    let mut latencies = Latencies::default();
    let mut elapsed = Duration::ZERO;
    for round in 0..rounds.max(1) {
        let started = Instant::now();
        let (back, starts) = write_round(writers, &fleet.ids, round).await?;
        writers = back;
        let (round_latencies, last) = fanout::collect_round(&mut received, &starts).await?;
        latencies.merge(round_latencies);
        elapsed += last.saturating_duration_since(started);
    }
    let mut samples = samples.end(target.pid(), 0);
    stop.send_replace(true);
    while let Some(done) = receivers.join_next().await {
        done.map_err(|e| format!("receiver: {e}"))??;
    }
    samples.peak_kib = samples.peak_kib.max(sampler.peak_kib().await);
    Ok(Outcome::new(label, latencies, elapsed, samples))
}

async fn writers(target: &Target, env: &Env, count: usize) -> Result<Vec<Writer>, String> {
    let mut writers = Vec::new();
    for n in 0..count.max(1) {
        writers.push(match target {
            Target::Hub(hub) => Writer::Rest {
                http: env.http.clone(),
                base: hub.rest.clone(),
                token: hub.service_token(),
            },
            Target::Mosquitto(broker) => {
                Writer::Mqtt(caller_conn(broker.addr, "writer", n, env.setup).await?)
            }
        });
    }
    Ok(writers)
}

/// One round: every writer takes its share of the fleet; the writers back, and each device's
/// write start.
async fn write_round(
    writers: Vec<Writer>,
    ids: &[String],
    round: usize,
) -> Result<(Vec<Writer>, Vec<Option<Instant>>), String> {
    let count = writers.len().max(1);
    let mut tasks = JoinSet::new();
    for (n, writer) in writers.into_iter().enumerate() {
        let share = ids
            .iter()
            .enumerate()
            .skip(n)
            .step_by(count)
            .map(|(index, id)| (index, id.clone()))
            .collect();
        tasks.spawn(fanout::write_share(writer, share, round));
    }
    let mut starts = vec![None; ids.len()];
    let mut back = Vec::with_capacity(count);
    while let Some(done) = tasks.join_next().await {
        let (writer, started) = done.map_err(|e| format!("writer: {e}"))??;
        for (index, at) in started {
            if let Some(slot) = starts.get_mut(index) {
                *slot = Some(at);
            }
        }
        back.push(writer);
    }
    Ok((back, starts))
}

/// Idle connections: memory per connection on the server and in the generator.
pub(crate) async fn idle(
    env: &Env,
    side: Side,
    connections: usize,
    hold: Duration,
) -> Result<IdleOutcome, String> {
    let target = Target::start(side, env).await?;
    let label = match side {
        Side::Hub => "hub",
        Side::Mosquitto => "mosquitto",
    };
    let result = async {
        let ids = fleet::device_ids("idle", connections);
        let logins = target.logins(env, &ids).await?;
        idle::run(
            label,
            (target.mqtt(), target.pid()),
            &logins,
            env.setup,
            hold,
        )
        .await
    }
    .await;
    target.stop().await;
    result
}

/// Marks the hub's outcomes when it kept its state in memory.
fn labelled(mut outcome: Outcome, env: &Env, side: Side) -> Outcome {
    if side == Side::Hub && !env.durable {
        outcome.label.push_str(" (in memory)");
    }
    outcome
}

/// Samples `pid` and the generator when the window opens and when it closes, and `pid`'s RSS
/// every [`SAMPLE_PERIOD`] in between.
fn sample_window(pid: u32, window: Window) -> tokio::task::JoinHandle<Samples> {
    tokio::spawn(async move {
        tokio::time::sleep_until(window.start.into()).await;
        let samples = Samples::start(pid);
        let mut peak = 0;
        while Instant::now() < window.end {
            let next = (Instant::now() + SAMPLE_PERIOD).min(window.end);
            tokio::time::sleep_until(next.into()).await;
            peak = peak.max(ProcSample::read(pid).rss_kib);
        }
        samples.end(pid, peak)
    })
}

async fn join_latencies(
    mut tasks: JoinSet<Result<Latencies, String>>,
) -> Result<Latencies, String> {
    let mut all = Latencies::default();
    while let Some(done) = tasks.join_next().await {
        all.merge(done.map_err(|e| format!("load task: {e}"))??);
    }
    Ok(all)
}
