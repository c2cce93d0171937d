//! `interop_device`: the device side of the interop scenarios, played by our device SDK.
//!
//! Driven by a service program (the official service SDK's script or `interop_service`): one
//! JSON command per stdin line, `{"step", "op", ...}`, and one result line per command on
//! stdout, `PASS <pair> <step>` or `FAIL <pair> <step>: <why>`. The operations are those of
//! `interop/python/device_agent.py`, which plays the same part with the official device SDK.
//!
//! usage: `interop_device --pair NAME --ca CA.pem (--connection-string CS | --device-id ID
//!         --x509-cert PEM --x509-key PEM)`

#[path = "common.rs"]
mod common;

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use common::{check, contains, report};
use futures_util::StreamExt as _;
use iot_device_sdk::{
    CloudToDeviceMessage, DeviceClient, DeviceOptions, DeviceOptionsBuilder, Message,
    MethodRequest, MethodResponse,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};

/// What the device has observed: method calls (name and payload) and cloud-to-device
/// messages.
#[derive(Default)]
struct Seen {
    methods: Vec<(String, Value)>,
    messages: Vec<CloudToDeviceMessage>,
}

type Shared = Arc<Mutex<Seen>>;

fn lock(seen: &Shared) -> MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// One device: its options, its client while connected, and what it has observed.
struct Agent {
    options: DeviceOptions,
    client: Option<DeviceClient>,
    seen: Shared,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(pair), Some(ca)) = (flag(&args, "--pair"), flag(&args, "--ca")) else {
        let _ = writeln!(
            std::io::stderr(),
            "usage: interop_device --pair NAME --ca CA.pem ..."
        );
        return ExitCode::FAILURE;
    };
    let mut agent = match options(&args).and_then(|builder| Agent::new(builder, ca)) {
        Ok(agent) => agent,
        Err(why) => {
            let _ = writeln!(std::io::stderr(), "interop_device: {why}");
            return ExitCode::FAILURE;
        }
    };
    let mut commands = read_commands();
    while let Some(command) = commands.recv().await {
        let step = command["step"].as_str().unwrap_or("unnamed").to_owned();
        if command["op"] == "quit" {
            break;
        }
        let outcome = agent.run(&command).await;
        report(pair, &step, &outcome);
    }
    agent.disconnect().await;
    ExitCode::SUCCESS
}

/// The options for a device with a key (its connection string) or an X.509 certificate.
fn options(args: &[String]) -> Result<DeviceOptionsBuilder, String> {
    if let Some(connection_string) = flag(args, "--connection-string") {
        return Ok(DeviceOptions::from_connection_string(connection_string));
    }
    let (Some(id), Some(cert), Some(key)) = (
        flag(args, "--device-id"),
        flag(args, "--x509-cert"),
        flag(args, "--x509-key"),
    ) else {
        return Err("give --connection-string, or --device-id, --x509-cert and --x509-key".into());
    };
    let read = |path: &str| std::fs::read(path).map_err(|e| format!("reading {path}: {e}"));
    Ok(DeviceOptions::builder("localhost", id).x509(read(cert)?, read(key)?))
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let at = args.iter().position(|arg| arg == name)?;
    args.get(at + 1).map(String::as_str)
}

