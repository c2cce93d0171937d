//! The servers under load: the hub as its own process (`iot-hub serve`, plain TCP, SQLite in a
//! fresh data directory with the default durability), the hub embedded in the generator (for
//! the smoke run), and Mosquitto started with a generated configuration.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use iot_hub::Hub;
use iot_protocol::{HostName, ServiceConnectionString};
use tempfile::TempDir;

/// How long a server has to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a server has to exit after being asked to.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running hub and what the generator needs to reach it.
#[derive(Debug)]
pub(crate) struct HubServer {
    /// The MQTT endpoint.
    pub(crate) mqtt: SocketAddr,
    /// The REST API's base URL, e.g. `http://127.0.0.1:8080`.
    pub(crate) rest: String,
    /// The hub's host name (in usernames and SAS tokens).
    pub(crate) host: HostName,
    /// The `iothubowner` connection string.
    pub(crate) service: ServiceConnectionString,
    /// The process whose memory and CPU time are the hub's (the generator's own when embedded).
    pub(crate) pid: u32,
    running: Running,
    _dir: TempDir,
}

#[derive(Debug)]
enum Running {
    Process(Child),
    Embedded(Hub),
}

impl HubServer {
    /// Starts `iot-hub serve` from `binary` on free loopback ports, with a fresh data directory
    /// when `durable` (in memory otherwise). Its log goes to a file in a temporary directory.
    pub(crate) async fn spawn(binary: &Path, durable: bool) -> Result<Self, String> {
        let dir = TempDir::new().map_err(|e| format!("temporary directory: {e}"))?;
        let log_path = dir.path().join("hub.log");
        let log = std::fs::File::create(&log_path).map_err(|e| format!("hub log: {e}"))?;
        let mut command = Command::new(binary);
        command
            .args(["serve", "--plain-tcp", "--mqtt-addr", "127.0.0.1:0"])
            .args(["--rest-addr", "127.0.0.1:0"]);
        if durable {
            command.arg("--data-dir").arg(dir.path().join("data"));
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        match read_banner(&log_path).await {
            Ok((mqtt, rest, service)) => Ok(Self {
                mqtt,
                rest: format!("http://{rest}"),
                host: service.host_name().clone(),
                service,
                pid: child.id(),
                running: Running::Process(child),
                _dir: dir,
            }),
            Err(error) => {
                interrupt(&mut child).await;
                Err(error)
            }
        }
    }

    /// Starts the hub inside this process on free loopback ports with a fresh data directory.
    pub(crate) async fn embedded() -> Result<Self, String> {
        let dir = TempDir::new().map_err(|e| format!("temporary directory: {e}"))?;
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let hub = Hub::builder()
            .mqtt_addr(loopback)
            .rest_addr(loopback)
            .plain_tcp()
            .data_dir(dir.path().join("data"))
            .start()
            .await
            .map_err(|e| format!("starting the embedded hub: {e}"))?;
        let service = hub
            .service_connection_string()
            .ok_or("the hub has no iothubowner policy")?;
        Ok(Self {
            mqtt: hub.mqtt_addr(),
            rest: format!("http://{}", hub.rest_addr()),
            host: hub.host_name().clone(),
            service,
            pid: std::process::id(),
            running: Running::Embedded(hub),
            _dir: dir,
        })
    }

    /// A service SAS token valid for an hour, for the `Authorization` header.
    pub(crate) fn service_token(&self) -> String {
        self.service.sas_token(unix_now() + 3600).to_secret_string()
    }

    /// Stops the hub (with Ctrl-C for the process, so it closes its store as it would for an
    /// operator).
    pub(crate) async fn stop(self) {
        match self.running {
            Running::Process(mut child) => interrupt(&mut child).await,
            Running::Embedded(hub) => hub.shutdown().await,
        }
    }
}

/// Waits for the hub's start-up lines in its log: the bound addresses and the service
/// connection string.
async fn read_banner(
    log: &Path,
) -> Result<(SocketAddr, SocketAddr, ServiceConnectionString), String> {
    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(found) = parse_banner(&text) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "the hub did not start; its log is {}",
        log.display()
    ))
}

