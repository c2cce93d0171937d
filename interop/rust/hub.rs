//! `interop_hub`: the local hub as `iot-hub serve --dev-certs` runs it, plus a plain-HTTP
//! control port on loopback for the interoperability suite.
//!
//! IoT Hub gives back ends telemetry through its Event Hubs-compatible endpoint and takes
//! cloud-to-device messages over AMQP; the local hub offers both only in-process
//! ([`Hub::telemetry`], [`Hub::send_cloud_to_device`]). The control port exposes exactly these
//! two, so scenario scripts in any language can check what devices sent and send them
//! messages:
//!
//! - `GET /telemetry/{deviceId}`: the messages received from the device since the start (at
//!   most the last 100), each `{"messageId", "contentType", "properties", "body"}`;
//! - `POST /c2d/{deviceId}` with `{"body", "properties", "messageId", "correlationId",
//!   "contentType"}`: queues a message.
//!
//! Once serving, it prints one JSON line on stdout:
//! `{"service": "<service connection string>", "ca": "<CA path>", "mqtt", "rest", "control"}`,
//! and it stops when its standard input ends.
//!
//! usage: `interop_hub --dev-certs DIR [--mqtt-addr A] [--rest-addr A] [--control-addr A]`

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use iot_hub::{CloudToDeviceMessage, DevCerts, Hub, TelemetryMessage};
use iot_protocol::{DeviceId, MessageProperties};
use serde_json::{Map, Value, json};

/// The most messages kept per device.
const KEPT_PER_DEVICE: usize = 100;

/// What the command line chose.
struct Settings {
    dev_certs: PathBuf,
    mqtt_addr: SocketAddr,
    rest_addr: SocketAddr,
    control_addr: SocketAddr,
}

/// Telemetry received so far, per device id.
type Received = Arc<Mutex<HashMap<String, Vec<Value>>>>;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "interop_hub: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let settings = parse_args(std::env::args().skip(1))?;
    let certs = DevCerts::load_or_create(&settings.dev_certs).map_err(|e| e.to_string())?;
    let hub = Hub::builder()
        .host_name("localhost")
        .in_memory()
        .mqtt_addr(settings.mqtt_addr)
        .rest_addr(settings.rest_addr)
        .tls(certs.tls_config().map_err(|e| e.to_string())?)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let received = Received::default();
    tokio::spawn(record_telemetry(hub.telemetry(), Arc::clone(&received)));
    let hub = Arc::new(hub);
    let listener = tokio::net::TcpListener::bind(settings.control_addr)
        .await
        .map_err(|e| format!("binding the control port {}: {e}", settings.control_addr))?;
    let control = listener.local_addr().map_err(|e| e.to_string())?;
    let app = axum::Router::new()
        .route("/telemetry/{id}", get(telemetry))
        .route("/c2d/{id}", post(send_c2d))
        .with_state((Arc::clone(&hub), received));
    tokio::spawn(async move { axum::serve(listener, app).await });
    announce(&hub, &certs, control)?;
    stdin_closed().await;
    if let Ok(hub) = Arc::try_unwrap(hub) {
        hub.shutdown().await;
    }
    Ok(())
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Settings, String> {
    let mut settings = Settings {
        dev_certs: PathBuf::new(),
        mqtt_addr: SocketAddr::from(([127, 0, 0, 1], 8883)),
        rest_addr: SocketAddr::from(([127, 0, 0, 1], 443)),
        control_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let addr = || {
            value
                .parse::<SocketAddr>()
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--dev-certs" => settings.dev_certs = PathBuf::from(&value),
            "--mqtt-addr" => settings.mqtt_addr = addr()?,
            "--rest-addr" => settings.rest_addr = addr()?,
            "--control-addr" => settings.control_addr = addr()?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if settings.dev_certs.as_os_str().is_empty() {
        return Err("--dev-certs DIR is required".into());
    }
    Ok(settings)
}

/// Prints the line the runner waits for.
fn announce(hub: &Hub, certs: &DevCerts, control: SocketAddr) -> Result<(), String> {
    let service = hub
        .service_connection_string()
        .ok_or("the hub has no iothubowner policy")?;
    let line = json!({
        "service": service.to_secret_string(),
        "ca": certs.ca_path(),
        "mqtt": hub.mqtt_addr().to_string(),
        "rest": hub.rest_addr().to_string(),
        "control": format!("http://{control}"),
    });
    writeln!(std::io::stdout(), "{line}").map_err(|e| format!("writing stdout: {e}"))
}

/// Resolves when standard input reaches its end (the runner closed it or exited).
async fn stdin_closed() {
    let (done, closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = done.send(());
    });
    let _ = closed.await;
}

async fn record_telemetry(mut stream: iot_hub::TelemetryStream, received: Received) {
    while let Some(item) = stream.next().await {
        let Ok(message) = item else { continue };
        let id = message.identity().device_id().as_str().to_owned();
        let mut kept = received.lock().unwrap_or_else(|poison| poison.into_inner());
        let list = kept.entry(id).or_default();
        if list.len() == KEPT_PER_DEVICE {
            list.remove(0);
        }
        list.push(describe(&message));
    }
}

fn describe(message: &TelemetryMessage) -> Value {
    let properties = message.properties();
    let application: Map<String, Value> = properties
        .application
        .iter()
        .map(|p| (p.name.clone(), json!(p.value)))
        .collect();
    json!({
        "messageId": properties.message_id,
        "contentType": properties.content_type,
        "properties": application,
        "body": String::from_utf8_lossy(message.body()),
    })
}

async fn telemetry(
    State((_, received)): State<(Arc<Hub>, Received)>,
    Path(id): Path<String>,
) -> Json<Value> {
    let kept = received.lock().unwrap_or_else(|poison| poison.into_inner());
    Json(json!(kept.get(&id).cloned().unwrap_or_default()))
}

async fn send_c2d(
    State((hub, _)): State<(Arc<Hub>, Received)>,
    Path(id): Path<String>,
    Json(request): Json<Value>,
) -> Result<StatusCode, (StatusCode, String)> {
    let bad = |why: String| (StatusCode::BAD_REQUEST, why);
    let id: DeviceId = id.parse().map_err(|e| bad(format!("device id: {e}")))?;
    let body = request["body"]
        .as_str()
        .ok_or(bad("no string body".into()))?;
    let mut properties = MessageProperties::new();
    let text = |key: &str| request[key].as_str().map(str::to_owned);
    properties.message_id = text("messageId");
    properties.correlation_id = text("correlationId");
    properties.content_type = text("contentType");
    for (name, value) in request["properties"].as_object().into_iter().flatten() {
        let value = value
            .as_str()
            .ok_or(bad(format!("property {name} is not a string")))?;
        properties = properties.with_app_property(name, value);
    }
    let message = CloudToDeviceMessage::new(body.to_owned()).with_properties(properties);
    hub.send_cloud_to_device(&id, message)
        .await
        .map_err(|e| (StatusCode::CONFLICT, e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}
