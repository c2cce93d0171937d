//! `iot-hub`: run the local hub, or register a device and print its connection string.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use iot_hub::{DevCerts, DeviceOptions, Durability, Hub, HubBuilder, HubError, TlsConfig};
use iot_protocol::DeviceId;

/// A local IoT hub that speaks Azure IoT Hub's device protocol.
#[derive(Debug, Parser)]
#[command(name = "iot-hub", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MQTT and the REST API until interrupted (Ctrl-C).
    Serve(Serve),
    /// Manage registered devices.
    #[command(subcommand)]
    Device(DeviceCommand),
}

#[derive(Debug, Args)]
struct Serve {
    /// Where MQTT listens (IoT Hub uses MQTT over TLS on port 8883).
    #[arg(long, default_value = "0.0.0.0:8883")]
    mqtt_addr: SocketAddr,
    /// Where the REST API listens (IoT Hub serves HTTPS on port 443, the only port the Node
    /// service SDK reaches; binding it needs privileges).
    #[arg(long, default_value = "0.0.0.0:443")]
    rest_addr: SocketAddr,
    #[command(flatten)]
    store: Store,
    /// The server certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key", conflicts_with_all = ["plain_tcp", "dev_certs"])]
    tls_cert: Option<PathBuf>,
    /// The server's private key (PEM); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Generate (or reuse) a development CA and a server certificate for localhost in DIR and
    /// serve TLS with them; clients must trust DIR/ca.pem.
    #[arg(long, value_name = "DIR", conflicts_with = "plain_tcp")]
    dev_certs: Option<PathBuf>,
    /// Serve MQTT and REST without TLS (the official SDKs will not connect).
    #[arg(long)]
    plain_tcp: bool,
    /// Wait for fsync on every commit, so that acknowledged writes survive a power cut.
    #[arg(long)]
    fsync: bool,
}

#[derive(Debug, Args)]
struct Store {
    /// Keep state in SQLite in this directory (default: in memory, lost on exit).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The hub's host name, used in connection strings and SAS tokens.
    #[arg(long, default_value = "localhost")]
    host_name: String,
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Register a device with generated keys and print its connection string. Stop a hub that
    /// serves the same data directory first: one hub at a time owns it.
    Add {
        /// The device id.
        id: String,
        #[command(flatten)]
        store: Store,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Serve(serve) => run_serve(serve).await,
        Command::Device(DeviceCommand::Add { id, store }) => add_device(&id, store).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            say(format_args!("iot-hub: {message}"));
            ExitCode::FAILURE
        }
    }
}

fn builder(store: &Store) -> HubBuilder {
    let builder = Hub::builder().host_name(store.host_name.as_str());
    match &store.data_dir {
        Some(dir) => builder.data_dir(dir),
        None => builder.in_memory(),
    }
}

async fn run_serve(serve: Serve) -> Result<(), String> {
    let mut builder = builder(&serve.store)
        .mqtt_addr(serve.mqtt_addr)
        .rest_addr(serve.rest_addr);
    if serve.fsync {
        builder = builder.durability(Durability::PowerLoss);
    }
    builder = match (
        &serve.tls_cert,
        &serve.tls_key,
        &serve.dev_certs,
        serve.plain_tcp,
    ) {
        (Some(cert), Some(key), _, _) => {
            builder.tls(TlsConfig::from_pem_files(cert, key).map_err(show)?)
        }
        (_, _, Some(dir), _) => {
            let certs = DevCerts::load_or_create(dir).map_err(show)?;
            say(format_args!(
                "development CA certificate: {}",
                certs.ca_path().display()
            ));
            builder.tls(certs.tls_config().map_err(show)?)
        }
        (_, _, _, true) => builder.plain_tcp(),
        _ => {
            return Err(
                "choose a transport: --tls-cert and --tls-key, --dev-certs DIR, or \
                        --plain-tcp"
                    .into(),
            );
        }
    };
    let hub = builder.start().await.map_err(show)?;
    say(format_args!(
        "MQTT listening on {}, REST on {} (host name {})",
        hub.mqtt_addr(),
        hub.rest_addr(),
        hub.host_name()
    ));
    if let Some(service) = hub.service_connection_string() {
        say(format_args!(
            "service connection string: {}",
            service.to_secret_string()
        ));
    }
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
    hub.shutdown().await;
    Ok(())
}

async fn add_device(id: &str, store: Store) -> Result<(), String> {
    let id: DeviceId = id.parse().map_err(show)?;
    let hub = builder(&store)
        .mqtt_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .rest_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .plain_tcp()
        .start()
        .await
        .map_err(show)?;
    let created = hub
        .registry()
        .create_device(&id, DeviceOptions::default())
        .await;
    let result = created
        .and_then(|_| hub.device_connection_string(&id))
        .map(|cs| cs.to_secret_string());
    hub.shutdown().await;
    let connection_string = result.map_err(|e: HubError| e.to_string())?;
    writeln!(std::io::stdout(), "{connection_string}")
        .map_err(|e| format!("writing the connection string: {e}"))
}

/// Writes a line to standard error (where the logs go too).
fn say(line: std::fmt::Arguments<'_>) {
    // Nothing sensible remains to be done when standard error is gone.
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn show(error: impl std::fmt::Display) -> String {
    error.to_string()
}