/// `None` until both lines are there.
#[allow(clippy::type_complexity)]
fn parse_banner(
    text: &str,
) -> Option<Result<(SocketAddr, SocketAddr, ServiceConnectionString), String>> {
    let listening = text
        .lines()
        .find_map(|l| l.strip_prefix("MQTT listening on "))?;
    let service = text
        .lines()
        .find_map(|l| l.strip_prefix("service connection string: "))?;
    let parsed = (|| {
        let (mqtt, rest) = listening.split_once(", REST on ")?;
        let rest = rest.split_whitespace().next()?;
        Some((mqtt.parse().ok()?, rest.parse().ok()?))
    })();
    let Some((mqtt, rest)) = parsed else {
        return Some(Err(format!("unexpected start-up line: {listening}")));
    };
    Some(
        ServiceConnectionString::parse(service.trim())
            .map(|service| (mqtt, rest, service))
            .map_err(|e| format!("the hub's service connection string: {e}")),
    )
}

/// A running Mosquitto broker on a free loopback port: anonymous clients, no persistence, no
/// logging but errors and warnings.
#[derive(Debug)]
pub(crate) struct Mosquitto {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Its process id.
    pub(crate) pid: u32,
    child: Child,
    _dir: TempDir,
}

impl Mosquitto {
    /// Starts `binary` with a generated configuration and waits until it accepts connections.
    pub(crate) async fn spawn(binary: &Path) -> Result<Self, String> {
        let dir = TempDir::new().map_err(|e| format!("temporary directory: {e}"))?;
        let addr = free_port()?;
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(&config, mosquitto_config(addr)).map_err(|e| format!("config: {e}"))?;
        let log = std::fs::File::create(dir.path().join("mosquitto.log"))
            .map_err(|e| format!("mosquitto log: {e}"))?;
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                format!(
                    "starting {} (Debian package mosquitto): {e}",
                    binary.display()
                )
            })?;
        if let Err(error) = wait_listening(addr).await {
            interrupt(&mut child).await;
            return Err(format!("mosquitto: {error}"));
        }
        Ok(Self {
            addr,
            pid: child.id(),
            child,
            _dir: dir,
        })
    }

    /// Stops the broker.
    pub(crate) async fn stop(mut self) {
        interrupt(&mut self.child).await;
    }
}

/// The broker's configuration: one plain listener, as close to the hub's setup as Mosquitto
/// allows (Nagle off like the hub's sockets; queues deep enough not to drop under load).
fn mosquitto_config(addr: SocketAddr) -> String {
    format!(
        "listener {port} {ip}\n\
         allow_anonymous true\n\
         persistence false\n\
         set_tcp_nodelay true\n\
         max_queued_messages 100000\n\
         max_inflight_messages 0\n\
         log_dest stderr\n\
         log_type error\n\
         log_type warning\n",
        port = addr.port(),
        ip = addr.ip(),
    )
}

/// A loopback address with a port nobody listens on right now.
fn free_port() -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    listener
        .local_addr()
        .map_err(|e| format!("local address: {e}"))
}

async fn wait_listening(addr: SocketAddr) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("nothing listens on {addr}"))
}

/// Sends SIGINT and waits for the process to exit; kills it when it does not.
async fn interrupt(child: &mut Child) {
    let asked = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .is_ok_and(|status| status.success());
    let started = Instant::now();
    while asked && started.elapsed() < STOP_TIMEOUT {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Past the grace period the process is ended without ceremony.
    let _ = child.kill();
    let _ = child.wait();
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_gives_addresses_and_the_service_connection_string() {
        let text = "2026 INFO hub started\n\
            MQTT listening on 127.0.0.1:40001, REST on 127.0.0.1:40002 (host name localhost)\n\
            service connection string: HostName=localhost;SharedAccessKeyName=iothubowner;\
            SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
        let (mqtt, rest, service) = parse_banner(text).expect("complete").expect("valid");
        assert_eq!(mqtt.port(), 40001);
        assert_eq!(rest.port(), 40002);
        assert_eq!(service.policy_name(), "iothubowner");
        assert!(parse_banner("MQTT listening on 127.0.0.1:1, REST on 127.0.0.1:2\n").is_none());
    }

    #[test]
    fn mosquitto_listens_where_asked_without_persistence() {
        let config = mosquitto_config("127.0.0.1:18830".parse().expect("an address"));
        assert!(config.starts_with("listener 18830 127.0.0.1\n"));
        assert!(config.contains("persistence false\n"));
    }
}