/// The commands on stdin, parsed, until it ends; a line that is not JSON ends them too.
fn read_commands() -> mpsc::Receiver<Value> {
    let (sender, receiver) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(command) = line
                .map_err(|_| ())
                .and_then(|l| serde_json::from_str(&l).map_err(|_| ()))
            else {
                break;
            };
            if sender.blocking_send(command).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The seconds a command allows, as a duration.
fn timeout_of(command: &Value) -> Duration {
    Duration::from_secs(command["timeout"].as_u64().unwrap_or(10))
}

impl Agent {
    fn new(builder: DeviceOptionsBuilder, ca: &str) -> Result<Self, String> {
        let pem = std::fs::read(ca).map_err(|e| format!("reading {ca}: {e}"))?;
        let seen = Shared::default();
        let recorder = Arc::clone(&seen);
        let options = builder
            .trust_ca_pem(pem)
            .use_system_roots(false)
            .method_fallback(move |request: MethodRequest| {
                let recorder = Arc::clone(&recorder);
                async move { Ok(echo(&recorder, &request).await) }
            })
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            options,
            client: None,
            seen,
        })
    }

    async fn run(&mut self, command: &Value) -> Result<(), String> {
        match command["op"].as_str().unwrap_or_default() {
            "connect" => self.connect().await,
            "connect_refused" => match DeviceClient::connect(self.options.clone()).await {
                Ok(client) => {
                    client.close().await;
                    Err("the hub accepted the connection".into())
                }
                Err(_) => Ok(()),
            },
            "disconnect" => {
                self.disconnect().await;
                Ok(())
            }
            "get_twin" => self.get_twin(command).await,
            "report" => self.report(command).await,
            "report_rejected" => match self.report(command).await {
                Ok(()) => Err("the hub accepted the patch".into()),
                Err(_) => Ok(()),
            },
            "wait_desired" => self.wait_desired(command).await,
            "wait_desired_absent" => self.wait_desired_absent(command).await,
            "expect_method" => self.expect_method(command).await,
            "send_telemetry" => self.send_telemetry(command).await,
            "wait_c2d" => self.wait_c2d(command).await,
            other => Err(format!("unknown operation {other:?}")),
        }
    }

    fn client(&self) -> Result<&DeviceClient, String> {
        self.client
            .as_ref()
            .ok_or_else(|| "the device is not connected".to_owned())
    }

    async fn connect(&mut self) -> Result<(), String> {
        let client = DeviceClient::connect(self.options.clone())
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let mut messages = client.cloud_to_device_messages();
        let seen = Arc::clone(&self.seen);
        tokio::spawn(async move {
            while let Some(message) = messages.next().await {
                lock(&seen).messages.push(message);
            }
        });
        self.client = Some(client);
        Ok(())
    }

    async fn disconnect(&mut self) {
        if let Some(client) = self.client.take() {
            client.close().await;
        }
    }

    async fn get_twin(&self, command: &Value) -> Result<(), String> {
        let twin = self.client()?.get_twin().await.map_err(|e| e.to_string())?;
        let desired = Value::Object(twin.desired().content().clone());
        let expected = &command["desired"];
        check(
            contains(&desired, expected),
            format!("desired {desired} lacks {expected}"),
        )
    }

    async fn report(&self, command: &Value) -> Result<(), String> {
        self.client()?
            .report(&command["patch"])
            .await
            .map(|_version| ())
            .map_err(|e| e.to_string())
    }

    async fn wait_desired(&self, command: &Value) -> Result<(), String> {
        let expected = &command["desired"];
        let mut watch = self.client()?.desired_watch();
        let deadline = Instant::now() + timeout_of(command);
        loop {
            let current = watch.current().map(|d| Value::Object(d.as_map().clone()));
            if current
                .as_ref()
                .is_some_and(|desired| contains(desired, expected))
            {
                return Ok(());
            }
            let why = || format!("desired {expected} did not arrive; desired is {current:?}");
            match tokio::time::timeout_at(deadline, watch.changed()).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(format!("{}: {error}", why())),
                Err(_) => return Err(why()),
            }
        }
    }

    async fn wait_desired_absent(&self, command: &Value) -> Result<(), String> {
        let keys = &command["keys"];
        let mut watch = self.client()?.desired_watch();
        let removed = |watch: &iot_device_sdk::DesiredWatch| {
            watch.current().is_some_and(|desired| {
                let keys = keys.as_array().into_iter().flatten();
                keys.filter_map(Value::as_str)
                    .all(|key| desired.get(key).is_none())
            })
        };
        let deadline = Instant::now() + timeout_of(command);
        while !removed(&watch) {
            match tokio::time::timeout_at(deadline, watch.changed()).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(error.to_string()),
                Err(_) => return Err(format!("desired {keys} were not removed")),
            }
        }
        Ok(())
    }

    async fn expect_method(&self, command: &Value) -> Result<(), String> {
        let wanted = (
            command["name"].as_str().unwrap_or_default().to_owned(),
            command["payload"].clone(),
        );
        let seen = || lock(&self.seen).methods.contains(&wanted);
        poll(seen, timeout_of(command)).await;
        check(seen(), format!("method call {wanted:?} was not received"))
    }

    async fn send_telemetry(&self, command: &Value) -> Result<(), String> {
        let text = |key: &str| command[key].as_str().unwrap_or_default().to_owned();
        let mut builder = Message::builder(text("body").into_bytes())
            .message_id(text("messageId"))
            .content_type("application/json")
            .content_encoding("utf-8");
        for (name, value) in command["properties"].as_object().into_iter().flatten() {
            builder = builder.property(name.as_str(), value.as_str().unwrap_or_default());
        }
        let message = builder.build().map_err(|e| e.to_string())?;
        self.client()?
            .send_telemetry(message)
            .await
            .map_err(|e| e.to_string())
    }

    async fn wait_c2d(&self, command: &Value) -> Result<(), String> {
        let arrived = || {
            lock(&self.seen)
                .messages
                .iter()
                .any(|m| matches_c2d(m, command))
        };
        poll(arrived, timeout_of(command)).await;
        check(arrived(), "the cloud-to-device message did not arrive")
    }
}

/// Answers every method with status 200 and `{"method": name, "echo": payload}`, after
/// noting the call; method `slow` answers only after `payload.seconds`, later than its caller
/// waits.
async fn echo(seen: &Shared, request: &MethodRequest) -> MethodResponse {
    let name = request.name().as_str().to_owned();
    let payload = request.payload().clone();
    lock(seen).methods.push((name.clone(), payload.clone()));
    if name == "slow" {
        sleep(Duration::from_secs(
            payload["seconds"].as_u64().unwrap_or(0),
        ))
        .await;
    }
    MethodResponse::ok(json!({"method": name, "echo": payload}))
}

/// Whether a received message is the one the command describes.
fn matches_c2d(message: &CloudToDeviceMessage, command: &Value) -> bool {
    let properties_match = command["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(name, value)| message.property(name) == value.as_str());
    message.body() == command["body"].as_str().unwrap_or_default().as_bytes()
        && message.message_id() == command["messageId"].as_str()
        && message.correlation_id() == command["correlationId"].as_str()
        && message.properties().content_type.as_deref() == command["contentType"].as_str()
        && properties_match
}

/// Checks `done` every 100 ms until it holds or `limit` passes.
async fn poll(done: impl Fn() -> bool, limit: Duration) {
    let _ = timeout(limit, async {
        while !done() {
            sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
}
